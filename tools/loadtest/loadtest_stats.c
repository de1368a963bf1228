/* loadtest_stats: the counts a load child keeps, how they merge, and how they travel to the
 * parent as one JSON message per report (only non-zero buckets and status codes are sent, so
 * a report stays a few hundred bytes). Also the child's configuration message. */
#include <stdlib.h>
#include <string.h>

#include "loadtest.h"

const char *const lt_err_names[LT_ERR_COUNT] = {
    [LT_ERR_REFUSED] = "refused", [LT_ERR_CONNECT] = "connect", [LT_ERR_TLS] = "tls",
    [LT_ERR_RESET] = "reset",     [LT_ERR_CLOSED] = "closed",   [LT_ERR_TIMEOUT] = "timeout",
    [LT_ERR_PARSE] = "parse",     [LT_ERR_UPGRADE] = "upgrade", [LT_ERR_OTHER] = "other",
    [LT_ERR_UNASKED] = "unasked",
};

void lt_stats_init(lt_stats_t *s)
{
    memset(s, 0, offsetof(lt_stats_t, latency));
    hdr_init(&s->latency);
}

void lt_stats_reset(lt_stats_t *s)
{
    memset(s, 0, offsetof(lt_stats_t, latency));
    hdr_reset(&s->latency);
}

void lt_stats_merge(lt_stats_t *dst, const lt_stats_t *src)
{
    dst->requests += src->requests;
    dst->bytes += src->bytes;
    dst->unfinished += src->unfinished;
    dst->handshakes += src->handshakes;
    dst->resumed += src->resumed;
    if (dst->note[0] == '\0')
        memcpy(dst->note, src->note, sizeof dst->note);
    for (int i = 0; i < LT_ERR_COUNT; i++)
        dst->errors[i] += src->errors[i];
    for (int i = 0; i < LT_STATUS_MAX; i++)
        dst->status[i] += src->status[i];
    hdr_merge(&dst->latency, &src->latency);
}

uint64_t lt_stats_errors(const lt_stats_t *s)
{
    uint64_t n = 0;
    for (int i = 0; i < LT_ERR_COUNT; i++)
        n += s->errors[i];
    return n;
}

uint64_t lt_stats_non2xx(const lt_stats_t *s)
{
    uint64_t n = 0;
    for (int i = 0; i < LT_STATUS_MAX; i++)
        if (i < 200 || i > 299)
            n += s->status[i];
    return n;
}

json_t *lt_stats_encode(const lt_stats_t *s, int final, int open_conns)
{
    json_t *err = json_array(), *st = json_object(), *h = json_array();
    const hdr_histogram_t *l = &s->latency;
    for (int i = 0; i < LT_ERR_COUNT; i++)
        json_array_append_new(err, json_integer((json_int_t)s->errors[i]));
    for (int i = 0; i < LT_STATUS_MAX; i++) {
        if (s->status[i] != 0) {
            char code[8];
            snprintf(code, sizeof code, "%d", i);
            json_object_set_new(st, code, json_integer((json_int_t)s->status[i]));
        }
    }
    if (l->total != 0) {
        for (uint32_t i = l->lo; i <= l->hi; i++) {
            if (l->counts[i] != 0) {
                json_array_append_new(h, json_integer(i));
                json_array_append_new(h, json_integer((json_int_t)l->counts[i]));
            }
        }
    }
    json_t *j = json_pack(
        "{s:s, s:b, s:i, s:I, s:I, s:I, s:o, s:o, s:o, s:I, s:I, s:I}", "t", "stats", "final",
        final, "open", open_conns, "req", (json_int_t)s->requests, "bytes", (json_int_t)s->bytes,
        "unf", (json_int_t)s->unfinished, "err", err, "st", st, "h", h, "min",
        (json_int_t)(l->total ? l->min : 0), "max", (json_int_t)l->max, "sum", (json_int_t)l->sum);
    if (s->handshakes != 0 || s->resumed != 0)
        json_object_set_new(j, "tls",
                            json_pack("[I,I]", (json_int_t)s->handshakes, (json_int_t)s->resumed));
    if (s->note[0] != '\0')
        json_object_set_new(j, "note", json_string(s->note));
    return j;
}

