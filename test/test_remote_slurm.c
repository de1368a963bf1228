/* Slurm's srun as the launcher: a one-node cluster with its own munged, started from a temp dir
 * by test/remote/engines.sh --slurm (SLURM_CONF tells srun where it is). srun runs its
 * arguments as they are (no shell quoting), carries stdin to task 0 and stdout back, and
 * returns the task's exit code. */
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "check.h"
#include "uvproc.h"

static const char *const srun[] = {"srun", "-N1", "-n1", "--quiet", "-u", NULL};

static void need_slurm(void)
{
    if (getenv("SLURM_CONF") == NULL) {
        fprintf(stderr, "run me through test/remote/engines.sh --slurm (no SLURM_CONF)\n");
        exit(77);
    }
}

TEST(srun_spawn_arguments_and_exit_code)
{
    static const char *const args[] = {"argv", "two words", "it's", "$HOME", "a\nb", "", NULL};
    static const char *const exit3[] = {"exit", "3", NULL};
    static const char *const env_args[] = {"env", "SLURM_JOB_ID", NULL};
    uvproc_remote_t r = {.launcher = srun};
    uvproc_exec_options_t o = {.spawn.remote = &r, .timeout_ms = 30000};
    uvproc_exec_result_t res;

    need_slurm();
    CHECK_OK(uvproc_spawn_sync(CHILD_HELPER, args, &o, &res));
    CHECK_EQ(res.exit_code, 0);
    CHECK_STR(res.out, CHILD_HELPER "\nargv\ntwo words\nit's\n$HOME\na\nb\n\n");
    uvproc_exec_result_free(&res);

    CHECK_OK(uvproc_spawn_sync(CHILD_HELPER, exit3, &o, &res));
    CHECK_EQ(res.exit_code, 3);
    uvproc_exec_result_free(&res);

    /* It ran as a Slurm task. */
    CHECK_OK(uvproc_spawn_sync(CHILD_HELPER, env_args, &o, &res));
    CHECK(strncmp(res.out, "SLURM_JOB_ID=", 13) == 0);
    uvproc_exec_result_free(&res);
}

typedef struct {
    uv_loop_t loop;
    uvproc_process_t *p;
    json_t *last;
    int64_t counted;
    int closed, disconnected, signal;
    int64_t code;
} fx_t;

static fx_t fx;

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    (void)ch;
    (void)h;
    if (json_is_integer(json_object_get(msg, "i"))) {
        fx.counted++;
        return;
    }
    json_decref(fx.last);
    fx.last = json_incref(msg);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    fx.disconnected = 1;
}

static void on_exit_(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    fx.code = code;
    fx.signal = sig;
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)code;
    (void)sig;
    fx.closed = 1;
}

static void fx_fork(const uvproc_remote_t *r)
{
    uvproc_fork_options_t o = {.spawn.remote = r};
    memset(&fx, 0, sizeof fx);
    CHECK_OK(uv_loop_init(&fx.loop));
    o.spawn.on_exit = on_exit_;
    o.spawn.on_close = on_close;
    o.channel.on_message = on_message;
    o.channel.on_disconnect = on_disconnect;
    CHECK_OK(uvproc_fork(&fx.loop, &fx.p, IPC_CHILD, NULL, &o));
}

static json_t *fx_ask(json_t *m, const char *op)
{
    json_decref(fx.last);
    fx.last = NULL;
    CHECK(uvproc_channel_send_new(uvproc_process_channel(fx.p), m, NULL, NULL) >= 0);
    while (fx.last == NULL || strcmp(json_string_value(json_object_get(fx.last, "op")), op) != 0) {
        CHECK(!fx.disconnected);
        uv_run(&fx.loop, UV_RUN_ONCE);
    }
    return fx.last;
}

static void fx_finish(void)
{
    uv_run(&fx.loop, UV_RUN_DEFAULT);
    CHECK(fx.closed && fx.disconnected);
    json_decref(fx.last);
    CHECK_LOOP_CLOSE(&fx.loop);
}

