/* uvproc: Node's child_process (spawn, exec, execFile, fork and their sync variants) for C
 * programs that run a libuv loop.
 *
 * Conventions, once for the whole header:
 * - Every function that can fail returns 0 (or a documented non-negative value) or a negative
 *   libuv-style error code (UV_ENOENT, UV_EINVAL, ...) or one of UVPROC_E* below.
 *   uvproc_strerror() and uvproc_err_name() turn any of them into words.
 * - Option structs are zero-initialised for defaults: `(uvproc_spawn_options_t){0}` is valid.
 * - Everything asynchronous runs on the loop the caller passes, and callbacks are invoked from
 *   that loop's thread. Only the *_sync functions block.
 * - Buffers passed to callbacks are borrowed for the duration of the callback.
 * - Ownership of a uvproc_process_t: the library allocates it and frees it right after the
 *   `on_close` callback returns, unless the user called uvproc_process_retain(); then it stays
 *   valid (for the accessors) until the matching uvproc_process_release(). A process that never
 *   started (failed spawn) follows the same rule: `on_error`, then `on_close`, then freed.
 * - jansson values follow jansson's rules: functions that take a json_t * borrow it unless their
 *   name ends in _new (those steal the reference, as json_object_set_new does).
 * - The library ignores SIGPIPE process-wide (only if its disposition is still SIG_DFL) the
 *   first time it creates a pipe: a write to a dead child is reported as UV_EPIPE instead of
 *   killing the host. Children get default signal dispositions back.
 */
#ifndef UVPROC_H
#define UVPROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include <jansson.h>
#include <uv.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UVPROC_EXTERN __attribute__((visibility("default")))
#else
#define UVPROC_EXTERN
#endif

#define UVPROC_VERSION_MAJOR 0
#define UVPROC_VERSION_MINOR 1
#define UVPROC_VERSION_PATCH 0

/* ---------------------------------------------------------------------------------------- */
/* Errors                                                                                   */

/* Our own codes, next to libuv's (which are negative errnos, all above -4096 on Unix).
 * Timeouts are UV_ETIMEDOUT, cancellation is UV_ECANCELED, an oversized IPC message is
 * UV_EMSGSIZE, an IPC send after disconnect is UV_EPIPE. */
enum {
    UVPROC_EEXITCODE = -30001,      /* the child exited with a non-zero code (exec) */
    UVPROC_ESIGNALED = -30002,      /* the child was terminated by a signal (exec) */
    UVPROC_EMAXBUFFER = -30003,     /* output went past max_buffer (exec) */
    UVPROC_EBADMSG = -30004,        /* a malformed IPC line: not exactly one JSON value */
    UVPROC_ESERIALIZATION = -30005, /* NODE_CHANNEL_SERIALIZATION_MODE is not "json" */
    UVPROC_ENOCHANNEL = -30006,     /* no IPC channel: NODE_CHANNEL_FD is not set */
};

/* A message for any code this library returns, libuv's included. Never NULL. */
UVPROC_EXTERN const char *uvproc_strerror(int err);
/* The code's name ("ENOENT", "EMAXBUFFER", ...). Never NULL. */
UVPROC_EXTERN const char *uvproc_err_name(int err);

/* What the `on_error` callback of a process receives. Strings are borrowed. */
typedef struct {
    int code;            /* negative error code */
    const char *syscall; /* "spawn" (the program could not be run), "chdir" (bad cwd),
                            "kill", "write", ... */
    const char *path;    /* the program (spawn) or the directory (chdir), else NULL */
} uvproc_error_t;

/* ---------------------------------------------------------------------------------------- */
/* spawn                                                                                    */

