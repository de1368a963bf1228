/* Wire compatibility with unmodified Node, both ways:
 * - a C parent (uvproc_fork) with a Node child (test/node/echo_child.js);
 * - a Node parent (test/node/parent_fork.js) with the C child test/helpers/ipc_child, through
 *   child_process.fork and through spawn with an 'ipc' stdio slot.
 * Exits 77 (meson's "skipped") when node cannot be found. */
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

#include "check.h"
#include "find_node.h"
#include "uvproc.h"

#ifndef IPC_CHILD
#error "IPC_CHILD must name the ipc_child helper"
#endif
#ifndef NODE_SCRIPTS
#error "NODE_SCRIPTS must name test/node"
#endif


static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* ---------------------------------------------------------------------------------------- */
/* Node parent, C child                                                                     */

static int64_t script_exit = -99;
static int script_closed;

static void script_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)sig;
    script_exit = code;
    script_closed++;
}

static void run_parent_script(const char *mode)
{
    const char *args[] = {NODE_SCRIPTS "/parent_fork.js", mode, IPC_CHILD, NULL};
    uvproc_spawn_options_t o = {.on_close = script_close};
    uv_loop_t loop;
    double t0 = now_ms();

    o.stdio[0].type = UVPROC_STDIO_IGNORE;
    o.stdio[1].type = UVPROC_STDIO_INHERIT;
    o.stdio[2].type = UVPROC_STDIO_INHERIT;
    script_exit = -99;
    script_closed = 0;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, node_path, args, &o));
    CHECK_LOOP_CLOSE(&loop);
    fprintf(stderr, "# node parent_fork.js %s: %.0f ms\n", mode, now_ms() - t0);
    CHECK_EQ(script_closed, 1);
    CHECK_EQ(script_exit, 0);
}

TEST(node_fork_drives_c_child)
{
    run_parent_script("fork");
}

TEST(node_spawn_ipc_drives_c_child)
{
    run_parent_script("spawn");
}

/* ---------------------------------------------------------------------------------------- */
/* C parent, Node child                                                                     */

static const char *const echo_values[] = {
    "\"hello\"",
    "42",
    "-1.5",
    "0",
    "1e300",
    "true",
    "false",
    "null",
    "\"\"",
    "[]",
    "{}",
    "[1,\"two\",[3,[4]],{\"five\":5}]",
    "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}},\"e\":true}",
    "\"line\\nbreak \\r \xe2\x80\xa8 \xe2\x80\xa9 \xc3\xa9 \xf0\x9f\x98\x80 \\u0000 end\"",
    "{\"\xe2\x80\xa8key\xf0\x9f\x98\x80\":\"\xf0\x9f\x98\x80\"}",
    "9007199254740991",
    "-9007199254740991",
};
#define N_ECHO (sizeof echo_values / sizeof echo_values[0])

typedef enum {
    S_ECHO,   /* the values above, the 10 MB string, numbers past int64, a lone surrogate */
    S_COUNT,  /* 100k to Node, then its count */
    S_BURST,  /* 100k from Node */
    S_SERVER, /* we pass a listening server; Node serves on it */
    S_SOCKET, /* Node passes a socket; we write to it */
    S_DONE,
} stage_t;

static struct {
    uvproc_process_t *p;
    stage_t stage;
    size_t echoed;
    char *big;
    size_t big_len;
    int64_t counted;
    int in_order;
    int port;
    uv_tcp_t *server;
    int greeted, client_got;
    int disconnects, errors, closed;
    int64_t exit_code;
    double t;
} st;

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(v != NULL);
    return v;
}

static void send_new(json_t *m)
{
    CHECK(uvproc_channel_send_new(uvproc_process_channel(st.p), m, NULL, NULL) >= 0);
}

