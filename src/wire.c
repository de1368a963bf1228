/* What a JSON line from a Node peer means: JSON.stringify output read the way JSON.parse reads
 * it (jansson is stricter in two places Node's own output reaches), and Node's rule for which
 * messages are internal. Pure functions, no I/O. */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static int uvproc__hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of a \uXXXX escape at s[i], or -1. */
static long uvproc__escape_at(const char *s, size_t len, size_t i)
{
    long v = 0;
    if (i + 6 > len || s[i] != '\\' || s[i + 1] != 'u')
        return -1;
    for (size_t k = i + 2; k < i + 6; k++) {
        int h = uvproc__hex(s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

/* JSON.stringify writes a lone UTF-16 surrogate as an escape ("\ud800"), which JSON.parse
 * accepts and jansson refuses. UTF-8 cannot carry one, so we read it as U+FFFD, which is what
 * Node itself produces when such a string is turned into UTF-8. Returns a copy with each lone
 * surrogate escape replaced (same length), or NULL if there was none. */
static char *uvproc__fix_surrogates(const char *s, size_t len)
{
    char *out = NULL;
    size_t i = 0;

    while (i < len) {
        long v, w;
        if (s[i] != '\\') {
            i++;
            continue;
        }
        v = uvproc__escape_at(s, len, i);
        if (v < 0) {
            i += 2; /* another escape (\\, \", \n, ...): skip its second character */
            continue;
        }
        if (v >= 0xD800 && v <= 0xDBFF && (w = uvproc__escape_at(s, len, i + 6)) >= 0xDC00 &&
            w <= 0xDFFF) {
            i += 12; /* a proper pair */
            continue;
        }
        if (v >= 0xD800 && v <= 0xDFFF) {
            if (out == NULL && (out = malloc(len)) == NULL)
                return NULL;
            if (out != s)
                memcpy(out, s, len);
            memcpy(out + i, "\\uFFFD", 6);
            s = out;
        }
        i += 6;
    }
    return out;
}

/* One JSON value, as Node's JSON.parse would read it, or NULL. */
json_t *uvproc__wire_parse(const char *line, size_t len)
{
    size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    char *fixed = NULL;
    json_t *v = NULL;
    json_error_t e;

    for (int attempt = 0; attempt < 3 && v == NULL; attempt++) {
        v = json_loadb(fixed != NULL ? fixed : line, len, flags, &e);
        if (v != NULL)
            break;
        if (json_error_code(&e) == json_error_numeric_overflow &&
            !(flags & JSON_DECODE_INT_AS_REAL)) {
            /* An integer past int64 (JSON.stringify(2**64)): JavaScript numbers are doubles. */
            flags |= JSON_DECODE_INT_AS_REAL;
        } else if (json_error_code(&e) == json_error_invalid_syntax && fixed == NULL &&
                   (fixed = uvproc__fix_surrogates(line, len)) != NULL) {
            continue;
        } else {
            break;
        }
    }
    free(fixed);
    return v;
}

/* The "cmd" of an internal message (Node's isInternal), or NULL. */
const char *uvproc__wire_internal_cmd(const json_t *msg)
{
    const json_t *cmd = json_is_object(msg) ? json_object_get(msg, "cmd") : NULL;
    const char *s;
    if (!json_is_string(cmd) || json_string_length(cmd) <= 5)
        return NULL;
    s = json_string_value(cmd);
    return strncmp(s, "NODE_", 5) == 0 ? s : NULL;
}
