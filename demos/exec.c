/* demos/exec: Node's exec/execFile examples, in C. Runs exec("pwd") through the shell, then
 * execFile("ls", ["-l", PATH]) without one, both on one libuv loop, and prints for each the
 * error (if any), stdout and stderr, as the examples of Node's documentation do. Then the same
 * execFile once more through uvproc_exec_file_sync, which blocks and returns the result.
 *
 *   exec            PATH is /usr
 *   exec PATH       ls -l PATH (try a missing path: ls exits 2, the error is EEXITCODE)
 */
#include <stdio.h>
#include <string.h>

#include <uvproc.h>

static void usage(const char *prog)
{
    printf("usage: %s [PATH]\n"
           "Runs, on one libuv loop:\n"
           "  uvproc_exec(\"pwd\")                     (through /bin/sh -c)\n"
           "  uvproc_exec_file(\"ls\", [\"-l\", PATH])   (no shell; PATH defaults to /usr)\n"
           "then the same execFile with uvproc_exec_file_sync, and prints for each the error\n"
           "(name and message, with the exit code or signal), the stdout and the stderr.\n"
           "Try a PATH that does not exist to see an EEXITCODE error with ls's stderr.\n"
           "Exits 0 if every command succeeded, else 1.\n",
           prog);
}

static int failures;

static void print_result(const char *what, const uvproc_exec_result_t *r)
{
    printf("== %s (cmd: %s, pid %d)\n", what, r->cmd, (int)r->pid);
    if (r->error != 0) {
        failures++;
        printf("exec error: %s: %s", uvproc_err_name(r->error), uvproc_strerror(r->error));
        if (r->syscall != NULL)
            printf(" (syscall %s)", r->syscall);
        if (r->exit_code >= 0 && r->error == UVPROC_EEXITCODE)
            printf(" (exit code %lld)", (long long)r->exit_code);
        if (r->term_signal != 0)
            printf(" (signal %s%s)", strsignal(r->term_signal), r->killed ? ", killed by us" : "");
        if (r->truncated)
            printf(" (output truncated)");
        printf("\n");
    }
    /* Output is binary-safe: out_len counts every byte, NULs included. */
    printf("stdout: %.*s", (int)r->out_len, r->out);
    if (r->out_len == 0 || r->out[r->out_len - 1] != '\n')
        printf("\n");
    printf("stderr: %.*s", (int)r->err_len, r->err);
    if (r->err_len == 0 || r->err[r->err_len - 1] != '\n')
        printf("\n");
}

static void on_done(const uvproc_exec_result_t *result, void *data)
{
    print_result(data, result); /* the result is borrowed: print it now */
}

int main(int argc, char **argv)
{
    const char *path = "/usr";
    uv_loop_t *loop = uv_default_loop();
    uvproc_exec_options_t opts = {.timeout_ms = 10000}; /* zero-initialised: Node's defaults */
    uvproc_exec_result_t sync_result;
    int err;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(argv[0]);
        return 0;
    }
    if (argc > 1)
        path = argv[1];
    const char *ls_args[] = {"-l", path, NULL};

    err = uvproc_exec(loop, NULL, "pwd", &opts, on_done, "exec(\"pwd\")");
    if (err == 0)
        err = uvproc_exec_file(loop, NULL, "ls", ls_args, &opts, on_done, "execFile(\"ls\")");
    if (err != 0) {
        fprintf(stderr, "cannot start: %s\n", uvproc_strerror(err));
        return 1;
    }
    /* The two run at the same time; each callback comes when its child has exited and its
     * output is complete. */
    uv_run(loop, UV_RUN_DEFAULT);

    /* The blocking variant: runs on a private loop, the result is ours to free. */
    uvproc_exec_file_sync("ls", ls_args, &opts, &sync_result);
    print_result("execFileSync(\"ls\")", &sync_result);
    uvproc_exec_result_free(&sync_result);

    if (uv_loop_close(loop) != 0)
        return 1;
    return failures == 0 ? 0 : 1;
}
