/* bench/pool: the pool against what users run today, interleaved in one run (bench.h), two
 * tables:
 *
 * - workers: N tiny tasks (x => x + 1, every result checked) with 2 persistent workers, as
 *   the anchors measured them (research/anchors.md "Pools: 10k tiny tasks"): the workers start
 *   and 200 warm-up tasks run, then all N are submitted at once and the clock stops at the
 *   last result. uvproc's pool with C workers (this program again, `--worker`), one task in
 *   flight per worker as workerpool does and with `pipeline` tasks sent ahead; uvproc's pool
 *   with Node's workerpool worker script; npm workerpool (process workers, the baseline),
 *   tinypool (child_process runtime), Python's ProcessPoolExecutor (submit, map chunksize 100).
 * - commands: N `/bin/true` jobs at concurrency 2 ("Process pools: 2000 true jobs"): a raw
 *   libuv loop keeping 2 uv_spawn children running (the baseline), the same with posix_spawn
 *   and wait (the syscall bound), uvproc's pool (DISCARD and
 *   CAPTURE output modes), `xargs -P2`, and GNU parallel -j2 (N/4 jobs: it is that slow).
 *   The pool-run tool (issue 19) as a user runs it, `seq N | pool-run -N0 -j2 ...` (/bin/true
 *   without an argument, as the raw loops run it), on both sides of the shell line: argv jobs
 *   (`--no-shell`, against `xargs -P2 -I{}` and the raw loop) and shell jobs (against
 *   `xargs -P2 -I{} sh -c` and GNU parallel -N0, which always uses a shell).
 *
 *   bench/pool [-n 10000] [--cmd-n 2000] [-r 3] [--tables workers,commands] [--pipeline 32]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"

#ifndef POOL_RUN
#define POOL_RUN "build/tools/pool-run"
#endif

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif

static char self_path[4096];

/* The two metrics of both tables: per second, and microseconds each. */
static void fill_rate(double *m, long n, double secs)
{
    m[0] = (double)n / secs;
    m[1] = secs * 1e6 / (double)n;
}

/* --- the C worker: inc([x]) = x + 1 ------------------------------------------------------- */

static void inc(uvproc_pool_call_t *call, json_t *params, void *data)
{
    (void)data;
    uvproc_pool_call_resolve_new(call,
                              json_integer(json_integer_value(json_array_get(params, 0)) + 1));
}

static int worker_main(void)
{
    static const uvproc_pool_method_t methods[] = {{"inc", inc, NULL}};
    int r = uvproc_pool_serve(uv_default_loop(), methods, 1);
    uv_loop_close(uv_default_loop());
    return r < 0 ? 2 : r;
}

/* --- uvproc worker pool ------------------------------------------------------------------- */

typedef struct {
    long n;
    unsigned pipeline;
    int node; /* the workers are bench/node/pool_task_workerpool.js */
} workers_arg_t;

typedef struct {
    long done, bad;
} tally_t;

static void tally_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    tally_t *t = uvproc_pool_data(pool);
    t->done++;
    if (r->error != 0 || json_integer_value(r->result) != (json_int_t)(intptr_t)r->data + 1)
        t->bad++;
}

static int submit_batch(uvproc_pool_t *pool, tally_t *t, long count)
{
    long target = t->done + count;
    for (long i = 0; i < count; i++) {
        json_t *p = json_pack("[I]", (json_int_t)i);
        uvproc_pool_job_options_t jo = {.data = (void *)(intptr_t)i};
        int err = uvproc_pool_call(pool, "inc", p, &jo, NULL);
        json_decref(p);
        if (err != 0)
            return err;
    }
    while (t->done < target)
        uv_run(uv_default_loop(), UV_RUN_ONCE);
    return t->bad != 0 ? -1 : 0;
}

static int run_uvproc_workers(void *arg, double *m)
{
    const workers_arg_t *a = arg;
    static const char *const worker_args[] = {"--worker", NULL};
    tally_t t = {0};
    uvproc_pool_options_t o = {
        .kind = UVPROC_POOL_WORKERS,
        .max_workers = 2,
        .min_workers = 2,
        .pipeline = a->pipeline,
        .data = &t,
        .on_done = tally_done,
    };
    uvproc_pool_t *pool;
    int err;
    if (a->node) {
        o.worker_file = BENCH_NODE_DIR "/pool_task_workerpool.js";
        o.worker_fork.exec_path = bench_node();
        if (o.worker_fork.exec_path == NULL)
            return -1;
    } else {
        o.worker_file = self_path;
        o.worker_args = worker_args;
    }
    if (uvproc_pool_new(uv_default_loop(), &pool, &o) != 0)
        return -1;
    err = submit_batch(pool, &t, 200);
    double t0 = bench_now();
    if (err == 0)
        err = submit_batch(pool, &t, a->n);
    double secs = bench_now() - t0;
    uvproc_pool_drain(pool);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    if (err != 0) {
        fprintf(stderr, "uvproc workers: %ld bad results (%s)\n", t.bad, uvproc_strerror(err));
        return -1;
    }
    fill_rate(m, a->n, secs);
    return 0;
}