typedef struct uvproc_process_s uvproc_process_t;

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
     * execs loses it). UV_ENOSYS through on_error where the kernel has no pidfd. */
    int kill_on_parent_death;

    void *data; /* user pointer: uvproc_process_data() */

    /* Events. Any may be NULL. Order (as Node's): spawn, then data/end per readable fd, exit
     * exactly once, close last, once exit has happened and every parent-side pipe (and the IPC
     * channel) has closed. A child that cannot be started gets error, then close, no exit. */
    void (*on_spawn)(uvproc_process_t *p);
    void (*on_error)(uvproc_process_t *p, const uvproc_error_t *err);
    /* Output from the child on `fd` (1, 2 or an extra pipe slot). */
    void (*on_data)(uvproc_process_t *p, int fd, const char *buf, size_t len);
    /* `fd` has ended: status 0 at EOF, else a read error (UV_ECONNRESET, ...). */
    void (*on_end)(uvproc_process_t *p, int fd, int status);
    /* A writable fd's queue emptied after a write returned 0 (backpressure). */
    void (*on_drain)(uvproc_process_t *p, int fd);
    /* `signal` 0: exited with `code`; otherwise killed by `signal` and `code` is -1. */
    void (*on_exit)(uvproc_process_t *p, int64_t code, int signal);
    /* Last event. A failed spawn closes with code = the (negative) error and signal 0. */
    void (*on_close)(uvproc_process_t *p, int64_t code, int signal);
} uvproc_spawn_options_t;

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

/* Writes `len` bytes to the child's `fd` (0 or a writable extra pipe). The bytes are copied
 * (only the part the kernel did not take at once). `cb` (may be NULL) runs when the write is
 * done: status 0, or UV_EPIPE if the child is gone, UV_ECANCELED if the pipe was closed first.
 * Returns 1 while the queued bytes stay under 64 KiB, 0 when the caller should wait for
 * on_drain (the data is still queued: nothing is lost), or a negative error (UV_EBADF: no such
 * writable fd, UV_EPIPE: fd already ended). */
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
/* Keeps `p` valid past on_close; each retain needs a release. */
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
UVPROC_EXTERN int uvproc_exec(uv_loop_t *loop, const char *command,
                              const uvproc_exec_options_t *options, uvproc_exec_cb cb, void *data,
                              uvproc_exec_t **handle);
/* Runs `file` with `args` (as uvproc_spawn) without a shell. */
UVPROC_EXTERN int uvproc_exec_file(uv_loop_t *loop, const char *file, const char *const *args,
                                   const uvproc_exec_options_t *options, uvproc_exec_cb cb,
                                   void *data, uvproc_exec_t **handle);
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

/* ---------------------------------------------------------------------------------------- */
/* IPC channel: Node's 'json' serialization (one JSON value + '\n' per message)              */

typedef struct uvproc_channel_s uvproc_channel_t;

/* A handle that came with a message. The stream is a uv_tcp_t (Node types "net.Server",
 * "net.Socket", "net.Native") or a uv_pipe_t, initialised on the channel's loop; ownership
 * passes to the user, who must uv_close() it and free() it (it was malloc()ed). */
typedef struct {
    uv_stream_t *stream;
    const char *type; /* Node's envelope type: "net.Server", "net.Socket", "net.Native", ... */
} uvproc_handle_t;

typedef struct uvproc_channel_options_s {
    size_t max_message_size; /* bytes per line; 0: 64 MiB */
    /* Handle ACK wait before a send after a handle fails with UV_ETIMEDOUT; 0: 10000 ms.
     * That handle's send then completes with UV_ETIMEDOUT, on_error reports it, and the sends
     * queued behind it go out (Node would stall forever). */
    uint64_t handle_ack_timeout_ms;
    void *data; /* user pointer: uvproc_channel_data() */

    /* A user message (any JSON value; borrowed: json_incref() it to keep it). handle is NULL
     * unless a handle came with the message. Messages that arrive while on_message is NULL are
     * queued and delivered once it is set (uvproc_channel_set_on_message). */
    void (*on_message)(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle);
    /* Internal messages: objects whose "cmd" is a string longer than 5 starting with "NODE_".
     * NODE_HANDLE/ACK/NACK are handled before this is called. For cluster and similar. */
    void (*on_internal)(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle);
    /* Bad input from the peer: UVPROC_EBADMSG (invalid JSON, empty line), UV_EMSGSIZE (line
     * over max_message_size); `line` is the offending bytes (truncated for EMSGSIZE, may be
     * NULL). The channel lives on and resynchronises at the next '\n'. Also used for
     * UV_ETIMEDOUT when a sent handle is never acknowledged, and for UV_ENOTSUP when a handle
     * arrives that is not a stream (UDP, a file): it is closed and its message delivered
     * without it. */
    void (*on_error)(uvproc_channel_t *ch, int err, const char *line, size_t len);
    /* Exactly once: the peer closed (EOF or read error) or uvproc_channel_disconnect() was
     * called. After it returns the channel cannot send; it is freed once its handle closed. */
    void (*on_disconnect)(uvproc_channel_t *ch);
} uvproc_channel_options_t;

