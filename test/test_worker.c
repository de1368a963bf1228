/* Worker threads: lifecycle and events (online, message, messageerror, error, exit),
 * workerData, exit codes, terminate (waiting and busy workers), ref/unref, handles a worker
 * leaves open, nested workers, and bad input (the environment: test_worker_env.c). */
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

#include "worker_util.h"

/* What the parent saw, in order: "online message exit(3)". */
typedef struct {
    char log[512];
    int exit_code, exits, errors, error_code;
    char error_message[64];
    size_t stray;
    json_t *last;
    int terminate_code, terminate_calls;
} seen_t;

static void seen_add(seen_t *s, const char *what)
{
    size_t len = strlen(s->log);
    snprintf(s->log + len, sizeof s->log - len, "%s%s", len > 0 ? " " : "", what);
}

static void on_online(uvproc_worker_t *w)
{
    seen_add(uvproc_worker_data(w), "online");
}

static void on_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    seen_t *s = uvproc_worker_data(w);
    seen_add(s, "message");
    json_decref(s->last);
    s->last = json_incref(msg->value);
}

static void on_messageerror(uvproc_worker_t *w, int err, const char *text, size_t len)
{
    CHECK_EQ(err, UVPROC_EBADMSG);
    CHECK(len > 0 && text != NULL);
    seen_add(uvproc_worker_data(w), "messageerror");
}

static void on_error(uvproc_worker_t *w, int err, const char *message)
{
    seen_t *s = uvproc_worker_data(w);
    seen_add(s, "error");
    s->errors++;
    s->error_code = err;
    snprintf(s->error_message, sizeof s->error_message, "%s", message);
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    seen_t *s = uvproc_worker_data(w);
    char buf[32];
    snprintf(buf, sizeof buf, "exit(%d)", code);
    seen_add(s, buf);
    s->exit_code = code;
    s->exits++;
    s->stray = uvproc_worker_stray_handles(w);
    /* Too late for anything else. */
    CHECK_EQ(uvproc_worker_post(w, json_null(), NULL), UV_EPIPE);
    CHECK_EQ(uvproc_worker_terminate(w, NULL, NULL), UV_ESRCH);
}

static uvproc_worker_options_t opts_for(seen_t *s)
{
    return (uvproc_worker_options_t){.data = s,
                                     .on_online = on_online,
                                     .on_message = on_message,
                                     .on_messageerror = on_messageerror,
                                     .on_error = on_error,
                                     .on_exit = on_exit_cb};
}

static void run_and_close(uv_loop_t *loop, seen_t *s)
{
    CHECK_OK(uv_run(loop, UV_RUN_DEFAULT));
    CHECK_LOOP_CLOSE(loop);
    CHECK_EQ(s->exits, 1);
    json_decref(s->last);
    s->last = NULL;
}

/* Runs one worker to its exit on a fresh loop, which must then close cleanly; the caller
 * checks what was seen, then drops s->last. */
static void run_worker(uvproc_worker_entry_t entry, const uvproc_worker_options_t *o, seen_t *s)
{
    uv_loop_t loop;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, NULL, entry, o));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_LOOP_CLOSE(&loop);
    CHECK_EQ(s->exits, 1);
}

/* --- ping / pong: the parent posts "ping", the worker answers {"pong": "ping"} and closes
 * its parent port; its loop is then empty, so it ends with the entry's return value. */

static void pong_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    CHECK_STR(json_string_value(msg->value), "ping");
    CHECK_OK(uvproc_port_post_new(port, json_pack("{s:O}", "pong", msg->value), NULL));
    CHECK_OK(uvproc_port_close(port));
}

static int pong_marker;

static int pong_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = pong_on_message};
    CHECK(arg == &pong_marker);
    CHECK(!uvproc_is_main_thread());
    CHECK(uvproc_thread_id() > 0);
    CHECK_OK(uvproc_port_start(uvproc_parent_port(), loop, &o));
    return 3;
}

