/* loadtest_http: reading one HTTP/1.x response to one request, with http_parser. Kept apart
 * from the connection code so that test/fuzz/fuzz_loadtest_http.c runs exactly this on
 * arbitrary bytes.
 *
 * http_parser treats a 1xx response as a whole message (it has no body), so taken naively
 * "100 Continue" would be the answer and the real one after it junk. RFC 9110 15.2: a client
 * must be able to parse one or more 1xx responses before the final one, so they are skipped
 * here; 101 is the exception, it ends HTTP on the connection. */
#include <string.h>

#include "loadtest.h"

static int on_message_complete(http_parser *p)
{
    lt_http_t *h = p->data;
    if (p->status_code == 101 || p->upgrade) {
        h->upgrade = 1;
        http_parser_pause(p, 1);
    } else if (p->status_code >= 100 && p->status_code < 200) {
        /* interim: the parser is already waiting for the next message, the final one */
    } else {
        h->done = 1;
        /* Stop right after it, so bytes after it are seen as such rather than parsed as a
         * second response nobody asked for. */
        http_parser_pause(p, 1);
    }
    return 0;
}

static const http_parser_settings settings = {.on_message_complete = on_message_complete};

void lt_http_start(lt_http_t *h)
{
    http_parser_init(&h->parser, HTTP_RESPONSE);
    h->parser.data = h;
    h->done = h->upgrade = 0;
}

lt_http_result_t lt_http_feed(lt_http_t *h, const char *data, size_t len, size_t *used)
{
    size_t n;
    h->parser.data = h;
    if (h->done || h->upgrade) {
        *used = 0;
        return h->done ? LT_HTTP_DONE : LT_HTTP_UPGRADE;
    }
    n = http_parser_execute(&h->parser, &settings, data, len);
    *used = n;
    if (h->upgrade)
        return LT_HTTP_UPGRADE;
    if (h->done)
        return LT_HTTP_DONE;
    if (HTTP_PARSER_ERRNO(&h->parser) != HPE_OK || n != len)
        return LT_HTTP_ERROR;
    return LT_HTTP_MORE;
}

lt_http_result_t lt_http_eof(lt_http_t *h)
{
    if (h->done)
        return LT_HTTP_DONE;
    if (h->upgrade)
        return LT_HTTP_UPGRADE;
    h->parser.data = h;
    http_parser_execute(&h->parser, &settings, NULL, 0);
    return h->done ? LT_HTTP_DONE : h->upgrade ? LT_HTTP_UPGRADE : LT_HTTP_ERROR;
}

unsigned lt_http_status(const lt_http_t *h)
{
    return h->parser.status_code;
}

int lt_http_keep_alive(const lt_http_t *h)
{
    return http_should_keep_alive(&h->parser);
}
