/* Unit tests for the JSON-line framer (src/jsonl.c). Every chunked run is compared with a
 * reference splitter that sees the whole input at once, so chunking bugs show up as diffs. */
#include "ipc/jsonl.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        unsigned long long check_a_ = (unsigned long long)(a);                               \
        unsigned long long check_b_ = (unsigned long long)(b);                               \
        if (check_a_ != check_b_) {                                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s (%llu) != %s (%llu)\n", __FILE__,    \
                    __LINE__, #a, check_a_, #b, check_b_);                                   \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

/* Propagates a failing sub-check, with the caller's line so a shared helper's failure can be
 * traced back to the case that triggered it. */
#define CHECK_OK(expr)                                                                       \
    do {                                                                                     \
        if ((expr) != 0) {                                                                   \
            fprintf(stderr, "%s:%d: from here: %s\n", __FILE__, __LINE__, #expr);            \
            return 1;                                                                        \
        }                                                                                    \
    } while (0)

/* ---- event log ------------------------------------------------------------------------- */

typedef struct {
    char kind;      /* 'L' line, 'E' error */
    int err;
    size_t off;     /* into log.bytes, for lines */
    size_t len;     /* line length, or `seen` for errors */
} event_t;

typedef struct {
    event_t *ev;
    size_t nev, capev;
    char *bytes;
    size_t nbytes, capbytes;
} evlog_t;

static void log_free(evlog_t *l) {
    free(l->ev);
    free(l->bytes);
    memset(l, 0, sizeof *l);
}

/* The tests cannot go on without memory, and a failed test is what we want then. */
static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (q == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return q;
}

static void log_add(evlog_t *l, char kind, int err, const char *line, size_t len) {
    event_t *e;
    if (l->nev == l->capev) {
        l->capev = l->capev ? l->capev * 2 : 16;
        l->ev = xrealloc(l->ev, l->capev * sizeof *l->ev);
    }
    e = &l->ev[l->nev++];
    e->kind = kind;
    e->err = err;
    e->len = len;
    e->off = l->nbytes;
    if (kind == 'L') {
        if (l->nbytes + len > l->capbytes) {
            while (l->nbytes + len > l->capbytes)
                l->capbytes = l->capbytes ? l->capbytes * 2 : 256;
            l->bytes = xrealloc(l->bytes, l->capbytes);
        }
        if (len)
            memcpy(l->bytes + l->nbytes, line, len);
        l->nbytes += len;
    }
}

static int log_equal(const evlog_t *a, const evlog_t *b) {
    size_t i;
    CHECK_EQ(a->nev, b->nev);
    for (i = 0; i < a->nev; i++) {
        const event_t *x = &a->ev[i], *y = &b->ev[i];
        if (x->kind != y->kind || x->err != y->err || x->len != y->len ||
            (x->kind == 'L' && x->len &&
             memcmp(a->bytes + x->off, b->bytes + y->off, x->len) != 0)) {
            fprintf(stderr, "event %zu differs: got %c err=%d len=%zu, want %c err=%d len=%zu\n",
                    i, x->kind, x->err, x->len, y->kind, y->err, y->len);
            return 1;
        }
    }
    return 0;
}

/* ---- framer driver ----------------------------------------------------------------------- */

typedef struct {
    evlog_t log;
    const char *chunk;      /* current chunk, to prove zero-copy delivery */
    size_t chunk_len;
    size_t in_place;        /* lines delivered by pointer into the chunk */
    long stop_after;        /* stop after this many events (-1: never) */
    int misc_fail;
} run_t;

static int on_line(void *ctx, const char *line, size_t len) {
    run_t *r = ctx;
    if (len > 0 && line == NULL)
        r->misc_fail = 1;
    if (r->chunk && line >= r->chunk && line + len <= r->chunk + r->chunk_len)
        r->in_place++;
    log_add(&r->log, 'L', 0, line, len);
    return r->stop_after >= 0 && (long)r->log.nev >= r->stop_after;
}

static int on_error(void *ctx, int err, size_t seen) {
    run_t *r = ctx;
    log_add(&r->log, 'E', err, NULL, seen);
    return r->stop_after >= 0 && (long)r->log.nev >= r->stop_after;
}

static void run_init(run_t *r) {
    memset(r, 0, sizeof *r);
    r->stop_after = -1;
}

/* Feeds `in` cut at the sorted positions in `cuts` (0 < cut < n); returns the last feed's rc
 * that was not 0, or 0. */
static int feed_cuts(uvproc__ipc_jsonl_t *f, run_t *r, const char *in, size_t n, const size_t *cuts,
                     size_t ncuts, int *rc_out) {
    size_t i, start = 0;
    int rc = 0;
    for (i = 0; i <= ncuts; i++) {
        size_t stop = i < ncuts ? cuts[i] : n;
        int c;
        r->chunk = in + start;
        r->chunk_len = stop - start;
        c = uvproc__ipc_jsonl_feed(f, in + start, stop - start, on_line, on_error, r);
        if (c != 0) {
            rc = c;
            if (c == 1)
                break;
        }
        start = stop;
    }
    *rc_out = rc;
    return 0;
}

/* ---- reference splitter ------------------------------------------------------------------ */

/* The chunk that holds the byte where a line first exceeds the limit decides `seen`: the framer
 * looks at whole chunk segments, so it has seen up to that chunk's end or the line's end. */
static size_t ref_seen(size_t s, size_t e, size_t max, const size_t *cuts, size_t ncuts) {
    size_t over = s + max; /* index of the first byte past the limit */
    size_t i, chunk_end = (size_t)-1;
    for (i = 0; i < ncuts; i++) {
        if (cuts[i] > over) {
            chunk_end = cuts[i];
            break;
        }
    }
    return (chunk_end < e ? chunk_end : e) - s;
}

/* Expected events and pending bytes for the whole input; max is the effective limit. */
static void reference(const char *in, size_t n, size_t max, const size_t *cuts, size_t ncuts,
                      evlog_t *out, size_t *pending) {
    size_t s = 0;
    *pending = 0;
    while (s < n) {
        const char *nl = memchr(in + s, '\n', n - s);
        size_t e = nl ? (size_t)(nl - in) : n;
        size_t raw = e - s;
        if (raw > max) {
            log_add(out, 'E', -EMSGSIZE, NULL, ref_seen(s, e, max, cuts, ncuts));
        } else if (nl) {
            size_t l = raw;
            if (l > 0 && in[s + l - 1] == '\r')
                l--;
            log_add(out, 'L', 0, in + s, l);
        } else {
            *pending = raw;
        }
        s = nl ? e + 1 : n;
    }
}

/* Runs one chunking and compares it, events, return code and pending, with the reference. */
static int check_cuts(const char *in, size_t n, size_t max_line, const size_t *cuts,
                      size_t ncuts) {
    uvproc__ipc_jsonl_t f;
    run_t r;
    evlog_t want = {0};
    size_t want_pending;
    int rc;

    uvproc__ipc_jsonl_init(&f, max_line);
    run_init(&r);
    feed_cuts(&f, &r, in, n, cuts, ncuts, &rc);
    reference(in, n, max_line ? max_line : UVPROC__JSONL_DEFAULT_MAX, cuts, ncuts, &want,
              &want_pending);
    if (log_equal(&r.log, &want) != 0) {
        fprintf(stderr, "  input len %zu, max_line %zu, %zu cuts:", n, max_line, ncuts);
        for (size_t i = 0; i < ncuts && i < 20; i++)
            fprintf(stderr, " %zu", cuts[i]);
        fprintf(stderr, "\n");
        return 1;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), want_pending);
    CHECK(r.misc_fail == 0);
    CHECK(f.cap <= (max_line ? max_line : UVPROC__JSONL_DEFAULT_MAX));
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    log_free(&want);
    return 0;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Convenience: one chunk per string, events checked against a literal list "L:text" / "E:seen". */
static int expect(size_t max_line, const char *const *chunks, size_t nchunks,
                  const char *const *want, size_t nwant, size_t want_pending) {
    uvproc__ipc_jsonl_t f;
    run_t r;
    size_t i;

    uvproc__ipc_jsonl_init(&f, max_line);
    run_init(&r);
    for (i = 0; i < nchunks; i++)
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, chunks[i], strlen(chunks[i]), on_line, on_error, &r),
                 0);
    CHECK_EQ(r.log.nev, nwant);
    for (i = 0; i < nwant; i++) {
        const event_t *e = &r.log.ev[i];
        if (want[i][0] == 'L') {
            CHECK(e->kind == 'L');
            CHECK_EQ(e->len, strlen(want[i] + 2));
            CHECK(e->len == 0 || memcmp(r.log.bytes + e->off, want[i] + 2, e->len) == 0);
        } else {
            CHECK(e->kind == 'E');
            CHECK_EQ(e->err, -EMSGSIZE);
            CHECK_EQ(e->len, strtoul(want[i] + 2, NULL, 10));
        }
    }
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), want_pending);
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    return 0;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static int test_basic(void) {
    {
        const char *c[] = {"{\"a\":1}\n[2]\n\n\"s\"\r\n"};
        const char *w[] = {"L:{\"a\":1}", "L:[2]", "L:", "L:\"s\""};
        CHECK_OK(expect(0, c, N(c), w, N(w), 0));
    }
    { /* '\r' and '\n' in different chunks */
        const char *c[] = {"abc\r", "\nxyz\r", "\n"};
        const char *w[] = {"L:abc", "L:xyz"};
        CHECK_OK(expect(0, c, N(c), w, N(w), 0));
    }
    { /* only one '\r' is stripped, and only at the end */
        const char *c[] = {"\r\n\r\r\na\rb\n\r"};
        const char *w[] = {"L:", "L:\r", "L:a\rb"};
        CHECK_OK(expect(0, c, N(c), w, N(w), 1));
    }
    { /* unterminated tail stays pending */
        const char *c[] = {"1\n2\n{\"x\":", "12"};
        const char *w[] = {"L:1", "L:2"};
        CHECK_OK(expect(0, c, N(c), w, N(w), 7));
    }
    { /* UTF-8 sequence split between chunks */
        const char *c[] = {"\"\xc3", "\xa9\xe2\x80", "\xa8\xf0\x9f", "\x98\x80\"\n"};
        const char *w[] = {"L:\"\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\""};
        CHECK_OK(expect(0, c, N(c), w, N(w), 0));
    }
    { /* lone newlines */
        const char *c[] = {"\n", "\n\n", ""};
        const char *w[] = {"L:", "L:", "L:"};
        CHECK_OK(expect(0, c, N(c), w, N(w), 0));
    }
    return 0;
}

