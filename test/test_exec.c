/* exec / execFile: every option and every failure reason, with real children (/bin/sh and
 * coreutils). Waits are on events (the callback, a readiness pipe, waitpid), never sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "uvproc.h"

/* What one exec delivered, copied out of the borrowed result. */
typedef struct {
    int calls;
    int error;
    const char *syscall;
    uv_pid_t pid;
    int64_t exit_code;
    int term_signal, killed, truncated;
    char *cmd;
    char *out, *err;
    size_t out_len, err_len;
    uvproc_exec_t *handle;  /* set by the test, for cancel-from-callback */
    int cancel_in_callback; /* what uvproc_exec_cancel returned inside the callback */
} got_t;

static int in_call; /* set around uvproc_exec*(): the callback must never run inside it */

static char *dup_bytes(const char *b, size_t n)
{
    char *c = malloc(n + 1);
    CHECK(c != NULL);
    memcpy(c, b, n + 1);
    return c;
}

static void on_done(const uvproc_exec_result_t *r, void *data)
{
    got_t *g = data;
    CHECK(!in_call);
    g->calls++;
    g->error = r->error;
    g->syscall = r->syscall;
    g->pid = r->pid;
    g->exit_code = r->exit_code;
    g->term_signal = r->term_signal;
    g->killed = r->killed;
    g->truncated = r->truncated;
    CHECK(r->out != NULL && r->err != NULL && r->cmd != NULL);
    /* NUL-terminated, the NUL not counted */
    CHECK_EQ(r->out[r->out_len], '\0');
    CHECK_EQ(r->err[r->err_len], '\0');
    g->out = dup_bytes(r->out, r->out_len);
    g->err = dup_bytes(r->err, r->err_len);
    g->out_len = r->out_len;
    g->err_len = r->err_len;
    g->cmd = dup_bytes(r->cmd, strlen(r->cmd));
    if (g->handle != NULL)
        g->cancel_in_callback = uvproc_exec_cancel(g->handle);
}

static void got_free(got_t *g)
{
    free(g->out);
    free(g->err);
    free(g->cmd);
}

static uint64_t ms_since(uint64_t t0)
{
    return (uv_hrtime() - t0) / 1000000;
}

/* Runs one exec (args == NULL and shell: exec) to completion on a fresh loop. */
static void run_exec(const char *command, const uvproc_exec_options_t *o, got_t *g)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    in_call = 1;
    CHECK_OK(uvproc_exec(&loop, NULL, command, o, on_done, g));
    in_call = 0;
    CHECK_EQ(g->calls, 0);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(g->calls, 1);
}

static void run_file(const char *file, const char *const *args, const uvproc_exec_options_t *o,
                     got_t *g)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    in_call = 1;
    CHECK_OK(uvproc_exec_file(&loop, NULL, file, args, o, on_done, g));
    in_call = 0;
    CHECK_EQ(g->calls, 0);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(g->calls, 1);
}

/* `yes abcdefghi` output: byte i is PATTERN[i % 10]. */
static const char PATTERN[] = "abcdefghi\n";
static int is_pattern(const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i] != PATTERN[i % 10])
            return 0;
    return 1;
}

/* A FIFO the child writes "ready" to (`echo ready >PATH`) when it has reached the point the
 * test waits for. Launchers close every fd above stdio in the child, hence a name, not an
 * inherited fd. Opened O_RDWR: never blocks, and reads wait for data instead of seeing EOF
 * before the child opened it. */
typedef struct {
    char dir[64];
    char path[96];
    int fd;
} ready_t;

static void ready_open(ready_t *r)
{
    strcpy(r->dir, "/tmp/uvproc-exec-XXXXXX");
    CHECK(mkdtemp(r->dir) != NULL);
    snprintf(r->path, sizeof r->path, "%s/ready", r->dir);
    CHECK_OK(mkfifo(r->path, 0600));
    r->fd = open(r->path, O_RDWR | O_CLOEXEC);
    CHECK(r->fd >= 0);
}

/* Blocks until the child said ready; alarm turns a child that never does into a failure. */
static void ready_wait(ready_t *r)
{
    char buf[16];
    ssize_t n;
    alarm(20);
    do
        n = read(r->fd, buf, sizeof buf);
    while (n < 0 && errno == EINTR);
    alarm(0);
    CHECK(n == 6 && memcmp(buf, "ready\n", 6) == 0);
}

