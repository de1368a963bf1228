/* libFuzzer target for uvproc-runner's requests (tools/runner/runner_req.c). Input: one byte
 * choosing what to read, then either params as a pool would send them (one line, read as the
 * channel reads it) or a command's raw output. Nothing may crash or leak; params taken must
 * be all strings; output must become a valid JSON string that keeps valid UTF-8 unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/wire.h"
#include "runner_req.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int valid_utf8(const uint8_t *s, size_t n)
{
    json_t *j = json_stringn((const char *)s, n); /* jansson checks UTF-8 */
    json_decref(j);
    return j != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    if (data[0] & 1) {
        json_t *text = runner_text_of((const char *)data + 1, size - 1);
        const char *v = json_string_value(text);
        if (v == NULL)
            abort();
        if (valid_utf8(data + 1, size - 1) &&
            (json_string_length(text) != size - 1 || memcmp(v, data + 1, size - 1) != 0))
            abort();
        json_decref(text);
    } else {
        json_t *params = uvproc__ipc_wire_parse((const char *)data + 1, size - 1);
        const char *file, **args, *command;
        if (params == NULL)
            return 0;
        if (runner_exec_params(params, &file, &args) == 0) {
            size_t n = json_array_size(params);
            if (file == NULL || file[0] == '\0' || n < 1)
                abort();
            for (size_t i = 1; i < n; i++)
                if (args[i - 1] != json_string_value(json_array_get(params, i)))
                    abort();
            if (args[n - 1] != NULL)
                abort();
            free(args);
        }
        if (runner_shell_params(params, &command) == 0 && command == NULL)
            abort();
        json_decref(params);
    }
    return 0;
}
