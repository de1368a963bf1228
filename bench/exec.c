/* bench/exec: exec('echo hi') end to end, N sequential calls, through uvproc (exec, execFile,
 * exec_sync, the uv_spawn launcher), raw libuv, Node's child_process.exec and the raw bound
 * (posix_spawn of `/bin/sh -c 'echo hi'` with two pipes, poll + read to EOF, waitpid),
 * interleaved in one run (bench.h). The question it answers: what does uvproc's exec add to
 * running a shell command and collecting its output, against the raw bound and against Node?
 * Every call's output is checked ("hi\n" on stdout, nothing on stderr, exit code 0).
 *
 *   bench/exec [-n 500] [-r 5] [--only c_posix_spawn,uvproc_exec]
 */
#include <errno.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif

#define COMMAND "echo hi"
#define EXPECTED "hi\n"
#define EXPECTED_LEN 3

typedef struct {
    long n;
    const char *self_variant, *launcher; /* run_self only */
} variant_arg_t;

static void fill_metrics(double *m, long n, double secs)
{
    m[0] = secs * 1e6 / (double)n;
    m[1] = (double)n / secs;
}

/* What every variant must have captured from one call. */
static int output_ok(const char *who, const char *out, size_t out_len, size_t err_len)
{
    if (out_len == EXPECTED_LEN && memcmp(out, EXPECTED, EXPECTED_LEN) == 0 && err_len == 0)
        return 1;
    fprintf(stderr, "%s: unexpected output (%zu bytes on stdout: \"%.*s\", %zu on stderr)\n", who,
            out_len, (int)(out_len < 64 ? out_len : 64), out, err_len);
    return 0;
}

/* --- raw posix_spawn of sh -c + poll/read + waitpid: the bound ------------------------------ */

/* One call: returns 0 when the child printed exactly "hi\n", nothing on stderr, and exited 0. */
static int raw_exec_once(void)
{
    char *argv[] = {"/bin/sh", "-c", COMMAND, NULL};
    posix_spawn_file_actions_t fa;
    int out[2], err[2], status, rc;
    char buf[2][256];
    size_t len[2] = {0, 0};
    struct pollfd pfd[2];
    pid_t pid;

    if (pipe2(out, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(err, O_CLOEXEC) != 0) {
        close(out[0]);
        close(out[1]);
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, err[1], 2);
    rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out[1]);
    close(err[1]);
    if (rc != 0) {
        fprintf(stderr, "posix_spawn: %s\n", strerror(rc));
        close(out[0]);
        close(err[0]);
        return -1;
    }
    pfd[0] = (struct pollfd){.fd = out[0], .events = POLLIN};
    pfd[1] = (struct pollfd){.fd = err[0], .events = POLLIN};
    while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < 2; i++) {
            ssize_t r;
            if (pfd[i].fd < 0 || pfd[i].revents == 0)
                continue;
            r = read(pfd[i].fd, buf[i] + len[i], sizeof buf[i] - len[i]);
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0 || (len[i] += (size_t)r) == sizeof buf[i]) {
                close(pfd[i].fd);
                pfd[i].fd = -1;
            }
        }
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "posix_spawn: child status 0x%x\n", status);
        return -1;
    }
    return output_ok("c_posix_spawn", buf[0], len[0], len[1]) ? 0 : -1;
}

static int run_posix_spawn(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    double t0 = bench_now();
    for (long i = 0; i < va->n; i++)
        if (raw_exec_once() != 0)
            return -1;
    fill_metrics(m, va->n, bench_now() - t0);
    return 0;
}

/* --- raw libuv: uv_spawn of sh -c with 3 UV_CREATE_PIPE, as Node's exec sets it up ------------ */

typedef struct {
    uv_loop_t loop;
    const variant_arg_t *va;
    long done;
    int failed;
} uvx_run_t;

typedef struct {
    uv_process_t proc;
    uv_pipe_t pipes[3];
    uvx_run_t *run;
    char out[256], err[256];
    size_t out_len, err_len;
    int pending; /* handles not closed yet */
    int64_t status;
} uvx_call_t;

