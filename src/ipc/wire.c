/* What a JSON line from a Node peer means: JSON.stringify output read the way JSON.parse reads
 * it (jansson is stricter in two places Node's own output reaches), and Node's rule for which
 * messages are internal. Pure functions, no I/O. */
#include <stdint.h>
#include <stdio.h>
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

/* Whether the integer literal s[0..n) (an optional '-', then digits) fits in an int64. */
static int uvproc__fits_int64(const char *s, size_t n)
{
    static const char max[] = "9223372036854775807", min[] = "9223372036854775808";
    int neg = s[0] == '-';
    const char *lim = neg ? min : max;
    size_t digits = n - (size_t)neg;

    s += neg;
    if (digits != sizeof max - 1)
        return digits < sizeof max - 1;
    return memcmp(s, lim, digits) <= 0;
}

/* JSON.stringify(2**64) is an integer literal past int64, which jansson refuses (numeric
 * overflow). JavaScript numbers are doubles, so it is read as a real, but only it: decoding
 * the whole message with JSON_DECODE_INT_AS_REAL once turned every sibling integer into a
 * real too. Returns a copy of the line with ".0" after each such literal (each then parses as
 * the real it is), or NULL when there is none (or no memory). */
static char *uvproc__mark_big_integers(const char *s, size_t len, size_t *out_len)
{
    char *out = NULL;
    size_t olen = 0, i = 0, copied = 0;
    int in_string = 0;

    while (i < len) {
        char c = s[i];
        size_t start = i, end;
        if (in_string) {
            i += c == '\\' ? 2 : 1;
            in_string = c != '"';
            continue;
        }
        if (c == '"') {
            in_string = 1;
            i++;
            continue;
        }
        if (c != '-' && (c < '0' || c > '9')) {
            i++;
            continue;
        }
        end = i + 1;
        while (end < len && s[end] >= '0' && s[end] <= '9')
            end++;
        i = end;
        /* A fraction or an exponent makes it a real already. */
        if (end < len && (s[end] == '.' || s[end] == 'e' || s[end] == 'E')) {
            while (i < len && (strchr("0123456789.eE+-", s[i]) != NULL && s[i] != '\0'))
                i++;
            continue;
        }
        if (end - start < 2 && s[start] == '-')
            continue;
        if (uvproc__fits_int64(s + start, end - start))
            continue;
        if (out == NULL) {
            /* Each such literal has 19 characters or more and gains 2. */
            if ((out = malloc(len + 2 * (len / 19 + 1))) == NULL)
                return NULL;
        }
        memcpy(out + olen, s + copied, end - copied);
        olen += end - copied;
        memcpy(out + olen, ".0", 2);
        olen += 2;
        copied = end;
    }
    if (out == NULL)
        return NULL;
    memcpy(out + olen, s + copied, len - copied);
    *out_len = olen + len - copied;
    return out;
}

/* One JSON value, as Node's JSON.parse would read it, or NULL. */
json_t *uvproc__ipc_wire_parse(const char *line, size_t len)
{
    const size_t flags = JSON_DECODE_ANY | JSON_ALLOW_NUL;
    const char *text = line;
    char *copy = NULL, *next;
    int marked = 0, fixed = 0;
    json_t *v;
    json_error_t e;

    /* The common case first, without an error struct to fill (its set-up is a few % of a
     * small message's parse); only a failure pays for learning why. Then each repair at most
     * once, in the order the errors show up, on the text the previous one made. */
    v = json_loadb(line, len, flags, NULL);
    while (v == NULL && (v = json_loadb(text, len, flags, &e)) == NULL) {
        next = NULL;
        if (json_error_code(&e) == json_error_numeric_overflow && !marked) {
            marked = 1;
            next = uvproc__mark_big_integers(text, len, &len);
        } else if (json_error_code(&e) == json_error_invalid_syntax && !fixed) {
            fixed = 1;
            next = uvproc__fix_surrogates(text, len);
        }
        if (next == NULL)
            break;
        free(copy);
        text = copy = next;
    }
    free(copy);
    return v;
}