/* Send completion: status 0 once the whole frame was written to the socket, UV_ECANCELED if
 * the channel closed before it was, UV_EPIPE / other write errors otherwise. */
typedef void (*uvproc_send_cb)(uvproc_channel_t *ch, int status, void *data);

/* Sends one JSON value (borrowed). Frames queued in one loop turn leave in one write.
 * Returns 1 while fewer than 128 KiB are queued, 0 when the caller should slow down (the
 * message is still queued), or a negative error: UV_EPIPE after disconnect, UV_EINVAL for a
 * value jansson cannot encode. */
UVPROC_EXTERN int uvproc_channel_send(uvproc_channel_t *ch, const json_t *msg, uvproc_send_cb cb,
                                      void *data);
/* Steals the reference to msg, even on error. */
UVPROC_EXTERN int uvproc_channel_send_new(uvproc_channel_t *ch, json_t *msg, uvproc_send_cb cb,
                                          void *data);
/* Sends raw JSON text, validated first: exactly one JSON value and no raw LF, else
 * UVPROC_EBADMSG and nothing is written (a bad frame kills a Node peer). */
UVPROC_EXTERN int uvproc_channel_send_raw(uvproc_channel_t *ch, const char *json, size_t len,
                                          uvproc_send_cb cb, void *data);
/* Sends msg with a handle (a uv_tcp_t server or socket, or a uv_pipe_t) in Node's NODE_HANDLE
 * envelope; `type` NULL picks "net.Server" for a listening TCP handle, "net.Socket" for other
 * TCP handles, "net.Native" for pipes. Later sends wait for the peer's ACK, as Node's do. The
 * caller keeps its handle and may close it once cb has run. cb runs once: 0 when the peer
 * acknowledged, UV_EPROTO when it refused the handle (NACK) after 3 retransmissions,
 * UV_ETIMEDOUT (handle_ack_timeout_ms), UV_ECANCELED when the channel closed first. */
UVPROC_EXTERN int uvproc_channel_send_handle(uvproc_channel_t *ch, const json_t *msg,
                                             uv_stream_t *handle, const char *type,
                                             uvproc_send_cb cb, void *data);

/* Closes the channel: queued frames are written first (their callbacks report 0), then the
 * socket closes and on_disconnect runs (on a later loop turn). Frames that cannot be written
 * complete with UV_ECANCELED. UV_EPIPE if already disconnected. */
UVPROC_EXTERN int uvproc_channel_disconnect(uvproc_channel_t *ch);
UVPROC_EXTERN int uvproc_channel_connected(const uvproc_channel_t *ch);
UVPROC_EXTERN void uvproc_channel_set_on_message(uvproc_channel_t *ch,
                                                 void (*on_message)(uvproc_channel_t *ch,
                                                                    json_t *msg,
                                                                    uvproc_handle_t *handle));
/* Bytes queued and not yet written. */
UVPROC_EXTERN size_t uvproc_channel_queue_size(const uvproc_channel_t *ch);
/* Loop liveness, as Node's channel.ref()/unref(). A channel adopted from the parent starts
 * unref'd, unless an on_message or on_disconnect callback is given; a forked child's channel
 * starts ref'd. */
