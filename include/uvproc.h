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

    /* Scale-out: non-NULL runs the child on another host through a launcher (ssh, srun, ...);
     * see "Remote children" at the end of this header. Borrowed for the call. */
    const struct uvproc_remote_s *remote;
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
     * without it. UV_EPROTO when the peer sent fds that no NODE_HANDLE line claims: at most
     * 16 are held for lines still to come, the rest are closed at once (`len` of them,
     * `line` NULL). */
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
 * channel closes it). UV_ENOTSOCK / UV_EBADF / UV_EINVAL for an fd that is not one,
 * UV_ENOTCONN for one that is not connected (a listening socket too); on error the fd stays
 * the caller's. */
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
/* pool: a concurrency-limited job queue over processes (docs/pool.md)                      */
/*                                                                                          */
/* One pool runs one kind of job:                                                           */
/* - command jobs: one process per job, with exec's semantics (xargs -P, GNU parallel);     */
/* - worker jobs: a method name + JSON params sent to persistent forked workers that speak  */
/*   npm workerpool's wire protocol, so a Node `workerpool.worker({...})` script serves a   */
/*   C pool, and a C worker (uvproc_worker_*, below) serves Node's workerpool.              */
/* A job's timeout counts from when it starts, never while it waits in the queue; cancel and */
/* crashes touch only their own job. The pool object is freed after its on_close returns.   */

typedef struct uvproc_pool_s uvproc_pool_t;

/* Pool-only error codes (uvproc_strerror knows them). */
enum {
    UVPROC_EQUEUEFULL = -30101,  /* submit: the bounded queue is full; nothing was queued */
    UVPROC_EPOOLCLOSED = -30102, /* submit after drain or terminate */
    UVPROC_EWORKERDIED = -30103, /* the worker running the job exited or was killed */
    UVPROC_EJOBERROR = -30104,   /* the worker's method threw / rejected: see error_name */
    UVPROC_EPROTOCOL = -30105,   /* the worker broke workerpool's protocol (garbage, a reply
                                    with an id it was not given): its jobs fail, it is replaced */
};

typedef enum {
    UVPROC_POOL_COMMANDS = 0, /* one process per job */
    UVPROC_POOL_WORKERS,      /* persistent workers, workerpool protocol */
} uvproc_pool_kind_t;

/* What a command job's output does. */
typedef enum {
    UVPROC_POOL_CAPTURE = 0, /* exec's: stdout/stderr captured (max_buffer), in the result */
    UVPROC_POOL_INHERIT,     /* the job writes to the pool's own stdout/stderr */
    UVPROC_POOL_DISCARD,     /* /dev/null */
    UVPROC_POOL_STREAM,      /* each chunk to on_output as it arrives; nothing kept */
} uvproc_pool_output_t;

/* What the first job that fails for good (retries spent) does to the rest (parallel --halt). */
typedef enum {
    UVPROC_HALT_NEVER = 0, /* go on */
    UVPROC_HALT_SOON, /* start no new job (queued ones end UV_ECANCELED); running ones finish */
    UVPROC_HALT_NOW,  /* also stop running jobs (UV_ECANCELED) */
} uvproc_halt_t;

typedef struct {
    uint64_t submitted;       /* accepted by submit */
    uint64_t queued;          /* waiting now */
    uint64_t running;         /* started, not finished */
    uint64_t done;            /* finished with error 0 */
    uint64_t failed;          /* finished with an error (cancelled ones included) */
    uint64_t retried;         /* restarts after a failure */
    uint64_t cancelled;       /* finished with UV_ECANCELED */
    uint64_t skipped;         /* finished without running: the resumed job log shows them done */
    uint64_t workers;         /* worker processes alive now (worker pools) */
    uint64_t workers_started; /* over the pool's life, replacements and recycling included */
} uvproc_pool_counters_t;

