/* The test harness shared by every test executable: assertions that name file:line, and the
 * end-of-test promises (loop closes cleanly, no fd left open, no child left behind).
 *
 *   TEST(name) { ... }                 a test
 *   int main(int argc, char **argv) { RUN(name); ...; return check_done(); }
 * `./test_x name` runs only that test.
 *
 * Output is TAP (meson's `protocol : 'tap'`): `ok N - name` or `not ok N - name` per test,
 * the plan `1..N` at the end. Each test runs in a forked child, so a failed CHECK (which
 * exits) ends only its own test: the others still run and the count stays right. A test
 * that cannot run here calls CHECK_SKIP("reason") (`ok N - name # SKIP reason`); a program
 * none of whose tests can run returns check_skip_all("reason") from main.
 * UVPROC_TEST_NOFORK=1 runs the tests in the process itself (for a debugger); the first
 * failure then ends the run, after `not ok` and the plan are printed. */
#ifndef UVPROC_TEST_CHECK_H
#define UVPROC_TEST_CHECK_H

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#define CHECK(cond)                                                                           \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define CHECK_EQ(a, b)                                                                        \
    do {                                                                                      \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                       \
        if (check_a_ != check_b_) {                                                           \
            fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__,       \
                    __LINE__, #a, #b, check_a_, check_b_);                                    \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define CHECK_STR(a, b)                                                                       \
    do {                                                                                      \
        const char *check_a_ = (a), *check_b_ = (b);                                          \
        if (check_a_ == NULL || check_b_ == NULL || strcmp(check_a_, check_b_) != 0) {        \
            fprintf(stderr, "%s:%d: CHECK_STR(%s, %s) failed: \"%s\" != \"%s\"\n", __FILE__,  \
                    __LINE__, #a, #b, check_a_ ? check_a_ : "(null)",                         \
                    check_b_ ? check_b_ : "(null)");                                          \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

/* A uvproc/libuv call that must succeed. */
#define CHECK_OK(expr)                                                                        \
    do {                                                                                      \
        long long check_r_ = (long long)(expr);                                               \
        if (check_r_ != 0) {                                                                  \
            fprintf(stderr, "%s:%d: %s returned %lld (%s)\n", __FILE__, __LINE__, #expr,      \
                    check_r_, uv_err_name((int)check_r_));                                    \
            exit(1);                                                                          \
        }                                                                                     \
    } while (0)

#define TEST(name) static void test_##name(void)

/* The heaviest cases (4 GiB through a pipe, thousands of children) run in a lighter form by
 * default, so the README's `meson test` passes on a busy machine; UVPROC_TEST_FULL=1 (set by
 * .ci/run, with meson's --timeout-multiplier) runs them at full size. Same cases either way:
 * only their size changes. */
static inline int check_full(void)
{
    const char *v = getenv("UVPROC_TEST_FULL");
    return v != NULL && strcmp(v, "1") == 0;
}

/* `size` malloc'd bytes of deterministic noise (NULs and high bytes included) for input tests;
 * the caller frees them. */
static inline unsigned char *check_random_bytes(size_t size, uint32_t seed)
{
    unsigned char *b = malloc(size);
    CHECK(b != NULL);
    for (size_t i = 0; i < size; i++) {
        seed = seed * 1103515245u + 12345u;
        b[i] = (unsigned char)(seed >> 24);
    }
    return b;
}
#define RUN(name) check_run_(#name, test_##name, argc, argv)

static int check_tests_run_, check_tests_failed_;
static const char *check_current_; /* the test running in this process (NOFORK mode) */
static int check_fds_before_[1024];
static int check_nfds_before_;

/* Marks the running test skipped (with the reason) and ends it. */
#define CHECK_SKIP(reason)                                                                    \
    do {                                                                                      \
        printf("# SKIP: %s\n", (reason));                                                     \
        fflush(stdout);                                                                       \
        exit(77);                                                                             \
    } while (0)

static int check_list_fds_(int *fds, int max)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    if (d == NULL)
        return -1;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == dirfd(d))
            continue;
        if (n < max)
            fds[n++] = fd;
    }
    closedir(d);
    return n;
}

/* Fails if any fd open now was not open when the test began. */
static void check_no_fd_leak_(const char *name)
{
    int now[1024];
    int n = check_list_fds_(now, 1024);
    for (int i = 0; i < n; i++) {
        int found = 0;
        for (int j = 0; j < check_nfds_before_ && !found; j++)
            found = now[i] == check_fds_before_[j];
        if (!found) {
            char path[64], target[256] = "";
            snprintf(path, sizeof path, "/proc/self/fd/%d", now[i]);
            if (readlink(path, target, sizeof target - 1) < 0)
                strcpy(target, "?");
            fprintf(stderr, "%s: fd %d (%s) left open\n", name, now[i], target);
            exit(1);
        }
    }
}

/* Fails if any process (running or zombie) still has us as its parent. */
static void check_no_children_(const char *name)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t self = getpid();
    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        char path[300], buf[512];
        FILE *f;
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        /* pid (comm) state ppid ...: comm may hold spaces and parentheses, so parse after
         * the last ')'. */
        char *rp = strrchr(buf, ')');
        char state;
        int ppid;
        if (rp != NULL && sscanf(rp + 1, " %c %d", &state, &ppid) == 2 && ppid == self) {
            fprintf(stderr, "%s: child %s (state %c) left behind\n", name, e->d_name, state);
            closedir(d);
            exit(1);
        }
    }
    closedir(d);
}

