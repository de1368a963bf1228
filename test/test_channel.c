/* The IPC channel over socketpairs in one process: both ends as channels (uvproc_channel_open),
 * or one end raw, read and written with recv/send so the wire itself is checked. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include "check.h"
#include "send_fd.h"
#include "uvproc.h"

/* ---------------------------------------------------------------------------------------- */
/* a peer: records what one channel end saw                                                  */

typedef struct peer_s peer_t;
struct peer_s {
    uvproc_channel_t *ch;
    json_t *msgs;     /* user messages, in order */
    json_t *internal; /* internal messages, in order */
    int errs[32];
    char errline[32][64];
    size_t errlen[32];
    int nerr;
    int disconnects;
    int events[64]; /* 'm' message, 'i' internal, 'e' error, 'd' disconnect, 's' send cb */
    int nev;
    uv_stream_t *handles[8]; /* during the hook only: closed after it unless it took them */
    char types[8][32];
    int kinds[8]; /* the uv_handle_type of each */
    int nhandles;
    void (*hook)(peer_t *p, json_t *msg, uvproc_handle_t *h);
    int64_t counted; /* {"i":k} messages counted instead of stored */
    int in_order;
};

static void ev(peer_t *p, int e)
{
    if (p->nev < 64)
        p->events[p->nev++] = e;
}

static void keep_handle(peer_t *p, uvproc_handle_t *h)
{
    if (h == NULL)
        return;
    CHECK(p->nhandles < 8);
    p->handles[p->nhandles] = h->stream;
    p->kinds[p->nhandles] = h->stream->type;
    snprintf(p->types[p->nhandles], sizeof p->types[0], "%s", h->type);
    p->nhandles++;
}

/* Received handles are the receiver's to close (and free). */
static void release_handle(peer_t *p, uvproc_handle_t *h)
{
    if (h != NULL && p->handles[p->nhandles - 1] != NULL) {
        uvproc_handle_close(h->stream);
        p->handles[p->nhandles - 1] = NULL;
    }
}

static void p_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    peer_t *p = uvproc_channel_data(ch);
    json_t *i = json_object_get(msg, "i");
    if (json_is_integer(i) && json_object_size(msg) == 1) {
        p->in_order &= json_integer_value(i) == p->counted;
        p->counted++;
        return;
    }
    ev(p, 'm');
    json_array_append(p->msgs, msg);
    keep_handle(p, h);
    if (p->hook != NULL)
        p->hook(p, msg, h);
    release_handle(p, h);
}

static void p_internal(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    peer_t *p = uvproc_channel_data(ch);
    ev(p, 'i');
    json_array_append(p->internal, msg);
    keep_handle(p, h);
    if (p->hook != NULL)
        p->hook(p, msg, h);
    release_handle(p, h);
}

static void p_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    peer_t *p = uvproc_channel_data(ch);
    ev(p, 'e');
    CHECK(p->nerr < 32);
    p->errs[p->nerr] = err;
    p->errlen[p->nerr] = len;
    snprintf(p->errline[p->nerr], sizeof p->errline[0], "%.*s",
             line ? (int)(len > 63 ? 63 : len) : 0, line ? line : "");
    p->nerr++;
}

static void p_disconnect(uvproc_channel_t *ch)
{
    peer_t *p = uvproc_channel_data(ch);
    ev(p, 'd');
    p->disconnects++;
    /* Disconnected: nothing can be sent any more, a second disconnect is refused. */
    CHECK(!uvproc_channel_connected(ch));
    CHECK_EQ(uvproc_channel_disconnect(ch), UV_EPIPE);
    CHECK_EQ(uvproc_channel_send_new(ch, json_true(), NULL, NULL), UV_EPIPE);
}

static void peer_init(peer_t *p)
{
    memset(p, 0, sizeof *p);
    p->msgs = json_array();
    p->internal = json_array();
    p->in_order = 1;
}

static void peer_free(peer_t *p)
{
    json_decref(p->msgs);
    json_decref(p->internal);
}

static uvproc_channel_options_t peer_options(peer_t *p)
{
    return (uvproc_channel_options_t){.data = p,
                                      .on_message = p_message,
                                      .on_internal = p_internal,
                                      .on_error = p_error,
                                      .on_disconnect = p_disconnect};
}

/* Two channels over one socketpair. */
static void pair_open(uv_loop_t *loop, peer_t *a, peer_t *b)
{
    int sv[2];
    uvproc_channel_options_t oa = peer_options(a), ob = peer_options(b);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(uvproc_channel_open(loop, &a->ch, sv[0], &oa));
    CHECK_OK(uvproc_channel_open(loop, &b->ch, sv[1], &ob));
}

/* A channel on one end; the other end (returned) stays raw and blocking. */
static int half_open(uv_loop_t *loop, peer_t *a, const uvproc_channel_options_t *o)
{
    int sv[2];
    uvproc_channel_options_t oa = o != NULL ? *o : peer_options(a);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(uvproc_channel_open(loop, &a->ch, sv[0], &oa));
    return sv[1];
}

static void raw_write(int fd, const char *s, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, s, len);
        CHECK(n > 0);
        s += n;
        len -= (size_t)n;
    }
}
#define RAW(fd, lit) raw_write((fd), (lit), sizeof(lit) - 1)

static void raw_send_fd(int fd, const char *s, int passfd)
{
    CHECK_EQ(send_with_fd(fd, s, strlen(s), passfd, 0), (ssize_t)strlen(s));
}

/* Runs the loop one non-blocking turn at a time and reads `fd` until `lines` newlines have
 * arrived (or, with lines == 0, for `turns` turns). Received fds are stored in fds[]. */
static size_t raw_read(uv_loop_t *loop, int fd, char *buf, size_t cap, int lines, int turns,
                       int *fds, int *nfds)
{
    size_t len = 0;
    int seen = 0;
    for (int t = 0; t < 100000 && (lines == 0 ? t < turns : seen < lines); t++) {
        union {
            char b[CMSG_SPACE(4 * sizeof(int))];
            struct cmsghdr align;
        } u;
        struct iovec iov = {buf + len, cap - len};
        struct msghdr m = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.b, .msg_controllen = sizeof u.b};
        ssize_t n;
        uv_run(loop, UV_RUN_NOWAIT);
        n = recvmsg(fd, &m, MSG_DONTWAIT);
        if (n < 0) {
            CHECK(errno == EAGAIN);
            continue;
        }
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
            int got;
            CHECK(c->cmsg_type == SCM_RIGHTS && c->cmsg_len == CMSG_LEN(sizeof(int)));
            memcpy(&got, CMSG_DATA(c), sizeof got);
            CHECK(fds != NULL);
            fds[(*nfds)++] = got;
        }
        for (ssize_t i = 0; i < n; i++)
            seen += buf[len + (size_t)i] == '\n';
        len += (size_t)n;
        CHECK(len < cap);
    }
    CHECK(lines == 0 || seen == lines);
    buf[len] = '\0';
    return len;
}

static void run_until(uv_loop_t *loop, const int *flag, int value)
{
    for (int t = 0; t < 1000000 && *flag < value; t++)
        uv_run(loop, UV_RUN_ONCE);
    CHECK(*flag >= value);
}

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CHECK(v != NULL);
    return v;
}

