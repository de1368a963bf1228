/* libFuzzer target for what the load tester's parent reads from a load child over IPC
 * (tools/loadtest/loadtest_stats.c): a report, or a configuration, as JSON text from a peer
 * that may be broken or hostile (a remote host's child, --hosts). A bad message must add
 * nothing; a good one must survive encode -> decode exactly, and the merged histogram must
 * stay consistent (percentiles in order, within min..max).
 *
 * Input: the message's JSON text, as one line off the channel. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "loadtest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static lt_stats_t a, b;

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_loadtest_report: %s\n", what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *msg = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (msg == NULL)
        return 0;
    lt_stats_init(&a);
    if (lt_stats_decode_add(&a, msg) != 0) {
        if (a.requests != 0 || a.latency.total != 0 || lt_stats_errors(&a) != 0 ||
            a.handshakes != 0 || a.note[0] != '\0')
            fail("a refused report added something");
    } else {
        const hdr_histogram_t *l = &a.latency;
        uint64_t last = 0;
        static const double ps[] = {0, 50, 90, 99, 99.9, 99.999, 100};
        for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
            uint64_t v = hdr_value_at_percentile(l, ps[i]);
            if (v < last || (l->total != 0 && (v < l->min || v > l->max)))
                fail("percentiles out of order or outside min..max");
            last = v;
        }
        for (const char *c = a.note; *c != '\0'; c++)
            if ((unsigned char)*c < 0x20 || (unsigned char)*c >= 0x7f)
                fail("a control or non-ASCII byte kept in the note");
        /* Round trip: what the parent accepted, re-encoded, reads back the same. */
        json_t *again = lt_stats_encode(&a, 0, 0);
        lt_stats_init(&b);
        if (lt_stats_decode_add(&b, again) != 0)
            fail("its own encoding refused");
        if (b.requests != a.requests || b.bytes != a.bytes || b.latency.total != l->total ||
            memcmp(b.errors, a.errors, sizeof a.errors) != 0 ||
            memcmp(b.status, a.status, sizeof a.status) != 0 || strcmp(a.note, b.note) != 0)
            fail("encode -> decode is not exact");
        json_decref(again);
    }
    lt_child_config_t c;
    if (lt_child_config_decode(&c, msg) == 0) {
        if (c.connections < 1 || c.connections > LT_MAX_CONNECTIONS || c.request_len == 0 ||
            c.request_len > LT_MAX_REQUEST || c.timeout_ms < 1)
            fail("a configuration out of bounds accepted");
        lt_child_config_free(&c);
    }
    json_decref(msg);
    return 0;
}
