/* loadtest_child: one load child. It adopts the IPC channel its parent forked it with, waits
 * for its configuration, then keeps `connections` keep-alive HTTP/1.1 connections busy on its
 * own libuv loop: a request goes out as soon as the previous response on that connection is
 * whole (or, with a rate, at its intended time), responses are parsed by http_parser, and
 * every LT_REPORT_MS the counts gathered since the last report go to the parent.
 *
 * Failures are counted by kind (loadtest.h) and the connection is made again: at once after a
 * reset or a close, after a short back-off after a failed connect or handshake (so a server
 * that is not listening is not hammered with connects). A 101 answer retires the connection.
 *
 * With https, TLS sits between the socket and the parser (loadtest_tls.c): ciphertext in,
 * plaintext to the parser; the request is encrypted and the ciphertext written as is. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "loadtest.h"

typedef enum {
    CONN_CONNECTING,
    CONN_HANDSHAKE, /* TLS: connected, handshake under way */
    CONN_IDLE,      /* connected, no request out (budget spent, or waiting for its rate slot) */
    CONN_BUSY,      /* a request is out */
    CONN_CLOSING,   /* uv_close called */
    CONN_CLOSED,    /* handle closed; reconnects after the back-off, or stays closed */
    CONN_RETIRED,   /* closed for good (101 Switching Protocols) */
} conn_state_t;

typedef struct child_s child_t;

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer; /* rate slot, or reconnect back-off */
    lt_http_t http;
    child_t *child;
    conn_state_t state;
    int counted_open;    /* counted in child->open */
    int writing;         /* writes queued (the bytes did not fit the socket at once) */
    int retire;          /* once closed, stay closed */
    lt_tls_t *tls;       /* https only */
    uint64_t start_ns;   /* latency origin: the send time, or the intended one (rate) */
    uint64_t sent_ns;    /* when the request (or the connect) started, for timeouts */
    uint64_t next_ns;    /* rate mode: intended time of the next request */
    uint64_t backoff_ms; /* after failed connects */
} conn_t;

struct child_s {
    uv_loop_t *loop;
    uvproc_channel_t *ch;
    lt_child_config_t cfg;
    struct sockaddr_storage addr;
    uv_buf_t request;
    conn_t *conns;
    int open;             /* connections established now */
    int tcp_open;         /* tcp handles not yet closed */
    uint64_t sent;        /* requests sent, against the budget */
    uint64_t interval_ns; /* rate mode: time between two requests of one connection */
    int configured, stopping, finished;
    lt_stats_t delta; /* counts since the last report */
    uv_timer_t report_timer, sweep_timer;
    lt_tls_ctx_t *tls;   /* https only */
    char readbuf[65536]; /* one for all connections: every read is parsed at once */
    char plain[65536];   /* TLS: decrypted bytes of one read */
};

/* A write that did not fit the socket at once: its bytes travel with it. */
typedef struct {
    uv_write_t req;
    conn_t *conn;
    uv_buf_t buf;
    char data[];
} pending_write_t;

static void conn_connect(conn_t *c);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_next(conn_t *c, uint64_t now);
static void child_maybe_finish(child_t *ch);

static void note(child_t *ch, const char *what)
{
    if (ch->delta.note[0] == '\0')
        snprintf(ch->delta.note, sizeof ch->delta.note, "%s", what);
}

static void report(child_t *ch, int final)
{
    if (ch->ch == NULL)
        return;
    uvproc_channel_send_new(ch->ch, lt_stats_encode(&ch->delta, final, ch->open), NULL, NULL);
    lt_stats_reset(&ch->delta);
}

static void timer_connect(uv_timer_t *t)
{
    conn_connect(t->data);
}

static void on_conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    child_t *ch = c->child;
    ch->tcp_open--;
    c->state = c->retire ? CONN_RETIRED : CONN_CLOSED;
#ifdef LT_HAVE_TLS
    lt_tls_free(c->tls);
#endif
    c->tls = NULL;
    if (c->retire || ch->stopping || (ch->cfg.budget != 0 && ch->sent >= ch->cfg.budget)) {
        child_maybe_finish(ch);
        return;
    }
    if (c->backoff_ms == 0)
        conn_connect(c);
    else
        uv_timer_start(&c->timer, timer_connect, c->backoff_ms, 0);
}

