/* bench/remote: scale-out through ssh on loopback (sshd on 127.0.0.2 and .3, started by
 * test/remote/engines.sh: this program re-runs itself under it when UVPROC_SSH_CONFIG is not
 * set). Two tables, each interleaved (bench.h):
 *
 * 1. Tiny worker jobs through warm workers: {"id","method":"inc","params":[k]} answered with
 *    {"id","result":k+1}, the workerpool wire protocol, `--window` jobs in flight per worker,
 *    `--workers` workers per host: all local (fd 3 socketpair, the bound), on 1 ssh host, on 2
 *    ssh hosts (the channel over ssh's stdio). Workers start and warm up (200 jobs) outside the
 *    timed part; and one job at a time through one ssh worker (the per-job round trip).
 *    Target: >= 10k jobs/s per remote host, <= 1 ms per job once warm.
 * 2. Command jobs (`true`, `--cmd-n` of them, 8 at a time) on 127.0.0.2: GNU parallel
 *    --sshlogin (one ssh session per job; the baseline), uvproc exec through the ssh launcher
 *    (one ssh session per job too), uvproc through one warm remote worker that runs each
 *    command there (method "exec": no ssh per job), and local uvproc exec (the bound: no ssh).
 *    Both ssh variants share one ControlMaster connection. Target: >= 5x GNU parallel.
 *
 * The workers are this program again: --worker (adopts the channel, from fd 3 or from stdio).
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

#ifndef ENGINES_SH
#define ENGINES_SH "test/remote/engines.sh"
#endif

static char self[4096];
static const char *ssh_cfg;
static char control_opt[512];

/* --- the worker (the far side) -------------------------------------------------------- */

typedef struct {
    uvproc_channel_t *ch;
    json_t *id;
} exec_job_t;

static void worker_exec_done(const uvproc_exec_result_t *r, void *data)
{
    exec_job_t *j = data;
    uvproc_channel_send_new(
        j->ch, json_pack("{s:o,s:{s:I}}", "id", j->id, "result", "code", (json_int_t)r->exit_code),
        NULL, NULL);
    free(j);
}

static void worker_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *params = json_object_get(msg, "params");
    (void)h;
    if (method != NULL && strcmp(method, "exec") == 0) {
        /* params: [file, args...]: run it here, on the worker's host. */
        const char *args[16] = {0};
        exec_job_t *j = malloc(sizeof *j);
        size_t n = json_array_size(params);
        for (size_t i = 1; i < n && i < 15; i++)
            args[i - 1] = json_string_value(json_array_get(params, i));
        j->ch = ch;
        j->id = json_incref(json_object_get(msg, "id"));
        if (uvproc_exec_file(uvproc_channel_loop(ch), json_string_value(json_array_get(params, 0)),
                             args, NULL, worker_exec_done, j, NULL) != 0) {
            json_decref(j->id);
            free(j);
        }
        return;
    }
    uvproc_channel_send_new(ch,
                            json_pack("{s:O,s:I}", "id", json_object_get(msg, "id"), "result",
                                      json_integer_value(json_array_get(params, 0)) + 1),
                            NULL, NULL);
}

static int worker_main(void)
{
    uvproc_channel_options_t o = {.on_message = worker_message};
    uvproc_channel_t *ch;
    uv_loop_t loop;
    uv_loop_init(&loop);
    if (uvproc_channel_from_parent(&loop, &ch, &o) != 0)
        return 2;
    uv_run(&loop, UV_RUN_DEFAULT);
    return uv_loop_close(&loop) == 0 ? 0 : 3;
}

/* --- the parent: workers --------------------------------------------------------------- */

#define MAX_WORKERS 64

typedef struct {
    int hosts; /* 0: local */
    int per_host, window;
    long n;
    const char *method; /* "inc" or "exec" */
} wcfg_t;

typedef struct {
    uv_loop_t loop;
    const wcfg_t *cfg;
    uvproc_process_t *p[MAX_WORKERS];
    int count, closed;
    long sent, done, target;
} wrun_t;

static const char *hosts[] = {"127.0.0.2", "127.0.0.3"};

/* ssh to host 0 or 1 through one shared ControlMaster connection per host. */
static const char *const *ssh_argv(int host)
{
    static const char *v[2][11];
    const char *a[11] = {"ssh",
                         "-F",
                         ssh_cfg,
                         "-o",
                         control_opt,
                         "-o",
                         "ControlMaster=auto",
                         "-o",
                         "ControlPersist=30",
                         hosts[host],
                         NULL};
    memcpy(v[host], a, sizeof a);
    return v[host];
}

