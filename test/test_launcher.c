/* What the launcher seam promises whichever launcher serves the child (meson runs this file
 * under all three: UVPROC_LAUNCHER unset = clone, =posix = posix_spawn, =uv = uv_spawn), plus
 * what only the pidfd launchers add (no fd leaks even without O_CLOEXEC, rusage). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "uvproc.h"

typedef struct {
    char out[4096];
    size_t out_len;
    int64_t code;
    int signal, error, closed;
} run_t;

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    run_t *r = uvproc_process_data(p);
    if (fd == 1 && r->out_len + len < sizeof r->out) {
        memcpy(r->out + r->out_len, buf, len);
        r->out_len += len;
        r->out[r->out_len] = '\0';
    }
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    run_t *r = uvproc_process_data(p);
    r->error = e->code;
}

static void on_close(uvproc_process_t *p, int64_t code, int signal)
{
    run_t *r = uvproc_process_data(p);
    r->code = code;
    r->signal = signal;
    r->closed++;
}

static void run(const char *file, const char *const *args, uvproc_spawn_options_t *o, run_t *r)
{
    uv_loop_t loop;
    memset(r, 0, sizeof *r);
    o->data = r;
    o->on_data = on_data;
    o->on_error = on_error;
    o->on_close = on_close;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, file, args, o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(r->closed, 1);
}

/* Whether children start through the posix launcher here: not when UVPROC_LAUNCHER=uv, and
 * not where pidfd_open is missing (old kernels, and valgrind, which does not know it): the
 * library then falls back to uv_spawn. */
static int posix_launcher(void)
{
    const char *v = getenv("UVPROC_LAUNCHER");
    long fd;
    if (v != NULL && strcmp(v, "uv") == 0)
        return 0;
    fd = syscall(SYS_pidfd_open, getpid(), 0);
    if (fd < 0)
        return 0;
    close((int)fd);
    return 1;
}

static void make_dir(char *dir)
{
    strcpy(dir, "/tmp/uvproc-launcher-XXXXXX");
    CHECK(mkdtemp(dir) != NULL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, text, strlen(text)), (long long)strlen(text));
    CHECK_OK(close(fd));
}

/* execvp runs an executable text file without #! through /bin/sh; both launchers must. */
TEST(script_without_shebang_runs_through_sh)
{
    char dir[64], path[128];
    const char *args[] = {"an-arg", NULL};
    uvproc_spawn_options_t o = {0};
    run_t r;
    make_dir(dir);
    snprintf(path, sizeof path, "%s/script", dir);
    write_file(path, "echo \"script says $1\"\n", 0755);
    run(path, args, &o, &r);
    CHECK_EQ(r.error, 0);
    CHECK_EQ(r.code, 0);
    CHECK_STR(r.out, "script says an-arg\n");
    unlink(path);
    rmdir(dir);
}

/* A relative directory in the child's PATH is relative to the child's cwd. */
TEST(relative_path_entry_against_cwd)
{
    char dir[64], bin[96], prog[128];
    const char *env[] = {"PATH=bin:/usr/bin:/bin", NULL};
    uvproc_spawn_options_t o = {.cwd = dir, .env = env};
    run_t r;
    make_dir(dir);
    snprintf(bin, sizeof bin, "%s/bin", dir);
    CHECK_OK(mkdir(bin, 0755));
    snprintf(prog, sizeof prog, "%s/uvproc-rel-prog", bin);
    write_file(prog, "#!/bin/sh\necho relative ok\n", 0755);
    run("uvproc-rel-prog", NULL, &o, &r);
    CHECK_EQ(r.error, 0);
    CHECK_STR(r.out, "relative ok\n");
    /* Not found anywhere: ENOENT, reported as the program's, not the cwd's. */
    run("uvproc-no-such-prog", NULL, &o, &r);
    CHECK_EQ(r.error, UV_ENOENT);
    CHECK_EQ(r.code, UV_ENOENT);
    unlink(prog);
    rmdir(bin);
    rmdir(dir);
}