static void ready_close(ready_t *r)
{
    if (r->fd >= 0)
        close(r->fd);
    unlink(r->path);
    rmdir(r->dir);
}

/* Once the child said ready, runs the loop to its end; a survivor holding the pipes would block
 * the loop forever, so an alarm turns that into a failure instead of a hang. */
static void run_after_ready(uv_loop_t *loop, ready_t *rd)
{
    ready_wait(rd);
    ready_close(rd);
    alarm(20);
    CHECK_LOOP_CLOSE(loop);
    alarm(0);
}

TEST(success_captures_both_streams)
{
    got_t g = {0};
    run_exec("printf out; printf 'err\\n' >&2", NULL, &g);
    CHECK_EQ(g.error, 0);
    CHECK(g.syscall == NULL);
    CHECK(g.pid > 0);
    CHECK_EQ(g.exit_code, 0);
    CHECK_EQ(g.term_signal, 0);
    CHECK_EQ(g.killed, 0);
    CHECK_EQ(g.truncated, 0);
    CHECK_STR(g.out, "out");
    CHECK_EQ(g.out_len, 3);
    CHECK_STR(g.err, "err\n");
    CHECK_EQ(g.err_len, 4);
    CHECK_STR(g.cmd, "printf out; printf 'err\\n' >&2");
    got_free(&g);
}

TEST(exit_code)
{
    const char *args[] = {"-c", "echo partial; exit 7", NULL};
    got_t g = {0};
    run_file("sh", args, NULL, &g);
    CHECK_EQ(g.error, UVPROC_EEXITCODE);
    CHECK_EQ(g.exit_code, 7);
    CHECK_EQ(g.term_signal, 0);
    CHECK_EQ(g.killed, 0);
    CHECK_STR(g.out, "partial\n");
    CHECK_STR(g.cmd, "sh -c echo partial; exit 7");
    got_free(&g);
}

TEST(signaled)
{
    got_t g = {0};
    run_exec("echo before; kill -USR1 $$", NULL, &g);
    CHECK_EQ(g.error, UVPROC_ESIGNALED);
    CHECK_EQ(g.term_signal, SIGUSR1);
    CHECK_EQ(g.exit_code, -1);
    CHECK_EQ(g.killed, 0);
    CHECK_STR(g.out, "before\n");
    got_free(&g);
}

TEST(timeout)
{
    const char *args[] = {"10", NULL};
    uvproc_exec_options_t o = {.timeout_ms = 100};
    got_t g = {0};
    uint64_t t0 = uv_hrtime();
    run_file("sleep", args, &o, &g);
    CHECK(ms_since(t0) >= 99);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(g.error, UV_ETIMEDOUT);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    CHECK_EQ(g.exit_code, -1);
    got_free(&g);
}

/* Without kill_tree the shell dies of the timeout but a background job it left holds stdout:
 * the exec must still complete one grace period later (its pipes are closed), not when the
 * job ends. The job is a subreaped child of the test, killed and reaped at the end. */
TEST(timeout_orphan_holding_stdout)
{
    uv_loop_t loop;
    char cmd[200], buf[32] = "";
    ready_t rd;
    uvproc_exec_options_t o = {.timeout_ms = 100, .stop = {.first = {SIGTERM, 300}}};
    got_t g = {0};
    uint64_t t0;
    ssize_t n;
    pid_t job;

    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
    ready_open(&rd);
    snprintf(cmd, sizeof cmd, "sleep 30 & echo $! >%s; wait", rd.path);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_exec(&loop, NULL, cmd, &o, on_done, &g));
    alarm(20);
    do
        n = read(rd.fd, buf, sizeof buf - 1);
    while (n < 0 && errno == EINTR);
    alarm(0);
    CHECK(n > 1);
    job = (pid_t)atoi(buf);
    CHECK(job > 0);
    t0 = uv_hrtime();
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(g.error, UV_ETIMEDOUT);
    CHECK_EQ(g.term_signal, SIGTERM);
    /* timeout + grace, far below the job's 30 s */
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(kill(job, 0), 0); /* the job really outlived the exec */
    CHECK_OK(kill(job, SIGKILL));
    CHECK_EQ(waitpid(job, NULL, 0), job);
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 0));
    ready_close(&rd);
    got_free(&g);
}

