/* The channel's send path: frames are serialised straight into a batch buffer. What is queued
 * leaves in one write from a uv_prepare callback (the last thing before the loop can block in
 * poll), and while a write is in flight the next batch keeps growing. Node makes one write(2)
 * per message; this is the thing to beat.
 *
 * Write-through: once 64 KiB more are queued (UVPROC__WRITE_THROUGH), send() itself writes
 * whole batches from the head with uv_try_write, as far as the socket takes them, so that a
 * sender's burst of 200k frames in one callback overlaps with the peer's reading instead of
 * being serialised entirely before the first byte leaves. It never blocks and never calls
 * uv_write: what the socket does not take stays queued for the flusher, and the frames' send
 * callbacks still run from the flusher, never from inside send().
 *
 * A frame carrying a handle is a batch of its own (channel_handles.c builds it); after it
 * nothing but our own ACK/NACK replies (the `ctrl` batch) is written until the peer
 * acknowledges it, as Node does. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "common/common.h"
#include "wire.h"

static void uvproc__flush_cb(uv_prepare_t *h);

uvproc__ipc_batch_t *uvproc__ipc_channel_batch_new(uvproc_channel_t *ch)
{
    uvproc__ipc_batch_t *b = calloc(1, sizeof *b);
    if (b != NULL) {
        b->ch = ch;
        uvproc__common_list_init(&b->node);
    }
    return b;
}

/* The batch at the front of `list`, or NULL. */
static uvproc__ipc_batch_t *uvproc__first(const uvproc__common_list_t *list)
{
    uvproc__common_list_t *n = uvproc__common_list_first(list);
    return n != NULL ? uvproc__common_list_entry(n, uvproc__ipc_batch_t, node) : NULL;
}

void uvproc__ipc_channel_batch_free(uvproc__ipc_batch_t *b)
{
    free(b->buf);
    free(b->done);
    free(b);
}

int uvproc__ipc_channel_batch_append(uvproc__ipc_batch_t *b, const char *s, size_t n)
{
    size_t need = b->len + n;
    /* uv_buf_t lengths are unsigned int. */
    if (need < b->len || need > UINT_MAX)
        return UV_ENOMEM;
    if (need > b->cap) {
        /* Room for byte need - 1, i.e. for `need` bytes. */
        char *nb = uvproc__common_grow(b->buf, &b->cap, need - 1, 1, 4096);
        if (nb == NULL)
            return UV_ENOMEM;
        b->buf = nb;
    }
    memcpy(b->buf + b->len, s, n);
    b->len = need;
    return 0;
}

int uvproc__ipc_channel_batch_add_done(uvproc__ipc_batch_t *b, uvproc_send_cb cb, void *data)
{
    uvproc__ipc_done_t *nd = uvproc__common_grow(b->done, &b->done_cap, b->ndone, sizeof *nd, 16);
    if (nd == NULL)
        return UV_ENOMEM;
    b->done = nd;
    b->done[b->ndone].cb = cb;
    b->done[b->ndone].data = data;
    b->ndone++;
    return 0;
}

int uvproc__ipc_channel_dump_cb(const char *buf, size_t size, void *data)
{
    uvproc__ipc_batch_t *b = data;
    if (uvproc__ipc_channel_batch_append(b, buf, size) != 0) {
        b->ch->alloc_failed = 1;
        return -1;
    }
    return 0;
}

/* Appends msg's JSON text to b (our serializer; jansson's for what nests too deep). */
int uvproc__ipc_channel_dump_into(uvproc__ipc_batch_t *b, const json_t *msg)
{
    size_t old = b->len;
    int too_deep;
    if (uvproc__ipc_wire_dump(msg, uvproc__ipc_channel_dump_cb, b, &too_deep) == 0)
        return 0;
    if (!too_deep)
        return -1;
    b->len = old;
    return json_dump_callback(msg, uvproc__ipc_channel_dump_cb, b, UVPROC__FLAGS_OUT);
}

