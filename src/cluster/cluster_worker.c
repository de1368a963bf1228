/* The worker side of a cluster, for C workers: join the primary over the channel the parent
 * left (uvproc's primary or Node's), listen through it in either policy, leave on request.
 * As Node's lib/internal/cluster/child.js, but a connection reaches the user the same way in
 * both policies: a connected stream in on_connection. */
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/list.h"
#include "cluster_proto.h"

struct uvproc_cluster_server_s {
    uvproc_cluster_child_t *w;
    uvproc_cluster_listen_options_t o;
    char *host, *path;
    json_t *query; /* the request's fields, sent again as act:'listening' */
    char *key;     /* the primary's name for this server, from its reply */
    int port;
    uv_stream_t *listener; /* shared policy: the socket the primary bound, listening here */
    int querying, listening, closed;
    uvproc__common_list_t node; /* on the worker's servers */
};

typedef struct uvproc__cl_index_s {
    char *triple; /* address:port:addressType, Node's indexesKey without the fd */
    int64_t next;
    uvproc__common_list_t node; /* on the worker's indexes */
} uvproc__cl_index_t;

struct uvproc_cluster_child_s {
    uv_loop_t *loop;
    uvproc_cluster_child_options_t o;
    uvproc__cluster_peer_t peer;
    unsigned id;
    uvproc__common_list_t servers; /* newest first */
    uvproc__common_list_t indexes;
    int asked; /* the disconnect was asked for (by the primary or by us) */
};

int uvproc_cluster_is_worker(void)
{
    const char *id = getenv("NODE_UNIQUE_ID");
    return id != NULL && id[0] != '\0';
}

static void uvproc__cw_report(uvproc_cluster_child_t *w, int err)
{
    if (w->o.on_error != NULL)
        w->o.on_error(w, err);
}

static void uvproc__cw_server_free(uvproc_cluster_server_t *s)
{
    uvproc__common_list_remove(&s->node);
    json_decref(s->query);
    free(s->key);
    free(s->host);
    free(s->path);
    free(s);
}

/* Stops accepting; tells the primary unless the channel is gone or `quiet`. The server is
 * freed here, or when its pending reply comes (or is cancelled). */
static void uvproc__cw_server_close(uvproc_cluster_server_t *s, int quiet)
{
    if (s->closed)
        return;
    s->closed = 1;
    if (s->listening && !quiet)
        uvproc__cluster_send(&s->w->peer, json_pack("{s:s,s:s}", "act", "close", "key", s->key),
                             NULL, NULL, NULL, NULL, NULL);
    s->listening = 0;
    if (s->listener != NULL) {
        uvproc__common_close_free((uv_handle_t *)s->listener);
        s->listener = NULL;
    }
    if (!s->querying)
        uvproc__cw_server_free(s);
}

static void uvproc__cw_on_connection(uv_stream_t *listener, int status)
{
    uvproc_cluster_server_t *s = listener->data;
    uv_stream_t *client;
    if (status != 0)
        return;
    client = listener->type == UV_TCP ? malloc(sizeof(uv_tcp_t)) : malloc(sizeof(uv_pipe_t));
    if (client == NULL)
        return; /* libuv holds the connection and offers it again later */
    if (listener->type == UV_TCP)
        uv_tcp_init(listener->loop, (uv_tcp_t *)client);
    else
        uv_pipe_init(listener->loop, (uv_pipe_t *)client, 0);
    if (uv_accept(listener, client) != 0) {
        uvproc__common_close_free((uv_handle_t *)client);
        return;
    }
    client->data = NULL;
    s->o.on_connection(s, client);
}