/* ---------------------------------------------------------------------------------------- */

TEST(every_json_type)
{
    static const char *const values[] = {
        "\"a string\"",
        "42",
        "-7",
        "0",
        "-1.5",
        "1e300",
        "true",
        "false",
        "null",
        "\"\"",
        "[]",
        "{}",
        "[1,\"two\",[3,[4]],{\"five\":5}]",
        "{\"a\":{\"b\":{\"c\":[1,2,{\"d\":null}]}},\"e\":true}",
        "9223372036854775807",
        "\"line\\nbreak \\t tab \\\" quote \\\\ backslash\"",
        "\"\xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9 \xf0\x9f\x98\x80 \\u0000 end\"",
        "{\"\xe2\x80\xa8key\xf0\x9f\x98\x80\":\"\xf0\x9f\x98\x80\"}",
    };
    size_t n = sizeof values / sizeof values[0];
    uv_loop_t loop;
    peer_t a, b;

    peer_init(&a);
    peer_init(&b);
    CHECK_OK(uv_loop_init(&loop));
    pair_open(&loop, &a, &b);
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(uvproc_channel_send_new(a.ch, parse(values[i]), NULL, NULL), 1);
    /* A top-level value of every kind, and a message jansson cannot encode. */
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_stringn_nocheck("\xff", 1), NULL, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_channel_send(a.ch, NULL, NULL, NULL), UV_EINVAL);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);

    CHECK_EQ(json_array_size(b.msgs), n);
    for (size_t i = 0; i < n; i++) {
        json_t *want = parse(values[i]);
        if (!json_equal(want, json_array_get(b.msgs, i))) {
            fprintf(stderr, "message %zu differs: %s\n", i, values[i]);
            CHECK(0);
        }
        json_decref(want);
    }
    /* The NUL inside the string survived (JSON_ALLOW_NUL). */
    CHECK_EQ(json_string_length(json_array_get(b.msgs, 16)), 21);
    CHECK_EQ(b.nerr, 0);
    CHECK_EQ(a.disconnects, 1);
    CHECK_EQ(b.disconnects, 1);
    peer_free(&a);
    peer_free(&b);
}

TEST(wire_format)
{
    /* What goes out is Node's: compact JSON, one line, LF escaped, U+2028 and emoji raw. */
    uv_loop_t loop;
    peer_t a;
    char buf[512];
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    CHECK_EQ(uvproc_channel_send_new(
                 a.ch, json_pack("{s:s}", "s", "a\nb\r\xe2\x80\xa8\xf0\x9f\x98\x80"), NULL, NULL),
             1);
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_pack("[i,f,n]", 1, 2.5), NULL, NULL), 1);
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string("top"), NULL, NULL), 1);
    raw_read(&loop, fd, buf, sizeof buf, 3, 0, NULL, NULL);
    CHECK_STR(buf, "{\"s\":\"a\\nb\\r\xe2\x80\xa8\xf0\x9f\x98\x80\"}\n[1,2.5,null]\n\"top\"\n");
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    peer_free(&a);
}

static char *big_string(size_t n)
{
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = (char)('a' + i % 26);
    /* Some multi-byte characters and escapes inside the bulk. */
    memcpy(s + n / 2, "\xe2\x80\xa8\"\n\xf0\x9f\x98\x80", 9);
    s[n] = '\0';
    return s;
}

TEST(ten_megabytes)
{
    size_t n = 10u << 20;
    char *s = big_string(n);
    uv_loop_t loop;
    peer_t a, b;

    peer_init(&a);
    peer_init(&b);
    CHECK_OK(uv_loop_init(&loop));
    pair_open(&loop, &a, &b);
    /* Backpressure: 10 MB queued is far past the 128 KiB mark. Write-through may already have
     * handed the socket what its buffer takes (the peer reads nothing yet: a few hundred KiB);
     * the rest is queued. */
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string(s), NULL, NULL), 0);
    CHECK(uvproc_channel_queue_size(a.ch) > n - (1u << 20));
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string("after"), NULL, NULL), 0);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(b.msgs), 2);
    CHECK_EQ(json_string_length(json_array_get(b.msgs, 0)), n);
    CHECK(memcmp(json_string_value(json_array_get(b.msgs, 0)), s, n) == 0);
    CHECK_STR(json_string_value(json_array_get(b.msgs, 1)), "after");
    free(s);
    peer_free(&a);
    peer_free(&b);
}

/* Every send callback records in which write it completed: all frames of one uv_write
 * complete together, in one loop turn, and only one write is in flight at a time. */
static int turn, last_cb_turn = -1, write_groups, cb_count, cb_bad_status;
static void count_turn(uv_check_t *c)
{
    (void)c;
    turn++;
}
static void counted_cb(uvproc_channel_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    cb_count++;
    cb_bad_status += status != 0;
    if (turn != last_cb_turn) {
        write_groups++;
        last_cb_turn = turn;
    }
}

