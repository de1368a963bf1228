/* A C cluster worker for test/test_cluster*.c. argv[1] is the mode, argv[2] the port:
 *
 *   serve        listen on 127.0.0.1:PORT through the primary; every HTTP request gets its
 *                own connection (Connection: close) and the body "<pid>\n"; GET /slow sends
 *                the primary {"slow":true} and answers after 300 ms; leaves when the primary
 *                asks (closes its server and channel, lets the loop end)
 *   two          as serve, plus a second server on a free port (two `listening` events)
 *   unix         as serve, on the Unix socket path argv[2]
 *   ipv6         as serve, on [::1]:PORT
 *   first-only   the worker with NODE_UNIQUE_ID 1 serves, every later one exits 3 at once
 *                (a bad deploy, for the reload tests)
 * Every C mode echoes a user message from the primary back as {"echo": msg}.
 *   refuse-first the worker with NODE_UNIQUE_ID 1 is raw: listens (round-robin) and answers
 *                every connection it is given with accepted:false; the others serve
 *   udp          asks for a UDP server (raw queryServer), exits 6 when refused
 *   leave        as serve, then leaves on its own once listening (exitedAfterDisconnect)
 *   stubborn     raw: says online and listening (without a server), ignores SIGTERM and the
 *                disconnect request (it answers that with `online` and `listening` again);
 *                only SIGKILL ends it
 *   online       says online, never listens; leaves when asked
 *   online-exit  says online, then exits 5
 *   exit         exits 3 at once, before joining
 *   garbage      raw bytes on the channel (no uvproc): bad JSON, NODE_CLUSTER messages with an
 *                unknown act / missing fields / no act, online twice, listening, then online
 *                again, then a bad listening; leaves when it reads the disconnect request
 *   backwards    raw: listening before online, then online; leaves on the disconnect request
 *   many-keys    raw: argv[2] distinct queryServer requests (round-robin, port 0, index from
 *                (NODE_UNIQUE_ID - 1) * argv[2] up); exits 0 when exactly 64 were answered
 *                with success and the rest with EMFILE (-24), 1 otherwise
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <uvproc.h>

static const char *mode;
static int port;
static uvproc_cluster_child_t *self;

typedef struct {
    uv_stream_t *s;
    char buf[4096];
    size_t len;
    uv_timer_t slow;
    int done;
} conn_t;

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    free(h);
    if (c != NULL)
        free(c);
}

static void timer_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    uv_close((uv_handle_t *)c->s, conn_closed);
}

static void write_done(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    (void)status;
    free(req);
    uv_close((uv_handle_t *)&c->slow, timer_closed);
}

static void respond(conn_t *c)
{
    static char text[256];
    char body[32];
    uv_write_t *req = malloc(sizeof *req);
    int n = snprintf(body, sizeof body, "%d\n", (int)getpid());
    int len =
        snprintf(text, sizeof text,
                 "HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", n, body);
    uv_buf_t b = uv_buf_init(text, (unsigned)len);
    req->data = c;
    uv_write(req, c->s, &b, 1, write_done);
}

static void slow_cb(uv_timer_t *t)
{
    respond(t->data);
}

static void on_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    conn_t *c = h->data;
    (void)size;
    *buf = uv_buf_init(c->buf + c->len, (unsigned)(sizeof c->buf - c->len - 1));
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;
    if (n < 0 || c->len + (size_t)n >= sizeof c->buf - 1) {
        uv_read_stop(s);
        if (!c->done) {
            c->done = 1;
            uv_close((uv_handle_t *)&c->slow, timer_closed);
        }
        return;
    }
    c->len += (size_t)n;
    c->buf[c->len] = '\0';
    if (c->done || strstr(c->buf, "\r\n\r\n") == NULL)
        return;
    c->done = 1;
    uv_read_stop(s);
    if (strncmp(c->buf, "GET /slow", 9) == 0) {
        json_t *m = json_pack("{s:b}", "slow", 1); /* tells the test the request is here */
        uvproc_cluster_child_send(self, m);
        json_decref(m);
        uv_timer_start(&c->slow, slow_cb, 300, 0);
    } else
        respond(c);
}

static void on_connection(uvproc_cluster_server_t *srv, uv_stream_t *client)
{
    conn_t *c = calloc(1, sizeof *c);
    (void)srv;
    c->s = client;
    client->data = c;
    uv_timer_init(client->loop, &c->slow);
    c->slow.data = c;
    uv_read_start(client, on_alloc, on_read);
}

