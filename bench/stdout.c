/* Child stdout bandwidth: a child writes -n MiB (default 2048) of zeros to its stdout
 * (`head -c BYTES /dev/zero`) and the parent reads every byte, through uvproc's on_data,
 * through raw libuv (uv_spawn + uv_read_start), and through raw posix_spawn + a blocking
 * read() loop (the bound), interleaved. Metrics: MiB/s (wall) and the parent's CPU per GiB
 * (task clock), which a loaded machine disturbs less. */
#include <signal.h>
#include <uv.h>

#include "bench.h"
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
    m[0] = (double)c->mib / secs;
    m[1] = cpu * 1024.0 / (double)c->mib;
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
    bench_metric(&b, "MiB/s", BENCH_HIGHER);
    bench_metric(&b, "parent CPU s/GiB", BENCH_LOWER);
    bench_variant(&b, "read", "raw `posix_spawn` + blocking `read()` of a pipe, 64 KiB: the bound",
                  run_read, &cfg);
    bench_variant(&b, "uv_spawn", "raw libuv: `uv_spawn`, `UV_CREATE_PIPE`, `uv_read_start`",
                  run_uv, &cfg);
    bench_variant(&b, "uvproc", "`uvproc_spawn`, stdout piped, counted in `on_data`", run_uvproc,
                  &cfg);
    bench_baseline(&b, "read");
    bench_run(&b);
    bench_print(&b, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