/* A channel pair on a fresh loop whose turns are counted, for the batching tests. */
static void counted_pair_open(uv_loop_t *loop, uv_check_t *check, peer_t *a, peer_t *b)
{
    peer_init(a);
    peer_init(b);
    CHECK_OK(uv_loop_init(loop));
    CHECK_OK(uv_check_init(loop, check));
    CHECK_OK(uv_check_start(check, count_turn));
    uv_unref((uv_handle_t *)check);
    pair_open(loop, a, b);
    turn = 0;
    last_cb_turn = -1;
    write_groups = cb_count = cb_bad_status = 0;
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

TEST(hundred_thousand_in_order_batched)
{
    enum { N = 100000 };
    uv_loop_t loop;
    uv_check_t check;
    peer_t a, b;
    double t0;
    int backpressure_at = -1;
    size_t before = 0, after = 0;

    counted_pair_open(&loop, &check, &a, &b);
    t0 = now_ms();
    for (int i = 0; i < N; i++) {
        size_t q = uvproc_channel_queue_size(a.ch);
        int r = uvproc_channel_send_new(a.ch, json_pack("{s:i}", "i", i), counted_cb, NULL);
        CHECK(r == 0 || r == 1);
        if (r == 0 && backpressure_at < 0) {
            backpressure_at = i;
            before = q;
            after = uvproc_channel_queue_size(a.ch);
        }
    }
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    run_until(&loop, &b.disconnects, 1);
    fprintf(stderr, "# %d messages C->C in %.1f ms, %d write(s); send returned 0 from #%d\n", N,
            now_ms() - t0, write_groups, backpressure_at);
    CHECK_EQ(b.counted, N);
    CHECK(b.in_order);
    CHECK_EQ(cb_count, N);
    CHECK_EQ(cb_bad_status, 0);
    /* Sent in one loop turn: written through in 64 KiB steps while the socket took them (the
     * peer reads nothing during the loop), the rest in one write; the callbacks of what was
     * written through run together from the flusher. A few groups, never one per message. */
    CHECK(write_groups >= 1 && write_groups <= 4);
    /* send returns 0 once 128 KiB are unwritten (what the socket took does not count, as in
     * Node), and only then. */
    CHECK(backpressure_at > 5000);
    CHECK(before < 128 * 1024 && after >= 128 * 1024);
    uv_close((uv_handle_t *)&check, NULL);
    CHECK_LOOP_CLOSE(&loop);
    peer_free(&a);
    peer_free(&b);
}

static int burst_turns_left, burst_next;
static peer_t *burst_peer;
static void burst_timer(uv_timer_t *t)
{
    /* 10 turns of 1000 sends each, while earlier writes may still be in flight. */
    for (int i = 0; i < 1000; i++)
        uvproc_channel_send_new(burst_peer->ch, json_pack("{s:i}", "i", burst_next++), counted_cb,
                                NULL);
    if (--burst_turns_left == 0) {
        uv_close((uv_handle_t *)t, NULL);
        uvproc_channel_disconnect(burst_peer->ch);
    }
}

TEST(batches_follow_loop_turns)
{
    uv_loop_t loop;
    uv_check_t check;
    uv_timer_t timer;
    peer_t a, b;

    counted_pair_open(&loop, &check, &a, &b);
    burst_turns_left = 10;
    burst_next = 0;
    burst_peer = &a;
    CHECK_OK(uv_timer_init(&loop, &timer));
    CHECK_OK(uv_timer_start(&timer, burst_timer, 0, 1));
    run_until(&loop, &b.disconnects, 1);
    CHECK_EQ(b.counted, 10000);
    CHECK(b.in_order);
    CHECK_EQ(cb_count, 10000);
    CHECK_EQ(cb_bad_status, 0);
    /* At most one write per turn that queued something, never one per message. */
    CHECK(write_groups >= 1 && write_groups <= 10);
    uv_close((uv_handle_t *)&check, NULL);
    CHECK_LOOP_CLOSE(&loop);
    peer_free(&a);
    peer_free(&b);
}

TEST(bad_input_is_reported_and_skipped)
{
    uvproc_channel_options_t o;
    uv_loop_t loop;
    peer_t a;
    int fd;
    char over[2100];

    peer_init(&a);
    o = peer_options(&a);
    o.max_message_size = 1024;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    memset(over, 'x', sizeof over);
    over[sizeof over - 1] = '\n';
    RAW(fd, "{\"a\":1}\nnot json\n\n");
    raw_write(fd, over, sizeof over);
    RAW(fd, "{\"b\":2}\n1 2\n\"\\ud800 lone\"\n18446744073709551616\n{\"c\":3}\r\n[\"\\u0000\"]");
    RAW(fd, "\n{\"sp");
    RAW(fd, "lit\":true}\n{\"cut\":");
    shutdown(fd, SHUT_WR);
    run_until(&loop, &a.disconnects, 1);

    CHECK_EQ(a.nerr, 4);
    CHECK_EQ(a.errs[0], UVPROC_EBADMSG);
    CHECK_STR(a.errline[0], "not json");
    CHECK_EQ(a.errs[1], UVPROC_EBADMSG);
    CHECK_EQ(a.errlen[1], 0);
    CHECK_EQ(a.errs[2], UV_EMSGSIZE);
    CHECK(a.errlen[2] > 1024);
    CHECK_EQ(a.errs[3], UVPROC_EBADMSG);
    CHECK_STR(a.errline[3], "1 2");
    {
        json_t *want = parse("[{\"a\":1},{\"b\":2},\"\\uFFFD lone\",1.8446744073709552e19,"
                             "{\"c\":3},[\"\\u0000\"],{\"split\":true}]");
        CHECK(json_equal(want, a.msgs));
        json_decref(want);
    }
    CHECK(json_is_real(json_array_get(a.msgs, 3)));
    /* Errors came in line order with the messages; the partial last line was dropped. */
    {
        static const int order[] = {'m', 'e', 'e', 'e', 'm', 'e', 'm', 'm', 'm', 'm', 'm', 'd'};
        CHECK_EQ(a.nev, (int)(sizeof order / sizeof order[0]));
        for (int i = 0; i < a.nev; i++)
            CHECK_EQ(a.events[i], order[i]);
    }
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    peer_free(&a);
}

TEST(send_raw_validation)
{
    uv_loop_t loop;
    peer_t a;
    char buf[256];
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
#define BAD(s) CHECK_EQ(uvproc_channel_send_raw(a.ch, s, sizeof(s) - 1, NULL, NULL), UVPROC_EBADMSG)
    BAD("");
    BAD(" ");
    BAD("1 2");
    BAD("{\"a\":\n1}");
    BAD("{\"a\":1}\n");
    BAD("garbage");
    BAD("{\"a\":1");
    BAD("\"\xff\"");
    BAD("\"a\0b\"");
#undef BAD
    CHECK_EQ(uvproc_channel_send_raw(a.ch, NULL, 1, NULL, NULL), UV_EINVAL);
    /* Valid for JSON.parse, so allowed: a lone surrogate escape, an integer past int64,
     * surrounding whitespace, a trailing CR. */
    CHECK_EQ(uvproc_channel_send_raw(a.ch, "\"\\ud800\"", 8, NULL, NULL), 1);
    CHECK_EQ(uvproc_channel_send_raw(a.ch, "18446744073709551616", 20, NULL, NULL), 1);
    CHECK_EQ(uvproc_channel_send_raw(a.ch, " {\"x\":1}\r", 9, NULL, NULL), 1);
    raw_read(&loop, fd, buf, sizeof buf, 3, 0, NULL, NULL);
    CHECK_STR(buf, "\"\\ud800\"\n18446744073709551616\n {\"x\":1}\r\n");
    /* Nothing else went out. */
    CHECK_EQ(raw_read(&loop, fd, buf, sizeof buf, 0, 5, NULL, NULL), 0);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_EQ(uvproc_channel_send_raw(a.ch, "1", 1, NULL, NULL), UV_EPIPE);
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    peer_free(&a);
}

static int status_log[2048], nstatus;
static peer_t *order_peer;
static void log_status(uvproc_channel_t *ch, int status, void *data)
{
    (void)ch;
    (void)data;
    status_log[nstatus++] = status;
    /* The disconnect comes after every callback of a frame queued before it. */
    CHECK_EQ(order_peer->disconnects, 0);
}

TEST(disconnect_flushes_queued_frames)
{
    uv_loop_t loop;
    peer_t a, b;

    peer_init(&a);
    peer_init(&b);
    CHECK_OK(uv_loop_init(&loop));
    pair_open(&loop, &a, &b);
    nstatus = 0;
    order_peer = &a;
    for (int i = 0; i < 1000; i++)
        uvproc_channel_send_new(a.ch, json_pack("{s:i}", "i", i), log_status, NULL);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    /* Not inside disconnect(). */
    CHECK_EQ(a.disconnects, 0);
    CHECK(!uvproc_channel_connected(a.ch));
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_true(), log_status, NULL), UV_EPIPE);
    CHECK_EQ(uvproc_channel_disconnect(a.ch), UV_EPIPE);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(nstatus, 1000);
    for (int i = 0; i < nstatus; i++)
        CHECK_EQ(status_log[i], 0);
    CHECK_EQ(a.disconnects, 1);
    CHECK_EQ(b.disconnects, 1);
    CHECK_EQ(b.counted, 1000);
    CHECK(b.in_order);
    peer_free(&a);
    peer_free(&b);
}

