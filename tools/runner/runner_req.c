/* uvproc-runner's requests: the params of its methods, checked, and its output as JSON text.
 * Apart from the main program so that test/fuzz/fuzz_runner.c reaches them with any bytes a
 * pool could send. */
#include <stdlib.h>
#include <string.h>

#include "runner_req.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if none starts there. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2) || (len == 4 && s[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (len == 3 && s[0] == 0xed && s[1] > 0x9f) ||
        (len == 4 && s[0] == 0xf0 && s[1] < 0x90) || (len == 4 && s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate, past U+10FFFF */
    return len;
}

/* The bytes as a JSON string: a byte that does not start valid UTF-8 becomes U+FFFD. */
json_t *runner_text_of(const char *b, size_t n)
{
    const unsigned char *s = (const unsigned char *)b;
    char *out = malloc(n * 3 + 1), *at = out;
    json_t *j;
    if (out == NULL)
        return json_null();
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            memcpy(at, "\xef\xbf\xbd", 3);
            at += 3;
            i++;
        } else {
            memcpy(at, s + i, len);
            at += len;
            i += len;
        }
    }
    j = json_stringn(out, (size_t)(at - out));
    free(out);
    return j != NULL ? j : json_null();
}

int runner_exec_params(const json_t *params, const char **file, const char ***args)
{
    size_t n = json_array_size(params);
    const char **v;

    *file = json_string_value(json_array_get(params, 0));
    *args = NULL;
    if (*file == NULL || (*file)[0] == '\0')
        return UV_EINVAL;
    v = calloc(n, sizeof *v); /* n >= 1: the file, then n - 1 args and the NULL */
    if (v == NULL)
        return UV_ENOMEM;
    for (size_t i = 1; i < n; i++)
        if ((v[i - 1] = json_string_value(json_array_get(params, i))) == NULL) {
            free(v); /* every argument must be a string */
            return UV_EINVAL;
        }
    *args = v;
    return 0;
}

int runner_shell_params(const json_t *params, const char **command)
{
    *command = json_string_value(json_array_get(params, 0));
    return *command != NULL ? 0 : UV_EINVAL;
}
