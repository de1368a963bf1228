/* What a parent pays per child it holds: CPU per exit and heap per live child, through uvproc,
 * through raw libuv (uv_spawn, what users use today) and, for exits, through the kernel's
 * floor (a pidfd per child in one epoll set, waitid(P_PIDFD), close: bench/floor.h), in one
 * run, interleaved.
 *
 * CPU per exit: N children are started (not timed) and then end, either all at once (they
 * all block reading one pipe, whose write end is then closed) or one at a time (each is sent
 * SIGKILL after the previous one's close). Timed is the parent's CPU (task clock:
 * CLOCK_PROCESS_CPUTIME_ID, user + system) from the release until every child's close
 * callback ran, divided by N. CPU rather than wall time: the machine is shared, and CPU is
 * what the exits cost the parent whatever else runs.
 *
 * Heap per live child: N children with 3 pipes each (Node's default stdio; the raw variant
 * allocates its uv_process_t and three uv_pipe_t with malloc), blocked reading stdin;
 * mallinfo2()'s in-use bytes after all have started minus before, divided by N. */
#include <malloc.h>
#include <signal.h>
#include <uv.h>

#include "bench.h"
#include "floor.h"
#include "uvproc.h"

typedef struct {
    long n;
    int one_at_a_time;
} cfg_t;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long closed;
static int shared_pipe[2];
static const char *cat_args[] = {NULL};

/* The timed part, the same for both: the children end (all at once: the shared pipe's write
 * end closes; one at a time: kill_one(i), then wait for its close), and the parent's CPU
 * until the last close is counted. */
