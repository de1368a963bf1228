/* A C child for the IPC tests, run by uvproc_fork or by Node's fork/spawn('ipc'). It adopts the
 * channel with uvproc_channel_from_parent and then obeys messages that are objects with "op":
 *
 *   {"op":"env"}            replies {"op":"env","fd_env":..,"mode_env":..,"cloexec":bool}:
 *                           the variables as seen after adoption, and FD_CLOEXEC of the fd
 *   {"op":"disconnect"}     disconnects; the child then exits when its loop is empty
 *   {"op":"disconnect_wait_stdin"}  disconnects, then exits only at EOF on stdin, so a parent
 *                           can see disconnect strictly before exit
 *   {"op":"burst","n":N}    sends {"i":0}..{"i":N-1} in a tight loop, then {"op":"burst_done"}
 *   {"i":k}                 counted, not echoed; {"op":"count"} replies
 *                           {"op":"count","n":received,"in_order":bool} and resets
 *   {"op":"raw","text":T}   uvproc_channel_send_raw(T); on refusal {"op":"raw_error","err":e}
 *   {"op":"send_server"}    listens on 127.0.0.1:0 and passes that server to the parent with
 *                           {"op":"server","port":P}; closes its copy once the send completed
 *   {"op":"pid"}            replies {"op":"pid","pid":P} (remote tests watch the process)
 *   {"op":"stdout","text":T}  writes T to fd 1 with write(2), then replies {"op":"printed"}
 *                           (over a stdio channel fd 1 is no longer the channel)
 *   anything else           echoed back unchanged
 * A message that comes with a TCP socket gets "hello from C\n" written to it, then the socket
 * is closed and {"op":"greeted","type":T} is sent.
 *
 * With argv[1] "jest" the child is a jest-worker style worker: only on_message is set, and
 * {"op":"end"} finishes it the one clean way (docs/ipc.md, liveness): uvproc_channel_disconnect
 * from the callback, so uv_run returns with the channel closed. With "jest-unlisten" it does
 * what a Node worker does instead (drops on_message; the channel unrefs and uv_run returns),
 * then disconnects and runs the loop once more, as a program must that finished that way.
 *
 * Exit codes: 0 when the loop ends cleanly, 2 when there is no channel (the from_parent error
 * name is printed), 3 when the loop did not close. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uvproc.h"

static uvproc_channel_t *channel;
static int channel_fd = -1;
static long long count_n;
static int count_in_order = 1;
static uv_pipe_t stdin_pipe;
static int stdin_open;
static int jest_mode; /* 1: "jest", 2: "jest-unlisten" */

static void send_obj(json_t *m)
{
    if (uvproc_channel_send_new(channel, m, NULL, NULL) < 0)
        fprintf(stderr, "ipc_child: send failed\n");
}

static void env_reply(void)
{
    const char *fd_env = getenv("NODE_CHANNEL_FD");
    const char *mode_env = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
    int flags = channel_fd >= 0 ? fcntl(channel_fd, F_GETFD) : -1;
    send_obj(json_pack("{s:s,s:o,s:o,s:b}", "op", "env", "fd_env",
                       fd_env ? json_string(fd_env) : json_null(), "mode_env",
                       mode_env ? json_string(mode_env) : json_null(), "cloexec",
                       flags >= 0 && (flags & FD_CLOEXEC)));
}

static void stdin_alloc(uv_handle_t *h, size_t s, uv_buf_t *b)
{
    static char buf[256];
    (void)h;
    (void)s;
    *b = uv_buf_init(buf, sizeof buf);
}

static void stdin_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    if (n < 0) {
        uv_close((uv_handle_t *)s, NULL);
        stdin_open = 0;
    }
}

static void wait_stdin(void)
{
    uv_loop_t *loop = uvproc_channel_loop(channel);
    if (uv_pipe_init(loop, &stdin_pipe, 0) != 0 || uv_pipe_open(&stdin_pipe, 0) != 0 ||
        uv_read_start((uv_stream_t *)&stdin_pipe, stdin_alloc, stdin_read) != 0) {
        fprintf(stderr, "ipc_child: cannot read stdin\n");
        exit(4);
    }
    stdin_open = 1;
}

typedef struct {
    uv_write_t req;
    uv_stream_t *s;
    char *type;
} greet_t;

static void free_cb(uv_handle_t *h)
{
    free(h);
}

static void greeted(uv_write_t *req, int status)
{
    greet_t *g = (greet_t *)req;
    if (channel != NULL && uvproc_channel_connected(channel))
        send_obj(json_pack("{s:s,s:s,s:i}", "op", "greeted", "type", g->type, "status", status));
    uv_close((uv_handle_t *)g->s, free_cb);
    free(g->type);
    free(g);
}

static void greet(uvproc_handle_t *h)
{
    static char hello[] = "hello from C\n";
    greet_t *g = calloc(1, sizeof *g);
    uv_buf_t b = uv_buf_init(hello, sizeof hello - 1);
    g->s = h->stream;
    g->type = strdup(h->type);
    if (uv_write(&g->req, h->stream, &b, 1, greeted) != 0)
        greeted(&g->req, -1);
}

