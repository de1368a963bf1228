/* isprime-server: an HTTP server whose /isprime?number=N forks a child to do the arithmetic,
 * so the loop stays free: /testrequest answers at once even while a large prime is being
 * computed. HTTP is parsed by http_parser (Debian's libhttp-parser); uvproc itself does not
 * depend on it. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <uvproc.h>

typedef struct conn_s conn_t;

typedef struct job_s {
    conn_t *conn; /* NULL once the client went away */
    uvproc_process_t *process;
    long long number;
    uint64_t start_ns;
    int answered;
    struct job_s *prev, *next; /* running jobs, to stop them on shutdown */
} job_t;

struct conn_s {
    uv_tcp_t tcp;
    http_parser parser;
    char url[2048];
    size_t url_len;
    char *in;        /* received bytes not yet parsed */
    size_t in_len, in_off;
    job_t *job;      /* the request being answered by a child */
    int in_parser;   /* inside http_parser_execute: do not re-enter it */
    int ending;      /* the last response is being written */
    int closing;
    conn_t *prev, *next;
};

static conn_t *conns;
static job_t *jobs;

#define LIST_ADD(head, x)                                                                    \
    do {                                                                                     \
        (x)->prev = NULL;                                                                    \
        (x)->next = (head);                                                                  \
        if ((head) != NULL)                                                                  \
            (head)->prev = (x);                                                              \
        (head) = (x);                                                                        \
    } while (0)
#define LIST_REMOVE(head, x)                                                                 \
    do {                                                                                     \
        if ((x)->prev != NULL)                                                               \
            (x)->prev->next = (x)->next;                                                     \
        else                                                                                 \
            (head) = (x)->next;                                                              \
        if ((x)->next != NULL)                                                               \
            (x)->next->prev = (x)->prev;                                                     \
    } while (0)

static const char *child_program;
static const char *child_interpreter; /* "node" with --node-child */
static http_parser_settings parser_settings;

static void conn_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    LIST_REMOVE(conns, c);
    free(c->in);
    free(c);
}

static void conn_close(conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (c->job != NULL)
        c->job->conn = NULL;
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void write_done(uv_write_t *req, int status)
{
    (void)status;
    free(req);
}

static void conn_parse(conn_t *c);

static void shutdown_done(uv_shutdown_t *req, int status)
{
    (void)status;
    conn_close(req->data);
    free(req);
}

/* Sends one response; with keep-alive, parsing resumes with any request already received. */
static void respond(conn_t *c, int status, const char *reason, const char *body)
{
    int keep_alive = http_should_keep_alive(&c->parser);
    size_t body_len = strlen(body);
    uv_write_t *req = malloc(sizeof *req + 256 + body_len);
    char *text = (char *)(req + 1);
    uv_buf_t buf;
    if (req == NULL) {
        conn_close(c);
        return;
    }
    int n = snprintf(text, 256,
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: %s\r\n\r\n",
                     status, reason, body_len, keep_alive ? "keep-alive" : "close");
    memcpy(text + n, body, body_len);
    buf = uv_buf_init(text, (unsigned int)(n + (int)body_len));
    if (uv_write(req, (uv_stream_t *)&c->tcp, &buf, 1, write_done) != 0) {
        free(req);
        conn_close(c);
        return;
    }
    if (!keep_alive) {
        /* Close after the response has left: uv_close would cancel the queued write. */
        uv_shutdown_t *sd = malloc(sizeof *sd);
        c->ending = 1;
        if (sd == NULL) {
            conn_close(c);
            return;
        }
        sd->data = c;
        if (uv_shutdown(sd, (uv_stream_t *)&c->tcp, shutdown_done) != 0) {
            free(sd);
            conn_close(c);
        }
        return;
    }
    http_parser_pause(&c->parser, 0);
    if (!c->in_parser)
        conn_parse(c);
}

static void on_child_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    job_t *job = uvproc_channel_data(ch);
    json_t *is_prime = json_object_get(msg, "isPrime");
    char body[160];
    (void)handle;
    job->answered = 1;
    uvproc_channel_disconnect(ch);
    if (job->conn == NULL)
        return;
    job->conn->job = NULL;
    if (!json_is_boolean(is_prime)) {
        respond(job->conn, 500, "Internal Server Error", "{\"error\":\"bad answer from child\"}");
        return;
    }
    snprintf(body, sizeof body, "{\"number\":%lld,\"isPrime\":%s,\"time\":%.3f}", job->number,
             json_is_true(is_prime) ? "true" : "false",
             (double)(uv_hrtime() - job->start_ns) / 1e6);
    respond(job->conn, 200, "OK", body);
}

