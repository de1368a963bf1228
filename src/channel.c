/* The IPC channel: Node's 'json' serialization (one JSON value + '\n' per message) over a
 * uv_pipe_t opened with ipc=1. The same code serves the parent side (fork) and the child side
 * (uvproc_channel_from_parent, in fork.c).
 *
 * Send path: frames are serialised straight into a batch buffer; everything queued during one
 * loop turn leaves in one uv_write from a uv_prepare callback (the last thing before the loop
 * can block in poll), and while a write is in flight the next batch keeps growing. Node makes
 * one write(2) per message; this is the thing to beat. A frame carrying a handle is a batch of
 * its own (its fd travels with the first bytes of its write), and after it nothing but our own
 * ACK/NACK replies is written until the peer acknowledges it, as Node does.
 *
 * Receive path: read -> accept any handles that came with the bytes (FIFO) -> framer (jsonl.c)
 * -> jansson -> internal routing (NODE_*) or the user's on_message. Bad input is reported and
 * skipped; the framer resynchronises at the next '\n', so the channel lives on. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "channel.h"
#include "jsonl.h"
#include "readbuf.h"
#include "sigpipe.h"
#include "wire.h"

/* Node's send() returns false at this many queued bytes; uvproc_channel_send returns 0. */
#define UVPROC__CHANNEL_HIGH_WATER ((size_t)128 * 1024)
/* Node's MAX_HANDLE_RETRANSMISSIONS: a NACKed handle is sent again at most this often. */
#define UVPROC__HANDLE_RETRANSMISSIONS 3
#define UVPROC__ACK_TIMEOUT_MS 10000
/* A batch that has grown this big while a write was in flight is closed to new frames: a
 * 10 MB message then costs one realloc chain of its own, not a copy of everything before it. */
#define UVPROC__BATCH_SPLIT ((size_t)16 << 20)
#define UVPROC__FLAGS_OUT (JSON_COMPACT | JSON_ENCODE_ANY)

typedef struct {
    uvproc_send_cb cb;
    void *data;
} uvproc__done_t;

/* Frames that leave in one write. Plain frames share a batch; a handle frame has its own. */
typedef struct uvproc__batch_s {
    struct uvproc__batch_s *next;
    uv_write_t req;
    uvproc_channel_t *ch;
    char *buf;
    size_t len, cap;
    uvproc__done_t *done; /* completions to report, in frame order (frames with a cb only) */
    size_t ndone, done_cap;
    uv_stream_t *handle; /* non-NULL: a NODE_HANDLE envelope carrying this handle's fd */
    int retransmits;
    int early; /* the peer answered before our write callback ran: 1 ACK, 2 NACK */
} uvproc__batch_t;

/* A handle accepted from the socket, waiting for the NODE_HANDLE line it belongs to. */
typedef struct uvproc__recv_s {
    struct uvproc__recv_s *next;
    uv_stream_t *stream; /* NULL: a kind we cannot hand out (UDP, a file, ...), already closed */
} uvproc__recv_t;

/* A user message that arrived while on_message was NULL. */
typedef struct uvproc__held_s {
    struct uvproc__held_s *next;
    json_t *msg;
    uv_stream_t *stream;
    char *type;
} uvproc__held_t;

struct uvproc_channel_s {
    uv_pipe_t pipe;
    uv_prepare_t flusher; /* writes what was queued this turn, right before poll */
    uv_timer_t ack_timer; /* handle_ack_timeout_ms for the unacknowledged handle */
    uv_idle_t deliverer;  /* hands held messages over after set_on_message */
    uv_loop_t *loop;
    uvproc__jsonl_t framer;
    uvproc_channel_options_t o;
    uint64_t ack_timeout_ms;

    uvproc__batch_t *head, *tail; /* waiting for their write, in order */
    uvproc__batch_t *ctrl;        /* our ACK/NACK/... replies: they bypass the ACK wait */
    uvproc__batch_t *inflight;    /* handed to libuv; one at a time */
    uvproc__batch_t *unacked;     /* a handle frame written, waiting for ACK or NACK */
    size_t queued;                /* bytes in head..tail and ctrl */
    int alloc_failed;

    uvproc__recv_t *recv_head, *recv_tail;
    uvproc__held_t *held_head, *held_tail;

    uvproc__channel_hook_t gone, released;
    void *hook_arg;
    int open_handles; /* of pipe, flusher, ack_timer, deliverer */

    unsigned char connected;     /* sends accepted, messages delivered */
    unsigned char disconnecting; /* disconnect() called: close once the queue has drained */
    unsigned char closing;       /* uv_close issued */
    unsigned char aborted;       /* never opened: no on_disconnect */
    unsigned char started;       /* the pipe is open and reading */
    unsigned char ref;
    unsigned char auto_ref; /* adopted from the parent: ref follows the callbacks */
};

static void uvproc__flush_cb(uv_prepare_t *h);
static void uvproc__begin_close(uvproc_channel_t *ch);