static int get_count(const json_t *v, uint64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* A status code key ("200"), or -1. */
static long status_key(const char *key)
{
    char *end;
    long code = strtol(key, &end, 10);
    return end != key && *end == '\0' && code >= 0 && code < LT_STATUS_MAX ? code : -1;
}

/* Validates the whole message first, so a bad one adds nothing. */
int lt_stats_decode_add(lt_stats_t *dst, const json_t *msg)
{
    const json_t *err = json_object_get(msg, "err"), *st = json_object_get(msg, "st");
    const json_t *h = json_object_get(msg, "h"), *tls = json_object_get(msg, "tls");
    const json_t *note = json_object_get(msg, "note");
    uint64_t req, bytes, unf, min, max, sum, x, hs = 0, resumed = 0;
    size_t i;
    void *it;

    if (get_count(json_object_get(msg, "req"), &req) ||
        get_count(json_object_get(msg, "bytes"), &bytes) ||
        get_count(json_object_get(msg, "unf"), &unf) ||
        get_count(json_object_get(msg, "min"), &min) ||
        get_count(json_object_get(msg, "max"), &max) ||
        get_count(json_object_get(msg, "sum"), &sum) || !json_is_array(err) ||
        json_array_size(err) != LT_ERR_COUNT || !json_is_object(st) || !json_is_array(h) ||
        json_array_size(h) % 2 != 0)
        return -1;
    for (i = 0; i < LT_ERR_COUNT; i++)
        if (get_count(json_array_get(err, i), &x))
            return -1;
    for (it = json_object_iter((json_t *)st); it != NULL;
         it = json_object_iter_next((json_t *)st, it))
        if (status_key(json_object_iter_key(it)) < 0 || get_count(json_object_iter_value(it), &x))
            return -1;
    /* The buckets: indexes in range, counts that do not overflow, and the sender's exact min
     * and max inside its lowest and highest non-empty bucket (else percentiles, clamped to
     * them, could come out of order). */
    uint32_t lo = HDR_BUCKETS, hi = 0;
    uint64_t samples = 0;
    for (i = 0; i < json_array_size(h); i += 2) {
        uint64_t idx, c;
        if (get_count(json_array_get(h, i), &idx) || idx >= HDR_BUCKETS ||
            get_count(json_array_get(h, i + 1), &c) || samples + c < samples ||
            dst->latency.total + samples + c < dst->latency.total)
            return -1;
        samples += c;
        if (c != 0) {
            lo = (uint32_t)idx < lo ? (uint32_t)idx : lo;
            hi = (uint32_t)idx > hi ? (uint32_t)idx : hi;
        }
    }
    if (samples != 0 && (min > max || hdr_index_of(min) != lo || hdr_index_of(max) != hi))
        return -1;
    if (tls != NULL &&
        (!json_is_array(tls) || json_array_size(tls) != 2 ||
         get_count(json_array_get(tls, 0), &hs) || get_count(json_array_get(tls, 1), &resumed)))
        return -1;
    if (note != NULL && !json_is_string(note))
        return -1;

    dst->requests += req;
    dst->bytes += bytes;
    dst->unfinished += unf;
    dst->handshakes += hs;
    dst->resumed += resumed;
    if (note != NULL && dst->note[0] == '\0') {
        /* Printable ASCII only: it ends up on a terminal, in JSON and in an HTML page. */
        const char *n = json_string_value(note);
        size_t k = 0;
        for (; n[k] != '\0' && k + 1 < sizeof dst->note; k++)
            dst->note[k] = (unsigned char)n[k] >= 0x20 && (unsigned char)n[k] < 0x7f ? n[k] : '?';
        dst->note[k] = '\0';
    }
    for (i = 0; i < LT_ERR_COUNT; i++)
        dst->errors[i] += (uint64_t)json_integer_value(json_array_get(err, i));
    for (it = json_object_iter((json_t *)st); it != NULL;
         it = json_object_iter_next((json_t *)st, it))
        dst->status[status_key(json_object_iter_key(it))] +=
            (uint64_t)json_integer_value(json_object_iter_value(it));
    /* Buckets add exactly; then the sender's exact min, max and sum replace the bucket-bound
     * estimates hdr_add_bucket made. */
    hdr_histogram_t *l = &dst->latency;
    uint64_t old_min = l->min, old_max = l->max, old_sum = l->sum, n = 0;
    for (i = 0; i + 1 < json_array_size(h); i += 2) {
        uint64_t c = (uint64_t)json_integer_value(json_array_get(h, i + 1));
        hdr_add_bucket(l, (uint32_t)json_integer_value(json_array_get(h, i)), c);
        n += c;
    }
    if (n != 0) {
        l->min = min < old_min ? min : old_min;
        l->max = max > old_max ? max : old_max;
        l->sum = old_sum + sum;
    }
    return 0;
}

json_t *lt_child_config_encode(const lt_child_config_t *c)
{
    return json_pack("{s:s, s:s, s:i, s:s#, s:b, s:b, s:s, s:i, s:I, s:f, s:I, s:i}", "t", "config",
                     "ip", c->ip, "port", c->port, "request", c->request, (int)c->request_len,
                     "tls", c->tls, "insecure", c->insecure, "host", c->host, "connections",
                     c->connections, "budget", (json_int_t)c->budget, "rate", c->rate, "timeout_ms",
                     (json_int_t)c->timeout_ms, "index", c->index);
}

int lt_child_config_decode(lt_child_config_t *c, const json_t *msg)
{
    const char *ip, *request, *t, *host;
    size_t request_len;
    json_int_t budget, timeout_ms;
    double rate;
    memset(c, 0, sizeof *c);
    if (json_unpack((json_t *)msg, "{s:s, s:s, s:i, s:s%, s:b, s:b, s:s, s:i, s:I, s:F, s:I, s:i}",
                    "t", &t, "ip", &ip, "port", &c->port, "request", &request, &request_len, "tls",
                    &c->tls, "insecure", &c->insecure, "host", &host, "connections",
                    &c->connections, "budget", &budget, "rate", &rate, "timeout_ms", &timeout_ms,
                    "index", &c->index) != 0 ||
        strcmp(t, "config") != 0 || strlen(ip) >= sizeof c->ip || strlen(host) >= sizeof c->host ||
        request_len == 0 || request_len > LT_MAX_REQUEST || c->connections < 1 ||
        c->connections > LT_MAX_CONNECTIONS || budget < 0 || rate < 0 || timeout_ms < 1)
        return -1;
    c->request = malloc(request_len + 1);
    if (c->request == NULL)
        return -1;
    memcpy(c->request, request, request_len + 1);
    c->request_len = request_len;
    strcpy(c->ip, ip);
    strcpy(c->host, host);
    c->budget = (uint64_t)budget;
    c->rate = rate;
    c->timeout_ms = (uint64_t)timeout_ms;
    return 0;
}

void lt_child_config_free(lt_child_config_t *c)
{
    free(c->request);
    c->request = NULL;
}