static void on_child_close(uvproc_process_t *p, int64_t code, int signal)
{
    job_t *job = uvproc_process_data(p);
    if (!job->answered && job->conn != NULL) {
        job->conn->job = NULL;
        respond(job->conn, 500, "Internal Server Error", "{\"error\":\"child failed\"}");
    }
    LIST_REMOVE(jobs, job);
    free(job);
}

static void start_job(conn_t *c, long long number)
{
    job_t *job = calloc(1, sizeof *job);
    uvproc_process_t *p;
    uvproc_fork_options_t o = {
        .spawn = {.data = job, .on_close = on_child_close,
                  .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_INHERIT},
                            {.type = UVPROC_STDIO_INHERIT}}},
        .exec_path = child_interpreter,
        .channel = {.data = job, .on_message = on_child_message},
    };
    if (job == NULL) {
        respond(c, 503, "Service Unavailable", "{\"error\":\"out of memory\"}");
        return;
    }
    job->conn = c;
    job->number = number;
    job->start_ns = uv_hrtime();
    if (uvproc_fork(c->tcp.loop, &p, child_program, NULL, &o) != 0) {
        free(job);
        respond(c, 503, "Service Unavailable", "{\"error\":\"cannot fork\"}");
        return;
    }
    job->process = p;
    LIST_ADD(jobs, job);
    c->job = job;
    uvproc_channel_send_new(uvproc_process_channel(p), json_pack("{s:I}", "number", number), NULL,
                            NULL);
}

/* Query parameter `number`, or -1. */
static long long query_number(const char *url, const struct http_parser_url *u)
{
    const char *q = url + u->field_data[UF_QUERY].off;
    const char *end = q + u->field_data[UF_QUERY].len;
    while (q < end) {
        if (strncmp(q, "number=", 7) == 0) {
            char *stop;
            long long n;
            errno = 0;
            n = strtoll(q + 7, &stop, 10);
            return stop > q + 7 && (stop == end || *stop == '&') && n >= 0 && errno == 0 ? n : -1;
        }
        q = memchr(q, '&', (size_t)(end - q));
        if (q == NULL)
            break;
        q++;
    }
    return -1;
}

