/* bench/remote: scale-out through ssh on loopback (sshd on 127.0.0.2 and .3, started by
 * test/remote/engines.sh: this program re-runs itself under it when UVPROC_SSH_CONFIG is not
 * set). Two tables, each interleaved (bench.h):
 *
 * 1. Tiny worker jobs through warm workers: uvproc_pool_call("inc", [k]) answered with k+1
 *    (the workerpool protocol), `--window` jobs in flight per worker (the pool's pipeline),
 *    `--workers` workers per host: a pool on this host ("2/:", the channel on socketpairs),
 *    on 1 ssh host ("2/127.0.0.2") and on 2 ssh hosts; the same exchange without the pool
 *    (uvproc_fork + the channel over ssh: the transport's bound); and one job at a time through
 *    one ssh worker (the per-job round trip). Workers start and warm up (200 jobs) outside the
 *    timed part. Targets: >= 10k jobs/s per remote host, <= 1 ms per job once warm.
 * 2. Command jobs (`true`, `--cmd-n` of them, 8 at a time) on 127.0.0.2: GNU parallel
 *    --sshlogin 8/127.0.0.2 (one ssh session per job; the baseline), a uvproc command pool on
 *    "8/127.0.0.2" (one ssh session per job too), a uvproc worker pool on "1/127.0.0.2" whose
 *    warm uvproc-runner (tools/runner.c) runs each command on its host (no ssh per job), and a
 *    pool here ("8/:", the bound without ssh). Every ssh shares one ControlMaster connection
 *    per host. Target: >= 5x GNU parallel.
 *
 * The workers are this program again: --worker (uvproc_pool_serve: it adopts the channel from
 * fd 3 locally, from stdio behind ssh).
 *
 *   bench/remote [-n 10000] [--cmd-n 200] [--workers 2] [--window 64] [-r 3] [--only ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"

#ifndef RUNNER
#define RUNNER "uvproc-runner"
#endif
#ifndef ENGINES_SH
#define ENGINES_SH "test/remote/engines.sh"
#endif

static char self[4096];
static const char *ssh_cfg;
static char control_opt[512];
static const char *hosts[] = {"127.0.0.2", "127.0.0.3"};

/* --- the worker (the far side) -------------------------------------------------------- */

static void m_inc(uvproc_pool_call_t *c, json_t *params, void *data)
{
    (void)data;
    uvproc_pool_call_resolve_new(c,
                                 json_integer(json_integer_value(json_array_get(params, 0)) + 1));
}

static int worker_main(void)
{
    uv_loop_t *loop = uv_default_loop();
    const uvproc_pool_method_t methods[] = {{"inc", m_inc, NULL}};
    int r = uvproc_pool_serve(loop, methods, 1);
    uv_loop_close(loop);
    return r;
}

/* --- ssh ---------------------------------------------------------------------------------- */

/* ssh -F CONFIG -o ControlPath=... -o ControlMaster=auto -o ControlPersist=30: one shared
 * connection per host; the host name is appended by the pool (or by ssh_argv). */
static const char *ssh_launcher[] = {
    "ssh", "-F", NULL, "-o", control_opt, "-o", "ControlMaster=auto", "-o", "ControlPersist=30",
    NULL,  NULL};

static const char *const *ssh_argv(int host)
{
    static const char *v[2][11];
    memcpy(v[host], ssh_launcher, sizeof ssh_launcher);
    v[host][9] = hosts[host];
    return v[host];
}

/* --- pools ------------------------------------------------------------------------------- */

typedef struct pcfg_s {
    const char *spec; /* hosts, parallel-style */
    uvproc_pool_kind_t kind;
    unsigned window;    /* worker pools: jobs in flight per worker */
    const char *method; /* worker pools: "inc" (this program's worker) or "exec" (RUNNER) */
    long n;
} pcfg_t;

typedef struct {
    uv_loop_t loop;
    const struct pcfg_s *cfg;
    long done, failed, target, submitted;
} prun_t;

