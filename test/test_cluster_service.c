/* The cluster's service helpers through the library API (issue 20): sd_notify datagrams,
 * LISTEN_FDS / UVPROC_CLUSTER_FDS parsing, the upgrade's readiness pipe, a cluster adopting a
 * passed listening socket instead of binding (both policies), the upgrade handoff to a new
 * primary (cluster-server) and its failures, resize_by's bounds, the stats snapshot and its
 * Prometheus text. The tool's side (signals, socket activation through systemd's own tool,
 * /metrics) is test/test_cluster_service.py. */
#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include "cluster_util.h"

/* ---------------------------------------------------------------------------------------- */
/* sd_notify                                                                                */

static int dgram_listener(struct sockaddr_un *sa, socklen_t *len, int abstract)
{
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    memset(sa, 0, sizeof *sa);
    sa->sun_family = AF_UNIX;
    if (abstract) {
        snprintf(sa->sun_path + 1, sizeof sa->sun_path - 1, "uvproc-notify-%d", (int)getpid());
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa->sun_path + 1));
    } else {
        snprintf(sa->sun_path, sizeof sa->sun_path, "/tmp/uvproc-notify-%d.sock", (int)getpid());
        unlink(sa->sun_path);
        *len = sizeof *sa;
    }
    CHECK_OK(bind(fd, (struct sockaddr *)sa, *len));
    return fd;
}

static void recv_is(int fd, const char *want)
{
    char buf[512];
    ssize_t n = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);
    CHECK(n >= 0);
    buf[n] = '\0';
    CHECK_STR(buf, want);
}

TEST(notify_unset)
{
    unsetenv("NOTIFY_SOCKET");
    CHECK_EQ(uvproc_cluster_notify("READY=1"), 0);
    CHECK_EQ(uvproc_cluster_notify(""), UV_EINVAL);
    CHECK_EQ(uvproc_cluster_notify(NULL), UV_EINVAL);
}

TEST(notify_path_and_abstract)
{
    struct sockaddr_un sa;
    socklen_t len;
    char name[128];
    int fd = dgram_listener(&sa, &len, 0);
    setenv("NOTIFY_SOCKET", sa.sun_path, 1);
    CHECK_EQ(uvproc_cluster_notify("READY=1\nSTATUS=2 workers"), 1);
    recv_is(fd, "READY=1\nSTATUS=2 workers");
    unlink(sa.sun_path);
    close(fd);

    fd = dgram_listener(&sa, &len, 1);
    snprintf(name, sizeof name, "@%s", sa.sun_path + 1);
    setenv("NOTIFY_SOCKET", name, 1);
    CHECK_EQ(uvproc_cluster_notify("STOPPING=1"), 1);
    recv_is(fd, "STOPPING=1");
    close(fd);
    unsetenv("NOTIFY_SOCKET");
}

TEST(notify_errors)
{
    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    CHECK_EQ(uvproc_cluster_notify("READY=1"), UV_EAFNOSUPPORT);
    setenv("NOTIFY_SOCKET", "/nonexistent/notify.sock", 1);
    CHECK(uvproc_cluster_notify("READY=1") < 0); /* nobody listens: an error, not a hang */
    unsetenv("NOTIFY_SOCKET");
}

/* ---------------------------------------------------------------------------------------- */
/* passed sockets                                                                           */

static int tcp_listener(int *port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* no CLOEXEC: as systemd passes it */
    CHECK(fd >= 0);
    CHECK_OK(bind(fd, (struct sockaddr *)&sa, sizeof sa));
    CHECK_OK(listen(fd, 128));
    CHECK_OK(getsockname(fd, (struct sockaddr *)&sa, &len));
    if (port != NULL)
        *port = ntohs(sa.sin_port);
    return fd;
}

/* Two listening sockets at fds 3 and 4, as systemd passes them. */
static void two_at_3_and_4(void)
{
    int a = tcp_listener(NULL), b = tcp_listener(NULL);
    int ta = fcntl(a, F_DUPFD, 100), tb = fcntl(b, F_DUPFD, 100);
    close(a);
    close(b);
    CHECK(dup2(ta, 3) == 3 && dup2(tb, 4) == 4);
    close(ta);
    close(tb);
}

static void close_3_and_4(void)
{
    close(3);
    close(4);
}

TEST(listen_fds_systemd)
{
    int fds[4];
    char names[4][UVPROC_CLUSTER_FDNAME_MAX];
    char pid[32];
    two_at_3_and_4();
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "2", 1);
    setenv("LISTEN_FDNAMES", "web:admin", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, names, 4), 2);
    CHECK_EQ(fds[0], 3);
    CHECK_EQ(fds[1], 4);
    CHECK_STR(names[0], "web");
    CHECK_STR(names[1], "admin");
    CHECK(fcntl(3, F_GETFD) & FD_CLOEXEC);
    CHECK(fcntl(4, F_GETFD) & FD_CLOEXEC);
    CHECK(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
          getenv("LISTEN_FDNAMES") == NULL);
    /* Taken once: a second call finds nothing. */
    CHECK_EQ(uvproc_cluster_listen_fds(fds, names, 4), 0);
    close_3_and_4();
}

