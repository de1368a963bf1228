/* bench.h: the harness every uvproc benchmark uses (header-only; include it from the one .c
 * file of a benchmark). It exists so that all benchmarks measure the same way, the way
 * /work/shared/research/baselines.md did:
 *
 * - A benchmark is a set of named VARIANTS doing the same work: through uvproc, through Node,
 *   through raw libuv, through the raw syscalls that bound it. All run in ONE process run.
 * - bench_run() runs them INTERLEAVED, round by round (A B C, then B C A, C A B, ...: the
 *   order rotates so that no variant always follows the same one), for R rounds. Drift of a
 *   shared, noisy machine then hits every variant alike instead of whichever ran last.
 * - Each call of a variant does the whole timed loop once and returns its metrics for that
 *   round (a rate, a time per operation, ...). Set-up outside the timed loop is not counted.
 * - bench_print() prints a markdown table, ready for bench/README.md: per variant the median
 *   of the primary metric and its min - max over the rounds, the RATIO to the baseline variant
 *   taken pair by pair (same round: both ran within seconds of each other), then the median
 *   and min - max of those ratios, and the median of every other metric.
 *
 *   static int run_raw(void *arg, double *m)      // one round; 0 = ok, else failed
 *   {
 *       double t0 = bench_now();
 *       ... the timed loop, n times ...
 *       double secs = bench_now() - t0;
 *       m[0] = n / secs;          // metric 0: the primary one, ratios are taken on it
 *       m[1] = secs * 1e6 / n;    // metric 1, ...
 *       return 0;
 *   }
 *
 *   int main(int argc, char **argv)
 *   {
 *       bench_args_t a = {.n = 2000};              // defaults of this benchmark
 *       if (bench_parse_args(&argc, argv, &a, usage) != 0) return 2;  // common options
 *       ... argv now holds only this benchmark's own options ...
 *       bench_t b;
 *       bench_init(&b, "Spawn rate, /bin/true x2000, sequential", &a);
 *       bench_metric(&b, "spawns/s", BENCH_HIGHER);
 *       bench_metric(&b, "us/spawn", BENCH_LOWER);
 *       bench_variant(&b, "posix_spawn", "posix_spawn + waitpid", run_raw, &cfg);
 *       bench_variant(&b, "node", "child_process.spawn", run_node, &cfg);
 *       bench_baseline(&b, "posix_spawn");
 *       bench_print_header(stdout, argc0, argv0); // once: command line and machine
 *       bench_run(&b);
 *       bench_print(&b, stdout);
 *   }
 *
 * A Node variant runs a script as a subprocess that times its own loop (Node's start-up stays
 * outside, as for the C variants) and prints "key=number" tokens on stdout; bench_subprocess()
 * runs it and picks the numbers out (see bench/node/spawn.js). The same serves a variant that
 * must run in a fresh process of its own (e.g. under another UVPROC_LAUNCHER, which the
 * library reads once per process): the benchmark re-runs itself with an option that runs one
 * variant once and prints its numbers (bench/spawn.c's --run-variant), through
 * bench_subprocess_env().
 *
 * Common options (bench_parse_args): -n N (work per round), -r R (rounds, default 5),
 * --only a,b (run only these variants; the baseline is always kept), --warmup W (untimed
 * rounds first), --no-rotate (plain A B C A B C order), -q (no per-round progress on stderr).
 */
#ifndef UVPROC_BENCH_H
#define UVPROC_BENCH_H

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAX_VARIANTS 24
#define BENCH_MAX_METRICS 4
#define BENCH_MAX_ROUNDS 64

enum { BENCH_HIGHER = 1, BENCH_LOWER = 0 };

/* One round of one variant: fills m[0 .. metric count - 1]; returns 0, or non-zero when the
 * round failed (it is then left out of the statistics and shown as missing). */
typedef int (*bench_fn)(void *arg, double *m);

typedef struct {
    long n;           /* work per round (spawns, calls, messages): -n; 0 = benchmark default */
    int rounds;       /* -r; 0 = 5 */
    int warmup;       /* --warmup: untimed rounds of every variant before the measured ones */
    int no_rotate;    /* --no-rotate */
    int quiet;        /* -q */
    const char *only; /* --only: comma-separated variant names, or NULL for all */
} bench_args_t;

typedef struct {
    const char *name;
    const char *desc;
    bench_fn fn;
    void *arg;
    int enabled;
    double m[BENCH_MAX_METRICS][BENCH_MAX_ROUNDS]; /* NAN: the round failed */
} bench_variant_t;

