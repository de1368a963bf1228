/* pingpong: a parent and a forked child bounce {"n":i} back and forth over the IPC channel and
 * the parent prints the round-trip rate. The child is this same program run with --child, or
 * any Node script that echoes (--node-child demos/pingpong_child.js). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

static long long rounds = 10000, received;
static uint64_t start_ns, end_ns;

static void child_on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    (void)handle;
    uvproc_channel_send(ch, msg, NULL, NULL);
}

static void child_on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
}

static int run_child(void)
{
    uvproc_channel_options_t o = {.on_message = child_on_message,
                                  .on_disconnect = child_on_disconnect};
    uvproc_channel_t *ch;
    int err = uvproc_channel_from_parent(uv_default_loop(), &ch, &o);
    if (err != 0) {
        fprintf(stderr, "pingpong --child: %s\n", uvproc_strerror(err));
        return 2;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}

static void send_ping(uvproc_channel_t *ch, long long n)
{
    uvproc_channel_send_new(ch, json_pack("{s:I}", "n", (json_int_t)n), NULL, NULL);
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    json_int_t n = json_integer_value(json_object_get(msg, "n"));
    (void)handle;
    if (n != received) {
        fprintf(stderr, "out of order: expected %lld, got %lld\n", received, (long long)n);
        exit(1);
    }
    if (++received == rounds) {
        end_ns = uv_hrtime();
        uvproc_channel_disconnect(ch);
        return;
    }
    send_ping(ch, received);
}

static void on_spawn(uvproc_process_t *p)
{
    start_ns = uv_hrtime();
    send_ping(uvproc_process_channel(p), 0);
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    (void)p;
    fprintf(stderr, "cannot start the child: %s %s: %s\n", err->syscall,
            err->path != NULL ? err->path : "", uvproc_strerror(err->code));
}

int main(int argc, char **argv)
{
    const char *node_child = NULL;
    char exe[4096];
    size_t exe_size = sizeof exe;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--child") == 0) {
            return run_child();
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--node-child SCRIPT] [ROUNDS]\n"
                   "Forks a child and bounces {\"n\":i} back and forth ROUNDS times (default "
                   "10000),\nthen prints the round trips per second.\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--node-child") == 0 && i + 1 < argc) {
            node_child = argv[++i];
        } else {
            rounds = atoll(argv[i]);
            if (rounds <= 0) {
                fprintf(stderr, "ROUNDS must be a positive number (try --help)\n");
                return 2;
            }
        }
    }
    if (uv_exepath(exe, &exe_size) != 0)
        return 1;
    const char *child_args[] = {"--child", NULL};
    uvproc_fork_options_t o = {
        .spawn = {.on_spawn = on_spawn, .on_error = on_error,
                  .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_INHERIT},
                            {.type = UVPROC_STDIO_INHERIT}}},
        .exec_path = node_child != NULL ? "node" : NULL,
        .channel = {.on_message = on_message},
    };
    int err = uvproc_fork(uv_default_loop(), NULL, node_child != NULL ? node_child : exe,
                          node_child != NULL ? NULL : child_args, &o);
    if (err != 0) {
        fprintf(stderr, "uvproc_fork: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    if (uv_loop_close(uv_default_loop()) != 0 || received != rounds) {
        fprintf(stderr, "only %lld of %lld round trips completed\n", received, rounds);
        return 1;
    }
    printf("%lld round trips in %.3f s: %.0f round trips/s (%s child)\n", rounds,
           (double)(end_ns - start_ns) / 1e9, (double)rounds * 1e9 / (double)(end_ns - start_ns),
           node_child != NULL ? "Node" : "C");
    return 0;
}
