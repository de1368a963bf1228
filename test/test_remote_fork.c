/* uvproc_fork behind a launcher: the channel over the child's stdin/stdout, adopted by the C
 * child (test/helpers/ipc_child) from UVPROC_CHANNEL on its command line; through `env` (a
 * launcher that runs its arguments here) and through real sshd on 127.0.0.2
 * (test/remote/engines.sh). A remote child ends when its stdin reaches EOF, also when the
 * local ssh is SIGKILLed; handles are refused with ENOTSUP. Then uvproc-relay (tools/relay.c)
 * on the far side, serving an unmodified Node process.send worker (test/node/remote_worker.js)
 * and the C child through their NODE_CHANNEL_FD socketpair. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "remote/fork_fx.h"
#include "remote/remote.h"
#include "uvproc.h"

/* The child's view and the parent's rules, through `env` (runs its arguments, here). */
TEST(stdio_channel_through_env)
{
    static const char *const env[] = {"env", NULL};
    uvproc_remote_t r = {.launcher = env};
    uv_tcp_t server;
    struct sockaddr_in addr;
    json_t *m;

    fx_fork(&r);
    fx_send(json_pack("{s:s}", "op", "env"));
    m = fx_wait("env");
    /* Adopted and cleared: grandchildren do not see the variables. */
    CHECK(json_is_null(json_object_get(m, "fd_env")));
    CHECK(json_is_null(json_object_get(m, "mode_env")));

    fx_send(json_pack("{s:s,s:s}", "op", "stdout", "text", "stray line\n"));
    fx_wait("printed");
    fx_send(json_pack("{s:s,s:i}", "op", "echo", "n", 42));
    m = fx_wait("echo");
    CHECK_EQ(json_integer_value(json_object_get(m, "n")), 42);

    /* An fd cannot cross a launcher. */
    CHECK_OK(uv_tcp_init(&fx.loop, &server));
    uv_ip4_addr("127.0.0.1", 0, &addr);
    CHECK_OK(uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0));
    CHECK_OK(uv_listen((uv_stream_t *)&server, 1, NULL));
    CHECK_EQ(uvproc_channel_send_handle(uvproc_process_channel(fx.p), m, (uv_stream_t *)&server,
                                        NULL, NULL, NULL),
             UV_ENOTSUP);
    uv_close((uv_handle_t *)&server, NULL);

    /* Our disconnect is the child's stdin EOF: it ends on its own, with 0. */
    CHECK_OK(uvproc_channel_disconnect(uvproc_process_channel(fx.p)));
    fx_finish();
    CHECK_EQ(fx.exit_code, 0);
    /* A stray write to fd 1 went to stderr, not into the channel. */
    CHECK(fx.err_len > 0 && strstr(fx.err_out, "stray line\n") != NULL);
}

/* Both directions over a real ssh session, in order, with nothing lost. */
TEST(ssh_round_trips_and_bursts)
{
    uvproc_remote_t r = {.launcher = remote_ssh(1)};
    json_t *m;

    fx_fork(&r);
    fx_send(json_pack("{s:s,s:i}", "op", "burst", "n", 20000));
    fx_wait("burst_done");
    CHECK_EQ(fx.counted, 20000);
    CHECK(fx.in_order);
    for (int k = 0; k < 20000; k++)
        fx_send(json_pack("{s:i}", "i", k));
    fx_send(json_pack("{s:s}", "op", "count"));
    m = fx_wait("count");
    CHECK_EQ(json_integer_value(json_object_get(m, "n")), 20000);
    CHECK(json_is_true(json_object_get(m, "in_order")));
    /* The child disconnects: the parent sees the channel close, then ssh exits 0. */
    fx_send(json_pack("{s:s}", "op", "disconnect"));
    fx_finish();
    CHECK_EQ(fx.exit_code, 0);
}

/* kill -9 of the local ssh: the remote child must not live on (research/remote-engines.md:
 * a remote command that neither reads stdin nor writes stdout would). */
TEST(ssh_killed_leaves_no_remote_child)
{
    uvproc_remote_t r = {.launcher = remote_ssh(2)};
    fx_fork(&r);
    fprintf(stderr, "C child gone %.1f ms after the kill of ssh\n",
            kill_launcher_and_watch_remote(5000));
}

#define NODE_WORKER NODE_SCRIPTS "/remote_worker.js"

static int have_node(void)
{
    const char *node = getenv("UVPROC_TEST_NODE");
    if (node == NULL || node[0] == '\0') {
        fprintf(stderr, "node not installed: relay tests skipped\n");
        return 0;
    }
    return 1;
}