static int uvproc__cw_port(uv_stream_t *listener)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    if (listener->type != UV_TCP ||
        uv_tcp_getsockname((uv_tcp_t *)listener, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    return ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
}

/* The outcome of a listen: status 0 starts serving and tells the primary (act:'listening'). */
static void uvproc__cw_listen_done(uvproc_cluster_server_t *s, int status)
{
    if (status == 0) {
        s->listening = 1;
        json_t *m = json_deep_copy(s->query);
        if (m != NULL) {
            json_object_set_new(m, "act", json_string("listening"));
            json_object_set_new(m, "port", json_integer(s->port));
            uvproc__cluster_send(&s->w->peer, m, NULL, NULL, NULL, NULL, NULL);
        }
    }
    if (s->o.on_listening != NULL)
        s->o.on_listening(s, status);
    if (status != 0)
        uvproc__cw_server_close(s, 1);
}

static void uvproc__cw_query_reply(void *arg, json_t *reply, uvproc_handle_t *handle)
{
    uvproc_cluster_server_t *s = arg;
    const char *key = json_string_value(json_object_get(reply, "key"));
    int err;

    s->querying = 0;
    if (s->closed) {
        if (handle != NULL)
            uvproc_handle_close(handle->stream);
        uvproc__cw_server_free(s);
        return;
    }
    if (reply == NULL) {
        uvproc__cw_listen_done(s, UV_ECANCELED); /* the channel went first */
        return;
    }
    err = uvproc__cluster_errno(reply);
    if (err == 0 && (key == NULL || (s->key = strdup(key)) == NULL))
        err = key == NULL ? UV_EPROTO : UV_ENOMEM;
    if (handle != NULL) {
        /* Shared policy: the primary bound it, this worker listens and accepts. */
        s->listener = handle->stream;
        s->listener->data = s;
        if (err == 0)
            err = uv_listen(s->listener, s->o.backlog != 0 ? s->o.backlog : 511,
                            uvproc__cw_on_connection);
        s->port = s->path != NULL ? -1 : uvproc__cw_port(s->listener);
    } else if (err == 0) {
        /* Round-robin: connections come as newconn messages; the port is the primary's. */
        json_t *port = json_object_get(json_object_get(reply, "sockname"), "port");
        s->port = json_is_integer(port) ? (int)json_integer_value(port) : -1;
    }
    uvproc__cw_listen_done(s, err);
}

static int64_t uvproc__cw_next_index(uvproc_cluster_child_t *w, const char *triple)
{
    uvproc__cl_index_t *e;
    uvproc__common_list_t *n;
    uvproc__common_list_foreach(n, &w->indexes) {
        e = uvproc__common_list_entry(n, uvproc__cl_index_t, node);
        if (strcmp(e->triple, triple) == 0)
            return e->next++;
    }
    e = calloc(1, sizeof *e);
    if (e == NULL || (e->triple = strdup(triple)) == NULL) {
        free(e);
        return -1;
    }
    e->next = 1;
    uvproc__common_list_unshift(&w->indexes, &e->node);
    return 0;
}

int uvproc_cluster_listen(uvproc_cluster_child_t *w, uvproc_cluster_server_t **out,
                          const uvproc_cluster_listen_options_t *o)
{
    uvproc_cluster_server_t *s;
    char triple[512];
    int type, port, err;
    int64_t index;

    if (out != NULL)
        *out = NULL;
    if (w == NULL || o == NULL || o->on_connection == NULL)
        return UV_EINVAL;
    if (w->peer.ch == NULL || w->asked)
        return UV_EPIPE;
    if (o->path == NULL && (o->port < 0 || o->port > 65535))
        return UV_EINVAL;
    if (o->path != NULL && (o->path[0] == '\0' || strlen(o->path) > 200))
        return UV_EINVAL;
    type = o->path != NULL ? -1 : o->host != NULL && strchr(o->host, ':') != NULL ? 6 : 4;
    port = o->path != NULL ? -1 : o->port;
    snprintf(triple, sizeof triple, "%s:%d:%d",
             o->path != NULL   ? o->path
             : o->host != NULL ? o->host
                               : "null",
             port, type);
    index = uvproc__cw_next_index(w, triple);
    s = calloc(1, sizeof *s);
    if (index < 0 || s == NULL) {
        free(s);
        return UV_ENOMEM;
    }
    s->w = w;
    uvproc__common_list_init(&s->node);
    s->o = *o;
    s->host = o->host != NULL ? strdup(o->host) : NULL;
    s->path = o->path != NULL ? strdup(o->path) : NULL;
    s->o.host = s->host;
    s->o.path = s->path;
    /* Node's queryServer fields (lib/net.js listenInCluster, cluster/child.js _getServer). */
    s->query = json_object();
    if (s->query != NULL &&
        (json_object_set_new(s->query, "act", json_string("queryServer")) != 0 ||
         json_object_set_new(s->query, "index", json_integer(index)) != 0 ||
         json_object_set_new(s->query, "data", json_null()) != 0 ||
         json_object_set_new(s->query, "address",
                             o->path != NULL   ? json_string(o->path)
                             : o->host != NULL ? json_string(o->host)
                                               : json_null()) != 0 ||
         json_object_set_new(s->query, "port", json_integer(port)) != 0 ||
         json_object_set_new(s->query, "addressType", json_integer(type)) != 0 ||
         json_object_set_new(s->query, "flags", json_integer(0)) != 0 ||
         json_object_set_new(s->query, "backlog",
                             json_integer(o->backlog != 0 ? o->backlog : 511)) != 0)) {
        json_decref(s->query);
        s->query = NULL;
    }
    if (s->query == NULL || (o->host != NULL && s->host == NULL) ||
        (o->path != NULL && s->path == NULL)) {
        json_decref(s->query);
        free(s->host);
        free(s->path);
        free(s);
        return UV_ENOMEM;
    }
    uvproc__common_list_unshift(&w->servers, &s->node);
    err = uvproc__cluster_send(&w->peer, json_deep_copy(s->query), NULL, uvproc__cw_query_reply, s,
                               NULL, NULL);
    if (err != 0) {
        s->closed = 1;
        uvproc__cw_server_free(s);
        return err;
    }
    s->querying = 1;
    if (out != NULL)
        *out = s;
    return 0;
}

/* Round-robin: a connection the primary accepted. Node answers before it looks at the socket;
 * a server that is gone refuses, and the primary gives the socket to another worker. */
static void uvproc__cw_newconn(uvproc_cluster_child_t *w, json_t *msg, uvproc_handle_t *handle)
{
    const char *key = json_string_value(json_object_get(msg, "key"));
    json_t *seq = json_object_get(msg, "seq");
    uvproc_cluster_server_t *s = NULL;
    uvproc__common_list_t *n;

    uvproc__common_list_foreach(n, &w->servers) {
        uvproc_cluster_server_t *t = uvproc__common_list_entry(n, uvproc_cluster_server_t, node);
        if (key != NULL && t->listening && !t->closed && t->listener == NULL &&
            strcmp(t->key, key) == 0) {
            s = t;
            break;
        }
    }
    if (key == NULL || handle == NULL)
        s = NULL;
    uvproc__cluster_send(
        &w->peer,
        json_pack("{s:O,s:b}", "ack", seq != NULL ? seq : json_null(), "accepted", s != NULL), NULL,
        NULL, NULL, NULL, NULL);
    if (s == NULL) {
        if (handle != NULL)
            uvproc_handle_close(handle->stream);
        if (key == NULL || handle == NULL)
            uvproc__cw_report(w, UV_EPROTO);
        return;
    }
    handle->stream->data = NULL;
    s->o.on_connection(s, handle->stream);
}

static void uvproc__cw_close_servers(uvproc_cluster_child_t *w, int quiet)
{
    uvproc__common_list_t *n, *next;
    uvproc__common_list_foreach_safe(n, next, &w->servers)
        uvproc__cw_server_close(uvproc__common_list_entry(n, uvproc_cluster_server_t, node), quiet);
}

/* Node's _disconnect(primaryInitiated = true): close every server, then the channel. */
static void uvproc__cw_primary_disconnect(uvproc_cluster_child_t *w)
{
    if (w->asked)
        return;
    w->asked = 1;
    uvproc__cw_close_servers(w, 0);
    uvproc_channel_disconnect(w->peer.ch);
}

static void uvproc__cw_on_internal(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc_cluster_child_t *w = uvproc_channel_data(ch);
    const char *act;

    if (!uvproc__cluster_is_cluster(msg) || uvproc__cluster_route_reply(&w->peer, msg, handle)) {
        if (!uvproc__cluster_is_cluster(msg) && handle != NULL)
            uvproc_handle_close(handle->stream);
        return;
    }
    act = uvproc__cluster_act(msg);
    if (act != NULL && strcmp(act, "newconn") == 0) {
        uvproc__cw_newconn(w, msg, handle);
        return;
    }
    if (handle != NULL)
        uvproc_handle_close(handle->stream);
    if (act != NULL && strcmp(act, "disconnect") == 0)
        uvproc__cw_primary_disconnect(w);
    else
        uvproc__cw_report(w, UV_EPROTO); /* unknown to Node's worker too: it ignores them */
}

static void uvproc__cw_on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc_cluster_child_t *w = uvproc_channel_data(ch);
    if (handle != NULL)
        uvproc_handle_close(handle->stream);
    if (w->o.on_message != NULL)
        w->o.on_message(w, msg);
}