/* The channel over srun's stdio, adopted by the C child inside the Slurm task. */
TEST(srun_fork_channel)
{
    uvproc_remote_t r = {.launcher = srun};
    json_t *m;

    need_slurm();
    fx_fork(&r);
    m = fx_ask(json_pack("{s:s,s:i}", "op", "burst", "n", 5000), "burst_done");
    CHECK_EQ(fx.counted, 5000);
    m = fx_ask(json_pack("{s:s,s:s}", "op", "echo", "x", "through srun"), "echo");
    CHECK_STR(json_string_value(json_object_get(m, "x")), "through srun");
    CHECK_OK(uvproc_channel_disconnect(uvproc_process_channel(fx.p)));
    fx_finish();
    CHECK_EQ(fx.code, 0);
}

/* kill -9 of srun (only its pid, as child.kill() does): srun's own helper cancels the step,
 * and the task must not outlive it. */
TEST(srun_killed_leaves_no_task)
{
    uvproc_remote_t r = {.launcher = srun};
    struct pollfd pfd;
    uint64_t t0;
    json_t *m;

    need_slurm();
    fx_fork(&r);
    m = fx_ask(json_pack("{s:s}", "op", "pid"), "pid");
    pfd.fd = (int)syscall(SYS_pidfd_open, (pid_t)json_integer_value(json_object_get(m, "pid")), 0);
    CHECK(pfd.fd >= 0);
    pfd.events = POLLIN;
    t0 = uv_hrtime();
    CHECK_OK(uvproc_kill(fx.p, SIGKILL));
    fx_finish();
    CHECK_EQ(poll(&pfd, 1, 10000), 1);
    fprintf(stderr, "Slurm task gone %.1f ms after the kill of srun\n",
            (double)(uv_hrtime() - t0) / 1e6);
    close(pfd.fd);
}

static int pool_done, pool_failed, pool_closed;
static char pool_host[32];

static void pool_on_done(uvproc_pool_t *pool, const uvproc_pool_result_t *r)
{
    (void)pool;
    pool_done++;
    pool_failed += r->error != 0;
    if (r->error != 0)
        fprintf(stderr, "job %llu: %s\n", (unsigned long long)r->id, uvproc_err_name(r->error));
    snprintf(pool_host, sizeof pool_host, "%s", r->host != NULL ? r->host : "");
}

static void pool_on_close(uvproc_pool_t *pool)
{
    (void)pool;
    pool_closed = 1;
}

/* A pool whose slots are Slurm tasks: `srun ... -w NODE` is the launcher, the node name the
 * host (parallel's N/host spec), worker jobs and command jobs. */
static void run_slurm_pool(uvproc_pool_kind_t kind, int jobs)
{
    static const char *const srun_w[] = {"srun", "-N1", "-n1", "--quiet", "-u", "-w", NULL};
    static const char *const echo_args[] = {"through srun", NULL};
    uvproc_pool_hosts_t hosts = {.spec = "2/localhost", .launcher = srun_w};
    uvproc_pool_options_t o = {.kind = kind,
                               .worker_file = POOL_WORKER,
                               .min_workers = 2,
                               .on_done = pool_on_done,
                               .on_close = pool_on_close,
                               .hosts = &hosts};
    uvproc_pool_t *pool;
    uv_loop_t loop;

    pool_done = pool_failed = pool_closed = 0;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_pool_new(&loop, &pool, &o));
    for (int k = 0; k < jobs; k++) {
        if (kind == UVPROC_POOL_WORKERS) {
            json_t *params = json_pack("[i]", k);
            CHECK_OK(uvproc_pool_call(pool, "echo", params, NULL, NULL));
            json_decref(params);
        } else {
            CHECK_OK(uvproc_pool_submit(pool, "echo", echo_args, NULL, NULL));
        }
    }
    while (pool_done < jobs)
        CHECK(uv_run(&loop, UV_RUN_ONCE) != 0 || pool_done >= jobs);
    CHECK_EQ(pool_failed, 0);
    CHECK_STR(pool_host, "localhost");
    CHECK_OK(uvproc_pool_drain(pool));
    uv_run(&loop, UV_RUN_DEFAULT);
    CHECK(pool_closed);
    CHECK_LOOP_CLOSE(&loop);
}

TEST(srun_pool_workers_and_commands)
{
    need_slurm();
    run_slurm_pool(UVPROC_POOL_WORKERS, 500);
    run_slurm_pool(UVPROC_POOL_COMMANDS, 4);
}

int main(int argc, char **argv)
{
    RUN(srun_spawn_arguments_and_exit_code);
    RUN(srun_fork_channel);
    RUN(srun_killed_leaves_no_task);
    RUN(srun_pool_workers_and_commands);
    return check_done();
}