/* Reports every frame of a detached batch, then frees it. Callbacks may send or disconnect. */
void uvproc__ipc_channel_complete(uvproc_channel_t *ch, uvproc__ipc_batch_t *b, int status)
{
    for (size_t i = 0; i < b->ndone; i++)
        if (b->done[i].cb != NULL)
            b->done[i].cb(ch, status, b->done[i].data);
    uvproc__ipc_channel_batch_free(b);
}

/* The batch the next plain frame goes into. */
static uvproc__ipc_batch_t *uvproc__open_batch(uvproc_channel_t *ch)
{
    uvproc__ipc_batch_t *b = NULL;
    if (!uvproc__common_list_empty(&ch->queue))
        b = uvproc__common_list_entry(ch->queue.prev, uvproc__ipc_batch_t, node);
    /* A batch partly written through is closed too: its written prefix is not kept growing. */
    if (b != NULL && b->handle == NULL && b->sent == 0 && b->len < UVPROC__BATCH_SPLIT)
        return b;
    b = uvproc__ipc_channel_batch_new(ch);
    if (b != NULL)
        uvproc__common_list_push(&ch->queue, &b->node);
    return b;
}

static int uvproc__can_flush(const uvproc_channel_t *ch)
{
    if (ch->closing || !ch->started || ch->inflight != NULL || ch->write_failed)
        return 0;
    if (ch->ctrl != NULL)
        return 1;
    /* Node's order: nothing after a handle until the peer has acknowledged it. A pending
     * disconnect waits for the acknowledgement too. */
    if (ch->unacked != NULL)
        return 0;
    return !uvproc__common_list_empty(&ch->queue) || ch->disconnecting;
}

void uvproc__ipc_channel_schedule(uvproc_channel_t *ch)
{
    /* The prepare phase is the last stop before the loop may block in poll, whichever phase
     * queued the frames; an active prepare handle also keeps the loop alive, which is Node's
     * "pending writes keep the process alive" rule. */
    if (uvproc__can_flush(ch))
        uv_prepare_start(&ch->flusher, uvproc__flush_cb);
}

void uvproc__ipc_channel_report_written(uvproc_channel_t *ch)
{
    uvproc__ipc_batch_t *b;
    while ((b = uvproc__first(&ch->written)) != NULL) {
        uvproc__common_list_remove(&b->node);
        uvproc__ipc_channel_complete(ch, b, 0);
    }
}

/* Writes plain batches from the head while the socket takes them whole; stops at a partial
 * write (the rest waits for the flusher or the next write-through), at a handle frame, or
 * when anything else must go first. An error is left for the flusher's uv_write to meet and
 * report, as a failed uv_try_write in uvproc__submit does. */
static void uvproc__write_through(uvproc_channel_t *ch)
{
    uvproc__ipc_batch_t *b;

    while (ch->ctrl == NULL && uvproc__can_flush(ch) && (b = uvproc__first(&ch->queue)) != NULL &&
           b->handle == NULL) {
        uv_buf_t buf = uv_buf_init(b->buf + b->sent, (unsigned int)(b->len - b->sent));
        int n = buf.len > 0 ? uv_try_write((uv_stream_t *)ch->out, &buf, 1) : 0;
        if (n < 0)
            break;
        b->sent += (size_t)n;
        ch->queued -= (size_t)n;
        if (b->sent < b->len)
            break;
        uvproc__common_list_remove(&b->node);
        uvproc__common_list_push(&ch->written, &b->node);
    }
    ch->wt_mark = ch->queued;
    if (!uvproc__common_list_empty(&ch->written))
        uv_prepare_start(&ch->flusher, uvproc__flush_cb);
}