static int test_nul_bytes(void) {
    static const char in[] = "a\0b\n\0\n\0\0\r\n";
    uvproc__ipc_jsonl_t f;
    run_t r;
    size_t cut;

    for (cut = 0; cut <= sizeof in - 1; cut++) {
        uvproc__ipc_jsonl_init(&f, 0);
        run_init(&r);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, in, cut, on_line, on_error, &r), 0);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, in + cut, sizeof in - 1 - cut, on_line, on_error, &r),
                 0);
        CHECK_EQ(r.log.nev, 3);
        CHECK_EQ(r.log.ev[0].len, 3);
        CHECK(memcmp(r.log.bytes + r.log.ev[0].off, "a\0b", 3) == 0);
        CHECK_EQ(r.log.ev[1].len, 1);
        CHECK_EQ(r.log.bytes[r.log.ev[1].off], 0);
        CHECK_EQ(r.log.ev[2].len, 2);
        CHECK(memcmp(r.log.bytes + r.log.ev[2].off, "\0\0", 2) == 0);
        uvproc__ipc_jsonl_free(&f);
        log_free(&r.log);
    }
    return 0;
}

static const char sample[] =
    "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\"}\n"
    "\n"
    "\"caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\"\r\n"
    "42\n"
    "\r\n"
    "[1,2,\"a\\nb\"]\r\r\n"
    "null\n"
    "{\"long\":\"0123456789abcdef0123456789abcdef\"}\n"
    "tail-without-newline";