static void uvproc__cw_on_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)line;
    (void)len;
    uvproc__cw_report(uvproc_channel_data(ch), err);
}

static void uvproc__cw_on_disconnect(uvproc_channel_t *ch)
{
    uvproc_cluster_child_t *w = uvproc_channel_data(ch);
    uvproc__common_list_t *n;
    w->peer.ch = NULL;
    uvproc__cluster_cancel_all(&w->peer);
    uvproc__cw_close_servers(w, 1);
    if (w->o.on_disconnect != NULL)
        w->o.on_disconnect(w, w->asked);
    while ((n = uvproc__common_list_shift(&w->indexes)) != NULL) {
        uvproc__cl_index_t *e = uvproc__common_list_entry(n, uvproc__cl_index_t, node);
        free(e->triple);
        free(e);
    }
    free(w);
}

int uvproc_cluster_child_start(uv_loop_t *loop, uvproc_cluster_child_t **out,
                               const uvproc_cluster_child_options_t *options)
{
    uvproc_channel_options_t co = {0};
    uvproc_cluster_child_t *w;
    const char *id = getenv("NODE_UNIQUE_ID");
    int err;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return UV_EINVAL;
    if (id == NULL || id[0] == '\0')
        return UVPROC_ENOCHANNEL;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return UV_ENOMEM;
    w->loop = loop;
    uvproc__common_list_init(&w->servers);
    uvproc__common_list_init(&w->indexes);
    if (options != NULL)
        w->o = *options;
    w->id = (unsigned)strtoul(id, NULL, 10); /* Node: +NODE_UNIQUE_ID | 0 */
    co.data = w;
    co.on_message = uvproc__cw_on_message;
    co.on_internal = uvproc__cw_on_internal;
    co.on_error = uvproc__cw_on_error;
    co.on_disconnect = uvproc__cw_on_disconnect;
    err = uvproc_channel_from_parent(loop, &w->peer.ch, &co);
    if (err != 0) {
        free(w);
        return err;
    }
    unsetenv("NODE_UNIQUE_ID"); /* as Node: grandchildren are not workers */
    uvproc__cluster_send(&w->peer, json_pack("{s:s}", "act", "online"), NULL, NULL, NULL, NULL,
                         NULL);
    *out = w;
    return 0;
}