static void conn_close(conn_t *c)
{
    if (c->state == CONN_CLOSING || c->state == CONN_CLOSED || c->state == CONN_RETIRED)
        return;
    if (c->counted_open) {
        c->counted_open = 0;
        c->child->open--;
    }
    uv_timer_stop(&c->timer);
    c->state = CONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

/* Counts a failure (unless it is our own stop) and closes the connection. Only called on a
 * connection that is not closing, so that nothing is counted twice. */
static void conn_fail(conn_t *c, lt_err_t kind)
{
    if (c->state == CONN_CLOSING || c->state == CONN_CLOSED || c->state == CONN_RETIRED)
        return;
    if (c->child->stopping)
        kind = LT_ERR_COUNT; /* our own shutdown, not the server's fault */
    if (kind != LT_ERR_COUNT)
        c->child->delta.errors[kind]++;
    conn_close(c);
}

static void write_cb(uv_write_t *req, int status);

/* Sends bytes: what fits the socket at once without a copy, the rest queued with a copy.
 * 0, or a libuv error. */
static int conn_write(conn_t *c, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (r == (int)len)
        return 0;
    if (r == UV_EAGAIN)
        r = 0;
    if (r < 0)
        return r;
    pending_write_t *w = malloc(sizeof *w + len - (size_t)r);
    if (w == NULL)
        return UV_ENOMEM;
    memcpy(w->data, data + r, len - (size_t)r);
    w->buf = uv_buf_init(w->data, (unsigned)(len - (size_t)r));
    w->conn = c;
    w->req.data = w;
    r = uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, write_cb);
    if (r != 0) {
        free(w);
        return r;
    }
    c->writing++;
    return 0;
}

#ifdef LT_HAVE_TLS
/* Whatever ciphertext TLS has produced goes out. */
static int tls_flush(conn_t *c)
{
    const char *data;
    size_t n = lt_tls_peek(c->tls, &data);
    if (n == 0)
        return 0;
    /* conn_write sends it or copies what did not fit: either way the BIO is done with it. */
    int r = conn_write(c, data, n);
    lt_tls_consumed(c->tls);
    return r;
}

static void tls_handshake(conn_t *c)
{
    child_t *ch = c->child;
    int r = lt_tls_handshake(c->tls);
    if (tls_flush(c) != 0 || r < 0) {
        if (r < 0)
            note(ch, lt_tls_last_error());
        /* Back off as after a refused connect: a rejected certificate stays rejected. */
        c->backoff_ms = c->backoff_ms == 0 ? 10 : c->backoff_ms * 2 > 250 ? 250 : c->backoff_ms * 2;
        conn_fail(c, LT_ERR_TLS);
        return;
    }
    if (r == 0)
        return;
    ch->delta.handshakes++;
    if (lt_tls_resumed(c->tls))
        ch->delta.resumed++;
    c->backoff_ms = 0;
    c->state = CONN_IDLE;
    conn_next(c, uv_hrtime());
}
#endif

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    child_t *ch = c->child;
    if (status == UV_ECANCELED || c->state != CONN_CONNECTING)
        return; /* closed while connecting (timeout or stop): already accounted */
    if (status != 0) {
        /* Back off 10 ms, doubling to 250 ms, while connects keep failing. */
        c->backoff_ms = c->backoff_ms == 0 ? 10 : c->backoff_ms * 2 > 250 ? 250 : c->backoff_ms * 2;
        note(ch, uv_strerror(status));
        conn_fail(c, status == UV_ECONNREFUSED ? LT_ERR_REFUSED : LT_ERR_CONNECT);
        return;
    }
    c->counted_open = 1;
    ch->open++;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_fail(c, LT_ERR_CONNECT);
        return;
    }
#ifdef LT_HAVE_TLS
    if (ch->tls != NULL) {
        c->tls = lt_tls_new(ch->tls);
        if (c->tls == NULL) {
            note(ch, lt_tls_last_error());
            conn_fail(c, LT_ERR_TLS);
            return;
        }
        c->state = CONN_HANDSHAKE;
        tls_handshake(c);
        return;
    }