/* The outcome of one job, given to on_done. Pointers are borrowed for the callback. */
typedef struct {
    uint64_t id;       /* submission number, from 1 (the job log's Seq) */
    void *data;        /* the job's user pointer */
    int error;         /* 0, or: UVPROC_EEXITCODE, UVPROC_ESIGNALED, UV_ETIMEDOUT,
                          UV_ECANCELED, UVPROC_EMAXBUFFER, a spawn error (UV_ENOENT, ...),
                          UVPROC_EWORKERDIED, UVPROC_EJOBERROR, UVPROC_EPROTOCOL */
    unsigned attempts; /* runs, retries included (0: never started) */
    int skipped;       /* resume: not run, the job log says it succeeded before */
    uv_pid_t pid;      /* the (last) process that ran it */
    int64_t exit_code; /* command jobs: -1 unless it exited */
    int term_signal;   /* command jobs */
    const char *out;   /* command jobs in CAPTURE mode (NUL-terminated, may hold NULs) */
    size_t out_len;
    const char *err;
    size_t err_len;
    int has_rusage; /* command jobs not in CAPTURE mode, posix launcher */
    struct rusage rusage;
    json_t *result;            /* worker jobs: the reply's result (borrowed; incref to keep) */
    json_t *error_value;       /* worker jobs with UVPROC_EJOBERROR: the serialized error object */
    const char *error_name;    /* "Error", "TypeError", ... or NULL */
    const char *error_message; /* the worker's message, or NULL */
    double start_time;         /* seconds since the epoch when the (last) attempt started */
    double run_ms;             /* wall time of the last attempt */
    const char *host;          /* pools with hosts: where the last attempt ran (":" is this host) */
} uvproc_pool_result_t;

typedef struct uvproc_pool_options_s {
    uvproc_pool_kind_t kind;
    unsigned max_workers;     /* concurrency (command jobs) / worker processes; 0: CPU count */
    unsigned min_workers;     /* worker pools: started at once, never shrunk below */
    uint64_t idle_timeout_ms; /* worker pools: stop a worker above min idle this long; 0: 1000 */
    size_t max_queue;         /* queued (not running) jobs; 0: unbounded */
    uint64_t timeout_ms;      /* per job, from its start; 0: none (a job may override) */
    unsigned retries;         /* re-runs after a failure (non-zero exit, method error) */
    int retry_on_signal;      /* also retry jobs killed by a signal / whose worker crashed */
    uint64_t retry_delay_ms;  /* wait before a retry, doubling per retry (x64 at most); 0: none */
    uvproc_halt_t halt;
    int keep_order;     /* on_done in submission order (parallel --keep-order) */
    const char *joblog; /* append one line per finished job (parallel's format) */
    int resume;         /* with joblog: skip jobs whose Seq the log shows exited 0 */
    uvproc_stop_t stop; /* how a timeout / cancel / terminate stops a command job */

    /* Command jobs: the exec options every job gets (timeout_ms in it is ignored: use the
     * pool's), and what their output does. */
    uvproc_exec_options_t exec;
    uvproc_pool_output_t output;

    /* Worker jobs: the worker program, started with uvproc_fork (exec_path "node" for a Node
     * workerpool script). worker_fork.spawn's callbacks and .channel's are the pool's. */
    const char *worker_file;
    const char *const *worker_args;
    uvproc_fork_options_t worker_fork;
    unsigned max_jobs_per_worker; /* recycle a worker after this many jobs; 0: never */
    uint64_t max_rss_kb;          /* recycle a worker whose peak RSS (VmHWM) passed this; 0: off */
    unsigned pipeline;            /* jobs sent ahead to one worker; 0 or 1: one at a time, as
                                     workerpool. More hides the round trip (docs/pool.md). */

    void *data; /* uvproc_pool_data() */
    /* Every job once, when it finishes (in submission order with keep_order). */
    void (*on_done)(uvproc_pool_t *pool, const uvproc_pool_result_t *result);
    /* STREAM mode: `len` bytes job `id` wrote on `fd` (1 or 2), borrowed, in order, all
     * before its on_done. */
    void (*on_output)(uvproc_pool_t *pool, uint64_t id, void *job_data, int fd, const char *buf,
                      size_t len);
    /* A worker's workerEmit(payload) while running job `id` (payload borrowed). */
    void (*on_event)(uvproc_pool_t *pool, uint64_t id, void *job_data, json_t *payload);
    /* After each job finishes, counters rising. It may run inside a call you made (cancel,
     * terminate, submit): read the counters there, call nothing. */
    void (*on_progress)(uvproc_pool_t *pool, const uvproc_pool_counters_t *counters);
    /* A worker that misbehaved, or could not start (err, its pid or 0); the pool goes on. */
    void (*on_worker_error)(uvproc_pool_t *pool, int err, uv_pid_t pid);
    /* Last: every job delivered, every child reaped. The pool is freed when it returns. */
    void (*on_close)(uvproc_pool_t *pool);

    /* Scale-out: slots on several hosts, local and remote (see "Pool across hosts" at the end
     * of this header). NULL: every slot is local. Copied by uvproc_pool_new. */
    const struct uvproc_pool_hosts_s *hosts;
} uvproc_pool_options_t;

