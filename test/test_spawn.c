/* uvproc_spawn: the process lifecycle and its options. Events and their order (Node's), failed
 * starts (error with the right syscall, then close), exit codes and signals, kill / stop /
 * process groups, env / PATH / cwd / argv0 / shell, ownership (retain/release), loop
 * liveness (unref) and argument errors. Pipes and their data are in test_spawn_stdio.c. */
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>

#include "spawn_rec.h"

/* ---------------------------------------------------------------------------------------- */
/* exit codes and Node's event order                                                        */

TEST(exit_code)
{
    static const int codes[] = {0, 7, 255};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char code[16];
        const char *args[] = {"exit", code, NULL};
        rec_t r;
        uvproc_spawn_options_t o = rec_init(&r);
        snprintf(code, sizeof code, "%d", codes[i]);
        rec_run(&r, &o, args);
        CHECK_EQ(r.nexit, 1);
        CHECK_EQ(r.exit_code, codes[i]);
        CHECK_EQ(r.exit_signal, 0);
        CHECK_EQ(r.close_code, codes[i]);
        CHECK_EQ(r.close_signal, 0);
        /* stdout and stderr are pipes by default: both end, with nothing on them. */
        CHECK(r.ended[1] && r.ended[2]);
        CHECK_EQ(r.end_status[1], 0);
        CHECK_EQ(r.end_status[2], 0);
        CHECK_EQ(r.out[1].len + r.out[2].len, 0);
        CHECK_EQ(rec_index(&r, "spawn"), 0);
        CHECK_EQ(rec_index(&r, "close"), 4);
        rec_free(&r);
    }
}

static void check_before(const rec_t *r, const char *a, const char *b)
{
    int ia = rec_index(r, a), ib = rec_index(r, b);
    if (ia < 0 || ib < 0 || ia >= ib) {
        fprintf(stderr, "expected %s before %s in \"%s\"\n", a, b, r->log);
        exit(1);
    }
}

/* Node (verified): spawn -> stdout data -> stdout end -> exit(3) -> close(3). EOF comes before
 * SIGCHLD because the kernel closes a dying process's files before it notifies the parent. */
TEST(event_order)
{
    const char *args[] = {"-c", "echo hi; echo oops >&2; exit 3", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    rec_run_file(&r, &o, "sh", args);
    CHECK_STR(rec_out(&r, 1), "hi\n");
    CHECK_STR(rec_out(&r, 2), "oops\n");
    CHECK_EQ(r.nerror, 0);
    CHECK_EQ(r.exit_code, 3);
    CHECK_EQ(r.exit_signal, 0);
    CHECK_EQ(r.close_code, 3);
    CHECK_EQ(r.close_signal, 0);
    /* spawn data1 data2 end1 end2 exit close, fds 1 and 2 interleaved in any order. */
    CHECK_EQ(rec_index(&r, "spawn"), 0);
    check_before(&r, "data1", "end1");
    check_before(&r, "data2", "end2");
    check_before(&r, "end1", "exit");
    check_before(&r, "end2", "exit");
    CHECK_EQ(rec_index(&r, "exit"), 5);
    CHECK_EQ(rec_index(&r, "close"), 6);
    CHECK_EQ(rec_index(&r, "error"), -1);
    rec_free(&r);
}

/* NULL options: defaults, no callbacks, and the object is still freed after close. */
TEST(options_null)
{
    const char *args[] = {"print", "out", "err", "5", NULL};
    uv_loop_t loop;
    uvproc_process_t *p;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, &p, CHILD_HELPER, args, NULL));
    uvproc_process_retain(p);
    CHECK_LOOP_CLOSE(&loop);
    CHECK(uvproc_exited(p));
    CHECK_EQ(uvproc_exit_code(p), 5);
    uvproc_process_release(p);
}

/* ---------------------------------------------------------------------------------------- */
/* failed starts: error (code, syscall, path), then close(code); no spawn, no exit           */

static void expect_spawn_error(const char *file, const char *cwd, int code, const char *syscall,
                               const char *path)
{
    const char *args[] = {"exit", "0", NULL};
    uv_loop_t loop;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.cwd = cwd;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, &r.p, file, args, &o));
    CHECK(r.p != NULL);
    uvproc_process_retain(r.p);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_STR(r.log, "error close");
    if (r.err.code != code)
        fprintf(stderr, "%s: got %s, expected %s\n", file, uvproc_err_name(r.err.code),
                uvproc_err_name(code));
    CHECK_EQ(r.err.code, code);
    CHECK_STR(r.err.syscall, syscall);
    CHECK_STR(r.err.path, path);
    CHECK_EQ(r.close_code, code);
    CHECK_EQ(r.close_signal, 0);
    CHECK_EQ(uvproc_pid(r.p), 0);
    CHECK(!uvproc_exited(r.p));
    CHECK_EQ(uvproc_kill(r.p, SIGTERM), UV_ESRCH);
    CHECK(!uvproc_killed(r.p));
    uvproc_process_release(r.p);
}

