/* bench/spawn: spawn + wait of /bin/true, N times, sequentially and K at a time, through
 * uvproc, Node's child_process.spawn, raw uv_spawn, glibc's posix_spawn + waitpid and the
 * floor (a vfork-style clone + waitid(P_PIDFD), bench/floor.h), interleaved in one run
 * (bench.h). The question it answers: what does uvproc add to the cost of starting and reaping
 * a child, against the kernel's floor, against posix_spawn and against Node?
 *
 * The primary metric is the parent's CPU per spawn (CLOCK_PROCESS_CPUTIME_ID: what a spawn
 * costs the parent whatever else runs on the machine); wall time per spawn is the third column
 * and gets a paired ratio of its own against posix_spawn under the table. Node's variants time
 * only wall (its script reports no CPU).
 *
 *   bench/spawn [-n 2000] [-r 5] [--inflight 1,16] [--only posix_spawn,uvproc_inherit]
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"
#include "floor.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif

#define TRUE_PATH "/bin/true"

typedef struct {
    long n;
    int inflight;
} spawn_cfg_t;

typedef struct {
    const spawn_cfg_t *cfg;
    int pipes; /* 3 pipes for stdio (Node's default) rather than the parent's fds */
    const char *self_variant, *launcher; /* run_self only */
} variant_arg_t;

/* m[0] parent CPU us/spawn, m[1] spawns/s, m[2] wall us/spawn. */
static void fill_metrics(double *m, long n, double secs, double cpu_secs)
{
    m[0] = cpu_secs * 1e6 / (double)n;
    m[1] = (double)n / secs;
    m[2] = secs * 1e6 / (double)n;
}

/* --- the floor: clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD) + waitid(P_PIDFD) ----------------- */

typedef struct {
    int pidfd, out, err; /* -1 when done */
    int open;            /* of the three, how many are left */
} floor_slot_t;

static int floor_start(floor_slot_t *s, int pipes)
{
    char *argv[] = {TRUE_PATH, NULL};
    int in[2], out[2], err[2], fds[3];
    s->out = s->err = -1;
    s->open = 1;
    if (pipes) {
        if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
            return -1;
        fds[0] = in[0];
        fds[1] = out[1];
        fds[2] = err[1];
    }
    s->pidfd = floor_spawn(TRUE_PATH, argv, pipes ? fds : NULL);
    if (pipes) {
        close(in[0]);
        close(in[1]); /* stdin: the child reads EOF, as uvproc's pipe3 child does */
        close(out[1]);
        close(err[1]);
        s->out = out[0];
        s->err = err[0];
        s->open = 3;
    }
    return s->pidfd < 0 ? -1 : 0;
}

/* Sequential: blocking reads to EOF, then a blocking waitid. K at a time: one epoll for every
 * pidfd and pipe, as an event loop would hold them. */