#endif
    c->backoff_ms = 0;
    c->state = CONN_IDLE;
    conn_next(c, uv_hrtime());
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)suggested;
    *buf = uv_buf_init(c->child->readbuf, sizeof c->child->readbuf);
}

static void on_response(conn_t *c, uint64_t now)
{
    child_t *ch = c->child;
    unsigned code = lt_http_status(&c->http);
    ch->delta.requests++;
    ch->delta.status[code < LT_STATUS_MAX && code >= 100 ? code : 0]++;
    hdr_record(&ch->delta.latency, (now - c->start_ns) / 1000);
    c->state = CONN_IDLE;
}

/* Plaintext of the answer (or unasked bytes). Returns 0 while the connection lives on. */
static int conn_plain(conn_t *c, const char *data, size_t len)
{
    size_t used;
    if (c->state != CONN_BUSY) {
        conn_fail(c, LT_ERR_UNASKED);
        return -1;
    }
    switch (lt_http_feed(&c->http, data, len, &used)) {
    case LT_HTTP_MORE:
        return 0;
    case LT_HTTP_UPGRADE:
        /* The server switched protocols: this connection is no HTTP any more. Retired, so a
         * server that always upgrades is not asked again and again. */
        c->retire = 1;
        conn_fail(c, LT_ERR_UPGRADE);
        return -1;
    case LT_HTTP_ERROR:
        conn_fail(c, LT_ERR_PARSE);
        return -1;
    case LT_HTTP_DONE:
        break;
    }
    uint64_t now = uv_hrtime();
    on_response(c, now);
    /* One request at a time: bytes after the response are unasked, and so is an answer
     * before the whole request was written (a write is still queued). */
    if (used != len || c->writing) {
        conn_fail(c, LT_ERR_UNASKED);
        return -1;
    }
    if (!lt_http_keep_alive(&c->http)) {
        conn_close(c); /* the server asked to close: not an error, reconnect */
        return -1;
    }
    conn_next(c, now);
    return 0;
}

/* The server ended the connection (EOF, or TLS close_notify). */
static void conn_eof(conn_t *c)
{
    if (c->state != CONN_BUSY) {
        if (c->state == CONN_HANDSHAKE)
            conn_fail(c, LT_ERR_TLS);
        else
            conn_close(c); /* an idle keep-alive connection timed out on the server */
        return;
    }
    /* A body delimited by the end of the connection completes here. */
    if (lt_http_eof(&c->http) == LT_HTTP_DONE) {
        on_response(c, uv_hrtime());
        conn_close(c);
    } else {
        conn_fail(c, LT_ERR_CLOSED);
    }
}

#ifdef LT_HAVE_TLS
static void tls_read(conn_t *c, const char *data, size_t len)
{
    child_t *ch = c->child;
    if (lt_tls_received(c->tls, data, len) != 0) {
        conn_fail(c, c->state == CONN_HANDSHAKE ? LT_ERR_TLS : LT_ERR_OTHER);
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        tls_handshake(c);
        if (c->state != CONN_IDLE && c->state != CONN_BUSY)
            return;
    }
    for (;;) {
        int n = lt_tls_read(c->tls, ch->plain, sizeof ch->plain);
        if (n == 0)
            break;
        if (n == -2) {
            conn_eof(c);
            return;
        }
        if (n < 0) {
            note(ch, lt_tls_last_error());
            conn_fail(c, c->state == CONN_BUSY ? LT_ERR_OTHER : LT_ERR_UNASKED);
            return;
        }
        if (conn_plain(c, ch->plain, (size_t)n) != 0)
            return;
        if (!lt_tls_more(c->tls))
            break;
    }
    /* TLS 1.3 may answer what it read (key updates); the next request may be out already. */
    if (tls_flush(c) != 0)
        conn_fail(c, LT_ERR_OTHER);
}
#endif

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        c->child->delta.bytes += (uint64_t)nread;
#ifdef LT_HAVE_TLS
        if (c->tls != NULL) {
            tls_read(c, buf->base, (size_t)nread);
            return;
        }