TEST(unwritten_frames_are_cancelled)
{
    /* The peer stops reading, then hangs up: the frame in flight and those behind it were not
     * (fully) written, so none may report success. */
    size_t n = 4u << 20;
    char *s = big_string(n);
    uv_loop_t loop;
    peer_t a;
    char buf[4096];
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    nstatus = 0;
    order_peer = &a;
    uvproc_channel_send_new(a.ch, json_string(s), log_status, NULL);
    for (int i = 0; i < 2; i++)
        uv_run(&loop, UV_RUN_NOWAIT);
    CHECK(uvproc_channel_queue_size(a.ch) > 0);
    uvproc_channel_send_new(a.ch, json_string("behind"), log_status, NULL);
    uvproc_channel_send_new(a.ch, json_string("behind too"), log_status, NULL);
    CHECK(read(fd, buf, sizeof buf) > 0); /* some bytes did arrive */
    shutdown(fd, SHUT_WR);
    run_until(&loop, &a.disconnects, 1);
    CHECK_EQ(nstatus, 3);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(status_log[i], UV_ECANCELED);
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    free(s);
    peer_free(&a);
}

TEST(eof_disconnects_once)
{
    uv_loop_t loop;
    peer_t a;
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    RAW(fd, "{\"last\":1}\n");
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(a.disconnects, 1);
    CHECK_EQ(json_array_size(a.msgs), 1);
    CHECK_EQ(a.nev, 2);
    CHECK_EQ(a.events[1], 'd');
    peer_free(&a);
}

static void late_listener(peer_t *p, json_t *msg, uvproc_handle_t *h)
{
    (void)h;
    /* The internal message was read after the three user messages, which were held. */
    if (json_is_object(msg) && json_object_get(msg, "cmd") != NULL) {
        CHECK_EQ(json_array_size(p->msgs), 0);
        uvproc_channel_set_on_message(p->ch, p_message);
        /* Delivery waits for a later loop turn. */
        CHECK_EQ(json_array_size(p->msgs), 0);
    }
}

TEST(messages_wait_for_a_listener)
{
    uvproc_channel_options_t o;
    uv_loop_t loop;
    peer_t a;
    int fd, sv[2];

    peer_init(&a);
    o = peer_options(&a);
    o.on_message = NULL;
    a.hook = late_listener;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    /* A held message can carry a handle: it is delivered with it, or closed if never. */
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    RAW(fd, "1\n\"two\"\n");
    raw_send_fd(fd, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":[3]}\n", sv[0]);
    close(sv[0]);
    RAW(fd, "{\"cmd\":\"NODE_PING\"}\n");
    uv_run(&loop, UV_RUN_NOWAIT);
    RAW(fd, "4\n");
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    {
        json_t *want = parse("[1,\"two\",[3],4]");
        CHECK(json_equal(want, a.msgs));
        json_decref(want);
    }
    CHECK_EQ(a.nhandles, 1);
    CHECK_STR(a.types[0], "net.Native");
    CHECK_EQ(a.kinds[0], UV_NAMED_PIPE);
    peer_free(&a);
    close(sv[1]);

    /* Never set: held messages and their handles are dropped at disconnect. */
    peer_init(&a);
    o = peer_options(&a);
    o.on_message = NULL;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    raw_send_fd(fd, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":[3]}\n", sv[0]);
    close(sv[0]);
    close(sv[1]);
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(a.disconnects, 1);
    peer_free(&a);
}

/* One integer past int64 makes only that number a real (JavaScript numbers are doubles):
 * its siblings stay integers. Once every integer of the message became a real, and
 * json_integer_value(seq) returned 0. */
TEST(big_integer_changes_only_itself)
{
    uv_loop_t loop;
    peer_t a;
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    RAW(fd, "{\"seq\":7,\"big\":18446744073709551616,\"s\":\"123456789012345678901\","
            "\"a\":[-9223372036854775808,-9223372036854775809,9223372036854775807,"
            "9223372036854775808,1.0,2e3,0]}\n");
    /* Both repairs in one line, in either order. */
    RAW(fd, "[18446744073709551616,\"\\ud800\",1]\n[\"\\ud800\",18446744073709551616,1]\n");
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(a.nerr, 0);
    CHECK_EQ(json_array_size(a.msgs), 3);
    for (size_t i = 1; i < 3; i++) {
        json_t *m = json_array_get(a.msgs, i);
        CHECK(json_is_integer(json_array_get(m, 2)));
        CHECK(json_is_real(json_array_get(m, i == 1 ? 0 : 1)));
        CHECK_STR(json_string_value(json_array_get(m, i == 1 ? 1 : 0)), "\xef\xbf\xbd");
    }
    {
        json_t *m = json_array_get(a.msgs, 0), *arr = json_object_get(m, "a");
        CHECK(json_is_integer(json_object_get(m, "seq")));
        CHECK_EQ(json_integer_value(json_object_get(m, "seq")), 7);
        CHECK(json_is_real(json_object_get(m, "big")));
        CHECK(json_real_value(json_object_get(m, "big")) == 18446744073709551616.0);
        CHECK_STR(json_string_value(json_object_get(m, "s")), "123456789012345678901");
        CHECK(json_is_integer(json_array_get(arr, 0)));
        CHECK_EQ(json_integer_value(json_array_get(arr, 0)), INT64_MIN);
        CHECK(json_is_real(json_array_get(arr, 1)));
        CHECK(json_is_integer(json_array_get(arr, 2)));
        CHECK_EQ(json_integer_value(json_array_get(arr, 2)), INT64_MAX);
        CHECK(json_is_real(json_array_get(arr, 3)));
        CHECK(json_is_real(json_array_get(arr, 4))); /* written as reals: they stay reals */
        CHECK(json_is_real(json_array_get(arr, 5)));
        CHECK(json_is_integer(json_array_get(arr, 6)));
    }
    peer_free(&a);
}

/* "cmd" is compared as Node compares it, whole: "NODE_HANDLE\u0000x" is not NODE_HANDLE (no
 * NACK, no handle taken) but another internal message, for on_internal. */
TEST(cmd_compared_with_its_length)
{
    uv_loop_t loop;
    peer_t a;
    char buf[256];
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    RAW(fd, "{\"cmd\":\"NODE_HANDLE\\u0000x\",\"msg\":1}\n{\"cmd\":\"NODE_HANDLE_ACK\\u0000\"}\n"
            "{\"cmd\":\"NODE_SOCKET_GET_COUNT\\u0000\",\"key\":1}\n\"end\"\n");
    while (json_array_size(a.msgs) == 0)
        uv_run(&loop, UV_RUN_ONCE);
    /* Nothing was answered. */
    CHECK_EQ(raw_read(&loop, fd, buf, sizeof buf, 0, 20, NULL, NULL), 0);
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(a.internal), 3);
    CHECK_EQ(json_string_length(json_object_get(json_array_get(a.internal, 0), "cmd")), 13);
    CHECK_EQ(a.nerr, 0);
    peer_free(&a);
}

