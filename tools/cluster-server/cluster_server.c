/* cluster-server: Node's cluster hello-world, with a C primary, run as a service. The primary
 * starts WORKERS workers on one port, restarts any that dies (with backoff), and answers
 * gunicorn's and nginx's signals: HUP reloads the workers one by one without failing a
 * request, TTIN/TTOU add or remove one, USR2 upgrades the primary itself (a new one from the
 * program on disk inherits the listening sockets), QUIT/TERM/INT stop gracefully, USR1 reopens
 * the log. Under systemd it reports readiness (sd_notify) and takes socket-activated sockets;
 * --metrics serves Prometheus' /metrics from the primary. The workers are this same program
 * (C, libuv + http_parser, tools/cluster-server/http_hello.c) or, with --node-worker, an
 * unmodified Node `cluster` program run with `node`. Docs: docs/cluster.md, cluster-server(1). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <uvproc.h>

#include "cli.h"
#include "http_hello.h"
#include "metrics_http.h"

#define MAX_PASSED_FDS 64

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [-w WORKERS] [-p PORT] [--host ADDR] [--policy rr|shared]\n"
            "       [--node-worker FILE] [--min N] [--max N] [--grace MS] [--metrics ADDR]\n"
            "       [--pid-file FILE] [--log FILE] [--upgrade-timeout MS] [--json]\n"
            "An HTTP hello-world on PORT (default 8000; 0 picks a free one) and ADDR (default\n"
            "127.0.0.1) served by WORKERS processes (default: one per CPU) under a C primary.\n"
            "  -w, --workers N     workers to start\n"
            "  -p, --port PORT     port for the C workers (ignored with socket activation)\n"
            "      --host ADDR     address for the C workers, and for Node workers naming none\n"
            "      --policy rr     the primary accepts and passes connections (default, as Node)\n"
            "      --policy shared the workers accept on the primary's socket (the kernel\n"
            "                      balances)\n"
            "      --node-worker F the workers are `node F`, an unmodified Node cluster program,\n"
            "                      serving the port it listens on (-p does not apply); F is\n"
            "                      checked first (exit 2 if it cannot be read)\n"
            "      --min N, --max N  bounds for TTIN/TTOU (default 1 and 4 x WORKERS)\n"
            "      --grace MS      a stopping worker is SIGKILLed after MS (default 5000)\n"
            "      --metrics ADDR  serve Prometheus' GET /metrics on ADDR (HOST:PORT or PORT;\n"
            "                      host 127.0.0.1), from the primary\n"
            "      --pid-file FILE the primary's pid, written once it serves (an upgraded\n"
            "                      primary rewrites it), removed at exit if still its own\n"
            "      --log FILE      stderr (the events) goes to FILE, reopened on SIGUSR1\n"
            "      --upgrade-timeout MS  a new primary not ready within MS is killed and the\n"
            "                      old one serves on (default 30000)\n"
            "      --json          a JSON summary on stdout at exit: {\"port\", \"forks\",\n"
            "                      \"exits\", \"restarts\", \"crash_loops\", \"reloads\",\n"
            "                      \"upgraded_to\" (the new primary's pid, 0 if none)}\n"
            "  -h, --help, -V, --version\n"
            "Once every worker listens, stdout gets exactly one line:\n"
            "  cluster-server listening on http://HOST:PORT/\n"
            "Worker events (fork, online, listening, exit, restart) go to stderr.\n"
            "Signals (gunicorn's set; nginx's meaning for QUIT):\n"
            "  HUP        rolling reload: each worker replaced, the old one stopped once the\n"
            "             new one listens (no failed request)\n"
            "  TTIN/TTOU  one worker more / less, within --min/--max\n"
            "  USR2       upgrade the primary: start the program on disk as a new primary\n"
            "             inheriting the listening sockets; once its workers listen, this one\n"
            "             drains its workers and exits (status 0). If the new one fails or is\n"
            "             not ready within --upgrade-timeout, this one serves on.\n"
            "  QUIT, TERM graceful stop: sockets close, workers finish their requests, SIGKILL\n"
            "             after --grace; exit status 0\n"
            "  INT        the same; a second INT, TERM or QUIT kills the workers at once\n"
            "  USR1       reopen the --log file (after logrotate moved it)\n"
            "  WINCH      ignored (the primary never daemonizes)\n"
            "systemd: Type=notify readiness (READY, RELOADING, STOPPING, STATUS, MAINPID after\n"
            "an upgrade) through $NOTIFY_SOCKET; socket activation (LISTEN_FDS) in place of -p.\n"
            "GET /crash kills the worker that serves it (watch it restart). If the port cannot\n"
            "be had, or the workers crash-loop before serving, exit status 1.\n",
            prog);
}

/* ---------------------------------------------------------------------------------------- */
/* worker                                                                                   */