static void uvx_start(uvx_run_t *r);

static void uvx_closed(uv_handle_t *h)
{
    uvx_call_t *c = h->data;
    uvx_run_t *r = c->run;
    if (--c->pending > 0)
        return;
    if (c->status != 0 || !output_ok("uv_exec", c->out, c->out_len, c->err_len))
        r->failed = 1;
    free(c);
    r->done++;
    if (r->done < r->va->n && !r->failed)
        uvx_start(r);
}

static void uvx_exit(uv_process_t *proc, int64_t status, int sig)
{
    uvx_call_t *c = proc->data;
    c->status = sig != 0 ? -1 : status;
    uv_close((uv_handle_t *)proc, uvx_closed);
}

static void uvx_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    uvx_call_t *c = h->data;
    int is_err = h == (uv_handle_t *)&c->pipes[2];
    size_t used = is_err ? c->err_len : c->out_len;
    (void)size;
    *buf = uv_buf_init((is_err ? c->err : c->out) + used, (unsigned)(sizeof c->out - used));
}

static void uvx_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    uvx_call_t *c = s->data;
    (void)buf;
    if (nread > 0) {
        size_t *len = s == (uv_stream_t *)&c->pipes[2] ? &c->err_len : &c->out_len;
        *len += (size_t)nread;
        if (*len < sizeof c->out)
            return;
    } else if (nread == 0) {
        return;
    }
    /* EOF, an error, or more than an "hi\n" can explain (the check will fail). */
    uv_close((uv_handle_t *)s, uvx_closed);
}

static void uvx_start(uvx_run_t *r)
{
    uvx_call_t *c = calloc(1, sizeof *c);
    char *argv[] = {"/bin/sh", "-c", COMMAND, NULL};
    uv_stdio_container_t stdio[3];
    uv_process_options_t o = {0};
    int err;

    if (c == NULL) {
        r->failed = 1;
        return;
    }
    c->run = r;
    for (int fd = 0; fd < 3; fd++) {
        uv_pipe_init(&r->loop, &c->pipes[fd], 0);
        c->pipes[fd].data = c;
        stdio[fd].flags = UV_CREATE_PIPE | (fd == 0 ? UV_READABLE_PIPE : UV_WRITABLE_PIPE);
        stdio[fd].data.stream = (uv_stream_t *)&c->pipes[fd];
    }
    o.file = argv[0];
    o.args = argv;
    o.exit_cb = uvx_exit;
    o.stdio = stdio;
    o.stdio_count = 3;
    c->proc.data = c;
    c->pending = 4;
    err = uv_spawn(&r->loop, &c->proc, &o);
    if (err != 0) {
        fprintf(stderr, "uv_spawn: %s\n", uv_strerror(err));
        r->failed = 1;
        c->status = -1;
        uv_close((uv_handle_t *)&c->proc, uvx_closed);
        for (int fd = 0; fd < 3; fd++)
            uv_close((uv_handle_t *)&c->pipes[fd], uvx_closed);
        return;
    }
    /* Node's exec ends stdin at once (no input); the child gets EOF. */
    uv_close((uv_handle_t *)&c->pipes[0], uvx_closed);
    for (int fd = 1; fd < 3; fd++)
        uv_read_start((uv_stream_t *)&c->pipes[fd], uvx_alloc, uvx_read);
}