/* The "cmd" of an internal message (Node's isInternal), or NULL. */
const char *uvproc__ipc_wire_internal_cmd(const json_t *msg, size_t *len)
{
    const json_t *cmd = json_is_object(msg) ? json_object_get(msg, "cmd") : NULL;
    const char *s;
    size_t n;
    if (!json_is_string(cmd) || (n = json_string_length(cmd)) <= 5)
        return NULL;
    s = json_string_value(cmd);
    if (strncmp(s, "NODE_", 5) != 0)
        return NULL;
    if (len != NULL)
        *len = n;
    return s;
}

int uvproc__ipc_wire_cmd_is(const char *cmd, size_t len, const char *name)
{
    return cmd != NULL && len == strlen(name) && memcmp(cmd, name, len) == 0;
}

/* ---------------------------------------------------------------------------------------- */
/* writing: json_dump_callback(JSON_COMPACT | JSON_ENCODE_ANY), byte for byte, minus its cost */

/* jansson's dumper allocates a loop-detection hashtable per call and, per object or array,
 * formats the container's address with snprintf("%p") to insert and delete it; integers go
 * through snprintf too. For a small message that is most of the send path (0.6-0.8 us of a
 * 26-byte {"n":i,"isPrime":b}, against 0.2 us here). Depth bounds recursion instead: deeper
 * than this (a cycle, or a value no Node peer could parse anyway), we hand over to jansson,
 * which detects the loop or writes the deep value as before. */
#define UVPROC__WIRE_DUMP_DEPTH 2048

/* utf8_check_first/utf8_check_full of jansson: the length of the valid UTF-8 sequence at s
 * (at most n bytes), 0 if invalid (overlong, surrogate, past U+10FFFF, truncated). */
static size_t uvproc__utf8_len(const unsigned char *s, size_t n)
{
    size_t count;
    uint32_t v;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xC2 && s[0] <= 0xDF)
        count = 2, v = s[0] & 0x1Fu;
    else if (s[0] >= 0xE0 && s[0] <= 0xEF)
        count = 3, v = s[0] & 0x0Fu;
    else if (s[0] >= 0xF0 && s[0] <= 0xF4)
        count = 4, v = s[0] & 0x07u;
    else
        return 0;
    if (count > n)
        return 0;
    for (size_t i = 1; i < count; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
        v = (v << 6) | (s[i] & 0x3Fu);
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) || (count == 3 && v < 0x800) ||
        (count == 4 && v < 0x10000))
        return 0;
    return count;
}

/* The writer gathers a message in a small buffer and hands `put` whole chunks: one call per
 * small message instead of one per token (a {"n":i,"isPrime":b} was 13 calls, each a
 * capacity check and a memcpy through a function pointer: a quarter of the send path). */
typedef struct {
    json_dump_callback_t put;
    void *ctx;
    size_t len;
    char buf[1024];
} uvproc__wout_t;

static int uvproc__wflush(uvproc__wout_t *o)
{
    size_t n = o->len;
    o->len = 0;
    return n > 0 ? o->put(o->buf, n, o->ctx) : 0;
}

