/* Shared by the cluster tests: an HTTP/1.1 client on libuv (one connection per request, so
 * every request is a new connection for the primary to place), a steady request stream for
 * the reload tests, a free port, and a recorder of cluster events. Header-only. */
#ifndef UVPROC_TEST_CLUSTER_UTIL_H
#define UVPROC_TEST_CLUSTER_UTIL_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>

#include <uvproc.h>

#include "check.h"

/* ---------------------------------------------------------------------------------------- */
/* one GET                                                                                  */

typedef struct http_get_s http_get_t;
typedef void (*http_get_cb)(http_get_t *g, int status, const char *body);

struct http_get_s {
    uv_tcp_t tcp;
    uv_connect_t connect;
    uv_write_t write;
    char req[128];
    char resp[4096];
    size_t len;
    int err;
    http_get_cb cb;
    void *data;
};

static void http_get_closed_(uv_handle_t *h)
{
    http_get_t *g = h->data;
    const char *body = strstr(g->resp, "\r\n\r\n");
    int status = 0;
    if (g->err == 0 && sscanf(g->resp, "HTTP/1.1 %d", &status) != 1)
        status = -1;
    if (g->err != 0)
        status = g->err;
    g->cb(g, status, body != NULL ? body + 4 : "");
    free(g);
}

static void http_get_alloc_(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    http_get_t *g = h->data;
    (void)size;
    *buf = uv_buf_init(g->resp + g->len, (unsigned)(sizeof g->resp - 1 - g->len));
}

static void http_get_read_(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    http_get_t *g = s->data;
    (void)buf;
    if (n > 0) {
        g->len += (size_t)n;
        g->resp[g->len] = '\0';
        if (g->len < sizeof g->resp - 1)
            return;
    }
    if (n < 0 && n != UV_EOF)
        g->err = (int)n;
    if (n == UV_EOF && g->len == 0)
        g->err = UV_ECONNRESET; /* closed without an answer: a failed request */
    uv_close((uv_handle_t *)s, http_get_closed_);
}

static void http_get_written_(uv_write_t *w, int status)
{
    http_get_t *g = w->data;
    if (status != 0) {
        g->err = status;
        uv_close((uv_handle_t *)&g->tcp, http_get_closed_);
    }
}

static void http_get_connected_(uv_connect_t *c, int status)
{
    http_get_t *g = c->data;
    uv_buf_t b = uv_buf_init(g->req, (unsigned)strlen(g->req));
    if (status != 0) {
        g->err = status;
        uv_close((uv_handle_t *)&g->tcp, http_get_closed_);
        return;
    }
    g->write.data = g;
    uv_write(&g->write, (uv_stream_t *)&g->tcp, &b, 1, http_get_written_);
    uv_read_start((uv_stream_t *)&g->tcp, http_get_alloc_, http_get_read_);
}

/* GET path from host:port (an IPv4 or IPv6 address); cb gets the HTTP status (or a negative
 * error) and the body. */
static inline void http_get_at(uv_loop_t *loop, const char *host, int port, const char *path,
                               http_get_cb cb, void *data)
{
    http_get_t *g = calloc(1, sizeof *g);
    struct sockaddr_storage sa;
    CHECK(g != NULL);
    g->cb = cb;
    g->data = data;
    snprintf(g->req, sizeof g->req, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
             path);
    uv_tcp_init(loop, &g->tcp);
    g->tcp.data = g;
    g->connect.data = g;
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&sa) != 0)
        CHECK_OK(uv_ip6_addr(host, port, (struct sockaddr_in6 *)&sa));
    CHECK_OK(uv_tcp_connect(&g->connect, &g->tcp, (struct sockaddr *)&sa, http_get_connected_));
}

static inline void http_get(uv_loop_t *loop, int port, const char *path, http_get_cb cb, void *data)
{
    http_get_at(loop, "127.0.0.1", port, path, cb, data);
}

/* ---------------------------------------------------------------------------------------- */
/* a steady stream of requests                                                              */

typedef struct {
    uv_loop_t *loop;
    int port;
    int running, inflight;
    unsigned ok, failed;
    int last_error;
    void (*on_progress)(void *data, unsigned ok); /* after each success */
    void *data;
} http_load_t;

static void http_load_next_(http_load_t *l);
static void http_load_done_(http_get_t *g, int status, const char *body)
{
    http_load_t *l = g->data;
    (void)body;
    l->inflight--;
    if (status == 200) {
        l->ok++;
    } else {
        l->failed++;
        l->last_error = status;
    }
    if (status == 200 && l->on_progress != NULL)
        l->on_progress(l->data, l->ok);
    if (l->running)
        http_load_next_(l);
}

static void http_load_next_(http_load_t *l)
{
    l->inflight++;
    http_get(l->loop, l->port, "/", http_load_done_, l);
}

/* `streams` request loops, each starting the next request when one ends, until stopped. */
static inline void http_load_start(http_load_t *l, int streams)
{
    l->running = 1;
    for (int i = 0; i < streams; i++)
        http_load_next_(l);
}

/* ---------------------------------------------------------------------------------------- */
/* misc                                                                                     */

/* A port nobody listens on now (bound and released; tests on one host, so good enough). */
static inline int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    CHECK_OK(bind(fd, (struct sockaddr *)&sa, sizeof sa));
    CHECK_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
    close(fd);
    return ntohs(sa.sin_port);
}

/* Runs the loop until *flag becomes true (or the loop has nothing left: a failure). */
#define RUN_UNTIL(loop, cond)                                                                      \
    do {                                                                                           \
        while (!(cond))                                                                            \
            CHECK(uv_run((loop), UV_RUN_ONCE) != 0 || (cond));                                     \
    } while (0)

#endif
