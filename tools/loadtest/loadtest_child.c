/* loadtest_child: one load child. It adopts the IPC channel its parent forked it with, waits
 * for its configuration, then keeps `connections` keep-alive HTTP/1.1 connections busy on its
 * own libuv loop: a request goes out as soon as the previous response on that connection is
 * whole (or, with a rate, at its intended time), responses are parsed by http_parser, and
 * every LT_REPORT_MS the counts gathered since the last report go to the parent.
 *
 * Failures are counted by kind (loadtest.h) and the connection is made again: at once after a
 * reset or a close, after a short back-off after a failed connect (so a server that is not
 * listening is not hammered with connects). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <http_parser.h>

#include "loadtest.h"

typedef enum {
    CONN_CONNECTING,
    CONN_IDLE,    /* connected, no request out (budget spent, or waiting for its rate slot) */
    CONN_BUSY,    /* a request is out */
    CONN_CLOSING, /* uv_close called */
    CONN_CLOSED,  /* handle closed; reconnects after the back-off, or stays closed */
} conn_state_t;

typedef struct child_s child_t;

typedef struct {
    uv_tcp_t tcp;
    uv_connect_t connect_req;
    uv_write_t write_req;
    uv_timer_t timer; /* rate slot, or reconnect back-off */
    http_parser parser;
    child_t *child;
    conn_state_t state;
    int counted_open;    /* counted in child->open */
    int writing;         /* write_req is in use (the request did not fit the socket at once) */
    int complete;        /* the parser finished a response in this read */
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
    char readbuf[65536]; /* one for all connections: every read is parsed at once */
};

static http_parser_settings parser_settings;

static void conn_connect(conn_t *c);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);
static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void conn_next(conn_t *c, uint64_t now);
static void child_maybe_finish(child_t *ch);

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
    c->state = CONN_CLOSED;
    if (ch->stopping || (ch->cfg.budget != 0 && ch->sent >= ch->cfg.budget)) {
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
    if (c->state == CONN_CLOSING || c->state == CONN_CLOSED)
        return;
    if (c->counted_open) {
        c->counted_open = 0;
        c->child->open--;
    }
    uv_timer_stop(&c->timer);
    c->state = CONN_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void conn_fail(conn_t *c, lt_err_t kind)
{
    if (c->child->stopping)
        kind = LT_ERR_COUNT; /* our own shutdown, not the server's fault */
    if (kind != LT_ERR_COUNT)
        c->child->delta.errors[kind]++;
    conn_close(c);
}

static void on_connect(uv_connect_t *req, int status)
{
    conn_t *c = req->data;
    child_t *ch = c->child;
    if (status == UV_ECANCELED || c->state != CONN_CONNECTING)
        return; /* closed while connecting (timeout or stop): already accounted */
    if (status != 0) {
        /* Back off 10 ms, doubling to 250 ms, while connects keep failing. */
        c->backoff_ms = c->backoff_ms == 0 ? 10 : c->backoff_ms * 2 > 250 ? 250 : c->backoff_ms * 2;
        conn_fail(c, status == UV_ECONNREFUSED ? LT_ERR_REFUSED : LT_ERR_CONNECT);
        return;
    }
    c->backoff_ms = 0;
    c->counted_open = 1;
    ch->open++;
    c->state = CONN_IDLE;
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0) {
        conn_fail(c, LT_ERR_OTHER);
        return;
    }
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
    unsigned code = c->parser.status_code;
    ch->delta.requests++;
    ch->delta.status[code < LT_STATUS_MAX && code >= 100 ? code : 0]++;
    hdr_record(&ch->delta.latency, (now - c->start_ns) / 1000);
    c->state = CONN_IDLE;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread > 0) {
        c->child->delta.bytes += (uint64_t)nread;
        if (c->state != CONN_BUSY) {
            conn_fail(c, LT_ERR_PARSE); /* bytes nobody asked for */
            return;
        }
        c->complete = 0;
        size_t n = http_parser_execute(&c->parser, &parser_settings, buf->base, (size_t)nread);
        if (c->complete) {
            uint64_t now = uv_hrtime();
            on_response(c, now);
            /* One request at a time: anything after the response is a protocol error, and so
             * is an answer before the whole request was written (write_req is still busy). */
            if (n != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_PAUSED || c->writing) {
                conn_fail(c, LT_ERR_PARSE);
            } else if (!http_should_keep_alive(&c->parser)) {
                conn_close(c); /* the server asked to close: not an error, reconnect */
            } else {
                conn_next(c, now);
            }
        } else if (n != (size_t)nread || HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
            conn_fail(c, LT_ERR_PARSE);
        }
        return;
    }
    if (nread == 0)
        return;
    if (nread == UV_EOF) {
        if (c->state == CONN_BUSY) {
            /* A body delimited by the end of the connection completes here. */
            c->complete = 0;
            http_parser_execute(&c->parser, &parser_settings, NULL, 0);
            if (c->complete) {
                on_response(c, uv_hrtime());
                conn_close(c);
            } else {
                conn_fail(c, LT_ERR_CLOSED);
            }
        } else {
            conn_close(c); /* an idle keep-alive connection timed out on the server */
        }
        return;
    }
    conn_fail(c, nread == UV_ECONNRESET || nread == UV_EPIPE ? LT_ERR_RESET : LT_ERR_OTHER);
}