/* --- Node and Python pools (subprocesses that time themselves) ---------------------------- */

typedef struct {
    long n;
    const char *which;
} sub_arg_t;

static int run_node_pool(void *arg, double *m)
{
    const sub_arg_t *a = arg;
    char n[32];
    snprintf(n, sizeof n, "%ld", a->n);
    char *argv[] = {(char *)bench_node(), BENCH_NODE_DIR "/pool_anchor.mjs", (char *)a->which, n,
                    NULL};
    const char *keys[] = {"tasks_per_s"};
    if (argv[0] == NULL || bench_subprocess(argv, keys, m, 1) != 0)
        return -1;
    m[1] = 1e6 / m[0];
    return 0;
}

static int run_python_pool(void *arg, double *m)
{
    const sub_arg_t *a = arg;
    char n[32];
    snprintf(n, sizeof n, "%ld", a->n);
    char *argv[] = {"python3", BENCH_NODE_DIR "/pool_ppe.py", (char *)a->which, n, NULL};
    const char *keys[] = {"tasks_per_s"};
    if (bench_subprocess(argv, keys, m, 1) != 0)
        return -1;
    m[1] = 1e6 / m[0];
    return 0;
}

/* --- command jobs ------------------------------------------------------------------------- */

typedef struct {
    long n;
    uvproc_pool_output_t output;
    const char *shell; /* xargs / parallel: a shell line timed from spawn to reaped */
} cmd_arg_t;

static int run_uvproc_commands(void *arg, double *m)
{
    const cmd_arg_t *a = arg;
    tally_t t = {0};
    uvproc_pool_options_t o = {.kind = UVPROC_POOL_COMMANDS, .max_workers = 2, .output = a->output};
    uvproc_pool_t *pool;
    o.data = &t;
    o.on_done = tally_done;
    if (uvproc_pool_new(uv_default_loop(), &pool, &o) != 0)
        return -1;
    double t0 = bench_now();
    for (long i = 0; i < a->n; i++)
        if (uvproc_pool_submit(pool, "/bin/true", NULL, NULL, NULL) != 0)
            return -1;
    uvproc_pool_drain(pool);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    double secs = bench_now() - t0;
    /* tally_done checks worker results; for commands only the error counts */
    if (t.done != a->n)
        return -1;
    fill_rate(m, a->n, secs);
    return 0;
}

typedef struct {
    uv_loop_t *loop;
    long started, finished, n, failed;
} raw_t;

static void raw_start(raw_t *r);

/* free() has another type than a uv_close_cb: calling it through one is undefined. */
static void raw_free_handle(uv_handle_t *h)
{
    free(h);
}

static void raw_exit(uv_process_t *p, int64_t status, int sig)
{
    raw_t *r = p->data;
    r->failed += status != 0 || sig != 0;
    r->finished++;
    uv_close((uv_handle_t *)p, raw_free_handle);
    if (r->started < r->n)
        raw_start(r);
}

static void raw_start(raw_t *r)
{
    static char *args[] = {"/bin/true", NULL};
    uv_process_t *p = malloc(sizeof *p);
    uv_process_options_t o = {.file = args[0], .args = args, .exit_cb = raw_exit};
    p->data = r;
    r->started++;
    if (uv_spawn(r->loop, p, &o) != 0) {
        r->failed++;
        r->finished++;
        free(p);
    }
}

/* The bound: raw libuv, 2 children kept running, stdio ignored, no bookkeeping. */
static int run_raw_uv(void *arg, double *m)
{
    const cmd_arg_t *a = arg;
    raw_t r = {.loop = uv_default_loop(), .n = a->n};
    double t0 = bench_now();
    raw_start(&r);
    raw_start(&r);
    uv_run(r.loop, UV_RUN_DEFAULT);
    double secs = bench_now() - t0;
    if (r.failed != 0 || r.finished != a->n)
        return -1;
    fill_rate(m, a->n, secs);
    return 0;
}