typedef struct {
    const char *title;
    bench_args_t args;
    int metric_count;
    const char *metric_names[BENCH_MAX_METRICS];
    int metric_higher[BENCH_MAX_METRICS];
    int variant_count;
    int baseline; /* index, or -1: no ratio column */
    bench_variant_t v[BENCH_MAX_VARIANTS];
} bench_t;

/* Monotonic time in seconds (the clock uv_hrtime reads). */
static inline double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* --- set-up --------------------------------------------------------------------------- */

static inline void bench_init(bench_t *b, const char *title, const bench_args_t *args)
{
    memset(b, 0, sizeof *b);
    b->title = title;
    b->args = *args;
    if (b->args.rounds <= 0)
        b->args.rounds = 5;
    if (b->args.rounds > BENCH_MAX_ROUNDS)
        b->args.rounds = BENCH_MAX_ROUNDS;
    b->baseline = -1;
}

/* Declares the next metric; the first one is the primary (ratios, min - max). */
static inline void bench_metric(bench_t *b, const char *name, int higher_is_better)
{
    if (b->metric_count < BENCH_MAX_METRICS) {
        b->metric_names[b->metric_count] = name;
        b->metric_higher[b->metric_count] = higher_is_better;
        b->metric_count++;
    }
}

static inline int bench_listed(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *at = list; at != NULL && *at != '\0';) {
        const char *end = strchr(at, ',');
        size_t l = end != NULL ? (size_t)(end - at) : strlen(at);
        if (l == len && strncmp(at, name, len) == 0)
            return 1;
        at = end != NULL ? end + 1 : NULL;
    }
    return 0;
}

/* Adds a variant (in table order). `desc` says what it runs, for the table's legend. Returns
 * its index. Variants not named by --only are registered but not run. */
static inline int bench_variant(bench_t *b, const char *name, const char *desc, bench_fn fn,
                                void *arg)
{
    bench_variant_t *v;
    if (b->variant_count >= BENCH_MAX_VARIANTS)
        return -1;
    v = &b->v[b->variant_count];
    v->name = name;
    v->desc = desc;
    v->fn = fn;
    v->arg = arg;
    v->enabled = b->args.only == NULL || bench_listed(b->args.only, name);
    for (int k = 0; k < BENCH_MAX_METRICS; k++)
        for (int r = 0; r < BENCH_MAX_ROUNDS; r++)
            v->m[k][r] = NAN;
    return b->variant_count++;
}

/* Ratios are taken against this variant, which always runs. */
static inline void bench_baseline(bench_t *b, const char *name)
{
    for (int i = 0; i < b->variant_count; i++) {
        if (strcmp(b->v[i].name, name) == 0) {
            b->baseline = i;
            b->v[i].enabled = 1;
        }
    }
}

/* Leaves a variant out (e.g. Node not installed), with the reason on stderr. */
static inline void bench_disable(bench_t *b, const char *name, const char *why)
{
    for (int i = 0; i < b->variant_count; i++) {
        if (strcmp(b->v[i].name, name) == 0 && b->v[i].enabled) {
            b->v[i].enabled = 0;
            fprintf(stderr, "bench: skipping %s: %s\n", name, why);
        }
    }
}

/* --- running -------------------------------------------------------------------------- */

static inline void bench_fmt(double x, char *buf, size_t size)
{
    double a = fabs(x);
    if (isnan(x))
        snprintf(buf, size, "-");
    else if (a >= 1e5)
        snprintf(buf, size, "%.0fk", x / 1e3);
    else if (a >= 100)
        snprintf(buf, size, "%.0f", x);
    else if (a >= 10)
        snprintf(buf, size, "%.1f", x);
    else
        snprintf(buf, size, "%.2f", x);
}

static inline void bench_run_one(bench_t *b, int i, int round, int counted)
{
    bench_variant_t *v = &b->v[i];
    double m[BENCH_MAX_METRICS];
    int err;
    for (int k = 0; k < BENCH_MAX_METRICS; k++)
        m[k] = NAN;
    err = v->fn(v->arg, m);
    if (!b->args.quiet) {
        char buf[32];
        bench_fmt(m[0], buf, sizeof buf);
        fprintf(stderr, "  %s %d/%d %-20s %s %s%s\n", counted ? "round" : "warmup", round + 1,
                counted ? b->args.rounds : b->args.warmup, v->name, buf, b->metric_names[0],
                err != 0 ? " (FAILED)" : "");
    }
    if (!counted)
        return;
    for (int k = 0; k < b->metric_count; k++)
        v->m[k][round] = err == 0 ? m[k] : NAN;
}