static void send_job(wrun_t *w, uvproc_channel_t *ch)
{
    json_t *m;
    if (w->sent >= w->target)
        return;
    if (strcmp(w->cfg->method, "exec") == 0)
        m = json_pack("{s:I,s:s,s:[s]}", "id", (json_int_t)w->sent, "method", "exec", "params",
                      "true");
    else
        m = json_pack("{s:I,s:s,s:[I]}", "id", (json_int_t)w->sent, "method", "inc", "params",
                      (json_int_t)w->sent);
    w->sent++;
    uvproc_channel_send_new(ch, m, NULL, NULL);
}

static void w_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    wrun_t *w = uvproc_channel_data(ch);
    (void)h;
    if (json_object_get(msg, "result") == NULL)
        return;
    w->done++;
    send_job(w, ch);
    if (w->done == w->target)
        uv_stop(&w->loop);
}

static void w_close(uvproc_process_t *p, int64_t code, int sig)
{
    wrun_t *w = uvproc_process_data(p);
    (void)code;
    (void)sig;
    w->closed++;
}

/* Runs `n` jobs over the workers, `window` in flight on each; returns seconds. */
static double w_batch(wrun_t *w, long n)
{
    double t0 = bench_now();
    w->sent = w->done = 0;
    w->target = n;
    for (int i = 0; i < w->count; i++)
        for (int k = 0; k < w->cfg->window; k++)
            send_job(w, uvproc_process_channel(w->p[i]));
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return bench_now() - t0;
}

static int run_workers(void *arg, double *m)
{
    const wcfg_t *cfg = arg;
    static const char *const worker_args[] = {"--worker", NULL};
    wrun_t w = {.cfg = cfg};
    uvproc_remote_t r[2];
    double secs;
    int ok;

    uv_loop_init(&w.loop);
    for (int h = 0; h < (cfg->hosts > 0 ? cfg->hosts : 1); h++) {
        r[h] = (uvproc_remote_t){.launcher = ssh_argv(h)};
        for (int k = 0; k < cfg->per_host && w.count < MAX_WORKERS; k++) {
            uvproc_fork_options_t o = {0};
            o.spawn.remote = cfg->hosts > 0 ? &r[h] : NULL;
            o.spawn.data = &w;
            o.spawn.on_close = w_close;
            o.channel.data = &w;
            o.channel.on_message = w_message;
            if (uvproc_fork(&w.loop, &w.p[w.count], self, worker_args, &o) == 0)
                w.count++;
        }
    }
    w_batch(&w, 200); /* warm: every worker connected and answering */
    secs = w_batch(&w, cfg->n);
    ok = w.done == cfg->n;
    for (int i = 0; i < w.count; i++)
        uvproc_channel_disconnect(uvproc_process_channel(w.p[i]));
    uv_run(&w.loop, UV_RUN_DEFAULT);
    uv_loop_close(&w.loop);
    m[0] = cfg->n / secs;
    /* us per job for tiny jobs, ms for commands (the other table's unit) */
    m[1] = secs * (strcmp(cfg->method, "exec") == 0 ? 1e3 : 1e6) / cfg->n;
    return ok ? 0 : 1;
}

/* --- the parent: command jobs ---------------------------------------------------------- */

typedef struct {
    long n;
    int concurrency;
    int remote;
} ccfg_t;

typedef struct {
    uv_loop_t loop;
    const ccfg_t *cfg;
    uvproc_remote_t r;
    long started, done, failed;
} crun_t;

static void c_start(crun_t *c);

static void c_done(const uvproc_exec_result_t *res, void *data)
{
    crun_t *c = data;
    c->done++;
    c->failed += res->error != 0;
    c_start(c);
}

static void c_start(crun_t *c)
{
    uvproc_exec_options_t o = {.spawn.remote = c->cfg->remote ? &c->r : NULL};
    if (c->started >= c->cfg->n)
        return;
    c->started++;
    if (uvproc_exec_file(&c->loop, "true", NULL, &o, c_done, c, NULL) != 0) {
        c->done++;
        c->failed++;
    }
}