UVPROC_EXTERN void uvproc_channel_ref(uvproc_channel_t *ch);
UVPROC_EXTERN void uvproc_channel_unref(uvproc_channel_t *ch);
UVPROC_EXTERN void *uvproc_channel_data(const uvproc_channel_t *ch);
UVPROC_EXTERN uv_loop_t *uvproc_channel_loop(const uvproc_channel_t *ch);

/* Opens a channel over `fd`, a connected AF_UNIX stream socket the caller gives up (the
 * channel closes it). UV_ENOTSOCK / UV_EBADF / UV_EINVAL for an fd that is not one; on error
 * the fd stays the caller's. */
UVPROC_EXTERN int uvproc_channel_open(uv_loop_t *loop, uvproc_channel_t **out, int fd,
                                      const uvproc_channel_options_t *options);

/* Child side: adopts the channel the parent (uvproc_fork, or Node's fork) left at
 * NODE_CHANNEL_FD: validates it (an integer naming an open stream socket), refuses any
 * NODE_CHANNEL_SERIALIZATION_MODE but "json" (UVPROC_ESERIALIZATION), sets close-on-exec and
 * unsets both variables so grandchildren do not see them. UVPROC_ENOCHANNEL when there is no
 * channel (unset or empty), UV_EINVAL when it is not a plain decimal number, and the errors of
 * uvproc_channel_open. On error nothing changes: the variables stay, the fd stays open.
 * Not thread-safe (it changes the environment): call it early, from the main thread. */
UVPROC_EXTERN int uvproc_channel_from_parent(uv_loop_t *loop, uvproc_channel_t **out,
                                             const uvproc_channel_options_t *options);

/* ---------------------------------------------------------------------------------------- */
/* fork                                                                                     */

typedef struct uvproc_fork_options_s {
    uvproc_spawn_options_t spawn;
    /* NULL: run `file` itself. Otherwise run `exec_path exec_args... file args...`, e.g.
     * "node" to run a Node script. */
    const char *exec_path;
    const char *const *exec_args;
    uvproc_channel_options_t channel;
} uvproc_fork_options_t;

/* spawn + an IPC channel at the child's fd 3, with NODE_CHANNEL_FD=3 and
 * NODE_CHANNEL_SERIALIZATION_MODE=json in its environment (overriding the user's env).
 * on_close waits for the channel too. Errors as uvproc_spawn. As Node's fork: stdio slots left
 * at UVPROC_STDIO_DEFAULT are inherited, `shell` is ignored. A child that cannot be started
 * gets no channel (uvproc_process_channel is NULL, no on_disconnect). */
UVPROC_EXTERN int uvproc_fork(uv_loop_t *loop, uvproc_process_t **out, const char *file,
                              const char *const *args, const uvproc_fork_options_t *options);
/* The parent side of a forked child's channel; NULL if the process has none. Valid until the
 * channel's on_disconnect returns. */
UVPROC_EXTERN uvproc_channel_t *uvproc_process_channel(const uvproc_process_t *p);

/* ---------------------------------------------------------------------------------------- */
/* cluster: a primary supervising N workers on a shared port (Node's NODE_CLUSTER protocol)  */

/* The primary starts N workers of any program (C workers linking uvproc, or unmodified Node
 * `cluster` workers run with `node`), answers their listen requests on one shared socket,
 * restarts a worker that dies with exponential backoff, stops gracefully and reloads with no
 * failed request. Docs: docs/cluster.md. */
typedef struct uvproc_cluster_s uvproc_cluster_t;
typedef struct uvproc_cluster_worker_s uvproc_cluster_worker_t;

/* A reload's replacement worker crash-looped (uvproc_strerror knows it). */
#define UVPROC_ECRASHLOOP (-30100)

typedef enum {
    /* Node's SCHED_RR (its default on Unix): the primary listens, accepts, and passes each
     * connection to one worker over the channel, one in flight per worker. Even balance. */
    UVPROC_CLUSTER_RR = 0,
    /* Node's SCHED_NONE: the primary binds and hands the socket to every worker, which
     * listens and accepts itself. No per-connection cost, but one accept queue: the worker
     * that wakes first takes a burst of connections (uneven, as Node's docs warn). */
    UVPROC_CLUSTER_SHARED,
} uvproc_cluster_policy_t;