TEST(enoent)
{
    expect_spawn_error("/nonexistent/uvproc-prog", NULL, UV_ENOENT, "spawn",
                       "/nonexistent/uvproc-prog");
    /* Not in PATH: the path is the name as given. */
    expect_spawn_error("uvproc-no-such-program", NULL, UV_ENOENT, "spawn",
                       "uvproc-no-such-program");
}

TEST(bad_cwd)
{
    char dir[64], missing[128], file[128];
    rec_tmpdir(dir, sizeof dir);
    snprintf(missing, sizeof missing, "%s/missing", dir);
    rec_write_file(file, sizeof file, dir, "file", "", 0644);
    /* The program exists: the error names the directory, not the program. */
    expect_spawn_error(CHILD_HELPER, missing, UV_ENOENT, "chdir", missing);
    expect_spawn_error(CHILD_HELPER, file, UV_ENOTDIR, "chdir", file);
    /* A good cwd with a missing program is the program's fault. */
    expect_spawn_error("/nonexistent/uvproc-prog", dir, UV_ENOENT, "spawn",
                       "/nonexistent/uvproc-prog");
    rec_tmpdir_remove(dir);
}

TEST(eacces)
{
    char dir[64], file[128];
    rec_tmpdir(dir, sizeof dir);
    rec_write_file(file, sizeof file, dir, "not-executable", "#!/bin/sh\nexit 0\n", 0644);
    expect_spawn_error(file, NULL, UV_EACCES, "spawn", file);
    rec_tmpdir_remove(dir);
}

/* libuv's spawn_exercise_sigchld_issue: failed starts must not cost a later child its exit. */
typedef struct {
    int errors, closes;
} fail_count_t;

static void count_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    fail_count_t *c = uvproc_process_data(p);
    CHECK_EQ(e->code, UV_ENOENT);
    c->errors++;
}

static void count_close(uvproc_process_t *p, int64_t code, int signal)
{
    fail_count_t *c = uvproc_process_data(p);
    CHECK_EQ(code, UV_ENOENT);
    CHECK_EQ(signal, 0);
    c->closes++;
}

static void fail_count_exit(uvproc_process_t *p, int64_t code, int signal)
{
    (void)p;
    (void)code;
    (void)signal;
    CHECK(0); /* a failed start never exits */
}

