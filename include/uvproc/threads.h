/* uvproc/threads.h: worker threads, MessagePorts, BroadcastChannels, the worker's environment.
 * Included by uvproc.h (include that one); the conventions at its top hold here. */
#include "uvproc.h" /* first: it includes this file, then its siblings, in order */
#ifndef UVPROC_THREADS_H
#define UVPROC_THREADS_H

#ifdef __cplusplus
extern "C" {
#endif

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
 * gets none and is freed now; so is its queue). UV_EALREADY when already closed, also for a
 * never-started port that an earlier close freed: the library recognises a port it has freed
 * (without reading it) as long as no new port has been given the same address since. Any
 * other call on a freed port is a use after free, as in libuv. */
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
    const json_t *worker_data; /* deep-copied for the worker: uvproc_worker_workerdata() */
    const char *name;          /* copied; uvproc_worker_name() inside */
    size_t stack_size;         /* bytes; 0: the system's default (Node: resourceLimits) */
    uvproc_worker_env_mode_t env_mode;
    /* Non-NULL: the worker's environment is exactly these "KEY=VALUE" strings (Node's
     * `env: {...}`), copied; env_mode is then ignored. */
    const char *const *env;
    void *arg; /* passed to the entry function, on the worker's thread */
    /* Busy polling on the parent's side of this worker, as uvproc_port_options_t's. */
    unsigned busy_poll_us;
    void *data; /* parent-side user pointer: uvproc_worker_data() */

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
UVPROC_EXTERN void *uvproc_worker_data(const uvproc_worker_t *w);
/* Handles the worker's code left open that the library closed at the end (valid in
 * on_exit). Ports and broadcast channels it held are closed too, but not counted. */
UVPROC_EXTERN size_t uvproc_worker_stray_handles(const uvproc_worker_t *w);

/* Inside a worker (on its thread; on any other thread they answer as the main thread). */
UVPROC_EXTERN int uvproc_is_main_thread(void);
UVPROC_EXTERN uint64_t uvproc_thread_id(void);         /* 0 on the main thread */
UVPROC_EXTERN uvproc_port_t *uvproc_parent_port(void); /* NULL outside a worker */
UVPROC_EXTERN const json_t *uvproc_worker_workerdata(void);  /* borrowed; NULL if none */
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

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_THREADS_H */