static int run_floor(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    long n = va->cfg->n, started = 0, done = 0;
    int k = va->cfg->inflight, ep = -1, failed = 0;
    floor_slot_t *slots = calloc((size_t)k, sizeof *slots);
    char buf[64 * 1024];
    double t0, c0;

    if (slots == NULL || (k > 1 && (ep = epoll_create1(EPOLL_CLOEXEC)) < 0))
        return -1;
    t0 = bench_now();
    c0 = floor_cpu_now();
    if (k == 1) {
        for (; done < n && !failed; done++) {
            if (floor_start(&slots[0], va->pipes) != 0)
                failed = 1;
            for (int *fd = &slots[0].out; va->pipes && fd <= &slots[0].err; fd++) {
                while (read(*fd, buf, sizeof buf) > 0)
                    ;
                close(*fd);
            }
            if (floor_reap(slots[0].pidfd, 0) != 0)
                failed = 1;
            close(slots[0].pidfd);
        }
    }
    while (k > 1 && done < n && !failed) {
        struct epoll_event ev[64];
        int got;
        for (int i = 0; i < k && started < n; i++) {
            floor_slot_t *s = &slots[i];
            if (s->open > 0)
                continue;
            if (floor_start(s, va->pipes) != 0) {
                fprintf(stderr, "clone_floor: cannot start: %s\n", strerror(errno));
                failed = 1;
                break;
            }
            started++;
            for (int j = 0; j < 3; j++) {
                int fd = j == 0 ? s->pidfd : j == 1 ? s->out : s->err;
                /* One-shot for the pidfd: a child cloned since may still hold a copy of it
                 * (CLONE_VFORK resumes us before the child's exec closes its CLOEXEC fds), so
                 * the entry can outlive our close; a disarmed one cannot report again (the
                 * clone launcher does the same). */
                struct epoll_event e = {.events = EPOLLIN | (j == 0 ? EPOLLONESHOT : 0),
                                        .data.u64 = (uint64_t)i * 4 + j};
                if (fd >= 0)
                    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
            }
        }
        got = epoll_wait(ep, ev, 64, -1);
        for (int e = 0; e < got; e++) {
            floor_slot_t *s = &slots[ev[e].data.u64 / 4];
            int j = (int)(ev[e].data.u64 % 4);
            int *fd = j == 0 ? &s->pidfd : j == 1 ? &s->out : &s->err;
            if (j == 0) {
                int st = floor_reap(s->pidfd, 1);
                if (st == -2) {
                    struct epoll_event again = ev[e];
                    again.events = EPOLLIN | EPOLLONESHOT;
                    epoll_ctl(ep, EPOLL_CTL_MOD, s->pidfd, &again);
                    continue;
                }
                if (st != 0) {
                    fprintf(stderr, "clone_floor: child status %d\n", st);
                    failed = 1;
                }
            } else if (read(*fd, buf, sizeof buf) > 0) {
                continue;
            } else {
                /* The same window as above, and a pipe is level-triggered: leave the set
                 * explicitly, as libuv does for every stream it closes. */
                epoll_ctl(ep, EPOLL_CTL_DEL, *fd, NULL);
            }
            close(*fd);
            *fd = -1;
            if (--s->open == 0)
                done++;
        }
    }
    fill_metrics(m, n, bench_now() - t0, floor_cpu_now() - c0);
    if (ep >= 0)
        close(ep);
    free(slots);
    return failed ? -1 : 0;
}

/* --- raw posix_spawn + waitpid: the bound ------------------------------------------------ */

static int run_posix_spawn(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    long n = va->cfg->n, started = 0, done = 0;
    int k = va->cfg->inflight, running = 0;
    pid_t *pids = calloc((size_t)k, sizeof *pids);
    char *argv[] = {TRUE_PATH, NULL};
    double t0, c0;

    if (pids == NULL)
        return -1;
    t0 = bench_now();
    c0 = floor_cpu_now();
    while (done < n) {
        int status, slot, err;
        pid_t pid;
        while (started < n && running < k) {
            for (slot = 0; pids[slot] != 0; slot++)
                ;
            err = posix_spawn(&pids[slot], TRUE_PATH, NULL, NULL, argv, environ);
            if (err != 0) {
                fprintf(stderr, "posix_spawn: %s\n", strerror(err));
                free(pids);
                return -1;
            }
            started++;
            running++;
        }
        /* This process has no other children while this variant runs (every other variant
         * has reaped its own before returning), so waiting for any child is waiting for ours;
         * the pid is still checked against the table. */
        pid = k == 1 ? waitpid(pids[0], &status, 0) : waitpid(-1, &status, 0);
        if (pid < 0 && errno == EINTR)
            continue;
        for (slot = 0; slot < k && (pid <= 0 || pids[slot] != pid); slot++)
            ;
        if (slot == k || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "posix_spawn: unexpected wait result %d, status 0x%x\n", (int)pid,
                    status);
            free(pids);
            return -1;
        }
        pids[slot] = 0;
        running--;
        done++;
    }
    fill_metrics(m, n, bench_now() - t0, floor_cpu_now() - c0);
    free(pids);
    return 0;
}