static int run_uv(void *arg, double *m)
{
    uvx_run_t r = {.va = arg};
    double t0;
    if (uv_loop_init(&r.loop) != 0)
        return -1;
    t0 = bench_now();
    uvx_start(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    fill_metrics(m, r.va->n, bench_now() - t0);
    if (uv_loop_close(&r.loop) != 0)
        r.failed = 1;
    return r.failed || r.done != r.va->n ? -1 : 0;
}

/* --- uvproc_exec / uvproc_exec_file, one after the other ------------------------------------- */

typedef struct {
    uv_loop_t loop;
    const variant_arg_t *va;
    int file; /* uvproc_exec_file("echo", {"hi"}) rather than uvproc_exec("echo hi") */
    long done;
    int failed;
} uvp_run_t;

static void uvp_start(uvp_run_t *r);

static void uvp_done(const uvproc_exec_result_t *res, void *data)
{
    uvp_run_t *r = data;
    if (res->error != 0) {
        fprintf(stderr, "uvproc_exec: %s\n", uvproc_strerror(res->error));
        r->failed = 1;
    } else if (!output_ok("uvproc_exec", res->out, res->out_len, res->err_len)) {
        r->failed = 1;
    }
    r->done++;
    if (r->done < r->va->n && !r->failed)
        uvp_start(r);
}

static void uvp_start(uvp_run_t *r)
{
    static const char *const args[] = {"hi", NULL};
    int err = r->file ? uvproc_exec_file(&r->loop, NULL, "echo", args, NULL, uvp_done, r)
                      : uvproc_exec(&r->loop, NULL, COMMAND, NULL, uvp_done, r);
    if (err != 0) {
        fprintf(stderr, "uvproc_exec: %s\n", uvproc_strerror(err));
        r->failed = 1;
    }
}

static int run_uvproc(void *arg, double *m, int file)
{
    uvp_run_t r = {.va = arg, .file = file};
    double t0;
    if (uv_loop_init(&r.loop) != 0)
        return -1;
    t0 = bench_now();
    uvp_start(&r);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    fill_metrics(m, r.va->n, bench_now() - t0);
    if (uv_loop_close(&r.loop) != 0)
        r.failed = 1;
    return r.failed || r.done != r.va->n ? -1 : 0;
}

static int run_uvproc_exec(void *arg, double *m)
{
    return run_uvproc(arg, m, 0);
}

static int run_uvproc_exec_file(void *arg, double *m)
{
    return run_uvproc(arg, m, 1);
}

/* --- uvproc_exec_sync --------------------------------------------------------------------- */

static int run_uvproc_sync(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    double t0 = bench_now();
    for (long i = 0; i < va->n; i++) {
        uvproc_exec_result_t res;
        int ok, err = uvproc_exec_sync(COMMAND, NULL, &res);
        if (err == UV_EINVAL) {
            fprintf(stderr, "uvproc_exec_sync: %s\n", uvproc_strerror(err));
            return -1;
        }
        ok = err == 0 && output_ok("uvproc_exec_sync", res.out, res.out_len, res.err_len);
        if (err != 0)
            fprintf(stderr, "uvproc_exec_sync: %s\n", uvproc_strerror(err));
        uvproc_exec_result_free(&res);
        if (!ok)
            return -1;
    }
    fill_metrics(m, va->n, bench_now() - t0);
    return 0;
}

/* --- Node's child_process.exec (a subprocess that times itself) ------------------------------ */

static int run_node(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    char n[32];
    char *argv[] = {(char *)bench_node(), BENCH_NODE_DIR "/exec.js", n, NULL};
    const char *keys[] = {"us_per_call", "calls_per_s"};
    snprintf(n, sizeof n, "%ld", va->n);
    return bench_subprocess(argv, keys, m, 2);
}

/* --- uvproc with another launcher: this program again, in a fresh process ------------------ */

/* The library reads UVPROC_LAUNCHER once per process: `exec --run-variant uvproc_exec -n N`. */
static int run_self(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    char n[32], launcher[64];
    char *argv[] = {"/proc/self/exe", "-n", n, "--run-variant", (char *)va->self_variant, NULL};
    const char *env[] = {launcher, NULL};
    const char *keys[] = {"us_per_call", "calls_per_s"};
    snprintf(n, sizeof n, "%ld", va->n);
    snprintf(launcher, sizeof launcher, "UVPROC_LAUNCHER=%s", va->launcher);
    return bench_subprocess_env(env, argv, keys, m, 2);
}

/* --- main ------------------------------------------------------------------------------------ */

static const struct {
    const char *name;
    bench_fn fn;
    const char *self_variant, *launcher; /* run_self: what to run, under which launcher */
    const char *desc;
} variants[] = {
    {"c_posix_spawn", run_posix_spawn, NULL, NULL,
     "`posix_spawn` of `/bin/sh -c 'echo hi'` with stdout and stderr pipes, `poll` + `read` to "
     "EOF, `waitpid`: the bound"},
    {"uv_exec", run_uv, NULL, NULL,
     "raw `uv_spawn` of `/bin/sh -c 'echo hi'` with 3 `UV_CREATE_PIPE` (stdin closed at once), "
     "stdout/stderr read to EOF; done when the process and the pipes are closed"},
    {"uvproc_exec", run_uvproc_exec, NULL, NULL,
     "`uvproc_exec(loop, NULL, \"echo hi\", NULL, cb, ...)`, default launcher; the next call "
     "starts "
     "from the callback"},
    {"uvproc_exec_file", run_uvproc_exec_file, NULL, NULL,
     "`uvproc_exec_file(loop, NULL, \"echo\", {\"hi\"}, ...)`: no shell, `echo` found in PATH "
     "(`/usr/bin/echo`); less work than the others (one exec, not `sh` then its builtin)"},
    {"uvproc_exec_sync", run_uvproc_sync, NULL, NULL,
     "`uvproc_exec_sync(\"echo hi\", NULL, &res)` (a private loop per call)"},
    {"uvproc_uvl_exec", run_self, "uvproc_exec", "uv",
     "`uvproc_exec` with `UVPROC_LAUNCHER=uv` (the uv_spawn launcher), in a fresh process of "
     "its own"},
    {"node_exec", run_node, NULL, NULL,
     "`node bench/node/exec.js N`: `child_process.exec('echo hi', cb)`, the next call from the "
     "callback"},
};
#define VARIANT_COUNT (sizeof variants / sizeof variants[0])

static void usage(FILE *out)
{
    fprintf(out,
            "  --run-variant V  run in-process variant V once, print us_per_call=... (used by\n"
            "               the variants that need a fresh process)\nvariants:");
    for (size_t i = 0; i < VARIANT_COUNT; i++)
        fprintf(out, " %s%s", variants[i].name, i == 0 ? " (baseline)" : "");
    fprintf(out, "\n");
}

/* --run-variant: one in-process variant, once, its numbers on stdout for run_self. */
static int run_variant_once(const char *name, long n)
{
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        variant_arg_t va = {n, NULL, NULL};
        double m[2];
        if (strcmp(variants[i].name, name) != 0 || variants[i].self_variant != NULL)
            continue;
        if (variants[i].fn(&va, m) != 0)
            return 1;
        printf("us_per_call=%.1f calls_per_s=%.1f n=%ld\n", m[0], m[1], n);
        return 0;
    }
    fprintf(stderr, "no in-process variant named %s\n", name);
    return 2;
}

static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 500, .rounds = 5};
    const char *only_variant = NULL;
    variant_arg_t args[VARIANT_COUNT];
    char title[160];
    bench_t b;
    int r = bench_parse_args(&argc, argv, &a, usage);

    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--run-variant") == 0 && i + 1 < argc) {
            only_variant = argv[++i];
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (only_variant != NULL)
        return run_variant_once(only_variant, a.n);
    bench_print_header(stdout, cmd_argc, cmd);
    snprintf(title, sizeof title, "exec('echo hi') end to end, %ld sequential calls", a.n);
    bench_init(&b, title, &a);
    bench_metric(&b, "us/call", BENCH_LOWER);
    bench_metric(&b, "calls/s", BENCH_HIGHER);
    for (size_t i = 0; i < VARIANT_COUNT; i++) {
        args[i] = (variant_arg_t){a.n, variants[i].self_variant, variants[i].launcher};
        bench_variant(&b, variants[i].name, variants[i].desc, variants[i].fn, &args[i]);
    }
    bench_baseline(&b, "c_posix_spawn");
    if (bench_node() == NULL)
        bench_disable(&b, "node_exec", "node not found (set NODE=/path/to/node)");
    bench_run(&b);
    bench_print(&b, stdout);
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
