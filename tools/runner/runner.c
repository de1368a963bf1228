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
#include <string.h>

#include <uvproc.h>

#include "cli.h"

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if none starts there. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t len = s[0] < 0x80             ? 1
                 : (s[0] & 0xe0) == 0xc0 ? 2
                 : (s[0] & 0xf0) == 0xe0 ? 3
                 : (s[0] & 0xf8) == 0xf0 ? 4
                                         : 0;
    if (len == 0 || len > n || (len == 2 && s[0] < 0xc2) || (len == 4 && s[0] > 0xf4))
        return 0;
    for (size_t i = 1; i < len; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if ((len == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (len == 3 && s[0] == 0xed && s[1] > 0x9f) ||
        (len == 4 && s[0] == 0xf0 && s[1] < 0x90) || (len == 4 && s[0] == 0xf4 && s[1] > 0x8f))
        return 0; /* overlong, surrogate, past U+10FFFF */
    return len;
}

/* The bytes as a JSON string: a byte that does not start valid UTF-8 becomes U+FFFD. */
static json_t *text_of(const char *b, size_t n)
{
    const unsigned char *s = (const unsigned char *)b;
    char *out = malloc(n * 3 + 1), *at = out;
    json_t *j;
    if (out == NULL)
        return json_null();
    for (size_t i = 0; i < n;) {
        size_t len = utf8_len(s + i, n - i);
        if (len == 0) {
            memcpy(at, "\xef\xbf\xbd", 3);
            at += 3;
            i++;
        } else {
            memcpy(at, s + i, len);
            at += len;
            i += len;
        }
    }
    j = json_stringn(out, (size_t)(at - out));
    free(out);
    return j != NULL ? j : json_null();
}

static void done(const uvproc_exec_result_t *r, void *data)
{
    uvproc_pool_call_t *call = data;
    if (r->pid == 0) {
        uvproc_pool_call_reject(call, uvproc_err_name(r->error), uvproc_strerror(r->error));
        return;
    }
    uvproc_pool_call_resolve_new(call, json_pack("{s:I,s:i,s:o,s:o}", "code",
                                                 (json_int_t)r->exit_code, "signal", r->term_signal,
                                                 "out", text_of(r->out, r->out_len), "err",
                                                 text_of(r->err, r->err_len)));
}

/* Output past 1 MiB is cut, the command runs to its end: a result, not a kill. */
static const uvproc_exec_options_t exec_options = {.max_buffer_mode = UVPROC_MAXBUFFER_TRUNCATE};

static void m_exec(uvproc_pool_call_t *call, json_t *params, void *data)
{
    size_t n = json_array_size(params);
    const char **args = calloc(n + 1, sizeof *args);
    const char *file = json_string_value(json_array_get(params, 0));
    int err = UV_EINVAL;
    for (size_t i = 1; args != NULL && i < n; i++)
        if ((args[i - 1] = json_string_value(json_array_get(params, i))) == NULL)
            file = NULL; /* every argument must be a string */
    if (args != NULL && file != NULL)
        err = uvproc_exec_file(data, NULL, file, args, &exec_options, done, call);
    free(args);
    if (err != 0)
        uvproc_pool_call_reject(call, uvproc_err_name(err), "exec wants [file, args...] strings");
}

static void m_shell(uvproc_pool_call_t *call, json_t *params, void *data)
{
    const char *command = json_string_value(json_array_get(params, 0));
    int err =
        command != NULL ? uvproc_exec(data, NULL, command, &exec_options, done, call) : UV_EINVAL;
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
    if (r < 0) {
        fprintf(stderr, "%s: %s%s\n", cli_prog(argv[0]), uvproc_strerror(r),
                r == UVPROC_ENOCHANNEL ? " (a uvproc or workerpool pool starts it; see --help)"
                                       : "");
        return 1;
    }
    return r;
}