/* A found file without execute permission: EACCES, as execvp reports it. */
TEST(path_entry_not_executable)
{
    char dir[64], prog[128], path_var[128];
    const char *env[] = {path_var, NULL};
    uvproc_spawn_options_t o = {.env = env};
    run_t r;
    make_dir(dir);
    snprintf(prog, sizeof prog, "%s/uvproc-noexec", dir);
    write_file(prog, "#!/bin/sh\necho no\n", 0644);
    snprintf(path_var, sizeof path_var, "PATH=%s", dir);
    run("uvproc-noexec", NULL, &o, &r);
    CHECK_EQ(r.error, UV_EACCES);
    unlink(prog);
    rmdir(dir);
}

/* uid/gid are served by uv_spawn even when posix_spawn is preferred; switching to our own ids
 * needs no privilege. */
TEST(uid_gid_served)
{
    const char *args[] = {"-c", "echo $(id -u) $(id -g)", NULL};
    char want[64];
    uvproc_spawn_options_t o = {.set_uid = 1, .uid = getuid(), .set_gid = 1, .gid = getgid()};
    run_t r;
    run("sh", args, &o, &r);
    CHECK_EQ(r.error, 0);
    snprintf(want, sizeof want, "%d %d\n", (int)getuid(), (int)getgid());
    CHECK_STR(r.out, want);
}

/* An fd the host opened WITHOUT O_CLOEXEC does not reach a child started by posix_spawn: the
 * child has its slots and nothing else. (uv_spawn passes such fds on, as libuv always has.) */
TEST(non_cloexec_fd_not_inherited)
{
    const char *args[] = {"-c", "test -e /proc/self/fd/100 && echo leaked || echo clean", NULL};
    uvproc_spawn_options_t o = {0};
    run_t r;
    int fd;
    if (!posix_launcher())
        return;
    fd = open("/dev/null", O_RDONLY);
    CHECK(fd >= 0);
    CHECK_EQ(dup2(fd, 100), 100);
    close(fd);
    run("sh", args, &o, &r);
    CHECK_STR(r.out, "clean\n");
    close(100);
}

/* Nor do the parent ends of a child's own pipes, or those of its siblings. */
TEST(only_declared_slots_reach_the_child)
{
    const uvproc_stdio_t extra[] = {{.type = UVPROC_STDIO_PIPE}};
    const char *args[] = {"-c", "ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL};
    uvproc_spawn_options_t o = {.extra_stdio = extra, .extra_stdio_count = 1};
    run_t r;
    if (!posix_launcher())
        return;
    run("sh", args, &o, &r);
    /* 0-3 are the slots; ls itself holds one more fd for the directory it reads. */
    CHECK_STR(r.out, "0 1 2 3 4 ");
}

/* The middle process prints its child's pid; the test then kills the middle at once. */
static void kill_middle_when_pid_known(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    run_t *r = uvproc_process_data(p);
    on_data(p, fd, buf, len);
    if (memchr(r->out, '\n', r->out_len) != NULL)
        CHECK_OK(uvproc_kill(p, SIGKILL));
}

/* Kills a middle process that ran `sleep 100` with kill_on_parent_death = `armed`, and returns
 * how the sleeper fares: reparented to us (a subreaper), it is either dead of SIGKILL already
 * (armed) or still running (not armed: then it is killed here). */
static void parent_death(int armed)
{
    const char *args[] = {armed ? "1" : "0", NULL};
    uvproc_spawn_options_t o = {.on_data = kill_middle_when_pid_known};
    uv_loop_t loop;
    run_t r;
    pid_t sleeper;
    int status = 0;

    memset(&r, 0, sizeof r);
    o.data = &r;
    o.on_error = on_error;
    o.on_close = on_close;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, PDEATH_PARENT, args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(r.signal, SIGKILL);
    sleeper = (pid_t)atoi(r.out);
    CHECK(sleeper > 0);
    /* The kernel sends parent-death signals while the parent exits, before its exit can be
     * reaped: by now an armed sleeper has its SIGKILL. */
    if (armed) {
        alarm(20);
        CHECK_EQ(waitpid(sleeper, &status, 0), sleeper);
        alarm(0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    } else {
        CHECK_EQ(waitpid(sleeper, &status, WNOHANG), 0);
        CHECK_OK(kill(sleeper, SIGKILL));
        CHECK_EQ(waitpid(sleeper, &status, 0), sleeper);
    }
}

TEST(kill_on_parent_death)
{
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 1));
    parent_death(1);
    parent_death(0);
    CHECK_OK(prctl(PR_SET_CHILD_SUBREAPER, 0));
}