static void p_submit(uvproc_pool_t *pool, const pcfg_t *cfg, long k)
{
    static const char *const no_args[] = {NULL};
    json_t *params;
    if (cfg->kind == UVPROC_POOL_COMMANDS) {
        uvproc_pool_submit(pool, "true", no_args, NULL, NULL);
        return;
    }
    params = strcmp(cfg->method, "exec") == 0 ? json_pack("[s]", "true") : json_pack("[I]", k);
    uvproc_pool_call(pool, cfg->method, params, NULL, NULL);
    json_decref(params);
}

static void p_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    prun_t *p = uvproc_pool_data(pool);
    p->done++;
    p->failed += r->error != 0;
    if (p->submitted < p->target)
        p_submit(pool, p->cfg, p->submitted++);
    if (p->done == p->target)
        uv_stop(&p->loop);
}

/* Runs n jobs, at most QUEUED_MAX submitted and not yet done, as a producer that honours a
 * bounded queue would; returns seconds. */
#define QUEUED_MAX 1024
static double p_batch(uvproc_pool_t *pool, prun_t *p, const pcfg_t *cfg, long n)
{
    double t0 = bench_now();
    p->done = 0;
    p->submitted = 0;
    p->target = n;
    p->cfg = cfg;
    while (p->submitted < n && p->submitted < QUEUED_MAX)
        p_submit(pool, cfg, p->submitted++);
    uv_run(&p->loop, UV_RUN_DEFAULT);
    return bench_now() - t0;
}

static int run_pool(void *arg, double *m)
{
    const pcfg_t *cfg = arg;
    static const char *const worker_args[] = {"--worker", NULL};
    uvproc_pool_hosts_t h = {.spec = cfg->spec, .launcher = ssh_launcher};
    int runner = cfg->method != NULL && strcmp(cfg->method, "exec") == 0;
    uvproc_pool_options_t o = {.kind = cfg->kind,
                               .worker_file = runner ? RUNNER : self,
                               .worker_args = runner ? NULL : worker_args,
                               .pipeline = cfg->window,
                               .max_queue = 0,
                               .on_done = p_done,
                               .hosts = &h};
    prun_t p = {0};
    uvproc_pool_t *pool;
    double secs;

    uv_loop_init(&p.loop);
    o.data = &p;
    o.min_workers = 64; /* every slot's worker, started now (clamped to the slots) */
    if (uvproc_pool_new(&p.loop, &pool, &o) != 0)
        return 1;
    if (cfg->kind == UVPROC_POOL_WORKERS)
        p_batch(pool, &p, cfg, 200); /* warm: every worker up and answering */
    secs = p_batch(pool, &p, cfg, cfg->n);
    uvproc_pool_drain(pool);
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    m[0] = cfg->n / secs;
    /* us per job for tiny jobs, ms for commands (the other table's unit) */
    m[1] = secs *
           (cfg->kind == UVPROC_POOL_COMMANDS || strcmp(cfg->method, "exec") == 0 ? 1e3 : 1e6) /
           cfg->n;
    return p.failed == 0 && p.done == cfg->n ? 0 : 1;
}

/* --- no pool: the channel over ssh alone (the transport's bound) ------------------------ */

typedef struct {
    uv_loop_t loop;
    uvproc_process_t *p[8];
    int count;
    long sent, done, target, window;
} raw_t;

static void raw_send(raw_t *w, uvproc_channel_t *ch)
{
    if (w->sent >= w->target)
        return;
    uvproc_channel_send_new(ch,
                            json_pack("{s:I,s:s,s:[I]}", "id", (json_int_t)w->sent + 1, "method",
                                      "inc", "params", (json_int_t)w->sent),
                            NULL, NULL);
    w->sent++;
}

static void raw_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    raw_t *w = uvproc_channel_data(ch);
    (void)h;
    if (json_object_get(msg, "result") == NULL)
        return; /* "ready" */
    if (++w->done == w->target)
        uv_stop(&w->loop);
    raw_send(w, ch);
}

static double raw_batch(raw_t *w, long n)
{
    double t0 = bench_now();
    w->sent = w->done = 0;
    w->target = n;
    for (int i = 0; i < w->count; i++)
        for (long k = 0; k < w->window; k++)
            raw_send(w, uvproc_process_channel(w->p[i]));
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return bench_now() - t0;
}

