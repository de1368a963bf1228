/* spawnSync / execSync / execFileSync: the same outcomes as the async exec, owned results, and
 * the caller's loops (the default one included) left exactly as they were. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>

#include "check.h"
#include "uvproc.h"

static uint64_t ms_since(uint64_t t0)
{
    return (uv_hrtime() - t0) / 1000000;
}

static const char PATTERN[] = "abcdefghi\n";
static int is_pattern(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != PATTERN[i % 10])
            return 0;
    return 1;
}

TEST(exit_code)
{
    const char *args[] = {"-c", "echo out; echo err >&2; exit 7", NULL};
    uvproc_exec_result_t r;
    CHECK_EQ(uvproc_exec_sync("echo out; echo err >&2; exit 7", NULL, &r), UVPROC_EEXITCODE);
    CHECK_EQ(r.error, UVPROC_EEXITCODE);
    CHECK_EQ(r.exit_code, 7);
    CHECK(r.pid > 0);
    CHECK_STR(r.out, "out\n");
    CHECK_STR(r.err, "err\n");
    CHECK_STR(r.cmd, "echo out; echo err >&2; exit 7");
    uvproc_exec_result_free(&r);
    CHECK(r.out == NULL && r.err == NULL && r.cmd == NULL);
    uvproc_exec_result_free(&r); /* twice is harmless */

    CHECK_EQ(uvproc_exec_file_sync("sh", args, NULL, &r), UVPROC_EEXITCODE);
    CHECK_EQ(r.exit_code, 7);
    CHECK_STR(r.cmd, "sh -c echo out; echo err >&2; exit 7");
    uvproc_exec_result_free(&r);

    /* spawnSync: how the child ended is in exit_code / term_signal, not in error */
    CHECK_OK(uvproc_spawn_sync("sh", args, NULL, &r));
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.exit_code, 7);
    CHECK_STR(r.out, "out\n");
    uvproc_exec_result_free(&r);
}

TEST(signaled)
{
    const char *args[] = {"-c", "kill -USR1 $$", NULL};
    uvproc_exec_result_t r;
    CHECK_EQ(uvproc_exec_file_sync("sh", args, NULL, &r), UVPROC_ESIGNALED);
    CHECK_EQ(r.term_signal, SIGUSR1);
    uvproc_exec_result_free(&r);
    CHECK_OK(uvproc_spawn_sync("sh", args, NULL, &r));
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.term_signal, SIGUSR1);
    CHECK_EQ(r.exit_code, -1);
    uvproc_exec_result_free(&r);
}

TEST(success)
{
    const char *args[] = {"%s-%s", "a", "b", NULL};
    uvproc_exec_result_t r;
    CHECK_OK(uvproc_exec_file_sync("printf", args, NULL, &r));
    CHECK_EQ(r.error, 0);
    CHECK_STR(r.out, "a-b");
    CHECK_EQ(r.out_len, 3);
    CHECK_EQ(r.err_len, 0);
    CHECK_STR(r.err, "");
    CHECK(r.syscall == NULL);
    uvproc_exec_result_free(&r);
}

TEST(timeout)
{
    const char *args[] = {"10", NULL};
    uvproc_exec_options_t o = {.timeout_ms = 100};
    uvproc_exec_result_t r;
    uint64_t t0 = uv_hrtime();
    CHECK_EQ(uvproc_exec_file_sync("sleep", args, &o, &r), UV_ETIMEDOUT);
    CHECK(ms_since(t0) >= 99 && ms_since(t0) < 5000);
    CHECK_EQ(r.killed, 1);
    CHECK_EQ(r.term_signal, SIGTERM);
    uvproc_exec_result_free(&r);

    /* spawnSync keeps the timeout as its error (Node: error.code ETIMEDOUT) */
    t0 = uv_hrtime();
    CHECK_OK(uvproc_spawn_sync("sleep", args, &o, &r));
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(r.error, UV_ETIMEDOUT);
    CHECK_EQ(r.term_signal, SIGTERM);
    uvproc_exec_result_free(&r);

    /* exec through the shell, whose forked `sleep` only a tree kill reaches quickly */
    o.kill_tree = 1;
    t0 = uv_hrtime();
    CHECK_EQ(uvproc_exec_sync("sleep 10; echo never", &o, &r), UV_ETIMEDOUT);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(r.out_len, 0);
    uvproc_exec_result_free(&r);
}

/* Node's spawnSync lets output run past maxBuffer (2000 bytes kept with maxBuffer 100); ours
 * keeps exactly max_buffer, in both modes. */