static void end_children(uv_loop_t *loop, const cfg_t *c, void (*kill_one)(long i), double *m)
{
    double w0, t0;
    close(shared_pipe[0]);
    w0 = bench_now();
    t0 = cpu_now();
    if (c->one_at_a_time) {
        for (long i = 0; i < c->n; i++) {
            kill_one(i);
            while (closed < i + 1)
                uv_run(loop, UV_RUN_ONCE);
        }
    } else {
        close(shared_pipe[1]);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    m[0] = (cpu_now() - t0) * 1e6 / (double)c->n;
    m[1] = (bench_now() - w0) * 1e3;
    if (c->one_at_a_time)
        close(shared_pipe[1]);
}

static uvproc_process_t **uvproc_children;
static uv_process_t *uv_children;

static void uvproc_kill_one(long i)
{
    uvproc_kill(uvproc_children[i], SIGKILL);
}

static void uv_kill_one(long i)
{
    uv_process_kill(&uv_children[i], SIGKILL);
}

/* --- uvproc ------------------------------------------------------------------------------ */

static void uvproc_closed(uvproc_process_t *p, int64_t code, int signal)
{
    (void)p;
    (void)code;
    (void)signal;
    closed++;
}

static void uvproc_spawned(uvproc_process_t *p)
{
    (void)p;
    closed--; /* counts up to 0 as spawns arrive: see wait_spawned */
}

static int run_uvproc(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    uvproc_process_t **ps = calloc((size_t)c->n, sizeof *ps);

    if (ps == NULL || pipe2(shared_pipe, O_CLOEXEC) != 0 || uv_loop_init(&loop) != 0)
        return 1;
    closed = c->n;
    for (long i = 0; i < c->n; i++) {
        uvproc_spawn_options_t o = {.stdio = {{.type = UVPROC_STDIO_FD, .fd = shared_pipe[0]},
                                              {.type = UVPROC_STDIO_IGNORE},
                                              {.type = UVPROC_STDIO_IGNORE}},
                                    .on_spawn = uvproc_spawned,
                                    .on_close = uvproc_closed};
        if (uvproc_spawn(&loop, &ps[i], "/bin/cat", cat_args, &o) != 0)
            return 1;
        uvproc_process_retain(ps[i]);
    }
    /* NOWAIT: the last spawn event comes from a timer, and ONCE would then block in poll. */
    while (closed > 0)
        uv_run(&loop, UV_RUN_NOWAIT);
    uvproc_children = ps;
    end_children(&loop, c, uvproc_kill_one, m);
    for (long i = 0; i < c->n; i++)
        uvproc_process_release(ps[i]);
    free(ps);
    return uv_loop_close(&loop) != 0 || closed != c->n;
}

/* --- raw libuv --------------------------------------------------------------------------- */

static void uv_exited(uv_process_t *p, int64_t status, int signal)
{
    (void)status;
    (void)signal;
    uv_close((uv_handle_t *)p, NULL);
    closed++;
}

static int run_uv(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    uv_process_t *ps = calloc((size_t)c->n, sizeof *ps);
    char *args[] = {"/bin/cat", NULL};

    if (ps == NULL || pipe2(shared_pipe, O_CLOEXEC) != 0 || uv_loop_init(&loop) != 0)
        return 1;
    closed = 0;
    for (long i = 0; i < c->n; i++) {
        uv_stdio_container_t io[3] = {{.flags = UV_INHERIT_FD, .data.fd = shared_pipe[0]},
                                      {.flags = UV_IGNORE},
                                      {.flags = UV_IGNORE}};
        uv_process_options_t o = {
            .exit_cb = uv_exited, .file = args[0], .args = args, .stdio_count = 3, .stdio = io};
        if (uv_spawn(&loop, &ps[i], &o) != 0)
            return 1;
    }
    uv_children = ps;
    end_children(&loop, c, uv_kill_one, m);
    free(ps);
    return uv_loop_close(&loop) != 0 || closed != c->n;
}

/* --- the floor: pidfd + one epoll + waitid + close ----------------------------------------- */

static int *floor_pidfds;
static int floor_ep;

static void floor_kill_one(long i)
{
    syscall(SYS_pidfd_send_signal, floor_pidfds[i], SIGKILL, NULL, 0);
}

/* The same children (vfork-style clones of /bin/cat on the shared pipe), each pidfd added once
 * (one-shot) to one epoll set; the timed part reaps as an event loop with nothing else to do
 * would: epoll_wait, then waitid and close per ready pidfd (closing takes it out of the set). */
static int run_floor(void *arg, double *m)
{
    const cfg_t *c = arg;
    char *args[] = {"/bin/cat", NULL};
    int *pidfds = calloc((size_t)c->n, sizeof *pidfds);
    long reaped = 0;
    double w0, t0;

    if (pidfds == NULL || pipe2(shared_pipe, O_CLOEXEC) != 0 ||
        (floor_ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return 1;
    for (long i = 0; i < c->n; i++) {
        int fds[3] = {shared_pipe[0], -1, -1};
        struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u64 = (uint64_t)i};
        fds[1] = fds[2] = open("/dev/null", O_WRONLY | O_CLOEXEC);
        pidfds[i] = floor_spawn("/bin/cat", args, fds);
        close(fds[1]);
        if (pidfds[i] < 0 || epoll_ctl(floor_ep, EPOLL_CTL_ADD, pidfds[i], &e) != 0)
            return 1;
    }
    floor_pidfds = pidfds;
    close(shared_pipe[0]);
    w0 = bench_now();
    t0 = floor_cpu_now();
    if (!c->one_at_a_time)
        close(shared_pipe[1]);
    for (long next = 0; reaped < c->n;) {
        struct epoll_event ev[64];
        int got;
        if (c->one_at_a_time && next == reaped)
            floor_kill_one(next++);
        got = epoll_wait(floor_ep, ev, 64, -1);
        for (int e = 0; e < got; e++) {
            int *fd = &pidfds[ev[e].data.u64];
            if (floor_reap(*fd, 1) == -2) {
                struct epoll_event again = ev[e];
                again.events = EPOLLIN | EPOLLONESHOT;
                epoll_ctl(floor_ep, EPOLL_CTL_MOD, *fd, &again);
                continue;
            }
            close(*fd);
            *fd = -1;
            reaped++;
        }
    }
    m[0] = (floor_cpu_now() - t0) * 1e6 / (double)c->n;
    m[1] = (bench_now() - w0) * 1e3;
    if (c->one_at_a_time)
        close(shared_pipe[1]);
    close(floor_ep);
    free(pidfds);
    return 0;
}

/* --- heap per live child ------------------------------------------------------------------ */

static size_t heap_in_use(void)
{
    return mallinfo2().uordblks;
}

static int run_uvproc_heap(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    uvproc_process_t **ps = calloc((size_t)c->n, sizeof *ps);
    size_t h0;

    if (ps == NULL || uv_loop_init(&loop) != 0)
        return 1;
    closed = c->n;
    h0 = heap_in_use();
    for (long i = 0; i < c->n; i++) {
        uvproc_spawn_options_t o = {.on_spawn = uvproc_spawned, .on_close = uvproc_closed};
        if (uvproc_spawn(&loop, &ps[i], "/bin/cat", cat_args, &o) != 0)
            return 1;
    }
    /* NOWAIT: the last spawn event comes from a timer, and ONCE would then block in poll. */
    while (closed > 0)
        uv_run(&loop, UV_RUN_NOWAIT);
    m[0] = (double)(heap_in_use() - h0) / (double)c->n;
    for (long i = 0; i < c->n; i++)
        uvproc_end(ps[i], 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    free(ps);
    return uv_loop_close(&loop) != 0 || closed != c->n;
}

typedef struct {
    uv_process_t proc;
    uv_pipe_t *pipes[3];
    int open;
} raw_child_t;

static void raw_pipe_closed(uv_handle_t *h)
{
    raw_child_t *k = h->data;
    free(h);
    if (--k->open == 0)
        closed++;
}

static void raw_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    free(b->base);
    if (n < 0)
        uv_close((uv_handle_t *)s, raw_pipe_closed);
}

static void raw_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)h;
    *b = uv_buf_init(malloc(size), (unsigned int)size);
}

static void raw_proc_closed(uv_handle_t *h)
{
    raw_child_t *k = h->data;
    if (--k->open == 0)
        closed++;
}

static void raw_exited(uv_process_t *p, int64_t status, int signal)
{
    (void)status;
    (void)signal;
    uv_close((uv_handle_t *)p, raw_proc_closed);
}