static int run_raw(void *arg, double *m)
{
    const pcfg_t *cfg = arg;
    static const char *const worker_args[] = {"--worker", NULL};
    uvproc_remote_t r = {.launcher = ssh_argv(0)};
    raw_t w = {.window = cfg->window};
    double secs;
    int ok;

    uv_loop_init(&w.loop);
    for (int k = 0; k < 2; k++) {
        uvproc_fork_options_t o = {.spawn.remote = &r};
        o.channel.data = &w;
        o.channel.on_message = raw_message;
        if (uvproc_fork(&w.loop, &w.p[w.count], self, worker_args, &o) == 0)
            w.count++;
    }
    raw_batch(&w, 200);
    secs = raw_batch(&w, cfg->n);
    ok = w.done == cfg->n;
    for (int i = 0; i < w.count; i++)
        uvproc_channel_send_new(uvproc_process_channel(w.p[i]),
                                json_string("__workerpool-terminate__"), NULL, NULL);
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
    m[0] = cfg->n / secs;
    m[1] = secs * 1e6 / cfg->n;
    return ok ? 0 : 1;
}

/* --- GNU parallel --------------------------------------------------------------------- */

static int run_parallel(void *arg, double *m)
{
    const pcfg_t *cfg = arg;
    char cmd[2048];
    double t0;
    int rc;
    snprintf(cmd, sizeof cmd,
             "seq %ld | parallel --will-cite -S 8/%s --ssh 'ssh -F %s -o %s "
             "-o ControlMaster=auto -o ControlPersist=30' true",
             cfg->n, hosts[0], ssh_cfg, control_opt);
    t0 = bench_now();
    rc = system(cmd);
    m[0] = cfg->n / (bench_now() - t0);
    m[1] = (bench_now() - t0) * 1e3 / cfg->n;
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bench/remote [-n JOBS] [--cmd-n N] [--workers W] [--window K] [-r R]\n"
               "                    [--only variants] [-q]\n"
               "Worker jobs and command jobs through ssh on loopback (sshd started by\n"
               "test/remote/engines.sh); see the comment at the top of bench/remote.c.\n");
}

