/* uvproc/process.h: spawn, stdio, kill and stop, exec/execFile, the *_sync variants, and the
 * launcher prefix that runs a child on another host.
 * Included by uvproc.h (include that one); the conventions at its top hold here. */
#include "uvproc.h" /* first: it includes this file, then its siblings, in order */
#ifndef UVPROC_PROCESS_H
#define UVPROC_PROCESS_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Remote children: a launcher prefix (ssh, srun, ...) that runs the child on another host    */

/* How the remote command reaches the launcher. */
typedef enum {
    UVPROC_REMOTE_QUOTE_AUTO = 0, /* SHELL when launcher[0] is named "ssh", else NONE */
    UVPROC_REMOTE_QUOTE_SHELL,    /* one argument: every word quoted for a POSIX shell, as ssh
                                     needs (it joins its arguments with spaces and gives the
                                     string to the remote login shell) */
    UVPROC_REMOTE_QUOTE_NONE,     /* the words as separate arguments (srun, kubectl exec, env) */
} uvproc_remote_quote_t;

/* Set as uvproc_spawn_options_t.remote. The child is started as
 *   launcher... [env [-C cwd] KEY=VALUE...] [relay] file args...
 * so `launcher` is any program that runs its arguments and carries stdin/stdout/stderr:
 * {"ssh", "-p", "2222", "host", NULL}, {"srun", "-N1", "-n1", "--quiet", NULL},
 * {"kubectl", "exec", "-i", "pod", "--", NULL}. The spawn options' cwd, env, uid/gid and
 * detached apply to the local launcher process; `cwd` and `env` here to the remote command.
 * argv0 and extra stdio slots (fds > 2) do not cross: UV_EINVAL for extra slots.
 * Every string is used before the call returns. The launcher's exit code is the child's
 * (ssh: 255 when the connection or the login failed; srun: 128+N for a signal). */
typedef struct uvproc_remote_s {
    const char *const *launcher; /* NULL-terminated, non-empty; launcher[0] looked up in PATH */
    uvproc_remote_quote_t quote;
    const char *cwd;         /* remote working directory (env -C); NULL: the launcher's choice */
    const char *const *env;  /* NULL-terminated "KEY=VALUE" set on the remote side (env(1)) */
    /* uvproc_fork only: runs `relay exec_path exec_args... file args...` on the remote side.
     * "uvproc-relay" (installed with the library) gives a Node child (or any child that
     * expects NODE_CHANNEL_FD) a socketpair there and bridges it to stdin/stdout. NULL: the
     * child itself speaks the channel on stdin/stdout (uvproc_channel_from_parent does). */
    const char *relay;
} uvproc_remote_t;

/* ---------------------------------------------------------------------------------------- */
/* spawn                                                                                    */

typedef struct uvproc_process_s uvproc_process_t;

/* What the `on_error` callback of a process receives. Strings are borrowed. */
typedef struct {
    int code;            /* negative error code */
    const char *syscall; /* "spawn" (the program could not be run), "chdir" (bad cwd),
                            "kill", "write", ... */
    const char *path;    /* the program (spawn) or the directory (chdir), else NULL */
} uvproc_error_t;

typedef enum {
    UVPROC_STDIO_DEFAULT = 0, /* PIPE for fds 0-2, IGNORE for extra slots (as Node) */
    UVPROC_STDIO_PIPE,        /* a pipe: stdin and extras writable, stdout/stderr/extras readable */
    UVPROC_STDIO_INHERIT,     /* the child gets the parent's fd of the same number */
    UVPROC_STDIO_IGNORE,      /* /dev/null for 0-2; closed for extra slots */
    UVPROC_STDIO_FD,          /* the child gets `fd` (a file, socket, ... of the parent's) */
} uvproc_stdio_type_t;

typedef struct {
    uvproc_stdio_type_t type;
    int fd; /* for UVPROC_STDIO_FD: the parent's fd to hand over (not closed by the library) */
} uvproc_stdio_t;

typedef enum {
    UVPROC_ENV_REPLACE = 0, /* `env` is the child's whole environment */
    UVPROC_ENV_EXTEND,      /* `env` entries are added to (and override) the parent's */
} uvproc_env_mode_t;