static int run_uv_heap(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    raw_child_t **ks = calloc((size_t)c->n, sizeof *ks);
    char *args[] = {"/bin/cat", NULL};
    size_t h0;

    if (ks == NULL || uv_loop_init(&loop) != 0)
        return 1;
    closed = 0;
    h0 = heap_in_use();
    for (long i = 0; i < c->n; i++) {
        raw_child_t *k = ks[i] = malloc(sizeof *k);
        uv_stdio_container_t io[3];
        uv_process_options_t o = {
            .exit_cb = raw_exited, .file = args[0], .args = args, .stdio_count = 3, .stdio = io};
        k->open = 4;
        for (int f = 0; f < 3; f++) {
            k->pipes[f] = malloc(sizeof(uv_pipe_t));
            uv_pipe_init(&loop, k->pipes[f], 0);
            k->pipes[f]->data = k;
            io[f].flags = UV_CREATE_PIPE | (f == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
            io[f].data.stream = (uv_stream_t *)k->pipes[f];
        }
        k->proc.data = k;
        if (uv_spawn(&loop, &k->proc, &o) != 0)
            return 1;
        uv_read_start((uv_stream_t *)k->pipes[1], raw_alloc, raw_read);
        uv_read_start((uv_stream_t *)k->pipes[2], raw_alloc, raw_read);
    }
    m[0] = (double)(heap_in_use() - h0) / (double)c->n;
    for (long i = 0; i < c->n; i++)
        uv_close((uv_handle_t *)ks[i]->pipes[0], raw_pipe_closed);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (long i = 0; i < c->n; i++)
        free(ks[i]);
    free(ks);
    return uv_loop_close(&loop) != 0 || closed != c->n;
}

/* --- main -------------------------------------------------------------------------------- */

static const char *n_list = "250,1000,2000";
static int all_at_once_only, no_heap;
static void usage(FILE *out)
{
    fprintf(out,
            "  --counts L   children per round, one table per value (default %s)\n"
            "  --all-at-once  only the all-at-once exit tables; --no-heap  no heap table\n"
            "  (-n sets the count for the heap table, default 1000)\n",
            n_list);
}

static void exit_table(const bench_args_t *a, long n, int one_at_a_time)
{
    cfg_t cfg = {n, one_at_a_time};
    char title[160];
    bench_t b;
    snprintf(title, sizeof title, "Parent CPU per child exit, %ld children, %s", n,
             one_at_a_time ? "one at a time (SIGKILL, wait for close, next)" : "all at once");
    bench_init(&b, title, a);
    bench_metric(&b, "us CPU/exit", BENCH_LOWER);
    bench_metric(&b, "wall ms", BENCH_LOWER);
    bench_variant(&b, "pidfd_floor",
                  "the floor: a pidfd per child in one epoll set; `epoll_wait`, then "
                  "`waitid(P_PIDFD)` + `close` per ready pidfd",
                  run_floor, &cfg);
    bench_variant(&b, "uv_spawn", "raw libuv: `uv_spawn` of `/bin/cat`, exit_cb + `uv_close`",
                  run_uv, &cfg);
    bench_variant(&b, "uvproc", "`uvproc_spawn` (default launcher), done at `on_close`", run_uvproc,
                  &cfg);
    bench_baseline(&b, "pidfd_floor");
    bench_run(&b);
    bench_print(&b, stdout);
    floor_print_ratios(&b, 0, "uv_spawn", stdout);
}

static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 1000, .rounds = 3};
    int r = bench_parse_args(&argc, argv, &a, usage);
    cfg_t heap_cfg;
    bench_t b;

    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--counts") == 0 && i + 1 < argc) {
            n_list = argv[++i];
        } else if (strcmp(argv[i], "--all-at-once") == 0) {
            all_at_once_only = 1;
        } else if (strcmp(argv[i], "--no-heap") == 0) {
            no_heap = 1;
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    bench_print_header(stdout, cmd_argc, cmd);
    heap_cfg = (cfg_t){a.n, 0};
    if (no_heap)
        goto exits;
    bench_init(&b, "Parent heap per live child, 3 pipes each", &a);
    bench_metric(&b, "bytes/child", BENCH_LOWER);
    bench_variant(&b, "uv_spawn", "raw libuv: `uv_process_t` + 3 `uv_pipe_t`, malloc'd",
                  run_uv_heap, &heap_cfg);
    bench_variant(&b, "uvproc", "`uvproc_spawn`, default stdio (3 pipes)", run_uvproc_heap,
                  &heap_cfg);
    bench_baseline(&b, "uv_spawn");
    bench_run(&b);
    bench_print(&b, stdout);
exits:
    for (int mode = 0; mode < (all_at_once_only ? 1 : 2); mode++) {
        for (const char *at = n_list; at != NULL && *at != '\0';) {
            char *end;
            long n = strtol(at, &end, 10);
            if (end == at || n <= 0 || n > 100000) {
                fprintf(stderr, "%s: bad --counts list: %s\n", argv[0], n_list);
                return 2;
            }
            exit_table(&a, n, mode);
            at = *end == ',' ? end + 1 : NULL;
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
