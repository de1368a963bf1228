/* Child stdout bandwidth: a child writes -n MiB (default 2048) of zeros to its stdout
 * (`head -c BYTES /dev/zero`) and the parent reads every byte, through uvproc's on_data,
 * through raw libuv (uv_spawn + uv_read_start), through raw posix_spawn + a blocking read()
 * loop, and through the floors (bench/floor.h starts the child the cheapest way): a plain
 * blocking read() loop on a pipe grown to 1 MiB with a 1 MiB buffer (the cheapest way to SEE
 * every byte), and splice() to /dev/null (the cheapest way to FORWARD them: the bytes never
 * reach user space). Interleaved. Primary metric: the parent's CPU per GiB (task clock), which
 * a loaded machine disturbs less than MiB/s (wall), the second column.
 *
 * Forwarding through uvproc is not a read loop at all: the child is given the destination fd
 * (UVPROC_STDIO_FD) and the parent never touches the bytes; `uvproc_fd` measures that. */
#include <signal.h>
#include <uv.h>

#include "bench.h"
#include "floor.h"
#include "uvproc.h"

extern char **environ;

typedef struct {
    long mib;
} cfg_t;

static char bytes_arg[32];
static char *head_argv[] = {"head", "-c", bytes_arg, "/dev/zero", NULL};
static size_t got;

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int finish(const cfg_t *c, double w0, double t0, double *m)
{
    double secs = bench_now() - w0, cpu = cpu_now() - t0;
    m[0] = cpu * 1024.0 / (double)c->mib;
    m[1] = (double)c->mib / secs;
    return got != (size_t)c->mib << 20;
}

static void uvproc_on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    (void)p;
    (void)fd;
    (void)buf;
    got += len;
}

static int run_uvproc(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    uvproc_spawn_options_t o = {.stdio = {{.type = UVPROC_STDIO_IGNORE},
                                          {.type = UVPROC_STDIO_PIPE},
                                          {.type = UVPROC_STDIO_INHERIT}},
                                .on_data = uvproc_on_data};
    double w0 = bench_now(), t0 = cpu_now();

    got = 0;
    if (uv_loop_init(&loop) != 0 ||
        uvproc_spawn(&loop, NULL, "head", (const char *const *)head_argv + 1, &o) != 0)
        return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        return 1;
    return finish(c, w0, t0, m);
}

static char uv_buf[65536];
static void uv_alloc(uv_handle_t *h, size_t size, uv_buf_t *b)
{
    (void)h;
    (void)size;
    *b = uv_buf_init(uv_buf, sizeof uv_buf);
}

static void uv_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n > 0)
        got += (size_t)n;
    else if (n < 0)
        uv_close((uv_handle_t *)s, NULL);
}

static void uv_exited(uv_process_t *p, int64_t status, int signal)
{
    (void)status;
    (void)signal;
    uv_close((uv_handle_t *)p, NULL);
}

static int run_uv(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    uv_pipe_t out;
    uv_process_t proc;
    uv_stdio_container_t io[3] = {{.flags = UV_IGNORE},
                                  {.flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE},
                                  {.flags = UV_INHERIT_FD, .data.fd = 2}};
    uv_process_options_t o = {
        .exit_cb = uv_exited, .file = "head", .args = head_argv, .stdio_count = 3, .stdio = io};
    double w0 = bench_now(), t0 = cpu_now();

    got = 0;
    if (uv_loop_init(&loop) != 0 || uv_pipe_init(&loop, &out, 0) != 0)
        return 1;
    io[1].data.stream = (uv_stream_t *)&out;
    if (uv_spawn(&loop, &proc, &o) != 0)
        return 1;
    uv_read_start((uv_stream_t *)&out, uv_alloc, uv_read);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0)
        return 1;
    return finish(c, w0, t0, m);
}

