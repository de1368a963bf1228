/* bench/cluster: an HTTP hello world served by 2 workers, measured with wrk over 127.0.0.1.
 *
 * Throughput (wrk -t1 -c50 for -d seconds per round, variants interleaved, ratios to the raw
 * bound): bench/raw_http_server (2 libuv processes, SO_REUSEPORT, no supervisor: the bound),
 * cluster-server with C workers in both policies, cluster-server hosting unmodified Node
 * workers, Node's own cluster primary with the same Node workers, and a single Node process.
 *
 * Restart: SIGKILL of a listening worker -> its replacement's `listening`, median of --kills
 * per round, for a uvproc primary in this process (C worker, Node worker; the first restart
 * of a window has no delay) and for Node's cluster with the usual exit handler.
 *
 * Reload under load: wrk -c20 for 3 x -d seconds while cluster-server gets two SIGHUPs
 * (rolling reloads); failed requests (socket errors + non-2xx) are counted. */
#include <signal.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <uvproc.h>

#include "bench.h"

static int duration = 3, conns = 50, kills = 10, do_reload = 1;

static void usage(FILE *out)
{
    fprintf(out, "  -d SECONDS   wrk duration per round (default 3)\n"
                 "  -c CONNS     wrk connections (default 50)\n"
                 "  --kills K    kills per restart round (default 10)\n"
                 "  --no-reload  skip the reload-under-load table\n");
}

static int free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

/* ---------------------------------------------------------------------------------------- */
/* servers                                                                                  */

typedef struct {
    const char *name;
    pid_t pid;
    int out; /* its stdout, kept open so that late writes do not SIGPIPE it */
    int port;
} server_t;

/* Starts argv with env_add, waits for its "...http://127.0.0.1:PORT/" line. */
static int server_start(server_t *s, char *const argv[], const char *const *env_add)
{
    posix_spawn_file_actions_t fa;
    char line[512];
    size_t len = 0;
    int fds[2], err;
    char **env = bench_env_with(env_add);
    if (env == NULL || pipe2(fds, O_CLOEXEC) != 0)
        return -1;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    /* Every server in a session of its own, all alike: with Linux autogroup a session is a
     * scheduling group, and on a shared machine where a server runs decides its CPU share
     * more than the server does (measured: 1.3-2x for the same raw server). */
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    err = posix_spawnp(&s->pid, argv[0], &fa, &attr, argv, env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        return -1;
    }
    s->out = fds[0];
    while (len < sizeof line - 1) {
        ssize_t r = read(s->out, line + len, 1);
        if (r <= 0)
            break;
        if (line[len++] == '\n')
            break;
    }
    line[len] = '\0';
    char *at = strstr(line, "127.0.0.1:");
    s->port = at != NULL ? atoi(at + 10) : 0;
    if (s->port <= 0) {
        fprintf(stderr, "bench: %s did not start: %s\n", s->name, line);
        return -1;
    }
    return 0;
}

static void server_stop(server_t *s)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, SIGTERM);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    close(s->out);
    s->pid = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* wrk                                                                                      */

typedef struct {
    double rps, p99_ms, failed, requests;
} wrk_t;

static double wrk_ms(const char *v)
{
    double x = atof(v);
    if (strstr(v, "us") != NULL)
        return x / 1000;
    if (strstr(v, "ms") != NULL)
        return x;
    return x * 1000; /* "s" */
}

static int wrk_run(int port, int c, int secs, wrk_t *w)
{
    char cmd[256], line[512];
    snprintf(cmd, sizeof cmd, "wrk -t1 -c%d -d%ds --latency http://127.0.0.1:%d/ 2>&1", c, secs,
             port);
    FILE *f = popen(cmd, "r");
    memset(w, 0, sizeof *w);
    w->rps = NAN;
    if (f == NULL)
        return -1;
    while (fgets(line, sizeof line, f) != NULL) {
        char *p;
        int a, b, cc, d;
        if ((p = strstr(line, "Requests/sec:")) != NULL)
            w->rps = atof(p + 13);
        else if (sscanf(line, " 99%% %63s", cmd) == 1)
            w->p99_ms = wrk_ms(cmd);
        else if (sscanf(line, " Socket errors: connect %d, read %d, write %d, timeout %d", &a, &b,
                        &cc, &d) == 4)
            w->failed += a + b + cc + d;
        else if ((p = strstr(line, "Non-2xx or 3xx responses:")) != NULL)
            w->failed += atof(p + 25);
        else if ((p = strstr(line, " requests in ")) != NULL)
            w->requests = atof(line);
    }
    return pclose(f) == 0 && !isnan(w->rps) ? 0 : -1;
}