#endif
        conn_plain(c, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        conn_eof(c);
        return;
    }
    if (c->state == CONN_HANDSHAKE) {
        conn_fail(c, LT_ERR_TLS);
        return;
    }
    if (c->state != CONN_BUSY) {
        conn_close(c); /* a reset of an idle connection loses no request */
        return;
    }
    conn_fail(c, nread == UV_ECONNRESET || nread == UV_EPIPE ? LT_ERR_RESET : LT_ERR_OTHER);
}

static void write_cb(uv_write_t *req, int status)
{
    pending_write_t *w = req->data;
    conn_t *c = w->conn;
    free(w);
    c->writing--;
    if (status == 0 || status == UV_ECANCELED)
        return;
    conn_fail(c, status == UV_EPIPE || status == UV_ECONNRESET ? LT_ERR_RESET : LT_ERR_OTHER);
}

static void conn_send(conn_t *c, uint64_t start_ns, uint64_t now)
{
    child_t *ch = c->child;
    int r;
    ch->sent++;
    c->start_ns = start_ns;
    c->sent_ns = now;
    c->state = CONN_BUSY;
    lt_http_start(&c->http);
#ifdef LT_HAVE_TLS
    if (c->tls != NULL) {
        r = lt_tls_write(c->tls, ch->request.base, ch->request.len) != 0 ? UV_EPROTO : tls_flush(c);
    } else
#endif
        /* Usually the whole request fits the socket buffer: no copy, no allocation. */
        r = conn_write(c, ch->request.base, ch->request.len);
    if (r != 0)
        conn_fail(c, r == UV_EPIPE || r == UV_ECONNRESET ? LT_ERR_RESET : LT_ERR_OTHER);
}

static void timer_send(uv_timer_t *t)
{
    conn_t *c = t->data;
    if (c->state == CONN_IDLE)
        conn_next(c, uv_hrtime());
}

/* The connection is idle: send its next request now, at its rate slot, or never (stopping,
 * budget spent). */
static void conn_next(conn_t *c, uint64_t now)
{
    child_t *ch = c->child;
    if (ch->stopping)
        return;
    if (ch->cfg.budget != 0 && ch->sent >= ch->cfg.budget) {
        child_maybe_finish(ch);
        return;
    }
    if (ch->interval_ns == 0) {
        conn_send(c, now, now);
        return;
    }
    if (c->next_ns > now) {
        /* uv timers count whole milliseconds: round up, the latency starts at next_ns anyway. */
        uint64_t wait_ms = (c->next_ns - now + 999999) / 1000000;
        uv_timer_start(&c->timer, timer_send, wait_ms, 0);
        return;
    }
    /* As wrk2: the latency of a request counts from when it should have been sent, so a
     * stalled server cannot hide the requests it kept from being sent (coordinated omission). */
    uint64_t intended = c->next_ns;
    c->next_ns += ch->interval_ns;
    conn_send(c, intended, now);
}

static void conn_connect(conn_t *c)
{
    child_t *ch = c->child;
    int r;
    if (ch->stopping || c->state == CONN_RETIRED)
        return;
    uv_tcp_init(ch->loop, &c->tcp);
    c->tcp.data = c;
    ch->tcp_open++;
    c->state = CONN_CONNECTING;
    c->writing = 0;
    c->retire = 0;
    c->sent_ns = uv_hrtime();
    c->connect_req.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ch->addr, on_connect);
    if (r != 0) {
        c->backoff_ms = 250;
        note(ch, uv_strerror(r));
        conn_fail(c, r == UV_ECONNREFUSED ? LT_ERR_REFUSED : LT_ERR_CONNECT);
    }
}

/* Requests or connects past the timeout fail; checked a few times per timeout period rather
 * than with a timer per request, as wrk does. */
