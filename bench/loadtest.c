/* bench/loadtest: how many requests/s the load tester generates, against the raw C hello
 * server (bench/raw_http_server, a plain libuv loop: the server is not the limit), with the
 * same connection count, next to the generators people use today: wrk (threads, C), hey (Go),
 * autocannon (Node, npm, pinned in bench/node/package.json) and the seed's naive Node tester
 * (bench/node/naive_loadtest.js: fork N children doing http.get loops). Every variant is a
 * fresh process run for -n seconds, interleaved round by round (bench.h); the baseline is wrk.
 *
 * The live line's cost: loadtest_p1_live is loadtest_p1 with the live line forced (--live,
 * stderr to /dev/null): same work plus 4 redraws a second. The report's: loadtest_p1_report
 * writes --report and --hgrm at the end.
 *
 * --tls: the same over HTTPS, against bench/tls_hello_server (raw_http_server's counterpart:
 * one libuv loop, OpenSSL, keep-alive; a certificate made with the openssl command for the
 * run); every tool told not to verify it. The naive Node tester speaks HTTP only and is left
 * out.
 *
 *   bench/loadtest [-n SECONDS=3] [-r 3] [-c CONNECTIONS=50] [-w SERVER_PROCESSES=1] [--tls]
 *                  [--only ...]
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif
#ifndef LOADTEST_BIN
#define LOADTEST_BIN "tools/uvproc-loadtest"
#endif
#ifndef RAW_HTTP_SERVER_BIN
#define RAW_HTTP_SERVER_BIN "bench/raw_http_server"
#endif
#ifndef TLS_HELLO_SERVER_BIN
#define TLS_HELLO_SERVER_BIN "bench/tls_hello_server"
#endif

/* Each generator is one shell command: the tool, then a filter that turns what it prints into
 * the "rps=N p99=MS" tokens bench_subprocess() reads. {url} {c} {c2} (half of c) {d} {bin}
 * (loadtest) {ac} (autocannon) {naive} (the naive tester) are substituted, quoted. */
typedef struct {
    const char *name, *desc, *cmd;
    int keys; /* what its filter prints: rps; rps p99; rps p99 non2xx pcpu */
} gen_t;

/* wrk prints "Requests/sec: N" and, with --latency, "99%  1.23ms" (us, ms or s). */
#define WRK_FILTER                                                                                 \
    " | awk '/Requests\\/sec/ {print \"rps=\" $2} / 99%/ {v = $2; m = 1;"                          \
    " if (v ~ /us$/) m = 0.001; else if (v ~ /ms$/) m = 1; else if (v ~ /s$/) m = 1000;"           \
    " sub(/[a-z]+$/, \"\", v); print \"p99=\" v * m}'"
/* loadtest --json: the first "rps", "p99" and "non2xx" (the totals'; the per-interval series
 * repeats the keys), and from "cpu_s"
 * {"children": N, "parent": N} the parent's share of the CPU time, in percent. */
#define LOADTEST_FILTER                                                                            \
    " | awk -F'[:,] *' '/\"rps\"/ && !r {print \"rps=\" $2; r = 1}"                                \
    " /\"p99\"/ && !p {print \"p99=\" $2; p = 1}"                                                  \
    " /\"non2xx\"/ && !n {print \"non2xx=\" $2; n = 1} /\"cpu_s\"/ {c = 1}"                        \
    " c && /\"children\"/ {cc = $2}"                                                               \
    " c && /\"parent\"/ {pc = $2} END {if (cc + pc > 0) print \"pcpu=\" 100 * pc / (cc + pc)}'"
#define AUTOCANNON_FILTER                                                                          \
    " | node -e 'let s = \"\"; process.stdin.on(\"data\", (d) => s += d).on(\"end\", () => {"      \
    " const j = JSON.parse(s); console.log(\"rps=\" + j.requests.total / j.duration +"             \
    " \" p99=\" + j.latency.p99); })'"