static const char *op_of(json_t *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    return op != NULL ? op : "";
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

static void server_sent(uvproc_channel_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    /* Acknowledged by Node: our copy can go. */
    CHECK_EQ(status, 0);
    uv_close((uv_handle_t *)st.server, close_free);
}

static void pass_server(void)
{
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int len = sizeof name;
    json_t *m;

    st.server = malloc(sizeof *st.server);
    CHECK_OK(uv_tcp_init(uvproc_loop(st.p), st.server));
    CHECK_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
    CHECK_OK(uv_tcp_bind(st.server, (const struct sockaddr *)&addr, 0));
    CHECK_OK(uv_listen((uv_stream_t *)st.server, 16, NULL));
    CHECK_OK(uv_tcp_getsockname(st.server, (struct sockaddr *)&name, &len));
    st.port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    m = json_pack("{s:s}", "op", "take");
    CHECK_EQ(uvproc_channel_send_handle(uvproc_process_channel(st.p), m, (uv_stream_t *)st.server,
                                        NULL, server_sent, NULL),
             1);
    json_decref(m);
}

/* Node serves the server we passed: connect and read its greeting (Node is another
 * process, so a blocking read here only pauses our loop, with a timeout against hangs). */
static void read_node_greeting(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)st.port)};
    struct timeval tv = {20, 0};
    char buf[64] = "";
    size_t len = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    CHECK_OK(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CHECK_OK(connect(fd, (struct sockaddr *)&addr, sizeof addr));
    while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)n;
    close(fd);
    CHECK_STR(buf, "hello from node\n");
}

static uv_write_t greet_req;
static char greeting[] = "hello from C\n";
static void greeted(uv_write_t *req, int status)
{
    CHECK_EQ(status, 0);
    st.greeted = 1;
    uv_close((uv_handle_t *)req->handle, close_free);
}

static void on_echo(json_t *msg)
{
    if (st.echoed < N_ECHO) {
        json_t *want = parse(echo_values[st.echoed]);
        if (!json_equal(want, msg)) {
            char *got = json_dumps(msg, JSON_ENCODE_ANY);
            fprintf(stderr, "echo %zu: sent %s, got %s\n", st.echoed, echo_values[st.echoed], got);
            CHECK(0);
        }
        json_decref(want);
    } else if (st.echoed == N_ECHO) {
        CHECK_EQ(json_string_length(msg), st.big_len);
        CHECK(memcmp(json_string_value(msg), st.big, st.big_len) == 0);
        fprintf(stderr, "# 10 MB string, C -> Node -> C: %.0f ms\n", now_ms() - st.t);
    } else if (st.echoed == N_ECHO + 1 || st.echoed == N_ECHO + 2) {
        /* INT64_MAX and 2^64: JavaScript has doubles only, so they come back as reals. */
        double want = st.echoed == N_ECHO + 1 ? 9223372036854775808.0 : 18446744073709551616.0;
        CHECK(json_is_real(msg));
        CHECK(json_real_value(msg) == want);
    } else {
        /* The lone surrogate reached Node intact (and did not kill it). */
        json_t *want = parse("{\"op\":\"codes\",\"codes\":[55296,120]}");
        CHECK(json_equal(want, msg));
        json_decref(want);
        st.stage = S_COUNT;
        st.t = now_ms();
        for (int i = 0; i < 100000; i++)
            send_new(json_pack("{s:i}", "i", i));
        send_new(json_pack("{s:s}", "op", "count"));
    }
    st.echoed++;
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    json_t *i = json_object_get(msg, "i");
    const char *op = op_of(msg);

    if (json_is_integer(i) && json_object_size(msg) == 1) {
        CHECK_EQ(st.stage, S_BURST);
        st.in_order &= json_integer_value(i) == st.counted;
        st.counted++;
        return;
    }
    switch (st.stage) {
    case S_ECHO:
        on_echo(msg);
        break;
    case S_COUNT: {
        json_t *want = parse("{\"op\":\"count\",\"n\":100000,\"in_order\":true}");
        CHECK(json_equal(want, msg));
        json_decref(want);
        fprintf(stderr, "# 100000 messages C -> Node: %.0f ms\n", now_ms() - st.t);
        st.stage = S_BURST;
        st.t = now_ms();
        send_new(json_pack("{s:s,s:i}", "op", "burst", "n", 100000));
        break;
    }
    case S_BURST:
        CHECK_STR(op, "burst_done");
        CHECK_EQ(st.counted, 100000);
        CHECK(st.in_order);
        fprintf(stderr, "# 100000 messages Node -> C: %.0f ms\n", now_ms() - st.t);
        st.stage = S_SERVER;
        pass_server();
        break;
    case S_SERVER:
        CHECK_STR(op, "server_ready");
        CHECK_STR(json_string_value(json_object_get(msg, "type")), "Server");
        read_node_greeting();
        st.stage = S_SOCKET;
        send_new(json_pack("{s:s}", "op", "give_socket"));
        break;
    case S_SOCKET:
        if (strcmp(op, "socket") == 0) {
            uv_buf_t b = uv_buf_init(greeting, sizeof greeting - 1);
            CHECK(h != NULL);
            CHECK_STR(h->type, "net.Socket");
            CHECK_EQ(h->stream->type, UV_TCP);
            CHECK_OK(uv_write(&greet_req, h->stream, &b, 1, greeted));
            return;
        }
        CHECK_STR(op, "client_got");
        CHECK_STR(json_string_value(json_object_get(msg, "data")), "hello from C\n");
        st.client_got = 1;
        st.stage = S_DONE;
        /* Parent-initiated: Node's child sees EOF, exits, and we still get close. */
        CHECK_OK(uvproc_channel_disconnect(ch));
        break;
    default:
        CHECK(0);
    }
    CHECK(h == NULL);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    st.disconnects++;
}

