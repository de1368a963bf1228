/* raw_http_server: the bound for cluster benchmarks. W processes, each with its own listening
 * socket on the same port (SO_REUSEPORT: the kernel balances connections), each a plain libuv
 * loop serving tools/cluster-server/http_hello.c, the same bytes cluster-server's workers send. No uvproc.
 *
 *   raw_http_server [-p PORT] [-w W] [--host H]
 *
 * Prints "listening on http://HOST:PORT/" (flushed) once every process listens; SIGINT or
 * SIGTERM stops them all. -p 0 picks a free port (the first socket's, shared by the rest). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>

#include "http_hello.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: raw_http_server [-p PORT] [-w WORKERS] [--host ADDR]\n"
               "  A raw libuv hello-world HTTP server in WORKERS processes sharing PORT with\n"
               "  SO_REUSEPORT (defaults: port 8000, 1 worker, host 127.0.0.1; -p 0: any free\n"
               "  port). Prints 'listening on http://HOST:PORT/' when every process listens.\n");
}

/* A socket bound with SO_REUSEPORT to host:port, listening; -1 (errno set) on failure. */
static int listen_socket(const struct sockaddr_storage *ss, socklen_t len)
{
    int one = 1;
    int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 511) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    uv_stop(s->loop);
}

static int serve(int fd, int handle_signals)
{
    uv_loop_t *loop = uv_default_loop();
    uv_tcp_t server;
    uv_signal_t sigint, sigterm;
    uv_tcp_init(loop, &server);
    if (uv_tcp_open(&server, fd) != 0 ||
        uv_listen((uv_stream_t *)&server, 511, http_hello_on_connection) != 0)
        return 1;
    if (handle_signals) {
        uv_signal_init(loop, &sigint);
        uv_signal_init(loop, &sigterm);
        uv_signal_start(&sigint, on_signal, SIGINT);
        uv_signal_start(&sigterm, on_signal, SIGTERM);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 8000, workers = 1, ready[2];
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    pid_t *pids;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "-p") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "-w") == 0 && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (workers < 1 || workers > 1024 || port < 0 || port > 65535) {
        usage(stderr);
        return 2;
    }
    memset(&ss, 0, sizeof ss);
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        fprintf(stderr, "raw_http_server: bad address %s\n", host);
        return 2;
    }
    len = ss.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int fd = listen_socket(&ss, len);
    if (fd < 0) {
        fprintf(stderr, "raw_http_server: %s:%d: %s\n", host, port, strerror(errno));
        return 1;
    }
    /* The real port (for -p 0): the other processes bind to it. */
    getsockname(fd, (struct sockaddr *)&ss, &len);
    port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                          : ((struct sockaddr_in *)&ss)->sin_port);
    if (pipe(ready) != 0 || (pids = calloc((size_t)workers, sizeof *pids)) == NULL)
        return 1;
    for (int i = 1; i < workers; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            /* Each process has its own socket: that is what SO_REUSEPORT balances. */
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            close(fd);
            close(ready[0]);
            int own = listen_socket(&ss, len);
            char c = own >= 0 ? 'y' : 'n';
            if (write(ready[1], &c, 1) != 1 || own < 0)
                _exit(1);
            close(ready[1]);
            _exit(serve(own, 0));
        }
    }
    close(ready[1]);
    for (int i = 1; i < workers; i++) {
        char c = 'n';
        if (read(ready[0], &c, 1) != 1 || c != 'y') {
            fprintf(stderr, "raw_http_server: a worker could not listen\n");
            for (int j = 1; j < workers; j++)
                kill(pids[j], SIGTERM);
            return 1;
        }
    }
    close(ready[0]);
    printf("listening on http://%s:%d/\n", host, port);
    fflush(stdout);
    int rc = serve(fd, 1);
    for (int i = 1; i < workers; i++)
        kill(pids[i], SIGTERM);
    for (int i = 1; i < workers; i++)
        waitpid(pids[i], NULL, 0);
    free(pids);
    return rc;
}
