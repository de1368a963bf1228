/* NODE_CLUSTER envelope and seq/ack pairing (Node: lib/internal/cluster/utils.js), and the
 * validation of listen requests. Node trusts its peer; we check every field a worker sends,
 * because a bad one is an error event on that worker, never a crash of the primary. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_proto.h"

/* The peer's waiting requests; a zeroed peer's list is set up here (see cluster_proto.h). */
static uvproc__common_list_t *pending_of(uvproc__cluster_peer_t *peer)
{
    if (peer->pending.next == NULL)
        uvproc__common_list_init(&peer->pending);
    return &peer->pending;
}

int uvproc__cluster_send(uvproc__cluster_peer_t *peer, json_t *msg, uv_stream_t *handle,
                         uvproc__cluster_reply_cb reply_cb, void *reply_arg, uvproc_send_cb sent_cb,
                         void *sent_arg)
{
    uvproc__cluster_pending_t *p = NULL;
    int64_t seq = peer->next_seq;
    int err;

    if (msg == NULL)
        return UV_ENOMEM;
    if (peer->ch == NULL) {
        json_decref(msg);
        return UV_EPIPE;
    }
    if (json_object_set_new(msg, "cmd", json_string("NODE_CLUSTER")) != 0 ||
        json_object_set_new(msg, "seq", json_integer(seq)) != 0) {
        json_decref(msg);
        return UV_ENOMEM;
    }
    if (reply_cb != NULL) {
        p = malloc(sizeof *p);
        if (p == NULL) {
            json_decref(msg);
            return UV_ENOMEM;
        }
        *p = (uvproc__cluster_pending_t){.seq = seq, .cb = reply_cb, .arg = reply_arg};
    }
    if (handle != NULL)
        err = uvproc_channel_send_handle(peer->ch, msg, handle, "net.Native", sent_cb, sent_arg);
    else
        err = uvproc_channel_send(peer->ch, msg, sent_cb, sent_arg);
    json_decref(msg);
    if (err < 0) {
        free(p);
        return err;
    }
    peer->next_seq++;
    if (p != NULL) /* appended: replies mostly come in order, so the search stops early */
        uvproc__common_list_push(pending_of(peer), &p->node);
    return 0;
}

int uvproc__cluster_send_user(uvproc__cluster_peer_t *peer, const json_t *msg)
{
    int err;
    if (msg == NULL)
        return UV_EINVAL;
    if (peer->ch == NULL)
        return UV_EPIPE;
    err = uvproc_channel_send(peer->ch, msg, NULL, NULL);
    return err < 0 ? err : 0; /* 0 or 1 (backpressure) is a success here */
}

int uvproc__cluster_route_reply(uvproc__cluster_peer_t *peer, json_t *msg, uvproc_handle_t *handle)
{
    json_t *ack = json_object_get(msg, "ack");
    uvproc__common_list_t *n;
    if (!json_is_integer(ack))
        return 0;
    uvproc__common_list_foreach(n, pending_of(peer)) {
        uvproc__cluster_pending_t *p =
            uvproc__common_list_entry(n, uvproc__cluster_pending_t, node);
        if (p->seq == json_integer_value(ack)) {
            uvproc__common_list_remove(n);
            p->cb(p->arg, msg, handle);
            free(p);
            return 1;
        }
    }
    return 0;
}

void uvproc__cluster_cancel_all(uvproc__cluster_peer_t *peer)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(pending_of(peer))) != NULL) {
        uvproc__cluster_pending_t *p =
            uvproc__common_list_entry(n, uvproc__cluster_pending_t, node);
        p->cb(p->arg, NULL, NULL);
        free(p);
    }
}

int uvproc__cluster_is_cluster(json_t *msg)
{
    const char *cmd = json_string_value(json_object_get(msg, "cmd"));
    return cmd != NULL && strcmp(cmd, "NODE_CLUSTER") == 0;
}

const char *uvproc__cluster_act(json_t *msg)
{
    return json_string_value(json_object_get(msg, "act"));
}

/* A JSON number that is an integer (Node sends 8000, never 8000.5); out of range fails.
 * A real is range-checked BEFORE it is converted: casting a double outside int64_t's range
 * (1.5e19, 8e95 from a hostile peer) is undefined behaviour, not a large number. Every
 * bound used here fits a double exactly, so the comparisons are exact. */
static int uvproc__cl_int(json_t *v, int64_t min, int64_t max, int64_t *out)
{
    double d;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (json_is_real(v)) {
        d = json_real_value(v);
        if (!(d >= (double)min && d <= (double)max))
            return UV_EPROTO; /* NaN fails this test too */
        *out = (int64_t)d;
        if ((double)*out != d)
            return UV_EPROTO; /* 8000.5 */
    } else {
        return UV_EPROTO;
    }
    return *out >= min && *out <= max ? 0 : UV_EPROTO;
}

int uvproc__cluster_parse_query(json_t *msg, uvproc__cluster_query_t *q)
{
    json_t *address = json_object_get(msg, "address");
    json_t *type = json_object_get(msg, "addressType");
    json_t *v;
    int64_t t;

    memset(q, 0, sizeof *q);
    if (json_is_string(type))
        return UV_ENOTSUP; /* 'udp4' / 'udp6': datagrams are not balanced by a primary */
    if (uvproc__cl_int(type, -1, 6, &t) != 0 || (t != 4 && t != 6 && t != -1))
        return UV_EPROTO;
    q->address_type = (int)t;
    if (json_is_string(address))
        q->address = json_string_value(address);
    else if (address != NULL && !json_is_null(address))
        return UV_EPROTO;
    if (uvproc__cl_int(json_object_get(msg, "port"), -1, 65535, &q->port) != 0)
        return UV_EPROTO;
    if (q->address_type == -1 && (q->address == NULL || q->address[0] == '\0'))
        return UV_EPROTO; /* a Unix socket needs its path */
    v = json_object_get(msg, "index");
    if (uvproc__cl_int(v, 0, INT32_MAX, &q->index) != 0)
        return UV_EPROTO;
    v = json_object_get(msg, "backlog");
    /* Node sends 0, `false` or nothing for its default, 511. */
    if (v == NULL || !json_is_number(v) || uvproc__cl_int(v, 1, INT32_MAX, &q->backlog) != 0)
        q->backlog = 511;
    v = json_object_get(msg, "flags");
    if (v == NULL || uvproc__cl_int(v, 0, INT32_MAX, &q->flags) != 0)
        q->flags = 0;
    q->fd = json_object_get(msg, "fd");
    q->data = json_object_get(msg, "data");
    if (q->fd != NULL && !json_is_null(q->fd))
        return UV_ENOTSUP; /* listen({fd}) in a worker: the fd is the worker's, not ours */
    return 0;
}

char *uvproc__cluster_key(const uvproc__cluster_query_t *q)
{
    /* JavaScript's template literal: null and undefined print as words. */
    const char *fd = q->fd == NULL ? "undefined" : "null";
    const char *address = q->address != NULL ? q->address : "null";
    size_t len = strlen(address) + strlen(fd) + 64;
    char *key = malloc(len);
    if (key != NULL)
        snprintf(key, len, "%s:%" PRId64 ":%d:%s:%" PRId64, address, q->port, q->address_type, fd,
                 q->index);
    return key;
}

int uvproc__cluster_errno(json_t *reply)
{
    int64_t e;
    json_t *v = json_object_get(reply, "errno");
    if (v == NULL || json_is_null(v))
        return 0;
    if (uvproc__cl_int(v, -4096, 0, &e) != 0)
        return UV_EPROTO;
    return (int)e;
}
