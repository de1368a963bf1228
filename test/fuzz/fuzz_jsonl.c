/* libFuzzer target for the JSON-line framer: the input picks the limit, the chunking and an
 * optional stop, and the framer's events must match a reference splitter that sees the whole
 * input at once. abort() on mismatch is the fuzzer's convention; the library never aborts.
 *
 * Input layout: [limit] [stop] [k] [k chunk sizes] [payload...] */
#include "ipc/jsonl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct {
    char kind; /* 'L' or 'E' */
    int err;
    const char *line; /* into the payload for expected lines, owned copy for seen ones */
    size_t len;       /* line length, or `seen` for errors */
} fz_event_t;

typedef struct {
    fz_event_t *ev;
    size_t n, cap;
    long stop_after;
} fz_log_t;

static void fz_fail(const char *what, size_t i) {
    fprintf(stderr, "fuzz_jsonl: mismatch: %s (event %zu)\n", what, i);
    abort();
}

static void fz_add(fz_log_t *l, char kind, int err, const char *line, size_t len, int copy) {
    fz_event_t *e;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->ev = realloc(l->ev, l->cap * sizeof *l->ev);
        if (l->ev == NULL)
            abort();
    }
    e = &l->ev[l->n++];
    e->kind = kind;
    e->err = err;
    e->len = len;
    e->line = line;
    if (copy && kind == 'L') {
        /* The framer's pointer is borrowed for the call only; keep our own bytes. */
        char *c = malloc(len ? len : 1);
        if (c == NULL)
            abort();
        if (len)
            memcpy(c, line, len);
        e->line = c;
    }
}

static int fz_on_line(void *ctx, const char *line, size_t len) {
    fz_log_t *l = ctx;
    fz_add(l, 'L', 0, line, len, 1);
    return l->stop_after > 0 && (long)l->n >= l->stop_after;
}

static int fz_on_error(void *ctx, int err, size_t seen) {
    fz_log_t *l = ctx;
    fz_add(l, 'E', err, NULL, seen, 1);
    return l->stop_after > 0 && (long)l->n >= l->stop_after;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    size_t max_line, limit, k, i, pos, ci, npend = 0;
    size_t chunk_sizes[16];
    size_t *cut_ends = NULL, ncut = 0;
    const char *in;
    size_t n;
    long stop_after;
    fz_log_t got = {0}, want = {0};
    uvproc__ipc_jsonl_t f;
    int rc = 0, stopped = 0;

    if (size < 3)
        return 0;
    /* Small limits make oversize lines common; a few wider ones cross the 256-byte initial
     * buffer and its doublings; 0 exercises the default. */
    if (data[0] == 0)
        max_line = 0;
    else if (data[0] < 200)
        max_line = data[0];
    else
        max_line = (size_t)(data[0] - 199) * 64;
    limit = max_line ? max_line : UVPROC__JSONL_DEFAULT_MAX;
    stop_after = data[1] < 64 ? data[1] : 0;
    k = data[2] % 16;
    if (size < 3 + k)
        return 0;
    for (i = 0; i < k; i++)
        chunk_sizes[i] = data[3 + i];
    in = (const char *)data + 3 + k;
    n = size - 3 - k;

    /* Feed; each chunk is copied to its own exact-size allocation so ASan sees any read past
     * a chunk's end, which the fuzzer's one big buffer would hide. */
    uvproc__ipc_jsonl_init(&f, max_line);
    got.stop_after = stop_after;
    cut_ends = malloc((n + 1) * 2 * sizeof *cut_ends);
    if (cut_ends == NULL)
        abort();
    for (pos = 0, ci = 0; pos < n || (pos == 0 && n == 0);) {
        size_t want_len = k ? chunk_sizes[ci++ % k] : n;
        size_t len = want_len < n - pos ? want_len : n - pos;
        char *chunk = malloc(len ? len : 1);
        if (chunk == NULL)
            abort();
        if (len)
            memcpy(chunk, in + pos, len);
        rc = uvproc__ipc_jsonl_feed(&f, chunk, len, fz_on_line, fz_on_error, &got);
        free(chunk);
        pos += len;
        if (len)
            cut_ends[ncut++] = pos;
        if (rc != 0 && rc != 1)
            fz_fail("feed returned neither 0 nor 1", got.n);
        if (rc == 1) {
            stopped = 1;
            break;
        }
        if (f.cap > limit)
            fz_fail("buffer larger than max_line", got.n);
        if (uvproc__ipc_jsonl_pending(&f) > limit)
            fz_fail("pending larger than max_line", got.n);
        /* Zero-size chunks are legal but must not loop forever. */
        if (n == 0 || ci > 4 * n + 16)
            break;
    }
    if (pos < n && !stopped) {
        /* Only when every chunk size was 0: feed the rest at once. */
        rc = uvproc__ipc_jsonl_feed(&f, in + pos, n - pos, fz_on_line, fz_on_error, &got);
        cut_ends[ncut++] = n;
        pos = n;
        if (rc == 1)
            stopped = 1;
    }

    /* Reference: split the whole payload. An oversized line is reported at the end of the
     * chunk holding its first byte past the limit, or at its own end if that comes first. */
    for (pos = 0; pos < n;) {
        const char *nl = memchr(in + pos, '\n', n - pos);
        size_t e = nl ? (size_t)(nl - in) : n;
        size_t raw = e - pos;
        if (raw > limit) {
            size_t over = pos + limit, chunk_end = n;
            for (i = 0; i < ncut; i++)
                if (cut_ends[i] > over) {
                    chunk_end = cut_ends[i];
                    break;
                }
            fz_add(&want, 'E', -EMSGSIZE, NULL, (chunk_end < e ? chunk_end : e) - pos, 0);
        } else if (nl) {
            size_t l = raw;
            if (l > 0 && in[pos + l - 1] == '\r')
                l--;
            fz_add(&want, 'L', 0, in + pos, l, 0);
        } else {
            npend = raw;
        }
        pos = nl ? e + 1 : n;
    }

    if (stop_after > 0 && (size_t)stop_after <= want.n) {
        if (!stopped || got.n != (size_t)stop_after)
            fz_fail("stop not honoured", got.n);
        if (uvproc__ipc_jsonl_pending(&f) != 0 || f.discarding)
            fz_fail("state left after stop", got.n);
        want.n = (size_t)stop_after;
    } else {
        if (stopped || rc != 0)
            fz_fail("unexpected stop or error return", got.n);
        if (uvproc__ipc_jsonl_pending(&f) != npend)
            fz_fail("pending differs", got.n);
    }
    if (got.n != want.n)
        fz_fail("event count differs", got.n < want.n ? got.n : want.n);
    for (i = 0; i < want.n; i++) {
        const fz_event_t *g = &got.ev[i], *w = &want.ev[i];
        if (g->kind != w->kind || g->err != w->err || g->len != w->len)
            fz_fail("event differs", i);
        if (g->kind == 'L' && g->len && memcmp(g->line, w->line, g->len) != 0)
            fz_fail("line bytes differ", i);
    }

    for (i = 0; i < got.n; i++)
        free((void *)got.ev[i].line);
    free(got.ev);
    free(want.ev);
    free(cut_ends);
    uvproc__ipc_jsonl_free(&f);
    return 0;
}