/* ---------------------------------------------------------------------------------------- */
/* batches                                                                                  */

static uvproc__batch_t *uvproc__batch_new(uvproc_channel_t *ch)
{
    uvproc__batch_t *b = calloc(1, sizeof *b);
    if (b != NULL)
        b->ch = ch;
    return b;
}

static void uvproc__batch_free(uvproc__batch_t *b)
{
    free(b->buf);
    free(b->done);
    free(b);
}

static int uvproc__batch_append(uvproc__batch_t *b, const char *s, size_t n)
{
    size_t need = b->len + n;
    /* uv_buf_t lengths are unsigned int. */
    if (need < b->len || need > UINT_MAX)
        return UV_ENOMEM;
    if (need > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 4096;
        char *nb;
        while (cap < need)
            cap = cap > SIZE_MAX / 2 ? need : cap * 2;
        nb = realloc(b->buf, cap);
        if (nb == NULL)
            return UV_ENOMEM;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, s, n);
    b->len = need;
    return 0;
}

static int uvproc__batch_add_done(uvproc__batch_t *b, uvproc_send_cb cb, void *data)
{
    if (b->ndone == b->done_cap) {
        size_t cap = b->done_cap != 0 ? b->done_cap * 2 : 16;
        uvproc__done_t *nd = realloc(b->done, cap * sizeof *nd);
        if (nd == NULL)
            return UV_ENOMEM;
        b->done = nd;
        b->done_cap = cap;
    }
    b->done[b->ndone].cb = cb;
    b->done[b->ndone].data = data;
    b->ndone++;
    return 0;
}

static int uvproc__dump_cb(const char *buf, size_t size, void *data)
{
    uvproc__batch_t *b = data;
    if (uvproc__batch_append(b, buf, size) != 0) {
        b->ch->alloc_failed = 1;
        return -1;
    }
    return 0;
}

/* Appends msg's JSON text to b (our serializer; jansson's for what nests too deep). */
static int uvproc__dump_into(uvproc__batch_t *b, const json_t *msg)
{
    size_t old = b->len;
    int too_deep;
    if (uvproc__wire_dump(msg, uvproc__dump_cb, b, &too_deep) == 0)
        return 0;
    if (!too_deep)
        return -1;
    b->len = old;
    return json_dump_callback(msg, uvproc__dump_cb, b, UVPROC__FLAGS_OUT);
}

/* Reports every frame of a detached batch, then frees it. Callbacks may send or disconnect. */
static void uvproc__complete(uvproc_channel_t *ch, uvproc__batch_t *b, int status)
{
    for (size_t i = 0; i < b->ndone; i++)
        if (b->done[i].cb != NULL)
            b->done[i].cb(ch, status, b->done[i].data);
    uvproc__batch_free(b);
}

static void uvproc__link_tail(uvproc_channel_t *ch, uvproc__batch_t *b)
{
    b->next = NULL;
    if (ch->tail != NULL)
        ch->tail->next = b;
    else
        ch->head = b;
    ch->tail = b;
}

/* The batch the next plain frame goes into. */
static uvproc__batch_t *uvproc__open_batch(uvproc_channel_t *ch)
{
    uvproc__batch_t *b = ch->tail;
    if (b != NULL && b->handle == NULL && b->len < UVPROC__BATCH_SPLIT)
        return b;
    b = uvproc__batch_new(ch);
    if (b != NULL)
        uvproc__link_tail(ch, b);
    return b;
}

/* ---------------------------------------------------------------------------------------- */
/* writing                                                                                  */

static int uvproc__can_flush(const uvproc_channel_t *ch)
{
    if (ch->closing || !ch->started || ch->inflight != NULL)
        return 0;
    if (ch->ctrl != NULL)
        return 1;
    /* Node's order: nothing after a handle until the peer has acknowledged it. A pending
     * disconnect waits for the acknowledgement too. */
    if (ch->unacked != NULL)
        return 0;
    return ch->head != NULL || ch->disconnecting;
}

static void uvproc__schedule(uvproc_channel_t *ch)
{
    /* The prepare phase is the last stop before the loop may block in poll, whichever phase
     * queued the frames; an active prepare handle also keeps the loop alive, which is Node's
     * "pending writes keep the process alive" rule. */
    if (uvproc__can_flush(ch))
        uv_prepare_start(&ch->flusher, uvproc__flush_cb);
}

static void uvproc__start_ack_wait(uvproc_channel_t *ch, uvproc__batch_t *b);

static void uvproc__write_done(uv_write_t *req, int status)
{
    uvproc__batch_t *b = req->data;
    uvproc_channel_t *ch = b->ch;

    ch->inflight = NULL;
    if (b->handle != NULL && status == 0 && !ch->closing) {
        uvproc__start_ack_wait(ch, b);
        return;
    }
    /* A handle frame written while the channel closes can no longer be acknowledged. */
    if (b->handle != NULL && status == 0)
        status = UV_ECANCELED;
    uvproc__complete(ch, b, status);
    if (status < 0 && !ch->closing) {
        /* EPIPE and friends: the socket is broken, nothing queued can be written. */
        uvproc__begin_close(ch);
        return;
    }
    uvproc__schedule(ch);
}