/* --- raw uv_spawn: what a libuv program would write by hand ------------------------------ */

typedef struct {
    uv_loop_t loop;
    const variant_arg_t *va;
    long started, done;
    int failed;
} uv_run_t;

typedef struct {
    uv_process_t proc;
    uv_pipe_t pipes[3];
    uv_run_t *run;
    int pending; /* handles not closed yet */
} uv_child_t;

static void uv_start_one(uv_run_t *r);

static void uv_child_closed(uv_handle_t *h)
{
    uv_child_t *c = h->data;
    uv_run_t *r = c->run;
    if (--c->pending > 0)
        return;
    free(c);
    r->done++;
    if (r->started < r->va->cfg->n && !r->failed)
        uv_start_one(r);
}

static void uv_child_exit(uv_process_t *proc, int64_t status, int sig)
{
    uv_child_t *c = proc->data;
    if (status != 0 || sig != 0)
        c->run->failed = 1;
    uv_close((uv_handle_t *)proc, uv_child_closed);
    if (c->run->va->pipes)
        uv_close((uv_handle_t *)&c->pipes[0], uv_child_closed);
}

static void uv_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    static char slab[64 * 1024];
    (void)h;
    (void)size;
    *buf = uv_buf_init(slab, sizeof slab);
}

static void uv_child_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    (void)buf;
    if (nread < 0)
        uv_close((uv_handle_t *)s, uv_child_closed);
}

static void uv_start_one(uv_run_t *r)
{
    uv_child_t *c = calloc(1, sizeof *c);
    uv_stdio_container_t stdio[3];
    char *argv[] = {TRUE_PATH, NULL};
    uv_process_options_t o = {0};
    int err;

    if (c == NULL) {
        r->failed = 1;
        return;
    }
    c->run = r;
    for (int fd = 0; fd < 3; fd++) {
        if (r->va->pipes) {
            uv_pipe_init(&r->loop, &c->pipes[fd], 0);
            c->pipes[fd].data = c;
            stdio[fd].flags = UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
            stdio[fd].data.stream = (uv_stream_t *)&c->pipes[fd];
        } else {
            stdio[fd].flags = UV_INHERIT_FD;
            stdio[fd].data.fd = fd;
        }
    }
    o.file = TRUE_PATH;
    o.args = argv;
    o.exit_cb = uv_child_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    c->proc.data = c;
    c->pending = r->va->pipes ? 4 : 1;
    err = uv_spawn(&r->loop, &c->proc, &o);
    r->started++;
    if (err != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(err));
        r->failed = 1;
        uv_close((uv_handle_t *)&c->proc, uv_child_closed);
        for (int fd = 0; r->va->pipes && fd < 3; fd++)
            uv_close((uv_handle_t *)&c->pipes[fd], uv_child_closed);
        return;
    }
    for (int fd = 1; r->va->pipes && fd < 3; fd++)
        uv_read_start((uv_stream_t *)&c->pipes[fd], uv_alloc, uv_child_read);
}