/* How to stop a child: send `first.signal`, wait `first.grace_ms` for it to exit, then send
 * `second.signal`. A zero signal means the default: SIGTERM then SIGKILL. A zero grace means
 * 2000 ms. `second.signal` < 0 means: no second step. (Escalation as data, as reproc does.) */
typedef struct {
    struct {
        int signal;
        uint64_t grace_ms;
    } first;
    struct {
        int signal;
    } second;
} uvproc_stop_t;

/* Default shell for the `shell` option. */
#define UVPROC_SHELL "/bin/sh"

/* A child's events. Any may be NULL. Order (as Node's): spawn, then data/end per readable fd,
 * exit exactly once, close last, once exit has happened and every parent-side pipe (and the
 * IPC channel) has closed. A child that cannot be started gets error, then close, no exit.
 * The members are listed once, here, for this struct and for the spawn options' anonymous
 * member of the same layout. */
#define UVPROC_PROCESS_EVENT_MEMBERS                                                          \
    void (*on_spawn)(uvproc_process_t *p);                                                    \
    void (*on_error)(uvproc_process_t *p, const uvproc_error_t *err);                         \
    /* Output from the child on `fd` (1, 2 or an extra pipe slot). */                         \
    void (*on_data)(uvproc_process_t *p, int fd, const char *buf, size_t len);                \
    /* `fd` has ended: status 0 at EOF, else a read error (UV_ECONNRESET, ...). */            \
    void (*on_end)(uvproc_process_t *p, int fd, int status);                                  \
    /* A writable fd's queue emptied after a write returned 0 (backpressure). */              \
    void (*on_drain)(uvproc_process_t *p, int fd);                                            \
    /* `signal` 0: exited with `code`; otherwise killed by `signal` and `code` is -1. */      \
    void (*on_exit)(uvproc_process_t *p, int64_t code, int signal);                           \
    /* Last event. A failed spawn closes with code = the (negative) error and signal 0. */    \
    void (*on_close)(uvproc_process_t *p, int64_t code, int signal);

typedef struct uvproc_process_events_s {
    UVPROC_PROCESS_EVENT_MEMBERS
} uvproc_process_events_t;

/* Anonymous structs are C11; C++ has them only as an extension (GCC, Clang, MSVC), which
 * -pedantic would report in every C++ user's build: said to be intended here. */
#if defined(__cplusplus) && defined(__GNUC__)
#define UVPROC__ANONYMOUS_STRUCT __extension__
#else
#define UVPROC__ANONYMOUS_STRUCT
#endif
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnested-anon-types"
#pragma clang diagnostic ignored "-Wgnu-anonymous-struct"
#endif

typedef struct uvproc_spawn_options_s {
    const char *cwd;            /* NULL: the parent's */
    const char *const *env;     /* NULL-terminated "KEY=VALUE" list; NULL: the parent's env */
    uvproc_env_mode_t env_mode; /* how `env` combines with the parent's */
    const char *argv0;          /* the child's argv[0]; NULL: `file` */
    uvproc_stdio_t stdio[3];    /* fds 0, 1, 2 */
    const uvproc_stdio_t *extra_stdio; /* fds 3, 4, ... (for fork: 4, 5, ...; 3 is the channel) */
    size_t extra_stdio_count;
    int detached;         /* new session and process group (setsid); see kill_group */
    int set_uid, set_gid; /* non-zero: switch to `uid` / `gid` in the child */
    uv_uid_t uid;
    uv_gid_t gid;
    const char *shell; /* non-NULL: run `shell -c "file args..."` (UVPROC_SHELL) */
    /* Non-zero: the kernel sends the child SIGKILL when the thread that spawned it (the loop's
     * thread) exits, however it exits (Linux PR_SET_PDEATHSIG; a set-user-ID program the child
     * execs loses it). UV_ENOSYS through on_error where the kernel has no pidfd:
     * uvproc_supports(UVPROC_FEATURE_KILL_ON_PARENT_DEATH) tells beforehand. */
    int kill_on_parent_death;

    void *data; /* user pointer: uvproc_process_data() */

    /* Events (uvproc_process_events_t above), by name (`options.on_exit = ...`) or as one
     * struct (`options.events = my_events`): both name the same members. */
    union {
        uvproc_process_events_t events;
        UVPROC__ANONYMOUS_STRUCT struct {
            UVPROC_PROCESS_EVENT_MEMBERS
        };
    };

    /* Scale-out: non-NULL runs the child on another host through a launcher (ssh, srun, ...);
     * see "Remote children" above. Borrowed for the call. */
    const uvproc_remote_t *remote;
} uvproc_spawn_options_t;
#if defined(__cplusplus) && defined(__clang__)
#pragma clang diagnostic pop
#endif