static int run_wrk(void *arg, double *m)
{
    server_t *s = arg;
    wrk_t w;
    if (s->pid <= 0 || wrk_run(s->port, conns, duration, &w) != 0)
        return -1;
    m[0] = w.rps;
    m[1] = w.p99_ms;
    m[2] = w.failed;
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* restart latency through the library                                                      */

typedef struct {
    const char *file;
    const char *exec_path; /* "node" for a Node worker */
    const char *const *args;
    const char *const *env;
} restart_cfg_t;

typedef struct {
    uvproc_cluster_t *c;
    uv_timer_t timer;
    double t0, times[256];
    int n, want;
    uvproc_cluster_worker_t *victim;
} restart_t;

static void restart_kill(uv_timer_t *t)
{
    restart_t *r = t->data;
    r->t0 = bench_now();
    kill(uvproc_cluster_worker_pid(r->victim), SIGKILL);
}

static void restart_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                              const uvproc_cluster_address_t *a)
{
    restart_t *r = uvproc_cluster_data(c);
    (void)a;
    if (r->t0 > 0)
        r->times[r->n++] = (bench_now() - r->t0) * 1000;
    r->t0 = 0;
    if (r->n == r->want) {
        uvproc_cluster_stop(c, NULL, NULL);
        return;
    }
    r->victim = w;
    uv_timer_start(&r->timer, restart_kill, 50, 0); /* as Node's measurement: 50 ms up */
}

static int run_restart(void *arg, double *m)
{
    restart_cfg_t *cfg = arg;
    uv_loop_t loop;
    restart_t r = {.want = kills};
    uvproc_cluster_options_t o = {.workers = 1, .data = &r, .on_listening = restart_listening};
    o.fork.exec_path = cfg->exec_path;
    o.fork.spawn.env = cfg->env;
    o.fork.spawn.env_mode = UVPROC_ENV_EXTEND;
    o.fork.spawn.stdio[1].type = UVPROC_STDIO_IGNORE;
    o.fork.spawn.stdio[2].type = UVPROC_STDIO_IGNORE;
    o.restart.reset_after_ms = 1; /* every kill is the first of its window: no delay */
    uv_loop_init(&loop);
    uv_timer_init(&loop, &r.timer);
    r.timer.data = &r;
    if (uvproc_cluster_start(&loop, &r.c, cfg->file, cfg->args, &o) != 0)
        return -1;
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&r.timer, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    if (r.n < kills)
        return -1;
    qsort(r.times, (size_t)r.n, sizeof r.times[0], bench_cmp_double);
    m[0] = r.times[r.n / 2];
    return 0;
}

static char node_hello[1024];

static int run_node_restart(void *arg, double *m)
{
    char k[32];
    snprintf(k, sizeof k, "KILLS=%d", kills);
    const char *env[] = {"WORKERS=1", k, "CLUSTER_TEST_PORT=0", NULL};
    char *argv[] = {(char *)bench_node(), node_hello, NULL};
    static const char *const keys[] = {"restart_ms"};
    (void)arg;
    return bench_subprocess_env(env, argv, keys, m, 1);
}

/* ---------------------------------------------------------------------------------------- */
/* reload under load                                                                        */

static void reload_row(const char *name, char *const argv[], const char *const *env)
{
    server_t s = {.name = name};
    if (server_start(&s, argv, env) != 0)
        return;
    pid_t wrk = fork();
    if (wrk == 0) {
        /* The child runs wrk and hands its parse back as one line on stdout. */
        wrk_t ww;
        wrk_run(s.port, 20, 3 * duration, &ww);
        printf("%.0f | %.0f | %.0f |\n", ww.requests, ww.failed, ww.rps);
        fflush(stdout);
        _exit(0);
    }
    /* Two rolling reloads while wrk runs: at 1/3 and 2/3 of its time. */
    for (int i = 0; i < 2; i++) {
        struct timespec ts = {duration, 0};
        nanosleep(&ts, NULL);
        kill(s.pid, SIGHUP);
    }
    waitpid(wrk, NULL, 0);
    server_stop(&s);
}

