/* demos/find: streams `find /` (tens of MB, hundreds of thousands of lines) through uvproc and
 * counts lines and bytes as they arrive, then prints this process's peak RSS: output is
 * handed over chunk by chunk and never piles up in memory, so the peak stays at a few MiB
 * whatever the size of the output. find's stderr ("Permission denied", ...) is counted, not
 * shown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <uvproc.h>

typedef struct {
    uint64_t out_bytes, out_lines, err_bytes, err_lines;
    uint64_t every, next_report; /* progress every `every` bytes */
    uint64_t t0;                 /* uv_hrtime at spawn */
    long rss_before_kib;
    int status;
} count_t;

static void usage(const char *prog)
{
    printf("usage: %s [--every MiB] [DIR [find expression...]]\n"
           "Runs `find DIR ...` (default: find /) through uvproc_spawn and counts its output\n"
           "as it streams in, printing progress every MiB megabytes (default 8) on stderr,\n"
           "then the totals, find's exit code and this process's peak RSS (getrusage), which\n"
           "stays small however large the output: nothing is buffered beyond one read.\n"
           "find's stderr is counted, not shown. Exits 0 when find ran to its end (code 0,\n"
           "or 1 when some directories were unreadable).\n",
           prog);
}

static long peak_rss_kib(void)
{
    struct rusage ru;
    return getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static double elapsed(const count_t *c)
{
    return (double)(uv_hrtime() - c->t0) / 1e9;
}

static uint64_t count_lines(const char *buf, size_t len)
{
    uint64_t n = 0;
    for (const char *at = buf, *end = buf + len; (at = memchr(at, '\n', (size_t)(end - at))); at++)
        n++;
    return n;
}

static void on_spawn(uvproc_process_t *p)
{
    count_t *c = uvproc_process_data(p);
    fprintf(stderr, "find is pid %d; peak RSS before any output: %.1f MiB\n", (int)uvproc_pid(p),
            (double)c->rss_before_kib / 1024);
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    fprintf(stderr, "could not start: %s %s: %s\n", err->syscall, err->path ? err->path : "",
            uvproc_strerror(err->code));
}

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    count_t *c = uvproc_process_data(p);
    if (fd == 2) {
        c->err_bytes += len;
        c->err_lines += count_lines(buf, len);
        return;
    }
    c->out_bytes += len;
    c->out_lines += count_lines(buf, len);
    if (c->out_bytes >= c->next_report) {
        fprintf(stderr, "  %6.1f MiB  %9llu lines  %5.2f s  peak RSS %.1f MiB\n",
                (double)c->out_bytes / (1 << 20), (unsigned long long)c->out_lines, elapsed(c),
                (double)peak_rss_kib() / 1024);
        c->next_report += c->every;
    }
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    count_t *c = uvproc_process_data(p);
    double secs = elapsed(c);
    printf("stdout: %llu lines, %llu bytes (%.1f MiB) in %.2f s, %.1f MiB/s\n",
           (unsigned long long)c->out_lines, (unsigned long long)c->out_bytes,
           (double)c->out_bytes / (1 << 20), secs, (double)c->out_bytes / (1 << 20) / secs);
    printf("stderr: %llu lines, %llu bytes (counted, not shown)\n",
           (unsigned long long)c->err_lines, (unsigned long long)c->err_bytes);
    printf("find closed: code %lld, signal %d\n", (long long)code, sig);
    printf("peak RSS of this process: %.1f MiB (%.1f MiB before spawning)\n",
           (double)peak_rss_kib() / 1024, (double)c->rss_before_kib / 1024);
    if (sig == 0 && (code == 0 || code == 1))
        c->status = 0;
}

int main(int argc, char **argv)
{
    const char **args;
    int first = 1, n = 0, err;
    count_t c = {.every = 8u << 20, .status = 1};
    uv_loop_t loop;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(argv[0]);
        return 0;
    }
    if (argc > 2 && strcmp(argv[1], "--every") == 0) {
        char *end;
        long mib = strtol(argv[2], &end, 10);
        if (*end != '\0' || mib <= 0) {
            fprintf(stderr, "%s: bad --every value: %s\n", argv[0], argv[2]);
            return 2;
        }
        c.every = (uint64_t)mib << 20;
        first = 3;
    }
    args = calloc((size_t)(argc - first) + 2, sizeof *args);
    if (args == NULL)
        return 1;
    if (first >= argc)
        args[n++] = "/";
    for (int i = first; i < argc; i++)
        args[n++] = argv[i];
    c.next_report = c.every;

    fprintf(stderr, "streaming: find");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", args[i]);
    fputc('\n', stderr);

    uv_loop_init(&loop);
    c.rss_before_kib = peak_rss_kib();
    c.t0 = uv_hrtime();
    err =
        uvproc_spawn(&loop, NULL, "find", args,
                     &(uvproc_spawn_options_t){
                         .data = &c,
                         .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_PIPE}, {.type = UVPROC_STDIO_PIPE}},
                         .on_spawn = on_spawn,
                         .on_error = on_error,
                         .on_data = on_data,
                         .on_close = on_close,
                     });
    if (err != 0) {
        fprintf(stderr, "uvproc_spawn: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    free(args);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "the loop did not close cleanly\n");
        return 1;
    }
    return c.status;
}
