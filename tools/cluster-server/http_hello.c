/* http_hello: one HTTP/1.1 "hello world" connection handler on libuv + http_parser.
 * Responses produced by one read (pipelined requests) leave in one write, tried synchronously
 * first (uv_try_write): a hello-world server spends its time in syscalls, so fewer is faster. */
#include "http_hello.h"

#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#define HH_RESPONSE(conn)                                                                          \
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\nConnection: " conn       \
    "\r\n\r\n" HTTP_HELLO_BODY

static const char hh_resp_keep[] = HH_RESPONSE("keep-alive");
static const char hh_resp_close[] = HH_RESPONSE("close");

typedef struct hh_conn_s {
    uv_stream_t *stream;
    http_parser parser;
    char path[256];
    size_t path_len;
    char *out; /* responses of this read, not yet written */
    size_t out_len, out_cap;
    int pending_writes; /* uv_write requests not completed: the connection is busy */
    int held;           /* a request the hook took over is unanswered */
    int ending;         /* the last response is queued; shut down and close after it */
    int closing;
    struct hh_conn_s *prev, *next;
} hh_conn_t;

static hh_conn_t *hh_conns;
static size_t hh_count;
static int hh_draining;
static http_hello_hook_t hh_hook;
static http_parser_settings hh_settings;

void http_hello_set_hook(http_hello_hook_t hook)
{
    hh_hook = hook;
}

size_t http_hello_connections(void)
{
    return hh_count;
}

static void hh_free(hh_conn_t *c)
{
    free(c->out);
    free(c->stream);
    free(c);
}

static void hh_closed(uv_handle_t *h)
{
    hh_conn_t *c = h->data;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        hh_conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    hh_count--;
    if (!c->held) /* else http_hello_reply() frees it */
        hh_free(c);
    else
        c->stream = (free(c->stream), NULL);
}

/* A close callback must have uv_close_cb's type: free() called through a cast pointer is
 * undefined behaviour. Not the library's uvproc_handle_close: bench/raw_http_server builds
 * this file without the library. */
static void hh_free_handle(uv_handle_t *h)
{
    free(h);
}

static void hh_close(hh_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)c->stream, hh_closed);
}

static int hh_append(hh_conn_t *c, const char *s, size_t n)
{
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap != 0 ? c->out_cap * 2 : 1024;
        while (cap < c->out_len + n)
            cap *= 2;
        char *grown = realloc(c->out, cap);
        if (grown == NULL)
            return -1;
        c->out = grown;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, s, n);
    c->out_len += n;
    return 0;
}

static int hh_respond(hh_conn_t *c, int last);

static int hh_on_message_begin(http_parser *p)
{
    ((hh_conn_t *)p->data)->path_len = 0;
    return 0;
}

static int hh_on_url(http_parser *p, const char *at, size_t len)
{
    hh_conn_t *c = p->data;
    size_t room = sizeof c->path - c->path_len;
    /* Only the start matters (the hook compares short paths); the rest is dropped. */
    if (len > room)
        len = room;
    memcpy(c->path + c->path_len, at, len);
    c->path_len += len;
    return 0;
}

static int hh_on_message_complete(http_parser *p)
{
    hh_conn_t *c = p->data;
    size_t n = c->path_len;
    const char *q = memchr(c->path, '?', n);
    if (q != NULL)
        n = (size_t)(q - c->path);
    if (hh_hook != NULL && hh_hook(c, c->path, n)) {
        c->held = 1;
        return 1; /* pipelined requests behind it wait (they are dropped: tests do not send) */
    }
    return hh_respond(c, 0);
}

static int hh_respond(hh_conn_t *c, int last)
{
    if (last || !http_should_keep_alive(&c->parser) || hh_draining) {
        c->ending = 1;
        hh_append(c, hh_resp_close, sizeof hh_resp_close - 1);
        return 1; /* nothing after a closing response is answered */
    }
    return hh_append(c, hh_resp_keep, sizeof hh_resp_keep - 1);
}

static void hh_shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    hh_close(req->data);
    free(req);
}

static void hh_end(hh_conn_t *c)
{
    uv_shutdown_t *req = malloc(sizeof *req);
    if (req == NULL) {
        hh_close(c);
        return;
    }
    req->data = c;
    if (uv_shutdown(req, c->stream, hh_shutdown_done) != 0) {
        free(req);
        hh_close(c);
    }
}

typedef struct {
    uv_write_t req;
    hh_conn_t *conn;
    char bytes[];
} hh_write_t;

