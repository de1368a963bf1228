/* Node's 'json' wire values, read as Node reads them. */
#ifndef UVPROC__WIRE_H
#define UVPROC__WIRE_H

#include <stddef.h>

#include <jansson.h>

/* One JSON value, as Node's JSON.parse would read it (lone surrogate escapes become U+FFFD,
 * integers past int64 become reals), or NULL when it is not exactly one JSON value. */
json_t *uvproc__ipc_wire_parse(const char *line, size_t len);

/* The "cmd" of an internal message (Node's isInternal: an object whose "cmd" is a string
 * longer than 5 that starts with "NODE_"), or NULL; *len (if len is not NULL) gets its
 * decoded length, which counts any NUL inside it. */
const char *uvproc__ipc_wire_internal_cmd(const json_t *msg, size_t *len);

/* Whether cmd (len bytes, from uvproc__ipc_wire_internal_cmd) is exactly `name`, as Node's ===
 * compares: "NODE_HANDLE\u0000x" is not "NODE_HANDLE" (strcmp would say it is). */
int uvproc__ipc_wire_cmd_is(const char *cmd, size_t len, const char *name);

/* Writes v as json_dump_callback(v, put, ctx, JSON_COMPACT | JSON_ENCODE_ANY) would, byte for
 * byte, at a fraction of its cost. Returns 0, or -1 when v cannot be encoded or put failed;
 * *too_deep is then set if v nests deeper than 2048 levels (or has a cycle): the caller
 * discards what was put and calls json_dump_callback, which handles both as before. */
int uvproc__ipc_wire_dump(const json_t *v, json_dump_callback_t put, void *ctx, int *too_deep);

#endif