/* Starts `file` with `args` (NULL-terminated, NOT including argv[0]; NULL means none).
 * `file`, `args` and every string of `options` are used before this returns: none of them
 * needs to outlive the call.
 * `file` is looked up in the PATH of the child's environment unless it contains a '/'; a
 * relative `file` with a '/' is resolved against `cwd`.
 *
 * Returns 0 and sets *out (if out is non-NULL) when the process object exists; runtime
 * failures (ENOENT, EACCES, a bad cwd, ...) are then delivered through on_error and on_close.
 * Returns a negative code, with nothing created and no callback to come, for bad arguments
 * (UV_EINVAL: NULL file, bad stdio type, ...) or UV_ENOMEM.
 *
 * Actionable errors (through on_error): UV_ENOENT / UV_EACCES with syscall "spawn" (program),
 * UV_ENOENT / UV_EACCES / UV_ENOTDIR with syscall "chdir" (cwd), UV_EPERM (uid/gid). */
UVPROC_EXTERN int uvproc_spawn(uv_loop_t *loop, uvproc_process_t **out, const char *file,
                               const char *const *args, const uvproc_spawn_options_t *options);

/* Options whose support depends on the kernel (or on running under valgrind), asked before
 * relying on one: a spawn that asks for an unsupported one fails through on_error. */
typedef enum {
    /* kill_on_parent_death: needs pidfds (Linux >= 5.3; valgrind has none). */
    UVPROC_FEATURE_KILL_ON_PARENT_DEATH = 1,
} uvproc_feature_t;
/* Non-zero when `feature` works in this process; 0 when it does not or is unknown to this
 * version. Probed once per process; any thread. */
UVPROC_EXTERN int uvproc_supports(uvproc_feature_t feature);

/* Writes `len` bytes to the child's `fd` (0 or a writable extra pipe). The bytes are copied,
 * and every one is delivered whatever `len` is (4 GiB and more included). `cb` (may be NULL)
 * runs when the write is done: status 0, or UV_EPIPE if the child is gone, UV_ECANCELED if
 * the pipe was closed first. Returns 1 while the queued bytes stay under 64 KiB, 0 when the
 * caller should wait for on_drain (the data is still queued: nothing is lost), or a negative
 * error (UV_EBADF: no such writable fd, UV_EPIPE: fd already ended). */
typedef void (*uvproc_write_cb)(uvproc_process_t *p, int fd, int status, void *data);
UVPROC_EXTERN int uvproc_write(uvproc_process_t *p, int fd, const void *buf, size_t len,
                               uvproc_write_cb cb, void *data);
/* Bytes queued for `fd` and not yet taken by the kernel. */
UVPROC_EXTERN size_t uvproc_write_queue_size(const uvproc_process_t *p, int fd);
/* Ends the child's `fd` after queued writes are flushed: the child reads EOF. */
UVPROC_EXTERN int uvproc_end(uvproc_process_t *p, int fd);
/* Closes the parent's side of `fd` now, as Node's stream.destroy(): reading stops with
 * on_end(fd, UV_ECANCELED), queued writes complete with UV_ECANCELED, and close no longer
 * waits for this pipe (a grandchild holding it open cannot hold on_close back). */