/* The parser stops right after the response (paused), so that bytes after it are seen as
 * such rather than parsed as a second response nobody asked for. */
static int on_message_complete(http_parser *p)
{
    ((conn_t *)p->data)->complete = 1;
    http_parser_pause(p, 1);
    return 0;
}

static void write_cb(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    c->writing = 0;
    if (status == 0 || status == UV_ECANCELED)
        return;
    conn_fail(c, status == UV_EPIPE || status == UV_ECONNRESET ? LT_ERR_RESET : LT_ERR_OTHER);
}

static void conn_send(conn_t *c, uint64_t start_ns, uint64_t now)
{
    child_t *ch = c->child;
    ch->sent++;
    c->start_ns = start_ns;
    c->sent_ns = now;
    c->state = CONN_BUSY;
    http_parser_init(&c->parser, HTTP_RESPONSE);
    c->parser.data = c;
    /* Usually the whole request fits the socket buffer: no write request, no allocation. */
    int r = uv_try_write((uv_stream_t *)&c->tcp, &ch->request, 1);
    if (r == (int)ch->request.len)
        return;
    if (r == UV_EAGAIN)
        r = 0;
    if (r < 0) {
        conn_fail(c, r == UV_EPIPE || r == UV_ECONNRESET ? LT_ERR_RESET : LT_ERR_OTHER);
        return;
    }
    uv_buf_t rest = uv_buf_init(ch->request.base + r, ch->request.len - (unsigned)r);
    c->write_req.data = c;
    r = uv_write(&c->write_req, (uv_stream_t *)&c->tcp, &rest, 1, write_cb);
    if (r != 0)
        conn_fail(c, LT_ERR_OTHER);
    else
        c->writing = 1;
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
    if (ch->stopping)
        return;
    uv_tcp_init(ch->loop, &c->tcp);
    c->tcp.data = c;
    ch->tcp_open++;
    c->state = CONN_CONNECTING;
    c->writing = 0;
    c->sent_ns = uv_hrtime();
    c->connect_req.data = c;
    uv_tcp_nodelay(&c->tcp, 1);
    r = uv_tcp_connect(&c->connect_req, &c->tcp, (const struct sockaddr *)&ch->addr, on_connect);
    if (r != 0) {
        c->backoff_ms = 250;
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
        if ((c->state == CONN_BUSY || c->state == CONN_CONNECTING) && now - c->sent_ns > limit) {
            if (c->state == CONN_CONNECTING)
                c->backoff_ms = 10;
            conn_fail(c, LT_ERR_TIMEOUT);
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
        for (int i = 0; i < ch->cfg.connections; i++)
            if (ch->conns[i].state == CONN_BUSY || ch->conns[i].state == CONN_CONNECTING)
                return;
        child_stop(ch);
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
    ch->request = uv_buf_init(ch->cfg.request, (unsigned)strlen(ch->cfg.request));
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
    parser_settings.on_message_complete = on_message_complete;
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
    return uv_loop_close(ch.loop) == 0 ? 0 : 1;
}
