/* cluster-server: Node's cluster hello-world, with a C primary. The primary starts WORKERS
 * workers on one port, restarts any that dies (with backoff), reloads them one by one on
 * SIGHUP without failing a request, and stops gracefully on SIGINT/SIGTERM. The workers are
 * this same program (C, libuv + http_parser, tools/cluster-server/http_hello.c) or, with
 * --node-worker, an unmodified Node `cluster` program run with `node`. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

#include "http_hello.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: cluster-server [-w WORKERS] [-p PORT] [--host ADDR] [--policy rr|shared]\n"
            "                      [--node-worker FILE] [--json]\n"
            "  An HTTP hello-world on PORT (default 8000; 0 picks a free one) and ADDR (default\n"
            "  127.0.0.1) served by WORKERS processes (default: one per CPU) under a C primary.\n"
            "  --policy rr      the primary accepts and passes connections (default, as Node)\n"
            "  --policy shared  the workers accept on the primary's socket (the kernel balances)\n"
            "  --node-worker F  the workers are `node F`, an unmodified Node cluster program,\n"
            "                   serving the port it listens on (-p does not apply); a program\n"
            "                   that names no address is served on ADDR\n"
            "  --json           a JSON summary on stdout at exit\n"
            "Once every worker listens, stdout gets exactly one line:\n"
            "  cluster-server listening on http://HOST:PORT/\n"
            "Worker events (fork, online, listening, exit, restart) go to stderr.\n"
            "GET /crash kills the worker that serves it (watch it restart); SIGHUP reloads the\n"
            "workers one at a time; SIGINT/SIGTERM stop gracefully (exit status 0). If the\n"
            "port cannot be had, or the workers crash-loop before serving, exit status 1.\n");
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
    /* A terminal's Ctrl-C (or a SIGHUP) reaches the whole process group: the primary decides
     * what workers do about it (a graceful stop, a reload), so they ignore them. Workers stay
     * in the primary's session rather than `detached`: a session of their own would also be a
     * scheduling group of their own (Linux autogroup), changing their CPU share. */
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
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

static struct {
    unsigned workers, ready, forks, restarts, exits, crash_loops;
    int announced, port, json, failed;
    const char *host;
    uv_signal_t sigint, sigterm, sighup;
} S;

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

static void on_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *a)
{
    (void)c;
    fprintf(stderr, "listening: worker %u pid %d on %s:%d\n", uvproc_cluster_worker_id(w),
            (int)uvproc_cluster_worker_pid(w), a->address != NULL ? a->address : "*", a->port);
    if (!S.announced && ++S.ready >= S.workers) {
        S.announced = 1;
        S.port = a->port;
        printf("cluster-server listening on http://%s:%d/\n", S.host, a->port);
        fflush(stdout);
    }
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

/* Before the server is up, a failure is the answer: say it and stop (exit status 1). */
static void give_up(uvproc_cluster_t *c)
{
    if (S.announced || S.failed)
        return;
    S.failed = 1;
    fprintf(stderr, "cluster-server: the workers cannot serve; stopping\n");
    uvproc_cluster_stop(c, stopped, NULL);
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
    uv_close((uv_handle_t *)&S.sigint, NULL);
    uv_close((uv_handle_t *)&S.sigterm, NULL);
    uv_close((uv_handle_t *)&S.sighup, NULL);
}

static void reloaded(uvproc_cluster_t *c, int status, void *data)
{
    (void)c;
    (void)data;
    fprintf(stderr, "reload: %s\n", status == 0 ? "done" : uvproc_strerror(status));
}

static void on_signal(uv_signal_t *s, int signum)
{
    uvproc_cluster_t *c = s->data;
    if (signum == SIGHUP) {
        int err = uvproc_cluster_reload(c, reloaded, NULL);
        fprintf(stderr, "reload: %s\n", err == 0 ? "started" : uvproc_strerror(err));
        return;
    }
    fprintf(stderr, "stopping\n");
    uvproc_cluster_stop(c, stopped, NULL);
}

int main(int argc, char **argv)
{
    const char *policy = "rr", *node_worker = NULL;
    char port_arg[16], self[4096];
    int port = 8000;
    uvproc_cluster_options_t o = {0};
    uvproc_cluster_t *c;
    uv_loop_t *loop = uv_default_loop();

    S.host = "127.0.0.1";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            S.json = 1;
        } else if (v != NULL && strcmp(a, "-w") == 0) {
            o.workers = (unsigned)atoi(v), i++;
        } else if (v != NULL && strcmp(a, "-p") == 0) {
            port = atoi(v), i++;
        } else if (v != NULL && strcmp(a, "--host") == 0) {
            S.host = v, i++;
        } else if (v != NULL && strcmp(a, "--policy") == 0) {
            policy = v, i++;
        } else if (v != NULL && strcmp(a, "--node-worker") == 0) {
            node_worker = v, i++;
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (port < 0 || port > 65535 || (strcmp(policy, "rr") != 0 && strcmp(policy, "shared") != 0)) {
        usage(stderr);
        return 2;
    }
    if (uvproc_cluster_is_worker())
        return worker_main(S.host, port);

    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) {
        perror("cluster-server: /proc/self/exe");
        return 1;
    }
    self[n] = '\0';
    snprintf(port_arg, sizeof port_arg, "%d", port);
    const char *c_args[] = {"-p", port_arg, "--host", S.host, NULL};
    o.policy = strcmp(policy, "shared") == 0 ? UVPROC_CLUSTER_SHARED : UVPROC_CLUSTER_RR;
    o.host = S.host;
    o.grace_ms = 5000;
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
    S.workers = o.workers != 0 ? o.workers : uv_available_parallelism();
    int err = uvproc_cluster_start(loop, &c, node_worker != NULL ? node_worker : self,
                                   node_worker != NULL ? NULL : c_args, &o);
    if (err != 0) {
        fprintf(stderr, "cluster-server: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_signal_init(loop, &S.sigint);
    uv_signal_init(loop, &S.sigterm);
    uv_signal_init(loop, &S.sighup);
    S.sigint.data = S.sigterm.data = S.sighup.data = c;
    uv_signal_start(&S.sigint, on_signal, SIGINT);
    uv_signal_start(&S.sigterm, on_signal, SIGTERM);
    uv_signal_start(&S.sighup, on_signal, SIGHUP);
    uv_run(loop, UV_RUN_DEFAULT);
    fprintf(stderr, "cluster-server: stopped after %u forks, %u exits, %u restarts\n", S.forks,
            S.exits, S.restarts);
    if (S.json)
        printf("{\"port\":%d,\"forks\":%u,\"exits\":%u,\"restarts\":%u,\"crash_loops\":%u}\n",
               S.port, S.forks, S.exits, S.restarts, S.crash_loops);
    uv_loop_close(loop);
    return S.failed ? 1 : 0;
}