static void sweep(uv_timer_t *t)
{
    child_t *ch = t->data;
    uint64_t now = uv_hrtime(), limit = ch->cfg.timeout_ms * 1000000;
    for (int i = 0; i < ch->cfg.connections; i++) {
        conn_t *c = &ch->conns[i];
        if (now - c->sent_ns <= limit)
            continue;
        /* A connect or handshake that takes too long is the connection's failure, not a
         * request's: no request was out (a busy machine that runs this sweep before the
         * connect's callback must not add an outcome to -n's count). */
        if (c->state == CONN_BUSY) {
            conn_fail(c, LT_ERR_TIMEOUT);
        } else if (c->state == CONN_CONNECTING || c->state == CONN_HANDSHAKE) {
            c->backoff_ms = 10;
            note(ch, c->state == CONN_CONNECTING ? "connect timed out" : "TLS handshake timed out");
            conn_fail(c, c->state == CONN_CONNECTING ? LT_ERR_CONNECT : LT_ERR_TLS);
        }
    }
}

static void on_report_timer(uv_timer_t *t)
{
    report(t->data, 0);
}

static void child_start(child_t *ch)
{
    uint64_t now = uv_hrtime();
    if (ch->cfg.rate > 0)
        ch->interval_ns = (uint64_t)(1e9 * ch->cfg.connections / ch->cfg.rate);
    for (int i = 0; i < ch->cfg.connections; i++) {
        conn_t *c = &ch->conns[i];
        c->child = ch;
        c->state = CONN_CLOSED;
        /* Rate slots of the connections are spread over one interval. */
        c->next_ns = now + ch->interval_ns * (uint64_t)i / (uint64_t)ch->cfg.connections;
        uv_timer_init(ch->loop, &c->timer);
        c->timer.data = c;
        conn_connect(c);
    }
    uint64_t sweep_ms = ch->cfg.timeout_ms / 4;
    sweep_ms = sweep_ms < 10 ? 10 : sweep_ms > 100 ? 100 : sweep_ms;
    uv_timer_start(&ch->report_timer, on_report_timer, LT_REPORT_MS, LT_REPORT_MS);
    uv_timer_start(&ch->sweep_timer, sweep, sweep_ms, sweep_ms);
}

/* Stop sending, close every connection (a request still out counts as unfinished), then the
 * final report and the end of the channel: the loop then runs out of handles. */
static void child_stop(child_t *ch)
{
    if (ch->stopping)
        return;
    ch->stopping = 1;
    for (int i = 0; ch->conns != NULL && i < ch->cfg.connections; i++) {
        conn_t *c = &ch->conns[i];
        if (c->state == CONN_BUSY)
            ch->delta.unfinished++;
        uv_timer_stop(&c->timer);
        conn_close(c);
    }
    child_maybe_finish(ch);
}

static void child_maybe_finish(child_t *ch)
{
    if (ch->finished)
        return;
    if (!ch->stopping) {
        /* Budget spent: finish once no request is out any more. */
        int retired = 0;
        for (int i = 0; i < ch->cfg.connections; i++) {
            conn_state_t st = ch->conns[i].state;
            retired += st == CONN_RETIRED;
            if ((st == CONN_BUSY || st == CONN_CONNECTING || st == CONN_HANDSHAKE) &&
                (ch->cfg.budget == 0 || ch->sent < ch->cfg.budget || st == CONN_BUSY))
                return;
        }
        if (ch->cfg.budget != 0 && ch->sent >= ch->cfg.budget)
            child_stop(ch);
        else if (retired == ch->cfg.connections)
            child_stop(ch); /* every connection upgraded: nothing left to load with */
        return;
    }
    if (ch->tcp_open > 0)
        return;
    ch->finished = 1;
    uv_close((uv_handle_t *)&ch->report_timer, NULL);
    uv_close((uv_handle_t *)&ch->sweep_timer, NULL);
    for (int i = 0; ch->conns != NULL && i < ch->cfg.connections; i++)
        uv_close((uv_handle_t *)&ch->conns[i].timer, NULL);
    if (ch->ch != NULL && uvproc_channel_connected(ch->ch)) {
        report(ch, 1);
        uvproc_channel_disconnect(ch->ch); /* flushes the final report first */
    }
}

/* Every connection is an fd: raise the soft limit towards the hard one if the default (often
 * 1024) is too small. Past the hard limit connects fail with EMFILE, counted as "connect". */