static const gen_t gens[] = {
    {"wrk", "wrk -t1 (one thread)", "wrk -t1 -c{c} -d{d}s --latency {url}" WRK_FILTER, 2},
    {"loadtest_p1", "**uvproc-loadtest -p 1** (one load process)",
     "{bin} --json --no-live -k -p 1 -c {c} -d {d}s {url}" LOADTEST_FILTER, 4},
    {"loadtest_p1_live", "uvproc-loadtest -p 1 with the live line forced on (--live)",
     "{bin} --json --live -k -p 1 -c {c} -d {d}s {url} 2>/dev/null" LOADTEST_FILTER, 4},
    {"loadtest_p1_report", "uvproc-loadtest -p 1 writing --report and --hgrm",
     "{bin} --json --no-live -k -p 1 -c {c} -d {d}s --report {tmp}/r.html --hgrm {tmp}/r.hgrm"
     " {url}" LOADTEST_FILTER,
     4},
    {"wrk_t2", "wrk -t2 (two threads)", "wrk -t2 -c{c} -d{d}s --latency {url}" WRK_FILTER, 2},
    {"loadtest_p2", "**uvproc-loadtest -p 2** (two load processes)",
     "{bin} --json --no-live -k -p 2 -c {c} -d {d}s {url}" LOADTEST_FILTER, 4},
    {"hey", "hey (Go, Debian package; does not verify certificates)",
     "hey -z {d}s -c {c} {url} | awk '/Requests\\/sec/ {print \"rps=\" $2}"
     " / 99% in/ {print \"p99=\" $3 * 1000}'",
     2},
    {"autocannon", "autocannon 9.0.0 (Node, npm)",
     "NODE_TLS_REJECT_UNAUTHORIZED=0 {ac} -c {c} -d {d} -j {url} 2>/dev/null" AUTOCANNON_FILTER, 2},
    {"naive_node2", "naive Node tester: fork 2 children, http.get loops",
     "node {naive} {url} 2 {c} {d}", 1},
    {"naive_node8", "naive Node tester: fork 8 children, http.get loops",
     "node {naive} {url} 8 {c} {d}", 1},
};
#define GEN_COUNT (sizeof gens / sizeof gens[0])

static char url[128], conns[16], half[16], secs[16], tmpdir[64];
static const char *autocannon_bin = BENCH_NODE_DIR "/node_modules/.bin/autocannon";

/* gen->cmd with its {names} replaced by their values, single-quoted. */
static int expand(const char *tmpl, char *out, size_t size)
{
    const char *subst[][2] = {
        {"{url}", url},          {"{c}", conns},
        {"{c2}", half},          {"{d}", secs},
        {"{bin}", LOADTEST_BIN}, {"{ac}", autocannon_bin},
        {"{tmp}", tmpdir},       {"{naive}", BENCH_NODE_DIR "/naive_loadtest.js"}};
    size_t len = 0;
    while (*tmpl != '\0') {
        size_t k = 0, n = sizeof subst / sizeof subst[0];
        while (k < n && strncmp(tmpl, subst[k][0], strlen(subst[k][0])) != 0)
            k++;
        int w = k < n ? snprintf(out + len, size - len, "'%s'", subst[k][1])
                      : snprintf(out + len, size - len, "%c", *tmpl);
        if (w < 0 || (size_t)w >= size - len)
            return -1;
        len += (size_t)w;
        tmpl += k < n ? strlen(subst[k][0]) : 1;
    }
    return 0;
}

static double cpu_seconds(const struct rusage *r)
{
    return (double)(r->ru_utime.tv_sec + r->ru_stime.tv_sec) +
           (double)(r->ru_utime.tv_usec + r->ru_stime.tv_usec) / 1e6;
}

static int run_gen(void *arg, double *m)
{
    const gen_t *g = arg;
    char cmd[2048];
    char *argv[] = {"sh", "-c", cmd, NULL};
    const char *keys[] = {"rps", "p99", "non2xx", "pcpu"};
    double v[4] = {NAN, NAN, NAN, NAN};
    struct rusage before, after;
    if (expand(g->cmd, cmd, sizeof cmd) != 0)
        return -1;
    getrusage(RUSAGE_CHILDREN, &before);
    if (bench_subprocess(argv, keys, v, g->keys) != 0)
        return -1;
    getrusage(RUSAGE_CHILDREN, &after);
    if (!(v[0] > 0) || (g->keys >= 3 && v[2] != 0)) /* loadtest's answers must all be 2xx */
        return -1;
    m[0] = v[0];
    m[1] = v[1];
    /* Requests per CPU second of the generator (all its processes, the shell and the filter
     * included): what it costs, whatever else the machine is doing. */
    m[2] = v[0] * atof(secs) / (cpu_seconds(&after) - cpu_seconds(&before));
    m[3] = v[3]; /* loadtest only: the parent's part, where the live line is drawn */
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "  -n SECONDS   each generator's run (default 3)\n"
                 "  -c N         connections, every generator (default 50)\n"
                 "  -w N         server processes (default 1)\n"
                 "  --tls        HTTPS, against bench/tls_hello_server (one process)\n");
}

