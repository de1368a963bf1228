#include "jsonl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Small lines are the common case; starting here avoids a string of tiny reallocs. */
#define JSONL_MIN_CAP ((size_t)256)
/* A buffer grown for one big message is given back afterwards rather than pinned for the life
 * of the channel; below this size keeping it saves a malloc per split line. */
#define JSONL_KEEP_CAP ((size_t)1 << 20)

/* Read every time rather than cached in init, so a zero-initialised or re-tuned framer works. */
static size_t jsonl_limit(const uvproc__ipc_jsonl_t *f)
{
    return f->max_line ? f->max_line : UVPROC__JSONL_DEFAULT_MAX;
}

void uvproc__ipc_jsonl_init(uvproc__ipc_jsonl_t *f, size_t max_line)
{
    f->buf = NULL;
    f->len = 0;
    f->cap = 0;
    f->max_line = max_line ? max_line : UVPROC__JSONL_DEFAULT_MAX;
    f->discarding = 0;
}

size_t uvproc__ipc_jsonl_pending(const uvproc__ipc_jsonl_t *f)
{
    return f->len;
}

void uvproc__ipc_jsonl_reset(uvproc__ipc_jsonl_t *f)
{
    f->len = 0;
    f->discarding = 0;
}

void uvproc__ipc_jsonl_free(uvproc__ipc_jsonl_t *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
    f->cap = 0;
    f->discarding = 0;
}

/* The caller guarantees need <= limit, so capping at the limit never starves the line and the
 * buffer never exceeds max_line bytes. */
static int jsonl_reserve(uvproc__ipc_jsonl_t *f, size_t need, size_t limit)
{
    size_t cap;
    char *nb;

    if (need <= f->cap)
        return 0;
    cap = f->cap < JSONL_MIN_CAP ? JSONL_MIN_CAP : f->cap;
    /* Doubling keeps a big line arriving in small chunks linear in total copying. */
    while (cap < need)
        cap = cap > limit / 2 ? limit : cap * 2;
    if (cap > limit)
        cap = limit;
    nb = realloc(f->buf, cap);
    if (nb == NULL)
        return -ENOMEM;
    f->buf = nb;
    f->cap = cap;
    return 0;
}

static int jsonl_deliver(uvproc__ipc_jsonl_line_cb on_line, void *ctx, const char *line, size_t n)
{
    /* '\r' is JSON whitespace, so Node accepts "\r\n"; strip it so callers see one shape. */
    if (n > 0 && line[n - 1] == '\r')
        n--;
    return on_line(ctx, line, n);
}

int uvproc__ipc_jsonl_feed(uvproc__ipc_jsonl_t *f, const char *data, size_t len,
                           uvproc__ipc_jsonl_line_cb on_line, uvproc__ipc_jsonl_error_cb on_error,
                           void *ctx)
{
    const char *p, *end;
    size_t limit = jsonl_limit(f);
    int rc = 0;

    /* NULL + 0 is undefined in C, and an empty read is legal for callers to pass on. */
    if (len == 0)
        return 0;
    p = data;
    end = data + len;

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *next = nl ? nl + 1 : end;
        int err = 0;

        if (f->discarding) {
            if (nl)
                f->discarding = 0;
            p = next;
            continue;
        }

        /* Written as a subtraction because len + n may wrap when the limit is near SIZE_MAX;
         * it also catches a whole oversized line inside one chunk before anything is copied. */
        if (f->len > limit || n > limit - f->len) {
            err = -EMSGSIZE;
        } else if (f->len == 0 && nl) {
            /* The common case: the whole line is in this chunk, hand it out in place. */
            if (jsonl_deliver(on_line, ctx, p, n))
                goto stop;
            p = next;
            continue;
        } else if (jsonl_reserve(f, f->len + n, limit) != 0) {
            err = -ENOMEM;
            rc = -ENOMEM;
        }

        if (err) {
            size_t seen = f->len + n;

            if (seen < n)
                seen = (size_t)-1;
            f->len = 0;
            f->discarding = nl == NULL;
            if (on_error && on_error(ctx, err, seen))
                goto stop;
            p = next;
            continue;
        }

        if (n > 0)
            memcpy(f->buf + f->len, p, n);
        f->len += n;
        p = next;
        if (nl) {
            size_t ln = f->len;
            int stop;

            /* Cleared before the call so pending() is right and a reset/free inside the
             * callback leaves nothing behind for us to trip over afterwards. */
            f->len = 0;
            stop = jsonl_deliver(on_line, ctx, f->buf, ln);
            if (f->cap > JSONL_KEEP_CAP) {
                free(f->buf);
                f->buf = NULL;
                f->cap = 0;
            }
            if (stop)
                goto stop;
        }
    }
    return rc;

stop:
    f->len = 0;
    f->discarding = 0;
    return 1;
}