/* Runs every enabled variant once per round, interleaved, the order rotated each round. */
static inline void bench_run(bench_t *b)
{
    int order[BENCH_MAX_VARIANTS], count = 0;
    for (int i = 0; i < b->variant_count; i++)
        if (b->v[i].enabled)
            order[count++] = i;
    if (!b->args.quiet)
        fprintf(stderr, "bench: %s (%d variants, %d rounds)\n", b->title, count, b->args.rounds);
    for (int w = 0; w < b->args.warmup; w++)
        for (int j = 0; j < count; j++)
            bench_run_one(b, order[j], w, 0);
    for (int r = 0; r < b->args.rounds; r++) {
        int shift = b->args.no_rotate || count == 0 ? 0 : r % count;
        for (int j = 0; j < count; j++)
            bench_run_one(b, order[(j + shift) % count], r, 1);
    }
}

/* --- statistics and the table ---------------------------------------------------------- */

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median, min and max of the non-NAN values; returns how many there were. */
static inline int bench_stats(const double *x, int n, double *med, double *min, double *max)
{
    double s[BENCH_MAX_ROUNDS];
    int c = 0;
    for (int i = 0; i < n; i++)
        if (!isnan(x[i]))
            s[c++] = x[i];
    *med = *min = *max = NAN;
    if (c == 0)
        return 0;
    qsort(s, (size_t)c, sizeof s[0], bench_cmp_double);
    *med = c % 2 ? s[c / 2] : (s[c / 2 - 1] + s[c / 2]) / 2;
    *min = s[0];
    *max = s[c - 1];
    return c;
}

/* Per-round ratio of variant i to the baseline on metric 0 (NAN where either failed). */
static inline int bench_ratio(const bench_t *b, int i, double *med, double *min, double *max)
{
    double r[BENCH_MAX_ROUNDS];
    for (int k = 0; k < b->args.rounds; k++)
        r[k] = b->v[i].m[0][k] / b->v[b->baseline].m[0][k];
    return bench_stats(r, b->args.rounds, med, min, max);
}

/* The markdown table (and a legend of the variants below it). */
static inline void bench_print(const bench_t *b, FILE *out)
{
    const char *base = b->baseline >= 0 ? b->v[b->baseline].name : NULL;
    fprintf(out, "\n### %s\n\n", b->title);
    fprintf(out, "%s (%s is better), median of %d round%s interleaved", b->metric_names[0],
            b->metric_higher[0] ? "higher" : "lower", b->args.rounds,
            b->args.rounds == 1 ? "" : "s");
    if (base != NULL)
        fprintf(out, "; ratio = variant / %s, paired per round", base);
    fprintf(out, "\n\n| variant | %s | min - max |", b->metric_names[0]);
    if (base != NULL)
        fprintf(out, " ratio vs %s (median, min - max) |", base);
    for (int k = 1; k < b->metric_count; k++)
        fprintf(out, " %s |", b->metric_names[k]);
    fprintf(out, "\n|---|---:|---:|%s", base != NULL ? "---:|" : "");
    for (int k = 1; k < b->metric_count; k++)
        fprintf(out, "---:|");
    fprintf(out, "\n");
    for (int i = 0; i < b->variant_count; i++) {
        const bench_variant_t *v = &b->v[i];
        double med, min, max;
        char s1[32], s2[32], s3[32];
        if (!v->enabled)
            continue;
        if (bench_stats(v->m[0], b->args.rounds, &med, &min, &max) == 0) {
            fprintf(out, "| %s | failed | - |%s", v->name, base != NULL ? " - |" : "");
            for (int k = 1; k < b->metric_count; k++)
                fprintf(out, " - |");
            fprintf(out, "\n");
            continue;
        }
        bench_fmt(med, s1, sizeof s1);
        bench_fmt(min, s2, sizeof s2);
        bench_fmt(max, s3, sizeof s3);
        fprintf(out, "| %s | %s | %s - %s |", v->name, s1, s2, s3);
        if (base != NULL && i == b->baseline) {
            fprintf(out, " 1 (baseline) |");
        } else if (base != NULL) {
            if (bench_ratio(b, i, &med, &min, &max) > 0)
                fprintf(out, " %.2fx (%.2f - %.2f) |", med, min, max);
            else
                fprintf(out, " - |");
        }
        for (int k = 1; k < b->metric_count; k++) {
            bench_stats(v->m[k], b->args.rounds, &med, &min, &max);
            bench_fmt(med, s1, sizeof s1);
            fprintf(out, " %s |", s1);
        }
        fprintf(out, "\n");
    }
    fprintf(out, "\n");
    for (int i = 0; i < b->variant_count; i++)
        if (b->v[i].enabled)
            fprintf(out, "- `%s`: %s\n", b->v[i].name, b->v[i].desc);
    fflush(out);
}