static void server_sent(uvproc_channel_t *ch, int status, void *data)
{
    (void)ch;
    if (status != 0)
        fprintf(stderr, "ipc_child: server send: %s\n", uvproc_strerror(status));
    uv_close(data, free_cb);
}

static void send_server(void)
{
    uv_loop_t *loop = uvproc_channel_loop(channel);
    uv_tcp_t *server = malloc(sizeof *server);
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int len = sizeof name;
    json_t *m;

    uv_tcp_init(loop, server);
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)server, 16, NULL) != 0 ||
        uv_tcp_getsockname(server, (struct sockaddr *)&name, &len) != 0) {
        fprintf(stderr, "ipc_child: cannot listen\n");
        exit(4);
    }
    m = json_pack("{s:s,s:i}", "op", "server", "port",
                  ntohs(((struct sockaddr_in *)&name)->sin_port));
    if (uvproc_channel_send_handle(channel, m, (uv_stream_t *)server, NULL, server_sent, server) <
        0) {
        fprintf(stderr, "ipc_child: send_handle failed\n");
        exit(4);
    }
    json_decref(m);
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    json_t *i = json_object_get(msg, "i");

    if (h != NULL && h->stream->type == UV_TCP && strcmp(h->type, "net.Server") != 0) {
        greet(h);
        return;
    }
    if (h != NULL) {
        /* Nothing to do with other handles here. */
        uvproc_handle_close(h->stream);
    }
    if (json_is_integer(i) && json_object_size(msg) == 1) {
        count_in_order &= json_integer_value(i) == count_n;
        count_n++;
        return;
    }
    if (op == NULL) {
        uvproc_channel_send(ch, msg, NULL, NULL);
    } else if (strcmp(op, "end") == 0 && jest_mode == 1) {
        uvproc_channel_disconnect(ch);
    } else if (strcmp(op, "end") == 0 && jest_mode == 2) {
        uvproc_channel_set_on_message(ch, NULL);
    } else if (strcmp(op, "env") == 0) {
        env_reply();
    } else if (strcmp(op, "disconnect") == 0) {
        uvproc_channel_disconnect(ch);
    } else if (strcmp(op, "disconnect_wait_stdin") == 0) {
        wait_stdin();
        uvproc_channel_disconnect(ch);
    } else if (strcmp(op, "burst") == 0) {
        json_int_t n = json_integer_value(json_object_get(msg, "n"));
        for (json_int_t k = 0; k < n; k++)
            send_obj(json_pack("{s:I}", "i", k));
        send_obj(json_pack("{s:s,s:I}", "op", "burst_done", "n", n));
    } else if (strcmp(op, "count") == 0) {
        send_obj(json_pack("{s:s,s:I,s:b}", "op", "count", "n", (json_int_t)count_n, "in_order",
                           count_in_order));
        count_n = 0;
        count_in_order = 1;
    } else if (strcmp(op, "raw") == 0) {
        const char *text = json_string_value(json_object_get(msg, "text"));
        size_t len = json_string_length(json_object_get(msg, "text"));
        int r = uvproc_channel_send_raw(ch, text, len, NULL, NULL);
        if (r < 0)
            send_obj(json_pack("{s:s,s:i}", "op", "raw_error", "err", r));
    } else if (strcmp(op, "send_server") == 0) {
        send_server();
    } else if (strcmp(op, "pid") == 0) {
        send_obj(json_pack("{s:s,s:I}", "op", "pid", "pid", (json_int_t)getpid()));
    } else if (strcmp(op, "stdout") == 0) {
        const char *text = json_string_value(json_object_get(msg, "text"));
        if (text != NULL && write(1, text, strlen(text)) < 0)
            fprintf(stderr, "ipc_child: write to fd 1 failed\n");
        send_obj(json_pack("{s:s}", "op", "printed"));
    } else {
        uvproc_channel_send(ch, msg, NULL, NULL);
    }
}

static void on_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    fprintf(stderr, "ipc_child: channel error %s (%.*s)\n", uvproc_err_name(err),
            line ? (int)(len > 80 ? 80 : len) : 0, line ? line : "");
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    channel = NULL;
}

int main(int argc, char **argv)
{
    uvproc_channel_options_t o = {
        .on_message = on_message, .on_error = on_error, .on_disconnect = on_disconnect};
    uv_loop_t loop;
    const char *fd_env = getenv("NODE_CHANNEL_FD");
    int err;

    if (argc > 1 && strcmp(argv[1], "jest") == 0)
        jest_mode = 1;
    else if (argc > 1 && strcmp(argv[1], "jest-unlisten") == 0)
        jest_mode = 2;
    if (jest_mode != 0)
        o.on_disconnect = NULL; /* a jest worker listens to 'message' only */
    if (fd_env != NULL)
        channel_fd = atoi(fd_env);
    uv_loop_init(&loop);
    err = uvproc_channel_from_parent(&loop, &channel, &o);
    if (err != 0) {
        printf("%s\n", uvproc_err_name(err));
        uv_loop_close(&loop);
        return 2;
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    if (jest_mode == 2 && uvproc_channel_disconnect(channel) == 0)
        uv_run(&loop, UV_RUN_DEFAULT); /* closing a handle takes a loop turn */
    (void)stdin_open;
    return uv_loop_close(&loop) == 0 ? 0 : 3;
}