/* Every single split point, every pair of split points, and byte-at-a-time, at several limits
 * so that the oversize paths are crossed by the same exhaustive chunkings. */
static int test_every_split(void) {
    size_t n = sizeof sample - 1;
    size_t limits[] = {0, 1, 2, 4, 5, 20, 44, 45, 46, 1000};
    size_t li, i, j;

    for (li = 0; li < N(limits); li++) {
        size_t cuts[2];
        size_t *all = xrealloc(NULL, n * sizeof *all);
        int bad;

        CHECK_OK(check_cuts(sample, n, limits[li], NULL, 0));
        for (i = 1; i < n; i++) {
            cuts[0] = i;
            CHECK_OK(check_cuts(sample, n, limits[li], cuts, 1));
        }
        for (i = 1; i < n; i++)
            for (j = i + 1; j < n; j++) {
                cuts[0] = i;
                cuts[1] = j;
                CHECK_OK(check_cuts(sample, n, limits[li], cuts, 2));
            }
        for (i = 1; i < n; i++)
            all[i - 1] = i;
        bad = check_cuts(sample, n, limits[li], all, n - 1);
        free(all);
        CHECK_OK(bad);
    }
    return 0;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;
static uint64_t rnd(void) {
    /* xorshift64*: deterministic so a failure reproduces run after run. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717u;
}

/* Lines of varied lengths (often empty, sometimes past the limit), "\r\n" endings, UTF-8 and
 * NUL, cut at random sizes from 1 byte up to beyond the longest line. */
static int test_random_chunking(void) {
    size_t n = 1u << 20, i, round;
    char *in = xrealloc(NULL, n);
    size_t *cuts = xrealloc(NULL, n * sizeof *cuts);
    size_t limits[] = {0, 1, 7, 100, 1000, 4096, 65536};

    for (i = 0; i < n;) {
        size_t len, k;
        uint64_t r = rnd();
        switch (r % 8) {
        case 0: len = 0; break;
        case 1: len = 1 + rnd() % 4; break;
        case 2: case 3: case 4: len = rnd() % 200; break;
        case 5: len = rnd() % 5000; break;
        case 6: len = rnd() % 70000; break;
        default: len = 990 + rnd() % 20; break;
        }
        for (k = 0; k < len && i < n; k++, i++) {
            static const char alphabet[] = "{}[]\":,0123456789abcXYZ \t\r\0\xc3\xa9\xe2\x80\xa8";
            in[i] = alphabet[rnd() % (sizeof alphabet - 1)];
        }
        if (i < n && (r >> 8) % 4 == 0)
            in[i++] = '\r';
        if (i < n)
            in[i++] = '\n';
    }

    for (round = 0; round < 40; round++) {
        size_t li = round % N(limits), ncuts = 0, pos = 0, maxchunk;
        switch (round % 5) {
        case 0: maxchunk = 1 + rnd() % 8; break;
        case 1: maxchunk = 1 + rnd() % 300; break;
        case 2: maxchunk = 65536; break;
        case 3: maxchunk = 1 + rnd() % 200000; break;
        default: maxchunk = 1 + rnd() % 5000; break;
        }
        for (;;) {
            pos += 1 + rnd() % maxchunk;
            if (pos >= n)
                break;
            cuts[ncuts++] = pos;
        }
        CHECK_OK(check_cuts(in, n, limits[li], cuts, ncuts));
    }
    free(in);
    free(cuts);
    return 0;
}

static int test_zero_copy(void) {
    static const char in[] = "{\"a\":1}\n{\"b\":2}\n{\"c\":";
    static const char rest[] = "3}\n{\"d\":4}\n";
    uvproc__ipc_jsonl_t f;
    run_t r;

    uvproc__ipc_jsonl_init(&f, 0);
    run_init(&r);
    r.chunk = in;
    r.chunk_len = sizeof in - 1;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, in, sizeof in - 1, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 2);
    CHECK_EQ(r.in_place, 2);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 5);
    r.chunk = rest;
    r.chunk_len = sizeof rest - 1;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, rest, sizeof rest - 1, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 4);
    /* The split line had to be assembled; the one after it is again in place. */
    CHECK_EQ(r.in_place, 3);
    CHECK_EQ(r.log.ev[2].len, 7);
    CHECK(memcmp(r.log.bytes + r.log.ev[2].off, "{\"c\":3}", 7) == 0);
    /* Whole lines never needed the buffer beyond the one partial. */
    CHECK(f.cap <= 256);
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    return 0;
}

