/* uvproc_fork with the C child test/helpers/ipc_child (its protocol is documented at its top):
 * round trips, the event order, close after either side disconnects, what the child sees. */
#include <signal.h>
#include <time.h>

#include "check.h"
#include "uvproc.h"

#ifndef IPC_CHILD
#error "IPC_CHILD must name the ipc_child helper"
#endif

typedef struct {
    uvproc_process_t *p;
    json_t *msgs;
    int events[32]; /* 's' spawn, 'm' message, 'd' disconnect, 'x' exit, 'c' close, 'e' error */
    int nev;
    int closed, disconnects, errors;
    int64_t exit_code, close_code;
    int error_code;
    int64_t counted;
    int in_order;
    int burst_done;
    void (*hook)(uvproc_channel_t *ch, json_t *msg);
} rec_t;

static rec_t rec;

static void ev(int e)
{
    CHECK(rec.nev < 32);
    if (e == 'm' && rec.nev > 0 && rec.events[rec.nev - 1] == 'm')
        return; /* a run of messages is one event */
    rec.events[rec.nev++] = e;
}

static void on_spawn(uvproc_process_t *p)
{
    (void)p;
    ev('s');
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    (void)p;
    rec.error_code = e->code;
    ev('e');
}

static void on_exit_(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)sig;
    rec.exit_code = code;
    ev('x');
}

static void on_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)p;
    (void)sig;
    rec.close_code = code;
    rec.closed++;
    ev('c');
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *h)
{
    json_t *i = json_object_get(msg, "i");
    CHECK(h == NULL);
    if (json_is_integer(i) && json_object_size(msg) == 1) {
        rec.in_order &= json_integer_value(i) == rec.counted;
        rec.counted++;
        return;
    }
    if (json_object_get(msg, "op") != NULL &&
        strcmp(json_string_value(json_object_get(msg, "op")), "burst_done") == 0)
        rec.burst_done = 1;
    ev('m');
    json_array_append(rec.msgs, msg);
    if (rec.hook != NULL)
        rec.hook(ch, msg);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
    rec.disconnects++;
    ev('d');
}

static void on_channel_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    (void)err;
    (void)line;
    (void)len;
    rec.errors++;
}

static uvproc_fork_options_t fork_options(void)
{
    uvproc_fork_options_t o = {0};
    o.spawn.on_spawn = on_spawn;
    o.spawn.on_error = on_error;
    o.spawn.on_exit = on_exit_;
    o.spawn.on_close = on_close;
    o.channel.on_message = on_message;
    o.channel.on_disconnect = on_disconnect;
    o.channel.on_error = on_channel_error;
    return o;
}

static void rec_reset(void)
{
    json_decref(rec.msgs);
    memset(&rec, 0, sizeof rec);
    rec.msgs = json_array();
    rec.exit_code = rec.close_code = -99;
    rec.in_order = 1;
}

static void check_events(const char *want)
{
    char got[33];
    for (int i = 0; i < rec.nev; i++)
        got[i] = (char)rec.events[i];
    got[rec.nev] = '\0';
    CHECK_STR(got, want);
}

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    CHECK(v != NULL);
    return v;
}

static void send_text(uvproc_channel_t *ch, const char *s)
{
    CHECK(uvproc_channel_send_new(ch, parse(s), NULL, NULL) >= 0);
}

/* ---------------------------------------------------------------------------------------- */

static void quit_after_echoes(uvproc_channel_t *ch, json_t *msg)
{
    (void)msg;
    if (json_array_size(rec.msgs) == 3)
        send_text(ch, "{\"op\":\"disconnect\"}");
}

TEST(echo_round_trip)
{
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;
    uvproc_channel_t *ch;

    rec_reset();
    rec.hook = quit_after_echoes;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, NULL, &o));
    ch = uvproc_process_channel(rec.p);
    CHECK(ch != NULL);
    /* Sent before the child even started: queued, then delivered. */
    send_text(ch, "{\"hello\":\"world\",\"n\":[1,2.5,null]}");
    send_text(ch, "\"\xe2\x80\xa8 \xf0\x9f\x98\x80\"");
    send_text(ch, "-12");
    CHECK_LOOP_CLOSE(&loop);
    {
        json_t *want = parse("[{\"hello\":\"world\",\"n\":[1,2.5,null]},"
                             "\"\xe2\x80\xa8 \xf0\x9f\x98\x80\",-12]");
        CHECK(json_equal(want, rec.msgs));
        json_decref(want);
    }
    CHECK_EQ(rec.disconnects, 1);
    CHECK_EQ(rec.closed, 1);
    CHECK_EQ(rec.exit_code, 0);
    CHECK_EQ(rec.errors, 0);
    CHECK_EQ(rec.events[0], 's');
    CHECK_EQ(rec.events[1], 'm');
    CHECK_EQ(rec.events[rec.nev - 1], 'c');
}

