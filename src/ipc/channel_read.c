/* The channel's receive path: read -> accept any handles that came with the bytes
 * (channel_handles.c) -> framer (jsonl.c) -> parser (wire.c) -> internal routing (NODE_*
 * commands: ours answered here, the rest to on_internal) or the user's on_message, which may be
 * unset for a while: messages are then held and handed over, in order, once it is set. Bad
 * input is reported and skipped; the framer resynchronises at the next '\n', so the channel
 * lives on. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "common/common.h"
#include "wire.h"

void uvproc__ipc_channel_drop_stream(uv_stream_t *s)
{
    if (s != NULL)
        uvproc__common_close_free((uv_handle_t *)s);
}

void uvproc__ipc_channel_report(uvproc_channel_t *ch, int err, const char *line, size_t len)
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
    uvproc__ipc_held_t *m = calloc(1, sizeof *m);
    if (m == NULL || (type != NULL && (m->type = strdup(type)) == NULL)) {
        free(m);
        uvproc__ipc_channel_drop_stream(s);
        uvproc__ipc_channel_report(ch, UV_ENOMEM, NULL, 0);
        return;
    }
    m->msg = json_incref(msg);
    m->stream = s;
    uvproc__common_list_push(&ch->held, &m->node);
}

void uvproc__ipc_channel_deliver_user(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                  const char *type)
{
    /* After disconnect() nothing more is delivered (Node drops them too). */
    if (!ch->connected) {
        uvproc__ipc_channel_drop_stream(s);
        return;
    }
    if (ch->o.on_message == NULL || !uvproc__common_list_empty(&ch->held))
        uvproc__hold(ch, msg, s, type);
    else
        uvproc__call_user(ch, msg, s, type);
}

void uvproc__ipc_channel_deliver_internal(uvproc_channel_t *ch, json_t *msg, uv_stream_t *s,
                                      const char *type)
{
    uvproc_handle_t h = {s, type};
    if (!ch->connected || ch->o.on_internal == NULL) {
        uvproc__ipc_channel_drop_stream(s);
        return;
    }
    ch->o.on_internal(ch, msg, s != NULL ? &h : NULL);
}

/* Hands held messages to on_message, in order, until it is unset again. A disconnect the user
 * asked for stops delivery (Node drops them too); a peer's EOF does not: what arrived before
 * it is delivered before on_disconnect. */
void uvproc__ipc_channel_deliver_held(uvproc_channel_t *ch)
{
    while (!uvproc__common_list_empty(&ch->held) && ch->o.on_message != NULL &&
           !ch->disconnecting) {
        uvproc__ipc_held_t *m = uvproc__common_list_entry(uvproc__common_list_shift(&ch->held),
                                                          uvproc__ipc_held_t, node);
        uvproc__call_user(ch, m->msg, m->stream, m->type);
        json_decref(m->msg);
        free(m->type);
        free(m);
    }
}

static void uvproc__deliver_held_cb(uv_idle_t *idle)
{
    uv_idle_stop(idle);
    uvproc__ipc_channel_deliver_held(idle->data);
}

void uvproc__ipc_channel_drop_held(uvproc_channel_t *ch)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(&ch->held)) != NULL) {
        uvproc__ipc_held_t *m = uvproc__common_list_entry(n, uvproc__ipc_held_t, node);
        uvproc__ipc_channel_drop_stream(m->stream);
        json_decref(m->msg);
        free(m->type);
        free(m);
    }
}