static int test_oversize(void) {
    { /* exactly max accepted, max+1 rejected, resync */
        const char *c[] = {"abcd\nabcde\nxy\n"};
        const char *w[] = {"L:abcd", "E:5", "L:xy"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* the '\r' counts toward the limit */
        const char *c[] = {"abc\r\nabcd\r\nab\r\n"};
        const char *w[] = {"L:abc", "E:5", "L:ab"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* growing across chunks: reported once, as soon as the limit is crossed */
        const char *c[] = {"ab", "cd", "e", "fghij", "klm", "nop\nq", "r\n"};
        const char *w[] = {"E:5", "L:qr"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* crossing inside a chunk that also ends the line: seen is the whole line */
        const char *c[] = {"ab", "cdefg\nok\n"};
        const char *w[] = {"E:7", "L:ok"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* oversized unterminated tail: reported, not pending */
        const char *c[] = {"ok\nabcdefgh"};
        const char *w[] = {"L:ok", "E:8"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* exactly max buffered across chunks is still fine */
        const char *c[] = {"ab", "cd", "\n"};
        const char *w[] = {"L:abcd"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* max_line 1 */
        const char *c[] = {"a\n\nab\nb\r\n\r\n"};
        const char *w[] = {"L:a", "L:", "E:2", "E:2", "L:"};
        CHECK_OK(expect(1, c, N(c), w, N(w), 0));
    }
    { /* several oversized lines in one chunk, each reported once */
        const char *c[] = {"abcdef\nghijkl\nmnopqr\n"};
        const char *w[] = {"E:6", "E:6", "E:6"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    { /* a line reported in one feed, ended much later */
        const char *c[] = {"abcdefgh", "ijkl", "mn\nop", "\n"};
        const char *w[] = {"E:8", "L:op"};
        CHECK_OK(expect(4, c, N(c), w, N(w), 0));
    }
    return 0;
}

/* A huge line is caught while it streams in, without buffering past the limit, and the chunks
 * after it are skipped without memory growth. */
static int test_oversize_streaming(void) {
    size_t chunk = 64 * 1024, max = 1u << 20, total = 32u << 20, sent;
    char *buf = xrealloc(NULL, chunk);
    uvproc__ipc_jsonl_t f;
    run_t r;

    memset(buf, 'x', chunk);
    uvproc__ipc_jsonl_init(&f, max);
    run_init(&r);
    for (sent = 0; sent < total; sent += chunk) {
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, buf, chunk, on_line, on_error, &r), 0);
        CHECK(f.cap <= max);
        CHECK(uvproc__ipc_jsonl_pending(&f) <= max);
        if (sent > max)
            CHECK_EQ(r.log.nev, 1);
    }
    CHECK_EQ(r.log.nev, 1);
    CHECK(r.log.ev[0].kind == 'E');
    CHECK_EQ(r.log.ev[0].err, -EMSGSIZE);
    CHECK_EQ(r.log.ev[0].len, max + chunk);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "\n{}\n", 4, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 2);
    CHECK_EQ(r.log.ev[1].len, 2);
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    free(buf);
    return 0;
}

/* The default limit: a 64 MiB line in 64 KiB chunks is accepted, one byte more is not. Also
 * keeps the framer honest on time: a rescan per chunk would make this quadratic (~1000x). */
static int test_default_limit_big_line(void) {
    size_t chunk = 64 * 1024, max = UVPROC__JSONL_DEFAULT_MAX, i;
    char *buf = xrealloc(NULL, chunk);
    uvproc__ipc_jsonl_t f;
    run_t r;
    int extra;

    memset(buf, 'y', chunk);
    for (extra = 0; extra <= 1; extra++) {
        uvproc__ipc_jsonl_init(&f, 0);
        CHECK_EQ(f.max_line, max);
        run_init(&r);
        for (i = 0; i < max / chunk; i++)
            CHECK_EQ(uvproc__ipc_jsonl_feed(&f, buf, chunk, on_line, on_error, &r), 0);
        if (extra)
            CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "y", 1, on_line, on_error, &r), 0);
        CHECK_EQ(uvproc__ipc_jsonl_pending(&f), extra ? 0 : max);
        CHECK(f.cap <= max);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "\r\n", 2, on_line, on_error, &r), 0);
        /* Without the extra byte, the '\r' is what pushes the raw line past the limit. */
        CHECK_EQ(r.log.nev, 1);
        CHECK(r.log.ev[0].kind == 'E');
        CHECK_EQ(r.log.ev[0].len, max + 1);
        CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
        uvproc__ipc_jsonl_free(&f);
        log_free(&r.log);
    }

    /* exactly max bytes then '\n' is delivered whole */
    uvproc__ipc_jsonl_init(&f, 0);
    run_init(&r);
    for (i = 0; i < max / chunk; i++)
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, buf, chunk, on_line, on_error, &r), 0);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "\n", 1, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 1);
    CHECK(r.log.ev[0].kind == 'L');
    CHECK_EQ(r.log.ev[0].len, max);
    /* A big buffer is released once its line is gone, not pinned for the channel's life. */
    CHECK_EQ(f.cap, 0);
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    free(buf);
    return 0;
}

