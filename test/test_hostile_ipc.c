/* Hostile input on an IPC channel (stress suite): twenty kinds of bytes a broken or malicious
 * peer can send, each followed by a sentinel message. The channel must report what is bad,
 * skip it, answer what needs answering, hold no more fds than it may, and deliver every
 * sentinel, in order; then close cleanly at EOF. The peer is a raw socket in this process. */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>

#include "check.h"
#include "send_fd.h"
#include "uvproc.h"

typedef struct {
    uvproc_channel_t *ch;
    int64_t next_sentinel; /* {"s":k} seen so far, in order */
    int out_of_order;
    size_t other_msgs, internal_msgs, errors, fds_dropped, disconnects;
} victim_t;

static victim_t v;
static uv_loop_t loop;
static int peer = -1;

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    json_t *s = json_object_get(msg, "s");
    (void)ch;
    if (h != NULL)
        uvproc_handle_close(h->stream);
    if (json_is_integer(s) && json_object_size(msg) == 1) {
        v.out_of_order |= json_integer_value(s) != v.next_sentinel;
        v.next_sentinel++;
    } else {
        v.other_msgs++;
    }
}

static void on_internal(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    (void)ch;
    (void)msg;
    if (h != NULL)
        uvproc_handle_close(h->stream);
    v.internal_msgs++;
}

static void on_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    (void)line;
    v.errors++;
    if (err == UV_EPROTO)
        v.fds_dropped += len;
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    v.disconnects++;
}

