/* NODE_CLUSTER messages, shared by the primary (cluster.c, cluster_handle.c) and the worker
 * side (cluster_worker.c): the {cmd, seq} envelope, the seq/ack pairing of requests and
 * replies, and the validated fields of a listen request. Not part of the public API. */
#ifndef UVPROC__CLUSTER_PROTO_H
#define UVPROC__CLUSTER_PROTO_H

#include "common/list.h"
#include "uvproc.h"

/* A reply (reply NULL: cancelled, the peer went away first); handle is the one that came
 * with it (the callee owns it), or NULL. */
typedef void (*uvproc__cluster_reply_cb)(void *arg, json_t *reply, uvproc_handle_t *handle);

typedef struct uvproc__cluster_pending_s {
    int64_t seq;
    uvproc__cluster_reply_cb cb;
    void *arg;
    uvproc__common_list_t node; /* on peer->pending */
} uvproc__cluster_pending_t;

/* One side's view of one channel: the next seq and the requests waiting for their ack. A
 * zeroed peer ({0}, calloc) is a valid one with nothing pending: the calls below set the
 * list's head up on first use, so the places that reset a peer need not know it has one. */
typedef struct {
    uvproc_channel_t *ch;
    int64_t next_seq;
    uvproc__common_list_t pending; /* oldest first (node) */
} uvproc__cluster_peer_t;

/* Sends `msg` (stolen) as {"cmd":"NODE_CLUSTER", ...msg, "seq":n}, with `handle` (type
 * net.Native, as Node's cluster sends) if non-NULL. `reply_cb` (may be NULL) gets the message
 * whose "ack" is n; `sent_cb` (may be NULL) the channel's send completion. */
int uvproc__cluster_send(uvproc__cluster_peer_t *peer, json_t *msg, uv_stream_t *handle,
                         uvproc__cluster_reply_cb reply_cb, void *reply_arg, uvproc_send_cb sent_cb,
                         void *sent_arg);

/* A user message (not NODE_CLUSTER) to the peer: 0, UV_EPIPE without a channel, or the
 * channel's error. */
int uvproc__cluster_send_user(uvproc__cluster_peer_t *peer, const json_t *msg);

/* If `msg` carries an "ack" matching a request, calls its reply callback and returns 1. */
int uvproc__cluster_route_reply(uvproc__cluster_peer_t *peer, json_t *msg, uvproc_handle_t *handle);

/* Cancels every waiting request (reply NULL), e.g. once the channel is gone. */
void uvproc__cluster_cancel_all(uvproc__cluster_peer_t *peer);

/* Is this internal message a NODE_CLUSTER one? */
int uvproc__cluster_is_cluster(json_t *msg);

/* The "act" string, or NULL when missing or not a string. */
const char *uvproc__cluster_act(json_t *msg);

/* A listen request (queryServer / listening / a C worker's own), fields validated. */
typedef struct {
    const char *address; /* NULL: JSON null (all interfaces) */
    int64_t port;        /* -1 for a Unix socket */
    int address_type;    /* 4, 6 or -1 */
    int64_t index;
    json_t *fd;   /* borrowed: absent (NULL) or what the worker sent */
    json_t *data; /* borrowed: absent (NULL) or what the worker sent */
    int64_t backlog;
    int64_t flags;
} uvproc__cluster_query_t;

/* UV_EPROTO when a field is missing or of the wrong type; UV_ENOTSUP for UDP. */
int uvproc__cluster_parse_query(json_t *msg, uvproc__cluster_query_t *q);

/* Node's handle key "address:port:addressType:fd:index" (malloc'd; NULL: no memory). */
char *uvproc__cluster_key(const uvproc__cluster_query_t *q);

/* An error number as Node's cluster puts it in a reply: a negative libuv code, or 0. */
int uvproc__cluster_errno(json_t *reply);

#endif
