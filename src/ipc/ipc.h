/* ipc: Node's IPC channel. jsonl.c frames bytes into lines (no I/O; jsonl.h), wire.c writes
 * and reads JSON exactly as Node does (wire.h), channel.c owns the channel's lifecycle,
 * channel_send.c batches and writes, channel_read.c reads and routes, channel_handles.c passes
 * handles and waits for ACKs, channel_stdio.c runs the channel over a child's stdin/stdout,
 * fork.c is spawn + channel.
 * Calls: fork.c -> channel*.c -> wire.c, jsonl.c; fork.c also calls process/ (the layer
 * below); nothing here calls pool/, cluster/ or threads/. */
#ifndef UVPROC__IPC_H
#define UVPROC__IPC_H

#include <stddef.h>
#include <stdint.h>

#include "uvproc.h"
#include "jsonl.h"
#include "common/list.h"

/* The seam between channel.c and fork.c: a channel whose pipe someone else opens (uv_spawn
 * connects it to the child), and hooks that tie the channel's end to the process's close.
 * Not part of the public API. */
typedef void (*uvproc__ipc_channel_hook_t)(void *arg);

/* Creates a channel over an initialised (ipc=1) but unopened pipe: hand
 * uvproc__ipc_channel_pipe() to whoever opens it, then call uvproc__ipc_channel_start() or, if that
 * failed, uvproc__ipc_channel_abort(). The channel starts ref'd. */
int uvproc__ipc_channel_new(uv_loop_t *loop, uvproc_channel_t **out,
                        const uvproc_channel_options_t *options);
uv_pipe_t *uvproc__ipc_channel_pipe(uvproc_channel_t *ch);

/* The pipe is open: start reading. A failure to start closes the channel (on_disconnect). */
void uvproc__ipc_channel_start(uvproc_channel_t *ch);

/* The pipe never opened: close the channel without on_disconnect. */
void uvproc__ipc_channel_abort(uvproc_channel_t *ch);

/* The channel was adopted from the parent (uvproc_channel_from_parent): like Node's child
 * side it keeps the loop alive only while on_message or on_disconnect is set, until the user
 * calls uvproc_channel_ref/unref. */
void uvproc__ipc_channel_adopted(uvproc_channel_t *ch);

/* `gone` runs right after on_disconnect returned (or instead of it after an abort); `released`
 * once every handle of the channel has closed, just before its memory is freed. Either may be
 * NULL. Each runs exactly once. */
void uvproc__ipc_channel_set_hooks(uvproc_channel_t *ch, uvproc__ipc_channel_hook_t gone,
                               uvproc__ipc_channel_hook_t released, void *arg);

/* Over stdio (channel_stdio.c), for children behind a launcher: the channel reads the child's
 * stdout and writes its stdin, two plain pipes (initialised, unopened) that spawn connects as
 * the child's fds 0 and 1; then uvproc__ipc_channel_start or uvproc__ipc_channel_abort as above. */
int uvproc__ipc_channel_new_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                              const uvproc_channel_options_t *options);
void uvproc__ipc_channel_stdio_pipes(uvproc_channel_t *ch, uv_pipe_t **child_stdin,
                                 uv_pipe_t **child_stdout);
/* Child side, when UVPROC_CHANNEL is set: adopts fds 0 and 1 (see uvproc_channel_from_parent). */
int uvproc__ipc_channel_from_parent_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                                      const uvproc_channel_options_t *options);

/* What the channel's files share (channel.c lifecycle, channel_send.c batching and writing,
 * channel_handles.c handle passing and ACKs, channel_read.c reading and routing): the channel
 * object itself and the calls one concern makes into another. Not part of the public API;
 * fork.c uses the narrower seam in channel.h.
 *
 * A new transport or protocol next to these (a channel over stdio, cluster's messages) adds
 * its own file and uses the calls below; the invariants they rely on are stated with them. */