TEST(internal_messages_are_routed)
{
    uvproc_channel_options_t o;
    uv_loop_t loop;
    peer_t a, c;
    char buf[512];
    int fd;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    RAW(fd, "{\"cmd\":\"NODE_FOO\",\"x\":1}\n{\"cmd\":\"NODE_\"}\n{\"cmd\":\"NODEX\"}\n"
            "{\"cmd\":5}\n{\"cmd\":\"node_lower\"}\n{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\"}\n"
            "[{\"cmd\":\"NODE_FOO\"}]\n"
            "{\"cmd\":\"NODE_SOCKET_GET_COUNT\",\"key\":\"k1\"}\n"
            "{\"cmd\":\"NODE_SOCKET_NOTIFY_CLOSE\",\"key\":\"k2\"}\n");
    /* Socket-list queries are answered (we cannot count sockets the user owns: 0). */
    raw_read(&loop, fd, buf, sizeof buf, 2, 0, NULL, NULL);
    CHECK_STR(buf, "{\"cmd\":\"NODE_SOCKET_COUNT\",\"key\":\"k1\",\"count\":0}\n"
                   "{\"cmd\":\"NODE_SOCKET_ALL_CLOSED\",\"key\":\"k2\"}\n");
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    {
        json_t *user = parse("[{\"cmd\":\"NODE_\"},{\"cmd\":\"NODEX\"},{\"cmd\":5},"
                             "{\"cmd\":\"node_lower\"},[{\"cmd\":\"NODE_FOO\"}]]");
        json_t *internal = parse("[{\"cmd\":\"NODE_FOO\",\"x\":1},"
                                 "{\"cmd\":\"NODE_CLUSTER\",\"act\":\"online\"}]");
        CHECK(json_equal(user, a.msgs));
        CHECK(json_equal(internal, a.internal));
        json_decref(user);
        json_decref(internal);
    }
    peer_free(&a);

    /* Without on_internal they are ignored, never shown as user messages. */
    peer_init(&c);
    o = peer_options(&c);
    o.on_internal = NULL;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &c, &o);
    RAW(fd, "{\"cmd\":\"NODE_FOO\"}\n7\n");
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(c.msgs), 1);
    CHECK_EQ(c.nerr, 0);
    peer_free(&c);
}

/* ---------------------------------------------------------------------------------------- */
/* handles                                                                                  */

static uv_tcp_t *listen_local(uv_loop_t *loop, int *port)
{
    uv_tcp_t *server = malloc(sizeof *server);
    struct sockaddr_in addr;
    struct sockaddr_storage name;
    int len = sizeof name;
    CHECK_OK(uv_tcp_init(loop, server));
    CHECK_OK(uv_ip4_addr("127.0.0.1", 0, &addr));
    CHECK_OK(uv_tcp_bind(server, (const struct sockaddr *)&addr, 0));
    CHECK_OK(uv_listen((uv_stream_t *)server, 16, NULL));
    CHECK_OK(uv_tcp_getsockname(server, (struct sockaddr *)&name, &len));
    *port = ntohs(((struct sockaddr_in *)&name)->sin_port);
    return server;
}

/* A blocking client socket connected to 127.0.0.1:port. */
static int connect_local(int port)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0);
    CHECK_OK(connect(fd, (struct sockaddr *)&addr, sizeof addr));
    return fd;
}

static void close_free(uv_handle_t *h)
{
    free(h);
}

/* uvproc_channel_send_handle borrows msg; the tests build it on the spot. */
static int send_handle_new(uvproc_channel_t *ch, json_t *msg, void *handle, const char *type,
                           uvproc_send_cb cb, void *data)
{
    int r = uvproc_channel_send_handle(ch, msg, handle, type, cb, data);
    json_decref(msg);
    return r;
}

static int handle_cb_status = 1, handle_cb_calls;
static void handle_sent(uvproc_channel_t *ch, int status, void *data)
{
    (void)ch;
    handle_cb_status = status;
    handle_cb_calls++;
    /* Acknowledged (or given up): the caller may close its copy now. */
    if (data != NULL)
        uv_close(data, close_free);
}

/* The receiving side: serve one connection on a received server, write to received sockets
 * and pipes. */
static uv_write_t hello_req;
static char hello[] = "hello\n";
static void on_conn(uv_stream_t *server, int status)
{
    uv_tcp_t *conn = malloc(sizeof *conn);
    uv_buf_t b = uv_buf_init(hello, sizeof hello - 1);
    CHECK_OK(status);
    CHECK_OK(uv_tcp_init(server->loop, conn));
    CHECK_OK(uv_accept(server, (uv_stream_t *)conn));
    CHECK_OK(uv_try_write((uv_stream_t *)conn, &b, 1) == (int)b.len ? 0 : -1);
    uv_close((uv_handle_t *)conn, close_free);
    uv_close((uv_handle_t *)server, close_free);
}
static void use_handle(peer_t *p, json_t *msg, uvproc_handle_t *h)
{
    uv_buf_t b = uv_buf_init(hello, sizeof hello - 1);
    (void)msg;
    if (h == NULL)
        return;
    p->handles[p->nhandles - 1] = NULL; /* we own it from here */
    if (strcmp(h->type, "net.Server") == 0) {
        CHECK_EQ(h->stream->type, UV_TCP);
        CHECK_OK(uv_listen(h->stream, 16, on_conn));
        return;
    }
    CHECK_OK(uv_write(&hello_req, h->stream, &b, 1, NULL));
    uvproc_handle_close(h->stream);
}

/* Reads `fd` to EOF while the loop serves it. */
static void read_hello(uv_loop_t *loop, int fd)
{
    char buf[16] = "";
    size_t len = 0;
    for (int t = 0; t < 100000; t++) {
        ssize_t n;
        uv_run(loop, UV_RUN_NOWAIT);
        n = recv(fd, buf + len, sizeof buf - 1 - len, MSG_DONTWAIT);
        if (n == 0)
            break;
        if (n < 0) {
            CHECK(errno == EAGAIN);
            continue;
        }
        len += (size_t)n;
    }
    CHECK_STR(buf, "hello\n");
}