TEST(events_in_order)
{
    uv_loop_t loop;
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    json_t *ping = json_string("ping");
    o.arg = &pong_marker;
    CHECK_OK(uv_loop_init(&loop));
    CHECK(uvproc_is_main_thread());
    CHECK_EQ(uvproc_thread_id(), 0);
    CHECK(uvproc_parent_port() == NULL);
    CHECK_OK(uvproc_worker_start(&loop, &w, pong_entry, &o));
    CHECK(uvproc_worker_thread_id(w) > 0);
    /* Posted before the worker listens: it waits in the port's queue. */
    CHECK_OK(uvproc_worker_post(w, ping, NULL));
    json_decref(ping);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_STR(s.log, "online message exit(3)");
    CHECK_STR(json_string_value(json_object_get(s.last, "pong")), "ping");
    CHECK_EQ(s.stray, 0);
    run_and_close(&loop, &s);
}

/* --- workerData, name, thread id: the worker sends back what it was given. */

static int data_entry(uv_loop_t *loop, void *arg)
{
    const json_t *d = uvproc_worker_workerdata();
    (void)loop;
    CHECK(d != NULL && d != arg); /* its own copy */
    CHECK_OK(
        uvproc_port_post_new(uvproc_parent_port(),
                             json_pack("{s:O,s:s,s:I}", "data", d, "name", uvproc_worker_name(),
                                       "id", (json_int_t)uvproc_thread_id()),
                             NULL));
    return 0;
}

TEST(worker_data_is_a_copy)
{
    uv_loop_t loop;
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    json_t *data = json_pack("{s:s,s:[i,i]}", "greeting", "Hello", "list", 1, 2);
    o.worker_data = data;
    o.arg = data;
    o.name = "data-worker";
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, data_entry, &o));
    uint64_t id = uvproc_worker_thread_id(w);
    /* Changing ours after the start changes nothing for the worker. */
    json_object_set_new(data, "greeting", json_string("changed"));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_STR(json_string_value(json_object_get(json_object_get(s.last, "data"), "greeting")),
              "Hello");
    CHECK_EQ(json_array_size(json_object_get(json_object_get(s.last, "data"), "list")), 2);
    CHECK_STR(json_string_value(json_object_get(s.last, "name")), "data-worker");
    CHECK_EQ(json_integer_value(json_object_get(s.last, "id")), (json_int_t)id);
    CHECK_STR(s.log, "online message exit(0)");
    json_decref(data);
    run_and_close(&loop, &s);
}

/* --- exit codes: uvproc_worker_exit from a callback ends only the worker, with its code. */

static void exit_timer(uv_timer_t *t)
{
    (void)t;
    CHECK_OK(uvproc_worker_exit(42));
    CHECK(uvproc_worker_should_stop());
}

static int exit_entry(uv_loop_t *loop, void *arg)
{
    static _Thread_local uv_timer_t t1, t2;
    (void)arg;
    uv_timer_init(loop, &t1);
    uv_timer_start(&t1, exit_timer, 0, 0);
    /* Would keep the worker alive for an hour: the exit closes it. */
    uv_timer_init(loop, &t2);
    uv_timer_start(&t2, exit_timer, 3600 * 1000, 0);
    return 0;
}

static int exit_now_entry(uv_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    CHECK_OK(uvproc_worker_exit(5));
    CHECK_OK(uvproc_worker_exit(6)); /* the first code counts */
    return 0;
}

TEST(exit_code_from_worker_exit)
{
    uv_loop_t loop;
    seen_t s = {0}, s2 = {0};
    uvproc_worker_options_t o = opts_for(&s), o2 = opts_for(&s2);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, NULL, exit_entry, &o));
    CHECK_OK(uvproc_worker_start(&loop, NULL, exit_now_entry, &o2));
    CHECK_EQ(uvproc_worker_exit(1), UV_EINVAL); /* not in a worker */
    CHECK_EQ(uvproc_worker_should_stop(), 0);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_STR(s.log, "online exit(42)");
    CHECK_EQ(s.stray, 2); /* both timers, closed by the library */
    CHECK_STR(s2.log, "online exit(5)");
    run_and_close(&loop, &s);
}

/* --- error: messages posted before the error arrive first; then error, then exit(1). */

static int fail_entry(uv_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), json_string("before"), NULL));
    CHECK_OK(uvproc_worker_fail(UV_EINVAL, "boom: bad input"));
    CHECK_OK(uvproc_worker_exit(9)); /* after an error, nothing changes the outcome */
    return 0;
}

TEST(error_then_exit_1)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    run_worker(fail_entry, &o, &s);
    CHECK_EQ(uvproc_worker_fail(1, "x"), UV_EINVAL);
    CHECK_STR(s.log, "online message error exit(1)");
    CHECK_EQ(s.error_code, UV_EINVAL);
    CHECK_STR(s.error_message, "boom: bad input");
    json_decref(s.last);
}