/* Node's send() returns false at this many queued bytes; uvproc_channel_send returns 0. */
#define UVPROC__CHANNEL_HIGH_WATER ((size_t)128 * 1024)
/* Node's MAX_HANDLE_RETRANSMISSIONS: a NACKed handle is sent again at most this often. */
#define UVPROC__HANDLE_RETRANSMISSIONS 3
#define UVPROC__ACK_TIMEOUT_MS 10000
/* Received fds held for NODE_HANDLE lines still to come; more are closed (channel_handles.c). */
#define UVPROC__MAX_UNCLAIMED_FDS 16
/* A batch that has grown this big while a write was in flight is closed to new frames: a
 * 10 MB message then costs one realloc chain of its own, not a copy of everything before it. */
#define UVPROC__BATCH_SPLIT ((size_t)16 << 20)
/* Once this many more bytes are queued, send() writes what the socket takes at once instead of
 * waiting for the loop's prepare phase: a sender's burst then overlaps with the peer's
 * parsing. About what one write moves well; under a unix socket's default 208 KiB buffer. */
#define UVPROC__WRITE_THROUGH ((size_t)64 * 1024)
#define UVPROC__FLAGS_OUT (JSON_COMPACT | JSON_ENCODE_ANY)

typedef struct {
    uvproc_send_cb cb;
    void *data;
} uvproc__ipc_done_t;

/* Frames that leave in one write. Plain frames share a batch; a handle frame has its own. */
typedef struct uvproc__ipc_batch_s {
    uvproc__common_list_t node; /* on the channel's queue or written list, or on none */
    uv_write_t req;
    uvproc_channel_t *ch;
    char *buf;
    size_t len, cap;
    size_t sent; /* bytes already written by write-through; such a batch takes no new frames */
    uvproc__ipc_done_t *done; /* completions to report, in frame order (frames with a cb only) */
    size_t ndone, done_cap;
    uv_stream_t *handle; /* non-NULL: a NODE_HANDLE envelope carrying this handle's fd */
    int retransmits;
    int early; /* the peer answered before our write callback ran: 1 ACK, 2 NACK */
} uvproc__ipc_batch_t;

/* A handle accepted from the socket, waiting for the NODE_HANDLE line it belongs to. */
typedef struct uvproc__ipc_recv_s {
    uvproc__common_list_t node; /* on the channel's recv list */
    uv_stream_t *stream; /* NULL: a kind we cannot hand out (UDP, a file, ...), already closed */
} uvproc__ipc_recv_t;

/* A user message that arrived while on_message was NULL. */
typedef struct uvproc__ipc_held_s {
    uvproc__common_list_t node; /* on the channel's held list */
    json_t *msg;
    uv_stream_t *stream;
    char *type;
} uvproc__ipc_held_t;

struct uvproc_channel_s {
    uv_pipe_t pipe;       /* read, and written too unless the channel runs over stdio */
    uv_pipe_t *out;       /* where frames are written: &pipe, or &stdio_out */
    uv_pipe_t stdio_out;  /* over stdio (channel_stdio.c): the write side, a second pipe */
    uv_prepare_t flusher; /* writes what was queued this turn, right before poll */
    uv_timer_t ack_timer; /* handle_ack_timeout_ms for the unacknowledged handle */
    uv_idle_t deliverer;  /* hands held messages over after set_on_message */
    uv_loop_t *loop;
    uvproc__ipc_jsonl_t framer;
    uvproc_channel_options_t o;
    uint64_t ack_timeout_ms;

    uvproc__common_list_t queue; /* uvproc__ipc_batch_t waiting for their write, in order */
    uvproc__ipc_batch_t *ctrl; /* our ACK/NACK/... replies: they bypass the ACK wait and jump
                                * the queue, but not into a batch partly written through */
    uvproc__ipc_batch_t *inflight;    /* handed to libuv; one at a time */
    uvproc__ipc_batch_t *unacked;     /* a handle frame written, waiting for ACK or NACK */
    /* Written through from send(); their callbacks run from the flusher (never inside send),
     * in order, before anything written later completes. */
    uvproc__common_list_t written;
    size_t queued;   /* unwritten bytes in queue and ctrl */
    size_t wt_mark;  /* `queued` after the last write-through or flush */
    int alloc_failed;