/* Stopping: from a line delivered in place, from a buffered line, from an error; the rest of
 * the chunk is dropped, nothing stays pending, and the next feed starts a fresh line. */
static int test_stop(void) {
    uvproc__ipc_jsonl_t f;
    run_t r;

    uvproc__ipc_jsonl_init(&f, 4);
    run_init(&r);
    r.stop_after = 2;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "a\nb\nc\nd", 7, on_line, on_error, &r), 1);
    CHECK_EQ(r.log.nev, 2);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
    r.stop_after = -1;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "e\n", 2, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 3);
    CHECK_EQ(r.log.bytes[r.log.ev[2].off], 'e');

    /* buffered line */
    r.stop_after = 4;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "fg", 2, on_line, on_error, &r), 0);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "h\nij", 4, on_line, on_error, &r), 1);
    CHECK_EQ(r.log.nev, 4);
    CHECK_EQ(r.log.ev[3].len, 3);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);

    /* error, mid-line: the discard state is dropped as well */
    r.stop_after = 5;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "abcdefgh", 8, on_line, on_error, &r), 1);
    CHECK_EQ(r.log.nev, 5);
    CHECK(r.log.ev[4].kind == 'E');
    CHECK(!f.discarding);
    r.stop_after = -1;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "z\n", 2, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 6);
    CHECK(r.log.ev[5].kind == 'L');

    /* error on a complete oversized line, with lines after it in the chunk */
    r.stop_after = 7;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "abcdefgh\nk\n", 11, on_line, on_error, &r), 1);
    CHECK_EQ(r.log.nev, 7);
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    return 0;
}