UVPROC_EXTERN int uvproc_close_stdio(uvproc_process_t *p, int fd);
/* Stops / restarts reading `fd` (the child blocks once the pipe fills): read backpressure. */
UVPROC_EXTERN int uvproc_pause(uvproc_process_t *p, int fd);
UVPROC_EXTERN int uvproc_resume(uvproc_process_t *p, int fd);

/* Sends `signum` (0 probes) to the child. Returns 0 and marks the process killed (Node's
 * `killed`) when the signal was sent; UV_ESRCH once the child has exited or never started;
 * UV_EINVAL for a bad signal number. */
UVPROC_EXTERN int uvproc_kill(uvproc_process_t *p, int signum);
/* The same for the child's whole process group (only for `detached` children: UV_EINVAL
 * otherwise), so grandchildren get it too. */
UVPROC_EXTERN int uvproc_kill_group(uvproc_process_t *p, int signum);
/* Sends stop->first.signal now and stop->second.signal after the grace period unless the child
 * exited; `group` non-zero signals the process group (detached children). stop may be NULL. */
UVPROC_EXTERN int uvproc_stop(uvproc_process_t *p, const uvproc_stop_t *stop, int group);

UVPROC_EXTERN uv_pid_t uvproc_pid(const uvproc_process_t *p);      /* 0 if it never started */
UVPROC_EXTERN int uvproc_exited(const uvproc_process_t *p);        /* on_exit has happened */
UVPROC_EXTERN int64_t uvproc_exit_code(const uvproc_process_t *p); /* -1 if not exited normally */
UVPROC_EXTERN int uvproc_term_signal(const uvproc_process_t *p);   /* 0 if none */
UVPROC_EXTERN int uvproc_killed(const uvproc_process_t *p);
/* What the kernel accounted to the child (CPU time, peak RSS, faults, context switches), as
 * wait4 reports it: 0 once on_exit has been delivered; UV_EAGAIN before; UV_ENOTSUP where the
 * child was started by uv_spawn (libuv reaps with waitpid: kernels without pidfds, or
 * UVPROC_LAUNCHER=uv). Node has nothing like it for children. */
UVPROC_EXTERN int uvproc_rusage(const uvproc_process_t *p,
                                struct rusage *usage); /* a kill() signal was sent */
UVPROC_EXTERN uv_loop_t *uvproc_loop(const uvproc_process_t *p);
UVPROC_EXTERN void *uvproc_process_data(const uvproc_process_t *p);
UVPROC_EXTERN void uvproc_process_set_data(uvproc_process_t *p, void *data);
/* Keeps `p` valid past on_close; each retain needs a release. A release with no retain
 * left, or a call on a process already freed, is refused with a message on stderr and no
 * effect (live processes are looked up first; freed memory is never touched). */
UVPROC_EXTERN void uvproc_process_retain(uvproc_process_t *p);
UVPROC_EXTERN void uvproc_process_release(uvproc_process_t *p);
/* Node's child.unref()/ref(): whether this process keeps the loop alive. */
UVPROC_EXTERN void uvproc_process_unref(uvproc_process_t *p);
UVPROC_EXTERN void uvproc_process_ref(uvproc_process_t *p);

/* ---------------------------------------------------------------------------------------- */
/* exec / execFile                                                                          */

typedef enum {
    UVPROC_MAXBUFFER_KILL = 0, /* Node's: stop the child, error UVPROC_EMAXBUFFER */
    UVPROC_MAXBUFFER_TRUNCATE, /* keep exactly max_buffer bytes, let the child run to its end;
                                  the error is still UVPROC_EMAXBUFFER, with truncated set */
} uvproc_maxbuffer_mode_t;

typedef struct uvproc_exec_options_s {
    /* cwd, env, argv0, detached, uid/gid, shell (exec: the shell to use; NULL = UVPROC_SHELL).
     * stdio and the event callbacks are ignored: exec owns the pipes. */
    uvproc_spawn_options_t spawn;
    uint64_t timeout_ms; /* 0: none */
    uvproc_stop_t stop;  /* how a timeout, max_buffer or cancel stops the child */
    size_t max_buffer;   /* per stream; 0: 1 MiB (Node's); SIZE_MAX: unlimited */
    uvproc_maxbuffer_mode_t max_buffer_mode;
    const void *input; /* bytes written to the child's stdin, then EOF */
    size_t input_len;
    int kill_tree; /* own process group; stop signals the whole group */
} uvproc_exec_options_t;