static int run(int argc, char **argv, int argc0, char **argv0)
{
    bench_args_t a = {.n = 10000, .rounds = 3};
    long cmd_n = 200;
    unsigned per_host = 2, window = 64;
    char spec_local[32], spec_1[64], spec_2[96], stop[1024];
    bench_t wb, cb;
    pcfg_t local, ssh1, ssh2, raw, rtt, par, cmd_ssh, cmd_worker, cmd_local;
    double m[4];

    if (bench_parse_args(&argc, argv, &a, usage) != 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cmd-n") == 0 && i + 1 < argc)
            cmd_n = atol(argv[++i]);
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            per_host = (unsigned)atoi(argv[++i]);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            window = (unsigned)atoi(argv[++i]);
        else {
            usage(stderr);
            return 2;
        }
    }
    snprintf(spec_local, sizeof spec_local, "%u/:", per_host);
    snprintf(spec_1, sizeof spec_1, "%u/%s", per_host, hosts[0]);
    snprintf(spec_2, sizeof spec_2, "%u/%s,%u/%s", per_host, hosts[0], per_host, hosts[1]);
    local = (pcfg_t){spec_local, UVPROC_POOL_WORKERS, window, "inc", a.n};
    ssh1 = (pcfg_t){spec_1, UVPROC_POOL_WORKERS, window, "inc", a.n};
    ssh2 = (pcfg_t){spec_2, UVPROC_POOL_WORKERS, window, "inc", a.n};
    raw = (pcfg_t){spec_1, UVPROC_POOL_WORKERS, window, "inc", a.n};
    rtt = (pcfg_t){"1/127.0.0.2", UVPROC_POOL_WORKERS, 1, "inc", a.n / 5};
    par = (pcfg_t){NULL, UVPROC_POOL_COMMANDS, 0, NULL, cmd_n};
    cmd_ssh = (pcfg_t){"8/127.0.0.2", UVPROC_POOL_COMMANDS, 0, NULL, cmd_n};
    cmd_worker = (pcfg_t){"1/127.0.0.2", UVPROC_POOL_WORKERS, 8, "exec", cmd_n};
    cmd_local = (pcfg_t){"8/:", UVPROC_POOL_COMMANDS, 0, NULL, cmd_n};

    bench_init(&wb, "Tiny worker jobs through warm workers: this host vs ssh hosts", &a);
    bench_metric(&wb, "jobs/s", BENCH_HIGHER);
    bench_metric(&wb, "us/job", BENCH_LOWER);
    bench_variant(&wb, "pool_local", "uvproc pool, workers here (socketpair channel)", run_pool,
                  &local);
    bench_variant(&wb, "pool_ssh_1host", "uvproc pool, workers on 127.0.0.2 (channel over ssh)",
                  run_pool, &ssh1);
    bench_variant(&wb, "pool_ssh_2hosts", "uvproc pool, workers on 127.0.0.2 and .3", run_pool,
                  &ssh2);
    bench_variant(&wb, "channel_ssh_1host", "no pool: uvproc_fork over ssh, same exchange", run_raw,
                  &raw);
    bench_variant(&wb, "pool_ssh_1by1", "uvproc pool, 1 worker on 127.0.0.2, 1 job at a time",
                  run_pool, &rtt);
    bench_baseline(&wb, "pool_local");

    bench_init(&cb, "Command jobs (`true`, 8 at a time) on 127.0.0.2", &a);
    bench_metric(&cb, "jobs/s", BENCH_HIGHER);
    bench_metric(&cb, "ms/job", BENCH_LOWER);
    bench_variant(&cb, "parallel", "GNU parallel -S 8/127.0.0.2 (ssh per job)", run_parallel, &par);
    bench_variant(&cb, "pool_ssh", "uvproc command pool on 8/127.0.0.2 (ssh per job)", run_pool,
                  &cmd_ssh);
    bench_variant(&cb, "pool_worker", "uvproc pool: 1 warm uvproc-runner on 127.0.0.2 runs each",
                  run_pool, &cmd_worker);
    bench_variant(&cb, "pool_local", "uvproc command pool here, 8/: (the bound, no ssh)", run_pool,
                  &cmd_local);
    bench_baseline(&cb, "parallel");

    /* The ControlMaster connections every ssh variant shares are made before timing. */
    run_pool(&(pcfg_t){spec_2, UVPROC_POOL_WORKERS, 1, "inc", 1}, m);
    bench_print_header(stdout, argc0, argv0);
    bench_run(&wb);
    bench_print(&wb, stdout);
    bench_run(&cb);
    bench_print(&cb, stdout);
    for (int h = 0; h < 2; h++) {
        snprintf(stop, sizeof stop, "ssh -F %s -o %s -O exit %s 2>/dev/null", ssh_cfg, control_opt,
                 hosts[h]);
        if (system(stop) != 0) {
            /* no master for this host: nothing to stop */
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    ssize_t len;
    if (argc > 1 && strcmp(argv[1], "--worker") == 0)
        return worker_main();
    len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return 1;
    self[len] = '\0';
    ssh_cfg = getenv("UVPROC_SSH_CONFIG");
    if (ssh_cfg == NULL) {
        /* sshd on loopback for the duration of this run, then gone. */
        char **v = calloc((size_t)argc + 4, sizeof *v);
        v[0] = "bash";
        v[1] = ENGINES_SH;
        v[2] = "--";
        v[3] = self;
        for (int i = 1; i < argc; i++)
            v[3 + i] = argv[i];
        execvp("bash", v);
        perror("bench/remote: bash " ENGINES_SH);
        return 1;
    }
    ssh_launcher[2] = ssh_cfg;
    snprintf(control_opt, sizeof control_opt, "ControlPath=%s/cm/%%C",
             getenv("UVPROC_ENGINES_DIR") != NULL ? getenv("UVPROC_ENGINES_DIR") : "/tmp");
    return bench_main(argc, argv, run);
}
