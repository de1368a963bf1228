/* uvproc-runner: a pool worker (workerpool's protocol, uvproc_pool_serve) that runs commands on
 * its own host. A command pool pays one launcher session (one ssh) per job; a worker pool of
 * runners on the remote hosts pays it once per worker, then ~1-2 ms per command
 * (bench/remote: 31x GNU parallel --sshlogin). Methods, params a JSON array:
 *
 *   exec  [file, args...]   runs file with args (PATH lookup), no shell
 *   shell [command]         runs /bin/sh -c command
 *
 * Either resolves with {"code": exit code or -1, "signal": 0 or N, "out": stdout, "err":
 * stderr} once the command has exited (a non-zero code is a result, not an error; stdout and
 * stderr are kept up to 1 MiB each, bytes that are not UTF-8 become U+FFFD), or rejects with
 * the spawn error's name ("ENOENT", ...) when it could not be started. Commands run
 * concurrently, as many as the pool sends (its `pipeline`).
 *
 *   uvproc_pool_hosts_t hosts = {.spec = "1/build7", .remote = {.relay = "uvproc-relay"}};
 *   uvproc_pool_options_t o = {.kind = UVPROC_POOL_WORKERS, .worker_file = "uvproc-runner",
 *                              .pipeline = 8, .hosts = &hosts, ...};
 *   uvproc_pool_call(pool, "shell", params ["make -C /src test"], NULL, &id);
 */
#include <getopt.h>
#include <stdlib.h>

#include <uvproc.h>

#include "cli.h"
#include "runner_req.h"

static void done(const uvproc_exec_result_t *r, void *data)
{
    uvproc_pool_call_t *call = data;
    if (r->pid == 0) {
        uvproc_pool_call_reject(call, uvproc_err_name(r->error), uvproc_strerror(r->error));
        return;
    }
    uvproc_pool_call_resolve_new(call, json_pack("{s:I,s:i,s:o,s:o}", "code",
                                                 (json_int_t)r->exit_code, "signal", r->term_signal,
                                                 "out", runner_text_of(r->out, r->out_len), "err",
                                                 runner_text_of(r->err, r->err_len)));
}

/* Output past 1 MiB is cut, the command runs to its end: a result, not a kill. */
static const uvproc_exec_options_t exec_options = {.max_buffer_mode = UVPROC_MAXBUFFER_TRUNCATE};

static void m_exec(uvproc_pool_call_t *call, json_t *params, void *data)
{
    const char *file, **args;
    int err = runner_exec_params(params, &file, &args);
    if (err == 0) {
        err = uvproc_exec_file(data, NULL, file, args, &exec_options, done, call);
        free(args);
    }
    if (err != 0)
        uvproc_pool_call_reject(call, uvproc_err_name(err), "exec wants [file, args...] strings");
}

static void m_shell(uvproc_pool_call_t *call, json_t *params, void *data)
{
    const char *command;
    int err = runner_shell_params(params, &command);
    if (err == 0)
        err = uvproc_exec(data, NULL, command, &exec_options, done, call);
    if (err != 0)
        uvproc_pool_call_reject(call, uvproc_err_name(err), "shell wants [command]");
}

static void usage(const char *prog)
{
    printf("Usage: %s [--help] [--version]\n"
           "A uvproc pool worker that runs commands on its own host. A pool starts it (worker\n"
           "pool, npm workerpool's protocol over the channel in NODE_CHANNEL_FD); run by hand\n"
           "it has nothing to serve. Methods, params a JSON array:\n"
           "  exec  [file, args...]   run file with args (PATH lookup), no shell\n"
           "  shell [command]         run /bin/sh -c command\n"
           "Each resolves with {\"code\", \"signal\", \"out\", \"err\"} once the command has\n"
           "exited (output kept up to 1 MiB per stream), or rejects with the spawn error's\n"
           "name (\"ENOENT\", ...).\n"
           "  -h, --help     print this help and exit\n"
           "  -V, --version  print the version and exit\n"
           "Exit status: 0 when the pool let it go; 1 when the pool went away without a\n"
           "word, or when there is no pool; 2 on a usage error.\n"
           "See uvproc-runner(1).\n",
           prog);
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *prog = cli_prog(argv[0]);
    int c;
    opterr = 0; /* cli_usage_error says it, in one line */
    while ((c = getopt_long(argc, argv, ":hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'h':
            usage(prog);
            exit(0);
        case 'V':
            cli_print_version(prog);
            exit(0);
        default: {
            /* A long option getopt knows sets optopt too: then only its argument was wrong. */
            const char *arg = argv[optind - 1];
            if (strncmp(arg, "--", 2) == 0)
                cli_usage_error(prog, optopt != 0 ? "option '%s' takes no argument"
                                                  : "unknown option '%s'",
                                arg);
            cli_usage_error(prog, "unknown option '-%c'", optopt);
        }
        }
    }
    if (optind < argc)
        cli_usage_error(prog, "unexpected argument '%s': the pool sends the commands",
                        argv[optind]);
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    const uvproc_pool_method_t methods[] = {{"exec", m_exec, loop}, {"shell", m_shell, loop}};
    int r;
    parse_args(argc, argv);
    /* Returns once the parent is gone and the commands still running have ended (behind
     * uvproc-relay, a parent that is gone stops them: the relay signals the whole group). */
    r = uvproc_pool_serve(loop, methods, 2);
    uv_loop_close(loop);
    return r < 0 ? UVPROC_POOL_SERVE_EXIT_NOCHANNEL : r; /* stderr said why */
}
