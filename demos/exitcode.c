/* demos/exitcode: how a child's end is reported. Four children run at once on one loop: one
 * succeeds, one fails on a missing file, one sets its own exit code, one is killed by a signal
 * right after its spawn event. Each line shows the (code, signal) pair that on_exit and
 * on_close deliver: a signal death has code -1, a normal exit has signal 0. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <uvproc.h>

typedef struct {
    const char *what;
    const char *file;
    const char *args[4];
    int64_t want_code;
    int want_signal;
    int kill_at_spawn;
    /* filled by the events */
    int64_t exit_code;
    int exit_signal;
    int64_t close_code;
    int close_signal;
    int closed;
    char err[256];
    size_t err_len;
} child_t;

static child_t children[] = {
    {.what = "succeeds", .file = "true", .want_code = 0},
    {.what = "fails: missing file", .file = "cat", .args = {"/nonexistent/file"}, .want_code = 1},
    {.what = "sets its own code", .file = "sh", .args = {"-c", "exit 42"}, .want_code = 42},
    {.what = "killed by a signal",
     .file = "sleep",
     .args = {"10"},
     .want_code = -1,
     .want_signal = SIGKILL,
     .kill_at_spawn = 1},
};
#define CHILD_COUNT (sizeof children / sizeof children[0])

static const char *signal_name(int sig)
{
    static const struct {
        int sig;
        const char *name;
    } names[] = {
        {SIGHUP, "SIGHUP"},   {SIGINT, "SIGINT"},   {SIGQUIT, "SIGQUIT"}, {SIGILL, "SIGILL"},
        {SIGABRT, "SIGABRT"}, {SIGFPE, "SIGFPE"},   {SIGKILL, "SIGKILL"}, {SIGSEGV, "SIGSEGV"},
        {SIGPIPE, "SIGPIPE"}, {SIGALRM, "SIGALRM"}, {SIGTERM, "SIGTERM"}, {SIGUSR1, "SIGUSR1"},
        {SIGUSR2, "SIGUSR2"}, {SIGBUS, "SIGBUS"},   {SIGSTOP, "SIGSTOP"}, {SIGCONT, "SIGCONT"},
    };
    static char other[16];
    if (sig == 0)
        return "none";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}

/* "sh -c 'exit 42'": arguments with a space are quoted, as one would type them. */
static void format_command(const child_t *c, char *buf, size_t size)
{
    size_t len = (size_t)snprintf(buf, size, "%s", c->file);
    for (int i = 0; c->args[i] != NULL && len < size; i++) {
        const char *q = strchr(c->args[i], ' ') != NULL ? "'" : "";
        len += (size_t)snprintf(buf + len, size - len, " %s%s%s", q, c->args[i], q);
    }
}

static void usage(const char *prog)
{
    printf("usage: %s\n"
           "Runs four children concurrently with uvproc_spawn on one libuv loop and prints the\n"
           "exit code and signal of each:\n"
           "  true                       succeeds            -> code 0\n"
           "  cat /nonexistent/file      fails               -> code 1\n"
           "  sh -c 'exit 42'            sets its own code   -> code 42\n"
           "  sleep 10                   killed with SIGKILL right after its spawn event\n"
           "                                                 -> code -1, signal SIGKILL\n"
           "Exits 0 when all four ended as expected.\n",
           prog);
}

static void on_spawn(uvproc_process_t *p)
{
    child_t *c = uvproc_process_data(p);
    if (c->kill_at_spawn) {
        int err = uvproc_kill(p, SIGKILL);
        printf("%-22s pid %d: sent SIGKILL (%s)\n", c->what, (int)uvproc_pid(p),
               err == 0 ? "ok" : uvproc_strerror(err));
    }
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    child_t *c = uvproc_process_data(p);
    printf("%-22s could not start: %s %s: %s\n", c->what, err->syscall, err->path ? err->path : "",
           uvproc_strerror(err->code));
}

/* The child's stderr (cat's complaint) is kept and shown with its result. */
static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    child_t *c = uvproc_process_data(p);
    size_t room = sizeof c->err - 1 - c->err_len;
    if (fd != 2)
        return;
    if (len > room)
        len = room;
    memcpy(c->err + c->err_len, buf, len);
    c->err_len += len;
}

static void on_exit_cb(uvproc_process_t *p, int64_t code, int sig)
{
    child_t *c = uvproc_process_data(p);
    c->exit_code = code;
    c->exit_signal = sig;
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    child_t *c = uvproc_process_data(p);
    c->close_code = code;
    c->close_signal = sig;
    c->closed = 1;
    /* Printed as each one closes: they finish in their own order, not the start order. */
    printf("%-22s pid %-7d closed: code %lld, signal %s\n", c->what, (int)uvproc_pid(p),
           (long long)code, signal_name(sig));
    if (c->err_len > 0) {
        while (c->err_len > 0 && c->err[c->err_len - 1] == '\n')
            c->err_len--;
        printf("%-22s   its stderr: %.*s\n", "", (int)c->err_len, c->err);
    }
}

int main(int argc, char **argv)
{
    uv_loop_t loop;
    int ok = 1;

    if (argc > 1) {
        usage(argv[0]);
        return strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ? 0 : 2;
    }
    uv_loop_init(&loop);
    for (size_t i = 0; i < CHILD_COUNT; i++) {
        child_t *c = &children[i];
        uvproc_spawn_options_t opts = {
            .data = c,
            .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_PIPE}},
            .on_spawn = on_spawn,
            .on_error = on_error,
            .on_data = on_data,
            .on_exit = on_exit_cb,
            .on_close = on_close,
        };
        int err = uvproc_spawn(&loop, NULL, c->file, c->args, &opts);
        if (err != 0) {
            printf("%-22s uvproc_spawn: %s\n", c->what, uvproc_strerror(err));
            return 1;
        }
    }
    printf("started %zu children on one loop\n", CHILD_COUNT);
    uv_run(&loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&loop) != 0) {
        printf("the loop did not close cleanly\n");
        ok = 0;
    }

    printf("\n%-22s %-24s %-16s %-16s %s\n", "child", "command", "code (want)", "signal", "result");
    for (size_t i = 0; i < CHILD_COUNT; i++) {
        child_t *c = &children[i];
        char cmd[64], code[32];
        int good = c->closed && c->close_code == c->want_code &&
                   c->close_signal == c->want_signal && c->exit_code == c->close_code &&
                   c->exit_signal == c->close_signal;
        format_command(c, cmd, sizeof cmd);
        snprintf(code, sizeof code, "%lld (%lld)", (long long)c->close_code,
                 (long long)c->want_code);
        printf("%-22s %-24s %-16s %-16s %s\n", c->what, cmd, code, signal_name(c->close_signal),
               good ? "ok" : "UNEXPECTED");
        ok &= good;
    }
    return ok ? 0 : 1;
}