    uvproc__common_list_t recv; /* uvproc__ipc_recv_t, in arrival order */
    size_t nrecv;               /* on recv: at most UVPROC__MAX_UNCLAIMED_FDS */
    uvproc__common_list_t held; /* uvproc__ipc_held_t, in arrival order */

    uvproc__ipc_channel_hook_t gone, released;
    void *hook_arg;
    int open_handles; /* of pipe, flusher, ack_timer, deliverer */

    unsigned char connected;     /* sends accepted, messages delivered */
    unsigned char disconnecting; /* disconnect() called: close once the queue has drained */
    unsigned char closing;       /* uv_close issued */
    unsigned char aborted;       /* never opened: no on_disconnect */
    unsigned char started;       /* the pipe is open and reading */
    unsigned char write_failed;  /* read what is readable, then close */
    unsigned char ref;
    unsigned char auto_ref; /* adopted from the parent: ref follows the callbacks */
    unsigned char over_stdio; /* two plain pipes (channel_stdio.c): no handles can pass */
};

/* ---------------------------------------------------------------------------------------- */
/* channel.c: lifecycle                                                                     */

/* Closes the channel now (idempotent): cancels what is queued (UV_ECANCELED), delivers held
 * messages, then on_disconnect, then the hooks; the memory goes once every handle closed.
 * After it returns ch->closing is set and nothing more may be queued or delivered. */
void uvproc__ipc_channel_close(uvproc_channel_t *ch);

/* recv(MSG_PEEK) of one byte, without blocking: 1 if something is readable, 0 at EOF, a
 * negative error (UV_EAGAIN: nothing yet). */
ssize_t uvproc__ipc_channel_peek(uvproc_channel_t *ch);

/* A write failed (EPIPE, ECONNRESET, ...): nothing more is written (sends get UV_EPIPE,
 * queued frames are cancelled at the close) but what the peer sent before it went away is
 * still read and delivered; the channel closes once nothing more is readable. */
void uvproc__ipc_channel_write_failed(uvproc_channel_t *ch);

/* uvproc__ipc_channel_new with a choice of transport: over_stdio makes `pipe` a plain (ipc=0)
 * pipe for reading and adds `stdio_out` (ipc=0) for writing. */
int uvproc__ipc_channel_create(uv_loop_t *loop, uvproc_channel_t **out,
                           const uvproc_channel_options_t *options, int over_stdio);

/* A channel adopted from the parent follows Node's rule: ref'd while on_message or
 * on_disconnect is set. Called when either changes. */
void uvproc__ipc_channel_auto_ref(uvproc_channel_t *ch);

/* ---------------------------------------------------------------------------------------- */
/* channel_send.c: batches and writing                                                      */

/* A batch of frames: allocated empty (NULL on ENOMEM), grown by append (refuses a batch past
 * UINT_MAX bytes, a uv_buf_t's limit), completions added in frame order. */
uvproc__ipc_batch_t *uvproc__ipc_channel_batch_new(uvproc_channel_t *ch);
void uvproc__ipc_channel_batch_free(uvproc__ipc_batch_t *b);
int uvproc__ipc_channel_batch_append(uvproc__ipc_batch_t *b, const char *s, size_t n);
int uvproc__ipc_channel_batch_add_done(uvproc__ipc_batch_t *b, uvproc_send_cb cb, void *data);

/* A json_dump_callback sink appending to the batch in `data`; sets ch->alloc_failed when it
 * runs out of memory (so the caller can tell ENOMEM from an unencodable value). */
int uvproc__ipc_channel_dump_cb(const char *buf, size_t size, void *data);