static void on_listening(uvproc_cluster_server_t *s, int status)
{
    if (status != 0) {
        fprintf(stderr, "cluster_worker %d: listen: %s\n", (int)getpid(), uvproc_err_name(status));
        exit(7);
    }
    if (strcmp(mode, "leave") == 0)
        uvproc_cluster_child_disconnect(self);
    (void)s;
}

static void on_message(uvproc_cluster_child_t *w, json_t *msg)
{
    json_t *m = json_pack("{s:O}", "echo", msg);
    uvproc_cluster_child_send(w, m);
    json_decref(m);
}

static void on_disconnect(uvproc_cluster_child_t *w, int asked)
{
    (void)w;
    if (!asked)
        exit(0);
}

static const char *host = "127.0.0.1";

static void listen_on(int p, const char *path)
{
    uvproc_cluster_listen_options_t lo = {.host = host,
                                          .port = p,
                                          .path = path,
                                          .on_listening = on_listening,
                                          .on_connection = on_connection};
    if (uvproc_cluster_listen(self, NULL, &lo) != 0)
        exit(8);
}

/* The raw modes: write lines to the channel fd by hand and wait for the disconnect request. */
static void raw_line(const char *line)
{
    size_t len = strlen(line);
    if (write(3, line, len) != (ssize_t)len || write(3, "\n", 1) != 1)
        exit(9);
}

static int raw_main(int backwards)
{
    char listening[256], buf[65536];
    size_t len = 0;
    snprintf(listening, sizeof listening,
             "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"listening\",\"index\":0,\"data\":null,"
             "\"address\":\"127.0.0.1\",\"port\":%d,\"addressType\":4,\"seq\":%d}",
             port, backwards ? 0 : 7);
    if (backwards) {
        raw_line(listening);
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":1}");
    } else {
        raw_line("not json at all");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"bogus\",\"seq\":0}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\",\"seq\":1}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"seq\":2}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"close\",\"seq\":3}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":4}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":5}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"ack\":999,\"seq\":6}");
        raw_line(listening);
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":8}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"listening\",\"port\":\"x\",\"seq\":9}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"ready\"}");
    }
    for (;;) {
        ssize_t n = read(3, buf + len, sizeof buf - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        if (strstr(buf, "\"disconnect\"") != NULL)
            return 0;
        if (len > sizeof buf / 2)
            len = 0;
    }
}

/* Reads the channel (closing any fd that comes with it) until a line containing `want`;
 * returns that line's start in buf (valid until the next call), or NULL at EOF. */
static char raw_buf[65536];
static size_t raw_len, raw_off;

static char *raw_next_line(void)
{
    for (;;) {
        char *nl = memchr(raw_buf + raw_off, '\n', raw_len - raw_off);
        if (nl != NULL) {
            char *line = raw_buf + raw_off;
            *nl = '\0';
            raw_off = (size_t)(nl - raw_buf) + 1;
            return line;
        }
        memmove(raw_buf, raw_buf + raw_off, raw_len - raw_off);
        raw_len -= raw_off;
        raw_off = 0;
        char control[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = {raw_buf + raw_len, sizeof raw_buf - 1 - raw_len};
        struct msghdr m = {.msg_iov = &iov,
                           .msg_iovlen = 1,
                           .msg_control = control,
                           .msg_controllen = sizeof control};
        ssize_t n = recvmsg(3, &m, 0);
        if (n <= 0)
            return NULL;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
                for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++)
                    close(((int *)CMSG_DATA(c))[i]);
        raw_len += (size_t)n;
    }
}

/* Round-robin worker that takes no connection: the primary must give each to another. */
static int refuse_main(void)
{
    char line[256];
    int seq = 3;
    raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}");
    raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\",\"index\":0,\"data\":null,"
             "\"address\":\"127.0.0.1\",\"port\":0,\"addressType\":4,\"seq\":1}");
    for (char *l; (l = raw_next_line()) != NULL;) {
        char *at;
        if (strstr(l, "\"ack\":1") != NULL && strstr(l, "newconn") == NULL)
            raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"listening\",\"index\":0,"
                     "\"data\":null,\"address\":\"127.0.0.1\",\"port\":0,\"addressType\":4,"
                     "\"seq\":2}");
        else if (strstr(l, "\"disconnect\"") != NULL)
            return 0;
        else if (strstr(l, "newconn") != NULL && (at = strstr(l, "\"seq\":")) != NULL) {
            raw_line("{\"cmd\":\"NODE_HANDLE_ACK\"}");
            snprintf(line, sizeof line,
                     "{\"cmd\":\"NODE_CLUSTER\",\"ack\":%d,\"accepted\":false,\"seq\":%d}",
                     atoi(at + 6), seq++);
            raw_line(line);
        }
    }
    return 0;
}