/* The outcome. In the async callback every pointer is borrowed for the callback; from the
 * *_sync calls it is owned and freed by uvproc_exec_result_free(). */
typedef struct {
    int error;           /* 0 on success, else why: UVPROC_EEXITCODE, UVPROC_ESIGNALED,
                            UV_ETIMEDOUT, UVPROC_EMAXBUFFER, UV_ECANCELED, or the spawn error
                            (UV_ENOENT, ... with `syscall` telling "spawn" or "chdir") */
    const char *syscall; /* for spawn errors: "spawn" or "chdir"; else NULL */
    uv_pid_t pid;        /* 0 if it never started */
    int64_t exit_code;   /* -1 if it did not exit normally */
    int term_signal;     /* 0 if none */
    int killed;          /* the library signalled the child (timeout, max_buffer, cancel) */
    int truncated;       /* max_buffer was reached on stdout or stderr */
    const char *cmd;     /* the command line, space-joined, for messages */
    char *out;           /* stdout: out_len bytes, plus a terminating NUL not counted */
    size_t out_len;
    char *err; /* stderr: the same */
    size_t err_len;
} uvproc_exec_result_t;

typedef struct uvproc_exec_s uvproc_exec_t;
typedef void (*uvproc_exec_cb)(const uvproc_exec_result_t *result, void *data);

/* Runs `command` through the shell (options->spawn.shell or /bin/sh) with `-c`. The callback
 * runs exactly once (never from inside this call), when the child has exited and its pipes
 * are closed. *handle (if non-NULL) stays valid until the callback returns, for
 * uvproc_exec_cancel(). options may be NULL. */
UVPROC_EXTERN int uvproc_exec(uv_loop_t *loop, uvproc_exec_t **handle, const char *command,
                              const uvproc_exec_options_t *options, uvproc_exec_cb cb, void *data);
/* Runs `file` with `args` (as uvproc_spawn) without a shell. */
UVPROC_EXTERN int uvproc_exec_file(uv_loop_t *loop, uvproc_exec_t **handle, const char *file, const char *const *args, const uvproc_exec_options_t *options, uvproc_exec_cb cb, void *data);
/* Stops the child (options->stop) and completes with UV_ECANCELED. Returns UV_EALREADY if
 * the exec has already finished or was already cancelled. */
UVPROC_EXTERN int uvproc_exec_cancel(uvproc_exec_t *handle);

/* ---------------------------------------------------------------------------------------- */
/* sync variants: block the calling thread, on a private loop; the caller's loops untouched  */

/* Node's spawnSync: runs `file` with `args` to completion. Returns 0 with *result filled even
 * when the child failed: result->error is then a spawn error, UV_ETIMEDOUT or
 * UVPROC_EMAXBUFFER, but never UVPROC_EEXITCODE / UVPROC_ESIGNALED (look at exit_code and
 * term_signal). Returns a negative code for bad arguments (nothing to free then). */
UVPROC_EXTERN int uvproc_spawn_sync(const char *file, const char *const *args,
                                    const uvproc_exec_options_t *options,
                                    uvproc_exec_result_t *result);
/* Node's execSync / execFileSync: as above, but the return value is result->error, including
 * UVPROC_EEXITCODE and UVPROC_ESIGNALED. *result must be freed whatever the return value,
 * except for UV_EINVAL from bad arguments. */
UVPROC_EXTERN int uvproc_exec_sync(const char *command, const uvproc_exec_options_t *options,
                                   uvproc_exec_result_t *result);
UVPROC_EXTERN int uvproc_exec_file_sync(const char *file, const char *const *args,
                                        const uvproc_exec_options_t *options,
                                        uvproc_exec_result_t *result);
UVPROC_EXTERN void uvproc_exec_result_free(uvproc_exec_result_t *result);

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_PROCESS_H */
