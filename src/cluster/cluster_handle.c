/* The primary's listening sockets, one per key (address:port:type:fd:index), shared by every
 * worker that asks for the same one (Node: round_robin_handle.js, shared_handle.js).
 *
 * Unlike Node, a handle stays open when its last worker dies and the slot will be restarted:
 * connections that arrive while a worker is being replaced wait in the kernel's backlog
 * instead of being refused, which is what makes restarts and reloads lose nothing. It is kept
 * for that replacement only (issue 16, fault 3): released when the slot is not restarted
 * (stopped, crash loop, restarts disabled), when the replacement itself ends without having
 * asked for it again, or, as in Node, when its last worker closes its server. A worker may
 * hold at most MAX_KEYS distinct keys; a request past that is answered EMFILE (and reported
 * as UVPROC_ELISTENLIMIT), so one worker cannot make the primary open sockets without bound.
 *
 * Round-robin: the primary listens. When a connection arrives and no worker is free, it is
 * left in libuv (not accepted): libuv then stops polling the socket, so further connections
 * queue in the kernel and no user-space queue can grow without bound. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"
#include "common/common.h"

/* Distinct listen keys one worker may hold (Node apps use a handful). */
#define MAX_KEYS 64

typedef struct {
    uvproc_cluster_worker_t *w;
    int busy; /* a newconn is in flight (one per worker, as Node) */
} uvproc__cl_entry_t;

struct uvproc__cluster_handle_s {
    uvproc_cluster_t *c;
    char *key;
    int rr;
    int address_type;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } u;
    int initialised, closed;
    json_t *data;
    json_t *sockname; /* round-robin TCP: what the worker's server.address() shows */
    uvproc__cl_entry_t *ws;
    size_t nws, cap, cursor;
    int waiting;        /* round-robin: libuv holds a connection we have not accepted */
    uv_stream_t **back; /* round-robin: connections a worker refused, to give to another */
    size_t nback, backcap;
    /* Kept for a restart: the slot whose process (NODE_UNIQUE_ID orphan_id) was its last
     * worker; NULL while a worker has it. */
    uvproc_cluster_worker_t *orphan_of;
    unsigned orphan_id;
    int released;  /* closed and unlinked mid-run: freed once closed and nothing in flight */
    int inflight;  /* newconns in flight: they point here */
    int close_done;
    uvproc__common_list_t node; /* on c->handles until released */
};

/* One connection handed to a worker: settled when both the send and the reply are done. */
typedef struct {
    uvproc__cluster_handle_t *h;
    uvproc_cluster_worker_t *w;
    uv_stream_t *conn;
    int refs;
    int received; /* the worker acknowledged the fd */
    int accepted;
} uvproc__cl_inflight_t;

static void uvproc__cl_rr_dispatch(uvproc__cluster_handle_t *h);
static void uvproc__cl_maybe_free_released(uvproc__cluster_handle_t *h);

/* The cluster's handles. The cluster is calloc()ed where this file cannot see: a zeroed head
 * is an empty list, set up here on first use. */
static uvproc__common_list_t *uvproc__cl_handles(uvproc_cluster_t *c)
{
    if (c->handles.next == NULL)
        uvproc__common_list_init(&c->handles);
    return &c->handles;
}

static uvproc__cluster_handle_t *uvproc__cl_handle_at(uvproc__common_list_t *n)
{
    return uvproc__common_list_entry(n, uvproc__cluster_handle_t, node);
}

static uv_stream_t *uvproc__cl_new_stream(uvproc__cluster_handle_t *h)
{
    uv_stream_t *s;
    if (h->address_type == -1) {
        s = malloc(sizeof(uv_pipe_t));
        if (s != NULL)
            uv_pipe_init(h->c->loop, (uv_pipe_t *)s, 0);
    } else {
        s = malloc(sizeof(uv_tcp_t));
        if (s != NULL)
            uv_tcp_init(h->c->loop, (uv_tcp_t *)s);
    }
    return s;
}

static uvproc__cl_entry_t *uvproc__cl_find(uvproc__cluster_handle_t *h, uvproc_cluster_worker_t *w)
{
    for (size_t i = 0; i < h->nws; i++)
        if (h->ws[i].w == w)
            return &h->ws[i];
    return NULL;
}

static int uvproc__cl_push_back(uvproc__cluster_handle_t *h, uv_stream_t *conn)
{
    uv_stream_t **grown = uvproc__common_grow(h->back, &h->backcap, h->nback, sizeof *grown, 4);
    if (grown == NULL)
        return UV_ENOMEM;
    h->back = grown;
    h->back[h->nback++] = conn;
    return 0;
}