/* A child that ignores SIGTERM gets the second signal after the grace. The readiness pipe is
 * read before the loop runs, so the timeout cannot fire before the trap is in place. */
static void sigterm_ignored(int kill_tree)
{
    uv_loop_t loop;
    char cmd[160];
    ready_t rd;
    uvproc_exec_options_t o = {.timeout_ms = 100, .kill_tree = kill_tree};
    got_t g = {0};
    uint64_t t0;

    o.stop.first.grace_ms = 200;
    /* `exec sleep` keeps the pid (sleep inherits the ignored TERM); with kill_tree sh forks
     * sleep and the group signal reaches both. */
    ready_open(&rd);
    snprintf(cmd, sizeof cmd, "trap '' TERM; echo ready >%s; %ssleep 10", rd.path,
             kill_tree ? "" : "exec ");
    CHECK_OK(uv_loop_init(&loop));
    t0 = uv_hrtime();
    CHECK_OK(uvproc_exec(&loop, NULL, cmd, &o, on_done, &g));
    run_after_ready(&loop, &rd);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(g.error, UV_ETIMEDOUT);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGKILL);
    CHECK(ms_since(t0) >= 100 + 200 - 2); /* the loop clock counts whole milliseconds */
    CHECK(ms_since(t0) < 5000);
    got_free(&g);
}

TEST(timeout_sigterm_ignored_gets_sigkill)
{
    sigterm_ignored(0);
}

TEST(timeout_sigterm_ignored_gets_sigkill_tree)
{
    sigterm_ignored(1);
}

/* Reaps the members of group `pgid` that were re-parented to us (we are a subreaper during
 * the test) and checks that none is left. A survivor would block here: alarm turns that into
 * a failure instead of a hang. */
static void check_group_gone(pid_t pgid)
{
    int status;
    alarm(20);
    while (waitpid(-pgid, &status, 0) > 0)
        ;
    alarm(0);
    CHECK_EQ(errno, ECHILD);
    CHECK(kill(-pgid, 0) == -1 && errno == ESRCH);
}

TEST(kill_tree_leaves_nothing)
{
    uvproc_exec_options_t o = {.timeout_ms = 100, .kill_tree = 1};
    got_t g = {0};
    uint64_t t0 = uv_hrtime();
    o.stop.second.signal = -1; /* SIGTERM alone, so only the group signal can end this */
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
    alarm(20); /* a survivor holding the pipes would block the loop: fail, do not hang */
    run_exec("sleep 100 & sleep 100", &o, &g);
    alarm(0);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(g.error, UV_ETIMEDOUT);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    check_group_gone(g.pid);
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 0));
    got_free(&g);
}

/* The leader exits at once; a member of its group that ignores SIGTERM holds the pipes. The
 * timeout still reaches the group, and the second signal still comes after the grace. */
TEST(kill_tree_after_leader_exit)
{
    uv_loop_t loop;
    char cmd[160];
    ready_t rd;
    uvproc_exec_options_t o = {.timeout_ms = 100, .kill_tree = 1};
    got_t g = {0};
    uint64_t t0;

    o.stop.first.grace_ms = 200;
    ready_open(&rd);
    snprintf(cmd, sizeof cmd, "(trap '' TERM; echo ready >%s; exec sleep 100) & exit 0", rd.path);
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
    CHECK_OK(uv_loop_init(&loop));
    t0 = uv_hrtime();
    CHECK_OK(uvproc_exec(&loop, NULL, cmd, &o, on_done, &g));
    run_after_ready(&loop, &rd);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(g.error, UV_ETIMEDOUT);
    CHECK_EQ(g.killed, 1);
    CHECK(ms_since(t0) >= 100 + 200 - 2);
    CHECK(ms_since(t0) < 5000);
    check_group_gone(g.pid);
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 0));
    got_free(&g);
}

static void maxbuffer_kill(int fd, int kill_tree)
{
    char cmd[128];
    uvproc_exec_options_t o = {.max_buffer = 1000, .kill_tree = kill_tree};
    got_t g = {0};
    uint64_t t0 = uv_hrtime();
    snprintf(cmd, sizeof cmd, "yes abcdefghi | head -c 5000 >&%d; exec sleep 10", fd);
    run_exec(cmd, &o, &g);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(g.error, UVPROC_EMAXBUFFER);
    CHECK_EQ(g.truncated, 1);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    CHECK_EQ(fd == 1 ? g.out_len : g.err_len, 1000);
    CHECK_EQ(fd == 1 ? g.err_len : g.out_len, 0);
    CHECK(is_pattern(fd == 1 ? g.out : g.err, 1000));
    got_free(&g);
}