TEST(failing_spawns_then_real)
{
    const char *args[] = {"exit", "7", NULL};
    fail_count_t count = {0, 0};
    uvproc_spawn_options_t fail = {.data = &count,
                                   .on_error = count_error,
                                   .on_exit = fail_count_exit,
                                   .on_close = count_close};
    uv_loop_t loop;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    CHECK_OK(uv_loop_init(&loop));
    for (int i = 0; i < 100; i++)
        CHECK_OK(uvproc_spawn(&loop, NULL, "/nonexistent/uvproc-prog", NULL, &fail));
    CHECK_OK(uvproc_spawn(&loop, &r.p, CHILD_HELPER, args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(count.errors, 100);
    CHECK_EQ(count.closes, 100);
    CHECK_EQ(r.exit_code, 7);
    CHECK_EQ(r.close_code, 7);
    rec_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* signals: kill, stop, process groups                                                       */

static void kill_term_on_spawn(rec_t *r)
{
    CHECK(!uvproc_killed(r->p));
    CHECK_OK(uvproc_kill(r->p, SIGTERM));
    CHECK(uvproc_killed(r->p));
}

static void kill_after_exit(rec_t *r)
{
    int killed = uvproc_killed(r->p);
    /* The pid may already belong to another process: never signalled, whatever the signal. */
    CHECK_EQ(uvproc_kill(r->p, SIGTERM), UV_ESRCH);
    CHECK_EQ(uvproc_kill(r->p, 0), UV_ESRCH);
    CHECK_EQ(uvproc_stop(r->p, NULL, 0), UV_ESRCH);
    CHECK_EQ(uvproc_killed(r->p), killed);
}

TEST(kill_sigterm)
{
    const char *args[] = {"sleep", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.after_spawn = kill_term_on_spawn;
    r.after_exit = kill_after_exit;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, -1);
    CHECK_EQ(r.exit_signal, SIGTERM);
    CHECK_EQ(r.close_code, -1);
    CHECK_EQ(r.close_signal, SIGTERM);
    rec_free(&r);
}

/* A signal the child raises itself is reported the same way, and killed stays 0. */
TEST(signal_from_child)
{
    char sig[16];
    const char *args[] = {"kill-self", sig, NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    snprintf(sig, sizeof sig, "%d", SIGTERM);
    r.after_exit = kill_after_exit;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, -1);
    CHECK_EQ(r.exit_signal, SIGTERM);
    CHECK_EQ(r.close_signal, SIGTERM);
    rec_free(&r);
}

/* kill(0) probes; as Node's kill(0), it counts as "killed" (a signal was sent). */
static void probe_then_exit(rec_t *r)
{
    CHECK_OK(uvproc_kill(r->p, 0));
    CHECK(uvproc_killed(r->p));
    CHECK_EQ(uvproc_exited(r->p), 0);
    CHECK_OK(uvproc_end(r->p, 0)); /* `echo` exits at EOF */
}

TEST(kill_probe_and_after_exit)
{
    const char *args[] = {"echo", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.after_spawn = probe_then_exit;
    r.after_exit = kill_after_exit;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, 0);
    CHECK_EQ(r.exit_signal, 0);
    rec_free(&r);
}

typedef struct {
    uint64_t started;
    int stopped;
} stop_state_t;

static void stop_when_ready(rec_t *r, int fd, const char *buf, size_t len)
{
    stop_state_t *s = r->user;
    uvproc_stop_t stop = {.first = {SIGTERM, 100}, .second = {SIGKILL}};
    (void)buf;
    (void)len;
    if (fd != 1 || s->stopped || strcmp(rec_out(r, 1), "ready\n") != 0)
        return;
    s->stopped = 1;
    s->started = uv_now(uvproc_loop(r->p));
    CHECK_OK(uvproc_stop(r->p, &stop, 0));
    CHECK(uvproc_killed(r->p));
}

static void stop_check_grace(rec_t *r)
{
    stop_state_t *s = r->user;
    uv_loop_t *loop = uvproc_loop(r->p);
    uv_update_time(loop);
    /* SIGKILL came only after the grace period. */
    CHECK(uv_now(loop) - s->started >= 100);
}

/* A child that ignores SIGTERM is killed by the second step. */
TEST(stop_escalates)
{
    const char *args[] = {"trap-term", NULL};
    stop_state_t s = {0, 0};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.user = &s;
    r.after_data = stop_when_ready;
    r.after_exit = stop_check_grace;
    rec_run(&r, &o, args);
    CHECK(s.stopped);
    CHECK_EQ(r.exit_code, -1);
    CHECK_EQ(r.exit_signal, SIGKILL);
    CHECK_EQ(r.close_signal, SIGKILL);
    rec_free(&r);
}

static void stop_default_on_spawn(rec_t *r)
{
    CHECK_OK(uvproc_stop(r->p, NULL, 0));
}

static void stop_sigint_on_spawn(rec_t *r)
{
    uvproc_stop_t stop = {.first = {SIGINT, 0}, .second = {-1}};
    CHECK_OK(uvproc_stop(r->p, &stop, 0));
}

/* A child that obeys the first signal: the escalation timer must not outlive it. */
TEST(stop_first_signal_suffices)
{
    const char *args[] = {"sleep", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    uint64_t t0 = uv_hrtime();
    r.after_spawn = stop_default_on_spawn;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_signal, SIGTERM);
    /* The default grace is 2000 ms: a timer left pending would hold the loop that long. */
    CHECK((uv_hrtime() - t0) / 1000000 < 1500);
    rec_free(&r);

    o = rec_init(&r);
    r.after_spawn = stop_sigint_on_spawn;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_signal, SIGINT);
    rec_free(&r);
}

/* libuv's `kill` test and the header: children get default dispositions and an empty signal
 * mask back, whatever the parent ignores (SIGPIPE, by this library) or blocks. */
TEST(signal_state_reset)
{
    const char *args[] = {"sigstate", NULL};
    struct sigaction ign = {.sa_handler = SIG_IGN}, old_usr2;
    sigset_t block, old_mask;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    CHECK_OK(sigaction(SIGUSR2, &ign, &old_usr2));
    CHECK_OK(pthread_sigmask(SIG_BLOCK, &block, &old_mask));
    rec_run(&r, &o, args);
    CHECK_OK(pthread_sigmask(SIG_SETMASK, &old_mask, NULL));
    CHECK_OK(sigaction(SIGUSR2, &old_usr2, NULL));
    CHECK_STR(rec_out(&r, 1), "ignored:\nblocked:\n");
    rec_free(&r);
}

static void parse_ids(const rec_t *r, long ids[6])
{
    CHECK_EQ(sscanf(rec_out(r, 1), "%ld %ld %ld %ld %ld %ld", &ids[0], &ids[1], &ids[2], &ids[3],
                    &ids[4], &ids[5]),
             6);
}

TEST(detached)
{
    const char *args[] = {"ids", NULL};
    long ids[6];
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.detached = 1;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, 0);
    parse_ids(&r, ids);
    CHECK_EQ(ids[0], r.pid);
    CHECK_EQ(ids[1], getpid());
    CHECK_EQ(ids[2], r.pid); /* session leader */
    CHECK_EQ(ids[3], r.pid); /* process group leader */
    rec_free(&r);

    /* Not detached: our session and process group. */
    o = rec_init(&r);
    rec_run(&r, &o, args);
    parse_ids(&r, ids);
    CHECK_EQ(ids[0], r.pid);
    CHECK_EQ(ids[2], getsid(0));
    CHECK_EQ(ids[3], getpgrp());
    rec_free(&r);
}

/* The process group of `pid` from /proc/PID/stat ("pid (comm) state ppid pgrp ..."). */
static long proc_pgrp(long pid)
{
    char path[64], buf[512];
    FILE *f;
    size_t len;
    char *rp, state;
    long ppid, pgrp;
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    CHECK(f != NULL);
    len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = '\0';
    rp = strrchr(buf, ')');
    CHECK(rp != NULL);
    CHECK_EQ(sscanf(rp + 1, " %c %ld %ld", &state, &ppid, &pgrp), 3);
    return pgrp;
}

static void kill_group_when_grandchild(rec_t *r, int fd, const char *buf, size_t len)
{
    long *grandchild = r->user;
    (void)buf;
    (void)len;
    if (fd != 1 || *grandchild != 0 || strchr(rec_out(r, 1), '\n') == NULL)
        return;
    CHECK_EQ(sscanf(rec_out(r, 1), "grandchild %ld", grandchild), 1);
    CHECK_EQ(proc_pgrp(*grandchild), r->pid);
    CHECK_OK(uvproc_kill_group(r->p, SIGTERM));
    CHECK(uvproc_killed(r->p));
}

/* The grandchild holds the child's stdout: close comes only once it is dead too, which only
 * a signal to the whole group achieves (the helper never exits by itself before alarm(60)). */
TEST(kill_group_reaches_grandchild)
{
    const char *args[] = {"group", NULL};
    long grandchild = 0;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.detached = 1;
    r.user = &grandchild;
    r.after_data = kill_group_when_grandchild;
    rec_run(&r, &o, args);
    CHECK(grandchild > 0);
    CHECK_EQ(r.exit_signal, SIGTERM);
    CHECK(r.ended[1]);
    check_before(&r, "end1", "close");
    CHECK_EQ(r.close_signal, SIGTERM);
    rec_free(&r);
}

static void group_needs_detached(rec_t *r)
{
    /* The header: UV_EINVAL for a child that is not detached (it shares our group). */
    CHECK_EQ(uvproc_kill_group(r->p, SIGTERM), UV_EINVAL);
    CHECK_EQ(uvproc_stop(r->p, NULL, 1), UV_EINVAL);
    CHECK(!uvproc_killed(r->p));
    CHECK_OK(uvproc_kill(r->p, SIGKILL));
}

TEST(kill_group_not_detached)
{
    const char *args[] = {"sleep", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.after_spawn = group_needs_detached;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_signal, SIGKILL);
    rec_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* env, PATH, cwd, argv0, shell, uid/gid                                                    */

static void run_env(const char *const *env, uvproc_env_mode_t mode, const char *const *args,
                    const char *expected)
{
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.env = env;
    o.env_mode = mode;
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, 0);
    CHECK_STR(rec_out(&r, 1), expected);
    rec_free(&r);
}

TEST(env)
{
    const char *env[] = {"UVPROC_T_A=1", "UVPROC_T_PARENT=child", NULL};
    const char *empty[] = {NULL};
    const char *all[] = {"environ", NULL};
    const char *some[] = {"env", "UVPROC_T_A", "UVPROC_T_PARENT", "UVPROC_T_KEEP", NULL};
    char expected[8192];
    CHECK_OK(setenv("UVPROC_T_PARENT", "parent", 1));
    CHECK_OK(setenv("UVPROC_T_KEEP", "kept", 1));

    /* REPLACE: exactly the given entries. */
    run_env(env, UVPROC_ENV_REPLACE, all, "UVPROC_T_A=1\nUVPROC_T_PARENT=child\n");
    run_env(empty, UVPROC_ENV_REPLACE, all, "");
    /* EXTEND: the parent's, with ours added and overriding. */
    run_env(env, UVPROC_ENV_EXTEND, some,
            "UVPROC_T_A=1\nUVPROC_T_PARENT=child\nUVPROC_T_KEEP=kept\n");
    /* NULL: the parent's as it is. */
    run_env(NULL, UVPROC_ENV_REPLACE, some,
            "UVPROC_T_A unset\nUVPROC_T_PARENT=parent\nUVPROC_T_KEEP=kept\n");
    /* EXTEND keeps PATH (and everything else) from the parent. */
    snprintf(expected, sizeof expected, "PATH=%s\n", getenv("PATH"));
    run_env(env, UVPROC_ENV_EXTEND, (const char *[]){"env", "PATH", NULL}, expected);

    CHECK_OK(unsetenv("UVPROC_T_PARENT"));
    CHECK_OK(unsetenv("UVPROC_T_KEEP"));
}

/* libuv's spawn_reads_child_path: the program is looked up in the CHILD's PATH. */
TEST(path_from_child_env)
{
    char dir[64], script[128], path_entry[256];
    const char *env[] = {path_entry, NULL};
    const char *args[] = {"arg", NULL};
    rec_t r;
    uvproc_spawn_options_t o;
    rec_tmpdir(dir, sizeof dir);
    rec_write_file(script, sizeof script, dir, "uvproc-test-prog",
                   "#!/bin/sh\necho \"script $1\"\n", 0755);
    snprintf(path_entry, sizeof path_entry, "PATH=%s:/usr/bin:/bin", dir);
    CHECK(strstr(getenv("PATH"), dir) == NULL);

    o = rec_init(&r);
    o.env = env;
    o.env_mode = UVPROC_ENV_EXTEND;
    rec_run_file(&r, &o, "uvproc-test-prog", args);
    CHECK_EQ(r.exit_code, 0);
    CHECK_STR(rec_out(&r, 1), "script arg\n");
    rec_free(&r);

    /* The parent's PATH does not have it. */
    expect_spawn_error("uvproc-test-prog", NULL, UV_ENOENT, "spawn", "uvproc-test-prog");
    rec_tmpdir_remove(dir);
}

/* An empty PATH element (leading, trailing or doubled ':') means the current directory, as
 * execvp reads it: the child's cwd here. Each element is sized before it is tried (ASan saw a
 * one-byte overflow when the empty element was written as ".").  */
TEST(path_empty_elements)
{
    static const char *paths[] = {"PATH=:/nonexistent", "PATH=/nonexistent:", "PATH=/a::/b",
                                  "PATH=:", "PATH=::"};
    char dir[64], script[128];
    const char *args[] = {"arg", NULL};
    rec_t r;
    uvproc_spawn_options_t o;
    rec_tmpdir(dir, sizeof dir);
    rec_write_file(script, sizeof script, dir, "uvproc-test-prog",
                   "#!/bin/sh\necho \"here $1\"\n", 0755);
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        const char *env[] = {paths[i], NULL};
        o = rec_init(&r);
        o.env = env;
        o.cwd = dir;
        rec_run_file(&r, &o, "uvproc-test-prog", args);
        CHECK_EQ(r.nerror, 0);
        CHECK_EQ(r.exit_code, 0);
        CHECK_STR(rec_out(&r, 1), "here arg\n");
        rec_free(&r);
    }
    rec_tmpdir_remove(dir);
}