/* A connection no worker took: give it to another one, or drop it once the cluster closes. */
static void uvproc__cl_redistribute(uvproc__cluster_handle_t *h, uv_stream_t *conn)
{
    if (h->closed || uvproc__cl_push_back(h, conn) != 0) {
        uvproc__common_close_free((uv_handle_t *)conn);
        return;
    }
    uvproc__cl_rr_dispatch(h);
}

static void uvproc__cl_inflight_settle(uvproc__cl_inflight_t *f)
{
    uvproc__cl_entry_t *e;
    if (--f->refs > 0)
        return;
    e = uvproc__cl_find(f->h, f->w);
    if (e != NULL)
        e->busy = 0;
    /* Refused, or never received: another worker can still serve it. Received and the
     * worker died before answering: it may have read the request, so it is not replayed. */
    if (f->accepted == 1 || (f->accepted == -1 && f->received))
        uvproc__common_close_free((uv_handle_t *)f->conn);
    else
        uvproc__cl_redistribute(f->h, f->conn);
    uvproc__cl_rr_dispatch(f->h);
    f->h->inflight--;
    uvproc__cl_maybe_free_released(f->h);
    free(f);
}

static void uvproc__cl_newconn_sent(uvproc_channel_t *ch, int status, void *arg)
{
    uvproc__cl_inflight_t *f = arg;
    (void)ch;
    f->received = status == 0;
    uvproc__cl_inflight_settle(f);
}

static void uvproc__cl_newconn_reply(void *arg, json_t *reply, uvproc_handle_t *handle)
{
    uvproc__cl_inflight_t *f = arg;
    if (handle != NULL)
        uvproc_handle_close(handle->stream); /* received from the worker: ours to close */
    if (reply != NULL)
        f->accepted = json_is_true(json_object_get(reply, "accepted")) ? 1 : 0;
    uvproc__cl_inflight_settle(f);
}

static uvproc__cl_entry_t *uvproc__cl_next_free(uvproc__cluster_handle_t *h)
{
    for (size_t k = 0; k < h->nws; k++) {
        size_t i = (h->cursor + k) % h->nws;
        if (!h->ws[i].busy) {
            h->cursor = i + 1;
            return &h->ws[i];
        }
    }
    return NULL;
}

static uv_stream_t *uvproc__cl_take_conn(uvproc__cluster_handle_t *h)
{
    uv_stream_t *conn;
    if (h->nback > 0) {
        conn = h->back[0];
        memmove(h->back, h->back + 1, --h->nback * sizeof *h->back);
        return conn;
    }
    h->waiting = 0;
    conn = uvproc__cl_new_stream(h);
    if (conn == NULL)
        return NULL; /* libuv keeps it: the next uv_accept retries */
    if (uv_accept((uv_stream_t *)&h->u, conn) != 0) {
        uvproc__common_close_free((uv_handle_t *)conn);
        return NULL;
    }
    return conn;
}

static void uvproc__cl_rr_dispatch(uvproc__cluster_handle_t *h)
{
    while (!h->closed && (h->nback > 0 || h->waiting)) {
        uvproc__cl_entry_t *e = uvproc__cl_next_free(h);
        uvproc__cl_inflight_t *f;
        uv_stream_t *conn;
        int err;

        if (e == NULL)
            return;
        f = calloc(1, sizeof *f);
        if (f == NULL)
            return;
        conn = uvproc__cl_take_conn(h);
        if (conn == NULL) {
            free(f);
            return;
        }
        *f = (uvproc__cl_inflight_t){h, e->w, conn, 2, 0, -1};
        e->busy = 1;
        h->inflight++;
        err = uvproc__cluster_send(&e->w->peer,
                                   json_pack("{s:s,s:s}", "act", "newconn", "key", h->key), conn,
                                   uvproc__cl_newconn_reply, f, uvproc__cl_newconn_sent, f);
        if (err != 0) {
            /* The worker's channel is gone: it gets nothing more from this handle. */
            h->inflight--;
            free(f);
            memmove(e, e + 1, (size_t)(h->ws + h->nws - e - 1) * sizeof *e);
            h->nws--;
            uvproc__cl_redistribute(h, conn);
            return;
        }
    }
}

static void uvproc__cl_on_connection(uv_stream_t *server, int status)
{
    uvproc__cluster_handle_t *h = server->data;
    if (status != 0)
        return; /* EMFILE and the like: libuv retries on the next readiness */
    h->waiting = 1;
    uvproc__cl_rr_dispatch(h);
}