TEST(maxbuffer_kill_stdout)
{
    maxbuffer_kill(1, 0);
}

TEST(maxbuffer_kill_stderr)
{
    maxbuffer_kill(2, 1);
}

static void maxbuffer_truncate(int fd, const char *size)
{
    char cmd[128];
    uvproc_exec_options_t o = {.max_buffer = 1000, .max_buffer_mode = UVPROC_MAXBUFFER_TRUNCATE};
    got_t g = {0};
    snprintf(cmd, sizeof cmd, "yes abcdefghi | head -c %s >&%d; echo done", size, fd);
    run_exec(cmd, &o, &g);
    CHECK_EQ(g.error, UVPROC_EMAXBUFFER);
    CHECK_EQ(g.truncated, 1);
    CHECK_EQ(g.killed, 0);
    CHECK_EQ(g.exit_code, 0); /* the child ran to its end */
    CHECK_EQ(g.term_signal, 0);
    if (fd == 1) {
        CHECK_EQ(g.out_len, 1000);
        CHECK(is_pattern(g.out, 1000));
    } else {
        CHECK_EQ(g.err_len, 1000);
        CHECK(is_pattern(g.err, 1000));
        CHECK_STR(g.out, "done\n");
    }
    got_free(&g);
}

TEST(maxbuffer_truncate_stdout)
{
    maxbuffer_truncate(1, "5000");
}

TEST(maxbuffer_truncate_stderr)
{
    maxbuffer_truncate(2, "5000");
}

/* Far more than any pipe holds: the child only finishes if we keep draining. */
TEST(maxbuffer_truncate_drains)
{
    maxbuffer_truncate(1, "4000000");
}

TEST(maxbuffer_exact_fit_is_no_error)
{
    uvproc_exec_options_t o = {.max_buffer = 1000};
    got_t g = {0};
    run_exec("yes abcdefghi | head -c 1000; yes abcdefghi | head -c 1000 >&2", &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_EQ(g.truncated, 0);
    CHECK_EQ(g.out_len, 1000);
    CHECK_EQ(g.err_len, 1000);
    got_free(&g);
}

TEST(maxbuffer_default_is_1mib)
{
    got_t g = {0};
    run_exec("head -c 3000000 /dev/zero", NULL, &g);
    CHECK_EQ(g.error, UVPROC_EMAXBUFFER);
    CHECK_EQ(g.truncated, 1);
    CHECK_EQ(g.out_len, 1024 * 1024);
    got_free(&g);
}

TEST(truncate_ranks_below_exit_code)
{
    uvproc_exec_options_t o = {.max_buffer = 10, .max_buffer_mode = UVPROC_MAXBUFFER_TRUNCATE};
    got_t g = {0};
    run_exec("head -c 100 /dev/zero; exit 3", &o, &g);
    CHECK_EQ(g.error, UVPROC_EEXITCODE);
    CHECK_EQ(g.exit_code, 3);
    CHECK_EQ(g.truncated, 1);
    CHECK_EQ(g.out_len, 10);
    got_free(&g);
}

TEST(enoent)
{
    got_t g = {0}, h = {0};
    run_file("/nonexistent/prog", NULL, NULL, &g);
    CHECK_EQ(g.error, UV_ENOENT);
    CHECK_STR(g.syscall, "spawn");
    CHECK_EQ(g.pid, 0);
    CHECK_EQ(g.exit_code, -1);
    CHECK_EQ(g.killed, 0);
    CHECK_EQ(g.out_len, 0);
    CHECK_STR(g.out, "");
    CHECK_STR(g.cmd, "/nonexistent/prog");
    /* looked up in PATH */
    run_file("uvproc-no-such-program", NULL, NULL, &h);
    CHECK_EQ(h.error, UV_ENOENT);
    CHECK_STR(h.syscall, "spawn");
    got_free(&g);
    got_free(&h);
}

TEST(bad_cwd)
{
    uvproc_exec_options_t o = {.spawn.cwd = "/nonexistent/dir"};
    got_t g = {0};
    run_exec("pwd", &o, &g);
    CHECK_EQ(g.error, UV_ENOENT);
    CHECK_STR(g.syscall, "chdir");
    CHECK_EQ(g.pid, 0);
    got_free(&g);
}

TEST(cancel_before_spawn_event)
{
    uv_loop_t loop;
    const char *args[] = {"10", NULL};
    uvproc_exec_t *h;
    got_t g = {0};
    uint64_t t0 = uv_hrtime();
    CHECK_OK(uv_loop_init(&loop));
    in_call = 1;
    CHECK_OK(uvproc_exec_file(&loop, &h, "sleep", args, NULL, on_done, &g));
    CHECK(h != NULL);
    CHECK_OK(uvproc_exec_cancel(h));
    CHECK_EQ(uvproc_exec_cancel(h), UV_EALREADY);
    in_call = 0;
    CHECK_EQ(g.calls, 0);
    g.handle = h;
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(g.calls, 1);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(g.error, UV_ECANCELED);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    CHECK_EQ(g.cancel_in_callback, UV_EALREADY);
    got_free(&g);
}

typedef struct {
    uv_pipe_t pipe;
    uvproc_exec_t *exec;
    int cancelled;
} canceller_t;

static void canceller_alloc(uv_handle_t *h, size_t n, uv_buf_t *buf)
{
    static char mem[64];
    (void)h;
    (void)n;
    *buf = uv_buf_init(mem, sizeof mem);
}

static void canceller_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    canceller_t *c = s->data;
    (void)buf;
    CHECK(n > 0); /* "ready" arrives before any EOF */
    CHECK_OK(uvproc_exec_cancel(c->exec));
    c->cancelled = 1;
    uv_close((uv_handle_t *)s, NULL);
}

