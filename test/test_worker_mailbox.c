/* The worker-thread mailbox itself (src/threads/mailbox.c), through its internal API: several
 * threads pushing into one mailbox at once (what a broadcast channel or a port whose peer
 * moved between threads can do), every item delivered exactly once and in each sender's
 * order, no wake-up lost; the same with opt-in busy polling; pushes after a close. Meant to
 * run under ThreadSanitizer too (suite 'workers'). */
#include <uvproc.h>

#include "threads/threads.h"
#include "worker_util.h"

enum { PRODUCERS = 4, PER_PRODUCER = 50000 };

typedef struct {
    uvproc__threads_mailbox_t mb; /* first: deliver gets &mb */
    json_int_t next[PRODUCERS];
    long delivered;
    int bad, detached;
} sink_t;

typedef struct {
    sink_t *sink;
    int id;
} producer_t;

static void sink_done(uvproc__threads_mailbox_t *m)
{
    ((sink_t *)m)->detached = 1;
}

static void sink_deliver(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    sink_t *s = (sink_t *)m;
    int k = it->code;
    if (k < 0 || k >= PRODUCERS || json_integer_value(it->msg.value) != s->next[k])
        s->bad = 1;
    else
        s->next[k]++;
    uvproc__threads_item_free(it);
    if (++s->delivered == (long)PRODUCERS * PER_PRODUCER)
        uvproc__threads_mailbox_detach(m, sink_done);
}

static void producer_main(void *arg)
{
    producer_t *p = arg;
    for (json_int_t i = 0; i < PER_PRODUCER; i++) {
        uvproc__threads_item_t *it = uvproc__threads_item_new(UVPROC__ITEM_MESSAGE, 0, 0, 0);
        CHECK(it != NULL);
        it->code = p->id;
        it->msg.value = json_integer(i);
        CHECK_OK(uvproc__threads_mailbox_push(&p->sink->mb, it, 0));
    }
}

static void run_producers(uint64_t busy_poll_ns)
{
    static sink_t s;
    producer_t p[PRODUCERS];
    uv_thread_t t[PRODUCERS];
    uv_loop_t loop;

    s = (sink_t){0};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc__threads_mailbox_init(&s.mb));
    s.mb.deliver = sink_deliver;
    s.mb.busy_poll_ns = busy_poll_ns;
    CHECK_OK(uvproc__threads_mailbox_attach(&s.mb, &loop, NULL));
    for (int k = 0; k < PRODUCERS; k++) {
        p[k] = (producer_t){&s, k};
        CHECK_OK(uv_thread_create(&t[k], producer_main, &p[k]));
    }
    /* Runs until the last item detached the mailbox: a lost wake-up hangs here (the test's
     * timeout then reports it). */
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    for (int k = 0; k < PRODUCERS; k++)
        uv_thread_join(&t[k]);
    CHECK(s.detached);
    CHECK_EQ(s.bad, 0);
    CHECK_EQ(s.delivered, (long)PRODUCERS * PER_PRODUCER);
    for (int k = 0; k < PRODUCERS; k++)
        CHECK_EQ(s.next[k], PER_PRODUCER);
    CHECK(uvproc__threads_mailbox_take(&s.mb) == NULL);
    uvproc__threads_mailbox_destroy(&s.mb);
    CHECK_LOOP_CLOSE(&loop);
}

TEST(concurrent_producers_in_order)
{
    run_producers(0);
}

TEST(concurrent_producers_busy_poll)
{
    run_producers(50 * 1000);
}

TEST(push_after_close)
{
    uvproc__threads_mailbox_t m;
    uvproc__threads_item_t *a = uvproc__threads_item_new(UVPROC__ITEM_CLOSE, 0, 0, 0);
    uvproc__threads_item_t *b = uvproc__threads_item_new(UVPROC__ITEM_CLOSE, 0, 0, 0);
    uvproc__threads_item_t *c = uvproc__threads_item_new(UVPROC__ITEM_CLOSE, 0, 0, 0);
    uvproc__threads_item_t *all;
    CHECK_OK(uvproc__threads_mailbox_init(&m));
    CHECK_OK(uvproc__threads_mailbox_push(&m, a, 0));
    /* Detached and never attached: items wait, in order, for a take. */
    CHECK(uvproc__threads_mailbox_peek(&m) == a);
    all = uvproc__threads_mailbox_close(&m);
    CHECK(all == a && a->next == NULL);
    CHECK_EQ(uvproc__threads_mailbox_push(&m, b, 0), UV_EPIPE);
    /* A forced push (a worker's exit) still lands; destroy frees it. */
    CHECK_OK(uvproc__threads_mailbox_push(&m, c, 1));
    uvproc__threads_item_free_list(all);
    uvproc__threads_item_free(b);
    uvproc__threads_mailbox_destroy(&m);
}

int main(int argc, char **argv)
{
    RUN_W(concurrent_producers_in_order);
    RUN_W(concurrent_producers_busy_poll);
    RUN_W(push_after_close);
    return check_done();
}