/* Appends msg's JSON text to b (our serializer; jansson's for what nests too deep). */
int uvproc__ipc_channel_dump_into(uvproc__ipc_batch_t *b, const json_t *msg);

/* Reports every frame of a detached batch, then frees it. Callbacks may send or disconnect. */
void uvproc__ipc_channel_complete(uvproc_channel_t *ch, uvproc__ipc_batch_t *b, int status);


/* `n` more bytes are queued: schedules the flush, returns what send() returns (1 below the
 * high-water mark, 0 above it). */
int uvproc__ipc_channel_queued(uvproc_channel_t *ch, size_t n);

/* Arms the flusher if something can be written now (after a completion, an ACK, a start). */
void uvproc__ipc_channel_schedule(uvproc_channel_t *ch);

/* Reports the batches written through from send() (status 0), in order. Callbacks may send
 * or disconnect. */
void uvproc__ipc_channel_report_written(uvproc_channel_t *ch);

/* Queues one of our own internal replies (ACK, NACK, socket counts): they go out ahead of
 * queued user frames and never wait for an ACK. Dropped when the channel is closing. */
void uvproc__ipc_channel_reply(uvproc_channel_t *ch, const json_t *msg);
void uvproc__ipc_channel_reply_cmd(uvproc_channel_t *ch, const char *cmd);

/* ---------------------------------------------------------------------------------------- */
/* channel_handles.c: handle passing and acknowledgement                                    */

/* A handle frame was written: wait for the peer's ACK/NACK (or apply one that came early). */
void uvproc__ipc_channel_ack_wait(uvproc_channel_t *ch, uvproc__ipc_batch_t *b);

/* The peer's NODE_HANDLE_ACK (ack=1) or NODE_HANDLE_NACK (ack=0). */
void uvproc__ipc_channel_on_ack(uvproc_channel_t *ch, int ack);

/* A NODE_HANDLE envelope arrived: pair it with the next accepted fd, answer, deliver. */
void uvproc__ipc_channel_on_handle(uvproc_channel_t *ch, json_t *msg);

/* Node's socket_list protocol (NODE_SOCKET_GET_COUNT / NODE_SOCKET_NOTIFY_CLOSE). */
void uvproc__ipc_channel_on_socket_query(uvproc_channel_t *ch, json_t *msg, int count_query);

/* Accepts the fds that came with this read, in order. 0 or UV_ENOMEM. */
int uvproc__ipc_channel_accept_pending(uvproc_channel_t *ch);

/* Closes every accepted fd no envelope has claimed. */
void uvproc__ipc_channel_drop_recv(uvproc_channel_t *ch);

/* ---------------------------------------------------------------------------------------- */
/* channel_read.c: reading, routing, delivery                                               */

/* The pipe's read callback (uv_read_start with uvproc__common_read_alloc). */
void uvproc__ipc_channel_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf);

/* on_error, if set. `line`/`len`: the offending input, or NULL and a count. */
void uvproc__ipc_channel_report(uvproc_channel_t *ch, int err, const char *line, size_t len);

/* Closes and frees a received handle nobody will own (NULL is ignored). */
void uvproc__ipc_channel_drop_stream(uv_stream_t *s);

/* A message (and the handle that came with it, or NULL) for on_message, held while it is
 * unset; or for on_internal (NODE_* commands we do not answer ourselves). The stream is the
 * callee's: delivered, held or closed. */
void uvproc__ipc_channel_deliver_user(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                  const char *type);
void uvproc__ipc_channel_deliver_internal(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                      const char *type);

/* Hands held messages to on_message, in order, until it is unset again. A disconnect the user
 * asked for stops delivery (Node drops them too); a peer's EOF does not: what arrived before
 * it is delivered before on_disconnect. drop_held closes what is left. */
void uvproc__ipc_channel_deliver_held(uvproc_channel_t *ch);
void uvproc__ipc_channel_drop_held(uvproc_channel_t *ch);

#endif