static void raise_fd_limit(int connections)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)connections + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want) {
        rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int configure(child_t *ch, const json_t *msg)
{
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ch->addr;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ch->addr;
    if (lt_child_config_decode(&ch->cfg, msg) != 0)
        return -1;
    if (uv_ip4_addr(ch->cfg.ip, ch->cfg.port, a4) != 0 &&
        uv_ip6_addr(ch->cfg.ip, ch->cfg.port, a6) != 0)
        return -1;
    ch->request = uv_buf_init(ch->cfg.request, (unsigned)ch->cfg.request_len);
    if (ch->cfg.tls) {
#ifdef LT_HAVE_TLS
        ch->tls = lt_tls_ctx_new(ch->cfg.host, ch->cfg.insecure);
        if (ch->tls == NULL)
            return -1;
#else
        return -1; /* the parent checks; a remote copy built without OpenSSL lands here */
#endif
    }
    raise_fd_limit(ch->cfg.connections);
    ch->conns = calloc((size_t)ch->cfg.connections, sizeof *ch->conns);
    return ch->conns == NULL ? -1 : 0;
}

/* Ends a child that never started loading (bad configuration, stopped or orphaned first). */
static void child_abort(child_t *ch)
{
    ch->stopping = ch->finished = 1;
    uv_close((uv_handle_t *)&ch->report_timer, NULL);
    uv_close((uv_handle_t *)&ch->sweep_timer, NULL);
    if (ch->ch != NULL && uvproc_channel_connected(ch->ch))
        uvproc_channel_disconnect(ch->ch);
}

static void on_message(uvproc_channel_t *chan, json_t *msg, uvproc_handle_t *handle)
{
    child_t *ch = uvproc_channel_data(chan);
    const char *t = json_string_value(json_object_get(msg, "t"));
    (void)handle;
    if (t != NULL && strcmp(t, "config") == 0 && !ch->configured) {
        ch->configured = 1;
        if (configure(ch, msg) != 0) {
            fprintf(stderr, "loadtest child: bad configuration\n");
            child_abort(ch);
            return;
        }
        child_start(ch);
    } else if (t != NULL && strcmp(t, "stop") == 0) {
        if (!ch->configured) {
            ch->configured = 1;
            child_abort(ch);
            return;
        }
        child_stop(ch);
    }
}

/* The parent is gone (it also has the kernel kill us, kill_on_parent_death): stop at once. */
static void on_disconnect(uvproc_channel_t *chan)
{
    child_t *ch = uvproc_channel_data(chan);
    ch->ch = NULL; /* freed once this returns */
    if (!ch->configured) {
        ch->configured = 1;
        child_abort(ch);
        return;
    }
    child_stop(ch);
}

int lt_child_main(void)
{
    static child_t ch; /* 64 KiB read buffer: not on the stack */
    uvproc_channel_options_t o = {
        .data = &ch, .on_message = on_message, .on_disconnect = on_disconnect};
    int err;
    /* Ctrl-C on a terminal reaches the whole process group: the parent alone handles it and
     * stops us, so that our last counts still reach it. */
    signal(SIGINT, SIG_IGN);
    ch.loop = uv_default_loop();
    lt_stats_init(&ch.delta);
    uv_timer_init(ch.loop, &ch.report_timer);
    uv_timer_init(ch.loop, &ch.sweep_timer);
    ch.report_timer.data = ch.sweep_timer.data = &ch;
    err = uvproc_channel_from_parent(ch.loop, &ch.ch, &o);
    if (err != 0) {
        fprintf(stderr, "loadtest --child: %s (this mode is for loadtest's own children)\n",
                uvproc_strerror(err));
        ch.configured = 1;
        child_abort(&ch);
        uv_run(ch.loop, UV_RUN_DEFAULT);
        uv_loop_close(ch.loop);
        return 2;
    }
    uv_run(ch.loop, UV_RUN_DEFAULT);
    free(ch.conns);
#ifdef LT_HAVE_TLS
    lt_tls_ctx_free(ch.tls);
#endif
    lt_child_config_free(&ch.cfg);
    return uv_loop_close(ch.loop) == 0 ? 0 : 1;
}