/* Per job; NULL means the pool's defaults. */
typedef struct {
    void *data;          /* result->data */
    uint64_t timeout_ms; /* overrides the pool's; 0: the pool's */
    const void *input;   /* command jobs in CAPTURE mode: bytes for stdin (copied) */
    size_t input_len;
} uvproc_pool_job_options_t;

/* Creates a pool on `loop` (strings of `options` are copied). Worker pools start min_workers
 * now. End it with uvproc_pool_drain or uvproc_pool_terminate: until then it keeps workers.
 * UV_EINVAL for a bad option (worker pool without worker_file, resume without joblog), or the
 * error of opening the job log. */
UVPROC_EXTERN int uvproc_pool_new(uv_loop_t *loop, uvproc_pool_t **out,
                                  const uvproc_pool_options_t *options);

/* Queues a command job (`file` + `args`, as uvproc_exec_file; copied). Returns 0 and sets *id
 * (may be NULL); UVPROC_EQUEUEFULL, UVPROC_EPOOLCLOSED, UV_EINVAL (wrong kind of pool). A job
 * that cannot start (missing program) is reported through on_done, never here. */
UVPROC_EXTERN int uvproc_pool_submit(uvproc_pool_t *pool, const char *file, const char *const *args,
                                     const uvproc_pool_job_options_t *options, uint64_t *id);
/* The same for a shell line (as uvproc_exec). */
UVPROC_EXTERN int uvproc_pool_submit_shell(uvproc_pool_t *pool, const char *command,
                                           const uvproc_pool_job_options_t *options, uint64_t *id);
/* Queues a worker job: `method` with `params` (a JSON array, borrowed; NULL: []). */
UVPROC_EXTERN int uvproc_pool_call(uvproc_pool_t *pool, const char *method, const json_t *params,
                                   const uvproc_pool_job_options_t *options, uint64_t *id);
/* Cancels job `id`: queued, it is removed; running, its process (its worker) is stopped and
 * replaced, no other job is touched. Either way on_done gets UV_ECANCELED. UV_EALREADY if it
 * finished or is already being stopped, UV_ENOENT for an unknown id. */
UVPROC_EXTERN int uvproc_pool_cancel(uvproc_pool_t *pool, uint64_t id);
/* No more submits; queued and running jobs finish, workers are told to terminate, then
 * on_close. UV_EALREADY when already draining or terminating. */
UVPROC_EXTERN int uvproc_pool_drain(uvproc_pool_t *pool);
/* No more submits; queued jobs end UV_ECANCELED, running ones are stopped (UV_ECANCELED),
 * workers killed, then on_close once every child is reaped. */
UVPROC_EXTERN int uvproc_pool_terminate(uvproc_pool_t *pool);
UVPROC_EXTERN void uvproc_pool_counters(const uvproc_pool_t *pool, uvproc_pool_counters_t *out);
UVPROC_EXTERN void *uvproc_pool_data(const uvproc_pool_t *pool);

/* Worker side (a C program that serves a uvproc pool or npm workerpool, forked with an IPC
 * channel): register methods, then uvproc_worker_run. A method gets a call and its params
 * (a JSON array, borrowed) and completes the call exactly once, now or later, with
 * uvproc_worker_resolve_new or uvproc_worker_reject; it may uvproc_worker_emit_new progress
 * events before that. */
typedef struct uvproc_worker_call_s uvproc_worker_call_t;
typedef void (*uvproc_worker_method_fn)(uvproc_worker_call_t *call, json_t *params, void *data);
typedef struct {
    const char *name;
    uvproc_worker_method_fn fn;
    void *data;
} uvproc_worker_method_t;