/* Returns 1 when the batch is finished (written or failed) and the caller may flush the next
 * one now, 0 when a write is in flight or the channel is closing. */
static int uvproc__submit(uvproc_channel_t *ch, uvproc__batch_t *b)
{
    uv_buf_t buf = uv_buf_init(b->buf, (unsigned int)b->len);
    uv_os_fd_t fd;
    int err, own_fault;

    if (b->handle == NULL) {
        /* Most batches fit in the socket buffer. Written here, they skip what uv_write costs
         * even when it completes at once: POLLOUT armed and disarmed (an epoll_ctl), and a
         * deferred callback that makes the next poll a non-blocking one (an extra
         * epoll_wait). In ping-pong that is 2 of 5 system calls per message. */
        int n = uv_try_write((uv_stream_t *)&ch->pipe, &buf, 1);
        if (n == (int)buf.len) {
            uvproc__complete(ch, b, 0);
            return !ch->closing;
        }
        /* On an error uv_write below meets it again and reports it on a later turn, as
         * before: what the peer sent before it went away is still read and delivered. */
        if (n > 0) {
            buf.base += n;
            buf.len -= (unsigned int)n;
        }
    }
    ch->inflight = b;
    b->req.data = b;
    if (b->handle != NULL)
        err = uv_write2(&b->req, (uv_stream_t *)&ch->pipe, &buf, 1, b->handle, uvproc__write_done);
    else
        err = uv_write(&b->req, (uv_stream_t *)&ch->pipe, &buf, 1, uvproc__write_done);
    if (err == 0)
        return 0;
    ch->inflight = NULL;
    /* A handle the user closed too early fails its own frame only (EBADF with a healthy
     * pipe); anything else means the socket itself is unusable. */
    own_fault =
        b->handle != NULL && err == UV_EBADF && uv_fileno((uv_handle_t *)&ch->pipe, &fd) == 0;
    uvproc__complete(ch, b, err);
    if (own_fault)
        return !ch->closing;
    uvproc__begin_close(ch);
    return 0;
}

/* Writes the next batch; returns 1 if the caller should try again at once. */
static int uvproc__flush(uvproc_channel_t *ch)
{
    uvproc__batch_t *b;

    if (!uvproc__can_flush(ch))
        return 0;
    if (ch->ctrl != NULL) {
        b = ch->ctrl;
        ch->ctrl = NULL;
    } else if (ch->head != NULL) {
        b = ch->head;
        ch->head = b->next;
        if (ch->head == NULL)
            ch->tail = NULL;
    } else {
        /* disconnect() was called and everything before it has been written. */
        uvproc__begin_close(ch);
        return 0;
    }
    b->next = NULL;
    ch->queued -= b->len;
    if (b->len == 0) {
        /* A batch opened for a frame that then failed to serialise. */
        uvproc__complete(ch, b, 0);
        return !ch->closing;
    }
    return uvproc__submit(ch, b);
}

static void uvproc__flush_cb(uv_prepare_t *h)
{
    uvproc_channel_t *ch = h->data;
    uv_prepare_stop(h);
    /* A prepare handle started from its own callback runs only in the next loop turn, after
     * poll may have blocked: whatever completion callbacks queue is flushed here. */
    while (uvproc__flush(ch))
        ;
    if (!ch->closing && !uvproc__can_flush(ch))
        uv_prepare_stop(h);
}

/* Queues one of our own internal replies (ACK, NACK, socket counts). */
static void uvproc__reply(uvproc_channel_t *ch, const json_t *msg)
{
    uvproc__batch_t *b;
    size_t old;

    if (ch->closing)
        return;
    if (ch->ctrl == NULL && (ch->ctrl = uvproc__batch_new(ch)) == NULL)
        return;
    b = ch->ctrl;
    old = b->len;
    if (uvproc__dump_into(b, msg) != 0 || uvproc__batch_append(b, "\n", 1) != 0) {
        b->len = old;
        return;
    }
    ch->queued += b->len - old;
    uvproc__schedule(ch);
}

static void uvproc__reply_cmd(uvproc_channel_t *ch, const char *cmd)
{
    json_t *m = json_pack("{s:s}", "cmd", cmd);
    if (m != NULL)
        uvproc__reply(ch, m);
    json_decref(m);
}

/* ---------------------------------------------------------------------------------------- */
/* handle acknowledgement                                                                   */

static void uvproc__ack_timeout(uv_timer_t *t)
{
    uvproc_channel_t *ch = t->data;
    uvproc__batch_t *b = ch->unacked;

    if (b == NULL)
        return;
    /* A peer that never acknowledges stalls Node forever; we give up on this handle, tell the
     * user, and let the frames queued behind it go. */
    ch->unacked = NULL;
    uvproc__complete(ch, b, UV_ETIMEDOUT);
    if (ch->o.on_error != NULL)
        ch->o.on_error(ch, UV_ETIMEDOUT, NULL, 0);
    uvproc__schedule(ch);
}

