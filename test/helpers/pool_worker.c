/* A C pool worker for the pool tests, built on uvproc_pool_serve (the public worker side).
 * Methods (params a JSON array):
 *   echo [v]          -> v
 *   add [a, b]        -> a + b
 *   pid []            -> this process's pid
 *   sleep [ms, v]     -> v after ms milliseconds (an async completion from a timer)
 *   fail [name, msg]  -> rejects with {name, message}
 *   emit [n]          -> n events {i: k}, then "emitted"
 *   crash [code]      -> exits with code at once (a crashed worker)
 *   crash_once [path] -> the first call (path does not exist yet) creates path and exits 3;
 *                        later ones return "survived"
 *   grow [mb]         -> touches mb MiB (peak RSS grows), returns mb
 *   isPrime [n]       -> {"number": n, "isPrime": bool}
 * argv[1] picks a broken worker instead, speaking the raw wire on NODE_CHANNEL_FD:
 *   garbage    says ready, answers every request with a line that is not JSON
 *   badid      says ready, answers every request with id + 1000000
 *   silent     says ready, never answers
 *   noready    exits 3 without saying ready
 *   hangup     says ready, closes its channel, and waits to be killed */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

static void m_echo(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)data;
    uvproc_pool_call_resolve_new(c, json_incref(json_array_get(params, 0)));
}

static void m_add(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)data;
    uvproc_pool_call_resolve_new(c, json_integer(json_integer_value(json_array_get(params, 0)) +
                                              json_integer_value(json_array_get(params, 1))));
}

static void m_pid(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)params;
    (void)data;
    uvproc_pool_call_resolve_new(c, json_integer(getpid()));
}

typedef struct {
    uv_timer_t t;
    uvproc_pool_call_t *call;
    json_t *value;
} sleeper_t;

static void sleeper_closed(uv_handle_t *h)
{
    free(h);
}

static void sleeper_fire(uv_timer_t *t)
{
    sleeper_t *s = (sleeper_t *)t;
    uvproc_pool_call_resolve_new(s->call, s->value);
    uv_close((uv_handle_t *)t, sleeper_closed);
}

static void m_sleep(uvproc_pool_call_t *c, json_t *params, void *data)
{
    sleeper_t *s = malloc(sizeof *s);
    uv_loop_t *loop = data;
    s->call = c;
    s->value = json_incref(json_array_get(params, 1));
    uv_timer_init(loop, &s->t);
    uv_timer_start(&s->t, sleeper_fire, (uint64_t)json_integer_value(json_array_get(params, 0)), 0);
}

static void m_fail(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)data;
    uvproc_pool_call_reject(c, json_string_value(json_array_get(params, 0)),
                         json_string_value(json_array_get(params, 1)));
}

static void m_emit(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)data;
    for (json_int_t i = 0; i < json_integer_value(json_array_get(params, 0)); i++)
        uvproc_pool_call_emit_new(c, json_pack("{s:I}", "i", i));
    uvproc_pool_call_resolve_new(c, json_string("emitted"));
}

static void m_crash(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)c;
    (void)data;
    _exit((int)json_integer_value(json_array_get(params, 0)));
}

static void m_crash_once(uvproc_pool_call_t *c, json_t *params, void *data)
{
    const char *path = json_string_value(json_array_get(params, 0));
    (void)data;
    if (access(path, F_OK) != 0) {
        FILE *f = fopen(path, "w");
        if (f != NULL)
            fclose(f);
        _exit(3);
    }
    uvproc_pool_call_resolve_new(c, json_string("survived"));
}

static void m_grow(uvproc_pool_call_t *c, json_t *params, void *data)
{
    json_int_t mb = json_integer_value(json_array_get(params, 0));
    size_t n = (size_t)mb << 20;
    /* volatile: a compiler may drop a malloc + memset + free it can see through */
    char *volatile p = malloc(n);
    (void)data;
    if (p != NULL) {
        for (size_t i = 0; i < n; i += 4096)
            p[i] = 1;
        free(p);
    }
    uvproc_pool_call_resolve_new(c, json_integer(mb));
}

static void m_is_prime(uvproc_pool_call_t *c, json_t *params, void *data)
{
    json_int_t n = json_integer_value(json_array_get(params, 0));
    int prime = n >= 2;
    (void)data;
    for (json_int_t d = 2; prime && d * d <= n; d++)
        prime = n % d != 0;
    uvproc_pool_call_resolve_new(c, json_pack("{s:I,s:b}", "number", n, "isPrime", prime));
}

/* The broken workers: blocking reads of whole lines, raw writes. */
static int raw_worker(const char *mode)
{
    const char *fdenv = getenv("NODE_CHANNEL_FD");
    int fd = fdenv != NULL ? atoi(fdenv) : -1;
    char buf[65536];
    size_t len = 0;
    if (strcmp(mode, "noready") == 0 || fd < 0)
        return 3;
    if (write(fd, "\"ready\"\n", 8) != 8)
        return 1;
    if (strcmp(mode, "hangup") == 0) {
        close(fd);
        for (;;)
            pause();
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof buf - len - 1);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        char *nl;
        while ((nl = strchr(buf, '\n')) != NULL) {
            json_t *req = json_loadb(buf, (size_t)(nl - buf), 0, NULL);
            char out[128];
            int m = 0;
            json_int_t id = json_integer_value(json_object_get(req, "id"));
            if (strcmp(mode, "garbage") == 0)
                m = snprintf(out, sizeof out, "{this is not json\n");
            else if (strcmp(mode, "badid") == 0)
                m = snprintf(out, sizeof out, "{\"id\":%lld,\"result\":1,\"error\":null}\n",
                             (long long)id + 1000000);
            if (m > 0 && write(fd, out, (size_t)m) != m)
                return 1;
            json_decref(req);
            len -= (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, len + 1);
        }
    }
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    if (argc > 1 && argv[1][0] != '\0' && argv[1][0] != '/')
        return raw_worker(argv[1]);
    uv_loop_init(&loop);
    const uvproc_pool_method_t methods[] = {
        {"echo", m_echo, NULL},   {"add", m_add, NULL},
        {"pid", m_pid, NULL},     {"sleep", m_sleep, &loop},
        {"fail", m_fail, NULL},   {"emit", m_emit, NULL},
        {"crash", m_crash, NULL}, {"crash_once", m_crash_once, NULL},
        {"grow", m_grow, NULL},   {"isPrime", m_is_prime, NULL},
    };
    int r = uvproc_pool_serve(&loop, methods, sizeof methods / sizeof methods[0]);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return r < 0 ? UVPROC_POOL_SERVE_EXIT_NOCHANNEL : r;
}