static int run_uv(void *arg, double *m)
{
    uv_run_t r = {.va = arg};
    long first = r.va->cfg->inflight < r.va->cfg->n ? r.va->cfg->inflight : r.va->cfg->n;
    double t0, c0;
    if (uv_loop_init(&r.loop) != 0)
        return -1;
    t0 = bench_now();
    c0 = floor_cpu_now();
    for (long i = 0; i < first; i++)
        uv_start_one(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    fill_metrics(m, r.va->cfg->n, bench_now() - t0, floor_cpu_now() - c0);
    if (uv_loop_close(&r.loop) != 0)
        r.failed = 1;
    return r.failed || r.done != r.va->cfg->n ? -1 : 0;
}

/* --- uvproc --------------------------------------------------------------------------------- */

typedef struct {
    uv_loop_t loop;
    const variant_arg_t *va;
    uvproc_spawn_options_t opts;
    long started, done;
    int failed;
} uvp_run_t;

static void uvp_start_one(uvp_run_t *r);

/* Done at close, as Node's 'close': exit happened and every pipe reached EOF. */
static void uvp_close(uvproc_process_t *p, int64_t code, int sig)
{
    uvp_run_t *r = uvproc_process_data(p);
    if (code != 0 || sig != 0) {
        fprintf(stderr, "uvproc: child closed with code %lld, signal %d\n", (long long)code, sig);
        r->failed = 1;
    }
    r->done++;
    if (r->started < r->va->cfg->n && !r->failed)
        uvp_start_one(r);
}

static void uvp_start_one(uvp_run_t *r)
{
    int err = uvproc_spawn(&r->loop, NULL, TRUE_PATH, NULL, &r->opts);
    if (err != 0) {
        fprintf(stderr, "uvproc_spawn: %s\n", uvproc_strerror(err));
        r->failed = 1;
        return;
    }
    r->started++;
}

static int run_uvproc(void *arg, double *m)
{
    uvp_run_t r = {.va = arg};
    long first = r.va->cfg->inflight < r.va->cfg->n ? r.va->cfg->inflight : r.va->cfg->n;
    double t0, c0;

    r.opts.data = &r;
    r.opts.on_close = uvp_close;
    for (int fd = 0; fd < 3; fd++)
        r.opts.stdio[fd].type = r.va->pipes ? UVPROC_STDIO_PIPE : UVPROC_STDIO_INHERIT;
    if (uv_loop_init(&r.loop) != 0)
        return -1;
    t0 = bench_now();
    c0 = floor_cpu_now();
    for (long i = 0; i < first; i++)
        uvp_start_one(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    fill_metrics(m, r.va->cfg->n, bench_now() - t0, floor_cpu_now() - c0);
    if (uv_loop_close(&r.loop) != 0)
        r.failed = 1;
    return r.failed || r.done != r.va->cfg->n ? -1 : 0;
}

static long heap_mib;     /* --heap: touched parent memory, MiB */
static char heap_arg[32]; /* the same, as an argument for the subprocess variants */

/* fork() copies the parent's page tables, so its cost grows with the memory the parent has
 * touched; posix_spawn's CLONE_VFORK does not. One written byte per 4 KiB page makes every
 * page resident, as baselines.md section 2 did. Kept until exit. */
static char *volatile heap_keep; /* escapes, so the stores below cannot be optimised away */

static void touch_heap(long mib)
{
    size_t size = (size_t)mib << 20;
    char *heap = malloc(size);
    heap_keep = heap;
    if (heap == NULL) {
        fprintf(stderr, "cannot allocate %ld MiB\n", mib);
        exit(1);
    }
    for (size_t i = 0; i < size; i += 4096)
        heap[i] = 1;
}

/* --- Node's child_process.spawn (a subprocess that times itself) -------------------------- */

static int run_node(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    char n[32], k[32];
    char *argv[] = {(char *)bench_node(),
                    BENCH_NODE_DIR "/spawn.js",
                    n,
                    k,
                    va->pipes ? "pipe" : "inherit",
                    heap_arg,
                    NULL};
    const char *keys[] = {"rate", "us_per_spawn"};
    snprintf(n, sizeof n, "%ld", va->cfg->n);
    snprintf(k, sizeof k, "%d", va->cfg->inflight);
    m[0] = NAN; /* the script times wall only */
    return bench_subprocess(argv, keys, m + 1, 2);
}

/* --- uvproc with another launcher: this program again, in a fresh process ------------------ */

/* The library reads UVPROC_LAUNCHER once per process, so a variant with another launcher runs
 * in a process of its own: `spawn --run-variant uvproc_inherit -n N --inflight K`. */
static int run_self(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    char n[32], k[32], launcher[64];
    char *argv[] = {"/proc/self/exe", "-n", n, "--inflight", k, "--heap", heap_arg,
                    "--run-variant", (char *)va->self_variant, NULL};
    const char *env[] = {launcher, NULL};
    const char *keys[] = {"cpu_us_per_spawn", "rate", "us_per_spawn"};
    snprintf(n, sizeof n, "%ld", va->cfg->n);
    snprintf(k, sizeof k, "%d", va->cfg->inflight);
    snprintf(launcher, sizeof launcher, "UVPROC_LAUNCHER=%s", va->launcher);
    return bench_subprocess_env(env, argv, keys, m, 3);
}

/* --- main ------------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    bench_fn fn;
    int pipes;
    const char *self_variant, *launcher; /* run_self: what to run, under which launcher */
    const char *desc;
} variants[] = {
    {"clone_floor", run_floor, 0, NULL, NULL,
     "the floor: `clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD)` on a stack mapped once, the child "
     "only execs, `waitid(P_PIDFD)` (K in flight: one epoll of pidfds); stdio inherited"},
    {"clone_floor_pipe3", run_floor, 1, NULL, NULL,
     "the floor with 3 `pipe2`s: the child dup2s them, the parent closes stdin and reads "
     "stdout/stderr to EOF (blocking; K in flight: in the same epoll)"},
    {"posix_spawn", run_posix_spawn, 0, NULL, NULL,
     "glibc `posix_spawn` + `waitpid`, stdio inherited"},
    {"uv_inherit", run_uv, 0, NULL, NULL,
     "raw `uv_spawn`, stdio `UV_INHERIT_FD`; done at `exit_cb` + `uv_close`"},
    {"uv_pipe3", run_uv, 1, NULL, NULL,
     "raw `uv_spawn`, 3 `UV_CREATE_PIPE`, stdout/stderr read to EOF; done when the process "
     "and the 3 pipes are closed"},
    {"uvproc_inherit", run_uvproc, 0, NULL, NULL,
     "`uvproc_spawn`, stdio `UVPROC_STDIO_INHERIT`, the library's default launcher; done at "
     "`on_close`"},
    {"uvproc_pipe3", run_uvproc, 1, NULL, NULL,
     "`uvproc_spawn`, default stdio (3 pipes), default launcher; done at `on_close`"},
    {"uvproc_psl_inherit", run_self, 0, "uvproc_inherit", "posix",
     "`uvproc_inherit` with `UVPROC_LAUNCHER=posix` (the posix_spawn launcher), in a fresh "
     "process of its own"},
    {"uvproc_psl_pipe3", run_self, 1, "uvproc_pipe3", "posix",
     "`uvproc_pipe3` with `UVPROC_LAUNCHER=posix`, in a fresh process of its own"},
    {"uvproc_uvl_inherit", run_self, 0, "uvproc_inherit", "uv",
     "`uvproc_inherit` with `UVPROC_LAUNCHER=uv` (the uv_spawn launcher), in a fresh process "
     "of its own"},
    {"uvproc_uvl_pipe3", run_self, 1, "uvproc_pipe3", "uv",
     "`uvproc_pipe3` with `UVPROC_LAUNCHER=uv`, in a fresh process of its own"},
    {"node_inherit", run_node, 0, NULL, NULL,
     "`node bench/node/spawn.js N K inherit`: `spawn('/bin/true', [], {stdio: 'inherit'})`, "
     "done at `'close'`"},
    {"node_pipe", run_node, 1, NULL, NULL,
     "`node bench/node/spawn.js N K pipe`: default stdio (3 pipes), done at `'close'`"},
};
#define VARIANT_COUNT (sizeof variants / sizeof variants[0])

static const char *inflight_list = "1,16";
static void usage(FILE *out)
{
    fprintf(out,
            "  --inflight L children kept running at once, one table per value (default %s)\n"
            "  --heap MiB   touch this much heap in the parent first (fork's cost grows with it)\n"
            "  --run-variant V  run in-process variant V once, print rate=... (used by the\n"
            "               variants that need a fresh process)\nvariants:",
            inflight_list);
    for (size_t i = 0; i < VARIANT_COUNT; i++)
        fprintf(out, " %s%s", variants[i].name, i == 0 ? " (baseline)" : "");
    fprintf(out, "\n");
}

static void run_table(const bench_args_t *a, int inflight)
{
    spawn_cfg_t cfg = {a->n, inflight};
    variant_arg_t args[VARIANT_COUNT];
    char title[160];
    bench_t b;

    if (inflight == 1)
        snprintf(title, sizeof title, "Spawn + wait of /bin/true x%ld, sequential, %ld MiB heap",
                 a->n, heap_mib);
    else
        snprintf(title, sizeof title, "Spawn + wait of /bin/true x%ld, %d in flight, %ld MiB heap",
                 a->n, inflight, heap_mib);
    bench_init(&b, title, a);
    bench_metric(&b, "parent CPU us/spawn", BENCH_LOWER);
    bench_metric(&b, "spawns/s", BENCH_HIGHER);
    bench_metric(&b, "wall us/spawn", BENCH_LOWER);
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        args[i] = (variant_arg_t){&cfg, variants[i].pipes, variants[i].self_variant,
                                  variants[i].launcher};
        bench_variant(&b, variants[i].name, variants[i].desc, variants[i].fn, &args[i]);
    }
    bench_baseline(&b, "clone_floor");
    if (bench_node() == NULL) {
        bench_disable(&b, "node_inherit", "node not found (set NODE=/path/to/node)");
        bench_disable(&b, "node_pipe", "node not found (set NODE=/path/to/node)");
    }
    bench_run(&b);
    bench_print(&b, stdout);
    floor_print_ratios(&b, 0, "posix_spawn", stdout);
    floor_print_ratios(&b, 0, "clone_floor_pipe3", stdout);
    floor_print_ratios(&b, 2, "posix_spawn", stdout);
}