/* Reads and discards what the channel answers (NACKs, socket counts), so it never blocks. */
static void drain_replies(void)
{
    char buf[4096];
    while (recv(peer, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
}

/* Writes everything, running the victim's loop whenever the socket is full. */
static void feed(const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = send(peer, p, len, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            CHECK(errno == EAGAIN || errno == EINTR);
            uv_run(&loop, UV_RUN_NOWAIT);
            drain_replies();
            continue;
        }
        p += n;
        len -= (size_t)n;
    }
    uv_run(&loop, UV_RUN_NOWAIT);
    drain_replies();
}

#define FEED(lit) feed((lit), sizeof(lit) - 1)

static int sentinels_sent;
static void sentinel(void)
{
    char line[32];
    int n = snprintf(line, sizeof line, "{\"s\":%d}\n", sentinels_sent++);
    feed(line, (size_t)n);
}

static void send_fd_alone(int fd)
{
    while (send_with_fd(peer, " ", 1, fd, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
        CHECK(errno == EAGAIN || errno == EINTR);
        uv_run(&loop, UV_RUN_NOWAIT);
        drain_replies();
    }
    uv_run(&loop, UV_RUN_NOWAIT);
}

/* A line of `n` copies of `c` (then "\n"): malloc'd. */
static char *repeat(char c, size_t n, size_t *len)
{
    char *s = malloc(n + 1);
    CHECK(s != NULL);
    memset(s, c, n);
    s[n] = '\n';
    *len = n + 1;
    return s;
}

TEST(twenty_kinds_of_hostile_input)
{
    uvproc_channel_options_t o = {.max_message_size = 64 * 1024,
                                  .on_message = on_message,
                                  .on_internal = on_internal,
                                  .on_error = on_error,
                                  .on_disconnect = on_disconnect};
    int sv[2], spare[2];
    size_t len;
    char *big;

    memset(&v, 0, sizeof v);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    CHECK_OK(socketpair(AF_UNIX, SOCK_STREAM, 0, spare));
    CHECK_OK(uvproc_channel_open(&loop, &v.ch, sv[0], &o));
    peer = sv[1];

    FEED("not json\n"); /* 1: not JSON */
    sentinel();
    FEED("\n\n"); /* 2: empty lines */
    sentinel();
    FEED("   \t \n"); /* 3: whitespace only */
    sentinel();
    FEED("1 2\n{}{}\n"); /* 4: two values on a line */
    sentinel();
    big = repeat('[', 100000, &len); /* 5: nesting far past any parser's stack */
    feed(big, len);
    free(big);
    sentinel();
    big = repeat('x', 200 * 1024, &len); /* 6: a line over max_message_size */
    feed(big, len);
    free(big);
    sentinel();
    feed("\"a\0b\"\n", 6); /* 7: a raw NUL inside a string */
    sentinel();
    FEED("\"\xff\xfe\xc0\x80\"\n"); /* 8: invalid UTF-8, an overlong NUL */
    sentinel();
    FEED("[\"\\udc00\",\"\\ud800\\u0041\"]\n"); /* 9: lone surrogates (read as U+FFFD) */
    sentinel();
    FEED("[1e400,-1e400,1e-400,-0,18446744073709551616]\n"); /* 10: numbers at the edges */
    sentinel();
    FEED("{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":1}\n"); /* 11: no fd: NACK */
    sentinel();
    FEED("{\"cmd\":\"NODE_HANDLE_ACK\"}\n{\"cmd\":\"NODE_HANDLE_NACK\"}\n"); /* 12: unasked */
    sentinel();
    {
        /* 13: an envelope wrapped 1,000 times */
        size_t cap = 64 * 1000 + 64, n = 0;
        char *s = malloc(cap);
        CHECK(s != NULL);
        for (int i = 0; i < 1000; i++)
            n += (size_t)snprintf(s + n, cap - n, "{\"cmd\":\"NODE_HANDLE\",\"msg\":");
        n += (size_t)snprintf(s + n, cap - n, "0");
        for (int i = 0; i < 1000; i++)
            s[n++] = '}';
        s[n++] = '\n';
        feed(s, n);
        free(s);
    }
    sentinel();
    FEED("{\"cmd\":\"NODE_HANDLE\\u0000\",\"msg\":2}\n"); /* 14: a NUL in cmd */
    sentinel();
    for (int i = 0; i < 500; i++) /* 15: 500 fds no envelope claims */
        send_fd_alone(spare[0]);
    FEED("\n");
    sentinel();
    FEED("{\"crlf\":1}\r\n"); /* 16: CRLF */
    sentinel();
    {
        const char *s = "{\"byte\":\"by byte\"}\n"; /* 17: one byte per write */
        for (size_t i = 0; s[i] != '\0'; i++)
            feed(s + i, 1);
    }
    sentinel();
    {
        /* 18: 10,000 tiny messages in one write */
        char *s = malloc(20000);
        CHECK(s != NULL);
        for (int i = 0; i < 10000; i++)
            memcpy(s + 2 * i, "0\n", 2);
        feed(s, 20000);
        free(s);
    }
    sentinel();
    {
        /* 19: 64 KiB of noise, newlines included */
        unsigned char *noise = check_random_bytes(64 * 1024, 7);
        feed(noise, 64 * 1024);
        free(noise);
        FEED("\n");
    }
    sentinel();
    FEED("{\"cmd\":\"NODE_SOCKET_GET_COUNT\"}\n"); /* 20: a query without its key */
    sentinel();
    FEED("{\"partial\":"); /* and a last line cut by EOF */
    CHECK_OK(shutdown(peer, SHUT_WR));
    while (v.disconnects == 0) {
        uv_run(&loop, UV_RUN_ONCE);
        drain_replies();
    }
    CHECK_LOOP_CLOSE(&loop);

    CHECK_EQ(v.next_sentinel, sentinels_sent);
    CHECK(!v.out_of_order);
    CHECK_EQ(v.disconnects, 1);
    /* 10,000 zeros, the surrogates, the numbers (if jansson took 1e400), the CRLF and
     * byte-by-byte lines, the NUL-in-cmd message went to on_internal. */
    CHECK(v.other_msgs >= 10003);
    CHECK(v.internal_msgs >= 1);
    CHECK(v.errors >= 10);
    CHECK(v.fds_dropped >= 500 - 16);
    close(peer);
    close(spare[0]);
    close(spare[1]);
}

int main(int argc, char **argv)
{
    RUN(twenty_kinds_of_hostile_input);
    return check_done();
}
