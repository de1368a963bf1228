/* The fork fixture of the remote tests (test_remote_fork.c, test_remote_slurm.c): one child
 * forked behind a launcher, its messages recorded ({"i":k} bursts counted and checked for
 * order), its stderr captured, and a wait for "the next message with this op". Include once,
 * after check.h; IPC_CHILD names the C child (test/helpers/ipc_child). */
#ifndef UVPROC_TEST_REMOTE_FORK_FX_H
#define UVPROC_TEST_REMOTE_FORK_FX_H

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uvproc.h"

typedef struct {
    uv_loop_t loop;
    uvproc_process_t *p;
    json_t *msgs; /* every message that was not part of a burst */
    size_t seen;  /* msgs before this index were looked at by fx_wait */
    int64_t counted;
    int in_order, disconnected, closed, exit_signal;
    int64_t exit_code;
    char err_out[256];
    size_t err_len;
} fx_t;

static fx_t fx;

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    (void)p;
    CHECK_EQ(fd, 2);
    if (fx.err_len + len < sizeof fx.err_out) {
        memcpy(fx.err_out + fx.err_len, buf, len);
        fx.err_len += len;
    }
}

static void on_exit_(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    fx.exit_code = code;
    fx.exit_signal = sig;
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)code;
    (void)sig;
    fx.closed++;
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    json_t *i = json_object_get(msg, "i");
    (void)ch;
    CHECK(h == NULL);
    if (json_is_integer(i) && json_object_size(msg) == 1) {
        fx.in_order &= json_integer_value(i) == fx.counted;
        fx.counted++;
        return;
    }
    json_array_append(fx.msgs, msg);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    fx.disconnected++;
}

static void fx_fork_file(const uvproc_remote_t *r, const char *exec_path, const char *file)
{
    uvproc_fork_options_t o = {.exec_path = exec_path};
    memset(&fx, 0, sizeof fx);
    fx.msgs = json_array();
    fx.in_order = 1;
    CHECK_OK(uv_loop_init(&fx.loop));
    o.spawn.remote = r;
    o.spawn.stdio[2].type = UVPROC_STDIO_PIPE;
    o.spawn.on_data = on_data;
    o.spawn.on_exit = on_exit_;
    o.spawn.on_close = on_close;
    o.channel.on_message = on_message;
    o.channel.on_disconnect = on_disconnect;
    CHECK_OK(uvproc_fork(&fx.loop, &fx.p, file, NULL, &o));
}

static void fx_fork(const uvproc_remote_t *r)
{
    fx_fork_file(r, NULL, IPC_CHILD);
}

static void fx_send(json_t *m)
{
    CHECK(uvproc_channel_send_new(uvproc_process_channel(fx.p), m, NULL, NULL) >= 0);
}

static const char *op_of(json_t *m)
{
    const char *op = json_string_value(json_object_get(m, "op"));
    return op != NULL ? op : "";
}

/* Runs the loop until a message with op `op` arrives that no earlier fx_wait returned. */
static json_t *fx_wait(const char *op)
{
    for (;;) {
        while (fx.seen < json_array_size(fx.msgs)) {
            json_t *m = json_array_get(fx.msgs, fx.seen++);
            if (strcmp(op_of(m), op) == 0)
                return m;
        }
        CHECK(!fx.disconnected);
        uv_run(&fx.loop, UV_RUN_ONCE);
    }
}

static void fx_finish(void)
{
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    CHECK_EQ(fx.closed, 1);
    CHECK_EQ(fx.disconnected, 1);
    json_decref(fx.msgs);
    CHECK_LOOP_CLOSE(&fx.loop);
}

static int pidfd_open_(pid_t pid)
{
    return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Kills the local launcher with SIGKILL and requires the remote process that answered
 * {"op":"pid"} to end within `within_ms`; returns how long it took. */
static double kill_launcher_and_watch_remote(int within_ms)
{
    struct pollfd pfd;
    uint64_t t0;
    pid_t remote_pid;
    json_t *m;
    double ms;

    fx_send(json_pack("{s:s}", "op", "pid"));
    m = fx_wait("pid");
    remote_pid = (pid_t)json_integer_value(json_object_get(m, "pid"));
    CHECK(remote_pid > 0 && remote_pid != uvproc_pid(fx.p));
    pfd.fd = pidfd_open_(remote_pid);
    CHECK(pfd.fd >= 0);
    pfd.events = POLLIN;

    t0 = uv_hrtime();
    CHECK_OK(uvproc_kill(fx.p, SIGKILL));
    fx_finish();
    CHECK_EQ(fx.exit_signal, SIGKILL);
    /* The remote child's exit, watched by pidfd (it is not our child). */
    CHECK_EQ(poll(&pfd, 1, within_ms), 1);
    ms = (double)(uv_hrtime() - t0) / 1e6;
    close(pfd.fd);
    return ms;
}

#endif