TEST(handles_between_c_peers)
{
    uv_loop_t loop;
    uv_tcp_t *server, *client_h;
    uv_pipe_t *pipe_h;
    peer_t a, b;
    int port, client, sv[2], conn_fd;

    peer_init(&a);
    peer_init(&b);
    b.hook = use_handle;
    CHECK_OK(uv_loop_init(&loop));
    pair_open(&loop, &a, &b);

    /* 1. A listening TCP server: the receiver accepts a connection on it. */
    server = listen_local(&loop, &port);
    handle_cb_calls = 0;
    CHECK_EQ(send_handle_new(a.ch, json_pack("{s:i}", "port", port), (uv_stream_t *)server, NULL,
                             handle_sent, server),
             1);
    /* Queued behind the handle: may only leave after its ACK. */
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string("after server"), NULL, NULL), 1);
    run_until(&loop, &handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, 0);
    client = connect_local(port);
    /* The sender's copy is closed; the receiver's serves the connection. */
    read_hello(&loop, client);
    close(client);

    /* 2. A connected TCP socket. */
    {
        int lport, lfd;
        struct sockaddr_in addr;
        socklen_t alen = sizeof addr;
        uv_tcp_t *l = listen_local(&loop, &lport);
        CHECK_OK(uv_fileno((uv_handle_t *)l, &lfd));
        client = connect_local(lport);
        conn_fd = accept(lfd, (struct sockaddr *)&addr, &alen);
        CHECK(conn_fd >= 0);
        uv_close((uv_handle_t *)l, close_free);
    }
    client_h = malloc(sizeof *client_h);
    CHECK_OK(uv_tcp_init(&loop, client_h));
    CHECK_OK(uv_tcp_open(client_h, conn_fd));
    handle_cb_calls = 0;
    CHECK_EQ(send_handle_new(a.ch, json_string("a socket"), (uv_stream_t *)client_h, NULL,
                             handle_sent, client_h),
             1);
    run_until(&loop, &handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, 0);
    read_hello(&loop, client);
    close(client);

    /* 3. A pipe (one end of a socketpair), "net.Native". */
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    pipe_h = malloc(sizeof *pipe_h);
    CHECK_OK(uv_pipe_init(&loop, pipe_h, 0));
    CHECK_OK(uv_pipe_open(pipe_h, sv[0]));
    handle_cb_calls = 0;
    CHECK_EQ(send_handle_new(a.ch, json_string("a pipe"), (uv_stream_t *)pipe_h, NULL, handle_sent,
                             pipe_h),
             1);
    run_until(&loop, &handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, 0);
    read_hello(&loop, sv[1]);
    close(sv[1]);

    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    {
        json_t *want =
            json_pack("[{s:i},s,s,s]", "port", port, "after server", "a socket", "a pipe");
        CHECK(json_equal(want, b.msgs));
        json_decref(want);
    }
    CHECK_STR(b.types[0], "net.Server");
    CHECK_STR(b.types[1], "net.Socket");
    CHECK_STR(b.types[2], "net.Native");
    CHECK_EQ(b.nhandles, 3);
    peer_free(&a);
    peer_free(&b);
}

TEST(handle_ack_protocol_on_the_wire)
{
    uv_loop_t loop;
    uv_tcp_t *server;
    peer_t a;
    char buf[512], want[256];
    int fd, port, fds[8], nfds = 0;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    server = listen_local(&loop, &port);
    handle_cb_calls = 0;
    handle_cb_status = 1;
    CHECK_EQ(send_handle_new(a.ch, json_pack("{s:i}", "port", port), (uv_stream_t *)server, NULL,
                             handle_sent, server),
             1);
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string("after"), NULL, NULL), 1);
    snprintf(want, sizeof want,
             "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Server\",\"msg\":{\"port\":%d}}\n", port);

    /* The envelope, with exactly one fd; nothing after it before the ACK. */
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
    CHECK_STR(buf, want);
    CHECK_EQ(nfds, 1);
    CHECK_EQ(raw_read(&loop, fd, buf, sizeof buf, 0, 10, fds, &nfds), 0);

    /* NACK: the same envelope again (not wrapped twice), with an fd; the callback waits. */
    RAW(fd, "{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
    CHECK_STR(buf, want);
    CHECK_EQ(nfds, 2);
    CHECK_EQ(handle_cb_calls, 0);

    /* ACK: the callback fires once, and the queued message follows. */
    RAW(fd, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
    CHECK_STR(buf, "\"after\"\n");
    CHECK_EQ(handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, 0);

    /* Three NACKs more than Node's limit: given up with one callback (UV_EPROTO). */
    server = listen_local(&loop, &port);
    handle_cb_calls = 0;
    CHECK_EQ(send_handle_new(a.ch, json_null(), (uv_stream_t *)server, "net.Native", handle_sent,
                             server),
             1);
    for (int i = 0; i < 4; i++) {
        raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
        CHECK_STR(buf, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":null}\n");
        RAW(fd, "{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
    }
    CHECK_EQ(nfds, 6);
    run_until(&loop, &handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, UV_EPROTO);
    CHECK_EQ(raw_read(&loop, fd, buf, sizeof buf, 0, 5, fds, &nfds), 0);

    for (int i = 0; i < nfds; i++)
        close(fds[i]);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    CHECK_EQ(a.nerr, 0);
    peer_free(&a);
}

TEST(handle_without_fd_gets_nack)
{
    uv_loop_t loop;
    peer_t a;
    char buf[512];
    int fd, sv[2], udp;

    peer_init(&a);
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    RAW(fd, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"x\":1}}\n");
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, NULL, NULL);
    CHECK_STR(buf, "{\"cmd\":\"NODE_HANDLE_NACK\"}\n");
    CHECK_EQ(json_array_size(a.msgs), 0);

    /* With an fd: ACK, and the message delivered with the handle. Node's double-wrapped
     * retransmission is unwrapped to the original, with one ACK. */
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    raw_send_fd(fd,
                "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"cmd\":"
                "\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"y\":2}}}\n",
                sv[0]);
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, NULL, NULL);
    CHECK_STR(buf, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    /* An internal message carried by a handle goes to on_internal with it. */
    raw_send_fd(fd,
                "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"cmd\":"
                "\"NODE_CLUSTER\"}}\n",
                sv[1]);
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, NULL, NULL);
    CHECK_STR(buf, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    /* A UDP socket is not a stream: acknowledged (the fd did arrive), closed, reported, and
     * the message delivered without it. */
    udp = socket(AF_INET, SOCK_DGRAM, 0);
    raw_send_fd(fd, "{\"cmd\":\"NODE_HANDLE\",\"type\":\"dgram.Native\",\"msg\":{\"z\":3}}\n", udp);
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, NULL, NULL);
    CHECK_STR(buf, "{\"cmd\":\"NODE_HANDLE_ACK\"}\n");
    close(udp);
    close(sv[0]);
    close(sv[1]);
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(a.msgs), 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a.msgs, 0), "y")), 2);
    CHECK_EQ(json_integer_value(json_object_get(json_array_get(a.msgs, 1), "z")), 3);
    CHECK_EQ(json_array_size(a.internal), 1);
    CHECK_EQ(a.nhandles, 2);
    CHECK_STR(a.types[0], "net.Socket");
    CHECK_STR(a.types[1], "net.Native");
    CHECK_EQ(a.kinds[0], UV_NAMED_PIPE);
    CHECK_EQ(a.nerr, 1);
    CHECK_EQ(a.errs[0], UV_ENOTSUP);
    peer_free(&a);
}

/* A burst from on_message is written through until the socket is full, most likely cutting a
 * frame in two; a NACK queued right after, from the same read, must wait for the rest of that
 * frame instead of jumping the queue into it. */
enum { CUT_N = 1000 };
static void burst_on_go(peer_t *p, json_t *msg, uvproc_handle_t *h)
{
    char pad[1001];
    (void)h;
    if (!json_is_true(json_object_get(msg, "go")))
        return;
    memset(pad, 'x', sizeof pad - 1);
    pad[sizeof pad - 1] = '\0';
    for (int i = 0; i < CUT_N; i++)
        CHECK(uvproc_channel_send_new(p->ch, json_pack("{s:i,s:s}", "i", i, "pad", pad), NULL,
                                      NULL) >= 0);
    /* Part of it is in the socket already, part still queued. */
    CHECK(uvproc_channel_queue_size(p->ch) > 0);
    CHECK(uvproc_channel_queue_size(p->ch) < (size_t)CUT_N * 1000);
}