static void uvproc__on_ack(uvproc_channel_t *ch, int ack)
{
    uvproc__batch_t *b = ch->unacked;

    if (b == NULL) {
        if (ch->inflight != NULL && ch->inflight->handle != NULL)
            ch->inflight->early = ack ? 1 : 2;
        return;
    }
    ch->unacked = NULL;
    uv_timer_stop(&ch->ack_timer);
    if (!ack && b->retransmits < UVPROC__HANDLE_RETRANSMISSIONS && !ch->closing) {
        /* The same bytes and the same handle again, first in line. Node wraps the envelope a
         * second time here and reports each attempt to the user; we do neither. */
        b->retransmits++;
        b->next = ch->head;
        ch->head = b;
        if (ch->tail == NULL)
            ch->tail = b;
        ch->queued += b->len;
    } else {
        uvproc__complete(ch, b, ack ? 0 : UV_EPROTO);
    }
    uvproc__schedule(ch);
}

static void uvproc__start_ack_wait(uvproc_channel_t *ch, uvproc__batch_t *b)
{
    int early = b->early;
    b->early = 0;
    ch->unacked = b;
    if (early != 0) {
        uvproc__on_ack(ch, early == 1);
        return;
    }
    uv_timer_start(&ch->ack_timer, uvproc__ack_timeout, ch->ack_timeout_ms, 0);
}

/* ---------------------------------------------------------------------------------------- */
/* receiving                                                                                */

static void uvproc__free_handle_cb(uv_handle_t *h)
{
    free(h);
}

static void uvproc__drop_stream(uv_stream_t *s)
{
    if (s != NULL)
        uv_close((uv_handle_t *)s, uvproc__free_handle_cb);
}

static void uvproc__report(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    if (ch->o.on_error != NULL)
        ch->o.on_error(ch, err, line, len);
}

static void uvproc__call_user(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s, const char *type)
{
    uvproc_handle_t h = {s, type};
    ch->o.on_message(ch, msg, s != NULL ? &h : NULL);
}

static void uvproc__hold(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s, const char *type)
{
    uvproc__held_t *m = calloc(1, sizeof *m);
    if (m == NULL || (type != NULL && (m->type = strdup(type)) == NULL)) {
        free(m);
        uvproc__drop_stream(s);
        uvproc__report(ch, UV_ENOMEM, NULL, 0);
        return;
    }
    m->msg = json_incref(msg);
    m->stream = s;
    if (ch->held_tail != NULL)
        ch->held_tail->next = m;
    else
        ch->held_head = m;
    ch->held_tail = m;
}

static void uvproc__deliver_user(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                 const char *type)
{
    /* After disconnect() nothing more is delivered (Node drops them too). */
    if (!ch->connected) {
        uvproc__drop_stream(s);
        return;
    }
    if (ch->o.on_message == NULL || ch->held_head != NULL)
        uvproc__hold(ch, msg, s, type);
    else
        uvproc__call_user(ch, msg, s, type);
}

static void uvproc__deliver_internal(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                     const char *type)
{
    uvproc_handle_t h = {s, type};
    if (!ch->connected || ch->o.on_internal == NULL) {
        uvproc__drop_stream(s);
        return;
    }
    ch->o.on_internal(ch, msg, s != NULL ? &h : NULL);
}

/* Hands held messages to on_message, in order, until it is unset again. A disconnect the user
 * asked for stops delivery (Node drops them too); a peer's EOF does not: what arrived before
 * it is delivered before on_disconnect. */
static void uvproc__deliver_held(uvproc_channel_t *ch)
{
    while (ch->held_head != NULL && ch->o.on_message != NULL && !ch->disconnecting) {
        uvproc__held_t *m = ch->held_head;
        ch->held_head = m->next;
        if (ch->held_head == NULL)
            ch->held_tail = NULL;
        uvproc__call_user(ch, m->msg, m->stream, m->type);
        json_decref(m->msg);
        free(m->type);
        free(m);
    }
}

static void uvproc__deliver_held_cb(uv_idle_t *idle)
{
    uv_idle_stop(idle);
    uvproc__deliver_held(idle->data);
}

static void uvproc__drop_held(uvproc_channel_t *ch)
{
    while (ch->held_head != NULL) {
        uvproc__held_t *m = ch->held_head;
        ch->held_head = m->next;
        uvproc__drop_stream(m->stream);
        json_decref(m->msg);
        free(m->type);
        free(m);
    }
    ch->held_tail = NULL;
}

static void uvproc__drop_recv(uvproc_channel_t *ch)
{
    while (ch->recv_head != NULL) {
        uvproc__recv_t *r = ch->recv_head;
        ch->recv_head = r->next;
        uvproc__drop_stream(r->stream);
        free(r);
    }
    ch->recv_tail = NULL;
}