/* The primary's per-worker limit on listen keys (issue 16, fault 3). */
static int many_keys_main(int n)
{
    char line[512];
    int base = (atoi(getenv("NODE_UNIQUE_ID")) - 1) * n, ok = 0, emfile = 0, other = 0;
    raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}");
    for (int i = 0; i < n; i++) {
        snprintf(line, sizeof line,
                 "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\",\"index\":%d,"
                 "\"data\":null,\"address\":\"127.0.0.1\",\"port\":0,\"addressType\":4,"
                 "\"flags\":0,\"backlog\":false,\"seq\":%d}",
                 base + i, i + 1);
        raw_line(line);
    }
    for (char *l; ok + emfile + other < n && (l = raw_next_line()) != NULL;) {
        if (strstr(l, "\"ack\":") == NULL)
            continue;
        if (strstr(l, "\"errno\":null") != NULL || strstr(l, "\"errno\":0") != NULL)
            ok++;
        else if (strstr(l, "\"errno\":-24") != NULL)
            emfile++;
        else
            other++;
    }
    return ok == 64 && emfile == n - 64 && other == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    uvproc_cluster_child_options_t co = {.on_message = on_message, .on_disconnect = on_disconnect};
    if (argc < 3)
        return 2;
    mode = argv[1];
    port = atoi(argv[2]);
    if (strcmp(mode, "exit") == 0)
        return 3;
    if (strcmp(mode, "many-keys") == 0)
        return many_keys_main(port);
    if (strcmp(mode, "first-only") == 0 && strcmp(getenv("NODE_UNIQUE_ID"), "1") != 0)
        return 3;
    if (strcmp(mode, "udp") == 0) {
        char buf[4096];
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}");
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"queryServer\",\"index\":0,"
                 "\"address\":\"127.0.0.1\",\"port\":0,\"addressType\":\"udp4\",\"seq\":1}");
        ssize_t n = read(3, buf, sizeof buf - 1);
        buf[n > 0 ? n : 0] = '\0';
        /* The refusal: errno is ENOTSUP's libuv code, answering our seq 1. */
        return strstr(buf, "\"ack\":1") != NULL && strstr(buf, "\"errno\":-95") != NULL ? 6 : 1;
    }
    if (strcmp(mode, "online-exit") == 0) {
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}");
        return 5;
    }
    if (strcmp(mode, "refuse-first") == 0 && strcmp(getenv("NODE_UNIQUE_ID"), "1") == 0)
        return refuse_main();
    if (strcmp(mode, "ipv6") == 0)
        host = "::1";
    if (strcmp(mode, "garbage") == 0 || strcmp(mode, "backwards") == 0)
        return raw_main(strcmp(mode, "backwards") == 0);
    if (strcmp(mode, "stubborn") == 0) {
        signal(SIGTERM, SIG_IGN);
        /* The channel is read raw here: the request to leave is answered, never obeyed. */
        char line[512];
        snprintf(line, sizeof line,
                 "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"listening\",\"index\":0,\"data\":null,"
                 "\"address\":\"127.0.0.1\",\"port\":%d,\"addressType\":4,\"seq\":1}",
                 port);
        raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":0}");
        raw_line(line);
        char buf[65536];
        size_t len = 0;
        for (;;) {
            ssize_t n = read(3, buf + len, sizeof buf - 1 - len);
            if (n <= 0)
                pause();
            len += (size_t)(n > 0 ? n : 0);
            buf[len] = '\0';
            if (strstr(buf, "\"disconnect\"") != NULL) {
                raw_line("{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\",\"seq\":2}");
                raw_line(line);
                for (;;)
                    pause();
            }
        }
    }
    if (uvproc_cluster_child_start(loop, &self, &co) != 0)
        return 4;
    if (strcmp(mode, "unix") == 0)
        listen_on(0, argv[2]);
    else if (strcmp(mode, "online") != 0)
        listen_on(port, NULL);
    if (strcmp(mode, "two") == 0)
        listen_on(0, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