/* An unmodified Node worker, its channel a socketpair made by the relay on the far side. */
TEST(relay_serves_node_worker_over_ssh)
{
    static const char *const env[] = {"UVPROC_RELAY_GRACE_MS=300", NULL};
    uvproc_remote_t r = {.launcher = remote_ssh(1), .relay = RELAY, .env = env};
    json_t *m;

    if (!have_node())
        return;
    fx_fork_file(&r, "node", NODE_WORKER);
    for (int k = 0; k < 1000; k++) {
        fx_send(json_pack("{s:s,s:i}", "op", "echo", "k", k));
        m = fx_wait("echo");
        CHECK_EQ(json_integer_value(json_object_get(m, "k")), k);
    }
    fx_send(json_pack("{s:s,s:i}", "op", "exit", "code", 3));
    fx_finish();
    /* The worker's exit code comes back through the relay and ssh. */
    CHECK_EQ(fx.exit_code, 3);
}

/* The C child behind the relay adopts the socketpair (NODE_CHANNEL_FD), not stdio. */
TEST(relay_serves_c_child)
{
    static const char *const env_launcher[] = {"env", NULL};
    uvproc_remote_t r = {.launcher = env_launcher, .relay = RELAY};
    json_t *m;

    fx_fork(&r);
    fx_send(json_pack("{s:s}", "op", "env"));
    m = fx_wait("env");
    CHECK(json_is_null(json_object_get(m, "fd_env")));
    CHECK(json_is_true(json_object_get(m, "cloexec")));
    CHECK_OK(uvproc_channel_disconnect(uvproc_process_channel(fx.p)));
    fx_finish();
    CHECK_EQ(fx.exit_code, 0);
}

/* kill -9 of ssh while the Node worker holds itself alive past a disconnect: the relay sees
 * stdin EOF and stops it (SIGTERM after its grace); one that ignores SIGTERM gets SIGKILL. */
TEST(relay_stops_node_worker_when_ssh_dies)
{
    static const char *const env[] = {"UVPROC_RELAY_GRACE_MS=200", NULL};
    uvproc_remote_t r = {.launcher = remote_ssh(2), .relay = RELAY, .env = env};
    double ms;

    if (!have_node())
        return;
    fx_fork_file(&r, "node", NODE_WORKER);
    fx_send(json_pack("{s:s}", "op", "hold"));
    fx_wait("holding");
    ms = kill_launcher_and_watch_remote(5000);
    fprintf(stderr, "held Node worker gone %.1f ms after the kill of ssh (grace 200)\n", ms);
    CHECK(ms >= 150);

    fx_fork_file(&r, "node", NODE_WORKER);
    fx_send(json_pack("{s:s}", "op", "hold"));
    fx_wait("holding");
    fx_send(json_pack("{s:s}", "op", "ignore_term"));
    fx_wait("ignoring");
    ms = kill_launcher_and_watch_remote(5000);
    fprintf(stderr, "TERM-ignoring Node worker gone %.1f ms after the kill (grace 200)\n", ms);
    CHECK(ms >= 350);
}

static int pipe_got;
static void pipe_msg(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    (void)h;
    pipe_got = (int)json_integer_value(json_object_get(msg, "n"));
    if (pipe_got < 100)
        CHECK(uvproc_channel_send_new(ch, json_pack("{s:i}", "n", pipe_got + 1), NULL, NULL) >= 0);
    else
        uvproc_channel_disconnect(ch);
}

static void pipe_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    fx.disconnected++;
}

/* Two channels over two plain pipes, no processes: the stdio transport alone. */
TEST(open_stdio_over_pipes)
{
    uvproc_channel_options_t o = {.on_message = pipe_msg, .on_disconnect = pipe_disconnect};
    uvproc_channel_t *a, *b;
    int ab[2], ba[2];
    uv_loop_t loop;

    memset(&fx, 0, sizeof fx);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(pipe(ab));
    CHECK_OK(pipe(ba));
    CHECK_EQ(uvproc_channel_open_stdio(&loop, &a, -1, ab[1], &o), UV_EBADF);
    CHECK_EQ(uvproc_channel_open_stdio(NULL, &a, ba[0], ab[1], &o), UV_EINVAL);
    CHECK_OK(uvproc_channel_open_stdio(&loop, &a, ba[0], ab[1], &o));
    /* The originals are closed once the channel is up (it works on its own copies). */
    CHECK(fcntl(ba[0], F_GETFD) < 0 && fcntl(ab[1], F_GETFD) < 0);
    CHECK_OK(uvproc_channel_open_stdio(&loop, &b, ab[0], ba[1], &o));
    CHECK(uvproc_channel_send_new(a, json_pack("{s:i}", "n", 0), NULL, NULL) >= 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK_EQ(pipe_got, 100);
    CHECK_EQ(fx.disconnected, 2);
    CHECK_LOOP_CLOSE(&loop);
}

int main(int argc, char **argv)
{
    RUN(open_stdio_over_pipes);
    RUN(stdio_channel_through_env);
    RUN(ssh_round_trips_and_bursts);
    RUN(ssh_killed_leaves_no_remote_child);
    RUN(relay_serves_c_child);
    RUN(relay_serves_node_worker_over_ssh);
    RUN(relay_stops_node_worker_when_ssh_dies);
    return check_done();
}
