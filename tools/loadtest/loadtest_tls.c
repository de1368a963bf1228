/* loadtest_tls: HTTPS for the load children, OpenSSL driven through memory BIOs so that the
 * connection stays an ordinary libuv TCP stream: ciphertext read from the socket goes in with
 * lt_tls_received, ciphertext to send comes out with lt_tls_take. Built only when meson finds
 * OpenSSL (LT_HAVE_TLS).
 *
 * One SSL_CTX per child. Certificates are verified against the system's store (and
 * SSL_CERT_FILE / SSL_CERT_DIR) and the URL's host unless --insecure; SNI carries the host
 * when it is a name (RFC 6066 forbids literals). The newest session the server hands out is
 * kept and offered on every new connection, as a browser or wrk does, so a server that closes
 * connections costs an abbreviated handshake, not a full one. */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "loadtest.h"

struct lt_tls_ctx_s {
    SSL_CTX *ctx;
    SSL_SESSION *session; /* the newest resumable one */
    char host[256];
    int host_is_ip, insecure;
};

struct lt_tls_s {
    SSL *ssl;
    BIO *in, *out; /* socket -> SSL, SSL -> socket */
};

static char last_error[256];

const char *lt_tls_last_error(void)
{
    return last_error[0] != '\0' ? last_error : "TLS error";
}

static void note_error(const char *what)
{
    unsigned long e = ERR_peek_last_error();
    if (e != 0) {
        char buf[200];
        ERR_error_string_n(e, buf, sizeof buf);
        /* "error:0A000086:SSL routines::certificate verify failed" -> the reason only */
        const char *reason = strrchr(buf, ':');
        snprintf(last_error, sizeof last_error, "%s: %s", what, reason ? reason + 1 : buf);
    } else {
        snprintf(last_error, sizeof last_error, "%s", what);
    }
    ERR_clear_error();
}

static int new_session(SSL *ssl, SSL_SESSION *sess)
{
    lt_tls_ctx_t *t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (!SSL_SESSION_is_resumable(sess))
        return 0;
    if (t->session != NULL)
        SSL_SESSION_free(t->session);
    t->session = sess;
    return 1; /* we keep the reference */
}

lt_tls_ctx_t *lt_tls_ctx_new(const char *host, int insecure)
{
    lt_tls_ctx_t *t = calloc(1, sizeof *t);
    unsigned char ip[16];
    if (t == NULL)
        return NULL;
    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        note_error("SSL_CTX_new");
        free(t);
        return NULL;
    }
    snprintf(t->host, sizeof t->host, "%s", host);
    t->host_is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    t->insecure = insecure;
    SSL_CTX_set_app_data(t->ctx, t);
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_session_cache_mode(t->ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(t->ctx, new_session);
    /* Not SSL_MODE_RELEASE_BUFFERS: it frees and reallocates the record buffers around every
     * request, a cost per request that wrk does not pay. */
    if (!insecure) {
        SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_default_verify_paths(t->ctx);
    }
    return t;
}

void lt_tls_ctx_free(lt_tls_ctx_t *t)
{
    if (t == NULL)
        return;
    if (t->session != NULL)
        SSL_SESSION_free(t->session);
    SSL_CTX_free(t->ctx);
    free(t);
}

lt_tls_t *lt_tls_new(lt_tls_ctx_t *t)
{
    lt_tls_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->ssl = SSL_new(t->ctx);
    c->in = BIO_new(BIO_s_mem());
    c->out = BIO_new(BIO_s_mem());
    if (c->ssl == NULL || c->in == NULL || c->out == NULL) {
        note_error("SSL_new");
        SSL_free(c->ssl);
        BIO_free(c->in);
        BIO_free(c->out);
        free(c);
        return NULL;
    }
    BIO_set_mem_eof_return(c->in, -1); /* empty means "more to come", not EOF */
    SSL_set_bio(c->ssl, c->in, c->out);
    SSL_set_connect_state(c->ssl);
    if (!t->host_is_ip)
        SSL_set_tlsext_host_name(c->ssl, t->host);
    if (!t->insecure) {
        if (t->host_is_ip)
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), t->host);
        else
            SSL_set1_host(c->ssl, t->host);
    }
    if (t->session != NULL)
        SSL_set_session(c->ssl, t->session);
    return c;
}

void lt_tls_free(lt_tls_t *c)
{
    if (c == NULL)
        return;
    /* Closing without a close_notify is how HTTP clients end a connection whose last answer
     * is whole; without this, SSL_free takes it for a broken session and marks it (the very
     * session kept for the next connections) not resumable. */
    SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl); /* frees both BIOs */
    free(c);
}

int lt_tls_received(lt_tls_t *c, const char *data, size_t len)
{
    return BIO_write(c->in, data, (int)len) == (int)len ? 0 : -1;
}

int lt_tls_handshake(lt_tls_t *c)
{
    int r = SSL_do_handshake(c->ssl);
    if (r == 1)
        return 1;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    long v = SSL_get_verify_result(c->ssl);
    if (v != X509_V_OK) {
        snprintf(last_error, sizeof last_error, "certificate verify failed: %s",
                 X509_verify_cert_error_string(v));
        ERR_clear_error();
    } else {
        note_error("handshake");
    }
    return -1;
}

int lt_tls_resumed(const lt_tls_t *c)
{
    return SSL_session_reused(c->ssl);
}

int lt_tls_read(lt_tls_t *c, char *buf, size_t size)
{
    int r = SSL_read(c->ssl, buf, (int)size);
    if (r > 0)
        return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return 0;
    if (e == SSL_ERROR_ZERO_RETURN)
        return -2;
    note_error("read");
    return -1;
}

int lt_tls_write(lt_tls_t *c, const char *data, size_t len)
{
    if (SSL_write(c->ssl, data, (int)len) == (int)len)
        return 0;
    note_error("write");
    return -1;
}

size_t lt_tls_peek(lt_tls_t *c, const char **data)
{
    char *p = NULL;
    long n = BIO_get_mem_data(c->out, &p);
    *data = p;
    return n > 0 ? (size_t)n : 0;
}

void lt_tls_consumed(lt_tls_t *c)
{
    (void)BIO_reset(c->out);
}

int lt_tls_more(const lt_tls_t *c)
{
    return SSL_pending(c->ssl) > 0 || BIO_ctrl_pending(c->in) > 0;
}