/* --- messageerror: text that does not parse, both ways; the ports live on. */

static void me_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    /* The parent's good text, after its bad one: answer with bad text, then good. */
    CHECK_EQ(json_array_size(msg->value), 2);
    CHECK_OK(uvproc_port_post_text(port, "[1,", 3));
    CHECK_OK(uvproc_port_post_text(port, "{\"ok\":true}", 11));
    uvproc_port_close(port);
}

static void me_on_messageerror(uvproc_port_t *port, int err, const char *text, size_t len)
{
    (void)port;
    CHECK_EQ(err, UVPROC_EBADMSG);
    CHECK_EQ(len, 4);
    CHECK(memcmp(text, "{bad", 4) == 0);
}

static int me_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = me_on_message, .on_messageerror = me_on_messageerror};
    (void)arg;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

TEST(messageerror_both_ways)
{
    uv_loop_t loop;
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, me_entry, &o));
    CHECK_OK(uvproc_worker_post_text(w, "{bad", 4));
    CHECK_OK(uvproc_worker_post_text(w, "[1,2]", 5));
    CHECK_EQ(uvproc_worker_post_text(w, NULL, 3), UV_EINVAL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_STR(s.log, "online messageerror message exit(0)");
    CHECK(json_is_true(json_object_get(s.last, "ok")));
    run_and_close(&loop, &s);
}

/* --- terminate: a worker waiting on its loop (a ref'd timer an hour away, its parent port
 * listening) is stopped at once, exit code 1, and the terminate callback follows on_exit. */

static void noop_port_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    (void)port;
    (void)msg;
}

static int waiting_entry(uv_loop_t *loop, void *arg)
{
    static _Thread_local uv_timer_t t;
    uvproc_port_options_t o = {.on_message = noop_port_message};
    (void)arg;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, exit_timer, 3600 * 1000, 0);
    CHECK_OK(uvproc_port_start(uvproc_parent_port(), loop, &o));
    /* Tells the parent it is now waiting on its loop. */
    return uvproc_port_post_new(uvproc_parent_port(), json_string("waiting"), NULL);
}

static void on_terminated(uvproc_worker_t *w, int code, void *data)
{
    seen_t *s = data;
    CHECK(uvproc_worker_data(w) == s);
    CHECK_EQ(s->exits, 1); /* after on_exit */
    s->terminate_code = code;
    s->terminate_calls++;
}

static void terminate_on_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    seen_t *s = uvproc_worker_data(w);
    on_message(w, msg);
    CHECK_OK(uvproc_worker_terminate(w, on_terminated, s));
    CHECK_EQ(uvproc_worker_terminate(w, on_terminated, s), UV_EALREADY);
    CHECK_EQ(uvproc_worker_post(w, json_null(), NULL), UV_EPIPE);
}

TEST(terminate_waiting_worker)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    o.on_message = terminate_on_message;
    uint64_t t0 = uv_hrtime();
    run_worker(waiting_entry, &o, &s);
    CHECK((uv_hrtime() - t0) < 10ull * 1000 * 1000 * 1000);
    CHECK_STR(s.log, "online message exit(1)");
    CHECK_EQ(s.terminate_calls, 1);
    CHECK_EQ(s.terminate_code, 1);
    CHECK_EQ(s.stray, 1); /* the timer */
    json_decref(s.last);
}

/* A busy worker that polls the cooperative check: it never returns to its loop on its own. */
static int busy_entry(uv_loop_t *loop, void *arg)
{
    volatile unsigned long spins = 0;
    (void)loop;
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), json_string("busy"), NULL));
    while (!uvproc_worker_should_stop())
        spins++;
    *(unsigned long *)arg = spins + 1; /* it got out of the loop */
    return 0;
}

TEST(terminate_busy_worker)
{
    seen_t s = {0};
    unsigned long spins = 0;
    uvproc_worker_options_t o = opts_for(&s);
    o.on_message = terminate_on_message;
    o.arg = &spins;
    run_worker(busy_entry, &o, &s);
    CHECK_STR(s.log, "online message exit(1)");
    CHECK_EQ(s.terminate_code, 1);
    CHECK(spins > 0); /* the busy loop ended through the check, nothing else */
    json_decref(s.last);
}