TEST(listen_fds_not_ours)
{
    int fds[4];
    setenv("LISTEN_PID", "1", 1); /* another process's: left alone */
    setenv("LISTEN_FDS", "2", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, NULL, 4), 0);
    CHECK(getenv("LISTEN_FDS") != NULL);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
}

TEST(listen_fds_malformed)
{
    int fds[1];
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    setenv("LISTEN_PID", pid, 1);
    setenv("LISTEN_FDS", "two", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, NULL, 1), UV_EINVAL);
    setenv("LISTEN_FDS", "40", 1); /* fds 3..42 are not open */
    CHECK_EQ(uvproc_cluster_listen_fds(fds, NULL, 1), UV_EINVAL);
    two_at_3_and_4();
    setenv("LISTEN_FDS", "2", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, NULL, 1), UV_E2BIG);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    close_3_and_4();
    setenv("UVPROC_CLUSTER_FDS", "3,x", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, NULL, 1), UV_EINVAL);
    unsetenv("UVPROC_CLUSTER_FDS");
}

TEST(listen_fds_upgrade)
{
    int fds[4];
    char names[4][UVPROC_CLUSTER_FDNAME_MAX];
    two_at_3_and_4();
    setenv("UVPROC_CLUSTER_FDS", "3,4", 1);
    CHECK_EQ(uvproc_cluster_listen_fds(fds, names, 4), 2);
    CHECK(fds[0] == 3 && fds[1] == 4 && names[0][0] == '\0');
    CHECK(getenv("UVPROC_CLUSTER_FDS") == NULL);
    close_3_and_4();
}

TEST(upgrade_ready_pipe)
{
    int sv[2];
    char env[32], buf[32];
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    snprintf(env, sizeof env, "%d", sv[1]);
    setenv("UVPROC_CLUSTER_UPGRADE_FD", env, 1);
    CHECK(uvproc_cluster_upgrading());
    /* Taken out of the environment at once: the workers started next do not see it. */
    CHECK(getenv("UVPROC_CLUSTER_UPGRADE_FD") == NULL);
    CHECK(fcntl(sv[1], F_GETFD) & FD_CLOEXEC);
    CHECK_EQ(uvproc_cluster_upgrade_ready(), 1);
    CHECK(fcntl(sv[1], F_GETFD) < 0);            /* closed: the old primary reads EOF after READY */
    CHECK_EQ(uvproc_cluster_upgrade_ready(), 0); /* told once */
    CHECK_EQ(uvproc_cluster_upgrading(), 0);
    ssize_t n = read(sv[0], buf, sizeof buf - 1);
    CHECK(n == 8);
    buf[n] = '\0';
    CHECK_STR(buf, "READY=1\n");
    CHECK_EQ(read(sv[0], buf, sizeof buf), 0);
    close(sv[0]);
}

TEST(upgrade_ready_none)
{
    unsetenv("UVPROC_CLUSTER_UPGRADE_FD");
    CHECK_EQ(uvproc_cluster_upgrading(), 0);
    CHECK_EQ(uvproc_cluster_upgrade_ready(), 0);
}

/* ---------------------------------------------------------------------------------------- */
/* a cluster on a passed socket                                                             */

typedef struct {
    uv_loop_t loop;
    uvproc_cluster_t *c;
    unsigned listening, errors, exits;
    int stopped, status, answered;
    uv_pid_t new_pid;
} rec_t;

static void on_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *a)
{
    (void)w;
    (void)a;
    ((rec_t *)uvproc_cluster_data(c))->listening++;
}

static void on_error(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int err, json_t *msg)
{
    (void)w;
    (void)msg;
    fprintf(stderr, "cluster error: %s\n", uvproc_strerror(err));
    ((rec_t *)uvproc_cluster_data(c))->errors++;
}

static void on_exit_(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int sig)
{
    (void)w;
    (void)code;
    (void)sig;
    ((rec_t *)uvproc_cluster_data(c))->exits++;
}

static void stopped(uvproc_cluster_t *c, void *data)
{
    (void)c;
    ((rec_t *)data)->stopped = 1;
}