/* The command line and the machine, once per run, so a table can be traced back. */
static inline void bench_print_header(FILE *out, int argc, char **argv)
{
    struct utsname u;
    time_t now = time(NULL);
    char date[64];
    fprintf(out, "Command: `");
    for (int i = 0; i < argc; i++)
        fprintf(out, "%s%s", i ? " " : "", argv[i]);
    strftime(date, sizeof date, "%Y-%m-%d", localtime(&now));
    fprintf(out, "`  \nMachine: nproc=%ld", sysconf(_SC_NPROCESSORS_ONLN));
    if (uname(&u) == 0)
        fprintf(out, ", %s %s %s", u.sysname, u.release, u.machine);
    fprintf(out, ", %s\n", date);
    fflush(out);
}

/* --- arguments ------------------------------------------------------------------------ */

/* Consumes the common options from argv (see the top of this file) and leaves the others, in
 * order, for the benchmark: *argc is updated. Fields of *a not given keep their value (set
 * the benchmark's defaults before). Returns 0, 1 for -h/--help (usage printed), or -1 for a
 * bad value (message printed). `usage` (may be NULL) prints the benchmark's own options. */
static inline int bench_parse_args(int *argc, char **argv, bench_args_t *a,
                                   void (*usage)(FILE *out))
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        const char *o = argv[i];
        const char *val = i + 1 < *argc ? argv[i + 1] : NULL;
        if (strcmp(o, "-h") == 0 || strcmp(o, "--help") == 0) {
            printf("usage: %s [-n N] [-r ROUNDS] [--warmup W] [--only a,b] [--no-rotate] [-q]"
                   " [options]\n"
                   "  -n N         work per round (default %ld)\n"
                   "  -r ROUNDS    measured rounds, variants interleaved (default %d)\n"
                   "  --warmup W   untimed rounds before (default %d)\n"
                   "  --only LIST  comma-separated variants to run (the baseline always runs)\n"
                   "  --no-rotate  keep the order A B C in every round (default: rotate)\n"
                   "  -q           no per-round progress on stderr\n",
                   argv[0], a->n, a->rounds > 0 ? a->rounds : 5, a->warmup);
            if (usage != NULL)
                usage(stdout);
            return 1;
        }
        if (strcmp(o, "--no-rotate") == 0) {
            a->no_rotate = 1;
        } else if (strcmp(o, "-q") == 0) {
            a->quiet = 1;
        } else if (strcmp(o, "-n") == 0 || strcmp(o, "-r") == 0 || strcmp(o, "--warmup") == 0 ||
                   strcmp(o, "--only") == 0) {
            char *end = NULL;
            long x;
            if (val == NULL) {
                fprintf(stderr, "%s: %s needs a value\n", argv[0], o);
                return -1;
            }
            i++;
            if (strcmp(o, "--only") == 0) {
                a->only = val;
                continue;
            }
            x = strtol(val, &end, 10);
            if (*end != '\0' || x < 0 || (x == 0 && strcmp(o, "--warmup") != 0) ||
                (strcmp(o, "-r") == 0 && x > BENCH_MAX_ROUNDS)) {
                fprintf(stderr, "%s: bad value for %s: %s\n", argv[0], o, val);
                return -1;
            }
            if (strcmp(o, "-n") == 0)
                a->n = x;
            else if (strcmp(o, "-r") == 0)
                a->rounds = (int)x;
            else
                a->warmup = (int)x;
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argc = out;
    return 0;
}

/* --- subprocess variants (Node scripts) ------------------------------------------------- */

extern char **environ;