/* A worker slot's state. A slot lives across restarts (its process and id change). */
typedef enum {
    UVPROC_WORKER_STARTING = 0, /* forked, not yet online */
    UVPROC_WORKER_ONLINE,       /* said online, not yet listening */
    UVPROC_WORKER_LISTENING,    /* a server listens: the worker is ready */
    UVPROC_WORKER_STOPPING,     /* told to disconnect; SIGKILL when the grace period ends */
    UVPROC_WORKER_BACKOFF,      /* died; its replacement starts when the delay ends */
    UVPROC_WORKER_DEAD,         /* gone for good (stopped, left on its own, or a crash loop) */
} uvproc_cluster_worker_state_t;

/* Restart policy, as data. Zero fields mean the defaults in brackets (PM2's, for the delay).
 * The first restart after a stable period is immediate; the n-th (n >= 2) waits
 * delay_ms * factor^(n-2), at most max_delay_ms. A worker that stays up reset_after_ms
 * starts the sequence over. More than crash_loop_restarts restarts within crash_loop_window_ms
 * is a crash loop: the slot stops restarting (DEAD) and on_crash_loop reports it. */
typedef struct {
    uint64_t delay_ms;             /* [100] */
    double factor;                 /* [1.5] */
    uint64_t max_delay_ms;         /* [15000] */
    uint64_t reset_after_ms;       /* [30000] */
    unsigned crash_loop_restarts;  /* [10]; UINT32_MAX: never give up */
    uint64_t crash_loop_window_ms; /* [60000] */
    int disabled;                  /* non-zero: never restart */
} uvproc_cluster_restart_t;

/* Where a worker's server listens, as its `listening` message says. Strings borrowed. */
typedef struct {
    const char *address; /* IP address, Unix socket path, or NULL (all interfaces) */
    int port;            /* -1 for a Unix socket */
    int address_type;    /* 4, 6, or -1 (Unix socket): Node's addressType */
} uvproc_cluster_address_t;

typedef struct uvproc_cluster_options_s {
    /* How each worker is started (uvproc_fork's options: exec_path "node" runs a Node
     * script); its strings and arrays are copied. The library adds NODE_UNIQUE_ID=<worker
     * id> to the environment and sets kill_on_parent_death (where the kernel has pidfds), so
     * that workers die with the primary. The channel callbacks and spawn event callbacks are
     * the cluster's: those fields are ignored. */
    uvproc_fork_options_t fork;
    unsigned workers; /* 0: uv_available_parallelism() */
    uvproc_cluster_policy_t policy;
    uvproc_cluster_restart_t restart;
    uint64_t grace_ms; /* stop: SIGKILL a worker this long after asking it to leave [5000] */
    /* A worker that asks to listen on no particular address (Node's listen(port)) gets this
     * one; NULL: all interfaces ("::", else "0.0.0.0"), as Node does. */
    const char *host;
    void *data; /* uvproc_cluster_data() */

    /* Events; any may be NULL. A worker pointer stays valid until the event that says it is
     * DEAD (on_exit, then on_crash_loop if that is why) has returned. */
    void (*on_fork)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    void (*on_online)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    void (*on_listening)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *address);
    /* A user message from the worker (borrowed). */
    void (*on_message)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, json_t *msg);
    void (*on_disconnect)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    /* The worker's process is gone (code -1 and `signal` set when killed; code < -1 is the
     * spawn error when it never started). The state tells what follows: BACKOFF (a restart
     * comes after on_restart), DEAD (none). rusage and uptime are those of this process. */
    void (*on_exit)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int signal);
    /* A restart is scheduled `delay_ms` from now. */
    void (*on_restart)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, uint64_t delay_ms);
    /* Too many restarts within the window: this slot stops restarting. */
    void (*on_crash_loop)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w);
    /* Bad input from a worker (UVPROC_EBADMSG garbage line, UV_EMSGSIZE, UV_EPROTO: a
     * NODE_CLUSTER message with an unknown act or missing fields; `msg` is it, may be NULL)
     * or a failure on its behalf (the spawn error, UV_EADDRINUSE answered to a listen). The
     * primary and the other workers go on. */
    void (*on_error)(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int err, json_t *msg);
} uvproc_cluster_options_t;