static int run_commands(void *arg, double *m)
{
    const ccfg_t *cfg = arg;
    crun_t c = {.cfg = cfg, .r = {.launcher = ssh_argv(0)}};
    double t0;
    uv_loop_init(&c.loop);
    t0 = bench_now();
    for (int i = 0; i < cfg->concurrency; i++)
        c_start(&c);
    uv_run(&c.loop, UV_RUN_DEFAULT);
    m[0] = cfg->n / (bench_now() - t0);
    m[1] = (bench_now() - t0) * 1e3 / cfg->n;
    uv_loop_close(&c.loop);
    return c.failed == 0 && c.done == cfg->n ? 0 : 1;
}

static int run_parallel(void *arg, double *m)
{
    const ccfg_t *cfg = arg;
    char cmd[2048];
    double t0;
    int rc;
    snprintf(cmd, sizeof cmd,
             "seq %ld | parallel --will-cite -j%d -S %s --ssh 'ssh -F %s -o %s "
             "-o ControlMaster=auto -o ControlPersist=30' true",
             cfg->n, cfg->concurrency, hosts[0], ssh_cfg, control_opt);
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
    int per_host = 2, window = 64;
    bench_t wb, cb;
    wcfg_t local, ssh1, ssh2, rtt, runner;
    ccfg_t par, sshx, localx;
    double m[4];
    char stop[1024];

    if (bench_parse_args(&argc, argv, &a, usage) != 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--cmd-n") == 0 && i + 1 < argc)
            cmd_n = atol(argv[++i]);
        else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc)
            per_host = atoi(argv[++i]);
        else if (strcmp(argv[i], "--window") == 0 && i + 1 < argc)
            window = atoi(argv[++i]);
        else {
            usage(stderr);
            return 2;
        }
    }
    local = (wcfg_t){0, per_host, window, a.n, "inc"};
    ssh1 = (wcfg_t){1, per_host, window, a.n, "inc"};
    ssh2 = (wcfg_t){2, per_host, window, a.n, "inc"};
    rtt = (wcfg_t){1, 1, 1, a.n / 5, "inc"};
    runner = (wcfg_t){1, 1, 8, cmd_n, "exec"};
    par = (ccfg_t){cmd_n, 8, 1};
    sshx = (ccfg_t){cmd_n, 8, 1};
    localx = (ccfg_t){cmd_n, 8, 0};

    bench_init(&wb, "Tiny worker jobs through warm workers: local vs ssh hosts", &a);
    bench_metric(&wb, "jobs/s", BENCH_HIGHER);
    bench_metric(&wb, "us/job", BENCH_LOWER);
    bench_variant(&wb, "local", "workers forked here, channel on a socketpair", run_workers,
                  &local);
    bench_variant(&wb, "ssh_1host", "workers on 127.0.0.2, channel over ssh stdio", run_workers,
                  &ssh1);
    bench_variant(&wb, "ssh_2hosts", "workers on 127.0.0.2 and .3, channel over ssh stdio",
                  run_workers, &ssh2);
    bench_variant(&wb, "ssh_1by1", "1 worker on 127.0.0.2, one job at a time (round trip)",
                  run_workers, &rtt);
    bench_baseline(&wb, "local");

    bench_init(&cb, "Command jobs (`true`, 8 at a time) on 127.0.0.2", &a);
    bench_metric(&cb, "jobs/s", BENCH_HIGHER);
    bench_metric(&cb, "ms/job", BENCH_LOWER);
    bench_variant(&cb, "parallel", "GNU parallel -S (ssh per job, ControlMaster)", run_parallel,
                  &par);
    bench_variant(&cb, "uvproc_ssh", "uvproc exec, ssh launcher (ssh per job, ControlMaster)",
                  run_commands, &sshx);
    bench_variant(&cb, "uvproc_worker", "uvproc, one warm remote worker runs each command",
                  run_workers, &runner);
    bench_variant(&cb, "local_exec", "uvproc exec here, no ssh (the bound)", run_commands, &localx);
    bench_baseline(&cb, "parallel");

    /* The ControlMaster both ssh variants share is set up before timing. */
    run_commands(&(ccfg_t){1, 1, 1}, m);
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
    snprintf(control_opt, sizeof control_opt, "ControlPath=%s/cm/%%C",
             getenv("UVPROC_ENGINES_DIR") != NULL ? getenv("UVPROC_ENGINES_DIR") : "/tmp");
    return bench_main(argc, argv, run);
}
