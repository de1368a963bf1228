/* worker-env: a worker sets SET_IN_WORKER=foo in its environment; the parent sees it only
 * when the worker shares the parent's environment (Node's SHARE_ENV):
 *
 *   new Worker('process.env.SET_IN_WORKER = "foo"', { eval: true, env: SHARE_ENV })
 *     .on('exit', () => { console.log(process.env.SET_IN_WORKER); });  // Prints 'foo'.
 *
 * Without SHARE_ENV the worker changes its own copy and the parent prints "undefined".
 * uvproc_env_get/set are the calls that know about workers; getenv/setenv stay process-wide. */
#include <stdio.h>
#include <string.h>

#include <uvproc.h>

static int json_out;
static char seen[2][64];

static int worker_main(uv_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return uvproc_env_set("SET_IN_WORKER", "foo") == 0 ? 0 : 1;
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    char *out = uvproc_worker_data(w);
    size_t size = 64;
    (void)code;
    if (uvproc_env_get("SET_IN_WORKER", out, &size) != 0)
        strcpy(out, "undefined");
}

static int run(uvproc_worker_env_mode_t mode, char *out)
{
    uvproc_worker_options_t o = {.env_mode = mode, .on_exit = on_exit_cb, .data = out};
    int err = uvproc_worker_start(uv_default_loop(), NULL, worker_main, &o);
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_start: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return 0;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--json]\n"
                   "Runs a worker that sets SET_IN_WORKER=foo twice: with its own copy of the\n"
                   "environment (Node's default) and with the parent's (SHARE_ENV); after each\n"
                   "exit the parent prints what it sees.\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else {
            fprintf(stderr, "unknown argument %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (run(UVPROC_WORKER_ENV_COPY, seen[0]) != 0 || run(UVPROC_WORKER_ENV_SHARE, seen[1]) != 0)
        return 1;
    if (json_out)
        printf("{\"default\":\"%s\",\"share_env\":\"%s\"}\n", seen[0], seen[1]);
    else
        printf("default env: parent sees SET_IN_WORKER=%s\nSHARE_ENV:   parent sees "
               "SET_IN_WORKER=%s\n",
               seen[0], seen[1]);
    uvproc_env_unset("SET_IN_WORKER");
    return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}