/* Starts the workers. `file` and `args` as uvproc_fork's (copied). Returns 0, or UV_EINVAL /
 * UV_ENOMEM with nothing started. The cluster runs until uvproc_cluster_stop(). */
UVPROC_EXTERN int uvproc_cluster_start(uv_loop_t *loop, uvproc_cluster_t **out, const char *file,
                                       const char *const *args,
                                       const uvproc_cluster_options_t *options);
/* Graceful stop: listening sockets close, every worker is asked to disconnect (it closes its
 * servers and finishes in-flight requests), SIGKILL after grace_ms, no restarts. `cb` runs once
 * every worker has exited; the cluster is freed when it returns. UV_EALREADY if stopping. */
UVPROC_EXTERN int uvproc_cluster_stop(uvproc_cluster_t *c,
                                      void (*cb)(uvproc_cluster_t *c, void *data), void *data);
/* Zero-downtime rolling reload: for each current worker in turn, start a new one, wait for
 * its `listening`, then stop the old one gracefully. `cb` (may be NULL) gets 0 when every
 * worker was replaced, UV_ECANCELED if the cluster was stopped first, UVPROC_ECRASHLOOP if
 * a replacement crash-looped. UV_EBUSY while a reload runs, UV_EALREADY while stopping. */
UVPROC_EXTERN int uvproc_cluster_reload(uvproc_cluster_t *c,
                                        void (*cb)(uvproc_cluster_t *c, int status, void *data),
                                        void *data);
/* Grows (new workers start now) or shrinks (the newest workers stop gracefully) to n. */
UVPROC_EXTERN int uvproc_cluster_resize(uvproc_cluster_t *c, unsigned n);
/* Sends a user message (borrowed) to one worker / to every connected worker. UV_EPIPE when
 * the worker has no channel now; broadcast returns how many workers it was sent to. */
UVPROC_EXTERN int uvproc_cluster_send(uvproc_cluster_worker_t *w, const json_t *msg);
UVPROC_EXTERN int uvproc_cluster_broadcast(uvproc_cluster_t *c, const json_t *msg);
/* Node's worker.disconnect(): stops this worker gracefully, without a restart. */
UVPROC_EXTERN int uvproc_cluster_worker_stop(uvproc_cluster_worker_t *w);
/* Live (not DEAD) worker slots, up to max; returns how many there are. */
UVPROC_EXTERN size_t uvproc_cluster_workers(const uvproc_cluster_t *c,
                                            uvproc_cluster_worker_t **out, size_t max);
UVPROC_EXTERN void *uvproc_cluster_data(const uvproc_cluster_t *c);

UVPROC_EXTERN unsigned uvproc_cluster_worker_id(const uvproc_cluster_worker_t *w);  /* current */
UVPROC_EXTERN uv_pid_t uvproc_cluster_worker_pid(const uvproc_cluster_worker_t *w); /* 0: none */
UVPROC_EXTERN uvproc_cluster_worker_state_t
uvproc_cluster_worker_state(const uvproc_cluster_worker_t *w);
UVPROC_EXTERN const char *uvproc_cluster_state_name(uvproc_cluster_worker_state_t state);
UVPROC_EXTERN unsigned uvproc_cluster_worker_restarts(const uvproc_cluster_worker_t *w);
/* Milliseconds since the current (or, in on_exit, the last) process started. */
UVPROC_EXTERN uint64_t uvproc_cluster_worker_uptime(const uvproc_cluster_worker_t *w);
/* The last exited process's rusage (uvproc_rusage's errors; UV_EAGAIN before any exit). */
UVPROC_EXTERN int uvproc_cluster_worker_rusage(const uvproc_cluster_worker_t *w,
                                               struct rusage *usage);