/* --run-variant: one in-process variant, once, its numbers on stdout for run_self. */
static int run_variant_once(const char *name, long n, int inflight)
{
    spawn_cfg_t cfg = {n, inflight};
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        variant_arg_t va = {&cfg, variants[i].pipes, NULL, NULL};
        double m[3];
        if (strcmp(variants[i].name, name) != 0 || variants[i].self_variant != NULL)
            continue;
        if (variants[i].fn(&va, m) != 0)
            return 1;
        printf("cpu_us_per_spawn=%.2f rate=%.1f us_per_spawn=%.1f n=%ld\n", m[0], m[1], m[2], n);
        return 0;
    }
    fprintf(stderr, "no in-process variant named %s\n", name);
    return 2;
}

/* argv is rearranged by the option parser; `cmd` is the command line as given, for the
 * header. */
static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 2000, .rounds = 5};
    const char *only_variant = NULL;
    int r = bench_parse_args(&argc, argv, &a, usage);

    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc) {
            inflight_list = argv[++i];
        } else if (strcmp(argv[i], "--heap") == 0 && i + 1 < argc) {
            heap_mib = atol(argv[++i]);
            if (heap_mib < 0 || heap_mib > 65536) {
                fprintf(stderr, "%s: bad --heap\n", argv[0]);
                return 2;
            }
        } else if (strcmp(argv[i], "--run-variant") == 0 && i + 1 < argc) {
            only_variant = argv[++i];
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    snprintf(heap_arg, sizeof heap_arg, "%ld", heap_mib);
    if (heap_mib > 0)
        touch_heap(heap_mib);
    if (only_variant != NULL)
        return run_variant_once(only_variant, a.n, atoi(inflight_list));
    bench_print_header(stdout, cmd_argc, cmd);
    for (const char *at = inflight_list; at != NULL && *at != '\0';) {
        char *end;
        long k = strtol(at, &end, 10);
        if (end == at || k <= 0 || k > 4096 || (*end != ',' && *end != '\0')) {
            fprintf(stderr, "%s: bad --inflight list: %s\n", argv[0], inflight_list);
            return 2;
        }
        run_table(&a, (int)k);
        at = *end == ',' ? end + 1 : NULL;
    }
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