/* The address to bind: the worker's, else the cluster's host; all interfaces when neither
 * names one ("::", which takes IPv4 too, as Node binds it). */
static int uvproc__cl_sockaddr(const char *address, int port, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    if (address == NULL)
        address = "::";
    if (uv_ip4_addr(address, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    return uv_ip6_addr(address, port, (struct sockaddr_in6 *)ss);
}

/* Shared policy: bind now, so that EADDRINUSE is the answer to this request (libuv and Node
 * defer it to the worker's listen); the worker listens on the socket it receives. */
static int uvproc__cl_bind_shared(uvproc__cluster_handle_t *h, const struct sockaddr_storage *ss)
{
    int one = 1, fd, err;
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0) {
        err = -errno;
        close(fd);
        return err;
    }
    err = uv_tcp_open(&h->u.tcp, fd);
    if (err != 0)
        close(fd);
    return err;
}

static int uvproc__cl_bind(uvproc__cluster_handle_t *h, const struct sockaddr_storage *ss)
{
    if (h->rr)
        return uv_tcp_bind(&h->u.tcp, (const struct sockaddr *)ss, 0);
    return uvproc__cl_bind_shared(h, ss);
}

static int uvproc__cl_sockname(uvproc__cluster_handle_t *h)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[64];
    int port;
    if (uv_tcp_getsockname(&h->u.tcp, (struct sockaddr *)&ss, &len) != 0)
        return UV_EINVAL;
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, ip, sizeof ip);
        port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    }
    h->sockname = json_pack("{s:s,s:s,s:i}", "address", ip, "family",
                            ss.ss_family == AF_INET6 ? "IPv6" : "IPv4", "port", port);
    return h->sockname != NULL ? 0 : UV_ENOMEM;
}

static int uvproc__cl_open(uvproc__cluster_handle_t *h, const uvproc__cluster_query_t *q)
{
    uvproc_cluster_t *c = h->c;
    struct sockaddr_storage ss;
    int err;

    h->u.tcp.data = NULL;
    if (q->address_type == -1) {
        uv_pipe_init(c->loop, &h->u.pipe, 0);
        h->initialised = 1;
        err = uv_pipe_bind(&h->u.pipe, q->address);
    } else {
        const char *address = q->address != NULL ? q->address : c->o.host;
        int port = (int)q->port;
        /* A socket systemd or the previous primary already listens on: never rebind it. */
        int fd = uvproc__cluster_take_inherited(c, address, port, q->address_type);
        uv_tcp_init(c->loop, &h->u.tcp);
        h->initialised = 1;
        if (fd >= 0) {
            err = uv_tcp_open(&h->u.tcp, fd);
            if (err != 0)
                close(fd);
        } else {
            err = uvproc__cl_sockaddr(address, port, &ss);
            if (err == 0)
                err = uvproc__cl_bind(h, &ss);
        }
        if (fd < 0 && address == NULL && (err == UV_EAFNOSUPPORT || err == UV_EADDRNOTAVAIL)) {
            /* No IPv6 here: all interfaces are IPv4's, as Node falls back to 0.0.0.0. */
            uvproc__cl_sockaddr("0.0.0.0", port, &ss);
            err = uvproc__cl_bind(h, &ss);
        }
    }
    h->u.tcp.data = h;
    if (err == 0 && h->rr)
        err = uv_listen((uv_stream_t *)&h->u, (int)q->backlog, uvproc__cl_on_connection);
    if (err == 0 && h->rr && q->address_type != -1)
        err = uvproc__cl_sockname(h);
    return err;
}

static void uvproc__cl_handle_closed(uv_handle_t *s)
{
    uvproc__cluster_handle_t *h = s->data;
    uvproc_cluster_t *c = h->c;
    h->close_done = 1;
    uvproc__cl_maybe_free_released(h);
    if (--c->pending_closes == 0)
        uvproc__cluster_handles_closed(c);
}

static void uvproc__cl_handle_close(uvproc__cluster_handle_t *h)
{
    if (h->closed)
        return;
    h->closed = 1;
    while (h->nback > 0)
        uvproc__common_close_free((uv_handle_t *)h->back[--h->nback]);
    if (h->initialised) {
        h->c->pending_closes++;
        uv_close((uv_handle_t *)&h->u, uvproc__cl_handle_closed);
    }
}

/* Frees a handle whose server has closed (or never opened). */
static void uvproc__cl_handle_free(uvproc__cluster_handle_t *h)
{
    free(h->key);
    free(h->ws);
    free(h->back);
    json_decref(h->data);
    json_decref(h->sockname);
    free(h);
}

