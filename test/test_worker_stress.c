/* Worker threads under load: 100k messages each way in order, a 100 MB buffer transferred
 * (the same pointer arrives) and copied, 64 workers started and ended 100 times with no
 * thread, fd or byte left (run under ASan for the bytes; fewer rounds under TSan and
 * valgrind, see churn_rounds), terminating 64 waiting workers at once, and messages (with
 * transferred buffers) still queued to a worker that ends without reading them. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

#include "worker_util.h"

/* --- 100k ordered messages, both ways at once. */

#define ORDERED_N 100000

typedef struct {
    json_int_t next;
} ordered_t;

static void worker_counts(uvproc_port_t *port, uvproc_message_t *msg)
{
    static _Thread_local json_int_t next;
    CHECK_EQ(json_integer_value(json_object_get(msg->value, "n")), next);
    if (++next == ORDERED_N) {
        next = 0;
        CHECK_OK(uvproc_port_close(port));
    }
}

static int ordered_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = worker_counts};
    uvproc_port_t *pp = uvproc_parent_port();
    (void)arg;
    for (json_int_t i = 0; i < ORDERED_N; i++)
        CHECK_OK(uvproc_port_post_new(pp, json_pack("{s:I}", "n", i), NULL));
    return uvproc_port_start(pp, loop, &o);
}

static void parent_counts(uvproc_worker_t *w, uvproc_message_t *msg)
{
    ordered_t *o = uvproc_worker_data(w);
    CHECK_EQ(json_integer_value(json_object_get(msg->value, "n")), o->next);
    o->next++;
}

TEST(hundred_k_messages_in_order)
{
    uv_loop_t loop;
    ordered_t got = {0};
    uvproc_worker_options_t o = {.on_message = parent_counts, .data = &got};
    uvproc_worker_t *w;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, ordered_entry, &o));
    for (json_int_t i = 0; i < ORDERED_N; i++)
        CHECK_OK(uvproc_worker_post_new(w, json_pack("{s:I}", "n", i), NULL));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(got.next, ORDERED_N);
    CHECK_LOOP_CLOSE(&loop);
}

/* --- 100 MB: transferred there and back (the pointer never changes), then copied. */

#define BIG (100u * 1024 * 1024)

typedef struct {
    unsigned char *orig;
    int back, copied_ok, exits;
} big_t;

static int pattern_ok(const unsigned char *b, size_t len)
{
    for (size_t i = 0; i < len; i += 4096)
        if (b[i] != (unsigned char)(i / 4096 * 31))
            return 0;
    return b[len - 1] == 0xAB;
}

static void big_worker_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    uintptr_t ptr = (uintptr_t)json_integer_value(json_object_get(msg->value, "ptr"));
    int copy = json_is_true(json_object_get(msg->value, "copy"));
    CHECK_EQ(msg->buffer_count, 1);
    CHECK_EQ(msg->buffers[0].len, BIG);
    CHECK(pattern_ok(msg->buffers[0].base, BIG));
    if (!copy) {
        /* Moved: the sender's pointer itself. Send it back the same way. */
        CHECK((uintptr_t)msg->buffers[0].base == ptr);
        uvproc_transfer_t t = {.transfer = msg->buffers, .transfer_count = 1};
        CHECK_OK(uvproc_port_post_new(port, json_pack("{s:s}", "back", "moved"), &t));
        CHECK(msg->buffers[0].base == NULL); /* detached: nothing left to free */
    } else {
        CHECK((uintptr_t)msg->buffers[0].base != ptr);
        CHECK_OK(uvproc_port_post_new(port, json_pack("{s:s}", "back", "copied"), NULL));
        CHECK_OK(uvproc_port_close(port)); /* the copy is freed by the library */
    }
}

static int big_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = big_worker_message};
    (void)arg;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

static void big_parent_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    big_t *b = uvproc_worker_data(w);
    const char *back = json_string_value(json_object_get(msg->value, "back"));
    if (strcmp(back, "moved") == 0) {
        CHECK_EQ(msg->buffer_count, 1);
        CHECK(msg->buffers[0].base == b->orig);
        msg->buffers[0].base = NULL; /* ours again */
        b->back = 1;
        /* Now the copy: the worker gets its own 100 MB. */
        uvproc_buf_t cp = {b->orig, BIG};
        uvproc_transfer_t t = {.copy = &cp, .copy_count = 1};
        CHECK_OK(uvproc_worker_post_new(
            w, json_pack("{s:I,s:b}", "ptr", (json_int_t)(uintptr_t)b->orig, "copy", 1), &t));
        CHECK(cp.base == b->orig); /* copied: still ours */
    } else {
        b->copied_ok = 1;
    }
}

static void big_exit(uvproc_worker_t *w, int code)
{
    big_t *b = uvproc_worker_data(w);
    CHECK_EQ(code, 0);
    b->exits++;
}

TEST(hundred_mb_transferred_and_copied)
{
    uv_loop_t loop;
    big_t b = {0};
    uvproc_worker_options_t o = {.on_message = big_parent_message, .on_exit = big_exit, .data = &b};
    uvproc_worker_t *w;
    b.orig = malloc(BIG);
    CHECK(b.orig != NULL);
    for (size_t i = 0; i < BIG; i += 4096)
        b.orig[i] = (unsigned char)(i / 4096 * 31);
    b.orig[BIG - 1] = 0xAB;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, &w, big_entry, &o));
    uvproc_buf_t tr = {b.orig, BIG};
    uvproc_transfer_t t = {.transfer = &tr, .transfer_count = 1};
    CHECK_OK(uvproc_worker_post_new(
        w, json_pack("{s:I,s:b}", "ptr", (json_int_t)(uintptr_t)b.orig, "copy", 0), &t));
    CHECK(tr.base == NULL && tr.len == 0);
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK(b.back);
    CHECK(b.copied_ok);
    CHECK_EQ(b.exits, 1);
    free(b.orig);
    CHECK_LOOP_CLOSE(&loop);
}