TEST(maxbuffer_exact)
{
    uvproc_exec_options_t o = {.max_buffer = 100};
    uvproc_exec_result_t r;
    const char *args[] = {"-c", "yes abcdefghi | head -c 2000; yes abcdefghi | head -c 3000 >&2",
                          NULL};

    CHECK_EQ(uvproc_exec_sync("yes abcdefghi | head -c 2000; exec sleep 10", &o, &r),
             UVPROC_EMAXBUFFER);
    CHECK_EQ(r.out_len, 100);
    CHECK(is_pattern(r.out, 100));
    CHECK_EQ(r.truncated, 1);
    CHECK_EQ(r.killed, 1);
    uvproc_exec_result_free(&r);

    CHECK_OK(uvproc_spawn_sync("sh", args, &o, &r));
    CHECK_EQ(r.error, UVPROC_EMAXBUFFER);
    CHECK_EQ(r.out_len, 100);
    uvproc_exec_result_free(&r);

    o.max_buffer_mode = UVPROC_MAXBUFFER_TRUNCATE;
    CHECK_EQ(uvproc_exec_file_sync("sh", args, &o, &r), UVPROC_EMAXBUFFER);
    CHECK_EQ(r.exit_code, 0);
    CHECK_EQ(r.killed, 0);
    CHECK_EQ(r.out_len, 100);
    CHECK_EQ(r.err_len, 100);
    CHECK(is_pattern(r.out, 100) && is_pattern(r.err, 100));
    uvproc_exec_result_free(&r);
}

TEST(enoent)
{
    uvproc_exec_options_t bad_cwd = {.spawn.cwd = "/nonexistent/dir"};
    uvproc_exec_result_t r;
    CHECK_EQ(uvproc_exec_file_sync("/nonexistent/prog", NULL, NULL, &r), UV_ENOENT);
    CHECK_STR(r.syscall, "spawn");
    CHECK_EQ(r.pid, 0);
    CHECK_EQ(r.exit_code, -1);
    CHECK_STR(r.out, "");
    uvproc_exec_result_free(&r);

    CHECK_OK(uvproc_spawn_sync("uvproc-no-such-program", NULL, NULL, &r));
    CHECK_EQ(r.error, UV_ENOENT);
    CHECK_STR(r.syscall, "spawn");
    uvproc_exec_result_free(&r);

    CHECK_EQ(uvproc_exec_sync("pwd", &bad_cwd, &r), UV_ENOENT);
    CHECK_STR(r.syscall, "chdir");
    uvproc_exec_result_free(&r);
}

TEST(nul_bytes)
{
    uvproc_exec_result_t r;
    CHECK_OK(uvproc_exec_sync("printf 'a\\000b\\000\\000c'; printf '\\000x\\000' >&2", NULL, &r));
    CHECK_EQ(r.out_len, 6);
    CHECK(memcmp(r.out, "a\0b\0\0c", 7) == 0); /* the terminating NUL too */
    CHECK_EQ(r.err_len, 3);
    CHECK(memcmp(r.err, "\0x\0", 4) == 0);
    uvproc_exec_result_free(&r);
}

TEST(input_through_cat)
{
    const size_t size = 10u * 1024 * 1024;
    unsigned char *in = check_random_bytes(size, 777);
    uvproc_exec_options_t o = {.max_buffer = SIZE_MAX, .input = in, .input_len = size};
    uvproc_exec_result_t r;
    CHECK_OK(uvproc_exec_file_sync("cat", NULL, &o, &r));
    CHECK_EQ(r.out_len, size);
    CHECK(memcmp(r.out, in, size) == 0);
    uvproc_exec_result_free(&r);
    free(in);
}

TEST(bad_arguments)
{
    uvproc_exec_result_t r;
    uvproc_exec_options_t bad = {.max_buffer_mode = (uvproc_maxbuffer_mode_t)9};
    memset(&r, 0xff, sizeof r);
    CHECK_EQ(uvproc_exec_sync(NULL, NULL, &r), UV_EINVAL);
    CHECK(r.out == NULL && r.cmd == NULL); /* nothing to free */
    CHECK_EQ(uvproc_spawn_sync(NULL, NULL, NULL, &r), UV_EINVAL);
    CHECK_EQ(uvproc_exec_file_sync("true", NULL, &bad, &r), UV_EINVAL);
    CHECK_EQ(uvproc_exec_sync("true", NULL, NULL), UV_EINVAL);
    uvproc_exec_result_free(NULL);
}