/* libuv's spawn_relative_path: a relative file with a '/' is resolved against cwd. */
TEST(relative_path_and_cwd)
{
    char dir[64], sub[128], script[160], real[PATH_MAX], expected[PATH_MAX + 2];
    const char *files[] = {"./bin/prog", "bin/prog"};
    rec_t r;
    uvproc_spawn_options_t o;
    rec_tmpdir(dir, sizeof dir);
    snprintf(sub, sizeof sub, "%s/bin", dir);
    CHECK_OK(mkdir(sub, 0755));
    rec_write_file(script, sizeof script, sub, "prog", "#!/bin/sh\necho relative\n", 0755);
    CHECK_EQ(access("bin/prog", F_OK), -1); /* not where the test runs */

    for (size_t i = 0; i < 2; i++) {
        o = rec_init(&r);
        o.cwd = dir;
        rec_run_file(&r, &o, files[i], NULL);
        CHECK_EQ(r.exit_code, 0);
        CHECK_STR(rec_out(&r, 1), "relative\n");
        rec_free(&r);
    }

    /* The child runs in cwd. */
    CHECK(realpath(dir, real) != NULL);
    snprintf(expected, sizeof expected, "%s\n", real);
    o = rec_init(&r);
    o.cwd = dir;
    rec_run(&r, &o, (const char *[]){"cwd", NULL});
    CHECK_STR(rec_out(&r, 1), expected);
    rec_free(&r);
    rec_tmpdir_remove(dir);
}