/* The table's ratios are to the raw bound; the targets also compare with Node's cluster:
 * the same pairing (per round), against variant `base`. */
static void print_pairs(const bench_t *b, int base, const char *base_name)
{
    printf("\nPaired per round against `%s`:\n\n| variant | ratio (median, min - max) |\n"
           "|---|---:|\n",
           base_name);
    for (int i = 0; i < b->variant_count; i++) {
        double r[BENCH_MAX_ROUNDS], med, min, max;
        int n = 0;
        if (i == base || !b->v[i].enabled || !b->v[base].enabled)
            continue;
        for (int k = 0; k < b->args.rounds; k++)
            if (!isnan(b->v[i].m[0][k]) && !isnan(b->v[base].m[0][k]) && b->v[base].m[0][k] > 0)
                r[n++] = b->v[i].m[0][k] / b->v[base].m[0][k];
        if (bench_stats(r, n, &med, &min, &max) > 0)
            printf("| %s | %.2fx (%.2f - %.2f) |\n", b->v[i].name, med, min, max);
    }
}

int main(int argc, char **argv)
{
    bench_args_t a = {.rounds = 3};
    char port[5][16], raw[1024], cs[1024];
    const char *node = NULL;
    if (bench_parse_args(&argc, argv, &a, usage) != 0)
        return 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-d") == 0 && i + 1 < argc)
            duration = atoi(argv[++i]);
        else if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            conns = atoi(argv[++i]);
        else if (strcmp(argv[i], "--kills") == 0 && i + 1 < argc)
            kills = atoi(argv[++i]);
        else if (strcmp(argv[i], "--no-reload") == 0)
            do_reload = 0;
        else {
            usage(stderr);
            return 2;
        }
    }
    if (kills < 1 || kills > 256 || duration < 1)
        return 2;
    snprintf(raw, sizeof raw, "%s", RAW_HTTP_SERVER);
    snprintf(cs, sizeof cs, "%s", CLUSTER_SERVER);
    snprintf(node_hello, sizeof node_hello, "%s/cluster_hello.js", BENCH_NODE_DIR);
    node = bench_node();
    bench_print_header(stdout, argc, argv);

    /* Throughput: every server starts once, then the rounds interleave wrk runs. */
    server_t sv[6] = {{.name = "raw_reuseport"}, {.name = "uvproc_shared"},
                      {.name = "uvproc_rr"},     {.name = "uvproc_node_rr"},
                      {.name = "node_cluster"},  {.name = "node_single"}};
    for (int i = 0; i < 5; i++)
        snprintf(port[i], sizeof port[i], "%d", free_port());
    char *raw_argv[] = {raw, "-w", "2", "-p", port[0], NULL};
    char *shared_argv[] = {cs, "-w", "2", "-p", port[1], "--policy", "shared", NULL};
    char *rr_argv[] = {cs, "-w", "2", "-p", port[2], "--policy", "rr", NULL};
    char *uvnode_argv[] = {cs, "-w", "2", "--node-worker", node_hello, NULL};
    char *node_argv[] = {(char *)(node != NULL ? node : "node"), node_hello, NULL};
    char env_uvnode[48], env_cluster[48], env_single[48];
    snprintf(env_uvnode, sizeof env_uvnode, "CLUSTER_TEST_PORT=%s", port[3]);
    snprintf(env_cluster, sizeof env_cluster, "CLUSTER_TEST_PORT=%s", port[4]);
    snprintf(env_single, sizeof env_single, "CLUSTER_TEST_PORT=%d", free_port());
    const char *e_uvnode[] = {env_uvnode, NULL};
    const char *e_cluster[] = {env_cluster, "WORKERS=2", NULL};
    const char *e_single[] = {env_single, "WORKERS=0", NULL};
    server_start(&sv[0], raw_argv, NULL);
    server_start(&sv[1], shared_argv, NULL);
    server_start(&sv[2], rr_argv, NULL);
    if (node != NULL) {
        server_start(&sv[3], uvnode_argv, e_uvnode);
        server_start(&sv[4], node_argv, e_cluster);
        server_start(&sv[5], node_argv, e_single);
    }
    bench_t b;
    char title[160];
    snprintf(title, sizeof title,
             "HTTP hello world, 2 workers, wrk -t1 -c%d -d%ds over 127.0.0.1 (req/s)", conns,
             duration);
    bench_init(&b, title, &a);
    bench_metric(&b, "req/s", BENCH_HIGHER);
    bench_metric(&b, "p99 ms", BENCH_LOWER);
    bench_metric(&b, "failed", BENCH_LOWER);
    bench_variant(&b, "raw_reuseport", "raw libuv, 2 processes, SO_REUSEPORT (the bound)", run_wrk,
                  &sv[0]);
    bench_variant(&b, "uvproc_shared", "cluster-server, C workers, shared handle", run_wrk, &sv[1]);
    bench_variant(&b, "uvproc_rr", "cluster-server, C workers, round-robin", run_wrk, &sv[2]);
    bench_variant(&b, "uvproc_node_rr", "cluster-server hosting Node workers, round-robin", run_wrk,
                  &sv[3]);
    bench_variant(&b, "node_cluster", "Node's cluster primary, 2 Node workers (RR)", run_wrk,
                  &sv[4]);
    bench_variant(&b, "node_single", "one Node process", run_wrk, &sv[5]);
    if (node == NULL)
        for (int i = 3; i < 6; i++)
            bench_disable(&b, sv[i].name, "node not found");
    bench_baseline(&b, "raw_reuseport");
    bench_run(&b);
    bench_print(&b, stdout);
    print_pairs(&b, 4, "node_cluster");
    for (int i = 0; i < 6; i++)
        server_stop(&sv[i]);

    /* Restart latency. */
    static const char *const c_args[] = {"-p", "0", NULL};
    static const char *const node_env[] = {"CLUSTER_TEST_PORT=0", NULL};
    restart_cfg_t c_cfg = {cs, NULL, c_args, NULL};
    restart_cfg_t n_cfg = {node_hello, node, NULL, node_env};
    bench_t r;
    snprintf(title, sizeof title,
             "Worker replacement: SIGKILL -> replacement listening, median of %d kills (ms)",
             kills);
    bench_init(&r, title, &a);
    bench_metric(&r, "ms", BENCH_LOWER);
    bench_variant(&r, "node_cluster", "Node's cluster, fork() in the exit handler",
                  run_node_restart, NULL);
    bench_variant(&r, "uvproc_c", "uvproc primary, C worker (cluster-server)", run_restart, &c_cfg);
    bench_variant(&r, "uvproc_node", "uvproc primary, Node worker", run_restart, &n_cfg);
    if (node == NULL) {
        bench_disable(&r, "node_cluster", "node not found");
        bench_disable(&r, "uvproc_node", "node not found");
    }
    bench_baseline(&r, "node_cluster");
    bench_run(&r);
    bench_print(&r, stdout);

    if (do_reload) {
        printf("\n### Reload under load: wrk -t1 -c20 -d%ds, two SIGHUP rolling reloads\n\n"
               "| server | requests | failed | req/s |\n|---|---|---|---|\n",
               3 * duration);
        fflush(stdout);
        char p2[16];
        snprintf(p2, sizeof p2, "%d", free_port());
        char *rr2[] = {cs, "-w", "2", "-p", p2, "--policy", "rr", NULL};
        char *sh2[] = {cs, "-w", "2", "-p", p2, "--policy", "shared", NULL};
        char *nd2[] = {cs, "-w", "2", "--node-worker", node_hello, NULL};
        char env2[48];
        snprintf(env2, sizeof env2, "CLUSTER_TEST_PORT=%s", p2);
        const char *e2[] = {env2, NULL};
        printf("| uvproc_rr (C workers) | ");
        fflush(stdout);
        reload_row("uvproc_rr", rr2, NULL);
        printf("| uvproc_shared (C workers) | ");
        fflush(stdout);
        reload_row("uvproc_shared", sh2, NULL);
        if (node != NULL) {
            printf("| uvproc_node_rr (Node workers) | ");
            fflush(stdout);
            reload_row("uvproc_node_rr", nd2, e2);
            char *nc2[] = {(char *)node, node_hello, NULL};
            const char *e3[] = {env2, "WORKERS=2", NULL};
            printf("| node_cluster (Node's primary, hand-written rolling reload) | ");
            fflush(stdout);
            reload_row("node_cluster", nc2, e3);
        }
    }
    return 0;
}