/* Finds `key=` at the start of a whitespace-separated token and parses the number after it. */
static inline double bench_find_number(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *at = strstr(text, key); at != NULL; at = strstr(at + 1, key)) {
        if ((at == text || at[-1] == ' ' || at[-1] == '\n' || at[-1] == '\t') && at[klen] == '=') {
            char *end;
            double x = strtod(at + klen + 1, &end);
            if (end != at + klen + 1)
                return x;
        }
    }
    return NAN;
}

/* Our environment with the "KEY=VALUE" entries of `add` (NULL-terminated) set; malloc()ed
 * array, entries borrowed. */
static inline char **bench_env_with(const char *const *add)
{
    size_t n = 0, m = 0, k = 0;
    char **env;
    while (environ[n] != NULL)
        n++;
    while (add != NULL && add[m] != NULL)
        m++;
    env = malloc((n + m + 1) * sizeof *env);
    if (env == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        int replaced = 0;
        for (size_t j = 0; j < m && !replaced; j++) {
            size_t klen = strcspn(add[j], "=");
            replaced = strncmp(environ[i], add[j], klen) == 0 && environ[i][klen] == '=';
        }
        if (!replaced)
            env[k++] = environ[i];
    }
    for (size_t j = 0; j < m; j++)
        env[k++] = (char *)add[j];
    env[k] = NULL;
    return env;
}

/* Runs argv (argv[0] looked up in PATH) with its stdout captured and stderr inherited, waits
 * for it (waitpid on its own pid only), and reads "key=number" tokens from what it printed:
 * values[i] gets keys[i]'s number. `env_add` (NULL-terminated "KEY=VALUE" list, or NULL) is
 * set in its environment. Returns 0 when it exited 0 and printed every key; else -1 with the
 * reason (and its output) on stderr. */
static inline int bench_subprocess_env(const char *const *env_add, char *const argv[],
                                       const char *const keys[], double values[], int nkeys)
{
    posix_spawn_file_actions_t fa;
    char *text = NULL;
    size_t len = 0, cap = 0;
    int fds[2], status = 0, err, ok = 1;
    char **env;
    pid_t pid;

    for (int i = 0; i < nkeys; i++)
        values[i] = NAN;
    env = bench_env_with(env_add);
    if (env == NULL)
        return -1;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        perror("bench: pipe2");
        free(env);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    err = posix_spawnp(&pid, argv[0], &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    close(fds[1]);
    if (err != 0) {
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0], strerror(err));
        close(fds[0]);
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (cap - len < 4096) {
            char *t = realloc(text, cap = cap * 2 + 8192);
            if (t == NULL) {
                ok = 0;
                break;
            }
            text = t;
        }
        r = read(fds[0], text + len, cap - len - 1);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (text == NULL)
        return -1;
    text[len] = '\0';
    for (int i = 0; i < nkeys; i++) {
        values[i] = bench_find_number(text, keys[i]);
        if (isnan(values[i]))
            ok = 0;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !ok) {
        fprintf(stderr, "bench: %s failed (status 0x%x), it printed:\n%s\n", argv[0], status, text);
        ok = 0;
    }
    free(text);
    return ok ? 0 : -1;
}

/* bench_subprocess_env with our environment as it is. */
static inline int bench_subprocess(char *const argv[], const char *const keys[], double values[],
                                   int nkeys)
{
    return bench_subprocess_env(NULL, argv, keys, values, nkeys);
}

/* Whether `node` (or $NODE) runs; Node variants are skipped when it does not. */
static inline const char *bench_node(void)
{
    static const char *node;
    static int checked;
    if (!checked) {
        const char *n = getenv("NODE");
        char *argv[] = {(char *)(n != NULL && *n ? n : "node"), "-e",
                        "console.log('v=' + process.versions.node.split('.')[0])", NULL};
        const char *keys[] = {"v"};
        double v;
        checked = 1;
        if (bench_subprocess(argv, keys, &v, 1) == 0)
            node = argv[0];
    }
    return node;
}

/* main() of a benchmark: option parsing rearranges argv, so `run` also gets the command line
 * as it was given, for the header of the tables. */
static inline int bench_main(int argc, char **argv, int (*run)(int, char **, int, char **))
{
    char **cmd = malloc((size_t)(argc + 1) * sizeof *cmd);
    int r;
    if (cmd == NULL)
        return 1;
    memcpy(cmd, argv, (size_t)(argc + 1) * sizeof *cmd);
    r = run(argc, argv, argc, cmd);
    free(cmd);
    return r;
}

#endif
