/* demos/ls: the main demo. Spawns `ls -lh /usr` with uvproc and streams what it writes as it
 * arrives: its stdout to our stdout, its stderr to our stderr with each line marked, then the
 * exit and close events with the code and signal. Our exit status is the child's.
 *
 *   ls                 ls -lh /usr
 *   ls DIR...          ls -lh DIR...
 *   ls -a -1 /tmp      ls with exactly these arguments (as soon as one starts with '-')
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uvproc.h>

typedef struct {
    int stderr_at_line_start;
    int status; /* what main returns */
} demo_t;

static void usage(const char *prog)
{
    printf("usage: %s [DIR... | ls arguments...]\n"
           "Runs `ls -lh /usr` (or `ls -lh DIR...`, or `ls` with your arguments when one of\n"
           "them starts with '-') through uvproc_spawn, on a libuv loop, and prints:\n"
           "  - the child's stdout, on stdout, chunk by chunk as it arrives;\n"
           "  - the child's stderr, on stderr, each line prefixed with \"[ls stderr] \";\n"
           "  - the spawn, exit and close events (pid, exit code, signal), on stderr.\n"
           "Exits with the child's exit code (128 + signal if it was killed, 1 if it could\n"
           "not start).\n",
           prog);
}

static void on_spawn(uvproc_process_t *p)
{
    fprintf(stderr, "[spawn] pid %d\n", (int)uvproc_pid(p));
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    demo_t *d = uvproc_process_data(p);
    fprintf(stderr, "[error] %s %s: %s (%s)\n", err->syscall, err->path ? err->path : "",
            uvproc_strerror(err->code), uvproc_err_name(err->code));
    d->status = 1;
}

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    demo_t *d = uvproc_process_data(p);
    if (fd == 1) {
        fwrite(buf, 1, len, stdout);
        fflush(stdout); /* keep the order with stderr when both go to a terminal */
        return;
    }
    /* stderr can arrive in any chunks: mark the start of each line, not of each chunk. */
    for (size_t i = 0; i < len; i++) {
        if (d->stderr_at_line_start)
            fputs("[ls stderr] ", stderr);
        fputc(buf[i], stderr);
        d->stderr_at_line_start = buf[i] == '\n';
    }
}

static void on_exit_cb(uvproc_process_t *p, int64_t code, int sig)
{
    fprintf(stderr, "[exit] code %lld, signal %s\n", (long long)code,
            sig ? strsignal(sig) : "none");
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    demo_t *d = uvproc_process_data(p);
    if (!d->stderr_at_line_start)
        fputc('\n', stderr);
    fprintf(stderr, "[close] code %lld, signal %s\n", (long long)code,
            sig ? strsignal(sig) : "none");
    if (sig != 0)
        d->status = 128 + sig;
    else if (code >= 0)
        d->status = code > 255 ? 255 : (int)code;
}

int main(int argc, char **argv)
{
    const char *args[256];
    int n = 0, any_option = 0, err;
    demo_t demo = {.stderr_at_line_start = 1, .status = 1};
    uv_loop_t loop;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(argv[0]);
        return 0;
    }
    if (argc > (int)(sizeof args / sizeof args[0]) - 3) {
        fprintf(stderr, "%s: too many arguments\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++)
        any_option |= argv[i][0] == '-';
    if (!any_option)
        args[n++] = "-lh";
    if (argc == 1)
        args[n++] = "/usr";
    for (int i = 1; i < argc; i++)
        args[n++] = argv[i];
    args[n] = NULL;

    fprintf(stderr, "[run] ls");
    for (int i = 0; i < n; i++)
        fprintf(stderr, " %s", args[i]);
    fputc('\n', stderr);

    uv_loop_init(&loop);
    err = uvproc_spawn(&loop, NULL, "ls", args,
                       &(uvproc_spawn_options_t){
                           .data = &demo,
                           .on_spawn = on_spawn,
                           .on_error = on_error,
                           .on_data = on_data,
                           .on_exit = on_exit_cb,
                           .on_close = on_close,
                       });
    if (err != 0) {
        fprintf(stderr, "uvproc_spawn: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        fprintf(stderr, "the loop did not close cleanly\n");
        return 1;
    }
    return demo.status;
}