static void start(rec_t *r, unsigned workers, uvproc_cluster_policy_t pol, int port, const int *fds,
                  size_t nfds)
{
    char p[16];
    uvproc_cluster_options_t o = {0};
    const char *args[] = {"serve", p, NULL};
    snprintf(p, sizeof p, "%d", port);
    o.workers = workers;
    o.policy = pol;
    o.grace_ms = 3000;
    o.data = r;
    o.on_listening = on_listening;
    o.on_error = on_error;
    o.on_exit = on_exit_;
    o.listen_fds = fds;
    o.listen_fds_count = nfds;
    o.fork.spawn.stdio[1] = (uvproc_stdio_t){.type = UVPROC_STDIO_FD, .fd = 2};
    CHECK_OK(uv_loop_init(&r->loop));
    CHECK_OK(uvproc_cluster_start(&r->loop, &r->c, CLUSTER_WORKER, args, &o));
}

static void stop(rec_t *r)
{
    CHECK_OK(uvproc_cluster_stop(r->c, stopped, r));
    RUN_UNTIL(&r->loop, r->stopped);
}

static void answered(http_get_t *g, int status, const char *body)
{
    (void)body;
    rec_t *r = g->data;
    r->status = status;
    r->answered = 1;
}

static void get_ok(rec_t *r, int port)
{
    r->answered = 0;
    http_get(&r->loop, port, "/", answered, r);
    RUN_UNTIL(&r->loop, r->answered);
    CHECK_EQ(r->status, 200);
}

static void adopt(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    int port, fd = tcp_listener(&port);
    /* The port is taken by this listener: a bind of it would fail, adopting it works. */
    start(&r, 2, pol, port, &fd, 1);
    RUN_UNTIL(&r.loop, r.listening == 2);
    CHECK_EQ(r.errors, 0);
    get_ok(&r, port);
    get_ok(&r, port);
    stop(&r);
    CHECK_LOOP_CLOSE(&r.loop);
    /* The cluster owned the fd and closed it with its handle. */
    CHECK(fcntl(fd, F_GETFD) < 0);
}

TEST(adopt_passed_socket_rr)
{
    adopt(UVPROC_CLUSTER_RR);
}

TEST(adopt_passed_socket_shared)
{
    adopt(UVPROC_CLUSTER_SHARED);
}

TEST(unclaimed_passed_socket_closed)
{
    rec_t r = {0};
    int other, fd = tcp_listener(&other);
    start(&r, 1, UVPROC_CLUSTER_RR, 0, &fd, 1); /* the worker asks for port 0: not that one */
    RUN_UNTIL(&r.loop, r.listening == 1);
    stop(&r);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK(fcntl(fd, F_GETFD) < 0);
}

/* ---------------------------------------------------------------------------------------- */
/* resize_by and stats                                                                      */

TEST(resize_by_bounds_and_stats)
{
    rec_t r = {0};
    uvproc_cluster_stats_t st;
    char *text;
    size_t len;
    start(&r, 2, UVPROC_CLUSTER_RR, 0, NULL, 0);
    RUN_UNTIL(&r.loop, r.listening == 2);
    CHECK_EQ(uvproc_cluster_target(r.c), 2);
    CHECK_EQ(uvproc_cluster_resize_by(r.c, 1, 1, 3), 3);
    CHECK_EQ(uvproc_cluster_resize_by(r.c, 1, 1, 3), UV_ERANGE);
    CHECK_EQ(uvproc_cluster_resize_by(r.c, 2, 1, 3), UV_EINVAL);
    RUN_UNTIL(&r.loop, r.listening == 3);

    CHECK_OK(uvproc_cluster_stats(r.c, &st));
    CHECK_EQ(st.nworkers, 3);
    CHECK_EQ(st.target, 3);
    CHECK_EQ(st.forks, 3);
    CHECK(st.primary_rss_bytes > 0);
    for (size_t i = 0; i < st.nworkers; i++) {
        CHECK(st.workers[i].pid > 0 && st.workers[i].state == UVPROC_WORKER_LISTENING);
        CHECK(st.workers[i].rss_bytes > 0);
    }
    CHECK_OK(uvproc_cluster_stats_prometheus(&st, "t", &text, &len));
    CHECK_EQ(strlen(text), len);
    CHECK(strstr(text, "# TYPE t_workers_target gauge\nt_workers_target 3\n") != NULL);
    CHECK(strstr(text, "t_workers{state=\"listening\"} 3\n") != NULL);
    CHECK(strstr(text, "# TYPE t_forks_total counter\nt_forks_total 3\n") != NULL);
    free(text);
    uvproc_cluster_stats_free(&st);

    CHECK_EQ(uvproc_cluster_resize_by(r.c, -1, 2, 3), 2);
    CHECK_EQ(uvproc_cluster_resize_by(r.c, -1, 2, 3), UV_ERANGE);
    RUN_UNTIL(&r.loop, r.exits == 1);
    stop(&r);
    CHECK_LOOP_CLOSE(&r.loop);
}

/* ---------------------------------------------------------------------------------------- */
/* the upgrade                                                                              */