static void uvproc__cl_maybe_free_released(uvproc__cluster_handle_t *h)
{
    if (h->released && h->close_done && h->inflight == 0)
        uvproc__cl_handle_free(h);
}

/* Closes a handle no worker uses any more, mid-run: its fd goes now, its memory once the
 * close is done and no connection handed out from it is still in flight. */
static void uvproc__cl_release(uvproc__cluster_handle_t *h)
{
    uvproc__common_list_remove(&h->node);
    h->released = 1;
    if (!h->initialised)
        h->close_done = 1;
    uvproc__cl_handle_close(h);
    uvproc__cl_maybe_free_released(h);
}

/* Distinct keys `w` holds now. */
static size_t uvproc__cl_keys_of(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    uvproc__common_list_t *n;
    size_t keys = 0;
    uvproc__common_list_foreach(n, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(n);
        keys += !h->closed && uvproc__cl_find(h, w) != NULL;
    }
    return keys;
}

static uvproc__cluster_handle_t *uvproc__cl_lookup(uvproc_cluster_t *c, const char *key)
{
    uvproc__common_list_t *n;
    uvproc__common_list_foreach(n, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(n);
        if (!h->closed && strcmp(h->key, key) == 0)
            return h;
    }
    return NULL;
}

static int uvproc__cl_add(uvproc__cluster_handle_t *h, uvproc_cluster_worker_t *w)
{
    uvproc__cl_entry_t *grown;
    if (uvproc__cl_find(h, w) != NULL)
        return 0;
    h->orphan_of = NULL; /* wanted again */
    grown = uvproc__common_grow(h->ws, &h->cap, h->nws, sizeof *grown, 4);
    if (grown == NULL)
        return UV_ENOMEM;
    h->ws = grown;
    h->ws[h->nws++] = (uvproc__cl_entry_t){w, 0};
    return 0;
}

/* Node's reply: {errno, key, ack, data, sockname?}, with the bound socket for SCHED_NONE. */
static void uvproc__cl_answer(uvproc_cluster_worker_t *w, json_t *query, const char *key, int err,
                              uvproc__cluster_handle_t *h)
{
    json_t *seq = json_object_get(query, "seq");
    json_t *reply = json_object();
    json_t *data = h != NULL && h->data != NULL ? h->data : json_object_get(query, "data");
    int shared = h != NULL && !h->rr && err == 0;

    if (reply == NULL)
        return;
    /* Node: null for a round-robin success, 0 for a shared one, the negative code else. */
    json_object_set_new(reply, "errno",
                        err != 0 ? json_integer(err)
                        : shared ? json_integer(0)
                                 : json_null());
    json_object_set_new(reply, "key", json_string(key));
    json_object_set(reply, "ack", seq != NULL ? seq : json_null());
    json_object_set(reply, "data", data != NULL ? data : json_null());
    if (err == 0 && h->sockname != NULL)
        json_object_set(reply, "sockname", h->sockname);
    err = uvproc__cluster_send(&w->peer, reply, shared ? (uv_stream_t *)&h->u : NULL, NULL, NULL,
                               NULL, NULL);
    if (err != 0)
        uvproc__cluster_report(w, err, query);
}

void uvproc__cluster_query_server(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc_cluster_t *c = w->cluster;
    uvproc__cluster_query_t q;
    uvproc__cluster_handle_t *h;
    char *key;
    int err = uvproc__cluster_parse_query(msg, &q);

    if (err != 0) {
        /* Answered too, when it can be: a worker waiting for its reply would wait forever. */
        uvproc__cluster_report(w, err, msg);
        if (json_object_get(msg, "seq") != NULL)
            uvproc__cl_answer(w, msg, "", err, NULL);
        return;
    }
    /* Node: a worker already told to leave gets no new server. */
    if (w->voluntary || w->state == UVPROC_WORKER_STOPPING || c->stopping)
        return;
    key = uvproc__cluster_key(&q);
    if (key == NULL)
        return;
    h = uvproc__cl_lookup(c, key);
    if ((h == NULL || uvproc__cl_find(h, w) == NULL) && uvproc__cl_keys_of(c, w) >= MAX_KEYS) {
        /* EMFILE is what a Node worker's listen() can name; the user hears our own code. */
        uvproc__cl_answer(w, msg, key, UV_EMFILE, NULL);
        uvproc__cluster_report(w, UVPROC_ELISTENLIMIT, msg);
        free(key);
        return;
    }
    if (h == NULL) {
        h = calloc(1, sizeof *h);
        if (h == NULL) {
            free(key);
            return;
        }
        h->c = c;
        h->key = key;
        key = NULL;
        h->rr = c->o.policy == UVPROC_CLUSTER_RR;
        h->address_type = q.address_type;
        h->data = q.data != NULL ? json_incref(q.data) : NULL;
        uvproc__common_list_unshift(uvproc__cl_handles(c), &h->node);
        err = uvproc__cl_open(h, &q);
        if (err != 0) {
            /* As Node: the failed handle goes, so a later request tries again. */
            uvproc__cl_answer(w, msg, h->key, err, h);
            uvproc__cluster_report(w, err, msg);
            uvproc__cl_release(h);
            return;
        }
    }
    free(key);
    err = uvproc__cl_add(h, w);
    uvproc__cl_answer(w, msg, h->key, err, h);
    if (h->rr)
        uvproc__cl_rr_dispatch(h); /* connections may be waiting for a worker */
}

