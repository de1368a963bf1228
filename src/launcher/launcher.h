/* The launcher seam: HOW a child is started and its exit observed. Nothing above this
 * interface calls uv_spawn, posix_spawn or waitpid. Two launchers implement it:
 *   launcher_uv.c     uv_spawn: portable; on libuv 1.44 fork()+exec, whose cost grows with the
 *                     parent's memory, and SIGCHLD-driven reaping.
 *   launcher_posix.c  posix_spawn (CLONE_VFORK: flat cost) + a pidfd per child (exit watched on
 *                     the loop, race-free kill); for what posix_spawn has no attribute for
 *                     (uid/gid, kill_on_parent_death) its own clone(CLONE_VM|CLONE_VFORK).
 *                     Linux >= 5.3.
 *   launcher_prefix.c the argv that runs a child on another host through ssh, srun, kubectl
 *                     exec (wraps either launcher; remote children).
 * launcher.c picks one per child: posix where it can serve the request, unless the
 * UVPROC_LAUNCHER environment variable ("uv" or "posix") says otherwise.
 * Calls go down only: process/ calls this folder; this folder calls common/ and libuv. */
#ifndef UVPROC__LAUNCHER_H
#define UVPROC__LAUNCHER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <uv.h>

#include "uvproc.h"

typedef struct uvproc__launcher_s uvproc__launcher_t;

typedef enum {
    UVPROC__SLOT_IGNORE = 0, /* /dev/null for 0-2, closed above */
    UVPROC__SLOT_FD,         /* dup the parent's `fd` to this slot */
    UVPROC__SLOT_PIPE,       /* connect `pipe` (initialised, unopened) to the child's slot */
} uvproc__launcher_slot_kind_t;

typedef struct {
    uvproc__launcher_slot_kind_t kind;
    int fd;           /* UVPROC__SLOT_FD */
    uv_pipe_t *pipe;  /* UVPROC__SLOT_PIPE */
    int child_reads;  /* the child reads from this slot */
    int child_writes; /* the child writes to this slot */
} uvproc__launcher_launch_slot_t;

/* Everything resolved: argv[0] in place, env merged, shell applied. */
typedef struct {
    const char *file;
    char **argv;
    char **env; /* NULL: the parent's environ */
    const char *cwd;
    int detached;
    int kill_on_parent_death;
    int set_uid, set_gid;
    uv_uid_t uid;
    uv_gid_t gid;
    int slot_count;
    uvproc__launcher_launch_slot_t *slots;
} uvproc__launcher_launch_t;

/* Called once, from the loop, when the child has exited and been reaped. `usage` is what the
 * kernel accounted to the child (wait4), or NULL when the launcher cannot tell. The owner
 * must call uvproc__launcher_close() from it (the posix launcher leaves its watch armed for
 * that close to stop). */
typedef void (*uvproc__launcher_exit_cb)(void *owner, int64_t exit_status, int term_signal,
                                         const struct rusage *usage);
/* Called once the launcher's resources are released after uvproc__launcher_close(). */
typedef void (*uvproc__launcher_closed_cb)(void *owner);

/* Starts the child. On success *out is the launcher state and 0 is returned. On failure a
 * negative code is returned, the child is not running (and was reaped if it ever existed), and
 * *out is still set when resources need closing (call uvproc__launcher_close), else NULL. */
int uvproc__launcher_start(uv_loop_t *loop, const uvproc__launcher_launch_t *req, void *owner,
                           uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out);
uv_pid_t uvproc__launcher_pid(const uvproc__launcher_t *l);
/* Signals the child. Only valid before the exit has been reported (the pid may be reused). */
int uvproc__launcher_kill(uvproc__launcher_t *l, int signum);
void uvproc__launcher_close(uvproc__launcher_t *l, uvproc__launcher_closed_cb on_closed);
void uvproc__launcher_set_ref(uvproc__launcher_t *l, int ref);

/* What each launcher provides; its state struct starts with a pointer to its ops. */
typedef struct {
    const char *name;
    uv_pid_t (*pid)(const uvproc__launcher_t *l);
    int (*kill)(uvproc__launcher_t *l, int signum);
    void (*close)(uvproc__launcher_t *l, uvproc__launcher_closed_cb on_closed);
    void (*set_ref)(uvproc__launcher_t *l, int ref);
} uvproc__launcher_ops_t;

struct uvproc__launcher_s {
    const uvproc__launcher_ops_t *ops;
};

int uvproc__launcher_uv_start(uv_loop_t *loop, const uvproc__launcher_launch_t *req, void *owner,
                              uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out);
/* Non-zero when this kernel has pidfds, i.e. the posix launcher (and so kill_on_parent_death)
 * can serve children; probed once per process. */
int uvproc__launcher_posix_available(void);
/* UV_ENOSYS when it cannot serve this request (no pidfd): use another launcher. */
int uvproc__launcher_posix_start(uv_loop_t *loop, const uvproc__launcher_launch_t *req, void *owner,
                                 uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out);

/* Launcher prefixes (ssh, srun, kubectl exec, ...): the argv that runs a child on another host
 * through a program that runs its arguments and carries stdio. Not part of the public API. */
/* The whole argv to start locally: `remote->launcher...` followed by the remote command
 * `[env [-C cwd] K=V...] [relay] file argv[1]...` (argv[0] is replaced by `file`: a program
 * name cannot be set on the far side). `extra_env` entries come after remote->env (they win).
 * The remote command is one shell-quoted string when remote->quote asks for it (ssh joins its
 * arguments with spaces and hands them to the remote login shell), else separate arguments.
 * *out is one allocation (pointers and strings): free() it. UV_EINVAL for a bad `remote`. */
int uvproc__launcher_prefix_argv(const uvproc_remote_t *remote, const char *const *extra_env,
                                 const char *file, char *const *argv, char ***out);

/* Writes `s` as one word of POSIX sh into `dst` (if non-NULL) and returns its length (without
 * a NUL). Safe words stay bare; everything else is single-quoted, ' as '\''. `first`: the
 * word starts ssh's command argument, so a leading '-' is quoted too. */
size_t uvproc__launcher_shell_quote(const char *s, char *dst, int first);

#endif