/* The child disconnects, then exits only when its stdin ends, which we cause from
 * on_disconnect: the order is fixed, nothing left to chance. */
static void end_stdin(uvproc_channel_t *ch)
{
    (void)ch;
    rec.disconnects++;
    ev('d');
    CHECK_OK(uvproc_end(rec.p, 0));
}

TEST(event_order)
{
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    o.spawn.stdio[0].type = UVPROC_STDIO_PIPE;
    o.channel.on_disconnect = end_stdin;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, NULL, &o));
    send_text(uvproc_process_channel(rec.p), "\"ping\"");
    send_text(uvproc_process_channel(rec.p), "{\"op\":\"disconnect_wait_stdin\"}");
    CHECK_LOOP_CLOSE(&loop);
    check_events("smdxc");
    CHECK_EQ(rec.close_code, 0);
}

static void parent_disconnects(uvproc_channel_t *ch, json_t *msg)
{
    (void)msg;
    CHECK_OK(uvproc_channel_disconnect(ch));
    /* Still there until on_disconnect. */
    CHECK(uvproc_process_channel(rec.p) == ch);
}

static void check_gone(uvproc_channel_t *ch)
{
    (void)ch;
    rec.disconnects++;
    ev('d');
}

TEST(close_after_parent_disconnect)
{
    /* Node never emits 'close' here (nodejs/node#19433); we must. */
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    rec.hook = parent_disconnects;
    o.channel.on_disconnect = check_gone;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, NULL, &o));
    uvproc_process_retain(rec.p);
    send_text(uvproc_process_channel(rec.p), "\"ping\"");
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(rec.disconnects, 1);
    CHECK_EQ(rec.closed, 1);
    CHECK_EQ(rec.exit_code, 0);
    CHECK(uvproc_process_channel(rec.p) == NULL);
    uvproc_process_release(rec.p);
    CHECK_EQ(rec.events[rec.nev - 1], 'c');
}

TEST(child_environment)
{
    /* The user's env cannot redirect the channel: fork overrides both variables. */
    static const char *const env[] = {"NODE_CHANNEL_FD=9",
                                      "NODE_CHANNEL_SERIALIZATION_MODE=advanced", NULL};
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    rec.hook = quit_after_echoes;
    o.spawn.env = env;
    o.spawn.env_mode = UVPROC_ENV_EXTEND;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, NULL, &o));
    send_text(uvproc_process_channel(rec.p), "{\"op\":\"env\"}");
    send_text(uvproc_process_channel(rec.p), "1");
    send_text(uvproc_process_channel(rec.p), "2");
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(json_array_size(rec.msgs), 3);
    {
        /* After adoption the child sees neither variable, and the channel fd is
         * close-on-exec, so its own children inherit nothing. */
        json_t *want = parse("{\"op\":\"env\",\"fd_env\":null,\"mode_env\":null,\"cloexec\":true}");
        CHECK(json_equal(want, json_array_get(rec.msgs, 0)));
        json_decref(want);
    }
    CHECK_EQ(rec.exit_code, 0);
}

TEST(missing_program)
{
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, "/nonexistent/ipc_child", NULL, &o));
    CHECK(uvproc_process_channel(rec.p) == NULL);
    CHECK_LOOP_CLOSE(&loop);
    check_events("ec");
    CHECK_EQ(rec.error_code, UV_ENOENT);
    CHECK_EQ(rec.close_code, UV_ENOENT);
    CHECK_EQ(rec.disconnects, 0);
    CHECK_EQ(json_array_size(rec.msgs), 0);

    /* Bad arguments: nothing created, nothing to come. */
    CHECK_OK(uv_loop_init(&loop));
    CHECK_EQ(uvproc_fork(&loop, &rec.p, NULL, NULL, &o), UV_EINVAL);
    CHECK(rec.p == NULL);
    CHECK_EQ(uvproc_fork(NULL, NULL, IPC_CHILD, NULL, &o), UV_EINVAL);
    CHECK_LOOP_CLOSE(&loop);
}