UVPROC_EXTERN uvproc_cluster_t *uvproc_cluster_worker_cluster(const uvproc_cluster_worker_t *w);

/* Worker side, for C workers: join the primary (uvproc's or Node's) and listen through it. */
typedef struct uvproc_cluster_child_s uvproc_cluster_child_t;
typedef struct uvproc_cluster_server_s uvproc_cluster_server_t;

/* Non-zero when this process was started as a cluster worker (NODE_UNIQUE_ID is set). */
UVPROC_EXTERN int uvproc_cluster_is_worker(void);

typedef struct uvproc_cluster_child_options_s {
    void *data;
    void (*on_message)(uvproc_cluster_child_t *w, json_t *msg); /* borrowed */
    /* The channel is gone. `asked` non-zero: the primary asked this worker to leave (its
     * servers are already closed: finish in-flight work and let the loop end) or the worker
     * called uvproc_cluster_child_disconnect(); zero: the primary died (Node's worker exits
     * then). The child object is freed when this returns. */
    void (*on_disconnect)(uvproc_cluster_child_t *w, int asked);
    void (*on_error)(uvproc_cluster_child_t *w, int err);
} uvproc_cluster_child_options_t;

/* Adopts the channel (uvproc_channel_from_parent's errors; UVPROC_ENOCHANNEL also when
 * NODE_UNIQUE_ID is unset), unsets NODE_UNIQUE_ID and tells the primary it is online. */
UVPROC_EXTERN int uvproc_cluster_child_start(uv_loop_t *loop, uvproc_cluster_child_t **out,
                                             const uvproc_cluster_child_options_t *options);
UVPROC_EXTERN unsigned uvproc_cluster_child_id(const uvproc_cluster_child_t *w);
UVPROC_EXTERN void *uvproc_cluster_child_data(const uvproc_cluster_child_t *w);
UVPROC_EXTERN int uvproc_cluster_child_send(uvproc_cluster_child_t *w, const json_t *msg);
/* Node's worker.disconnect(): closes every server, tells the primary this exit is wanted
 * (no restart), then closes the channel; on_disconnect(w, 1) follows. */
UVPROC_EXTERN int uvproc_cluster_child_disconnect(uvproc_cluster_child_t *w);

typedef struct uvproc_cluster_listen_options_s {
    const char *host; /* NULL: the primary's choice (all interfaces unless it says otherwise) */
    int port;         /* 0: a free port (shared by every worker asking for 0) */
    const char *path; /* non-NULL: a Unix socket at this path instead of host/port */
    int backlog;      /* 0: 511 */
    void *data;
    /* Once: status 0 when the server listens, else why not (UV_EADDRINUSE, ...); after a
     * failure the server is freed when this returns. */
    void (*on_listening)(uvproc_cluster_server_t *s, int status);
    /* A connection, in either policy: `client` (a uv_tcp_t, or a uv_pipe_t for a Unix
     * socket) is connected, initialised on the loop and the user's: uv_close() it, then
     * free() it (it was malloc()ed). */
    void (*on_connection)(uvproc_cluster_server_t *s, uv_stream_t *client);
} uvproc_cluster_listen_options_t;

/* Asks the primary for a server (Node's queryServer): on_listening tells the outcome. */
UVPROC_EXTERN int uvproc_cluster_listen(uvproc_cluster_child_t *w,
                                        const uvproc_cluster_listen_options_t *options,
                                        uvproc_cluster_server_t **out);
/* The port the server listens on (0 before on_listening(0), -1 for a Unix socket). */
UVPROC_EXTERN int uvproc_cluster_server_port(const uvproc_cluster_server_t *s);
UVPROC_EXTERN void *uvproc_cluster_server_data(const uvproc_cluster_server_t *s);
/* Stops accepting and tells the primary; the server is freed later. */
UVPROC_EXTERN int uvproc_cluster_server_close(uvproc_cluster_server_t *s);

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_H */