TEST(argv0)
{
    const char *args[] = {"argv", "a", "b c", "", NULL};
    char expected[PATH_MAX + 64];
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.argv0 = "custom-argv0";
    rec_run(&r, &o, args);
    CHECK_STR(rec_out(&r, 1), "custom-argv0\nargv\na\nb c\n\n");
    rec_free(&r);

    /* By default argv[0] is `file` as given. */
    o = rec_init(&r);
    rec_run(&r, &o, args);
    snprintf(expected, sizeof expected, "%s\nargv\na\nb c\n\n", CHILD_HELPER);
    CHECK_STR(rec_out(&r, 1), expected);
    rec_free(&r);
}

/* Node's shell mode: `file` and `args` joined with spaces, run by `shell -c`. */
TEST(shell)
{
    const char *args[] = {"$((6*7))", "\"a  b\"", "|", "tr", "a", "A", NULL};
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.shell = UVPROC_SHELL;
    rec_run_file(&r, &o, "echo", args);
    CHECK_EQ(r.exit_code, 0);
    CHECK_STR(rec_out(&r, 1), "42 A  b\n");
    rec_free(&r);

    /* A command the shell cannot find is the shell's exit 127, not a spawn error. */
    o = rec_init(&r);
    o.shell = UVPROC_SHELL;
    rec_run_file(&r, &o, "uvproc-no-such-command", NULL);
    CHECK_EQ(r.nerror, 0);
    CHECK_EQ(r.nspawn, 1);
    CHECK_EQ(r.exit_code, 127);
    CHECK(strstr(rec_out(&r, 2), "uvproc-no-such-command") != NULL);
    rec_free(&r);
}