/* uvproc_rusage: the child's own accounting, from wait4 (the posix launcher); uv_spawn's
 * waitpid has none to give. */
typedef struct {
    int before, after;
    struct rusage ru;
} usage_t;

static void usage_on_spawn(uvproc_process_t *p)
{
    usage_t *u = uvproc_process_data(p);
    struct rusage ru;
    u->before = uvproc_rusage(p, &ru);
}

static void usage_on_exit(uvproc_process_t *p, int64_t code, int signal)
{
    usage_t *u = uvproc_process_data(p);
    CHECK_EQ(code, 0);
    CHECK_EQ(signal, 0);
    u->after = uvproc_rusage(p, &u->ru);
}

static void run_for_usage(const char *file, const char *const *args, usage_t *u)
{
    uv_loop_t loop;
    uvproc_spawn_options_t o = {
        .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_IGNORE},
                  {.type = UVPROC_STDIO_IGNORE}},
        .data = u, .on_spawn = usage_on_spawn, .on_exit = usage_on_exit,
    };
    memset(u, 0, sizeof *u);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, file, args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(u->before, UV_EAGAIN);
}

TEST(child_resource_usage)
{
    const char *dd_args[] = {"if=/dev/zero", "of=/dev/null", "bs=64M", "count=1", NULL};
    const char *busy_args[] = {"-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done", NULL};
    usage_t u;

    run_for_usage("dd", dd_args, &u);
    if (!posix_launcher()) {
        CHECK_EQ(u.after, UV_ENOTSUP);
        return;
    }
    CHECK_EQ(u.after, 0);
    /* dd touched its 64 MiB buffer: the peak RSS is the child's, not ours. */
    CHECK(u.ru.ru_maxrss >= 64 * 1024);
    run_for_usage("sh", busy_args, &u);
    CHECK_EQ(u.after, 0);
    CHECK(u.ru.ru_utime.tv_sec > 0 || u.ru.ru_utime.tv_usec > 0);
    CHECK(u.ru.ru_maxrss > 0 && u.ru.ru_maxrss < 64 * 1024);
}

/* One-way stdio slots are pipes under the pidfd launchers (cheaper per byte than the
 * socketpairs uv_spawn makes), sockets under uv_spawn; either way the child reads, writes and
 * sees EOF the same. */
TEST(stdio_slot_kind)
{
    const char *args[] = {"-c", "if test -p /dev/stdin && test -p /dev/stdout; then echo pipe; "
                                "elif test -S /dev/stdin; then echo socket; fi", NULL};
    uvproc_spawn_options_t o = {0};
    run_t r;
    run("sh", args, &o, &r);
    CHECK_EQ(r.code, 0);
    CHECK_STR(r.out, posix_launcher() ? "pipe\n" : "socket\n");
}

typedef struct {
    size_t bytes;
    int closed;
} bulk_t;

static void bulk_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    bulk_t *b = uvproc_process_data(p);
    (void)fd;
    for (size_t i = 0; i < len; i++)
        CHECK_EQ(buf[i], 0);
    b->bytes += len;
}

