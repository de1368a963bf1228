/* libFuzzer target for wire.c: any bytes a peer could send as one line. uvproc__wire_parse must
 * never crash or leak, and what it accepts must survive our own send path: serialised, it is one
 * line that parses back to an equal value. abort() is the fuzzer's way to report a mismatch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = uvproc__wire_parse((const char *)data, size);
    char *text;
    json_t *again;
    if (v == NULL)
        return 0;
    (void)uvproc__wire_internal_cmd(v);
    text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL || strchr(text, '\n') != NULL)
        abort();
    again = uvproc__wire_parse(text, strlen(text));
    if (again == NULL || !json_equal(v, again))
        abort();
    json_decref(again);
    free(text);
    json_decref(v);
    return 0;
}