/* Every stop position over the sample, at every split point, matches the reference prefix. */
static int test_stop_everywhere(void) {
    size_t n = sizeof sample - 1, cut;
    long k;
    evlog_t want = {0};
    size_t pend;

    reference(sample, n, 20, NULL, 0, &want, &pend);
    for (k = 1; k <= (long)want.nev; k++)
        for (cut = 0; cut <= n; cut++) {
            uvproc__ipc_jsonl_t f;
            run_t r;
            int rc1, rc2 = 0;
            size_t i;

            uvproc__ipc_jsonl_init(&f, 20);
            run_init(&r);
            r.stop_after = k;
            rc1 = uvproc__ipc_jsonl_feed(&f, sample, cut, on_line, on_error, &r);
            if (rc1 == 0)
                rc2 = uvproc__ipc_jsonl_feed(&f, sample + cut, n - cut, on_line, on_error, &r);
            CHECK(rc1 == 1 || rc2 == 1);
            CHECK_EQ(r.log.nev, (size_t)k);
            CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
            for (i = 0; i < r.log.nev; i++) {
                CHECK(r.log.ev[i].kind == want.ev[i].kind);
                if (r.log.ev[i].kind == 'L') {
                    CHECK_EQ(r.log.ev[i].len, want.ev[i].len);
                    CHECK(want.ev[i].len == 0 ||
                          memcmp(r.log.bytes + r.log.ev[i].off, want.bytes + want.ev[i].off,
                                 want.ev[i].len) == 0);
                } else {
                    CHECK(r.log.ev[i].len > 20);
                }
            }
            uvproc__ipc_jsonl_free(&f);
            log_free(&r.log);
        }
    log_free(&want);
    return 0;
}

/* Callbacks may reset or free the framer (a channel closing from inside its message callback). */
typedef struct {
    uvproc__ipc_jsonl_t *f;
    int mode; /* 0 reset and go on, 1 free and stop, 2 free and go on */
    int lines;
} reenter_t;

static int reenter_line(void *ctx, const char *line, size_t len) {
    reenter_t *x = ctx;
    (void)line;
    (void)len;
    x->lines++;
    if (x->mode == 0) {
        uvproc__ipc_jsonl_reset(x->f);
        return 0;
    }
    uvproc__ipc_jsonl_free(x->f);
    return x->mode == 1;
}