/* Output written before the cancel is kept: the signal goes first, the pipes drain after. */
TEST(cancel_after_output)
{
    uv_loop_t loop;
    char cmd[160];
    ready_t rd;
    uvproc_exec_options_t o = {.kill_tree = 1};
    canceller_t c = {0};
    got_t g = {0};
    uint64_t t0 = uv_hrtime();

    ready_open(&rd);
    snprintf(cmd, sizeof cmd, "echo start; echo ready >%s; sleep 10", rd.path);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_exec(&loop, &c.exec, cmd, &o, on_done, &g));
    CHECK_OK(uv_pipe_init(&loop, &c.pipe, 0));
    CHECK_OK(uv_pipe_open(&c.pipe, rd.fd));
    rd.fd = -1; /* the uv_pipe_t owns it now */
    c.pipe.data = &c;
    CHECK_OK(uv_read_start((uv_stream_t *)&c.pipe, canceller_alloc, canceller_read));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(c.cancelled, 1);
    CHECK_EQ(g.calls, 1);
    CHECK(ms_since(t0) < 5000);
    CHECK_EQ(g.error, UV_ECANCELED);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    CHECK_STR(g.out, "start\n");
    ready_close(&rd);
    got_free(&g);
}

static void cancel_now(uv_timer_t *t)
{
    got_t *g = t->data;
    /* exec's own timer, due at the same time but started first, has fired in this same timer
     * phase: the child is being stopped for the timeout, and its exit cannot have been seen. */
    CHECK_EQ(g->calls, 0);
    CHECK_OK(uvproc_exec_cancel(g->handle));
    uv_close((uv_handle_t *)t, NULL);
}

/* Cancel ranks above timeout; the cancel of a finished exec is refused. */
TEST(cancel_after_timeout_and_after_finish)
{
    uv_loop_t loop;
    uv_timer_t t;
    const char *args[] = {"10", NULL};
    uvproc_exec_options_t o = {.timeout_ms = 50};
    got_t g = {0};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_exec_file(&loop, &g.handle, "sleep", args, &o, on_done, &g));
    CHECK_OK(uv_timer_init(&loop, &t));
    t.data = &g;
    CHECK_OK(uv_timer_start(&t, cancel_now, 50, 0));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(g.calls, 1);
    CHECK_EQ(g.error, UV_ECANCELED);
    CHECK_EQ(g.killed, 1);
    CHECK_EQ(g.term_signal, SIGTERM);
    CHECK_EQ(g.cancel_in_callback, UV_EALREADY);
    got_free(&g);
}