TEST(uid_gid)
{
    const char *args[] = {"ids", NULL};
    long ids[6];
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    o.set_uid = o.set_gid = 1;
    o.uid = 65534;
    o.gid = 65534;
    if (getuid() != 0) {
        /* Only root may switch. */
        rec_run(&r, &o, args);
        CHECK_STR(r.log, "error close");
        CHECK_EQ(r.err.code, UV_EPERM);
        rec_free(&r);
        return;
    }
    rec_run(&r, &o, args);
    CHECK_EQ(r.exit_code, 0);
    parse_ids(&r, ids);
    CHECK_EQ(ids[4], 65534);
    CHECK_EQ(ids[5], 65534);
    rec_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* ownership and loop liveness                                                               */

static void retain_on_spawn(rec_t *r)
{
    uvproc_process_retain(r->p);
}

static void release_in_close(rec_t *r)
{
    uvproc_process_release(r->p);
    /* Still valid until on_close returns. */
    CHECK(uvproc_exited(r->p));
    CHECK_EQ(uvproc_process_data(r->p), r);
}

TEST(retain_release)
{
    const char *args[] = {"exit", "9", NULL};
    uv_loop_t loop;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);

    /* Retained: valid after close (and after the loop is gone) until released. */
    r.after_spawn = retain_on_spawn;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, &r.p, CHILD_HELPER, args, &o));
    uvproc_process_retain(r.p); /* twice: each retain needs its release */
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(r.nclose, 1);
    CHECK_EQ(uvproc_pid(r.p), r.pid);
    CHECK(uvproc_exited(r.p));
    CHECK_EQ(uvproc_exit_code(r.p), 9);
    CHECK_EQ(uvproc_term_signal(r.p), 0);
    CHECK(!uvproc_killed(r.p));
    CHECK(uvproc_loop(r.p) == &loop);
    CHECK(uvproc_process_data(r.p) == &r);
    uvproc_process_set_data(r.p, NULL);
    CHECK(uvproc_process_data(r.p) == NULL);
    uvproc_process_release(r.p);
    CHECK_EQ(uvproc_exit_code(r.p), 9); /* one reference left */
    uvproc_process_release(r.p);
    rec_free(&r);

    /* Released inside on_close: freed once the callback returns (ASan would see it early). */
    o = rec_init(&r);
    r.after_spawn = retain_on_spawn;
    r.after_close = release_in_close;
    rec_run(&r, &o, args);
    rec_free(&r);
}