static void hh_write_done(uv_write_t *req, int status)
{
    hh_write_t *w = (hh_write_t *)req;
    hh_conn_t *c = w->conn;
    c->pending_writes--;
    free(w);
    if (status != 0)
        hh_close(c);
}

static void hh_flush(hh_conn_t *c)
{
    size_t off = 0;
    if (c->out_len > 0) {
        uv_buf_t buf = uv_buf_init(c->out, (unsigned int)c->out_len);
        int n = uv_try_write(c->stream, &buf, 1);
        if (n > 0)
            off = (size_t)n;
        else if (n != UV_EAGAIN && n != UV_ENOSYS) {
            hh_close(c);
            return;
        }
    }
    if (off < c->out_len) {
        size_t rest = c->out_len - off;
        hh_write_t *w = malloc(sizeof *w + rest);
        uv_buf_t buf;
        if (w == NULL) {
            hh_close(c);
            return;
        }
        memcpy(w->bytes, c->out + off, rest);
        w->conn = c;
        buf = uv_buf_init(w->bytes, (unsigned int)rest);
        if (uv_write(&w->req, c->stream, &buf, 1, hh_write_done) != 0) {
            free(w);
            hh_close(c);
            return;
        }
        c->pending_writes++;
    }
    c->out_len = 0;
    if (c->ending)
        hh_end(c);
}

static char hh_buf[65536]; /* one loop per process: reads never overlap */

static void hh_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(hh_buf, sizeof hh_buf);
}

static void hh_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    hh_conn_t *c = s->data;
    if (nread < 0) {
        hh_close(c);
        return;
    }
    if (nread == 0 || c->ending || c->closing)
        return;
    size_t done = http_parser_execute(&c->parser, &hh_settings, buf->base, (size_t)nread);
    if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK && !c->ending && !c->held) {
        hh_close(c);
        return;
    }
    (void)done;
    hh_flush(c);
}

void http_hello_serve(uv_stream_t *client)
{
    hh_conn_t *c = calloc(1, sizeof *c);
    if (hh_settings.on_message_complete == NULL) {
        hh_settings.on_message_begin = hh_on_message_begin;
        hh_settings.on_url = hh_on_url;
        hh_settings.on_message_complete = hh_on_message_complete;
    }
    if (c == NULL) {
        uv_close((uv_handle_t *)client, hh_free_handle);
        return;
    }
    c->stream = client;
    client->data = c;
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    c->next = hh_conns;
    if (hh_conns != NULL)
        hh_conns->prev = c;
    hh_conns = c;
    hh_count++;
    if (client->type == UV_TCP)
        uv_tcp_nodelay((uv_tcp_t *)client, 1);
    if (uv_read_start(client, hh_alloc, hh_read) != 0)
        hh_close(c);
}

void http_hello_on_connection(uv_stream_t *server, int status)
{
    uv_tcp_t *client;
    if (status != 0 || (client = malloc(sizeof *client)) == NULL)
        return;
    uv_tcp_init(server->loop, client);
    if (uv_accept(server, (uv_stream_t *)client) != 0) {
        uv_close((uv_handle_t *)client, hh_free_handle);
        return;
    }
    http_hello_serve((uv_stream_t *)client);
}

void http_hello_reply(void *conn)
{
    hh_conn_t *c = conn;
    c->held = 0;
    if (c->stream == NULL) {
        hh_free(c);
        return;
    }
    if (c->closing)
        return;
    /* The parser stopped at the held request: what follows it is not parsed, so end here. */
    hh_respond(c, 1);
    hh_flush(c);
}

/* Idle connections get this long to send one more request (answered with "Connection:
 * close") before they are closed: closing an idle keep-alive connection at once races with a
 * request the client is sending right then, which it would see fail. */
#define HH_DRAIN_IDLE_MS 1000

static uv_timer_t hh_drain_timer;

static void hh_drain_timer_closed(uv_handle_t *h)
{
    (void)h;
}

static void hh_drain_idle(uv_timer_t *t)
{
    for (hh_conn_t *c = hh_conns; c != NULL; c = c->next)
        if (!c->closing && !c->ending && !c->held && c->pending_writes == 0)
            hh_end(c);
    uv_close((uv_handle_t *)t, hh_drain_timer_closed);
}

void http_hello_drain(void)
{
    if (hh_draining)
        return;
    hh_draining = 1;
    if (hh_conns == NULL)
        return;
    uv_timer_init(hh_conns->stream->loop, &hh_drain_timer);
    uv_timer_start(&hh_drain_timer, hh_drain_idle, HH_DRAIN_IDLE_MS, 0);
}