static void uvproc__route(uvproc_channel_t *ch, json_t *msg)
{
    size_t n = 0;
    const char *cmd = uvproc__ipc_wire_internal_cmd(msg, &n);

    if (cmd == NULL)
        uvproc__ipc_channel_deliver_user(ch, msg, NULL, NULL);
    else if (uvproc__ipc_wire_cmd_is(cmd, n, "NODE_HANDLE_ACK"))
        uvproc__ipc_channel_on_ack(ch, 1);
    else if (uvproc__ipc_wire_cmd_is(cmd, n, "NODE_HANDLE_NACK"))
        uvproc__ipc_channel_on_ack(ch, 0);
    else if (uvproc__ipc_wire_cmd_is(cmd, n, "NODE_HANDLE"))
        uvproc__ipc_channel_on_handle(ch, msg);
    else if (uvproc__ipc_wire_cmd_is(cmd, n, "NODE_SOCKET_GET_COUNT"))
        uvproc__ipc_channel_on_socket_query(ch, msg, 1);
    else if (uvproc__ipc_wire_cmd_is(cmd, n, "NODE_SOCKET_NOTIFY_CLOSE"))
        uvproc__ipc_channel_on_socket_query(ch, msg, 0);
    else
        uvproc__ipc_channel_deliver_internal(ch, msg, NULL, NULL);
}

static int uvproc__on_line(void *ctx, const char *line, size_t len)
{
    uvproc_channel_t *ch = ctx;
    json_t *msg;

    if (ch->closing)
        return 1;
    msg = uvproc__ipc_wire_parse(line, len);
    if (msg == NULL) {
        uvproc__ipc_channel_report(ch, UVPROC_EBADMSG, line, len);
    } else {
        uvproc__route(ch, msg);
        json_decref(msg);
    }
    return ch->closing;
}

static int uvproc__on_frame_error(void *ctx, int err, size_t seen)
{
    uvproc_channel_t *ch = ctx;
    uvproc__ipc_channel_report(ch, err == -EMSGSIZE ? UV_EMSGSIZE : UV_ENOMEM, NULL, seen);
    return ch->closing;
}

void uvproc__ipc_channel_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    uvproc_channel_t *ch = stream->data;

    if (nread > 0) {
        if (uvproc__ipc_channel_accept_pending(ch) != 0) {
            uvproc__ipc_channel_report(ch, UV_ENOMEM, NULL, 0);
            uvproc__ipc_channel_close(ch);
            return;
        }
        uvproc__ipc_jsonl_feed(&ch->framer, buf->base, (size_t)nread, uvproc__on_line,
                           uvproc__on_frame_error, ch);
        /* After a write error the channel only waits to read what is readable
         * (uvproc__ipc_channel_write_failed). libuv may not read again to see EAGAIN (it stops at
         * a short read), so ask the socket. */
        if (ch->write_failed && !ch->closing && uvproc__ipc_channel_peek(ch) < 0)
            uvproc__ipc_channel_close(ch);
        return;
    }
    if (nread == 0) {
        if (ch->write_failed)
            uvproc__ipc_channel_close(ch);
        return;
    }
    /* libuv reports EOF early: after a short read (each message carrying an fd is one) it
     * takes POLLHUP to mean the socket is drained, though the peer's last messages may still
     * be queued. A peer that sent 20 handles and exited had 19 of them dropped. Read on while
     * the socket really holds bytes; each read is again short, so this repeats per message. */
    if (nread == UV_EOF && uvproc__ipc_channel_peek(ch) > 0 &&
        uv_read_start(stream, uvproc__common_read_alloc, uvproc__ipc_channel_on_read) == 0)
        return;
    /* EOF or a read error: Node's disconnect. A partial last line is dropped, as Node does;
     * a half-close is not kept (Node closes the whole channel on EOF too). */
    uvproc__ipc_channel_close(ch);
}

void uvproc_channel_set_on_message(uvproc_channel_t *ch,
                                   void (*on_message)(uvproc_channel_t *ch, json_t *msg,
                                                      uvproc_handle_t *handle))
{
    if (ch == NULL)
        return;
    ch->o.on_message = on_message;
    if (ch->auto_ref)
        uvproc__ipc_channel_auto_ref(ch);
    if (on_message != NULL && !uvproc__common_list_empty(&ch->held) && !ch->closing)
        uv_idle_start(&ch->deliverer, uvproc__deliver_held_cb);
}