/* Adopts the parent's channel (uvproc_channel_from_parent's errors), says "ready", serves
 * calls on `loop` until the parent sends "__workerpool-terminate__" or goes away; returns 0,
 * or 1 when the parent disconnected without telling (workerpool's worker exits 1 then).
 * `methods` (count n) must outlive the call. A built-in "methods" lists them, as workerpool. */
UVPROC_EXTERN int uvproc_worker_run(uv_loop_t *loop, const uvproc_worker_method_t *methods,
                                    size_t n);
/* Completes the call with `result` (stolen; NULL means null). The call is freed. */
UVPROC_EXTERN int uvproc_worker_resolve_new(uvproc_worker_call_t *call, json_t *result);
/* Completes the call with an error {name, message} (name NULL: "Error"). The call is freed. */
UVPROC_EXTERN int uvproc_worker_reject(uvproc_worker_call_t *call, const char *name,
                                       const char *message);
/* workerEmit: an event for the caller's on_event (payload stolen). */
UVPROC_EXTERN int uvproc_worker_emit_new(uvproc_worker_call_t *call, json_t *payload);
/* The call's id on the wire (the pool's job id when the parent is a uvproc pool). */
UVPROC_EXTERN int64_t uvproc_worker_call_id(const uvproc_worker_call_t *call);

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

/* ---------------------------------------------------------------------------------------- */
/* Worker threads: Node's worker_threads (Worker, MessageChannel, BroadcastChannel)          */
/*
 * A worker is a thread with its own uv_loop_t. Threads exchange messages through ports: a
 * port is one end of a channel; what is posted to it arrives at the other end, in order, on
 * the loop of whoever holds that end, asynchronously and in batches (one wake-up delivers
 * everything queued). A message is a JSON value (deep-copied: two threads never share a
 * json_t, unless a _new call can MOVE it, see below), plus byte buffers that are transferred
 * (ownership moves, no copy: Node's transferList for an ArrayBuffer) or copied, plus ports
 * (transferred: the receiving thread then uses them on its own loop).
 *
 * Threads: every port and broadcast call is made on the thread that owns the object (the
 * thread of the loop it was started on), except uvproc_worker_terminate, ref/unref and post
 * on a worker, which belong to the thread that started the worker. The library's own locks
 * make posting to the other end safe from any thread.
 *
 * The worker's entry function runs on the new thread; then the library runs the worker's loop
 * until nothing keeps it alive (Node's model: a worker ends when its loop is empty), until
 * uvproc_worker_exit / uvproc_worker_fail, or until the parent terminates it. Then every
 * port and broadcast channel the worker still holds is closed, any handle the worker left
 * open is closed for it (counted: uvproc_worker_stray_handles), its loop is closed, and the
 * parent gets exit(code) on its own loop. The thread is always joined before on_exit. */

typedef struct uvproc_worker_s uvproc_worker_t;
typedef struct uvproc_port_s uvproc_port_t;
typedef struct uvproc_broadcast_s uvproc_broadcast_t;

/* A byte buffer. Buffers the library hands over were malloc()ed; so must be the ones posted
 * for transfer (the receiver, or the library, free()s them). */
typedef struct {
    void *base;
    size_t len;
} uvproc_buf_t;

/* What travels with a message besides its JSON value. Zero-initialised: nothing. */
typedef struct {
    /* Moved, not copied: on success each entry is set to {NULL, 0} (Node's detached
     * ArrayBuffer); on error they are untouched and still the caller's. */
    uvproc_buf_t *transfer;
    size_t transfer_count;
    /* Copied (memcpy); the caller keeps them. */
    const uvproc_buf_t *copy;
    size_t copy_count;
    /* Ports moved to the receiver: each leaves the sender's loop and is set to NULL on
     * success. Neither the posting port nor its peer may be listed (UV_EINVAL). */
    uvproc_port_t **ports;
    size_t port_count;
} uvproc_transfer_t;

/* A received message. `value` is borrowed for the callback (json_incref() it to keep it; it
 * is this thread's own copy); NULL when none was posted. `buffers` holds the transferred
 * buffers, then the copied ones, in the order posted; `ports` the transferred ports. TAKE a
 * buffer or a port by copying it out and setting its entry to NULL (base NULL): what is left
 * is freed (ports: closed) after the callback returns. */