static int run_read(void *arg, double *m)
{
    const cfg_t *c = arg;
    posix_spawn_file_actions_t fa;
    int p[2], status;
    pid_t pid;
    ssize_t n;
    double w0 = bench_now(), t0 = cpu_now();

    got = 0;
    if (pipe2(p, O_CLOEXEC) != 0)
        return 1;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    if (posix_spawnp(&pid, "head", &fa, NULL, head_argv, environ) != 0)
        return 1;
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    while ((n = read(p[0], uv_buf, sizeof uv_buf)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        got += (size_t)n;
    }
    close(p[0]);
    waitpid(pid, &status, 0);
    return finish(c, w0, t0, m);
}

/* The child through the floor's clone, its stdout the write end of a fresh pipe grown to
 * 1 MiB (F_SETPIPE_SZ); returns the read end, or -1. */
static int floor_head(int *pidfd)
{
    static const char *const dirs[] = {"/usr/bin/head", "/bin/head"};
    int p[2], fds[3] = {-1, -1, 2};
    const char *path = access(dirs[0], X_OK) == 0 ? dirs[0] : dirs[1];
    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
    fds[1] = p[1];
    *pidfd = floor_spawn(path, head_argv, fds);
    close(fds[0]);
    close(p[1]);
    if (*pidfd < 0) {
        close(p[0]);
        return -1;
    }
    return p[0];
}

static int run_floor_read(void *arg, double *m)
{
    const cfg_t *c = arg;
    static char *buf;
    const size_t size = 1 << 20;
    int fd, pidfd;
    ssize_t n;
    double w0 = bench_now(), t0 = cpu_now();

    got = 0;
    if (buf == NULL && (buf = aligned_alloc(4096, size)) == NULL)
        return 1;
    if ((fd = floor_head(&pidfd)) < 0)
        return 1;
    while ((n = read(fd, buf, size)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        got += (size_t)n;
    }
    close(fd);
    floor_reap(pidfd, 0);
    close(pidfd);
    return finish(c, w0, t0, m);
}

static int run_floor_splice(void *arg, double *m)
{
    const cfg_t *c = arg;
    int fd, pidfd, null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    ssize_t n;
    double w0 = bench_now(), t0 = cpu_now();

    got = 0;
    if (null < 0 || (fd = floor_head(&pidfd)) < 0)
        return 1;
    while ((n = splice(fd, NULL, null, NULL, 1 << 20, SPLICE_F_MOVE)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        got += (size_t)n;
    }
    close(fd);
    close(null);
    floor_reap(pidfd, 0);
    close(pidfd);
    return finish(c, w0, t0, m);
}

/* Forwarding as uvproc does it: the child writes to the destination itself. */
static int run_uvproc_fd(void *arg, double *m)
{
    const cfg_t *c = arg;
    uv_loop_t loop;
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
    uvproc_spawn_options_t o = {.stdio = {{.type = UVPROC_STDIO_IGNORE},
                                          {.type = UVPROC_STDIO_FD, .fd = null},
                                          {.type = UVPROC_STDIO_INHERIT}}};
    double w0 = bench_now(), t0 = cpu_now();

    if (null < 0 || uv_loop_init(&loop) != 0 ||
        uvproc_spawn(&loop, NULL, "head", (const char *const *)head_argv + 1, &o) != 0)
        return 1;
    uv_run(&loop, UV_RUN_DEFAULT);
    close(null);
    if (uv_loop_close(&loop) != 0)
        return 1;
    got = (size_t)c->mib << 20; /* not seen by the parent: that is the point */
    return finish(c, w0, t0, m);
}

static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 2048, .rounds = 3};
    int r = bench_parse_args(&argc, argv, &a, NULL);
    cfg_t cfg;
    bench_t b;
    char title[96];

    if (r != 0)
        return r > 0 ? 0 : 2;
    cfg.mib = a.n;
    snprintf(bytes_arg, sizeof bytes_arg, "%ld", a.n << 20);
    snprintf(title, sizeof title, "Child stdout to the parent, %ld MiB per round", a.n);
    bench_print_header(stdout, cmd_argc, cmd);
    bench_init(&b, title, &a);
    bench_metric(&b, "parent CPU s/GiB", BENCH_LOWER);
    bench_metric(&b, "MiB/s", BENCH_HIGHER);
    bench_variant(&b, "pipe_read_floor",
                  "the floor for seeing the bytes: a pipe grown to 1 MiB (`F_SETPIPE_SZ`), "
                  "blocking `read()` into a 1 MiB buffer",
                  run_floor_read, &cfg);
    bench_variant(&b, "splice_floor",
                  "the floor for forwarding them: the same pipe, `splice()` to /dev/null",
                  run_floor_splice, &cfg);
    bench_variant(&b, "read", "raw `posix_spawn` + blocking `read()` of a default pipe, 64 KiB",
                  run_read, &cfg);
    bench_variant(&b, "uv_spawn", "raw libuv: `uv_spawn`, `UV_CREATE_PIPE`, `uv_read_start`",
                  run_uv, &cfg);
    bench_variant(&b, "uvproc", "`uvproc_spawn`, stdout piped, counted in `on_data`", run_uvproc,
                  &cfg);
    bench_variant(&b, "uvproc_fd",
                  "forwarding through uvproc: `UVPROC_STDIO_FD` to /dev/null, the parent never "
                  "sees the bytes",
                  run_uvproc_fd, &cfg);
    bench_baseline(&b, "pipe_read_floor");
    bench_run(&b);
    bench_print(&b, stdout);
    floor_print_ratios(&b, 0, "splice_floor", stdout);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