TEST(reply_never_cuts_a_written_through_frame)
{
    static char buf[4 << 20];
    uv_loop_t loop;
    peer_t a;
    int fd, nacks = 0;
    long next = 0;
    char *line, *save = NULL;

    peer_init(&a);
    a.hook = burst_on_go;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, NULL);
    /* One write: both lines arrive in one read, the burst first, then the NACK is queued. */
    RAW(fd, "{\"go\":true}\n"
            "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"x\":1}}\n");
    raw_read(&loop, fd, buf, sizeof buf, CUT_N + 1, 0, NULL, NULL);
    for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_t *v = parse(line);
        if (json_object_get(v, "cmd") != NULL) {
            CHECK_STR(json_string_value(json_object_get(v, "cmd")), "NODE_HANDLE_NACK");
            nacks++;
        } else {
            CHECK_EQ(json_integer_value(json_object_get(v, "i")), next);
            next++;
        }
        json_decref(v);
    }
    CHECK_EQ(next, CUT_N);
    CHECK_EQ(nacks, 1);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    close(fd);
    CHECK_LOOP_CLOSE(&loop);
    peer_free(&a);
}

static int count_open_fds(void)
{
    int fds[1024];
    int n = check_list_fds_(fds, 1024);
    CHECK(n >= 0);
    return n;
}

/* fds sent without a NODE_HANDLE envelope: at most 16 are held for envelopes still to come,
 * the rest are closed at once and reported (UV_EPROTO, len = how many). A peer once made the
 * parent hold every one of 5,000 until the channel closed. */
static int dropped_fds, dropped_reports;
static void count_dropped(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    CHECK_EQ(err, UV_EPROTO);
    CHECK(line == NULL);
    dropped_fds += (int)len;
    dropped_reports++;
}

TEST(unclaimed_fds_are_capped)
{
    enum { SENT = 200 };
    uvproc_channel_options_t o;
    uv_loop_t loop;
    peer_t a;
    int fd, sv[2], before;

    peer_init(&a);
    o = peer_options(&a);
    o.on_error = count_dropped;
    dropped_fds = dropped_reports = 0;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    before = count_open_fds();
    for (int i = 0; i < SENT; i++) {
        char line[32];
        snprintf(line, sizeof line, "{\"i\":%d}\n", i);
        raw_send_fd(fd, line, sv[0]);
        /* Read as we go: the socket buffer holds only so many fds in flight. */
        while (uv_run(&loop, UV_RUN_NOWAIT) != 0 && a.counted <= i)
            ;
    }
    CHECK_EQ(a.counted, SENT);
    CHECK(a.in_order);
    CHECK(count_open_fds() - before <= 16);
    CHECK_EQ(dropped_fds, SENT - 16);
    CHECK(dropped_reports >= 1);
    /* The channel lives on. */
    RAW(fd, "\"still here\"\n");
    while (json_array_size(a.msgs) == 0)
        uv_run(&loop, UV_RUN_ONCE);
    CHECK_STR(json_string_value(json_array_get(a.msgs, 0)), "still here");
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    close(sv[0]);
    close(sv[1]);
    close(fd);
    peer_free(&a);
}

static int handles_seen;
static void count_handle(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    peer_t *p = uvproc_channel_data(ch);
    json_array_append(p->msgs, msg);
    if (h != NULL) {
        handles_seen++;
        uvproc_handle_close(h->stream);
    }
}

/* A peer that sends 20 handles and goes away (closes, or only stops reading): what it sent
 * before is read and delivered first, then on_disconnect. Once 1 of the 20 arrived: libuv
 * takes POLLHUP after a short read (each fd-carrying message is one) for EOF, and a write
 * error (our ACK hitting EPIPE) closed the channel with the rest unread. */
static void twenty_handles_then(int how)
{
    enum { N = 20 };
    uvproc_channel_options_t o;
    uv_loop_t loop;
    peer_t a;
    int fd, sv[2];

    peer_init(&a);
    o = peer_options(&a);
    o.on_message = count_handle;
    handles_seen = 0;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    for (int i = 0; i < N; i++) {
        char line[96];
        snprintf(line, sizeof line,
                 "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Native\",\"msg\":{\"h\":%d}}\n", i);
        raw_send_fd(fd, line, sv[0]);
    }
    if (how == SHUT_RD)
        CHECK_OK(shutdown(fd, SHUT_RD)); /* our first ACK fails with EPIPE */
    else
        close(fd);
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(a.msgs), N);
    for (int i = 0; i < N; i++)
        CHECK_EQ(json_integer_value(json_object_get(json_array_get(a.msgs, (size_t)i), "h")), i);
    CHECK_EQ(handles_seen, N);
    CHECK_EQ(a.disconnects, 1);
    if (how == SHUT_RD)
        close(fd);
    close(sv[0]);
    close(sv[1]);
    peer_free(&a);
}

TEST(write_error_reads_what_was_sent_first)
{
    twenty_handles_then(SHUT_RD);
    twenty_handles_then(-1);
}

TEST(handle_never_acknowledged_times_out)
{
    uvproc_channel_options_t o;
    uv_loop_t loop;
    uv_tcp_t *server;
    peer_t a;
    char buf[512];
    int fd, port, fds[2], nfds = 0;

    peer_init(&a);
    o = peer_options(&a);
    o.handle_ack_timeout_ms = 30;
    CHECK_OK(uv_loop_init(&loop));
    fd = half_open(&loop, &a, &o);
    server = listen_local(&loop, &port);
    handle_cb_calls = 0;
    nstatus = 0;
    order_peer = &a;
    CHECK_EQ(send_handle_new(a.ch, json_true(), (uv_stream_t *)server, NULL, handle_sent, server),
             1);
    CHECK_EQ(uvproc_channel_send_new(a.ch, json_string("after"), log_status, NULL), 1);
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
    run_until(&loop, &handle_cb_calls, 1);
    CHECK_EQ(handle_cb_status, UV_ETIMEDOUT);
    CHECK_EQ(a.nerr, 1);
    CHECK_EQ(a.errs[0], UV_ETIMEDOUT);
    /* The queue resumes. */
    raw_read(&loop, fd, buf, sizeof buf, 1, 0, fds, &nfds);
    CHECK_STR(buf, "\"after\"\n");
    run_until(&loop, &nstatus, 1);
    CHECK_EQ(status_log[0], 0);
    close(fds[0]);
    CHECK_OK(uvproc_channel_disconnect(a.ch));
    CHECK_LOOP_CLOSE(&loop);
    close(fd);
    peer_free(&a);
}

/* ---------------------------------------------------------------------------------------- */
/* opening                                                                                  */

/* An AF_UNIX stream socket bound to an abstract name and listening. */
static int listening_unix_socket(void)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    /* Autobind: an abstract address the kernel picks, nothing on the filesystem. */
    CHECK_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa_family_t)));
    CHECK_OK(listen(fd, 1));
    return fd;
}