/* --- churn: 64 workers started and ended, ROUNDS times; threads come back to where they
 * were after every round. */

typedef struct {
    int messages, exits;
} churn_t;

static int churn_entry(uv_loop_t *loop, void *arg)
{
    (void)loop;
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(),
                                  json_pack("{s:I}", "i", (json_int_t)(intptr_t)arg), NULL));
    return (int)(intptr_t)arg % 3;
}

static void churn_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    churn_t *c = uvproc_worker_data(w);
    CHECK(json_integer_value(json_object_get(msg->value, "i")) < 64);
    c->messages++;
}

static void churn_exit(uvproc_worker_t *w, int code)
{
    churn_t *c = uvproc_worker_data(w);
    CHECK(code >= 0 && code < 3);
    c->exits++;
}

/* 100 rounds, unless UVPROC_TEST_CHURN_ROUNDS says otherwise (CI's TSan pass) or the test
 * runs under valgrind (its LD_PRELOAD), where a thread takes ~45 ms to start: 100 rounds of
 * 64 would take five minutes there, 3 rounds take ten seconds. */
static int churn_rounds(void)
{
    const char *env = getenv("UVPROC_TEST_CHURN_ROUNDS");
    const char *preload = getenv("LD_PRELOAD");
    if (env != NULL && atoi(env) > 0)
        return atoi(env);
    return preload != NULL && strstr(preload, "vgpreload") != NULL ? 3 : 100;
}

TEST(churn_64_workers)
{
    uv_loop_t loop;
    int rounds = churn_rounds();
    int threads = worker_count_threads();
    CHECK_OK(uv_loop_init(&loop));
    for (int r = 0; r < rounds; r++) {
        churn_t c = {0};
        for (intptr_t i = 0; i < 64; i++) {
            uvproc_worker_options_t o = {
                .on_message = churn_message, .on_exit = churn_exit, .data = &c, .arg = (void *)i};
            CHECK_OK(uvproc_worker_start(&loop, NULL, churn_entry, &o));
        }
        CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
        CHECK_EQ(c.messages, 64);
        CHECK_EQ(c.exits, 64);
        CHECK_EQ(worker_threads_settle(threads), threads);
    }
    CHECK_LOOP_CLOSE(&loop);
}

/* --- 64 waiting workers terminated at once. */

static void noop_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    (void)port;
    (void)msg;
}

static int wait_entry(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = noop_message};
    (void)arg;
    CHECK_OK(uvproc_port_start(uvproc_parent_port(), loop, &o));
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), json_true(), NULL));
    return 0;
}

typedef struct {
    uvproc_worker_t *w[64];
    int waiting, exits;
} many_t;

static void many_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    many_t *m = uvproc_worker_data(w);
    (void)msg;
    if (++m->waiting == 64)
        for (int i = 0; i < 64; i++)
            CHECK_OK(uvproc_worker_terminate(m->w[i], NULL, NULL));
}

static void many_exit(uvproc_worker_t *w, int code)
{
    many_t *m = uvproc_worker_data(w);
    CHECK_EQ(code, 1);
    m->exits++;
}

TEST(terminate_64_waiting_workers)
{
    uv_loop_t loop;
    many_t m = {0};
    uvproc_worker_options_t o = {.on_message = many_message, .on_exit = many_exit, .data = &m};
    CHECK_OK(uv_loop_init(&loop));
    for (int i = 0; i < 64; i++)
        CHECK_OK(uvproc_worker_start(&loop, &m.w[i], wait_entry, &o));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(m.exits, 64);
    CHECK_LOOP_CLOSE(&loop);
}

/* --- messages still queued when a worker ends: freed with it, buffers and ports in them
 * included (ASan's leak check is the assertion), and a port inside is closed for its peer. */

static int quick_entry(uv_loop_t *loop, void *arg)
{
    (void)loop;
    (void)arg;
    return 0; /* never listens */
}

static void peer_closed(uvproc_port_t *port)
{
    (*(int *)uvproc_port_data(port))++;
}

TEST(unread_messages_freed)
{
    uv_loop_t loop;
    uvproc_worker_t *w;
    uvproc_port_t *p1, *p2;
    int closed = 0;
    uvproc_port_options_t po = {.on_close = peer_closed, .data = &closed};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_message_channel(&p1, &p2));
    CHECK_OK(uvproc_port_start(p1, &loop, &po));
    CHECK_OK(uvproc_worker_start(&loop, &w, quick_entry, NULL));
    for (int i = 0; i < 1000; i++) {
        uvproc_buf_t b = {malloc(1000), 1000};
        uvproc_transfer_t t = {.transfer = &b, .transfer_count = 1};
        memset(b.base, i, 1000);
        int err = uvproc_worker_post_new(w, json_integer(i), &t);
        if (err != 0) {
            CHECK_EQ(err, UV_EPIPE); /* it may already have closed its port */
            free(b.base);
        }
    }
    uvproc_transfer_t t = {.ports = &p2, .port_count = 1};
    if (uvproc_worker_post(w, NULL, &t) != 0)
        CHECK_OK(uvproc_port_close(p2));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(closed, 1);
    CHECK_LOOP_CLOSE(&loop);
}

int main(int argc, char **argv)
{
    RUN_W(hundred_k_messages_in_order);
    RUN_W(hundred_mb_transferred_and_copied);
    RUN_W(churn_64_workers);
    RUN_W(terminate_64_waiting_workers);
    RUN_W(unread_messages_freed);
    return check_done();
}
