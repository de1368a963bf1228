/* bench/tls_hello_server: the HTTPS counterpart of raw_http_server for bench/loadtest --tls: one
 * libuv loop, OpenSSL through memory BIOs, keep-alive, the same 12-byte hello to every request.
 * Fast enough that the generators, not the server, are what the HTTPS table compares (Node's
 * https hello tops out far below what wrk and uvproc-loadtest generate).
 *
 *   tls_hello_server CERT KEY   prints "listening on https://127.0.0.1:PORT/"; SIGTERM stops it.
 *
 * Requests are counted by their blank line ("\r\n\r\n"); bodies are not expected. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

static const char hello[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: 12\r\n\r\nHello World\n";

typedef struct {
    uv_tcp_t tcp;
    SSL *ssl;
    BIO *in, *out;
    int matched; /* how much of "\r\n\r\n" the last bytes matched */
} conn_t;

typedef struct {
    uv_write_t req;
    uv_buf_t buf;
    char data[];
} wreq_t;

static SSL_CTX *ctx;
static uv_loop_t *loop;
static char plain[65536], cipher[65536];

static void on_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    SSL_free(c->ssl);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (!uv_is_closing((uv_handle_t *)&c->tcp))
        uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_write(uv_write_t *req, int status)
{
    (void)status;
    free(req->data);
}

static void flush(conn_t *c)
{
    int n;
    while ((n = BIO_read(c->out, cipher, sizeof cipher)) > 0) {
        uv_buf_t b = uv_buf_init(cipher, (unsigned)n);
        int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
        if (r == n)
            continue;
        if (r == UV_EAGAIN)
            r = 0;
        if (r < 0) {
            conn_close(c);
            return;
        }
        wreq_t *w = malloc(sizeof *w + (size_t)(n - r));
        if (w == NULL) {
            conn_close(c);
            return;
        }
        memcpy(w->data, cipher + r, (size_t)(n - r));
        w->buf = uv_buf_init(w->data, (unsigned)(n - r));
        w->req.data = w;
        if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &w->buf, 1, on_write) != 0) {
            free(w);
            conn_close(c);
            return;
        }
    }
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char rbuf[65536];
    (void)h;
    (void)size;
    *buf = uv_buf_init(rbuf, sizeof rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    if (nread == 0)
        return;
    BIO_write(c->in, buf->base, (int)nread);
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        flush(c);
        if (r != 1) {
            int e = SSL_get_error(c->ssl, r);
            if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
                conn_close(c);
            return;
        }
    }
    int n;
    while ((n = SSL_read(c->ssl, plain, sizeof plain)) > 0) {
        static const char end[] = "\r\n\r\n";
        for (int i = 0; i < n; i++) {
            c->matched = plain[i] == end[c->matched] ? c->matched + 1 : plain[i] == '\r';
            if (c->matched == 4) {
                c->matched = 0;
                SSL_write(c->ssl, hello, sizeof hello - 1);
            }
        }
    }
    int e = SSL_get_error(c->ssl, n);
    flush(c);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        conn_close(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status != 0)
        return;
    conn_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return;
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, NULL);
        free(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    c->ssl = SSL_new(ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    BIO_set_mem_eof_return(c->in, -1);
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_accept_state(c->ssl);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)sig;
    uv_signal_stop(s);
    uv_stop(loop);
}

int main(int argc, char **argv)
{
    uv_tcp_t server;
    uv_signal_t term;
    struct sockaddr_in addr;
    struct sockaddr_storage bound;
    int len = sizeof bound;
    if (argc != 3) {
        fprintf(stderr, "usage: tls_hello_server CERT KEY\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL || SSL_CTX_use_certificate_chain_file(ctx, argv[1]) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1) {
        ERR_print_errors_fp(stderr);
        return 1;
    }
    loop = uv_default_loop();
    uv_tcp_init(loop, &server);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 1024, on_connection) != 0 ||
        uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &len) != 0) {
        fprintf(stderr, "tls_hello_server: cannot listen\n");
        return 1;
    }
    printf("listening on https://127.0.0.1:%d/\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_signal_init(loop, &term);
    uv_signal_start(&term, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    SSL_CTX_free(ctx);
    return 0;
}
