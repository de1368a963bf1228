/* The /metrics endpoint (see metrics_http.h). A request is read up to its blank line (at most
 * 8 KiB: a scraper's GET is a few hundred bytes), answered in one write, and the connection
 * closed after it. A client that sends nothing is closed after 10 s. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "metrics_http.h"

#define REQ_MAX 8192
#define IDLE_MS 10000

typedef struct conn_s {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_write_t wr;
    char req[REQ_MAX + 1];
    size_t len;
    char *out;
    int closing, handles;
    struct conn_s *prev, *next;
} conn_t;

static struct {
    uv_tcp_t server;
    int open;
    metrics_http_render_t render;
    void *data;
    conn_t *conns;
    unsigned long served;
} M;

static void conn_freed(uv_handle_t *h)
{
    conn_t *c = h->data;
    if (--c->handles > 0)
        return;
    free(c->out);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        M.conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    uv_close((uv_handle_t *)&c->timer, conn_freed);
    uv_close((uv_handle_t *)&c->tcp, conn_freed);
}

static void conn_written(uv_write_t *wr, int status)
{
    (void)status;
    conn_close(wr->data);
}

static void conn_answer(conn_t *c)
{
    static const char head[] = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                               "Connection: close\r\n\r\n";
    const char *end = strchr(c->req, ' ');
    char *body = NULL;
    size_t blen = 0, hlen;
    int code = 404;
    uv_buf_t buf;

    /* "GET /metrics HTTP/1.1", also with a query string (Prometheus adds none by default). */
    if (end != NULL && (strncmp(c->req, "GET ", 4) == 0 || strncmp(c->req, "HEAD ", 5) == 0)) {
        const char *path = end + 1, *pend = strpbrk(path, " ?");
        if (pend != NULL && (size_t)(pend - path) == 8 && memcmp(path, "/metrics", 8) == 0) {
            body = M.render(M.data, &blen);
            code = body != NULL ? 200 : 500;
        }
    } else {
        code = 405;
    }
    if (body == NULL) {
        body = strdup(code == 404 ? "not found: try /metrics\n" : "error\n");
        blen = body != NULL ? strlen(body) : 0;
    }
    c->out = malloc(sizeof head + 128 + blen);
    if (c->out == NULL) {
        free(body);
        conn_close(c);
        return;
    }
    hlen = (size_t)snprintf(c->out, sizeof head + 128, head, code,
                            code == 200   ? "OK"
                            : code == 404 ? "Not Found"
                            : code == 405 ? "Method Not Allowed"
                                          : "Internal Server Error",
                            code == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                        : "text/plain; charset=utf-8",
                            blen);
    if (strncmp(c->req, "HEAD ", 5) != 0 && body != NULL) {
        memcpy(c->out + hlen, body, blen);
        hlen += blen;
    }
    free(body);
    M.served++;
    uv_read_stop((uv_stream_t *)&c->tcp);
    buf = uv_buf_init(c->out, (unsigned)hlen);
    c->wr.data = c;
    if (uv_write(&c->wr, (uv_stream_t *)&c->tcp, &buf, 1, conn_written) != 0)
        conn_close(c);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)hint;
    *buf = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - c->len));
}

static void conn_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;
    if (n < 0) {
        conn_close(c);
        return;
    }
    c->len += (size_t)n;
    c->req[c->len] = '\0';
    if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL) {
        uv_timer_stop(&c->timer);
        conn_answer(c);
    } else if (c->len == REQ_MAX) {
        conn_close(c); /* no blank line within 8 KiB: not a scraper */
    }
}

static void conn_idle(uv_timer_t *t)
{
    conn_close(t->data);
}

static void on_connection(uv_stream_t *server, int status)
{
    conn_t *c;
    if (status != 0)
        return;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    uv_timer_init(server->loop, &c->timer);
    c->tcp.data = c->timer.data = c;
    c->handles = 2;
    c->next = M.conns;
    if (M.conns != NULL)
        M.conns->prev = c;
    M.conns = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read) != 0) {
        conn_close(c);
        return;
    }
    uv_timer_start(&c->timer, conn_idle, IDLE_MS, 0);
}

/* "HOST:PORT", "[V6]:PORT" or "PORT". */
static int parse_addr(const char *addr, struct sockaddr_storage *ss)
{
    char host[64];
    const char *colon = strrchr(addr, ':'), *port_s = addr;
    char *end;
    long port;

    snprintf(host, sizeof host, "127.0.0.1");
    if (colon != NULL) {
        const char *h = addr;
        size_t n = (size_t)(colon - addr);
        if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']')
            h = addr + 1, n -= 2;
        if (n == 0 || n >= sizeof host)
            return UV_EINVAL;
        memcpy(host, h, n);
        host[n] = '\0';
        port_s = colon + 1;
    }
    if (*port_s < '0' || *port_s > '9')
        return UV_EINVAL;
    port = strtol(port_s, &end, 10);
    if (*end != '\0' || port < 0 || port > 65535)
        return UV_EINVAL;
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) == 0)
        return 0;
    return uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss) == 0 ? 0 : UV_EINVAL;
}

int metrics_http_check(const char *addr)
{
    struct sockaddr_storage ss;
    return parse_addr(addr, &ss);
}

/* SO_REUSEPORT: during an upgrade (USR2) the old and the new primary both serve the same
 * metrics address until the old one exits; a plain bind would fail in the new one. */
static int bind_reuseport(uv_tcp_t *t, const struct sockaddr_storage *ss)
{
    int one = 1, err;
    socklen_t len =
        ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0) {
        err = -errno;
        close(fd);
        return err;
    }
    err = uv_tcp_open(t, fd);
    if (err != 0)
        close(fd);
    return err;
}

int metrics_http_start(uv_loop_t *loop, const char *addr, metrics_http_render_t render, void *data,
                       int *port)
{
    struct sockaddr_storage ss;
    int len = sizeof ss, err = parse_addr(addr, &ss);
    if (err != 0)
        return err;
    M.render = render;
    M.data = data;
    uv_tcp_init(loop, &M.server);
    M.open = 1;
    err = bind_reuseport(&M.server, &ss);
    if (err == 0)
        err = uv_listen((uv_stream_t *)&M.server, 64, on_connection);
    if (err == 0)
        err = uv_tcp_getsockname(&M.server, (struct sockaddr *)&ss, &len);
    if (err != 0) {
        metrics_http_stop();
        return err;
    }
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return 0;
}

void metrics_http_stop(void)
{
    if (!M.open)
        return;
    M.open = 0;
    uv_close((uv_handle_t *)&M.server, NULL);
    while (M.conns != NULL)
        conn_close(M.conns);
}

unsigned long metrics_http_served(void)
{
    return M.served;
}
