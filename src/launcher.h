/* The launcher seam: HOW a child is started and its exit observed. Exactly one launcher_*.c
 * implements these functions (chosen at build time, as Redis picks ae_epoll.c or ae_kqueue.c);
 * nothing above this interface calls uv_spawn or waitpid. */
#ifndef UVPROC_LAUNCHER_H
#define UVPROC_LAUNCHER_H

#include <stdint.h>

#include <uv.h>

typedef struct uvproc__launcher_s uvproc__launcher_t;

typedef enum {
    UVPROC__SLOT_IGNORE = 0, /* /dev/null for 0-2, closed above */
    UVPROC__SLOT_FD,         /* dup the parent's `fd` to this slot */
    UVPROC__SLOT_PIPE,       /* connect `pipe` (initialised, unopened) to the child's slot */
} uvproc__slot_kind_t;

typedef struct {
    uvproc__slot_kind_t kind;
    int fd;                 /* UVPROC__SLOT_FD */
    uv_pipe_t *pipe;        /* UVPROC__SLOT_PIPE */
    int child_reads;        /* the child reads from this slot */
    int child_writes;       /* the child writes to this slot */
} uvproc__launch_slot_t;

/* Everything resolved: argv[0] in place, env merged, shell applied. */
typedef struct {
    const char *file;
    char **argv;
    char **env; /* NULL: the parent's environ */
    const char *cwd;
    int detached;
    int set_uid, set_gid;
    uv_uid_t uid;
    uv_gid_t gid;
    int slot_count;
    uvproc__launch_slot_t *slots;
} uvproc__launch_t;

/* Called once, from the loop, when the child has exited and been reaped. */
typedef void (*uvproc__exit_cb)(void *owner, int64_t exit_status, int term_signal);
/* Called once the launcher's resources are released after uvproc__launcher_close(). */
typedef void (*uvproc__closed_cb)(void *owner);

/* Starts the child. On success *out is the launcher state and 0 is returned. On failure a
 * negative code is returned, the child is not running (and was reaped if it ever existed), and
 * *out is still set when resources need closing (call uvproc__launcher_close), else NULL. */
int uvproc__launcher_start(uv_loop_t *loop, const uvproc__launch_t *req, void *owner,
                           uvproc__exit_cb on_exit, uvproc__launcher_t **out);
uv_pid_t uvproc__launcher_pid(const uvproc__launcher_t *l);
/* Signals the child (group: its process group). Only valid before exit has been reported. */
int uvproc__launcher_kill(uvproc__launcher_t *l, int signum, int group);
void uvproc__launcher_close(uvproc__launcher_t *l, uvproc__closed_cb on_closed);
void uvproc__launcher_set_ref(uvproc__launcher_t *l, int ref);

#endif