/* The fds that came with this read, in order. Each is paired later with the next NODE_HANDLE
 * line: its fd arrives with the envelope's first bytes, so before the line is complete. */
static int uvproc__accept_pending(uvproc_channel_t *ch)
{
    while (uv_pipe_pending_count(&ch->pipe) > 0) {
        uv_handle_type type = uv_pipe_pending_type(&ch->pipe);
        uvproc__recv_t *r = calloc(1, sizeof *r);
        uv_stream_t *s;

        s = type == UV_TCP ? malloc(sizeof(uv_tcp_t)) : malloc(sizeof(uv_pipe_t));
        if (r == NULL || s == NULL) {
            free(r);
            free(s);
            return UV_ENOMEM;
        }
        if (type == UV_TCP)
            uv_tcp_init(ch->loop, (uv_tcp_t *)s);
        else
            uv_pipe_init(ch->loop, (uv_pipe_t *)s, 0);
        s->data = NULL;
        /* Kinds we cannot hand out as a stream (UDP, files, ...) are taken into a pipe handle
         * only to be closed; their envelope is still acknowledged, so the peer moves on. */
        if (uv_accept((uv_stream_t *)&ch->pipe, s) != 0 ||
            (type != UV_TCP && type != UV_NAMED_PIPE)) {
            uvproc__drop_stream(s);
            s = NULL;
        }
        r->stream = s;
        if (ch->recv_tail != NULL)
            ch->recv_tail->next = r;
        else
            ch->recv_head = r;
        ch->recv_tail = r;
    }
    return 0;
}

static void uvproc__on_handle_msg(uvproc_channel_t *ch, json_t *msg)
{
    uvproc__recv_t *r = ch->recv_head;
    json_t *inner = msg;
    const char *type = NULL;
    uv_stream_t *s;

    if (r == NULL) {
        /* The envelope came without its fd (MSG_CTRUNC, or a peer that forgot it): the
         * sender retransmits on NACK. */
        uvproc__reply_cmd(ch, "NODE_HANDLE_NACK");
        return;
    }
    ch->recv_head = r->next;
    if (ch->recv_head == NULL)
        ch->recv_tail = NULL;
    s = r->stream;
    free(r);
    uvproc__reply_cmd(ch, "NODE_HANDLE_ACK");

    /* Node's retransmissions wrap the envelope again: the innermost one is the original. */
    for (;;) {
        const json_t *t = json_object_get(inner, "type");
        const char *cmd;
        if (json_is_string(t))
            type = json_string_value(t);
        inner = json_object_get(inner, "msg");
        cmd = uvproc__wire_internal_cmd(inner);
        if (cmd == NULL || strcmp(cmd, "NODE_HANDLE") != 0)
            break;
    }
    if (inner == NULL)
        inner = json_null();
    if (type == NULL)
        type = "net.Native";
    if (s == NULL)
        uvproc__report(ch, UV_ENOTSUP, NULL, 0);
    if (uvproc__wire_internal_cmd(inner) != NULL)
        uvproc__deliver_internal(ch, inner, s, type);
    else
        uvproc__deliver_user(ch, inner, s, type);
}

/* Node's socket_list protocol: the sender of sockets from a net.Server asks how many are
 * still open. Ownership of a received socket passes to the user, so we cannot count them;
 * answering 0 / "all closed" at once keeps the sender's server.close() and getConnections()
 * from hanging until disconnect, which is what silence would do. */
static void uvproc__on_socket_query(uvproc_channel_t *ch, json_t *msg, int count_query)
{
    json_t *key = json_object_get(msg, "key");
    json_t *reply;

    if (key == NULL)
        key = json_null();
    if (count_query)
        reply = json_pack("{s:s,s:O,s:i}", "cmd", "NODE_SOCKET_COUNT", "key", key, "count", 0);
    else
        reply = json_pack("{s:s,s:O}", "cmd", "NODE_SOCKET_ALL_CLOSED", "key", key);
    if (reply != NULL)
        uvproc__reply(ch, reply);
    json_decref(reply);
}

static void uvproc__route(uvproc_channel_t *ch, json_t *msg)
{
    const char *cmd = uvproc__wire_internal_cmd(msg);

    if (cmd == NULL)
        uvproc__deliver_user(ch, msg, NULL, NULL);
    else if (strcmp(cmd, "NODE_HANDLE_ACK") == 0)
        uvproc__on_ack(ch, 1);
    else if (strcmp(cmd, "NODE_HANDLE_NACK") == 0)
        uvproc__on_ack(ch, 0);
    else if (strcmp(cmd, "NODE_HANDLE") == 0)
        uvproc__on_handle_msg(ch, msg);
    else if (strcmp(cmd, "NODE_SOCKET_GET_COUNT") == 0)
        uvproc__on_socket_query(ch, msg, 1);
    else if (strcmp(cmd, "NODE_SOCKET_NOTIFY_CLOSE") == 0)
        uvproc__on_socket_query(ch, msg, 0);
    else
        uvproc__deliver_internal(ch, msg, NULL, NULL);
}

