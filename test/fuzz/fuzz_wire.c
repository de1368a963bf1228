/* libFuzzer target for wire.c: any bytes a peer could send as one line. uvproc__ipc_wire_parse must
 * never crash or leak, and what it accepts must survive our own send path: our serializer
 * writes exactly jansson's compact bytes, one line that parses back to an equal value.
 * abort() is the fuzzer's way to report a mismatch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/wire.h"

typedef struct {
    char *buf;
    size_t len, cap;
} out_t;

static int put(const char *b, size_t n, void *ctx)
{
    out_t *o = ctx;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *grown = realloc(o->buf, cap);
        if (grown == NULL)
            return -1;
        o->buf = grown;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, b, n);
    o->len += n;
    o->buf[o->len] = '\0';
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = uvproc__ipc_wire_parse((const char *)data, size);
    char *text;
    json_t *again;
    if (v == NULL)
        return 0;
    (void)uvproc__ipc_wire_internal_cmd(v, NULL);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL || strchr(text, '\n') != NULL)
        abort();
    {
        out_t ours = {0};
        int too_deep;
        if (uvproc__ipc_wire_dump(v, put, &ours, &too_deep) == 0) {
            if (ours.buf == NULL || strcmp(ours.buf, text) != 0)
                abort();
        } else if (!too_deep) {
            abort(); /* jansson could write it, so must we */
        }
        free(ours.buf);
    }
    again = uvproc__ipc_wire_parse(text, strlen(text));
    if (again == NULL || !json_equal(v, again))
        abort();
    json_decref(again);
    free(text);
    json_decref(v);
    return 0;
}