/* Terminated before its thread ran anything: the entry is never called. */
static int never_entry(uv_loop_t *loop, void *arg)
{
    (void)loop;
    *(int *)arg = 1;
    return 0;
}

TEST(terminate_right_after_start)
{
    uv_loop_t loop;
    seen_t s = {0};
    int ran = 0;
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    o.arg = &ran;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, never_entry, &o));
    CHECK_OK(uvproc_worker_terminate(w, on_terminated, &s));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    /* The entry may or may not have run (the thread may be first): the code is 1 unless it
     * had already finished on its own (then 0, as Node's terminate of an ended worker). */
    CHECK(s.exit_code == 1 || (ran && s.exit_code == 0));
    CHECK_EQ(s.terminate_calls, 1);
    CHECK_EQ(s.terminate_code, s.exit_code);
    run_and_close(&loop, &s);
}

/* --- ref/unref: an unref'd worker does not keep the parent's loop alive. */

TEST(unref_worker)
{
    uv_loop_t loop;
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, waiting_entry, &o));
    uvproc_worker_unref(w);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT)); /* returns: nothing else keeps the loop */
    CHECK_EQ(s.exits, 0);
    uvproc_worker_ref(w);
    CHECK_OK(uvproc_worker_terminate(w, NULL, NULL));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(s.exit_code, 1);
    run_and_close(&loop, &s);
}

/* --- handles left open: an unref'd timer and idle do not keep the worker alive; the
 * library closes them, counts them, and the worker's loop still closes. */

static void idle_cb(uv_idle_t *h)
{
    uv_idle_stop(h);
}

static int stray_entry(uv_loop_t *loop, void *arg)
{
    static _Thread_local uv_timer_t t;
    static _Thread_local uv_idle_t idle;
    static _Thread_local uv_async_t a;
    (void)arg;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, exit_timer, 3600 * 1000, 0);
    uv_unref((uv_handle_t *)&t);
    uv_idle_init(loop, &idle);
    uv_idle_start(&idle, idle_cb);
    uv_async_init(loop, &a, NULL);
    uv_unref((uv_handle_t *)&a);
    return 7;
}

TEST(stray_handles_closed_and_counted)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    run_worker(stray_entry, &o, &s);
    CHECK_STR(s.log, "online exit(7)");
    CHECK_EQ(s.stray, 3);
    json_decref(s.last);
}

/* --- a worker that starts a worker and then ends: the grandchild is terminated with it
 * and both threads are joined. */

static void inner_exit(uvproc_worker_t *w, int code)
{
    (void)w;
    *(int *)uvproc_worker_data(w) = code;
}

static int nested_entry(uv_loop_t *loop, void *arg)
{
    static _Thread_local int inner_code = -1;
    uvproc_worker_options_t o = {.on_exit = inner_exit, .data = &inner_code};
    (void)arg;
    CHECK_OK(uvproc_worker_start(loop, NULL, waiting_entry, &o));
    CHECK_OK(uvproc_worker_exit(4)); /* the inner worker is still waiting */
    return 0;
}

TEST(nested_worker_ends_with_parent)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    run_worker(nested_entry, &o, &s);
    CHECK_STR(s.log, "online exit(4)");
    CHECK_EQ(s.stray, 0);
    json_decref(s.last);
}

/* --- stack size: the worker runs with the stack it asked for. */

static int stack_entry(uv_loop_t *loop, void *arg)
{
    volatile char big[200 * 1024];
    (void)loop;
    (void)arg;
    memset((char *)big, 1, sizeof big);
    return big[sizeof big - 1];
}

TEST(stack_size)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    o.stack_size = 1024 * 1024;
    run_worker(stack_entry, &o, &s);
    CHECK_EQ(s.exit_code, 1);
    json_decref(s.last);
}

/* --- bad input: clear errors, nothing started, nothing leaked. */

static int post_bad_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_t *pp = uvproc_parent_port();
    uvproc_transfer_t t = {.port_count = 1, .ports = &pp};
    (void)loop;
    (void)arg;
    /* Its own parent port cannot travel through itself. */
    CHECK_EQ(uvproc_port_post(pp, json_null(), &t), UV_EINVAL);
    CHECK(t.ports[0] == pp);
    return 0;
}