static void uvproc__cl_remove(uvproc__cluster_handle_t *h, uvproc_cluster_worker_t *w)
{
    uvproc__cl_entry_t *e = uvproc__cl_find(h, w);
    if (e == NULL)
        return;
    memmove(e, e + 1, (size_t)(h->ws + h->nws - e - 1) * sizeof *e);
    h->nws--;
}

void uvproc__cluster_close_server(uvproc_cluster_worker_t *w, json_t *msg)
{
    const char *key = json_string_value(json_object_get(msg, "key"));
    uvproc__cluster_handle_t *h;
    if (key == NULL) {
        uvproc__cluster_report(w, UV_EPROTO, msg);
        return;
    }
    h = uvproc__cl_lookup(w->cluster, key);
    if (h == NULL || uvproc__cl_find(h, w) == NULL)
        return;
    uvproc__cl_remove(h, w);
    if (h->nws == 0 && !w->cluster->stopping)
        uvproc__cl_release(h); /* as Node: the last worker closed its server */
}

void uvproc__cluster_forget_worker(uvproc_cluster_worker_t *w)
{
    uvproc_cluster_t *c = w->cluster;
    uvproc__common_list_t *n, *next;
    /* Kept for this slot's previous process and not asked for again by this one: gone. */
    uvproc__common_list_foreach_safe(n, next, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(n);
        if (h->nws == 0 && h->orphan_of == w && h->orphan_id != w->id && !c->stopping)
            uvproc__cl_release(h); /* unlinks h only */
    }
    uvproc__common_list_foreach(n, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(n);
        if (uvproc__cl_find(h, w) == NULL)
            continue;
        uvproc__cl_remove(h, w);
        if (h->nws == 0) {
            h->orphan_of = w;
            h->orphan_id = w->id;
        }
    }
    if (w->state == UVPROC_WORKER_STOPPING || w->state == UVPROC_WORKER_DEAD)
        uvproc__cluster_release_orphans(w);
}

void uvproc__cluster_release_orphans(uvproc_cluster_worker_t *w)
{
    uvproc_cluster_t *c = w->cluster;
    uvproc__common_list_t *n, *next;
    if (c->stopping)
        return; /* every handle closes with the cluster */
    uvproc__common_list_foreach_safe(n, next, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(n);
        if (h->nws == 0 && h->orphan_of == w)
            uvproc__cl_release(h);
    }
}

void uvproc__cluster_close_handles(uvproc_cluster_t *c)
{
    uvproc__common_list_t *n;
    c->pending_closes++; /* held while closing, so the callback comes once, at the end */
    uvproc__common_list_foreach(n, uvproc__cl_handles(c))
        uvproc__cl_handle_close(uvproc__cl_handle_at(n));
    if (--c->pending_closes == 0)
        uvproc__cluster_handles_closed(c);
}

void uvproc__cluster_free_handles(uvproc_cluster_t *c)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(uvproc__cl_handles(c))) != NULL)
        uvproc__cl_handle_free(uvproc__cl_handle_at(n));
}

size_t uvproc__cluster_handle_fds(uvproc_cluster_t *c, int *fds, size_t max)
{
    uvproc__common_list_t *node;
    size_t n = 0;
    uvproc__common_list_foreach(node, uvproc__cl_handles(c)) {
        uvproc__cluster_handle_t *h = uvproc__cl_handle_at(node);
        uv_os_fd_t fd;
        if (h->closed || !h->initialised || uv_fileno((uv_handle_t *)&h->u, &fd) != 0)
            continue;
        if (n < max)
            fds[n] = fd;
        n++;
    }
    return n;
}
