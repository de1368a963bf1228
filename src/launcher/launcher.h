/* The launcher seam: HOW a child is started and its exit observed. Nothing above this
 * interface calls uv_spawn, posix_spawn or waitpid. Three launchers implement it:
 *   launcher_clone.c  the default: clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) on a child stack
 *                     reused per thread, every pidfd of a loop in one epoll set behind one
 *                     uv_poll_t (uvproc__launcher_loop_t), waitid(P_PIDFD). Linux >= 5.3.
 *   launcher_posix.c  posix_spawn (CLONE_VFORK: flat cost) + a pidfd and a uv_poll_t per
 *                     child; what posix_spawn has no attribute for (uid/gid,
 *                     kill_on_parent_death) goes to the clone launcher.
 *   launcher_uv.c     uv_spawn: portable; on libuv 1.44 fork()+exec, whose cost grows with the
 *                     parent's memory, and SIGCHLD-driven reaping. Where pidfds are missing
 *                     (old kernels, valgrind) it serves every child.
 *   launcher_common.c what clone and posix share: PATH search, /bin/sh retry, stdio pipes.
 *   launcher_prefix.c the argv that runs a child on another host through ssh, srun, kubectl
 *                     exec (wraps any launcher; remote children).
 * launcher.c picks one per child: clone where pidfds exist, unless the UVPROC_LAUNCHER
 * environment variable ("clone", "posix" or "uv") says otherwise.
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

/* What the launchers keep per loop: the clone launcher's epoll set of pidfds and the one
 * uv_poll_t that watches it (opened with the first clone child). The owner keeps it while it
 * has children or expects more (re-opening it costs an epoll_create1 and libuv's fd probe);
 * after release it closes as soon as no child is armed in it (a libuv handle: the loop must run
 * once more before uv_loop_close). */
typedef struct uvproc__launcher_loop_s uvproc__launcher_loop_t;
uvproc__launcher_loop_t *uvproc__launcher_loop_new(uv_loop_t *loop); /* NULL: out of memory */
void uvproc__launcher_loop_release(uvproc__launcher_loop_t *ll);
uv_loop_t *uvproc__launcher_loop_uv(const uvproc__launcher_loop_t *ll);

/* Starts the child. On success *out is the launcher state and 0 is returned. On failure a
 * negative code is returned, the child is not running (and was reaped if it ever existed), and
 * *out is still set when resources need closing (call uvproc__launcher_close), else NULL.
 * on_exit comes from the loop's poll phase, with the other exits of the same wake-up. */
int uvproc__launcher_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                           void *owner, uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out);
uv_pid_t uvproc__launcher_pid(const uvproc__launcher_t *l);
/* Signals the child. Only valid before the exit has been reported (the pid may be reused). */
int uvproc__launcher_kill(uvproc__launcher_t *l, int signum);
/* on_closed may run before this returns (the clone launcher holds no libuv handle). */
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
/* Non-zero when this kernel has pidfds, i.e. the clone and posix launchers (and so
 * kill_on_parent_death) can serve children; probed once per process. */
int uvproc__launcher_posix_available(void);
/* Both: UV_ENOSYS when they cannot serve this request (no pidfd): use another launcher. */
int uvproc__launcher_posix_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                                 void *owner, uvproc__launcher_exit_cb on_exit,
                                 uvproc__launcher_t **out);
int uvproc__launcher_clone_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                                 void *owner, uvproc__launcher_exit_cb on_exit,
                                 uvproc__launcher_t **out);

/* launcher_common.c */
/* execvp's search, in the PATH of the CHILD's environment; *exec_path is malloc'd, or NULL to
 * use `file` as it is. UV_ENOENT / UV_EACCES as execvp would fail. */
int uvproc__launcher_resolve(const char *file, char **env, const char *cwd, char **exec_path);
/* What the clone and posix launchers do first: *exec_path as uvproc__launcher_resolve gives it,
 * and room for `per_slot` fds per slot of the request: *fds is left as it is (the caller's
 * stack array of per_slot * 8) for up to 8 slots, else malloc'd. The first 2 * slot_count
 * entries are -1. On error nothing is left to free. */
int uvproc__launcher_begin(const uvproc__launcher_launch_t *req, int per_slot, int **fds,
                           char **exec_path);
/* Hands each parent end (>= 0) to its slot's pipe, which owns it from then on (the entry
 * becomes -1); stops at the first error, leaving the rest for uvproc__launcher_close_all. */
int uvproc__launcher_open_ends(const uvproc__launcher_launch_t *req, int *parent_ends);
/* Closes every fd >= 0 of fds[0..n). */
void uvproc__launcher_close_all(const int *fds, int n);
/* `/bin/sh path argv[1]...` for an executable without #! (malloc'd; strings borrowed). */
char **uvproc__launcher_sh_argv(const char *path, char **argv);
/* The two ends of slot `s`'s pipe, both CLOEXEC: a pipe, or a socketpair when the slot carries
 * fds or goes both ways. */
int uvproc__launcher_slot_pipe(const uvproc__launcher_launch_slot_t *s, int *parent_end,
                               int *child_end);

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