static void uvproc__write_done(uv_write_t *req, int status)
{
    uvproc__ipc_batch_t *b = req->data;
    uvproc_channel_t *ch = b->ch;

    ch->inflight = NULL;
    if (b->handle != NULL && status == 0 && !ch->closing) {
        uvproc__ipc_channel_ack_wait(ch, b);
        return;
    }
    /* A handle frame written while the channel closes can no longer be acknowledged. */
    if (b->handle != NULL && status == 0)
        status = UV_ECANCELED;
    uvproc__ipc_channel_complete(ch, b, status);
    if (status < 0 && !ch->closing) {
        /* EPIPE and friends: the socket is broken, nothing queued can be written. */
        uvproc__ipc_channel_write_failed(ch);
        return;
    }
    uvproc__ipc_channel_schedule(ch);
}

/* Returns 1 when the batch is finished (written or failed) and the caller may flush the next
 * one now, 0 when a write is in flight or the channel is closing. */
static int uvproc__submit(uvproc_channel_t *ch, uvproc__ipc_batch_t *b)
{
    uv_buf_t buf = uv_buf_init(b->buf + b->sent, (unsigned int)(b->len - b->sent));
    uv_os_fd_t fd;
    int err, own_fault;

    if (b->handle == NULL) {
        /* Most batches fit in the socket buffer. Written here, they skip what uv_write costs
         * even when it completes at once: POLLOUT armed and disarmed (an epoll_ctl), and a
         * deferred callback that makes the next poll a non-blocking one (an extra
         * epoll_wait). In ping-pong that is 2 of 5 system calls per message. */
        int n = uv_try_write((uv_stream_t *)ch->out, &buf, 1);
        if (n == (int)buf.len) {
            uvproc__ipc_channel_complete(ch, b, 0);
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
        err = uv_write2(&b->req, (uv_stream_t *)ch->out, &buf, 1, b->handle, uvproc__write_done);
    else
        err = uv_write(&b->req, (uv_stream_t *)ch->out, &buf, 1, uvproc__write_done);
    if (err == 0)
        return 0;
    ch->inflight = NULL;
    /* A handle the user closed too early fails its own frame only (EBADF with a healthy
     * pipe); anything else means the socket itself is unusable. */
    own_fault =
        b->handle != NULL && err == UV_EBADF && uv_fileno((uv_handle_t *)ch->out, &fd) == 0;
    uvproc__ipc_channel_complete(ch, b, err);
    if (own_fault)
        return !ch->closing;
    uvproc__ipc_channel_write_failed(ch);
    return 0;
}

/* Writes the next batch; returns 1 if the caller should try again at once. */
static int uvproc__flush(uvproc_channel_t *ch)
{
    uvproc__ipc_batch_t *b, *head;

    if (!uvproc__can_flush(ch))
        return 0;
    head = uvproc__first(&ch->queue);
    /* Our replies jump the queue, but never into a batch partly written through: they would
     * land inside one of its frames. */
    if (ch->ctrl != NULL && (head == NULL || head->sent == 0)) {
        b = ch->ctrl;
        ch->ctrl = NULL;
    } else if (head != NULL) {
        b = head;
        uvproc__common_list_remove(&b->node);
    } else {
        /* disconnect() was called and everything before it has been written. */
        uvproc__ipc_channel_close(ch);
        return 0;
    }
    ch->queued -= b->len - b->sent;
    if (b->len == 0) {
        /* A batch opened for a frame that then failed to serialise. */
        uvproc__ipc_channel_complete(ch, b, 0);
        return !ch->closing;
    }
    return uvproc__submit(ch, b);
}

static void uvproc__flush_cb(uv_prepare_t *h)
{
    uvproc_channel_t *ch = h->data;
    uv_prepare_stop(h);
    /* A prepare handle started from its own callback runs only in the next loop turn, after
     * poll may have blocked: whatever completion callbacks queue (or write through) is
     * flushed or reported here. Batches written through go first: they left first. */
    for (;;) {
        uvproc__ipc_channel_report_written(ch);
        if (uvproc__flush(ch))
            continue;
        if (uvproc__common_list_empty(&ch->written))
            break;
    }
    ch->wt_mark = ch->queued;
    if (!ch->closing && !uvproc__can_flush(ch))
        uv_prepare_stop(h);
}

/* Queues one of our own internal replies (ACK, NACK, socket counts). */
void uvproc__ipc_channel_reply(uvproc_channel_t *ch, const json_t *msg)
{
    uvproc__ipc_batch_t *b;
    size_t old;

    if (ch->closing)
        return;
    if (ch->ctrl == NULL && (ch->ctrl = uvproc__ipc_channel_batch_new(ch)) == NULL)
        return;
    b = ch->ctrl;
    old = b->len;
    if (uvproc__ipc_channel_dump_into(b, msg) != 0 ||
        uvproc__ipc_channel_batch_append(b, "\n", 1) != 0) {
        b->len = old;
        return;
    }
    ch->queued += b->len - old;
    uvproc__ipc_channel_schedule(ch);
}

void uvproc__ipc_channel_reply_cmd(uvproc_channel_t *ch, const char *cmd)
{
    json_t *m = json_pack("{s:s}", "cmd", cmd);
    if (m != NULL)
        uvproc__ipc_channel_reply(ch, m);
    json_decref(m);
}

int uvproc__ipc_channel_queued(uvproc_channel_t *ch, size_t n)
{
    ch->queued += n;
    if (ch->queued >= ch->wt_mark + UVPROC__WRITE_THROUGH)
        uvproc__write_through(ch);
    uvproc__ipc_channel_schedule(ch);
    return uvproc_channel_queue_size(ch) < UVPROC__CHANNEL_HIGH_WATER ? 1 : 0;
}

int uvproc_channel_send(uvproc_channel_t *ch, const json_t *msg, uvproc_send_cb cb, void *data)
{
    uvproc__ipc_batch_t *b;
    size_t old;

    if (ch == NULL || msg == NULL)
        return UV_EINVAL;
    if (!ch->connected || ch->write_failed)
        return UV_EPIPE;
    b = uvproc__open_batch(ch);
    if (b == NULL)
        return UV_ENOMEM;
    old = b->len;
    ch->alloc_failed = 0;
    /* jansson escapes every control character, LF included, and never indents in compact
     * mode: the frame is one line by construction. */
    if (uvproc__ipc_channel_dump_into(b, msg) != 0) {
        b->len = old;
        return ch->alloc_failed ? UV_ENOMEM : UV_EINVAL;
    }
    if (uvproc__ipc_channel_batch_append(b, "\n", 1) != 0 ||
        (cb != NULL && uvproc__ipc_channel_batch_add_done(b, cb, data) != 0)) {
        b->len = old;
        return UV_ENOMEM;
    }
    return uvproc__ipc_channel_queued(ch, b->len - old);
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
    uvproc__ipc_batch_t *b;
    json_t *v;
    size_t old;

    if (ch == NULL || (json == NULL && len > 0))
        return UV_EINVAL;
    if (!ch->connected || ch->write_failed)
        return UV_EPIPE;
    /* What we would refuse to read, a Node peer would die of (or read as something else). */
    if (len == 0 || memchr(json, '\n', len) != NULL ||
        (v = uvproc__ipc_wire_parse(json, len)) == NULL)
        return UVPROC_EBADMSG;
    json_decref(v);
    b = uvproc__open_batch(ch);
    if (b == NULL)
        return UV_ENOMEM;
    old = b->len;
    if (uvproc__ipc_channel_batch_append(b, json, len) != 0 ||
        uvproc__ipc_channel_batch_append(b, "\n", 1) != 0 ||
        (cb != NULL && uvproc__ipc_channel_batch_add_done(b, cb, data) != 0)) {
        b->len = old;
        return UV_ENOMEM;
    }
    return uvproc__ipc_channel_queued(ch, b->len - old);
}

size_t uvproc_channel_queue_size(const uvproc_channel_t *ch)
{
    if (ch == NULL)
        return 0;
    return ch->queued + (ch->closing ? 0 : ch->out->write_queue_size);
}