static int crash_hook(void *conn, const char *path, size_t len)
{
    (void)conn;
    if (len == 6 && memcmp(path, "/crash", 6) == 0)
        kill(getpid(), SIGKILL);
    return 0;
}

static void worker_connection(uvproc_cluster_server_t *s, uv_stream_t *client)
{
    (void)s;
    http_hello_serve(client);
}

static void worker_listening(uvproc_cluster_server_t *s, int status)
{
    (void)s;
    if (status != 0) {
        fprintf(stderr, "worker %d: listen: %s\n", (int)getpid(), uvproc_strerror(status));
        exit(1);
    }
}

static void worker_disconnect(uvproc_cluster_child_t *w, int asked)
{
    (void)w;
    if (!asked)
        exit(0);        /* the primary is gone: as Node's workers do */
    http_hello_drain(); /* idle keep-alive connections close; the loop then ends */
}

static int worker_main(const char *host, int port)
{
    /* A terminal's Ctrl-C (or a SIGHUP, a SIGQUIT) reaches the whole process group: the
     * primary decides what workers do about it (a graceful stop, a reload), so they ignore
     * them. Workers stay in the primary's session rather than `detached`: a session of their
     * own would also be a scheduling group of their own (Linux autogroup), changing their CPU
     * share. */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    /* The primary's controls, also ignored: `systemctl kill -s USR2` without --kill-who=main
     * signals every process of the service, and a worker must not die (USR2) or stop (TTIN). */
    signal(SIGUSR1, SIG_IGN);
    signal(SIGUSR2, SIG_IGN);
    signal(SIGTTIN, SIG_IGN);
    signal(SIGTTOU, SIG_IGN);
    uv_loop_t *loop = uv_default_loop();
    uvproc_cluster_child_t *w;
    uvproc_cluster_child_options_t co = {.on_disconnect = worker_disconnect};
    uvproc_cluster_listen_options_t lo = {.host = host,
                                          .port = port,
                                          .on_listening = worker_listening,
                                          .on_connection = worker_connection};
    int err = uvproc_cluster_child_start(loop, &w, &co);
    if (err != 0) {
        fprintf(stderr, "cluster-server worker: %s\n", uvproc_strerror(err));
        return 1;
    }
    http_hello_set_hook(crash_hook);
    err = uvproc_cluster_listen(w, NULL, &lo);
    if (err != 0) {
        fprintf(stderr, "cluster-server worker: listen: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* primary                                                                                  */

static const int signals[] = {SIGINT, SIGTERM, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGTTIN, SIGTTOU};
#define NSIGNALS (sizeof signals / sizeof signals[0])

static struct {
    const char *prog;
    unsigned workers, ready, forks, restarts, exits, crash_loops, reloads, min, max;
    int announced, port, json, failed, stopping;
    uv_pid_t upgraded_to;
    const char *host, *pid_file, *log_file;
    uint64_t upgrade_timeout;
    char exe[4096]; /* what USR2 starts: argv[0] made absolute (a symlink is kept) */
    char **argv;
    uv_signal_t sig[NSIGNALS];
    uvproc_cluster_t *c;
} S;

/* sd_notify with printf's format; silent when not under systemd. */
__attribute__((format(printf, 1, 2))) static void notify(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    int err = uvproc_cluster_notify(buf);
    if (err < 0)
        fprintf(stderr, "cluster-server: sd_notify: %s\n", uvproc_strerror(err));
}

/* The live workers, malloc()ed (NULL when none or out of memory); *n gets the count. */
static uvproc_cluster_worker_t **live_workers(size_t *n)
{
    uvproc_cluster_worker_t **ws;
    *n = S.c != NULL ? uvproc_cluster_workers(S.c, NULL, 0) : 0;
    ws = *n > 0 ? calloc(*n, sizeof *ws) : NULL;
    if (ws == NULL)
        *n = 0;
    else
        uvproc_cluster_workers(S.c, ws, *n);
    return ws;
}

static unsigned listening_workers(void)
{
    size_t n, k = 0;
    uvproc_cluster_worker_t **ws = live_workers(&n);
    for (size_t i = 0; i < n; i++)
        k += uvproc_cluster_worker_state(ws[i]) == UVPROC_WORKER_LISTENING;
    free(ws);
    return (unsigned)k;
}

static void notify_status(void)
{
    if (S.announced && !S.stopping)
        notify("STATUS=%u of %u workers listening", listening_workers(),
               uvproc_cluster_target(S.c));
}

static void pid_file_write(void)
{
    char tmp[4200];
    FILE *f;
    if (S.pid_file == NULL)
        return;
    /* Written whole then renamed: a reader never sees an empty or half-written file. */
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", S.pid_file, (int)getpid());
    f = fopen(tmp, "we");
    if (f == NULL || fprintf(f, "%d\n", (int)getpid()) < 0 || fclose(f) != 0 ||
        rename(tmp, S.pid_file) != 0)
        fprintf(stderr, "cluster-server: --pid-file %s: %s\n", S.pid_file, strerror(errno));
}

/* Removed only while it still names this process: after an upgrade it names the new one. */
static void pid_file_remove(void)
{
    FILE *f;
    int pid = 0;
    if (S.pid_file == NULL || (f = fopen(S.pid_file, "re")) == NULL)
        return;
    if (fscanf(f, "%d", &pid) != 1)
        pid = 0;
    fclose(f);
    if (pid == (int)getpid())
        unlink(S.pid_file);
}

static int log_open(void)
{
    int fd = open(S.log_file, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    /* fd 2 itself (not CLOEXEC): workers started from now on write to the new file too. */
    if (fd != 2 && dup2(fd, 2) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    if (fd != 2)
        close(fd);
    return 0;
}

static void on_fork(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    (void)c;
    S.forks++;
    fprintf(stderr, "fork: worker %u pid %d\n", uvproc_cluster_worker_id(w),
            (int)uvproc_cluster_worker_pid(w));
}

static void on_online(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    (void)c;
    fprintf(stderr, "online: worker %u pid %d\n", uvproc_cluster_worker_id(w),
            (int)uvproc_cluster_worker_pid(w));
}

static void announce(int port)
{
    int r;
    S.announced = 1;
    S.port = port;
    /* The pid file first: whoever reads the line may act on the file at once (signal the
     * new primary after an upgrade). */
    pid_file_write();
    printf(strchr(S.host, ':') != NULL ? "cluster-server listening on http://[%s]:%d/\n"
                                       : "cluster-server listening on http://%s:%d/\n",
           S.host, port);
    fflush(stdout);
    /* Started by an upgrade: the old primary is the one that tells systemd (MAINPID). */
    r = uvproc_cluster_upgrade_ready();
    if (r == 1)
        fprintf(stderr, "upgrade: ready, told the old primary\n");
    else if (r < 0)
        fprintf(stderr, "upgrade: telling the old primary: %s\n", uvproc_strerror(r));
    else
        notify("READY=1\nMAINPID=%d\nSTATUS=%u workers listening on port %d", (int)getpid(),
               S.workers, port);
}

static void on_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *a)
{
    (void)c;
    fprintf(stderr, "listening: worker %u pid %d on %s:%d\n", uvproc_cluster_worker_id(w),
            (int)uvproc_cluster_worker_pid(w), a->address != NULL ? a->address : "*", a->port);
    if (!S.announced && ++S.ready >= S.workers)
        announce(a->port);
    else
        notify_status();
}

static void on_exit_(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int signal)
{
    (void)c;
    S.exits++;
    if (signal != 0)
        fprintf(stderr, "exit: worker %u killed by signal %d after %llu ms\n",
                uvproc_cluster_worker_id(w), signal,
                (unsigned long long)uvproc_cluster_worker_uptime(w));
    else
        fprintf(stderr, "exit: worker %u code %lld after %llu ms\n", uvproc_cluster_worker_id(w),
                (long long)code, (unsigned long long)uvproc_cluster_worker_uptime(w));
}

static void on_restart(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, uint64_t delay)
{
    (void)c;
    (void)w;
    S.restarts++;
    fprintf(stderr, "restart: in %llu ms\n", (unsigned long long)delay);
}

static void stopped(uvproc_cluster_t *c, void *data);

static void begin_stop(const char *why)
{
    if (S.stopping)
        return;
    S.stopping = 1;
    fprintf(stderr, "stopping (%s)\n", why);
    notify("STOPPING=1\nSTATUS=stopping: %s", why);
    uvproc_cluster_stop(S.c, stopped, NULL);
}

/* Before the server is up, a failure is the answer: say it and stop (exit status 1). */
static void give_up(uvproc_cluster_t *c)
{
    (void)c;
    if (S.announced || S.failed)
        return;
    S.failed = 1;
    fprintf(stderr, "cluster-server: the workers cannot serve; stopping\n");
    begin_stop("the workers cannot serve");
}

static void on_crash_loop(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    (void)w;
    S.crash_loops++;
    fprintf(stderr, "crash loop: a worker keeps dying, its slot stops restarting\n");
    give_up(c);
}

static void on_error(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int err, json_t *msg)
{
    (void)msg;
    fprintf(stderr, "error: worker %u: %s\n", uvproc_cluster_worker_id(w), uvproc_strerror(err));
    if (err == UV_EADDRINUSE || err == UV_EACCES || err == UV_EADDRNOTAVAIL)
        give_up(c); /* the port cannot be had: restarting will not help */
}

static void stopped(uvproc_cluster_t *c, void *data)
{
    (void)c;
    (void)data;
    for (size_t i = 0; i < NSIGNALS; i++)
        uv_close((uv_handle_t *)&S.sig[i], NULL);
    metrics_http_stop();
    pid_file_remove();
    S.c = NULL;
}

static void reloaded(uvproc_cluster_t *c, int status, void *data)
{
    (void)c;
    (void)data;
    if (status == 0)
        S.reloads++;
    fprintf(stderr, "reload: %s\n", status == 0 ? "done" : uvproc_strerror(status));
    if (status != UV_ECANCELED)
        notify("READY=1\nSTATUS=%s; %u workers listening",
               status == 0 ? "reloaded" : "reload failed", listening_workers());
}

static void upgraded(uvproc_cluster_t *c, int status, uv_pid_t pid, void *data)
{
    (void)c;
    (void)data;
    if (status != 0) {
        fprintf(stderr, "upgrade: failed: %s; this primary serves on\n", uvproc_strerror(status));
        notify("STATUS=upgrade failed (%s); %u workers listening", uvproc_strerror(status),
               listening_workers());
        return;
    }
    S.upgraded_to = pid;
    fprintf(stderr, "upgrade: new primary pid %d serves; draining this one\n", (int)pid);
    /* systemd follows the service to its new main process; the old one's exit is then no
     * failure of the service. */
    notify("MAINPID=%d\nSTATUS=upgraded to pid %d", (int)pid, (int)pid);
    begin_stop("upgraded");
}

static uint64_t monotonic_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void resize_by(int delta)
{
    int r = uvproc_cluster_resize_by(S.c, delta, S.min, S.max);
    const char *name = delta > 0 ? "ttin" : "ttou";
    if (r == UV_ERANGE)
        fprintf(stderr, "%s: already at --%s %u\n", name, delta > 0 ? "max" : "min",
                delta > 0 ? S.max : S.min);
    else if (r < 0)
        fprintf(stderr, "%s: %s\n", name, uvproc_strerror(r));
    else
        fprintf(stderr, "%s: %d workers\n", name, r);
    notify_status();
}

static void on_signal(uv_signal_t *s, int signum)
{
    int err;
    (void)s;
    if (S.stopping) {
        if (signum == SIGINT || signum == SIGTERM || signum == SIGQUIT) {
            /* Asked twice: the workers go now (nginx's fast shutdown). */
            size_t n;
            uvproc_cluster_worker_t **ws = live_workers(&n);
            fprintf(stderr, "stopping now: killing %zu workers\n", n);
            for (size_t i = 0; i < n; i++)
                if (uvproc_cluster_worker_pid(ws[i]) > 0)
                    kill(uvproc_cluster_worker_pid(ws[i]), SIGKILL);
            free(ws);
        }
        return;
    }
    switch (signum) {
    case SIGHUP:
        err = uvproc_cluster_reload(S.c, reloaded, NULL);
        fprintf(stderr, "reload: %s\n", err == 0 ? "started" : uvproc_strerror(err));
        if (err == 0)
            notify("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
                   (unsigned long long)monotonic_usec());
        break;
    case SIGTTIN:
    case SIGTTOU:
        resize_by(signum == SIGTTIN ? 1 : -1);
        break;
    case SIGUSR1:
        err = S.log_file != NULL ? log_open() : 0;
        fprintf(stderr, "usr1: %s\n",
                S.log_file == NULL ? "no --log file to reopen"
                : err == 0         ? "log reopened"
                                   : uvproc_strerror(err));
        break;
    case SIGUSR2:
        err = uvproc_cluster_upgrade(S.c, S.exe, S.argv[0], (const char *const *)S.argv + 1,
                                     S.upgrade_timeout, upgraded, NULL);
        fprintf(stderr, "upgrade: %s %s\n", err == 0 ? "starting" : uvproc_strerror(err), S.exe);
        break;
    default:
        begin_stop(signum == SIGQUIT ? "SIGQUIT" : signum == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
}

static char *render_metrics(void *data, size_t *len)
{
    uvproc_cluster_stats_t st;
    char *text = NULL;
    (void)data;
    if (S.c == NULL || uvproc_cluster_stats(S.c, &st) != 0)
        return NULL;
    if (uvproc_cluster_stats_prometheus(&st, NULL, &text, len) != 0)
        text = NULL;
    uvproc_cluster_stats_free(&st);
    return text;
}

/* ---------------------------------------------------------------------------------------- */
/* start-up                                                                                 */

/* argv[0] as USR2 will run it: absolute, so a later chdir cannot change it, and not resolved
 * through symlinks, so a deploy that repoints a symlink is picked up (nginx runs its argv[0]). */
static int find_exe(const char *argv0)
{
    char cwd[2048];
    if (strchr(argv0, '/') == NULL) {
        /* Found in PATH: the same lookup will run again, so keep the bare name. */
        snprintf(S.exe, sizeof S.exe, "%s", argv0);
        return 0;
    }
    if (argv0[0] == '/') {
        snprintf(S.exe, sizeof S.exe, "%s", argv0);
        return 0;
    }
    if (getcwd(cwd, sizeof cwd) == NULL)
        return -errno;
    snprintf(S.exe, sizeof S.exe, "%s/%s", cwd, argv0);
    return 0;
}

/* The sockets systemd (or the primary being upgraded) passed: the first TCP one gives the C
 * workers their address, in place of --host/-p. */
static int take_passed_sockets(int *fds, int *port)
{
    char names[MAX_PASSED_FDS][UVPROC_CLUSTER_FDNAME_MAX];
    static char host[64];
    int n = uvproc_cluster_listen_fds(fds, names, MAX_PASSED_FDS);
    if (n < 0) {
        fprintf(stderr, "cluster-server: passed sockets (LISTEN_FDS): %s\n", uvproc_strerror(n));
        return n;
    }
    for (int i = 0; i < n; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int p;
        if (getsockname(fds[i], (struct sockaddr *)&ss, &len) != 0 ||
            (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
            fprintf(stderr, "cluster-server: passed fd %d (%s) is not a TCP socket: ignored\n",
                    fds[i], names[i]);
            continue;
        }
        if (ss.ss_family == AF_INET) {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof host);
            p = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        } else {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof host);
            p = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        }
        fprintf(stderr, "passed socket: fd %d%s%s on %s port %d\n", fds[i],
                names[i][0] != '\0' ? " named " : "", names[i], host, p);
        if (*port < 0) {
            S.host = host;
            *port = p;
        }
    }
    return n;
}

static int start_primary(int port, const char *policy, const char *node_worker, unsigned workers,
                         uint64_t grace)
{
    char port_arg[16], self[4096];
    int fds[MAX_PASSED_FDS], nfds, passed_port = -1;
    uvproc_cluster_options_t o = {0};
    uv_loop_t *loop = uv_default_loop();

    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("cluster-server: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    nfds = take_passed_sockets(fds, &passed_port);
    if (nfds < 0)
        return 1;
    if (passed_port >= 0)
        port = passed_port;
    snprintf(port_arg, sizeof port_arg, "%d", port);
    const char *c_args[] = {"-p", port_arg, "--host", S.host, NULL};
    o.workers = workers;
    o.policy = strcmp(policy, "shared") == 0 ? UVPROC_CLUSTER_SHARED : UVPROC_CLUSTER_RR;
    o.host = S.host;
    o.grace_ms = grace;
    o.listen_fds = fds;
    o.listen_fds_count = (size_t)nfds;
    if (node_worker != NULL)
        o.fork.exec_path = "node";
    /* The workers' own stdout (Node's console.log) goes to stderr: stdout carries only the
     * listening line, which scripts wait for. */
    o.fork.spawn.stdio[1] = (uvproc_stdio_t){.type = UVPROC_STDIO_FD, .fd = 2};
    o.on_fork = on_fork;
    o.on_online = on_online;
    o.on_listening = on_listening;
    o.on_exit = on_exit_;
    o.on_restart = on_restart;
    o.on_crash_loop = on_crash_loop;
    o.on_error = on_error;
    S.workers = workers != 0 ? workers : uv_available_parallelism();
    int err = uvproc_cluster_start(loop, &S.c, node_worker != NULL ? node_worker : self,
                                   node_worker != NULL ? NULL : c_args, &o);
    if (err != 0) {
        fprintf(stderr, "cluster-server: %s\n", uvproc_strerror(err));
        for (int i = 0; i < nfds; i++)
            close(fds[i]);
        return 1;
    }
    if (S.max == 0)
        S.max = 4 * S.workers;
    for (size_t i = 0; i < NSIGNALS; i++) {
        uv_signal_init(loop, &S.sig[i]);
        uv_signal_start(&S.sig[i], on_signal, signals[i]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    enum {
        O_HOST = 256,
        O_POLICY,
        O_NODE,
        O_JSON,
        O_MIN,
        O_MAX,
        O_GRACE,
        O_METRICS,
        O_PIDFILE,
        O_LOG,
        O_UPTIMEOUT
    };
    static const struct option longopts[] = {
        {"workers", required_argument, NULL, 'w'},
        {"port", required_argument, NULL, 'p'},
        {"host", required_argument, NULL, O_HOST},
        {"policy", required_argument, NULL, O_POLICY},
        {"node-worker", required_argument, NULL, O_NODE},
        {"json", no_argument, NULL, O_JSON},
        {"min", required_argument, NULL, O_MIN},
        {"max", required_argument, NULL, O_MAX},
        {"grace", required_argument, NULL, O_GRACE},
        {"metrics", required_argument, NULL, O_METRICS},
        {"pid-file", required_argument, NULL, O_PIDFILE},
        {"log", required_argument, NULL, O_LOG},
        {"upgrade-timeout", required_argument, NULL, O_UPTIMEOUT},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0}};
    const char *policy = "rr", *node_worker = NULL, *metrics = NULL;
    long port = 8000, workers = 0, min = 1, max = 0, grace = 5000, uptimeout = 30000;
    int opt, metrics_port = 0;
    uv_loop_t *loop = uv_default_loop();

    S.prog = cli_prog(argv[0]);
    S.host = "127.0.0.1";
    S.argv = argv;
    opterr = 0; /* one line of our own (cli.h), not getopt's plus ours */
    while ((opt = getopt_long(argc, argv, ":w:p:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'w':
            if (cli_parse_long(optarg, 1, 4096, &workers) != 0)
                cli_usage_error(S.prog, "-w: a worker count from 1 to 4096, not '%s'", optarg);
            break;
        case 'p':
            if (cli_parse_long(optarg, 0, 65535, &port) != 0)
                cli_usage_error(S.prog, "-p: a port from 0 to 65535, not '%s'", optarg);
            break;
        case O_HOST:
            S.host = optarg;
            break;
        case O_POLICY:
            if (strcmp(optarg, "rr") != 0 && strcmp(optarg, "shared") != 0)
                cli_usage_error(S.prog, "--policy: rr or shared, not '%s'", optarg);
            policy = optarg;
            break;
        case O_NODE:
            node_worker = optarg;
            break;
        case O_JSON:
            S.json = 1;
            break;
        case O_MIN:
        case O_MAX:
            if (cli_parse_long(optarg, opt == O_MIN ? 0 : 1, 4096, opt == O_MIN ? &min : &max))
                cli_usage_error(S.prog, "--%s: a worker count up to 4096, not '%s'",
                                opt == O_MIN ? "min" : "max", optarg);
            break;
        case O_GRACE:
        case O_UPTIMEOUT:
            if (cli_parse_long(optarg, 1, 86400000, opt == O_GRACE ? &grace : &uptimeout))
                cli_usage_error(S.prog, "--%s: milliseconds (1 to 86400000), not '%s'",
                                opt == O_GRACE ? "grace" : "upgrade-timeout", optarg);
            break;
        case O_METRICS:
            if (metrics_http_check(optarg) != 0)
                cli_usage_error(S.prog, "--metrics %s: HOST:PORT, [IPV6]:PORT or PORT", optarg);
            metrics = optarg;
            break;
        case O_PIDFILE:
            S.pid_file = optarg;
            break;
        case O_LOG:
            S.log_file = optarg;
            break;
        case 'h':
            usage(stdout, S.prog);
            return 0;
        case 'V':
            cli_print_version(S.prog);
            return 0;
        case ':':
            cli_usage_error(S.prog, "option '%s' needs a value", argv[optind - 1]);
        default:
            cli_usage_error(S.prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        cli_usage_error(S.prog, "unexpected argument '%s'", argv[optind]);
    if (uvproc_cluster_is_worker())
        return worker_main(S.host, (int)port);

    if (max != 0 && (unsigned long)min > (unsigned long)max)
        cli_usage_error(S.prog, "--min %ld is above --max %ld", min, max);
    if (max != 0 && workers > max)
        cli_usage_error(S.prog, "-w %ld is above --max %ld", workers, max);
    if (workers != 0 && workers < min)
        cli_usage_error(S.prog, "-w %ld is below --min %ld", workers, min);
    if (node_worker != NULL) {
        /* Checked here: otherwise each worker would print Node's stack for a missing module,
         * restart after restart, until the crash-loop guard stops it. */
        struct stat st;
        if (stat(node_worker, &st) != 0 || access(node_worker, R_OK) != 0)
            cli_usage_error(S.prog, "--node-worker %s: %s", node_worker, strerror(errno));
        if (!S_ISREG(st.st_mode))
            cli_usage_error(S.prog, "--node-worker %s: not a regular file", node_worker);
    }
    if (S.log_file != NULL) {
        int err = log_open();
        if (err != 0) {
            fprintf(stderr, "%s: --log %s: %s\n", S.prog, S.log_file, uvproc_strerror(err));
            return 1;
        }
    }
    if (find_exe(argv[0]) != 0) {
        perror("cluster-server: getcwd");
        return 1;
    }
    S.min = (unsigned)min;
    S.max = (unsigned)max;
    S.upgrade_timeout = (uint64_t)uptimeout;
    /* A scraper or a client gone mid-answer must not kill the primary. */
    signal(SIGPIPE, SIG_IGN);
    if (start_primary((int)port, policy, node_worker, (unsigned)workers, (uint64_t)grace) != 0)
        return 1;
    if (metrics != NULL) {
        int err = metrics_http_start(loop, metrics, render_metrics, NULL, &metrics_port);
        if (err != 0) {
            fprintf(stderr, "%s: --metrics %s: %s\n", S.prog, metrics, uvproc_strerror(err));
            S.failed = 1;
            begin_stop("--metrics failed");
        } else {
            fprintf(stderr, "metrics: serving /metrics on port %d (%s)\n", metrics_port, metrics);
        }
    }
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr, "cluster-server: stopped after %u forks, %u exits, %u restarts\n", S.forks,
            S.exits, S.restarts);
    if (S.json)
        printf("{\"port\":%d,\"forks\":%u,\"exits\":%u,\"restarts\":%u,\"crash_loops\":%u,"
               "\"reloads\":%u,\"upgraded_to\":%d}\n",
               S.port, S.forks, S.exits, S.restarts, S.crash_loops, S.reloads, (int)S.upgraded_to);
    /* After an upgrade the new primary is still this process's child (unref'd, not reaped
     * here: it outlives us), so the loop cannot be closed then; the exit frees it. */
    uv_loop_close(loop);
    return S.failed ? 1 : 0;
}