static int uvproc__on_line(void *ctx, const char *line, size_t len)
{
    uvproc_channel_t *ch = ctx;
    json_t *msg;

    if (ch->closing)
        return 1;
    msg = uvproc__wire_parse(line, len);
    if (msg == NULL) {
        uvproc__report(ch, UVPROC_EBADMSG, line, len);
    } else {
        uvproc__route(ch, msg);
        json_decref(msg);
    }
    return ch->closing;
}

static int uvproc__on_frame_error(void *ctx, int err, size_t seen)
{
    uvproc_channel_t *ch = ctx;
    uvproc__report(ch, err == -EMSGSIZE ? UV_EMSGSIZE : UV_ENOMEM, NULL, seen);
    return ch->closing;
}

static void uvproc__on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    uvproc_channel_t *ch = stream->data;

    if (nread > 0) {
        if (uvproc__accept_pending(ch) != 0) {
            uvproc__report(ch, UV_ENOMEM, NULL, 0);
            uvproc__begin_close(ch);
            return;
        }
        uvproc__jsonl_feed(&ch->framer, buf->base, (size_t)nread, uvproc__on_line,
                           uvproc__on_frame_error, ch);
        return;
    }
    if (nread == 0)
        return;
    /* EOF or a read error: Node's disconnect. A partial last line is dropped, as Node does;
     * a half-close is not kept (Node closes the whole channel on EOF too). */
    uvproc__begin_close(ch);
}

/* ---------------------------------------------------------------------------------------- */
/* lifecycle                                                                                */

static void uvproc__handle_closed(uvproc_channel_t *ch)
{
    uvproc__channel_hook_t released;
    void *arg;

    if (--ch->open_handles > 0)
        return;
    released = ch->released;
    arg = ch->hook_arg;
    free(ch);
    if (released != NULL)
        released(arg);
}

static void uvproc__aux_closed(uv_handle_t *h)
{
    uvproc__handle_closed(h->data);
}

static void uvproc__cancel_list(uvproc_channel_t *ch, uvproc__batch_t **head)
{
    while (*head != NULL) {
        uvproc__batch_t *b = *head;
        *head = b->next;
        uvproc__complete(ch, b, UV_ECANCELED);
    }
}

/* libuv has already reported the write in flight (UV_ECANCELED, or 0 if it had completed). */
static void uvproc__pipe_closed(uv_handle_t *h)
{
    uvproc_channel_t *ch = h->data;
    uvproc__batch_t *unacked = ch->unacked;

    ch->unacked = NULL;
    if (unacked != NULL)
        uvproc__complete(ch, unacked, UV_ECANCELED);
    uvproc__cancel_list(ch, &ch->ctrl);
    uvproc__cancel_list(ch, &ch->head);
    ch->tail = NULL;
    ch->queued = 0;
    uvproc__deliver_held(ch);
    uvproc__drop_held(ch);
    uvproc__drop_recv(ch);
    uvproc__jsonl_free(&ch->framer);
    if (!ch->aborted && ch->o.on_disconnect != NULL)
        ch->o.on_disconnect(ch);
    if (ch->gone != NULL)
        ch->gone(ch->hook_arg);
    uvproc__handle_closed(ch);
}

static void uvproc__begin_close(uvproc_channel_t *ch)
{
    if (ch->closing)
        return;
    ch->closing = 1;
    ch->connected = 0;
    uv_close((uv_handle_t *)&ch->pipe, uvproc__pipe_closed);
    uv_close((uv_handle_t *)&ch->flusher, uvproc__aux_closed);
    uv_close((uv_handle_t *)&ch->ack_timer, uvproc__aux_closed);
    uv_close((uv_handle_t *)&ch->deliverer, uvproc__aux_closed);
}

static void uvproc__apply_ref(uvproc_channel_t *ch)
{
    if (ch->closing)
        return;
    if (ch->ref)
        uv_ref((uv_handle_t *)&ch->pipe);
    else
        uv_unref((uv_handle_t *)&ch->pipe);
}

int uvproc__channel_new(uv_loop_t *loop, uvproc_channel_t **out,
                        const uvproc_channel_options_t *options)
{
    uvproc_channel_t *ch;

    *out = NULL;
    if (loop == NULL)
        return UV_EINVAL;
    uvproc__ignore_sigpipe_once();
    ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return UV_ENOMEM;
    ch->loop = loop;
    if (options != NULL)
        ch->o = *options;
    ch->ack_timeout_ms =
        ch->o.handle_ack_timeout_ms != 0 ? ch->o.handle_ack_timeout_ms : UVPROC__ACK_TIMEOUT_MS;
    uvproc__jsonl_init(&ch->framer, ch->o.max_message_size);
    /* None of these can fail on Unix for an initialised loop. */
    uv_pipe_init(loop, &ch->pipe, 1);
    uv_prepare_init(loop, &ch->flusher);
    uv_timer_init(loop, &ch->ack_timer);
    uv_idle_init(loop, &ch->deliverer);
    ch->pipe.data = ch->flusher.data = ch->ack_timer.data = ch->deliverer.data = ch;
    ch->open_handles = 4;
    ch->connected = 1;
    ch->ref = 1;
    *out = ch;
    return 0;
}

