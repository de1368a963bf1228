/* uvproc/channel.h: the IPC channel (Node's 'json' serialization), handles, fork, the channel over
 * stdio.
 * Included by uvproc.h (include that one); the conventions at its top hold here. */
#include "uvproc.h" /* first: it includes this file, then its siblings, in order */
#ifndef UVPROC_CHANNEL_H
#define UVPROC_CHANNEL_H

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* IPC channel: Node's 'json' serialization (one JSON value + '\n' per message)              */

typedef struct uvproc_channel_s uvproc_channel_t;

/* A handle that came with a message. The stream is a uv_tcp_t (Node types "net.Server",
 * "net.Socket", "net.Native") or a uv_pipe_t, initialised on the channel's loop; ownership
 * passes to the user, who ends it with uvproc_handle_close(handle->stream) (the struct itself
 * is borrowed for the callback). */
typedef struct {
    uv_stream_t *stream;
    const char *type; /* Node's envelope type: "net.Server", "net.Socket", "net.Native", ... */
} uvproc_handle_t;

/* Closes a stream the library handed over (a uvproc_handle_t's stream, a cluster connection)
 * and frees it once libuv is done with it: uv_close() with a callback that free()s it. Call it
 * once, instead of uv_close(), on a stream that is not closing yet; NULL does nothing. */
UVPROC_EXTERN void uvproc_handle_close(uv_stream_t *stream);

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

/* Sends one JSON value (borrowed). Frames queued in one loop turn leave in one write, or in
 * ~64 KiB writes from inside send() once that much is queued (write-through; never blocking,
 * callbacks still from the loop).
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
/* The IPC channel over stdio: remote children                                              */

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

#ifdef __cplusplus
}
#endif
#endif /* UVPROC_CHANNEL_H */