static void unref_on_spawn(rec_t *r)
{
    uvproc_process_unref(r->p);
}

/* Node's child.unref(): the loop may end while the child runs; ref() takes it back. */
TEST(unref)
{
    const char *args[] = {"sleep", NULL};
    uv_loop_t loop;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.after_spawn = unref_on_spawn;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, &r.p, CHILD_HELPER, args, &o));
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    CHECK_STR(r.log, "spawn");
    CHECK_OK(kill(r.pid, 0)); /* still running */
    uvproc_process_ref(r.p);
    CHECK_OK(uvproc_kill(r.p, SIGTERM));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(r.exit_signal, SIGTERM);
    CHECK_EQ(r.close_signal, SIGTERM);
    rec_free(&r);
}

static void close_keeper(rec_t *r)
{
    uv_close(r->user, NULL);
}

static void keeper_tick(uv_timer_t *t)
{
    (void)t;
}

/* Unref'd, but the loop is alive for another reason: the events still come. */
TEST(unref_events_still_delivered)
{
    const char *args[] = {"print", "hi", "", "4", NULL};
    uv_loop_t loop;
    uv_timer_t keeper;
    rec_t r;
    uvproc_spawn_options_t o = rec_init(&r);
    r.user = &keeper;
    r.after_spawn = unref_on_spawn;
    r.after_close = close_keeper;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uv_timer_init(&loop, &keeper));
    CHECK_OK(uv_timer_start(&keeper, keeper_tick, 60000, 60000));
    CHECK_OK(uvproc_spawn(&loop, &r.p, CHILD_HELPER, args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_STR(rec_out(&r, 1), "hi");
    CHECK_EQ(r.exit_code, 4);
    CHECK_EQ(r.nclose, 1);
    rec_free(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* argument errors and error names                                                          */

static void bad_signals(rec_t *r)
{
    uvproc_stop_t bad_first = {.first = {1000, 10}};
    uvproc_stop_t bad_second = {.first = {SIGTERM, 10}, .second = {1000}};
    CHECK_EQ(uvproc_kill(r->p, -1), UV_EINVAL);
    CHECK_EQ(uvproc_kill(r->p, 1000), UV_EINVAL);
    CHECK_EQ(uvproc_kill(NULL, SIGTERM), UV_EINVAL);
    CHECK_EQ(uvproc_stop(r->p, &bad_first, 0), UV_EINVAL);
    CHECK_EQ(uvproc_stop(r->p, &bad_second, 0), UV_EINVAL);
    CHECK_EQ(uvproc_stop(NULL, NULL, 0), UV_EINVAL);
    CHECK(!uvproc_killed(r->p)); /* nothing was sent */
    CHECK_OK(uvproc_kill(r->p, SIGKILL));
}

static void no_callback_expected(uvproc_process_t *p)
{
    (void)p;
    CHECK(0);
}

TEST(bad_arguments)
{
    const char *args[] = {"exit", "0", NULL};
    uvproc_stdio_t bad_extra[] = {{.type = (uvproc_stdio_type_t)42}};
    uvproc_spawn_options_t o = {.on_spawn = no_callback_expected};
    uvproc_process_t *p;
    uv_loop_t loop;
    rec_t r;
    CHECK_OK(uv_loop_init(&loop));

#define EXPECT_EINVAL(loop_, file_, opts_)                                                         \
    do {                                                                                           \
        p = (uvproc_process_t *)&loop;                                                             \
        CHECK_EQ(uvproc_spawn((loop_), &p, (file_), args, (opts_)), UV_EINVAL);                    \
        CHECK(p == NULL);                                                                          \
    } while (0)

    EXPECT_EINVAL(NULL, CHILD_HELPER, &o);
    EXPECT_EINVAL(&loop, NULL, &o);
    EXPECT_EINVAL(&loop, "", &o);
    o.stdio[1].type = (uvproc_stdio_type_t)42;
    EXPECT_EINVAL(&loop, CHILD_HELPER, &o);
    o.stdio[1].type = UVPROC_STDIO_FD;
    o.stdio[1].fd = -1;
    EXPECT_EINVAL(&loop, CHILD_HELPER, &o);
    o.stdio[1].type = UVPROC_STDIO_DEFAULT;
    o.extra_stdio_count = 1; /* and extra_stdio NULL */
    EXPECT_EINVAL(&loop, CHILD_HELPER, &o);
    o.extra_stdio = bad_extra;
    EXPECT_EINVAL(&loop, CHILD_HELPER, &o);
#undef EXPECT_EINVAL
    /* Nothing was created: the loop has nothing to run. */
    CHECK_LOOP_CLOSE(&loop);

    o = rec_init(&r);
    r.after_spawn = bad_signals;
    rec_run(&r, &o, (const char *[]){"sleep", NULL});
    CHECK_EQ(r.exit_signal, SIGKILL);
    rec_free(&r);
}

TEST(error_names)
{
    static const struct {
        int code;
        const char *name;
    } ours[] = {
        {UVPROC_EEXITCODE, "EEXITCODE"},           {UVPROC_ESIGNALED, "ESIGNALED"},
        {UVPROC_EMAXBUFFER, "EMAXBUFFER"},         {UVPROC_EBADMSG, "EBADMSG"},
        {UVPROC_ESERIALIZATION, "ESERIALIZATION"}, {UVPROC_ENOCHANNEL, "ENOCHANNEL"},
    };
    static const int libuv[] = {UV_ENOENT,    UV_EACCES,    UV_ENOTDIR,  UV_EPIPE, UV_ESRCH,
                                UV_ETIMEDOUT, UV_ECANCELED, UV_EMSGSIZE, UV_EINVAL};
    for (size_t i = 0; i < sizeof libuv / sizeof libuv[0]; i++) {
        CHECK_STR(uvproc_err_name(libuv[i]), uv_err_name(libuv[i]));
        CHECK_STR(uvproc_strerror(libuv[i]), uv_strerror(libuv[i]));
    }
    for (size_t i = 0; i < sizeof ours / sizeof ours[0]; i++) {
        const char *msg = uvproc_strerror(ours[i].code);
        CHECK_STR(uvproc_err_name(ours[i].code), ours[i].name);
        CHECK(msg != NULL && msg[0] != '\0');
        CHECK(strncmp(msg, "Unknown", 7) != 0 && strncmp(msg, "unknown", 7) != 0);
        for (size_t j = 0; j < i; j++)
            CHECK(strcmp(msg, uvproc_strerror(ours[j].code)) != 0);
    }
    CHECK(uvproc_strerror(0) != NULL);
    CHECK(uvproc_err_name(0) != NULL);
}

/* Never NULL, whatever the code, and nothing to free: the returned string is not the
 * caller's (libuv's own uv_strerror leaks a strdup'ed string for codes it does not know;
 * under ASan that shows as a leak). */
TEST(error_names_unknown)
{
    static const int unknown[] = {-29999, INT_MIN, 12345, -4095};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
            const char *msg = uvproc_strerror(unknown[i]);
            const char *name = uvproc_err_name(unknown[i]);
            CHECK(msg != NULL && msg[0] != '\0');
            CHECK(name != NULL && name[0] != '\0');
        }
    }
}

int main(int argc, char **argv)
{
    RUN(exit_code);
    RUN(event_order);
    RUN(options_null);
    RUN(enoent);
    RUN(bad_cwd);
    RUN(eacces);
    RUN(failing_spawns_then_real);
    RUN(kill_sigterm);
    RUN(signal_from_child);
    RUN(kill_probe_and_after_exit);
    RUN(stop_escalates);
    RUN(stop_first_signal_suffices);
    RUN(signal_state_reset);
    RUN(detached);
    RUN(kill_group_reaches_grandchild);
    RUN(env);
    RUN(path_from_child_env);
    RUN(path_empty_elements);
    RUN(relative_path_and_cwd);
    RUN(argv0);
    RUN(shell);
    RUN(uid_gid);
    RUN(retain_release);
    RUN(unref);
    RUN(unref_events_still_delivered);
    RUN(bad_arguments);
    RUN(error_names);
    RUN(error_names_unknown);
    RUN(kill_group_not_detached); /* last: fails until kill_group checks `detached` */
    return check_done();
}