typedef struct {
    json_t *value;
    uvproc_buf_t *buffers;
    size_t buffer_count;
    uvproc_port_t **ports;
    size_t port_count;
} uvproc_message_t;

/* Frees a message returned by uvproc_port_receive (and whatever was not taken from it). */
UVPROC_EXTERN void uvproc_message_free(uvproc_message_t *msg);

/* --- ports (MessageChannel / MessagePort) ---- */

typedef struct {
    /* A message. Until on_message is set (uvproc_port_start), messages wait in the port's
     * queue (uvproc_port_receive can take them). */
    void (*on_message)(uvproc_port_t *port, uvproc_message_t *msg);
    /* A text posted with uvproc_port_post_text that is not one JSON value (Node's
     * messageerror): err is UVPROC_EBADMSG, text/len the bytes (borrowed). The port lives on. */
    void (*on_messageerror)(uvproc_port_t *port, int err, const char *text, size_t len);
    /* Exactly once, on both ends, when either end is closed (after the messages posted
     * before the close have been delivered). The port is freed when this returns. */
    void (*on_close)(uvproc_port_t *port);
    void *data; /* user pointer: uvproc_port_data() */
    /* Opt-in busy polling: after delivering, keep watching for the next message this many
     * microseconds (no lock, no syscall) before the loop may sleep; the peer's posts then
     * cost no wake-up either. The lowest latency for request/response traffic, at the price
     * of a CPU kept busy that long after every message. 0: never (the default). */
    unsigned busy_poll_us;
} uvproc_port_options_t;

/* Node's `new MessageChannel()`: two entangled ports, not yet started on any loop. The caller
 * owns both: start each (on this thread's loop, or after transferring it to another thread)
 * or close it. */
UVPROC_EXTERN int uvproc_message_channel(uvproc_port_t **port1, uvproc_port_t **port2);
/* Attaches `port` to `loop` (this thread's) and sets its callbacks (options may be NULL:
 * messages then stay queued). A port started with an on_message or on_close keeps the loop
 * alive until it closes (uvproc_port_unref to change that). Calling it again changes the
 * callbacks (loop NULL or the same loop). UV_EPIPE when the port is closed, UV_EINVAL when
 * it is already started on another loop. */
UVPROC_EXTERN int uvproc_port_start(uvproc_port_t *port, uv_loop_t *loop,
                                    const uvproc_port_options_t *options);
/* postMessage: `value` (borrowed, may be NULL) is deep-copied; `t` (may be NULL) says what
 * else goes. Returns 0 once the message is queued at the other end; UV_EPIPE when either
 * end is closed (nothing sent, nothing moved); UV_EINVAL for a bad transfer list (a NULL
 * buffer with a length, a buffer or port listed twice, the port itself or its peer, a closed
 * port); UV_ENOMEM. */
UVPROC_EXTERN int uvproc_port_post(uvproc_port_t *port, const json_t *value, uvproc_transfer_t *t);
/* The same, but steals the reference to `value`, even on error. When this reference is the
 * only one to the value and to every value inside it (nothing else in the sending thread can
 * reach it), the value itself MOVES to the receiver, without a copy. */
UVPROC_EXTERN int uvproc_port_post_new(uvproc_port_t *port, json_t *value, uvproc_transfer_t *t);
/* Posts JSON text (copied), parsed on the RECEIVING thread: the receiver gets on_message
 * with the value, or on_messageerror when it does not parse. */
UVPROC_EXTERN int uvproc_port_post_text(uvproc_port_t *port, const char *text, size_t len);
/* Node's receiveMessageOnPort: takes the next queued message now. 0 with *out (free it with
 * uvproc_message_free); UV_EAGAIN when none is queued; UV_EPIPE when the port is closed or
 * the next thing queued is its peer's close; UVPROC_EBADMSG when the next message was text
 * that does not parse (it is consumed). Works on a port that is not started. */
UVPROC_EXTERN int uvproc_port_receive(uvproc_port_t *port, uvproc_message_t **out);
/* Closes the port and, asynchronously, its peer: both get on_close (a port never started
 * gets none and is freed now; so is its queue). UV_EALREADY when already closed. */
