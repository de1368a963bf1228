/* isprime-pool: the isprime example with a pool of persistent workers answering many numbers,
 * one line per number, in the order given. The workers speak npm workerpool's protocol and
 * export isPrime([n]) -> {"number": n, "isPrime": bool}: by default they are this program
 * again (`--worker`, the C worker side of uvproc), or any Node `workerpool.worker` script
 * with --node-worker (demos/isprime_worker.js). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

static int json_out, failures;
static uint64_t start_ns;

static void is_prime(uvproc_pool_call_t *call, json_t *params, void *data)
{
    json_t *n = json_array_get(params, 0);
    (void)data;
    if (!json_is_integer(n)) {
        uvproc_pool_call_reject(call, "TypeError", "isPrime wants an integer");
        return;
    }
    json_int_t v = json_integer_value(n);
    int prime = v >= 2;
    for (json_int_t d = 2; prime && d <= v / d; d++)
        prime = v % d != 0;
    uvproc_pool_call_resolve_new(call, json_pack("{s:I,s:b}", "number", v, "isPrime", prime));
}

static void on_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    (void)pool;
    if (r->error != 0) {
        failures++;
        fprintf(stderr, "%s: %s%s%s\n", (const char *)r->data, uvproc_strerror(r->error),
                r->error_message ? ": " : "", r->error_message ? r->error_message : "");
        return;
    }
    if (json_out) {
        char *s = json_dumps(r->result, JSON_COMPACT);
        printf("%s\n", s != NULL ? s : "null");
        free(s);
    } else {
        json_t *p = json_object_get(r->result, "isPrime");
        printf("%s is %s  (worker %d, %.2f ms)\n", (const char *)r->data,
               json_is_true(p) ? "prime" : "not prime", (int)r->pid, r->run_ms);
    }
}

static void on_close(uvproc_pool_t *pool)
{
    uvproc_pool_counters_t c;
    uvproc_pool_counters(pool, &c);
    fprintf(stderr, "%llu numbers, %llu answered, %llu failed, %llu workers started, %.1f ms\n",
            (unsigned long long)c.submitted, (unsigned long long)c.done,
            (unsigned long long)c.failed, (unsigned long long)c.workers_started,
            (double)(uv_hrtime() - start_ns) / 1e6);
}

static void usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [-j N] [--node-worker SCRIPT] [--json] NUMBER...\n"
            "Asks a pool of N persistent workers (default 2) whether each NUMBER is prime,\n"
            "over npm workerpool's protocol; prints one line per number, in order.\n"
            "Workers are this program (C) unless --node-worker names a Node script written\n"
            "with workerpool.worker({isPrime}) (demos/isprime_worker.js; needs npm's\n"
            "workerpool where node can find it).\n"
            "  --json   print each answer as {\"number\":n,\"isPrime\":bool}\n",
            argv0);
}

int main(int argc, char **argv)
{
    uvproc_pool_options_t o = {.kind = UVPROC_POOL_WORKERS, .max_workers = 2};
    const char *node_worker = NULL;
    char self[4096];
    int i = 1;

    if (argc > 1 && strcmp(argv[1], "--worker") == 0) {
        static const uvproc_pool_method_t methods[] = {{"isPrime", is_prime, NULL}};
        int r = uvproc_pool_serve(uv_default_loop(), methods, 1);
        uv_loop_close(uv_default_loop());
        return r < 0 ? 2 : r;
    }
    for (; i < argc && argv[i][0] == '-' && argv[i][1] != '\0' &&
           !(argv[i][1] >= '0' && argv[i][1] <= '9');
         i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return 0;
        } else if (strcmp(argv[i], "-j") == 0 && i + 1 < argc) {
            o.max_workers = (unsigned)atoi(argv[++i]);
        } else if (strcmp(argv[i], "--node-worker") == 0 && i + 1 < argc) {
            node_worker = argv[++i];
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else {
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (i == argc) {
        usage(stderr, argv[0]);
        return 2;
    }
    static const char *const worker_args[] = {"--worker", NULL};
    if (node_worker != NULL) {
        o.worker_file = node_worker;
        o.worker_fork.exec_path = "node";
    } else {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0) {
            perror("readlink /proc/self/exe");
            return 2;
        }
        self[n] = '\0';
        o.worker_file = self;
        o.worker_args = worker_args;
    }
    o.keep_order = 1;
    o.on_done = on_done;
    o.on_close = on_close;
    start_ns = uv_hrtime();
    uvproc_pool_t *pool;
    int err = uvproc_pool_new(uv_default_loop(), &pool, &o);
    if (err != 0) {
        fprintf(stderr, "isprime-pool: %s\n", uvproc_strerror(err));
        return 2;
    }
    for (; i < argc; i++) {
        char *end;
        long long n = strtoll(argv[i], &end, 10);
        json_t *params = *end == '\0' && end != argv[i] ? json_pack("[I]", (json_int_t)n)
                                                        : json_pack("[s]", argv[i]);
        uvproc_pool_job_options_t jo = {.data = argv[i]};
        err = uvproc_pool_call(pool, "isPrime", params, &jo, NULL);
        json_decref(params);
        if (err != 0)
            fprintf(stderr, "%s: %s\n", argv[i], uvproc_strerror(err));
    }
    uvproc_pool_drain(pool);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    uv_loop_close(uv_default_loop());
    return failures != 0;
}
