/* Slurm's srun as the launcher: a one-node cluster with its own munged, started from a temp dir
 * by test/remote/engines.sh --slurm (SLURM_CONF tells srun where it is). srun runs its
 * arguments as they are (no shell quoting), carries stdin to task 0 and stdout back, and
 * returns the task's exit code. */
#include "check.h"
#include "remote/fork_fx.h"
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

/* The channel over srun's stdio, adopted by the C child inside the Slurm task. */
TEST(srun_fork_channel)
{
    uvproc_remote_t r = {.launcher = srun};
    json_t *m;

    need_slurm();
    fx_fork(&r);
    fx_send(json_pack("{s:s,s:i}", "op", "burst", "n", 5000));
    fx_wait("burst_done");
    CHECK_EQ(fx.counted, 5000);
    CHECK(fx.in_order);
    fx_send(json_pack("{s:s,s:s}", "op", "echo", "x", "through srun"));
    m = fx_wait("echo");
    CHECK_STR(json_string_value(json_object_get(m, "x")), "through srun");
    CHECK_OK(uvproc_channel_disconnect(uvproc_process_channel(fx.p)));
    fx_finish();
    CHECK_EQ(fx.exit_code, 0);
}

/* kill -9 of srun (only its pid, as child.kill() does): srun's own helper cancels the step,
 * and the task must not outlive it. */
TEST(srun_killed_leaves_no_task)
{
    uvproc_remote_t r = {.launcher = srun};

    need_slurm();
    fx_fork(&r);
    fprintf(stderr, "Slurm task gone %.1f ms after the kill of srun\n",
            kill_launcher_and_watch_remote(10000));
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
