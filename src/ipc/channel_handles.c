/* Handles over the channel, Node's way: a handle travels as an fd (SCM_RIGHTS) with the
 * first bytes of a {"cmd":"NODE_HANDLE","type":T,"msg":M} envelope; the receiver answers
 * NODE_HANDLE_ACK (or NACK when the fd did not come, and the sender retransmits). Sending side:
 * the envelope, the wait for the ACK with its timeout, retransmission. Receiving side: the fds
 * accepted from the socket, paired in order with the envelopes, and Node's socket_list
 * queries about sockets handed over. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipc.h"
#include "wire.h"

static void uvproc__ack_timeout(uv_timer_t *t)
{
    uvproc_channel_t *ch = t->data;
    uvproc__ipc_batch_t *b = ch->unacked;

    if (b == NULL)
        return;
    /* A peer that never acknowledges stalls Node forever; we give up on this handle, tell the
     * user, and let the frames queued behind it go. */
    ch->unacked = NULL;
    uvproc__ipc_channel_complete(ch, b, UV_ETIMEDOUT);
    if (ch->o.on_error != NULL)
        ch->o.on_error(ch, UV_ETIMEDOUT, NULL, 0);
    uvproc__ipc_channel_schedule(ch);
}

void uvproc__ipc_channel_on_ack(uvproc_channel_t *ch, int ack)
{
    uvproc__ipc_batch_t *b = ch->unacked;

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
        uvproc__common_list_unshift(&ch->queue, &b->node);
        ch->queued += b->len;
    } else {
        uvproc__ipc_channel_complete(ch, b, ack ? 0 : UV_EPROTO);
    }
    uvproc__ipc_channel_schedule(ch);
}

void uvproc__ipc_channel_ack_wait(uvproc_channel_t *ch, uvproc__ipc_batch_t *b)
{
    int early = b->early;
    b->early = 0;
    ch->unacked = b;
    if (early != 0) {
        uvproc__ipc_channel_on_ack(ch, early == 1);
        return;
    }
    uv_timer_start(&ch->ack_timer, uvproc__ack_timeout, ch->ack_timeout_ms, 0);
}

/* The fds that came with this read, in order. Each is paired later with the next NODE_HANDLE
 * line: its fd arrives with the envelope's first bytes, so before the line is complete. */
int uvproc__ipc_channel_accept_pending(uvproc_channel_t *ch)
{
    size_t dropped = 0;

    while (uv_pipe_pending_count(&ch->pipe) > 0) {
        uv_handle_type type = uv_pipe_pending_type(&ch->pipe);
        uvproc__ipc_recv_t *r = calloc(1, sizeof *r);
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
            uvproc__ipc_channel_drop_stream(s);
            s = NULL;
        }
        /* An fd arrives with the first bytes of its envelope, and a Node peer sends the next
         * handle only after the ACK: more than a few unclaimed fds is a peer sending fds with
         * no envelope. Holding them until the channel closes let a peer fill our fd table,
         * so past the cap they are closed now (their envelopes, if any come, get a NACK). */
        if (ch->nrecv >= UVPROC__MAX_UNCLAIMED_FDS) {
            uvproc__ipc_channel_drop_stream(s);
            free(r);
            dropped++;
            continue;
        }
        r->stream = s;
        uvproc__common_list_push(&ch->recv, &r->node);
        ch->nrecv++;
    }
    if (dropped > 0)
        uvproc__ipc_channel_report(ch, UV_EPROTO, NULL, dropped);
    return 0;
}

void uvproc__ipc_channel_drop_recv(uvproc_channel_t *ch)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(&ch->recv)) != NULL) {
        uvproc__ipc_recv_t *r = uvproc__common_list_entry(n, uvproc__ipc_recv_t, node);
        uvproc__ipc_channel_drop_stream(r->stream);
        free(r);
    }
    ch->nrecv = 0;
}