UVPROC_EXTERN int uvproc_port_close(uvproc_port_t *port);
UVPROC_EXTERN void uvproc_port_ref(uvproc_port_t *port);
UVPROC_EXTERN void uvproc_port_unref(uvproc_port_t *port);
UVPROC_EXTERN void *uvproc_port_data(const uvproc_port_t *port);

/* --- workers (Worker) ---- */

typedef enum {
    UVPROC_WORKER_ENV_COPY = 0, /* the worker gets a copy of its parent's environment (Node's
                                   default); changes stay in the worker */
    UVPROC_WORKER_ENV_SHARE,    /* Node's SHARE_ENV: the parent's environment itself */
} uvproc_worker_env_mode_t;

/* The entry function: runs on the worker's thread with the worker's loop; set up work there
 * (uvproc_parent_port(), timers, ...) and return. Its return value is the exit code unless
 * the worker ends otherwise (exit, fail, terminate). */
typedef int (*uvproc_worker_entry_t)(uv_loop_t *loop, void *arg);

typedef struct uvproc_worker_options_s {
    const json_t *worker_data; /* deep-copied for the worker: uvproc_worker_data() */
    const char *name;          /* copied; uvproc_worker_name() inside */
    size_t stack_size;         /* bytes; 0: the system's default (Node: resourceLimits) */
    uvproc_worker_env_mode_t env_mode;
    /* Non-NULL: the worker's environment is exactly these "KEY=VALUE" strings (Node's
     * `env: {...}`), copied; env_mode is then ignored. */
    const char *const *env;
    void *arg; /* passed to the entry function, on the worker's thread */
    /* Busy polling on the parent's side of this worker, as uvproc_port_options_t's. */
    unsigned busy_poll_us;
    void *data; /* parent-side user pointer: uvproc_worker_userdata() */

    /* Parent-side events, on the parent's loop, in Node's order: online, then messages,
     * then error (if any), then exit exactly once. Any may be NULL. */
    void (*on_online)(uvproc_worker_t *w);
    void (*on_message)(uvproc_worker_t *w, uvproc_message_t *msg);
    void (*on_messageerror)(uvproc_worker_t *w, int err, const char *text, size_t len);
    /* The worker called uvproc_worker_fail: its error code and message (borrowed). exit(1)
     * follows. */
    void (*on_error)(uvproc_worker_t *w, int err, const char *message);
    /* The thread has ended and was joined; its loop is closed. The worker is freed when this
     * returns. code: the entry's return value, uvproc_worker_exit's code, 1 after an error or
     * a terminate. */
    void (*on_exit)(uvproc_worker_t *w, int code);
} uvproc_worker_options_t;

/* Node's `new Worker()`: starts `entry` on a new thread with its own loop. Returns 0 with
 * *out set (may be NULL); on_exit will follow. Errors (nothing started, no callback):
 * UV_EINVAL (no loop or entry), UV_ENOMEM, UV_EAGAIN / thread creation errors. */
UVPROC_EXTERN int uvproc_worker_start(uv_loop_t *loop, uvproc_worker_t **out,
                                      uvproc_worker_entry_t entry,
                                      const uvproc_worker_options_t *options);
/* worker.postMessage: as uvproc_port_post to the worker's parentPort. UV_EPIPE once the
 * worker exited, was terminated, or closed its parent port. */
UVPROC_EXTERN int uvproc_worker_post(uvproc_worker_t *w, const json_t *value, uvproc_transfer_t *t);
UVPROC_EXTERN int uvproc_worker_post_new(uvproc_worker_t *w, json_t *value, uvproc_transfer_t *t);
UVPROC_EXTERN int uvproc_worker_post_text(uvproc_worker_t *w, const char *text, size_t len);

/* Stops the worker from outside: its loop is stopped at once if it is waiting; a worker
 * busy in its own code stops only when it returns to its loop or polls
 * uvproc_worker_should_stop() (C code cannot be preempted safely: no pthread_cancel).
 * Exit code 1, as Node's, unless the worker had already ended. `cb` (may be NULL) runs
 * right after on_exit with the exit code. UV_EALREADY when terminate was already called;
 * UV_ESRCH from inside on_exit (the worker has ended). */
typedef void (*uvproc_terminate_cb)(uvproc_worker_t *w, int code, void *data);
UVPROC_EXTERN int uvproc_worker_terminate(uvproc_worker_t *w, uvproc_terminate_cb cb, void *data);
/* Whether the worker keeps the parent's loop alive (default: it does). An unref'd worker must
 * still end (or be terminated and its exit run) before the parent's loop can close. */