/* The syscall bound: posix_spawn (vfork) + wait, 2 children kept running, stdio inherited. */
static int run_raw_posix_spawn(void *arg, double *m)
{
    const cmd_arg_t *a = arg;
    char *args[] = {"/bin/true", NULL};
    long started = 0, finished = 0, failed = 0;
    int status;
    pid_t pid;
    double t0 = bench_now();
    while (finished < a->n) {
        while (started < a->n && started - finished < 2) {
            if (posix_spawn(&pid, args[0], NULL, NULL, args, environ) != 0)
                return -1;
            started++;
        }
        pid = wait(&status);
        if (pid < 0)
            return -1;
        finished++;
        failed += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
    }
    double secs = bench_now() - t0;
    if (failed != 0)
        return -1;
    fill_rate(m, a->n, secs);
    return 0;
}

static int run_shell_line(void *arg, double *m)
{
    const cmd_arg_t *a = arg;
    char line[512];
    int status;
    pid_t pid;
    snprintf(line, sizeof line, a->shell, a->n);
    char *argv[] = {"/bin/sh", "-c", line, NULL};
    double t0 = bench_now();
    if (posix_spawn(&pid, argv[0], NULL, NULL, argv, environ) != 0)
        return -1;
    while (waitpid(pid, &status, 0) < 0)
        ;
    double secs = bench_now() - t0;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    fill_rate(m, a->n, secs);
    return 0;
}