void uvproc__ipc_channel_on_handle(uvproc_channel_t *ch, json_t *msg)
{
    uvproc__common_list_t *first = uvproc__common_list_shift(&ch->recv);
    uvproc__ipc_recv_t *r;
    json_t *inner = msg;
    const char *type = NULL;
    uv_stream_t *s;

    if (first == NULL) {
        /* The envelope came without its fd (MSG_CTRUNC, or a peer that forgot it): the
         * sender retransmits on NACK. */
        uvproc__ipc_channel_reply_cmd(ch, "NODE_HANDLE_NACK");
        return;
    }
    r = uvproc__common_list_entry(first, uvproc__ipc_recv_t, node);
    ch->nrecv--;
    s = r->stream;
    free(r);
    uvproc__ipc_channel_reply_cmd(ch, "NODE_HANDLE_ACK");

    /* Node's retransmissions wrap the envelope again: the innermost one is the original. */
    for (;;) {
        const json_t *t = json_object_get(inner, "type");
        const char *cmd;
        size_t n = 0;
        if (json_is_string(t))
            type = json_string_value(t);
        inner = json_object_get(inner, "msg");
        cmd = uvproc__ipc_wire_internal_cmd(inner, &n);
        if (!uvproc__ipc_wire_cmd_is(cmd, n, "NODE_HANDLE"))
            break;
    }
    if (inner == NULL)
        inner = json_null();
    if (type == NULL)
        type = "net.Native";
    if (s == NULL)
        uvproc__ipc_channel_report(ch, UV_ENOTSUP, NULL, 0);
    if (uvproc__ipc_wire_internal_cmd(inner, NULL) != NULL)
        uvproc__ipc_channel_deliver_internal(ch, inner, s, type);
    else
        uvproc__ipc_channel_deliver_user(ch, inner, s, type);
}

/* Node's socket_list protocol: the sender of sockets from a net.Server asks how many are
 * still open. Ownership of a received socket passes to the user, so we cannot count them;
 * answering 0 / "all closed" at once keeps the sender's server.close() and getConnections()
 * from hanging until disconnect, which is what silence would do. */
void uvproc__ipc_channel_on_socket_query(uvproc_channel_t *ch, json_t *msg, int count_query)
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
        uvproc__ipc_channel_reply(ch, reply);
    json_decref(reply);
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
    uvproc__ipc_batch_t *b;
    json_t *jtype;
    uv_os_fd_t fd;
    int err = 0;

    if (ch == NULL || msg == NULL || handle == NULL)
        return UV_EINVAL;
    if (handle->type != UV_TCP && handle->type != UV_NAMED_PIPE)
        return UV_EINVAL;
    if (!ch->connected || ch->write_failed)
        return UV_EPIPE;
    if (ch->over_stdio) /* an fd cannot cross ssh or srun */
        return UV_ENOTSUP;
    if (uv_fileno((uv_handle_t *)handle, &fd) != 0)
        return UV_EBADF;
    jtype = json_string(type != NULL ? type : uvproc__default_type(handle));
    if (jtype == NULL)
        return UV_EINVAL;
    b = uvproc__ipc_channel_batch_new(ch);
    if (b == NULL) {
        json_decref(jtype);
        return UV_ENOMEM;
    }
    ch->alloc_failed = 0;
    /* {"cmd":"NODE_HANDLE","type":T,"msg":msg}, Node's envelope, built without touching the
     * reference count of the borrowed msg. */
    if (uvproc__ipc_channel_batch_append(b, "{\"cmd\":\"NODE_HANDLE\",\"type\":", 28) != 0 ||
        json_dump_callback(jtype, uvproc__ipc_channel_dump_cb, b, UVPROC__FLAGS_OUT) != 0 ||
        uvproc__ipc_channel_batch_append(b, ",\"msg\":", 7) != 0)
        err = UV_ENOMEM;
    else if (uvproc__ipc_channel_dump_into(b, msg) != 0)
        err = ch->alloc_failed ? UV_ENOMEM : UV_EINVAL;
    else if (uvproc__ipc_channel_batch_append(b, "}\n", 2) != 0 ||
             uvproc__ipc_channel_batch_add_done(b, cb, data) != 0)
        err = UV_ENOMEM;
    json_decref(jtype);
    if (err != 0) {
        uvproc__ipc_channel_batch_free(b);
        return err;
    }
    b->handle = handle;
    /* The caller accounts its bytes (uvproc__ipc_channel_queued below). */
    uvproc__common_list_push(&ch->queue, &b->node);
    return uvproc__ipc_channel_queued(ch, b->len);
}