TEST(nul_bytes)
{
    got_t g = {0};
    run_exec("printf 'a\\000b\\000\\000c'; printf '\\000x\\000' >&2", NULL, &g);
    CHECK_EQ(g.error, 0);
    CHECK_EQ(g.out_len, 6);
    CHECK(memcmp(g.out, "a\0b\0\0c", 6) == 0);
    CHECK_EQ(g.err_len, 3);
    CHECK(memcmp(g.err, "\0x\0", 3) == 0);
    got_free(&g);
}

TEST(output_50mb_unlimited)
{
    const size_t size = 50u * 1024 * 1024;
    char cmd[64];
    uvproc_exec_options_t o = {.max_buffer = SIZE_MAX};
    got_t g = {0};
    snprintf(cmd, sizeof cmd, "yes abcdefghi | head -c %zu", size);
    run_exec(cmd, &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_EQ(g.truncated, 0);
    CHECK_EQ(g.out_len, size);
    CHECK(is_pattern(g.out, size));
    got_free(&g);
}

TEST(input_10mb_through_cat)
{
    const size_t size = 10u * 1024 * 1024;
    unsigned char *in = check_random_bytes(size, 12345);
    uvproc_exec_options_t o = {.max_buffer = SIZE_MAX, .input = in, .input_len = size};
    got_t g = {0};
    run_file("cat", NULL, &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_EQ(g.out_len, size);
    CHECK(memcmp(g.out, in, size) == 0);
    free(in);
    got_free(&g);
}

TEST(input_small_and_empty)
{
    uvproc_exec_options_t o = {.input = "hello", .input_len = 5};
    got_t g = {0}, h = {0}, k = {0};
    run_file("tr", (const char *const[]){"a-z", "A-Z", NULL}, &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_STR(g.out, "HELLO");
    /* empty input: stdin is a pipe that ends at once */
    o.input_len = 0;
    run_file("wc", (const char *const[]){"-c", NULL}, &o, &h);
    CHECK_EQ(h.error, 0);
    CHECK_EQ(atoi(h.out), 0);
    /* no input: stdin is /dev/null, `cat` does not wait forever as in Node */
    run_file("cat", NULL, NULL, &k);
    CHECK_EQ(k.error, 0);
    CHECK_EQ(k.out_len, 0);
    got_free(&g);
    got_free(&h);
    got_free(&k);
}

/* A child that never reads its stdin: the EPIPE is not the exec's failure. */
TEST(input_not_read)
{
    const size_t size = 4u * 1024 * 1024;
    char *in = calloc(1, size);
    uvproc_exec_options_t o = {.input_len = size};
    got_t g = {0};
    CHECK(in != NULL);
    o.input = in;
    run_exec("echo ignored", &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_EQ(g.exit_code, 0);
    CHECK_STR(g.out, "ignored\n");
    free(in);
    got_free(&g);
}

TEST(env_and_cwd)
{
    const char *env[] = {"UVPROC_FOO=bar", NULL};
    uvproc_exec_options_t o = {.spawn.env = env, .spawn.cwd = "/usr"};
    got_t g = {0}, h = {0}, k = {0};
    /* REPLACE: exactly this environment */
    run_file("/usr/bin/env", NULL, &o, &g);
    CHECK_EQ(g.error, 0);
    CHECK_STR(g.out, "UVPROC_FOO=bar\n");
    run_exec("pwd", &o, &h);
    CHECK_STR(h.out, "/usr\n");
    /* EXTEND keeps the parent's environment */
    o.spawn.env_mode = UVPROC_ENV_EXTEND;
    CHECK_OK(setenv("UVPROC_PARENT_VAR", "kept", 1));
    run_exec("echo $UVPROC_FOO $UVPROC_PARENT_VAR", &o, &k);
    CHECK_OK(unsetenv("UVPROC_PARENT_VAR"));
    CHECK_EQ(k.error, 0);
    CHECK_STR(k.out, "bar kept\n");
    got_free(&g);
    got_free(&h);
    got_free(&k);
}

TEST(shell_option)
{
    uvproc_exec_options_t o = {.spawn.shell = "/bin/bash"};
    uvproc_exec_options_t f = {.spawn.shell = UVPROC_SHELL};
    got_t g = {0}, h = {0}, k = {0};
    run_exec("echo $0", NULL, &g);
    CHECK_STR(g.out, "/bin/sh\n");
    run_exec("echo $0 ${BASH_VERSION:+bash}", &o, &h);
    CHECK_STR(h.out, "/bin/bash bash\n");
    /* execFile with a shell: file and args joined, as Node's shell option */
    run_file("echo", (const char *const[]){"a", "$((1+2))", NULL}, &f, &k);
    CHECK_STR(k.out, "a 3\n");
    CHECK_STR(k.cmd, "echo a $((1+2))");
    got_free(&g);
    got_free(&h);
    got_free(&k);
}

static void on_unexpected(const uvproc_exec_result_t *r, void *data)
{
    (void)r;
    (void)data;
    CHECK(!"no callback after a synchronous error");
}

TEST(bad_arguments)
{
    uv_loop_t loop;
    uvproc_exec_t *h = (uvproc_exec_t *)&loop;
    uvproc_exec_options_t bad_mode = {.max_buffer_mode = (uvproc_maxbuffer_mode_t)7};
    uvproc_exec_options_t bad_signal = {.stop.first.signal = 1000};
    uvproc_exec_options_t bad_input = {.input_len = 3};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_EQ(uvproc_exec(NULL, &h, "true", NULL, on_unexpected, NULL), UV_EINVAL);
    CHECK(h == NULL);
    CHECK_EQ(uvproc_exec(&loop, NULL, NULL, NULL, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec(&loop, NULL, "", NULL, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec_file(&loop, NULL, NULL, NULL, NULL, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec(&loop, NULL, "true", &bad_mode, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec(&loop, NULL, "true", &bad_signal, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec(&loop, NULL, "true", &bad_input, on_unexpected, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_exec_cancel(NULL), UV_EINVAL);
    CHECK_LOOP_CLOSE(&loop);
}

/* Many at once on one loop: each result is its own. */
TEST(concurrent)
{
    enum { N = 16 };
    uv_loop_t loop;
    got_t g[N];
    memset(g, 0, sizeof g);
    CHECK_OK(uv_loop_init(&loop));
    for (int i = 0; i < N; i++) {
        char cmd[64];
        snprintf(cmd, sizeof cmd, "echo %d; echo e%d >&2; exit %d", i, i, i);
        CHECK_OK(uvproc_exec(&loop, NULL, cmd, NULL, on_done, &g[i]));
    }
    CHECK_LOOP_CLOSE(&loop);
    for (int i = 0; i < N; i++) {
        char want[16];
        CHECK_EQ(g[i].calls, 1);
        CHECK_EQ(g[i].error, i == 0 ? 0 : UVPROC_EEXITCODE);
        CHECK_EQ(g[i].exit_code, i);
        snprintf(want, sizeof want, "%d\n", i);
        CHECK_STR(g[i].out, want);
        snprintf(want, sizeof want, "e%d\n", i);
        CHECK_STR(g[i].err, want);
        got_free(&g[i]);
    }
}

int main(int argc, char **argv)
{
    RUN(success_captures_both_streams);
    RUN(exit_code);
    RUN(signaled);
    RUN(timeout);
    RUN(timeout_orphan_holding_stdout);
    RUN(timeout_sigterm_ignored_gets_sigkill);
    RUN(timeout_sigterm_ignored_gets_sigkill_tree);
    RUN(kill_tree_leaves_nothing);
    RUN(kill_tree_after_leader_exit);
    RUN(maxbuffer_kill_stdout);
    RUN(maxbuffer_kill_stderr);
    RUN(maxbuffer_truncate_stdout);
    RUN(maxbuffer_truncate_stderr);
    RUN(maxbuffer_truncate_drains);
    RUN(maxbuffer_exact_fit_is_no_error);
    RUN(maxbuffer_default_is_1mib);
    RUN(truncate_ranks_below_exit_code);
    RUN(enoent);
    RUN(bad_cwd);
    RUN(cancel_before_spawn_event);
    RUN(cancel_after_output);
    RUN(cancel_after_timeout_and_after_finish);
    RUN(nul_bytes);
    RUN(output_50mb_unlimited);
    RUN(input_10mb_through_cat);
    RUN(input_small_and_empty);
    RUN(input_not_read);
    RUN(env_and_cwd);
    RUN(shell_option);
    RUN(bad_arguments);
    RUN(concurrent);
    return check_done();
}
