/* libFuzzer target for the load tester's reading of HTTP responses (tools/loadtest/
 * loadtest_http.c): arbitrary server bytes, cut into arbitrary reads, must give a final
 * response, an upgrade, an error or "more", never a crash, a 1xx taken for the answer, or
 * bytes consumed past a read. Each input is read twice, once whole and once cut, and both
 * must agree on the outcome: the split of reads must not change the answer.
 *
 * Input layout: [k] [k cut sizes] [bytes the server sent...] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    lt_http_result_t r;
    unsigned status;
    size_t end; /* offset just past the final response (DONE) */
} outcome_t;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_loadtest_http: %s\n", what);
    abort();
}

/* Reads `len` bytes in reads of the given sizes (the rest in one), as conn_plain does; then
 * the end of the connection, if the answer is not whole yet. */
static outcome_t read_all(const char *p, size_t len, const uint8_t *cuts, size_t ncuts)
{
    lt_http_t h;
    outcome_t o = {LT_HTTP_MORE, 0, 0};
    size_t off = 0, used;
    lt_http_start(&h);
    for (size_t i = 0; off < len; i++) {
        size_t n = i < ncuts && cuts[i] != 0 ? cuts[i] : len - off;
        if (n > len - off)
            n = len - off;
        o.r = lt_http_feed(&h, p + off, n, &used);
        if (used > n)
            fail("consumed more than it was given");
        if (o.r == LT_HTTP_DONE) {
            o.status = lt_http_status(&h);
            o.end = off + used;
            if (o.status >= 100 && o.status < 200)
                fail("a 1xx interim response taken for the answer");
            return o;
        }
        if (o.r != LT_HTTP_MORE)
            return o;
        off += n;
    }
    o.r = lt_http_eof(&h);
    if (o.r == LT_HTTP_DONE) {
        o.status = lt_http_status(&h);
        o.end = len;
        if (o.status >= 100 && o.status < 200)
            fail("a 1xx interim response taken for the answer at EOF");
    }
    return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t k = data[0] % 16;
    if (size < 1 + k)
        return 0;
    const uint8_t *cuts = data + 1;
    const char *p = (const char *)data + 1 + k;
    size_t len = size - 1 - k;
    outcome_t whole = read_all(p, len, NULL, 0);
    outcome_t cut = read_all(p, len, cuts, k);
    /* An error may show sooner or later with the cut, but a final answer is the same one. */
    if ((whole.r == LT_HTTP_DONE) != (cut.r == LT_HTTP_DONE) && whole.r != LT_HTTP_ERROR &&
        cut.r != LT_HTTP_ERROR)
        fail("the cut of the reads changed the outcome");
    if (whole.r == LT_HTTP_DONE && cut.r == LT_HTTP_DONE &&
        (whole.status != cut.status || whole.end != cut.end))
        fail("the cut of the reads changed the answer");
    return 0;
}