static inline int uvproc__out(uvproc__wout_t *o, const char *s, size_t n)
{
    if (n > sizeof o->buf - o->len) {
        if (uvproc__wflush(o) != 0)
            return -1;
        if (n > sizeof o->buf)
            return o->put(s, n, o->ctx);
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
    return 0;
}

/* A json_dump_callback sink for what jansson still writes (reals). */
static int uvproc__out_cb(const char *s, size_t n, void *data)
{
    return uvproc__out(data, s, n);
}

static int uvproc__dump_string(const char *str, size_t len, uvproc__wout_t *o)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0, i = 0;

    if (uvproc__out(o, "\"", 1) != 0)
        return -1;
    while (i < len) {
        char seq[8];
        const char *text = seq;
        size_t tlen = 2;
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t k = uvproc__utf8_len(s + i, len - i);
            if (k == 0)
                return -1; /* jansson refuses invalid UTF-8 too */
            i += k;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        switch (c) {
        case '"':
            text = "\\\"";
            break;
        case '\\':
            text = "\\\\";
            break;
        case '\b':
            text = "\\b";
            break;
        case '\f':
            text = "\\f";
            break;
        case '\n':
            text = "\\n";
            break;
        case '\r':
            text = "\\r";
            break;
        case '\t':
            text = "\\t";
            break;
        default:
            snprintf(seq, sizeof seq, "\\u%04X", (unsigned)c);
            tlen = 6;
        }
        if ((i > run && uvproc__out(o, str + run, i - run) != 0) || uvproc__out(o, text, tlen) != 0)
            return -1;
        run = ++i;
    }
    if (len > run && uvproc__out(o, str + run, len - run) != 0)
        return -1;
    return uvproc__out(o, "\"", 1);
}

/* 0, -1 (not encodable), or 1 (too deep: let jansson do it). */
static int uvproc__dump_value(const json_t *v, uvproc__wout_t *o, int depth)
{
    char num[24], *p;
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        size_t klen;
        json_t *x;
        int first = 1, r;
        if (depth >= UVPROC__WIRE_DUMP_DEPTH)
            return 1;
        if (uvproc__out(o, "{", 1) != 0)
            return -1;
        json_object_keylen_foreach((json_t *)v, key, klen, x)
        {
            if ((!first && uvproc__out(o, ",", 1) != 0) || uvproc__dump_string(key, klen, o) ||
                uvproc__out(o, ":", 1) != 0)
                return -1;
            if ((r = uvproc__dump_value(x, o, depth + 1)) != 0)
                return r;
            first = 0;
        }
        return uvproc__out(o, "}", 1);
    }
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        int r;
        if (depth >= UVPROC__WIRE_DUMP_DEPTH)
            return 1;
        if (uvproc__out(o, "[", 1) != 0)
            return -1;
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && uvproc__out(o, ",", 1) != 0)
                return -1;
            if ((r = uvproc__dump_value(json_array_get(v, i), o, depth + 1)) != 0)
                return r;
        }
        return uvproc__out(o, "]", 1);
    }
    case JSON_STRING:
        return uvproc__dump_string(json_string_value(v), json_string_length(v), o);
    case JSON_INTEGER: {
        json_int_t x = json_integer_value(v);
        unsigned long long u = x < 0 ? 0ULL - (unsigned long long)x : (unsigned long long)x;
        p = num + sizeof num;
        do {
            *--p = (char)('0' + u % 10);
            u /= 10;
        } while (u != 0);
        if (x < 0)
            *--p = '-';
        return uvproc__out(o, p, (size_t)(num + sizeof num - p));
    }
    case JSON_REAL:
        /* jansson's %.17g plus its ".0" and exponent rules: rare enough to leave to it. */
        return json_dump_callback(v, uvproc__out_cb, o, JSON_COMPACT | JSON_ENCODE_ANY) != 0 ? -1
                                                                                             : 0;
    case JSON_TRUE:
        return uvproc__out(o, "true", 4);
    case JSON_FALSE:
        return uvproc__out(o, "false", 5);
    case JSON_NULL:
        return uvproc__out(o, "null", 4);
    }
    return -1;
}

int uvproc__ipc_wire_dump(const json_t *v, json_dump_callback_t put, void *ctx, int *too_deep)
{
    uvproc__wout_t o;
    int r;

    o.put = put;
    o.ctx = ctx;
    o.len = 0;
    r = v != NULL ? uvproc__dump_value(v, &o, 0) : -1;
    *too_deep = r == 1;
    if (r == 0 && uvproc__wflush(&o) != 0)
        r = -1;
    return r == 0 ? 0 : -1;
}