/* Runs what is left on the loop, then requires it to close with nothing open. */
static void check_loop_close_(uv_loop_t *loop, const char *file, int line);
static void check_walk_print_(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "  open handle: %s%s\n", uv_handle_type_name(uv_handle_get_type(h)),
            uv_is_closing(h) ? " (closing)" : "");
}
static void check_loop_close_(uv_loop_t *loop, const char *file, int line)
{
    uv_run(loop, UV_RUN_DEFAULT);
    if (uv_loop_close(loop) != 0) {
        fprintf(stderr, "%s:%d: loop did not close cleanly\n", file, line);
        uv_walk(loop, check_walk_print_, NULL);
        exit(1);
    }
}
#define CHECK_LOOP_CLOSE(loop) check_loop_close_((loop), __FILE__, __LINE__)

/* NOFORK mode: a CHECK that fails exits the process; say which test failed and how many ran,
 * so TAP shows the failure and the count. */
static void check_atexit_(void)
{
    if (check_current_ != NULL) {
        printf("not ok %d - %s\n1..%d\n", check_tests_run_, check_current_, check_tests_run_);
        fflush(stdout);
    }
}

/* The test body with its end-of-test checks; returns normally only if it passed. */
static void check_body_(const char *name, void (*fn)(void))
{
    check_nfds_before_ = check_list_fds_(check_fds_before_, 1024);
    fn();
    check_no_fd_leak_(name);
    check_no_children_(name);
}

static void check_report_(const char *name, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %d - %s\n", check_tests_run_, name);
    } else if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
        printf("ok %d - %s # SKIP\n", check_tests_run_, name);
    } else {
        check_tests_failed_++;
        printf("not ok %d - %s\n", check_tests_run_, name);
        if (WIFSIGNALED(status))
            printf("# %s: killed by signal %d\n", name, WTERMSIG(status));
        else
            printf("# %s: exited with status %d\n", name, WEXITSTATUS(status));
    }
    fflush(stdout);
}

static void check_run_(const char *name, void (*fn)(void), int argc, char **argv)
{
    pid_t pid;
    int status = 0;

    if (argc > 1) {
        int wanted = 0;
        for (int i = 1; i < argc; i++)
            wanted |= strcmp(argv[i], name) == 0;
        if (!wanted)
            return;
    }
    if (check_tests_run_ == 0) {
        /* libuv opens a process-wide signal pipe on the first uv_loop_init and keeps it for
         * the life of the process: let it exist before the fd baseline is taken. */
        uv_loop_t primer;
        if (uv_loop_init(&primer) == 0)
            uv_loop_close(&primer);
    }
    check_tests_run_++;
    fflush(stdout);
    fflush(stderr);
    if (getenv("UVPROC_TEST_NOFORK") != NULL && getenv("UVPROC_TEST_NOFORK")[0] == '1') {
        static int registered;
        if (!registered)
            registered = atexit(check_atexit_) == 0;
        check_current_ = name;
        check_body_(name, fn);
        check_current_ = NULL;
        check_report_(name, 0);
        return;
    }
    pid = fork();
    if (pid < 0) {
        perror("fork");
        check_report_(name, 1 << 8);
        return;
    }
    if (pid == 0) {
        check_body_(name, fn);
        fflush(stdout);
        /* exit, not _exit: sanitizers and valgrind check for leaks at exit. */
        exit(0);
    }
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            status = 1 << 8;
            break;
        }
    }
    check_report_(name, status);
}

/* main's return value: prints the plan; fails if any test failed, or if a name given on the
 * command line matched no test. */
static int check_done(void)
{
    if (check_tests_run_ == 0) {
        fprintf(stderr, "no test ran\n");
        printf("1..0\n");
        return 1;
    }
    printf("1..%d\n", check_tests_run_);
    fflush(stdout);
    return check_tests_failed_ > 0 ? 1 : 0;
}

/* main's return value when nothing here can run (no node, say): the whole program skipped. */
static inline int check_skip_all(const char *reason)
{
    printf("1..0 # SKIP %s\n", reason);
    fflush(stdout);
    return 0;
}

#endif