static void upgraded(uvproc_cluster_t *c, int status, uv_pid_t pid, void *data)
{
    rec_t *r = data;
    (void)c;
    r->status = status;
    r->new_pid = pid;
    r->answered = 1;
}

static int upgrade(rec_t *r, const char *file, const char *const *args, uint64_t timeout)
{
    /* The new primary inherits stdio: its stdout must not land in this test's TAP. */
    int saved = dup(1), err;
    CHECK(saved >= 0 && dup2(2, 1) == 1);
    r->answered = 0;
    err = uvproc_cluster_upgrade(r->c, file, NULL, args, timeout, upgraded, r);
    CHECK(dup2(saved, 1) == 1);
    close(saved);
    return err;
}

static int counting_walk;
static void count_handle(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        counting_walk++;
}

static void tick(uv_timer_t *t)
{
    counting_walk = 0;
    uv_walk(t->loop, count_handle, NULL);
    if (counting_walk <= 1) /* only this timer: the new primary's process object is gone */
        uv_close((uv_handle_t *)t, NULL);
}

/* The new primary was handed over (unref'd, not reaped): stop it, then let its process object
 * be reaped and freed, so that the loop closes clean. */
static void end_new_primary(rec_t *r)
{
    uv_timer_t t;
    CHECK_OK(kill(r->new_pid, SIGTERM));
    uv_timer_init(&r->loop, &t);
    uv_timer_start(&t, tick, 10, 10);
    uv_run(&r->loop, UV_RUN_DEFAULT);
}

static void upgrade_to_cluster_server(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    int port = free_port();
    char p[16];
    const char *args[] = {
        "-w", "1", "-p", p, "--policy", pol == UVPROC_CLUSTER_RR ? "rr" : "shared", NULL};
    snprintf(p, sizeof p, "%d", port);
    start(&r, 2, pol, port, NULL, 0);
    RUN_UNTIL(&r.loop, r.listening == 2);
    get_ok(&r, port);
    CHECK_OK(upgrade(&r, CLUSTER_SERVER, args, 60000));
    CHECK_EQ(upgrade(&r, CLUSTER_SERVER, args, 60000), UV_EBUSY);
    RUN_UNTIL(&r.loop, r.answered);
    CHECK_EQ(r.status, 0);
    CHECK(r.new_pid > 0);
    /* Both serve the same socket; once this cluster is stopped only the new one does. */
    get_ok(&r, port);
    stop(&r);
    get_ok(&r, port);
    end_new_primary(&r);
    CHECK_LOOP_CLOSE(&r.loop);
}

TEST(upgrade_rr)
{
    upgrade_to_cluster_server(UVPROC_CLUSTER_RR);
}

TEST(upgrade_shared)
{
    upgrade_to_cluster_server(UVPROC_CLUSTER_SHARED);
}

TEST(upgrade_failures)
{
    rec_t r = {0};
    int port = free_port();
    const char *sleep_args[] = {"600", NULL};
    start(&r, 1, UVPROC_CLUSTER_RR, port, NULL, 0);
    RUN_UNTIL(&r.loop, r.listening == 1);

    CHECK_OK(upgrade(&r, "/bin/false", NULL, 60000)); /* exits before it is ready */
    RUN_UNTIL(&r.loop, r.answered);
    CHECK_EQ(r.status, UVPROC_EUPGRADE);
    get_ok(&r, port);

    CHECK_OK(upgrade(&r, "/nonexistent/primary", NULL, 60000));
    RUN_UNTIL(&r.loop, r.answered);
    CHECK_EQ(r.status, UV_ENOENT);

    CHECK_OK(upgrade(&r, "sleep", sleep_args, 100)); /* never ready: killed */
    RUN_UNTIL(&r.loop, r.answered);
    CHECK_EQ(r.status, UV_ETIMEDOUT);
    get_ok(&r, port);

    CHECK_OK(upgrade(&r, "sleep", sleep_args, 60000)); /* a stop cancels it */
    stop(&r);
    CHECK(r.answered && r.status == UV_ECANCELED);
    CHECK_LOOP_CLOSE(&r.loop);
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    RUN(notify_unset);
    RUN(notify_path_and_abstract);
    RUN(notify_errors);
    RUN(listen_fds_systemd);
    RUN(listen_fds_not_ours);
    RUN(listen_fds_malformed);
    RUN(listen_fds_upgrade);
    RUN(upgrade_ready_pipe);
    RUN(upgrade_ready_none);
    RUN(adopt_passed_socket_rr);
    RUN(adopt_passed_socket_shared);
    RUN(unclaimed_passed_socket_closed);
    RUN(resize_by_bounds_and_stats);
    RUN(upgrade_rr);
    RUN(upgrade_shared);
    RUN(upgrade_failures);
    return check_done();
}