uv_pipe_t *uvproc__channel_pipe(uvproc_channel_t *ch)
{
    return &ch->pipe;
}

void uvproc__channel_start(uvproc_channel_t *ch)
{
    ch->started = 1;
    if (uv_read_start((uv_stream_t *)&ch->pipe, uvproc__read_alloc, uvproc__on_read) != 0) {
        uvproc__begin_close(ch);
        return;
    }
    uvproc__apply_ref(ch);
    uvproc__schedule(ch);
}

void uvproc__channel_abort(uvproc_channel_t *ch)
{
    ch->aborted = 1;
    uvproc__begin_close(ch);
}

void uvproc__channel_set_hooks(uvproc_channel_t *ch, uvproc__channel_hook_t gone,
                               uvproc__channel_hook_t released, void *arg)
{
    ch->gone = gone;
    ch->released = released;
    ch->hook_arg = arg;
}

static void uvproc__auto_ref(uvproc_channel_t *ch)
{
    /* Node refs the child's channel while it has 'message' or 'disconnect' listeners. */
    ch->ref = ch->o.on_message != NULL || ch->o.on_disconnect != NULL;
    uvproc__apply_ref(ch);
}

void uvproc__channel_adopted(uvproc_channel_t *ch)
{
    ch->auto_ref = 1;
    uvproc__auto_ref(ch);
}

/* ---------------------------------------------------------------------------------------- */
/* public API                                                                               */

static int uvproc__check_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    struct stat st;
    int type;
    socklen_t len = sizeof type;

    if (fd < 0)
        return UV_EBADF;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return UV_ENOTSOCK;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return -errno;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
        return -errno;
    /* Node reads the channel with recvmsg and passes fds with SCM_RIGHTS. */
    if (type != SOCK_STREAM || ss.ss_family != AF_UNIX)
        return UV_EINVAL;
    return 0;
}

int uvproc_channel_open(uv_loop_t *loop, uvproc_channel_t **out, int fd,
                        const uvproc_channel_options_t *options)
{
    uvproc_channel_t *ch;
    int err, flags;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return UV_EINVAL;
    err = uvproc__check_socket(fd);
    if (err != 0)
        return err;
    err = uvproc__channel_new(loop, &ch, options);
    if (err != 0)
        return err;
    err = uv_pipe_open(&ch->pipe, fd);
    if (err != 0) {
        /* The fd was not adopted: it stays the caller's. The handle closes on the loop. */
        uvproc__channel_abort(ch);
        return err;
    }
    /* A grandchild must not inherit the channel (Node's child sets O_CLOEXEC too). */
    flags = fcntl(fd, F_GETFD);
    if (flags >= 0)
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    uvproc__channel_start(ch);
    *out = ch;
    return 0;
}

static int uvproc__queued_frame(uvproc_channel_t *ch, size_t n)
{
    ch->queued += n;
    uvproc__schedule(ch);
    return uvproc_channel_queue_size(ch) < UVPROC__CHANNEL_HIGH_WATER ? 1 : 0;
}

int uvproc_channel_send(uvproc_channel_t *ch, const json_t *msg, uvproc_send_cb cb, void *data)
{
    uvproc__batch_t *b;
    size_t old;

    if (ch == NULL || msg == NULL)
        return UV_EINVAL;
    if (!ch->connected)
        return UV_EPIPE;
    b = uvproc__open_batch(ch);
    if (b == NULL)
        return UV_ENOMEM;
    old = b->len;
    ch->alloc_failed = 0;
    /* jansson escapes every control character, LF included, and never indents in compact
     * mode: the frame is one line by construction. */
    if (uvproc__dump_into(b, msg) != 0) {
        b->len = old;
        return ch->alloc_failed ? UV_ENOMEM : UV_EINVAL;
    }
    if (uvproc__batch_append(b, "\n", 1) != 0 ||
        (cb != NULL && uvproc__batch_add_done(b, cb, data) != 0)) {
        b->len = old;
        return UV_ENOMEM;
    }
    return uvproc__queued_frame(ch, b->len - old);
}

int uvproc_channel_send_new(uvproc_channel_t *ch, json_t *msg, uvproc_send_cb cb, void *data)
{
    int r = uvproc_channel_send(ch, msg, cb, data);
    json_decref(msg);
    return r;
}