static int on_url(http_parser *parser, const char *at, size_t len)
{
    conn_t *c = parser->data;
    if (c->url_len + len >= sizeof c->url)
        return 1;
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int on_message_begin(http_parser *parser)
{
    ((conn_t *)parser->data)->url_len = 0;
    return 0;
}

static int on_message_complete(http_parser *parser)
{
    conn_t *c = parser->data;
    struct http_parser_url u;
    c->url[c->url_len] = '\0';
    /* One request at a time per connection: the parser waits until this one is answered. */
    http_parser_pause(parser, 1);
    http_parser_url_init(&u);
    if (parser->method != HTTP_GET || http_parser_parse_url(c->url, c->url_len, 0, &u) != 0) {
        respond(c, 400, "Bad Request", "{\"error\":\"GET /isprime?number=N or /testrequest\"}");
        return 0;
    }
    const char *path = c->url + u.field_data[UF_PATH].off;
    size_t path_len = u.field_data[UF_PATH].len;
    if (path_len == 12 && memcmp(path, "/testrequest", 12) == 0) {
        respond(c, 200, "OK", "{\"ok\":true}");
    } else if (path_len == 8 && memcmp(path, "/isprime", 8) == 0) {
        long long n = (u.field_set & (1 << UF_QUERY)) ? query_number(c->url, &u) : -1;
        if (n < 0)
            respond(c, 400, "Bad Request", "{\"error\":\"number must be an integer >= 0\"}");
        else
            start_job(c, n);
    } else {
        respond(c, 404, "Not Found", "{\"error\":\"not found\"}");
    }
    return 0;
}

static void conn_parse(conn_t *c)
{
    while (!c->closing && !c->ending && c->job == NULL && c->in_off < c->in_len &&
           HTTP_PARSER_ERRNO(&c->parser) == HPE_OK) {
        c->in_parser = 1;
        size_t n = http_parser_execute(&c->parser, &parser_settings, c->in + c->in_off,
                                       c->in_len - c->in_off);
        c->in_parser = 0;
        c->in_off += n;
        if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED)
            break;
        if (HTTP_PARSER_ERRNO(&c->parser) != HPE_OK) {
            conn_close(c);
            return;
        }
    }
    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    conn_t *c = h->data;
    char *grown = realloc(c->in, c->in_len + 65536);
    (void)suggested;
    if (grown == NULL) {
        *buf = uv_buf_init(NULL, 0);
        return;
    }
    c->in = grown;
    *buf = uv_buf_init(c->in + c->in_len, 65536);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = s->data;
    (void)buf;
    if (nread < 0) {
        conn_close(c);
        return;
    }
    c->in_len += (size_t)nread;
    if (c->in_len > (1 << 20)) {
        conn_close(c); /* a client that sends without reading answers */
        return;
    }
    if (HTTP_PARSER_ERRNO(&c->parser) == HPE_PAUSED && c->job == NULL)
        http_parser_pause(&c->parser, 0);
    conn_parse(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    conn_t *c;
    if (status != 0 || (c = calloc(1, sizeof *c)) == NULL)
        return;
    uv_tcp_init(server->loop, &c->tcp);
    c->tcp.data = c;
    LIST_ADD(conns, c);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0 ||
        uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) != 0)
        conn_close(c);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    (void)signum;
    fprintf(stderr, "isprime-server: stopping\n");
    uv_stop(sig->loop);
}


int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    const char *host = "127.0.0.1";
    int port = 8000;
    char exe[4096];
    size_t exe_size = sizeof exe;
    static char sibling[4200];
    uv_tcp_t server;
    uv_signal_t sigint, sigterm;
    struct sockaddr_in addr;
    int err;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--host ADDR] [--port N] [--node-child SCRIPT]\n"
                   "  GET /isprime?number=N  forks a child that computes it; answers\n"
                   "                         {\"number\":N,\"isPrime\":bool,\"time\":ms}\n"
                   "  GET /testrequest       answers at once, even while primes compute\n"
                   "Defaults: 127.0.0.1:8000, the C child isprime_child next to this program.\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
            host = argv[++i];
        } else if (strcmp(argv[i], "--node-child") == 0 && i + 1 < argc) {
            child_program = argv[++i];
            child_interpreter = "node";
        } else {
            fprintf(stderr, "unknown argument %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (child_program == NULL) {
        if (uv_exepath(exe, &exe_size) != 0)
            return 1;
        char *slash = strrchr(exe, '/');
        if (slash != NULL)
            *slash = '\0';
        snprintf(sibling, sizeof sibling, "%s/isprime_child", exe);
        child_program = sibling;
    }
    parser_settings.on_message_begin = on_message_begin;
    parser_settings.on_url = on_url;
    parser_settings.on_message_complete = on_message_complete;

    uv_tcp_init(loop, &server);
    if ((err = uv_ip4_addr(host, port, &addr)) != 0 ||
        (err = uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0)) != 0 ||
        (err = uv_listen((uv_stream_t *)&server, 128, on_connection)) != 0) {
        fprintf(stderr, "cannot listen on %s:%d: %s\n", host, port, uvproc_strerror(err));
        return 1;
    }
    /* Port 0 picks a free port: say which, so scripts and tests can connect. */
    struct sockaddr_in bound;
    int bound_len = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &bound_len);
    printf("listening on http://%s:%d/\n", host, ntohs(bound.sin_port));
    fflush(stdout);

    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_run(loop, UV_RUN_DEFAULT);
    /* Stopped by a signal: end the children still computing, close every connection and let
     * the loop finish, so every child is reaped before we exit. */
    for (job_t *j = jobs; j != NULL; j = j->next)
        uvproc_kill(j->process, SIGTERM);
    for (conn_t *c = conns, *next; c != NULL; c = next) {
        next = c->next;
        conn_close(c);
    }
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