static int test_reentrant_reset_free(void) {
    uvproc__ipc_jsonl_t f;
    reenter_t x;
    int mode;

    for (mode = 0; mode < 3; mode++) {
        x.f = &f;
        x.mode = mode;
        x.lines = 0;
        uvproc__ipc_jsonl_init(&f, 0);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "{\"a\":", 5, reenter_line, NULL, &x), 0);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "1}\n2\n[", 6, reenter_line, NULL, &x), mode == 1);
        CHECK_EQ(x.lines, mode == 1 ? 1 : 2);
        CHECK_EQ(uvproc__ipc_jsonl_pending(&f), mode == 1 ? 0 : 1);
        CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "3]\n", 3, reenter_line, NULL, &x), mode == 1);
        uvproc__ipc_jsonl_free(&f);
    }
    return 0;
}

static int test_reset_pending_reinit(void) {
    uvproc__ipc_jsonl_t f;
    run_t r;

    uvproc__ipc_jsonl_init(&f, 8);
    run_init(&r);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, NULL, 0, on_line, on_error, &r), 0);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "abc", 3, on_line, on_error, &r), 0);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 3);
    uvproc__ipc_jsonl_reset(&f);
    CHECK_EQ(uvproc__ipc_jsonl_pending(&f), 0);
    CHECK_EQ(f.max_line, 8);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "d\n", 2, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 1);
    CHECK_EQ(r.log.ev[0].len, 1);

    /* reset also leaves a discard */
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "0123456789", 10, on_line, on_error, &r), 0);
    CHECK(f.discarding);
    uvproc__ipc_jsonl_reset(&f);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "e\n", 2, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 3);
    CHECK(r.log.ev[2].kind == 'L');

    /* NULL error callback: oversized lines vanish quietly */
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "0123456789\nf\n", 13, on_line, NULL, &r), 0);
    CHECK_EQ(r.log.nev, 4);

    uvproc__ipc_jsonl_free(&f);
    uvproc__ipc_jsonl_free(&f); /* idempotent */
    uvproc__ipc_jsonl_init(&f, 0);
    CHECK_EQ(f.max_line, UVPROC__JSONL_DEFAULT_MAX);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "x", 1, on_line, on_error, &r), 0);
    uvproc__ipc_jsonl_free(&f);

    /* a zero-initialised framer uses the default limit */
    memset(&f, 0, sizeof f);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "{}\n", 3, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 5);
    uvproc__ipc_jsonl_free(&f);

    /* lowering the limit below what is buffered reports the line at the next byte */
    uvproc__ipc_jsonl_init(&f, 10);
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "abcdef", 6, on_line, on_error, &r), 0);
    f.max_line = 3;
    CHECK_EQ(uvproc__ipc_jsonl_feed(&f, "g\nh\n", 4, on_line, on_error, &r), 0);
    CHECK_EQ(r.log.nev, 7);
    CHECK(r.log.ev[5].kind == 'E');
    CHECK_EQ(r.log.ev[5].len, 7);
    CHECK(r.log.ev[6].kind == 'L');
    uvproc__ipc_jsonl_free(&f);
    log_free(&r.log);
    return 0;
}

int main(void) {
    static const struct {
        const char *name;
        int (*fn)(void);
    } tests[] = {
        {"basic", test_basic},
        {"nul_bytes", test_nul_bytes},
        {"every_split", test_every_split},
        {"random_chunking", test_random_chunking},
        {"zero_copy", test_zero_copy},
        {"oversize", test_oversize},
        {"oversize_streaming", test_oversize_streaming},
        {"default_limit_big_line", test_default_limit_big_line},
        {"stop", test_stop},
        {"stop_everywhere", test_stop_everywhere},
        {"reentrant_reset_free", test_reentrant_reset_free},
        {"reset_pending_reinit", test_reset_pending_reinit},
    };
    size_t i;
    int failed = 0;

    /* TAP, as test/check.h prints it (these tests return instead of exiting on failure). */
    for (i = 0; i < N(tests); i++) {
        int bad = tests[i].fn();
        printf("%sok %zu - %s\n", bad ? "not " : "", i + 1, tests[i].name);
        failed += bad != 0;
    }
    printf("1..%zu\n", i);
    if (failed)
        fprintf(stderr, "%d test(s) failed\n", failed);
    return failed ? 1 : 0;
}
