/* metrics_http: the primary's own tiny HTTP/1.1 endpoint for Prometheus: GET /metrics answers
 * what `render` returns (text exposition format 0.0.4), anything else 404; one request per
 * connection (Connection: close), which is how Prometheus scrapes. It runs on the primary's
 * loop, never through the workers, so it answers while every worker is being replaced. */
#ifndef METRICS_HTTP_H
#define METRICS_HTTP_H

#include <stddef.h>

#include <uv.h>

/* A malloc()ed body and its length; NULL for a 500. */
typedef char *(*metrics_http_render_t)(void *data, size_t *len);

/* 0 when `addr` is well-formed (HOST:PORT, [V6]:PORT or PORT), else UV_EINVAL. */
int metrics_http_check(const char *addr);
/* Listens on `addr` ("HOST:PORT", "[V6]:PORT" or "PORT", host 127.0.0.1 then); *port gets the
 * bound port. 0 or a negative libuv error (UV_EINVAL for a malformed address). */
int metrics_http_start(uv_loop_t *loop, const char *addr, metrics_http_render_t render, void *data,
                       int *port);
/* Closes the listener and every open connection. */
void metrics_http_stop(void);
/* Requests answered (200, 404 or 500), for the tests through stderr. */
unsigned long metrics_http_served(void);

#endif
