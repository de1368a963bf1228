/* libFuzzer target for the pool's reply parser (pool_worker.c): the bytes a worker could send
 * as one line, read as the channel reads them (wire.c), classified as workerpool's protocol
 * says, and an error reply's name taken as a C pool takes it. Nothing may crash or leak; the
 * class must agree with the message's shape. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/wire.h"
#include "pool/pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *msg = uvproc__ipc_wire_parse((const char *)data, size);
    uvproc__pool_reply_t kind;
    json_int_t id;

    if (msg == NULL)
        return 0;
    kind = uvproc__pool_worker_reply_kind(msg, &id);
    switch (kind) {
    case UVPROC__REPLY_READY:
        if (!json_is_string(msg))
            abort();
        break;
    case UVPROC__REPLY_BAD:
        break;
    case UVPROC__REPLY_ERROR: {
        const json_t *error = json_object_get(msg, "error");
        const char *given = json_string_value(json_object_get(error, "name"));
        char *name = uvproc__pool_worker_error_name(error);
        if (given != NULL && (name == NULL || strcmp(name, given) != 0))
            abort();
        /* Taken from a stack: a short word before the first ':'. */
        if (given == NULL && name != NULL &&
            (name[0] == '\0' || strlen(name) >= 64 || strpbrk(name, ": ") != NULL))
            abort();
        free(name);
    } /* fall through */
    case UVPROC__REPLY_CLEANUP:
    case UVPROC__REPLY_EVENT:
    case UVPROC__REPLY_RESULT:
        if (!json_is_object(msg) || json_integer_value(json_object_get(msg, "id")) != id)
            abort();
        break;
    default:
        abort();
    }
    json_decref(msg);
    return 0;
}