int uvproc_channel_send_raw(uvproc_channel_t *ch, const char *json, size_t len, uvproc_send_cb cb,
                            void *data)
{
    uvproc__batch_t *b;
    json_t *v;
    size_t old;

    if (ch == NULL || (json == NULL && len > 0))
        return UV_EINVAL;
    if (!ch->connected)
        return UV_EPIPE;
    /* What we would refuse to read, a Node peer would die of (or read as something else). */
    if (len == 0 || memchr(json, '\n', len) != NULL || (v = uvproc__wire_parse(json, len)) == NULL)
        return UVPROC_EBADMSG;
    json_decref(v);
    b = uvproc__open_batch(ch);
    if (b == NULL)
        return UV_ENOMEM;
    old = b->len;
    if (uvproc__batch_append(b, json, len) != 0 || uvproc__batch_append(b, "\n", 1) != 0 ||
        (cb != NULL && uvproc__batch_add_done(b, cb, data) != 0)) {
        b->len = old;
        return UV_ENOMEM;
    }
    return uvproc__queued_frame(ch, b->len - old);
}

static const char *uvproc__default_type(uv_stream_t *handle)
{
    uv_os_fd_t fd;
    int listening = 0;
    socklen_t len = sizeof listening;

    if (handle->type == UV_NAMED_PIPE)
        return "net.Native";
    if (uv_fileno((uv_handle_t *)handle, &fd) == 0 &&
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening)
        return "net.Server";
    return "net.Socket";
}

int uvproc_channel_send_handle(uvproc_channel_t *ch, const json_t *msg, uv_stream_t *handle,
                               const char *type, uvproc_send_cb cb, void *data)
{
    uvproc__batch_t *b;
    json_t *jtype;
    uv_os_fd_t fd;
    int err = 0;

    if (ch == NULL || msg == NULL || handle == NULL)
        return UV_EINVAL;
    if (handle->type != UV_TCP && handle->type != UV_NAMED_PIPE)
        return UV_EINVAL;
    if (!ch->connected)
        return UV_EPIPE;
    if (uv_fileno((uv_handle_t *)handle, &fd) != 0)
        return UV_EBADF;
    jtype = json_string(type != NULL ? type : uvproc__default_type(handle));
    if (jtype == NULL)
        return UV_EINVAL;
    b = uvproc__batch_new(ch);
    if (b == NULL) {
        json_decref(jtype);
        return UV_ENOMEM;
    }
    ch->alloc_failed = 0;
    /* {"cmd":"NODE_HANDLE","type":T,"msg":msg}, Node's envelope, built without touching the
     * reference count of the borrowed msg. */
    if (uvproc__batch_append(b, "{\"cmd\":\"NODE_HANDLE\",\"type\":", 28) != 0 ||
        json_dump_callback(jtype, uvproc__dump_cb, b, UVPROC__FLAGS_OUT) != 0 ||
        uvproc__batch_append(b, ",\"msg\":", 7) != 0)
        err = UV_ENOMEM;
    else if (uvproc__dump_into(b, msg) != 0)
        err = ch->alloc_failed ? UV_ENOMEM : UV_EINVAL;
    else if (uvproc__batch_append(b, "}\n", 2) != 0 || uvproc__batch_add_done(b, cb, data) != 0)
        err = UV_ENOMEM;
    json_decref(jtype);
    if (err != 0) {
        uvproc__batch_free(b);
        return err;
    }
    b->handle = handle;
    uvproc__link_tail(ch, b);
    return uvproc__queued_frame(ch, b->len);
}

int uvproc_channel_disconnect(uvproc_channel_t *ch)
{
    if (ch == NULL)
        return UV_EINVAL;
    if (!ch->connected)
        return UV_EPIPE;
    ch->connected = 0;
    ch->disconnecting = 1;
    /* The close itself happens in the flusher once everything queued has been written, so
     * on_disconnect always comes on a later loop turn. */
    uvproc__schedule(ch);
    return 0;
}

int uvproc_channel_connected(const uvproc_channel_t *ch)
{
    return ch != NULL && ch->connected;
}

void uvproc_channel_set_on_message(uvproc_channel_t *ch,
                                   void (*on_message)(uvproc_channel_t *ch, json_t *msg,
                                                      uvproc_handle_t *handle))
{
    if (ch == NULL)
        return;
    ch->o.on_message = on_message;
    if (ch->auto_ref)
        uvproc__auto_ref(ch);
    if (on_message != NULL && ch->held_head != NULL && !ch->closing)
        uv_idle_start(&ch->deliverer, uvproc__deliver_held_cb);
}

size_t uvproc_channel_queue_size(const uvproc_channel_t *ch)
{
    if (ch == NULL)
        return 0;
    return ch->queued + (ch->closing ? 0 : ch->pipe.write_queue_size);
}

void uvproc_channel_ref(uvproc_channel_t *ch)
{
    ch->auto_ref = 0;
    ch->ref = 1;
    uvproc__apply_ref(ch);
}

void uvproc_channel_unref(uvproc_channel_t *ch)
{
    ch->auto_ref = 0;
    ch->ref = 0;
    uvproc__apply_ref(ch);
}

void *uvproc_channel_data(const uvproc_channel_t *ch)
{
    return ch->o.data;
}

uv_loop_t *uvproc_channel_loop(const uvproc_channel_t *ch)
{
    return ch->loop;
}