TEST(open_validates_the_fd)
{
    uv_loop_t loop;
    uvproc_channel_t *ch = (uvproc_channel_t *)1;
    int p[2], devnull, udp, tcp, unconnected, listening;

    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(pipe(p));
    devnull = open("/dev/null", O_RDWR);
    udp = socket(AF_UNIX, SOCK_DGRAM, 0);
    tcp = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, -1, NULL), UV_EBADF);
    CHECK(ch == NULL);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, 987, NULL), UV_EBADF);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, p[0], NULL), UV_ENOTSOCK);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, devnull, NULL), UV_ENOTSOCK);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, udp, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, tcp, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_channel_open(NULL, &ch, tcp, NULL), UV_EINVAL);
    /* A stream socket that is not connected, listening or not, would be read forever with
     * nothing coming: refused (a child once hung there with no error). */
    unconnected = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_EQ(uvproc_channel_open(&loop, &ch, unconnected, NULL), UV_ENOTCONN);
    listening = listening_unix_socket();
    CHECK_EQ(uvproc_channel_open(&loop, &ch, listening, NULL), UV_ENOTCONN);
    CHECK(ch == NULL);
    /* Refused fds stay the caller's. */
    CHECK_OK(close(p[0]));
    CHECK_OK(close(p[1]));
    CHECK_OK(close(devnull));
    CHECK_OK(close(udp));
    CHECK_OK(close(tcp));
    CHECK_OK(close(unconnected));
    CHECK_OK(close(listening));
    CHECK_LOOP_CLOSE(&loop);
}

static void clear_env(void)
{
    unsetenv("NODE_CHANNEL_FD");
    unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
}

static void set_fd_env(int fd)
{
    char s[16];
    snprintf(s, sizeof s, "%d", fd);
    setenv("NODE_CHANNEL_FD", s, 1);
}

TEST(from_parent_validation)
{
    static const char *const bad_numbers[] = {"abc", "-1", "3x", " 3", "+3", "99999999999"};
    uvproc_channel_options_t o = {0};
    uv_loop_t loop;
    uvproc_channel_t *ch = (uvproc_channel_t *)1;
    int p[2], devnull, sv[2], closed, flags, listening;

    CHECK_OK(uv_loop_init(&loop));
    clear_env();
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UVPROC_ENOCHANNEL);
    CHECK(ch == NULL);
    setenv("NODE_CHANNEL_FD", "", 1);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UVPROC_ENOCHANNEL);
    for (size_t i = 0; i < sizeof bad_numbers / sizeof bad_numbers[0]; i++) {
        setenv("NODE_CHANNEL_FD", bad_numbers[i], 1);
        CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UV_EINVAL);
    }
    closed = dup(0);
    close(closed);
    set_fd_env(closed);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UV_EBADF);
    CHECK_OK(pipe(p));
    set_fd_env(p[0]);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UV_ENOTSOCK);
    devnull = open("/dev/null", O_RDWR);
    set_fd_env(devnull);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UV_ENOTSOCK);
    listening = listening_unix_socket();
    set_fd_env(listening);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UV_ENOTCONN);
    close(listening);
    /* A refusal changes nothing: the variables are still there. */
    CHECK(getenv("NODE_CHANNEL_FD") != NULL);

    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    set_fd_env(sv[0]);
    setenv("NODE_CHANNEL_SERIALIZATION_MODE", "advanced", 1);
    CHECK_EQ(uvproc_channel_from_parent(&loop, &ch, NULL), UVPROC_ESERIALIZATION);
    CHECK(getenv("NODE_CHANNEL_FD") != NULL);
    CHECK(getenv("NODE_CHANNEL_SERIALIZATION_MODE") != NULL);

    /* Adopted: variables gone, close-on-exec set, and with no callbacks the channel does
     * not keep the loop alive (Node's child channel starts unref'd). */
    setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1);
    CHECK_OK(uvproc_channel_from_parent(&loop, &ch, &o));
    CHECK(getenv("NODE_CHANNEL_FD") == NULL);
    CHECK(getenv("NODE_CHANNEL_SERIALIZATION_MODE") == NULL);
    flags = fcntl(sv[0], F_GETFD);
    CHECK(flags >= 0 && (flags & FD_CLOEXEC));
    CHECK(!uv_loop_alive(&loop));
    /* A pending write keeps the loop alive until it is written, and only that long. */
    CHECK_EQ(uvproc_channel_send_new(ch, json_string("x"), NULL, NULL), 1);
    CHECK(uv_loop_alive(&loop));
    CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    {
        char buf[8] = "";
        CHECK_EQ(read(sv[1], buf, sizeof buf - 1), 4);
        CHECK_STR(buf, "\"x\"\n");
    }
    /* A listener refs it (Node's 'message' listener), removing it unrefs it again. */
    uvproc_channel_set_on_message(ch, p_message);
    CHECK(uv_loop_alive(&loop));
    uvproc_channel_set_on_message(ch, NULL);
    CHECK(!uv_loop_alive(&loop));
    uvproc_channel_ref(ch);
    CHECK(uv_loop_alive(&loop));
    CHECK_OK(uvproc_channel_disconnect(ch));
    CHECK_LOOP_CLOSE(&loop);

    /* An on_message given up front: ref'd from the start. */
    {
        peer_t a;
        uvproc_channel_options_t po;
        peer_init(&a);
        po = peer_options(&a);
        CHECK_OK(uv_loop_init(&loop));
        set_fd_env(sv[1]);
        CHECK_OK(uvproc_channel_from_parent(&loop, &a.ch, &po));
        CHECK(uv_loop_alive(&loop));
        uvproc_channel_unref(a.ch);
        CHECK(!uv_loop_alive(&loop));
        CHECK_OK(uvproc_channel_disconnect(a.ch));
        CHECK_LOOP_CLOSE(&loop);
        peer_free(&a);
    }
    clear_env();
    close(p[0]);
    close(p[1]);
    close(devnull);
}

int main(int argc, char **argv)
{
    RUN(every_json_type);
    RUN(wire_format);
    RUN(ten_megabytes);
    RUN(hundred_thousand_in_order_batched);
    RUN(reply_never_cuts_a_written_through_frame);
    RUN(batches_follow_loop_turns);
    RUN(bad_input_is_reported_and_skipped);
    RUN(send_raw_validation);
    RUN(disconnect_flushes_queued_frames);
    RUN(unwritten_frames_are_cancelled);
    RUN(eof_disconnects_once);
    RUN(messages_wait_for_a_listener);
    RUN(internal_messages_are_routed);
    RUN(big_integer_changes_only_itself);
    RUN(cmd_compared_with_its_length);
    RUN(handles_between_c_peers);
    RUN(handle_ack_protocol_on_the_wire);
    RUN(handle_without_fd_gets_nack);
    RUN(handle_never_acknowledged_times_out);
    RUN(write_error_reads_what_was_sent_first);
    RUN(unclaimed_fds_are_capped);
    RUN(open_validates_the_fd);
    RUN(from_parent_validation);
    return check_done();
}
