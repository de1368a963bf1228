/* http_hello: the "hello world" HTTP/1.1 server connection (libuv + http_parser, keep-alive,
 * pipelining) that cluster-server's C workers and bench/raw_http_server both run, so that the
 * benchmark compares supervisors with the same bytes on the wire. It knows nothing of uvproc. */
#ifndef HTTP_HELLO_H
#define HTTP_HELLO_H

#include <stddef.h>

#include <uv.h>

/* The response to every request but those the hook takes (exactly these bytes). */
#define HTTP_HELLO_BODY "hello world\n"

/* Called for each complete request with its path (not NUL-terminated). Return non-zero to take
 * the request over: it is then answered only when http_hello_reply(conn) is called (a slow
 * request), or never (cluster-server's GET /crash). */
typedef int (*http_hello_hook_t)(void *conn, const char *path, size_t len);
void http_hello_set_hook(http_hello_hook_t hook);
/* Answers a request the hook took over; safe after the peer went away (nothing is sent). */
void http_hello_reply(void *conn);

/* Serves HTTP on `client`, a connected stream the module now owns: it is uv_close()d and
 * free()d when the peer goes away (it must come from malloc). */
void http_hello_serve(uv_stream_t *client);

/* A uv_connection_cb for a server whose connections the module accepts itself. */
void http_hello_on_connection(uv_stream_t *server, int status);

/* Stops keep-alive, as a graceful worker must so that its loop can end: the next response on
 * each connection says "Connection: close" and the connection closes after it; connections
 * that stay idle for a second are closed then. */
void http_hello_drain(void);

/* Open connections. */
size_t http_hello_connections(void);

#endif
