/* The child object, shared by spawn.c (start), stdio.c (pipes), process.c (lifecycle) and
 * fork.c (the channel). Not part of the public API. */
#ifndef UVPROC__PROCESS_H
#define UVPROC__PROCESS_H

#include "common/list.h"
#include "launcher/launcher.h"
#include "uvproc.h"

/* The parent side of one stdio slot that is a pipe. It lives in its process's slots[] at
 * index fd, which is how its owner is found (uvproc__process_slot_owner): no pointer per slot. */
typedef struct {
    uv_pipe_t pipe;
    int fd;
    unsigned char is_pipe;    /* this slot has a pipe at all */
    unsigned char readable;   /* the parent reads it (child writes) */
    unsigned char writable;   /* the parent writes it (child reads) */
    unsigned char reading;    /* uv_read_start is active */
    unsigned char paused;     /* the user paused it */
    unsigned char read_done;  /* EOF or read error delivered */
    unsigned char write_done; /* ended by the user or by the child's exit */
    unsigned char closing;    /* uv_close called */
    unsigned char want_drain; /* a write returned 0: emit on_drain when the queue empties */
    unsigned char grown;      /* bulk output seen: the pipe was asked for 1 MiB (stdio.c) */
} uvproc__process_stdio_t;

struct uvproc_process_s {
    uv_loop_t *loop;
    uvproc__launcher_t *launcher; /* NULL once closed */
    struct uvproc__process_loop_s *ploop; /* the loop's shared state (process.c), until close */
    uvproc__common_list_t queued; /* on one of ploop's batches of events to deliver, or none */
    /* What only some children use is allocated when they use it (a parent may hold
     * thousands of live children): the escalation timer of uvproc_stop(), and the resource
     * usage, kept from the exit on. */
    struct uvproc__process_stopper_s *stopper; /* NULL until uvproc_stop(); freed when closed */
    struct rusage *usage; /* NULL until the exit (or when the launcher has none) */
    uvproc_process_events_t ev; /* the options' events, copied */
    void *data;

    int64_t exit_code;
    uv_pid_t pid;
    int term_signal;
    int spawn_error; /* non-zero: the child never started */
    const char *error_syscall;
    char *error_path;

    unsigned char started; /* the spawn event has been delivered */
    unsigned char reaped;  /* the launcher reported the exit (the exit event may be pending) */
    unsigned char exited;  /* the exit event has been delivered */
    unsigned char killed, closed, stop_closed, loop_ref, detached;
    unsigned char has_pipes; /* started with a pipe or a channel: exit waits a turn for them */
    int pending;  /* handles (and holds) not yet closed; close waits for 0 */
    int retained; /* user references; freed after close when 0 */
    int slot_count;

    struct uvproc_channel_s *channel; /* fork's IPC channel, or NULL */
    uvproc__process_stdio_t slots[];  /* slot i serves the child's fd i */
};

/* Internal spawn with the extras fork needs: an IPC pipe (initialised with ipc=1, unopened)
 * put at fd 3 and counted as a hold that the owner releases with uvproc__process_unhold once
 * the pipe is closed, whether the spawn succeeds or not; and env entries that override both
 * the user's and the parent's. */
typedef struct {
    uv_pipe_t *ipc_pipe;
    const char *const *env_override;
    const char *exec_path; /* prepend `exec_path exec_args...` to the command */
    const char *const *exec_args;
    const char *const *remote_env; /* remote children: "K=V" put on the remote command line */
    /* The channel over stdio: pipes (initialised, unopened) for the child's fds 0 and 1,
     * counted as one hold like ipc_pipe; the user's stdio[0] and stdio[1] are then ignored. */
    uv_pipe_t *channel_stdio[2];
} uvproc__process_spawn_extra_t;

int uvproc__process_spawn(uv_loop_t *loop, uvproc_process_t **out, const char *file,
                          const char *const *args, const uvproc_spawn_options_t *options,
                          const uvproc__process_spawn_extra_t *extra);

/* process.c */
uvproc_process_t *uvproc__process_new(uv_loop_t *loop, const uvproc_spawn_options_t *o,
                                      int slot_count);
/* Starts the child through the launcher. On failure the launcher's resources are being
 * released and the caller reports the error with uvproc__process_failed. */
int uvproc__process_launch(uvproc_process_t *p, const uvproc__launcher_launch_t *req);
/* The child never started: close its pipes, then deliver error and close. */
void uvproc__process_failed(uvproc_process_t *p, int err, const char *syscall, const char *path);
void uvproc__process_hold(uvproc_process_t *p);
void uvproc__process_unhold(uvproc_process_t *p);
void uvproc__process_set_handle_ref(uv_handle_t *h, int ref);

/* process_registry.c: every process object from process_new to its free. */
int uvproc__process_registry_add(uvproc_process_t *p); /* 0 or UV_ENOMEM */
void uvproc__process_registry_remove(uvproc_process_t *p);
int uvproc__process_registry_has(const uvproc_process_t *p);

/* stdio.c */
int uvproc__process_stdio_init(uvproc_process_t *p, int fd, int parent_reads, int parent_writes);
void uvproc__process_stdio_start(uvproc_process_t *p);   /* begin reading after the spawn event */
void uvproc__process_stdio_on_exit(uvproc_process_t *p); /* the child is gone: end its stdin */
void uvproc__process_stdio_close_all(uvproc_process_t *p);
void uvproc__process_stdio_set_ref(uvproc_process_t *p, int ref);

#endif