TEST(child_that_ignores_the_channel)
{
    /* A program that never adopts the channel: its exit closes the socket, which ends the
     * channel, and close follows. */
    static const char *const args[] = {"-c", "exit 7", NULL};
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, "/bin/sh", args, &o));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(rec.disconnects, 1);
    CHECK_EQ(rec.closed, 1);
    CHECK_EQ(rec.close_code, 7);
}

/* A C child finishes cleanly when told to (jest-worker's end(): the worker stops listening
 * and is expected to exit): its loop closes with nothing open (exit 0, not 3), the parent
 * sees disconnect, exit and close. The one clean way is uvproc_channel_disconnect from the
 * callback; a child that only dropped on_message disconnects after uv_run returned and runs
 * the loop once more. */
static void end_after_reply(uvproc_channel_t *ch, json_t *msg)
{
    (void)msg;
    send_text(ch, "{\"op\":\"end\"}");
}

TEST(child_finishes_cleanly_after_end)
{
    static const char *const modes[] = {"jest", "jest-unlisten"};
    for (size_t i = 0; i < 2; i++) {
        const char *args[] = {modes[i], NULL};
        uvproc_fork_options_t o = fork_options();
        uv_loop_t loop;

        rec_reset();
        rec.hook = end_after_reply;
        CHECK_OK(uv_loop_init(&loop));
        CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, args, &o));
        send_text(uvproc_process_channel(rec.p), "{\"job\":1}");
        CHECK_LOOP_CLOSE(&loop);
        CHECK_EQ(json_array_size(rec.msgs), 1);
        CHECK_EQ(rec.disconnects, 1);
        CHECK_EQ(rec.closed, 1);
        CHECK_EQ(rec.exit_code, 0);
    }
}

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static double t_burst;
static void after_burst(uvproc_channel_t *ch, json_t *msg)
{
    const char *op = json_string_value(json_object_get(msg, "op"));
    if (op != NULL && strcmp(op, "burst_done") == 0) {
        fprintf(stderr, "# child->parent: %lld messages in %.1f ms\n", (long long)rec.counted,
                now_ms() - t_burst);
        t_burst = now_ms();
        for (int i = 0; i < 100000; i++)
            uvproc_channel_send_new(ch, json_pack("{s:i}", "i", i), NULL, NULL);
        send_text(ch, "{\"op\":\"count\"}");
    } else if (op != NULL && strcmp(op, "count") == 0) {
        fprintf(stderr, "# parent->child: 100000 messages in %.1f ms\n", now_ms() - t_burst);
        CHECK_OK(uvproc_channel_disconnect(ch));
    }
}

TEST(hundred_thousand_both_ways)
{
    uvproc_fork_options_t o = fork_options();
    uv_loop_t loop;

    rec_reset();
    rec.hook = after_burst;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_fork(&loop, &rec.p, IPC_CHILD, NULL, &o));
    t_burst = now_ms();
    send_text(uvproc_process_channel(rec.p), "{\"op\":\"burst\",\"n\":100000}");
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(rec.counted, 100000);
    CHECK(rec.in_order);
    CHECK(rec.burst_done);
    {
        json_t *want = parse("{\"op\":\"count\",\"n\":100000,\"in_order\":true}");
        CHECK(json_equal(want, json_array_get(rec.msgs, 1)));
        json_decref(want);
    }
    CHECK_EQ(rec.exit_code, 0);
    CHECK_EQ(rec.closed, 1);
}

int main(int argc, char **argv)
{
    RUN(echo_round_trip);
    RUN(event_order);
    RUN(close_after_parent_disconnect);
    RUN(child_environment);
    RUN(missing_program);
    RUN(child_that_ignores_the_channel);
    RUN(child_finishes_cleanly_after_end);
    RUN(hundred_thousand_both_ways);
    json_decref(rec.msgs);
    return check_done();
}