static void bulk_close(uvproc_process_t *p, int64_t code, int signal)
{
    bulk_t *b = uvproc_process_data(p);
    CHECK_EQ(code, 0);
    CHECK_EQ(signal, 0);
    b->closed++;
}

/* Bulk output grows the pipe once a read fills the whole buffer (stdio.c): every byte still
 * arrives, in order, before close. */
TEST(bulk_output_intact)
{
    const char *args[] = {"-c", "33554432", "/dev/zero", NULL};
    bulk_t b = {0, 0};
    uvproc_spawn_options_t o = {.data = &b, .on_data = bulk_data, .on_close = bulk_close};
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, "head", args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(b.closed, 1);
    CHECK_EQ(b.bytes, (size_t)32 << 20);
}

typedef struct {
    int spawned, exited, closed;
} storm_t;

static void storm_spawn(uvproc_process_t *p)
{
    ((storm_t *)uvproc_process_data(p))->spawned++;
}

static void storm_exit(uvproc_process_t *p, int64_t code, int signal)
{
    storm_t *s = uvproc_process_data(p);
    CHECK_EQ(code, 0);
    CHECK_EQ(signal, 0);
    CHECK(uvproc_exited(p));
    s->exited++;
}

static void storm_close(uvproc_process_t *p, int64_t code, int signal)
{
    storm_t *s = uvproc_process_data(p);
    (void)code;
    (void)signal;
    s->closed++;
}

/* Many children ending at once (they all read one pipe, whose write end then closes): the exits
 * found in one wake-up are delivered as a batch, each exactly once, each before its close, and
 * the loop's shared state (the epoll set, the batch handles) is gone when the loop closes. */
TEST(exit_storm)
{
    enum { N = 200 };
    storm_t s = {0, 0, 0};
    int p[2];
    uv_loop_t loop;
    uvproc_spawn_options_t o = {.data = &s,
                                .on_spawn = storm_spawn,
                                .on_exit = storm_exit,
                                .on_close = storm_close};
    CHECK_OK(pipe2(p, O_CLOEXEC));
    o.stdio[0] = (uvproc_stdio_t){.type = UVPROC_STDIO_FD, .fd = p[0]};
    o.stdio[1].type = UVPROC_STDIO_IGNORE;
    o.stdio[2].type = UVPROC_STDIO_INHERIT;
    CHECK_OK(uv_loop_init(&loop));
    for (int i = 0; i < N; i++)
        CHECK_OK(uvproc_spawn(&loop, NULL, "cat", NULL, &o));
    close(p[0]);
    while (s.spawned < N)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_EQ(s.exited, 0);
    close(p[1]);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(s.exited, N);
    CHECK_EQ(s.closed, N);
}

/* Codes libuv has no name for still get one. */
TEST(errno_names_beyond_libuv)
{
    CHECK_STR(uvproc_err_name(-ENOEXEC), "ENOEXEC");
    CHECK(strncmp(uvproc_strerror(-ENOEXEC), "Unknown", 7) != 0);
    CHECK_STR(uvproc_err_name(UV_ENOENT), "ENOENT");
    CHECK_STR(uvproc_err_name(UVPROC_EMAXBUFFER), "EMAXBUFFER");
}

int main(int argc, char **argv)
{
    RUN(script_without_shebang_runs_through_sh);
    RUN(relative_path_entry_against_cwd);
    RUN(path_entry_not_executable);
    RUN(uid_gid_served);
    RUN(non_cloexec_fd_not_inherited);
    RUN(only_declared_slots_reach_the_child);
    RUN(kill_on_parent_death);
    RUN(child_resource_usage);
    RUN(stdio_slot_kind);
    RUN(bulk_output_intact);
    RUN(exit_storm);
    RUN(errno_names_beyond_libuv);
    return check_done();
}