/* The caller's loop: a handle count and liveness that must not move, callbacks that must not
 * run. Checked from inside a callback of that loop, where an execSync usually happens. */
typedef struct {
    uv_timer_t fire;   /* runs the sync calls */
    uv_timer_t parked; /* an active timer of the caller's, far in the future */
    uv_check_t check;  /* counts loop iterations */
    int checks;
    int ran;
} caller_t;

static void count_handle(uv_handle_t *h, void *arg)
{
    (void)h;
    ++*(int *)arg;
}

static int handles(uv_loop_t *loop)
{
    int n = 0;
    uv_walk(loop, count_handle, &n);
    return n;
}

static void on_check(uv_check_t *c)
{
    caller_t *k = c->data;
    k->checks++;
}

static void on_parked(uv_timer_t *t)
{
    (void)t;
    CHECK(!"the caller's timer must not fire");
}

static void run_sync_calls(uv_timer_t *t)
{
    caller_t *k = t->data;
    uv_loop_t *loop = t->loop, *dflt = uv_default_loop();
    int n = handles(loop), alive = uv_loop_alive(loop), checks = k->checks;
    int dn = handles(dflt), dalive = uv_loop_alive(dflt);
    uint64_t now = uv_now(loop);
    const char *args[] = {"10", NULL};
    uvproc_exec_options_t o = {.timeout_ms = 50, .input = "x", .input_len = 1};
    uvproc_exec_result_t r;

    CHECK_EQ(uvproc_exec_sync("echo hi", NULL, &r), 0);
    CHECK_STR(r.out, "hi\n");
    uvproc_exec_result_free(&r);
    CHECK_EQ(uvproc_exec_file_sync("sleep", args, &o, &r), UV_ETIMEDOUT);
    uvproc_exec_result_free(&r);
    CHECK_OK(uvproc_spawn_sync("/nonexistent/prog", NULL, NULL, &r));
    uvproc_exec_result_free(&r);

    CHECK_EQ(handles(loop), n);
    CHECK_EQ(uv_loop_alive(loop), alive);
    CHECK_EQ(k->checks, checks); /* not one iteration of ours ran */
    CHECK_EQ(uv_now(loop), now); /* not even its clock moved */
    CHECK_EQ(handles(dflt), dn);
    CHECK_EQ(uv_loop_alive(dflt), dalive);
    k->ran = 1;
    uv_close((uv_handle_t *)&k->fire, NULL);
    uv_close((uv_handle_t *)&k->parked, NULL);
    uv_close((uv_handle_t *)&k->check, NULL);
}

TEST(caller_loops_untouched)
{
    uv_loop_t loop;
    caller_t k = {0};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uv_timer_init(&loop, &k.fire));
    CHECK_OK(uv_timer_init(&loop, &k.parked));
    CHECK_OK(uv_check_init(&loop, &k.check));
    k.fire.data = k.parked.data = k.check.data = &k;
    CHECK_OK(uv_timer_start(&k.fire, run_sync_calls, 0, 0));
    CHECK_OK(uv_timer_start(&k.parked, on_parked, 3600 * 1000, 0));
    CHECK_OK(uv_check_start(&k.check, on_check));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(k.ran, 1);
    CHECK_EQ(handles(uv_default_loop()), 0);
    CHECK_OK(uv_loop_close(uv_default_loop()));
}

/* Each call has its own loop: several threads at once. */
static void *thread_main(void *arg)
{
    intptr_t i = (intptr_t)arg;
    char cmd[64], want[32];
    uvproc_exec_result_t r;
    for (int round = 0; round < 5; round++) {
        snprintf(cmd, sizeof cmd, "echo t%d r%d", (int)i, round);
        snprintf(want, sizeof want, "t%d r%d\n", (int)i, round);
        CHECK_OK(uvproc_exec_sync(cmd, NULL, &r));
        CHECK_STR(r.out, want);
        uvproc_exec_result_free(&r);
    }
    return NULL;
}

TEST(threads)
{
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++)
        CHECK_OK(pthread_create(&t[i], NULL, thread_main, (void *)i));
    for (int i = 0; i < 4; i++)
        CHECK_OK(pthread_join(t[i], NULL));
}

int main(int argc, char **argv)
{
    RUN(exit_code);
    RUN(signaled);
    RUN(success);
    RUN(timeout);
    RUN(maxbuffer_exact);
    RUN(enoent);
    RUN(nul_bytes);
    RUN(input_through_cat);
    RUN(bad_arguments);
    RUN(caller_loops_untouched);
    RUN(threads);
    return check_done();
}