static void on_channel_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    fprintf(stderr, "channel error %s: %.*s\n", uvproc_err_name(err), (int)len, line ? line : "");
    st.errors++;
}

static void on_exit_(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)sig;
    st.exit_code = code;
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)code;
    (void)sig;
    st.closed++;
}

TEST(c_parent_node_child)
{
    static const char *const exec_args[] = {NULL};
    uvproc_fork_options_t o = {0};
    uv_loop_t loop;
    uvproc_channel_t *ch;

    memset(&st, 0, sizeof st);
    st.in_order = 1;
    st.exit_code = -99;
    o.exec_path = node_path;
    o.exec_args = exec_args;
    o.spawn.on_exit = on_exit_;
    o.spawn.on_close = on_close;
    o.channel.on_message = on_message;
    o.channel.on_disconnect = on_disconnect;
    o.channel.on_error = on_channel_error;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &st.p, NODE_SCRIPTS "/echo_child.js", NULL, &o));
    ch = uvproc_process_channel(st.p);

    for (size_t i = 0; i < N_ECHO; i++)
        send_new(parse(echo_values[i]));
    st.big_len = 10u << 20;
    st.big = malloc(st.big_len + 1);
    for (size_t i = 0; i < st.big_len; i++)
        st.big[i] = (char)('a' + i % 26);
    memcpy(st.big + 1000, "\xe2\x80\xa8\xf0\x9f\x98\x80\"\n", 9);
    st.big[st.big_len] = '\0';
    st.t = now_ms();
    send_new(json_stringn(st.big, st.big_len));
    send_new(json_integer(INT64_MAX));
    CHECK_EQ(uvproc_channel_send_raw(ch, "18446744073709551616", 20, NULL, NULL), 0);
    {
        static const char codes[] = "{\"op\":\"codes\",\"s\":\"\\ud800x\"}";
        CHECK_EQ(uvproc_channel_send_raw(ch, codes, sizeof codes - 1, NULL, NULL), 0);
    }

    CHECK_LOOP_CLOSE(&loop);
    free(st.big);
    CHECK_EQ(st.stage, S_DONE);
    CHECK(st.greeted);
    CHECK(st.client_got);
    CHECK_EQ(st.errors, 0);
    CHECK_EQ(st.disconnects, 1);
    CHECK_EQ(st.exit_code, 0);
    CHECK_EQ(st.closed, 1);
}

int main(int argc, char **argv)
{
    if (!find_node()) {
        fprintf(stderr, "node not found: skipping\n");
        return 77;
    }
    RUN(c_parent_node_child);
    RUN(node_fork_drives_c_child);
    RUN(node_spawn_ipc_drives_c_child);
    return check_done();
}