static int have(const char *prog)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 3, .rounds = 3};
    int c = 50, w = 1, tls = 0;
    char title[200], wbuf[16];
    bench_t b;
    int r = bench_parse_args(&argc, argv, &a, usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
            c = atoi(argv[++i]);
        else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc)
            w = atoi(argv[++i]);
        else if (strcmp(argv[i], "--tls") == 0)
            tls = 1;
        else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (c < 2 || w < 1)
        return 2;
    snprintf(conns, sizeof conns, "%d", c);
    snprintf(half, sizeof half, "%d", c / 2);
    snprintf(secs, sizeof secs, "%ld", a.n);

    snprintf(tmpdir, sizeof tmpdir, "/tmp/bench-loadtest-XXXXXX");
    if (mkdtemp(tmpdir) == NULL)
        return 1;
    char cert[128], key[128], mk[512];
    snprintf(cert, sizeof cert, "%s/cert.pem", tmpdir);
    snprintf(key, sizeof key, "%s/key.pem", tmpdir);
    if (tls) {
        snprintf(mk, sizeof mk,
                 "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s -out %s -days 1 "
                 "-subj /CN=localhost >/dev/null 2>&1",
                 key, cert);
        if (system(mk) != 0 || access(TLS_HELLO_SERVER_BIN, X_OK) != 0) {
            fprintf(stderr, "--tls needs the openssl command and %s (OpenSSL at build time)\n",
                    TLS_HELLO_SERVER_BIN);
            return 1;
        }
        w = 1;
    }

    /* The server: started once, warm for every round. */
    int fds[2];
    pid_t server;
    posix_spawn_file_actions_t fa;
    snprintf(wbuf, sizeof wbuf, "%d", w);
    char *hargv[] = {RAW_HTTP_SERVER_BIN, "-p", "0", "-w", wbuf, NULL};
    char *targv[] = {TLS_HELLO_SERVER_BIN, cert, key, NULL};
    char **sargv = tls ? targv : hargv;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    /* The server in a session of its own: with the kernel's autogroup scheduling a session is
     * one group for CPU shares, so the server does not share the generators' share (what
     * bench/cluster found for its servers). */
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID);
    int spawned = posix_spawnp(&server, sargv[0], &fa, &attr, sargv, environ);
    posix_spawnattr_destroy(&attr);
    if (spawned != 0) {
        fprintf(stderr, "cannot start %s\n", sargv[0]);
        return 1;
    }
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    char line[256] = {0};
    size_t got = 0;
    while (got < sizeof line - 1 && strchr(line, '\n') == NULL) {
        ssize_t n = read(fds[0], line + got, sizeof line - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    char *at = strstr(line, tls ? "https://" : "http://");
    if (at == NULL) {
        fprintf(stderr, "raw_http_server said: %s\n", line);
        kill(server, SIGTERM);
        waitpid(server, NULL, 0);
        return 1;
    }
    at[strcspn(at, "\r\n")] = '\0';
    snprintf(url, sizeof url, "%s", at);

    bench_print_header(stdout, cmd_argc, cmd);
    snprintf(title, sizeof title,
             "%s load generated against %s (%d process%s), %d connections, %ld s per run",
             tls ? "HTTPS" : "HTTP", tls ? "tls_hello_server" : "raw_http_server", w,
             w > 1 ? "es" : "", c, a.n);
    bench_init(&b, title, &a);
    bench_metric(&b, "req/s", BENCH_HIGHER);
    bench_metric(&b, "p99 ms", BENCH_LOWER);
    bench_metric(&b, "req/CPU-s", BENCH_HIGHER);
    bench_metric(&b, "parent CPU %", BENCH_LOWER);
    for (size_t i = 0; i < GEN_COUNT; i++)
        bench_variant(&b, gens[i].name, gens[i].desc, run_gen, (void *)&gens[i]);
    bench_baseline(&b, "wrk");
    if (!have("hey"))
        bench_disable(&b, "hey", "hey not installed (apt-get install hey)");
    if (access(autocannon_bin, X_OK) != 0)
        bench_disable(&b, "autocannon", "run npm install in bench/node");
    if (bench_node() == NULL || tls) {
        bench_disable(&b, "naive_node2", tls ? "HTTP only" : "node not found");
        bench_disable(&b, "naive_node8", tls ? "HTTP only" : "node not found");
    }
    bench_run(&b);
    bench_print(&b, stdout);
    /* The same rounds again with uvproc-loadtest as the baseline: the targets are its ratios
     * to each tool (>= 1.0x wrk on HTTP, >= 0.9x on HTTPS, >= 3x autocannon), and the live
     * line's and the report's cost are loadtest_p1_live and loadtest_p1_report against
     * loadtest_p1, all paired per round. */
    bench_baseline(&b, "loadtest_p1");
    bench_print(&b, stdout);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    close(fds[0]);
    snprintf(mk, sizeof mk, "rm -rf '%s'", tmpdir);
    if (system(mk) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
