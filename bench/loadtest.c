/* bench/loadtest: how many requests/s the load tester generates, against the raw C hello
 * server (bench/raw_http_server, a plain libuv loop: the server is not the limit), with the
 * same connection count, next to the generators people use today: wrk (threads, C), hey (Go),
 * autocannon (Node, npm, pinned in bench/node/package.json) and the seed's naive Node tester
 * (bench/node/naive_loadtest.js: fork N children doing http.get loops). Every variant is a
 * fresh process run for -n seconds, interleaved round by round (bench.h); the baseline is wrk.
 *
 * The live line's cost: loadtest_c1_live is loadtest_c1 with the live line forced (--live,
 * stderr to /dev/null): same work plus 4 redraws a second.
 *
 *   bench/loadtest [-n SECONDS=3] [-r 3] [-c CONNECTIONS=50] [-w SERVER_PROCESSES=1]
 *                  [--only ...]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif
#ifndef LOADTEST_BIN
#define LOADTEST_BIN "demos/loadtest"
#endif
#ifndef RAW_HTTP_SERVER_BIN
#define RAW_HTTP_SERVER_BIN "bench/raw_http_server"
#endif

typedef enum { OUT_LOADTEST, OUT_REQS_PER_SEC, OUT_AUTOCANNON, OUT_TOKENS } out_kind_t;

typedef struct {
    const char *name, *desc;
    out_kind_t kind;
    const char *argv[16]; /* {url} {c} {d} {c2} are filled in */
} gen_t;

static char url[128], conns[16], half[16], secs[16];
static const char *autocannon_bin = BENCH_NODE_DIR "/node_modules/.bin/autocannon";

static const gen_t gens[] = {
    {"wrk", "wrk -t1 (one thread)", OUT_REQS_PER_SEC,
     {"wrk", "-t1", "-c{c}", "-d{d}s", "{url}"}},
    {"loadtest_c1", "**loadtest -c 1** (one load child)", OUT_LOADTEST,
     {LOADTEST_BIN, "--json", "--no-live", "-c", "1", "-k", "{c}", "-d", "{d}", "{url}"}},
    {"loadtest_c1_live", "loadtest -c 1 with the live line forced on (--live)", OUT_LOADTEST,
     {LOADTEST_BIN, "--json", "--live", "-c", "1", "-k", "{c}", "-d", "{d}", "{url}"}},
    {"wrk_t2", "wrk -t2 (two threads)", OUT_REQS_PER_SEC,
     {"wrk", "-t2", "-c{c}", "-d{d}s", "{url}"}},
    {"loadtest_c2", "**loadtest -c 2** (two load children)", OUT_LOADTEST,
     {LOADTEST_BIN, "--json", "--no-live", "-c", "2", "-k", "{c2}", "-d", "{d}", "{url}"}},
    {"hey", "hey (Go, Debian package)", OUT_REQS_PER_SEC,
     {"hey", "-z", "{d}s", "-c", "{c}", "{url}"}},
    {"autocannon", "autocannon 9.0.0 (Node, npm)", OUT_AUTOCANNON,
     {"{autocannon}", "-c", "{c}", "-d", "{d}", "-j", "{url}"}},
    {"naive_node2", "naive Node tester: fork 2 children, http.get loops", OUT_TOKENS,
     {"node", BENCH_NODE_DIR "/naive_loadtest.js", "{url}", "2", "{c}", "{d}"}},
    {"naive_node8", "naive Node tester: fork 8 children, http.get loops", OUT_TOKENS,
     {"node", BENCH_NODE_DIR "/naive_loadtest.js", "{url}", "8", "{c}", "{d}"}},
};
#define GEN_COUNT (sizeof gens / sizeof gens[0])

/* Runs argv with stdout captured (stderr to /dev/null: live lines and progress bars are not
 * ours to print) and returns what it printed (malloc()ed), or NULL if it failed. */