TEST(bad_input)
{
    uv_loop_t loop;
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    uvproc_worker_t *w;
    char bytes[4] = "abc";
    uvproc_buf_t twice[2] = {{bytes, 3}, {bytes, 3}};
    uvproc_transfer_t t = {.transfer = twice, .transfer_count = 2};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_EQ(uvproc_worker_start(NULL, &w, pong_entry, &o), UV_EINVAL);
    CHECK_EQ(uvproc_worker_start(&loop, &w, NULL, &o), UV_EINVAL);
    CHECK_OK(uvproc_worker_start(&loop, &w, post_bad_entry, &o));
    /* The same buffer listed twice for transfer: refused, and still ours. */
    CHECK_EQ(uvproc_worker_post(w, NULL, &t), UV_EINVAL);
    CHECK(twice[0].base == bytes && twice[1].len == 3);
    twice[1] = (uvproc_buf_t){NULL, 5};
    t.transfer_count = 2;
    CHECK_EQ(uvproc_worker_post(w, NULL, &t), UV_EINVAL);
    CHECK_EQ(uvproc_worker_post(NULL, NULL, NULL), UV_EINVAL);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_STR(s.log, "online exit(0)");
    run_and_close(&loop, &s);
}

/* --- a worker closes its parent port: the parent's posts fail with EPIPE from then on. */

typedef struct {
    uv_sem_t sem;
    uvproc_worker_t *w;
    int epipe;
} closed_port_t;

static int close_port_entry(uv_loop_t *loop, void *arg)
{
    closed_port_t *c = arg;
    (void)loop;
    CHECK_OK(uvproc_port_close(uvproc_parent_port()));
    CHECK_EQ(uvproc_port_close(uvproc_parent_port()), UV_EALREADY);
    uv_sem_wait(&c->sem); /* until the parent has seen the close */
    return 0;
}

static void close_port_check(uv_check_t *h)
{
    closed_port_t *c = h->data;
    int err = uvproc_worker_post(c->w, json_null(), NULL);
    if (err == UV_EPIPE) {
        c->epipe = 1;
        uv_sem_post(&c->sem);
        uv_close((uv_handle_t *)h, NULL);
    } else {
        CHECK_OK(err);
    }
}

TEST(post_to_closed_parent_port)
{
    uv_loop_t loop;
    uv_check_t check;
    seen_t s = {0};
    closed_port_t c = {0};
    uvproc_worker_options_t o = opts_for(&s);
    o.arg = &c;
    CHECK_OK(uv_sem_init(&c.sem, 0));
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &c.w, close_port_entry, &o));
    uv_check_init(&loop, &check);
    check.data = &c;
    uv_check_start(&check, close_port_check);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK(c.epipe);
    CHECK_EQ(s.exit_code, 0);
    uv_sem_destroy(&c.sem);
    run_and_close(&loop, &s);
}

/* --- an entry that runs its loop itself (a common C habit) and is terminated in there:
 * its uv_run returns, and the library does not run the loop again. */

static int own_run_entry(uv_loop_t *loop, void *arg)
{
    static _Thread_local uv_timer_t t;
    (void)arg;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, exit_timer, 3600 * 1000, 0);
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), json_string("waiting"), NULL));
    uv_run(loop, UV_RUN_DEFAULT);
    return 0;
}

TEST(terminate_entry_running_its_own_loop)
{
    seen_t s = {0};
    uvproc_worker_options_t o = opts_for(&s);
    o.on_message = terminate_on_message;
    run_worker(own_run_entry, &o, &s);
    CHECK_STR(s.log, "online message exit(1)");
    CHECK_EQ(s.stray, 1);
    json_decref(s.last);
}

int main(int argc, char **argv)
{
    RUN_W(events_in_order);
    RUN_W(worker_data_is_a_copy);
    RUN_W(exit_code_from_worker_exit);
    RUN_W(error_then_exit_1);
    RUN_W(messageerror_both_ways);
    RUN_W(terminate_waiting_worker);
    RUN_W(terminate_busy_worker);
    RUN_W(terminate_right_after_start);
    RUN_W(terminate_entry_running_its_own_loop);
    RUN_W(unref_worker);
    RUN_W(stray_handles_closed_and_counted);
    RUN_W(nested_worker_ends_with_parent);
    RUN_W(stack_size);
    RUN_W(bad_input);
    RUN_W(post_to_closed_parent_port);
    return check_done();
}