unsigned uvproc_cluster_child_id(const uvproc_cluster_child_t *w)
{
    return w->id;
}

void *uvproc_cluster_child_data(const uvproc_cluster_child_t *w)
{
    return w->o.data;
}

int uvproc_cluster_child_send(uvproc_cluster_child_t *w, const json_t *msg)
{
    return w != NULL ? uvproc__cluster_send_user(&w->peer, msg) : UV_EINVAL;
}

static void uvproc__cw_goodbye_acked(void *arg, json_t *reply, uvproc_handle_t *handle)
{
    uvproc_cluster_child_t *w = arg;
    (void)reply;
    if (handle != NULL)
        uvproc_handle_close(handle->stream);
    if (w->peer.ch != NULL)
        uvproc_channel_disconnect(w->peer.ch);
}

int uvproc_cluster_child_disconnect(uvproc_cluster_child_t *w)
{
    int err;
    if (w == NULL)
        return UV_EINVAL;
    if (w->peer.ch == NULL || w->asked)
        return UV_EPIPE;
    w->asked = 1;
    uvproc__cw_close_servers(w, 0);
    /* The primary must know before the channel closes that this exit is wanted. */
    err = uvproc__cluster_send(&w->peer, json_pack("{s:s}", "act", "exitedAfterDisconnect"), NULL,
                               uvproc__cw_goodbye_acked, w, NULL, NULL);
    if (err != 0)
        uvproc_channel_disconnect(w->peer.ch);
    return 0;
}

int uvproc_cluster_server_port(const uvproc_cluster_server_t *s)
{
    return s->port;
}

void *uvproc_cluster_server_data(const uvproc_cluster_server_t *s)
{
    return s->o.data;
}

int uvproc_cluster_server_close(uvproc_cluster_server_t *s)
{
    if (s == NULL)
        return UV_EINVAL;
    if (s->closed)
        return UV_EALREADY;
    uvproc__cw_server_close(s, 0);
    return 0;
}