static char *capture(char *const argv[])
{
    posix_spawn_file_actions_t fa;
    int fds[2], status;
    pid_t pid;
    char *text = NULL;
    size_t len = 0, cap = 0;
    if (pipe2(fds, O_CLOEXEC) != 0)
        return NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    int err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    if (err != 0) {
        close(fds[0]);
        return NULL;
    }
    for (;;) {
        if (len + 4096 > cap) {
            char *t = realloc(text, cap = cap * 2 + 65536);
            if (t == NULL)
                break;
            text = t;
        }
        ssize_t n = read(fds[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (text != NULL)
        text[len] = '\0';
    if (text == NULL || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "%s failed (status %d): %.300s\n", argv[0], status, text ? text : "");
        free(text);
        return NULL;
    }
    return text;
}

/* The number after `key` in text, or NAN. */
static double number_after(const char *text, const char *key)
{
    const char *at = strstr(text, key);
    char *end;
    if (at == NULL)
        return NAN;
    at += strlen(key);
    while (*at == ' ' || *at == '"' || *at == ':' || *at == '=')
        at++;
    double x = strtod(at, &end);
    return end == at ? NAN : x;
}

static int run_gen(void *arg, double *m)
{
    const gen_t *g = arg;
    char *argv[16] = {0};
    for (int i = 0; g->argv[i] != NULL; i++) {
        const char *a = g->argv[i];
        static char bufs[16][256];
        const char *subst[][2] = {{"{url}", url}, {"{c}", conns}, {"{c2}", half},
                                  {"{d}", secs},  {"{autocannon}", autocannon_bin}};
        snprintf(bufs[i], sizeof bufs[i], "%s", a);
        for (size_t k = 0; k < sizeof subst / sizeof subst[0]; k++) {
            char *at = strstr(bufs[i], subst[k][0]);
            if (at != NULL) {
                char rest[256];
                snprintf(rest, sizeof rest, "%s", at + strlen(subst[k][0]));
                snprintf(at, sizeof bufs[i] - (size_t)(at - bufs[i]), "%s%s", subst[k][1], rest);
            }
        }
        argv[i] = bufs[i];
    }
    char *out = capture(argv);
    if (out == NULL)
        return -1;
    switch (g->kind) {
    case OUT_LOADTEST:
        m[0] = number_after(out, "\"rps\"");
        m[1] = number_after(out, "\"p99\"");
        if (number_after(out, "\"non2xx\"") != 0)
            m[0] = NAN;
        break;
    case OUT_REQS_PER_SEC: /* wrk and hey both print "Requests/sec:" */
        m[0] = number_after(out, "Requests/sec:");
        m[1] = NAN;
        break;
    case OUT_AUTOCANNON: {
        const char *req = strstr(out, "\"requests\""), *lat = strstr(out, "\"latency\"");
        m[0] = number_after(req != NULL ? req : out, "\"total\"") /
               number_after(out, "\"duration\"");
        m[1] = number_after(lat != NULL ? lat : out, "\"p99\"");
        break;
    }
    case OUT_TOKENS:
        m[0] = number_after(out, "rps=");
        m[1] = NAN;
        break;
    }
    free(out);
    return m[0] > 0 ? 0 : -1;
}

static void usage(FILE *out)
{
    fprintf(out, "  -n SECONDS   each generator's run (default 3)\n"
                 "  -c N         connections, every generator (default 50)\n"
                 "  -w N         raw_http_server processes (default 1)\n");
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
    int c = 50, w = 1;
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

    /* The server: started once, warm for every round. */
    int fds[2];
    pid_t server;
    posix_spawn_file_actions_t fa;
    snprintf(wbuf, sizeof wbuf, "%d", w);
    char *sargv[] = {RAW_HTTP_SERVER_BIN, "-p", "0", "-w", wbuf, NULL};
    if (pipe2(fds, O_CLOEXEC) != 0)
        return 1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    if (posix_spawn(&server, sargv[0], &fa, NULL, sargv, environ) != 0) {
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
    char *at = strstr(line, "http://");
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
             "HTTP load generated against raw_http_server (%d process%s), %d connections, %ld s "
             "per run",
             w, w > 1 ? "es" : "", c, a.n);
    bench_init(&b, title, &a);
    bench_metric(&b, "req/s", BENCH_HIGHER);
    bench_metric(&b, "p99 ms", BENCH_LOWER);
    for (size_t i = 0; i < GEN_COUNT; i++)
        bench_variant(&b, gens[i].name, gens[i].desc, run_gen, (void *)&gens[i]);
    bench_baseline(&b, "wrk");
    if (!have("hey"))
        bench_disable(&b, "hey", "hey not installed (apt-get install hey)");
    if (access(autocannon_bin, X_OK) != 0)
        bench_disable(&b, "autocannon", "run npm install in bench/node");
    if (bench_node() == NULL) {
        bench_disable(&b, "naive_node2", "node not found");
        bench_disable(&b, "naive_node8", "node not found");
    }
    bench_run(&b);
    bench_print(&b, stdout);
    /* The same rounds again with loadtest as the baseline: the targets are loadtest's ratios
     * to each tool (>= 0.9x wrk, >= 3x autocannon, >= 7x the naive tester), and the live
     * line's cost is loadtest_c1_live against loadtest_c1, all paired per round. */
    bench_baseline(&b, "loadtest_c1");
    bench_print(&b, stdout);
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    close(fds[0]);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