/* --- main --------------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "  --cmd-n N            /bin/true jobs per round in the commands table (2000)\n"
                 "  --tables LIST        workers,commands (both)\n"
                 "  --pipeline K         tasks sent ahead per worker in uvproc_c_pipeline (32)\n");
}

static int run(int argc, char **argv, int cmd_argc, char **cmd_argv)
{
    bench_args_t a = {.n = 10000, .rounds = 3};
    long cmd_n = 2000;
    unsigned pipeline = 32;
    const char *tables = "workers,commands";
    int pr = bench_parse_args(&argc, argv, &a, usage);
    if (pr != 0)
        return pr > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cmd-n") == 0 && i + 1 < argc)
            cmd_n = atol(argv[++i]);
        else if (strcmp(argv[i], "--pipeline") == 0 && i + 1 < argc)
            pipeline = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--tables") == 0 && i + 1 < argc)
            tables = argv[++i];
        else {
            usage(stderr);
            return 2;
        }
    }
    ssize_t len = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
    if (len <= 0)
        return 1;
    self_path[len] = '\0';
    bench_print_header(stdout, cmd_argc, cmd_argv);

    if (bench_listed(tables, "workers")) {
        static workers_arg_t c1, cp, cn;
        static sub_arg_t wp, tp, ps, pm;
        char title[160];
        bench_t b;
        c1 = (workers_arg_t){.n = a.n, .pipeline = 1};
        cp = (workers_arg_t){.n = a.n, .pipeline = pipeline};
        cn = (workers_arg_t){.n = a.n, .pipeline = 1, .node = 1};
        wp = (sub_arg_t){a.n, "workerpool"};
        tp = (sub_arg_t){a.n, "tinypool"};
        ps = (sub_arg_t){a.n, "submit"};
        pm = (sub_arg_t){a.n, "map100"};
        snprintf(title, sizeof title, "Worker pool, %ld tiny tasks (x => x + 1), 2 workers", a.n);
        bench_init(&b, title, &a);
        bench_metric(&b, "tasks/s", BENCH_HIGHER);
        bench_metric(&b, "us/task", BENCH_LOWER);
        bench_variant(&b, "workerpool", "npm workerpool 10.0.3, workerType 'process'",
                      run_node_pool, &wp);
        bench_variant(&b, "uvproc_c", "uvproc pool, C workers, one task in flight per worker",
                      run_uvproc_workers, &c1);
        bench_variant(&b, "uvproc_c_pipeline",
                      "uvproc pool, C workers, `pipeline` tasks sent ahead per worker",
                      run_uvproc_workers, &cp);
        bench_variant(&b, "uvproc_node", "uvproc pool, Node workerpool.worker script",
                      run_uvproc_workers, &cn);
        bench_variant(&b, "tinypool", "tinypool 2.2.0, runtime 'child_process'", run_node_pool,
                      &tp);
        bench_variant(&b, "py_ppe_submit", "Python ProcessPoolExecutor(2), submit() each",
                      run_python_pool, &ps);
        bench_variant(&b, "py_ppe_map100", "Python ProcessPoolExecutor(2), map(chunksize=100)",
                      run_python_pool, &pm);
        bench_baseline(&b, "workerpool");
        if (bench_node() == NULL) {
            bench_disable(&b, "workerpool", "node not found");
            bench_disable(&b, "uvproc_node", "node not found");
            bench_disable(&b, "tinypool", "node not found");
        }
        bench_run(&b);
        bench_print(&b, stdout);
    }
    if (bench_listed(tables, "commands")) {
        static cmd_arg_t raw, dis, cap, xa, par, xno, xsh, pno, prn, prs;
        char title[160];
        bench_t b;
        bench_args_t ca = a;
        ca.n = cmd_n;
        raw = (cmd_arg_t){.n = cmd_n};
        dis = (cmd_arg_t){.n = cmd_n, .output = UVPROC_POOL_DISCARD};
        cap = (cmd_arg_t){.n = cmd_n, .output = UVPROC_POOL_CAPTURE};
        xa = (cmd_arg_t){.n = cmd_n, .shell = "seq %ld | xargs -P2 -n1 /bin/true"};
        par = (cmd_arg_t){.n = cmd_n / 4,
                          .shell = "seq %ld | parallel --will-cite -j2 /bin/true >/dev/null"};
        /* pool-run's rows run /bin/true with no argument, as the raw loops do: given exactly
         * one, GNU true loads the locale (its --help check), which would weigh more than the
         * runners being compared. So the inputs are read but not passed (-N0, and xargs -I
         * without {}); the shell rows put one /bin/sh per job on every side (dash execs the
         * job's /bin/true in place). */
        xno = (cmd_arg_t){.n = cmd_n, .shell = "seq %ld | xargs -P2 -I{} /bin/true"};
        xsh = (cmd_arg_t){.n = cmd_n, .shell = "seq %ld | xargs -P2 -I{} sh -c /bin/true"};
        pno = (cmd_arg_t){.n = cmd_n / 4,
                          .shell = "seq %ld | parallel --will-cite -N0 -j2 /bin/true >/dev/null"};
        prn = (cmd_arg_t){.n = cmd_n, .shell = "seq %ld | " POOL_RUN " -N0 -j2 --no-shell /bin/true"};
        prs = (cmd_arg_t){.n = cmd_n, .shell = "seq %ld | PARALLEL_SHELL=/bin/sh " POOL_RUN
                                              " -N0 -j2 /bin/true"};
        snprintf(title, sizeof title, "Command jobs, %ld x /bin/true, concurrency 2", cmd_n);
        bench_init(&b, title, &ca);
        bench_metric(&b, "jobs/s", BENCH_HIGHER);
        bench_metric(&b, "us/job", BENCH_LOWER);
        bench_variant(&b, "raw_uv_spawn", "raw libuv: 2 uv_spawn children kept running", run_raw_uv,
                      &raw);
        bench_variant(&b, "raw_posix_spawn", "posix_spawn + wait, 2 children kept running",
                      run_raw_posix_spawn, &raw);
        bench_variant(&b, "uvproc_discard", "uvproc pool, output DISCARD (spawn, no pipes)",
                      run_uvproc_commands, &dis);
        bench_variant(&b, "uvproc_capture", "uvproc pool, output CAPTURE (exec semantics)",
                      run_uvproc_commands, &cap);
        bench_variant(&b, "xargs_P2", "seq N | xargs -P2 -n1 /bin/true", run_shell_line, &xa);
        bench_variant(&b, "gnu_parallel", "seq N/4 | parallel -j2 /bin/true (N/4 jobs)",
                      run_shell_line, &par);
        bench_variant(&b, "xargs_P2_noarg", "seq N | xargs -P2 -I{} /bin/true (no argument)",
                      run_shell_line, &xno);
        bench_variant(&b, "xargs_P2_sh", "seq N | xargs -P2 -I{} sh -c /bin/true",
                      run_shell_line, &xsh);
        bench_variant(&b, "gnu_parallel_N0", "seq N/4 | parallel -N0 -j2 /bin/true (N/4 jobs)",
                      run_shell_line, &pno);
        bench_variant(&b, "pool_run_argv", "seq N | pool-run -N0 -j2 --no-shell /bin/true",
                      run_shell_line, &prn);
        bench_variant(&b, "pool_run_shell", "seq N | pool-run -N0 -j2 /bin/true (through sh)",
                      run_shell_line, &prs);
        bench_baseline(&b, "raw_uv_spawn");
        bench_run(&b);
        bench_print(&b, stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--worker") == 0)
        return worker_main();
    signal(SIGPIPE, SIG_IGN);
    return bench_main(argc, argv, run);
}
