/* Newline-delimited framing for the IPC channel (Node's 'json' serialization): pure byte
 * splitting, no I/O and no JSON parsing, so it can be unit-tested and fuzzed on its own. */
#ifndef UVPROC__JSONL_H
#define UVPROC__JSONL_H

#include <stddef.h>

typedef struct uvproc__ipc_jsonl_s {
    char *buf; /* bytes of the current partial line */
    size_t len, cap;
    size_t max_line; /* max bytes per line (excluding '\n'); 0 means the default 64 MiB */
    int discarding;  /* skipping an oversized line until the next '\n' */
} uvproc__ipc_jsonl_t;

/* The limit counts every byte before the '\n', a trailing '\r' included: the framer has to
 * decide as bytes arrive, before it can know whether a '\r' will be followed by '\n'. */
#define UVPROC__JSONL_DEFAULT_MAX ((size_t)64 << 20)

/* Called once per whole line: `line` excludes the '\n' and one trailing '\r' (so "\r\n" works).
 * Empty lines are delivered too (len 0): deciding they are invalid is the caller's job.
 * `line` is borrowed for the call only. Return 0 to go on, non-zero to stop feeding at once
 * (the rest of this chunk is dropped and the partial buffer is cleared). */
typedef int (*uvproc__ipc_jsonl_line_cb)(void *ctx, const char *line, size_t len);

/* Called once when a line grows past max_line (err = -EMSGSIZE), with the number of bytes of
 * that line seen so far (always > max_line, never more than the line really has); the framer
 * then discards up to and including the next '\n' and resynchronises. Also called with
 * err = -ENOMEM when the partial buffer cannot grow, with the same discard-and-resync effect.
 * Return non-zero to stop as above. May be NULL: the line is then dropped silently. */
typedef int (*uvproc__ipc_jsonl_error_cb)(void *ctx, int err, size_t seen);

void uvproc__ipc_jsonl_init(uvproc__ipc_jsonl_t *f, size_t max_line);

/* Returns 0, -ENOMEM if the partial buffer could not grow (reported through on_error too; the
 * rest of the chunk is still framed), or 1 if a callback asked to stop (this wins over
 * -ENOMEM). After a stop the framer is as after uvproc__ipc_jsonl_reset(): the next byte fed
 * starts a new line.
 * Callbacks must not call uvproc__ipc_jsonl_feed() on the same framer; they may call
 * uvproc__ipc_jsonl_reset() or uvproc__ipc_jsonl_free() on it. */
int uvproc__ipc_jsonl_feed(uvproc__ipc_jsonl_t *f, const char *data, size_t len,
                           uvproc__ipc_jsonl_line_cb on_line, uvproc__ipc_jsonl_error_cb on_error,
                           void *ctx);

/* Bytes of an unfinished line are dropped at EOF (Node drops them too); this tells how many.
 * Bytes of a line already reported as oversized are not counted. */
size_t uvproc__ipc_jsonl_pending(const uvproc__ipc_jsonl_t *f);

void uvproc__ipc_jsonl_reset(uvproc__ipc_jsonl_t *f); /* drop any partial line, keep settings */
void uvproc__ipc_jsonl_free(uvproc__ipc_jsonl_t *f);  /* free memory; f may be re-inited */

#endif