UVPROC_EXTERN void uvproc_worker_ref(uvproc_worker_t *w);
UVPROC_EXTERN void uvproc_worker_unref(uvproc_worker_t *w);
UVPROC_EXTERN uint64_t uvproc_worker_thread_id(const uvproc_worker_t *w);
UVPROC_EXTERN void *uvproc_worker_userdata(const uvproc_worker_t *w);
/* Handles the worker's code left open that the library closed at the end (valid in
 * on_exit). Ports and broadcast channels it held are closed too, but not counted. */
UVPROC_EXTERN size_t uvproc_worker_stray_handles(const uvproc_worker_t *w);

/* Inside a worker (on its thread; on any other thread they answer as the main thread). */
UVPROC_EXTERN int uvproc_is_main_thread(void);
UVPROC_EXTERN uint64_t uvproc_thread_id(void);         /* 0 on the main thread */
UVPROC_EXTERN uvproc_port_t *uvproc_parent_port(void); /* NULL outside a worker */
UVPROC_EXTERN const json_t *uvproc_worker_data(void);  /* borrowed; NULL if none */
UVPROC_EXTERN const char *uvproc_worker_name(void);    /* "" if none */
/* process.exit() in a worker: ends this worker only, with `code`. The current callback goes
 * on to its end (C cannot unwind it); no other callback of the worker runs after it, except
 * close callbacks. UV_EINVAL outside a worker. */
UVPROC_EXTERN int uvproc_worker_exit(int code);
/* An uncaught error, C style: ends this worker; the parent gets on_error(err, message) then
 * on_exit(1). `message` is copied (may be NULL). UV_EINVAL outside a worker. */
UVPROC_EXTERN int uvproc_worker_fail(int err, const char *message);
/* The cooperative interruption check: non-zero once the parent called terminate (or the
 * worker called exit/fail). One atomic load: a busy loop can poll it every iteration. 0
 * outside a worker. */
UVPROC_EXTERN int uvproc_worker_should_stop(void);

/* --- the worker's environment ---- */
/* C has one process environment; getenv()/setenv() stay process-wide. These calls read and
 * change the CALLING thread's environment: in a worker its own map (a copy, or the parent's
 * with UVPROC_WORKER_ENV_SHARE), on the main thread the process environment (under a lock:
 * safe against these calls, not against other threads' raw setenv). Errors as uv_os_getenv:
 * UV_ENOENT, UV_ENOBUFS (*size is then the length needed, NUL included), UV_EINVAL. */
UVPROC_EXTERN int uvproc_env_get(const char *name, char *buf, size_t *size);
UVPROC_EXTERN int uvproc_env_set(const char *name, const char *value);
UVPROC_EXTERN int uvproc_env_unset(const char *name);

/* --- BroadcastChannel ---- */

typedef struct {
    /* A message posted on another channel of this name (a JSON value only). */
    void (*on_message)(uvproc_broadcast_t *bc, uvproc_message_t *msg);
    void *data; /* uvproc_broadcast_data() */
} uvproc_broadcast_options_t;

/* Node's `new BroadcastChannel(name)` on `loop`: every message posted on a channel of the same
 * name, by any thread, reaches every OTHER open one. Keeps the loop alive until closed (unless
 * unref'd). */
UVPROC_EXTERN int uvproc_broadcast_open(uv_loop_t *loop, uvproc_broadcast_t **out, const char *name,
                                        const uvproc_broadcast_options_t *options);
/* Deep-copies `value` to every other channel of this name. UV_EPIPE once closed. */
UVPROC_EXTERN int uvproc_broadcast_post(uvproc_broadcast_t *bc, const json_t *value);
/* Closes it: nothing more is delivered; freed once its handle has closed. */
UVPROC_EXTERN int uvproc_broadcast_close(uvproc_broadcast_t *bc);
UVPROC_EXTERN void uvproc_broadcast_ref(uvproc_broadcast_t *bc);
UVPROC_EXTERN void uvproc_broadcast_unref(uvproc_broadcast_t *bc);
UVPROC_EXTERN void *uvproc_broadcast_data(const uvproc_broadcast_t *bc);

/* ---------------------------------------------------------------------------------------- */
/* Remote children (scale-out): a launcher prefix, and the IPC channel over stdio            */

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

/* uvproc_fork with options->spawn.remote set runs the channel over the child's stdin/stdout
 * (fd 3 does not cross ssh): the child's stdin and stdout belong to the channel (stderr stays
 * as configured), and the remote command gets UVPROC_CHANNEL=stdio and
 * NODE_CHANNEL_SERIALIZATION_MODE=json, which uvproc_channel_from_parent adopts (it then moves
 * the channel off fds 0 and 1, points fd 1 at stderr so a stray printf cannot corrupt a frame,
 * and gives fd 0 /dev/null). When stdin reaches EOF (the parent, or its ssh, died) the channel
 * disconnects: a remote child must then end, as uvproc-relay ends its own child.
 * Handles cannot cross hosts: uvproc_channel_send_handle on such a channel is UV_ENOTSUP. */

/* The value of UVPROC_CHANNEL that selects the channel over stdio. */
#define UVPROC_CHANNEL_STDIO "stdio"

/* Opens a channel that reads `in_fd` and writes `out_fd` (pipes, sockets, a tty: any stream
 * fd; they may be the same socket), with no handle passing: what a relay or a program behind
 * a launcher uses. The channel works on close-on-exec copies of both fds and closes the
 * originals once it is up; on error they stay the caller's. UV_EBADF for a closed fd. */
UVPROC_EXTERN int uvproc_channel_open_stdio(uv_loop_t *loop, uvproc_channel_t **out, int in_fd,
                                            int out_fd, const uvproc_channel_options_t *options);

/* Pool across hosts: uvproc_pool_options_t.hosts. Each host has slots (worker processes, or
 * command jobs at once); jobs go to free slots across all hosts, the least loaded host first.
 * A remote slot is started through `launcher` + the host name, with the channel over stdio.
 * A host whose launcher exits with `failure_exit_code` (ssh's 255: connection refused or lost,
 * login failed) is marked down at once: its in-flight jobs go back to the front of the queue
 * (the one each worker was running counts as a retry, in counters.retried and in its
 * attempts, whatever `retries` says; those sent ahead behind it do not; a job that lost its
 * host more often than retries + number of hosts fails with UVPROC_EWORKERDIED or
 * UVPROC_EEXITCODE); on_done still comes once per job. The host gets no work for
 * `backoff_ms`, then one probe
 * slot: a worker that says "ready" (or a command that exits with another code) brings it
 * back, another failure doubles the backoff (up to backoff_max_ms). While every host is down
 * queued jobs wait. The pool's max_workers is replaced by the sum of the slots.
 * ssh also exits 255 when the remote command is killed by a signal (or exits 255 itself):
 * run C workers behind `remote.relay` too (the relay exits 128+N instead) so that a crashing
 * job is not taken for a lost host; a remote command job that exits 255 is taken for one. */
typedef struct uvproc_pool_hosts_s {
    /* GNU parallel's --sshlogin list: comma-separated [N/]HOST, N slots on HOST (default 1),
     * ":" for this machine. "4/127.0.0.2,4/127.0.0.3,2/:". At most 1024 hosts. */
    const char *spec;
    /* The argv each remote host's name is appended to; NULL: {"ssh", NULL}. */
    const char *const *launcher;
    /* quote, cwd, env and relay (worker pools) for every remote host; its launcher is unused. */
    uvproc_remote_t remote;
    int failure_exit_code;   /* 0: 255 */
    uint64_t backoff_ms;     /* 0: 1000 */
    uint64_t backoff_max_ms; /* 0: 30000 */
    /* Command pools in UVPROC_POOL_INHERIT mode: every line a job writes to stdout or stderr
     * goes to the pool's own fd 1 or 2 with "HOST\t" in front (GNU parallel's --tag); lines
     * of different jobs never interleave (a line longer than 64 KiB is cut there). */
    int tag_output;
    /* Optional: a host went down (up = 0; exit_code: its launcher's) or came back (up = 1). */
    void (*on_host)(uvproc_pool_t *pool, const char *host, int up, int64_t exit_code);
} uvproc_pool_hosts_t;

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_H */
