/* bench/workers: worker threads, the same work through
 *   raw_async   the raw C bound the project names: two threads, two libuv loops, a mutex
 *               queue per direction and a uv_async_t per loop (uv_async_send per message;
 *               libuv coalesces), the receiver draining the whole queue per wake-up;
 *   raw_efd     the same with uvproc's wake-up: an eventfd + uv_poll_t, written only when
 *               the queue was empty (the tightest bound of uvproc's own design);
 *   efd_block   the floor (rtt and oneway tables, their baseline): two threads and no event
 *               loop, blocking read()s of an eventfd per direction. Round trips: one shared
 *               slot per direction, write the peer's eventfd, block on your own (the
 *               "blocking eventfd hand-off", 2 syscalls per hop). One-way: a preallocated
 *               single-producer/single-consumer ring of N slots, and the eventfd written only
 *               when the receiver said it is about to block (the "raw eventfd pair": the
 *               fewest syscalls a cross-thread hand-off can make that does not spin). The
 *               uv_async bound (raw_async) is not a floor: it collapses under load;
 *   uvproc      uvproc_worker_start / ports;
 *   uvproc_poll the same with opt-in busy polling (busy_poll_us = 50) on both sides;
 *   node        Node's worker_threads (bench/node/workers.js), timed inside Node;
 * interleaved in one run (bench.h), five tables:
 *   startup     start -> 'online' on the parent's loop, mean microseconds per worker
 *               (sequential; stop and join outside the timing);
 *   rtt         round trips/s: the parent posts {"n":i}, the worker answers with a new
 *               {"n":i}, the parent checks it and posts the next;
 *   oneway      messages/s: the worker posts {"n":i} N times as fast as it can, the parent
 *               checks every one in order;
 *   buf_transfer / buf_copy
 *               round trips/s of one 1 MB buffer, moved both ways (the pointer travels) or
 *               copied both ways (malloc + memcpy; Node: structured clone).
 * Every message is a jansson value built by the sender and freed by the receiver in every C
 * variant (the raw ones pass the json_t pointer itself: they know nobody else holds it).
 * Beside each rate: the process's CPU time (both threads) per message or round trip over the
 * timed loop (not for Node, which runs as a subprocess).
 *
 *   bench/workers [-r 5] [--tables startup,rtt,oneway,buf_transfer,buf_copy]
 *                 [--startups 200] [--node-startups 20] [--rt 20000] [--oneway 200000]
 *                 [--buf 3000] [--only ...]
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif

#define BUF_SIZE (1u << 20)

/* CPU seconds of this process, every thread. */
static double bench_cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef enum { T_STARTUP, T_RTT, T_ONEWAY, T_BUF_TRANSFER, T_BUF_COPY } table_t;

typedef struct {
    table_t table;
    long n;
    long node_n;
    unsigned busy_poll_us; /* uvproc_poll: both sides poll this long before sleeping */
} cfg_t;

/* --- the raw bound ------------------------------------------------------------------- */

typedef enum { M_DATA, M_ONLINE, M_STOP, M_GO } raw_kind_t;

typedef struct raw_msg_s {
    struct raw_msg_s *next;
    raw_kind_t kind;
    json_t *v;
    void *buf;
} raw_msg_t;

typedef struct raw_q_s raw_q_t;
struct raw_q_s {
    uv_mutex_t lock;
    raw_msg_t *head, *tail;
    int efd_mode;
    uv_async_t async;
    uv_poll_t poll;
    int efd;
    void (*on_msg)(raw_q_t *q, raw_msg_t *m);
    void *data;
};

static void raw_drain(raw_q_t *q)
{
    raw_msg_t *m;
    uv_mutex_lock(&q->lock);
    m = q->head;
    q->head = q->tail = NULL;
    uv_mutex_unlock(&q->lock);
    while (m != NULL) {
        raw_msg_t *next = m->next;
        q->on_msg(q, m);
        m = next;
    }
}

static void raw_on_async(uv_async_t *h)
{
    raw_drain(h->data);
}

static void raw_on_poll(uv_poll_t *h, int status, int events)
{
    raw_q_t *q = h->data;
    uint64_t c;
    (void)status;
    (void)events;
    while (read(q->efd, &c, sizeof c) < 0 && errno == EINTR)
        ;
    raw_drain(q);
}

static void raw_q_init(raw_q_t *q, uv_loop_t *loop, int efd_mode, void *data,
                       void (*on_msg)(raw_q_t *, raw_msg_t *))
{
    memset(q, 0, sizeof *q);
    uv_mutex_init(&q->lock);
    q->efd_mode = efd_mode;
    q->on_msg = on_msg;
    q->data = data;
    if (efd_mode) {
        q->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        uv_poll_init(loop, &q->poll, q->efd);
        q->poll.data = q;
        uv_poll_start(&q->poll, UV_READABLE, raw_on_poll);
    } else {
        uv_async_init(loop, &q->async, raw_on_async);
        q->async.data = q;
    }
}

static void raw_q_close(raw_q_t *q)
{
    uv_close(q->efd_mode ? (uv_handle_t *)&q->poll : (uv_handle_t *)&q->async, NULL);
}

static void raw_q_destroy(raw_q_t *q)
{
    if (q->efd_mode)
        close(q->efd);
    uv_mutex_destroy(&q->lock);
}

static void raw_push(raw_q_t *q, raw_kind_t kind, json_t *v, void *buf)
{
    raw_msg_t *m = malloc(sizeof *m);
    int was_empty;
    m->next = NULL;
    m->kind = kind;
    m->v = v;
    m->buf = buf;
    uv_mutex_lock(&q->lock);
    was_empty = q->head == NULL;
    if (q->tail != NULL)
        q->tail->next = m;
    else
        q->head = m;
    q->tail = m;
    uv_mutex_unlock(&q->lock);
    if (!q->efd_mode) {
        uv_async_send(&q->async);
    } else if (was_empty) {
        uint64_t one = 1;
        while (write(q->efd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
}

typedef struct {
    uv_thread_t thread;
    uv_loop_t loop;
    raw_q_t in;      /* the worker's, on its loop */
    raw_q_t *parent; /* the parent's */
    table_t table;
    long n;
    uv_sem_t ready;
} raw_worker_t;

static void *copy_buf(const void *b)
{
    void *c = malloc(BUF_SIZE);
    memcpy(c, b, BUF_SIZE);
    return c;
}

static void raw_worker_on_msg(raw_q_t *q, raw_msg_t *m)
{
    raw_worker_t *w = q->data;
    if (m->kind == M_STOP) {
        raw_q_close(&w->in);
    } else if (m->kind == M_GO) {
        for (long i = 0; i < w->n; i++)
            raw_push(w->parent, M_DATA, json_pack("{s:I}", "n", (json_int_t)i), NULL);
    } else if (w->table == T_RTT) {
        json_int_t n = json_integer_value(json_object_get(m->v, "n"));
        json_decref(m->v);
        raw_push(w->parent, M_DATA, json_pack("{s:I}", "n", n), NULL);
    } else if (w->table == T_BUF_TRANSFER) {
        raw_push(w->parent, M_DATA, NULL, m->buf);
    } else if (w->table == T_BUF_COPY) {
        raw_push(w->parent, M_DATA, NULL, copy_buf(m->buf));
        free(m->buf);
    }
    free(m);
}

static void raw_worker_main(void *arg)
{
    raw_worker_t *w = arg;
    uv_loop_init(&w->loop);
    raw_q_init(&w->in, &w->loop, w->parent->efd_mode, w, raw_worker_on_msg);
    raw_push(w->parent, M_ONLINE, NULL, NULL);
    uv_run(&w->loop, UV_RUN_DEFAULT);
    uv_loop_close(&w->loop);
    raw_q_destroy(&w->in);
}

/* The parent's side of a raw round. */
typedef struct {
    const cfg_t *cfg;
    uv_loop_t loop;
    raw_q_t in;
    raw_worker_t w;
    long got;
    int online, bad;
    void *buf;
    double t0, t1, c1;
} raw_round_t;

static void raw_parent_on_msg(raw_q_t *q, raw_msg_t *m)
{
    raw_round_t *r = q->data;
    if (m->kind == M_ONLINE) {
        r->online = 1;
        uv_stop(&r->loop);
    } else if (r->cfg->table == T_ONEWAY || r->cfg->table == T_RTT) {
        if (json_integer_value(json_object_get(m->v, "n")) != r->got)
            r->bad = 1;
        json_decref(m->v);
        if (++r->got == r->cfg->n) {
            r->t1 = bench_now(), r->c1 = bench_cpu();
            uv_stop(&r->loop);
        } else if (r->cfg->table == T_RTT) {
            raw_push(&r->w.in, M_DATA, json_pack("{s:I}", "n", (json_int_t)r->got), NULL);
        }
    } else {
        if (++r->got == r->cfg->n) {
            r->t1 = bench_now(), r->c1 = bench_cpu();
            r->buf = m->buf;
            uv_stop(&r->loop);
        } else if (r->cfg->table == T_BUF_TRANSFER) {
            raw_push(&r->w.in, M_DATA, NULL, m->buf);
        } else {
            raw_push(&r->w.in, M_DATA, NULL, copy_buf(m->buf));
            free(m->buf);
        }
    }
    free(m);
}

static void raw_start(raw_round_t *r, long n)
{
    r->w.parent = &r->in;
    r->w.table = r->cfg->table;
    r->w.n = n;
    r->online = 0;
    uv_thread_create(&r->w.thread, raw_worker_main, &r->w);
    while (!r->online)
        uv_run(&r->loop, UV_RUN_ONCE);
}

static void raw_stop(raw_round_t *r)
{
    raw_push(&r->w.in, M_STOP, NULL, NULL);
    uv_thread_join(&r->w.thread);
}

static int run_raw(void *arg, double *m, int efd_mode)
{
    raw_round_t r = {.cfg = arg};
    const cfg_t *cfg = r.cfg;
    uv_loop_init(&r.loop);
    raw_q_init(&r.in, &r.loop, efd_mode, &r, raw_parent_on_msg);
    if (cfg->table == T_STARTUP) {
        double total = 0;
        for (long i = 0; i < cfg->n; i++) {
            double t0 = bench_now();
            raw_start(&r, 0);
            total += bench_now() - t0;
            raw_stop(&r);
        }
        m[0] = total * 1e6 / (double)cfg->n;
    } else {
        double c0;
        raw_start(&r, cfg->n);
        r.t0 = bench_now();
        c0 = bench_cpu();
        if (cfg->table == T_ONEWAY) {
            raw_push(&r.w.in, M_GO, NULL, NULL);
        } else if (cfg->table == T_RTT) {
            raw_push(&r.w.in, M_DATA, json_pack("{s:I}", "n", (json_int_t)0), NULL);
        } else {
            void *b = calloc(1, BUF_SIZE);
            raw_push(&r.w.in, M_DATA, NULL, cfg->table == T_BUF_COPY ? copy_buf(b) : b);
            if (cfg->table == T_BUF_COPY)
                free(b);
        }
        uv_run(&r.loop, UV_RUN_DEFAULT);
        m[1] = (r.c1 - c0) * 1e6 / (double)cfg->n;
        free(r.buf);
        raw_stop(&r);
        m[0] = (double)cfg->n / (r.t1 - r.t0);
    }
    raw_q_close(&r.in);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    raw_q_destroy(&r.in);
    return r.bad;
}

static int run_raw_async(void *arg, double *m)
{
    return run_raw(arg, m, 0);
}

static int run_raw_efd(void *arg, double *m)
{
    return run_raw(arg, m, 1);
}

/* --- the floor: blocking eventfd hand-offs, no event loop ------------------------------ */

typedef struct {
    const cfg_t *cfg;
    int to_w, to_p;        /* eventfds, blocking */
    json_t *slot_w, *slot_p; /* rtt: the message in flight each way */
    json_t **ring;         /* oneway: N slots, written by the worker, read by the parent */
    long head, tail;       /* ring indexes: head written by the worker, tail by the parent */
    int sleeping;          /* oneway: the parent is about to block in read() */
    int bad;
} efd_round_t;

static void efd_wait(int fd)
{
    uint64_t v;
    while (read(fd, &v, sizeof v) < 0 && errno == EINTR)
        ;
}

static void efd_signal(int fd)
{
    uint64_t one = 1;
    while (write(fd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

static void efd_worker(void *arg)
{
    efd_round_t *r = arg;
    const cfg_t *cfg = r->cfg;
    if (cfg->table == T_RTT) {
        for (;;) {
            json_t *v;
            json_int_t n;
            efd_wait(r->to_w);
            v = __atomic_load_n(&r->slot_w, __ATOMIC_ACQUIRE);
            if (v == NULL)
                return;
            n = json_integer_value(json_object_get(v, "n"));
            json_decref(v);
            __atomic_store_n(&r->slot_p, json_pack("{s:I}", "n", n), __ATOMIC_RELEASE);
            efd_signal(r->to_p);
        }
    }
    efd_wait(r->to_w); /* go */
    for (long i = 0; i < cfg->n; i++) {
        r->ring[i] = json_pack("{s:I}", "n", (json_int_t)i);
        __atomic_store_n(&r->head, i + 1, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&r->sleeping, __ATOMIC_SEQ_CST) &&
            __atomic_exchange_n(&r->sleeping, 0, __ATOMIC_SEQ_CST))
            efd_signal(r->to_p);
    }
}

static int run_efd_block(void *arg, double *m)
{
    efd_round_t r = {.cfg = arg};
    const cfg_t *cfg = r.cfg;
    uv_thread_t t;
    double t0, t1, c0, c1;

    r.to_w = eventfd(0, EFD_CLOEXEC);
    r.to_p = eventfd(0, EFD_CLOEXEC);
    if (cfg->table == T_ONEWAY)
        r.ring = malloc((size_t)cfg->n * sizeof *r.ring);
    if (r.to_w < 0 || r.to_p < 0 || (cfg->table == T_ONEWAY && r.ring == NULL) ||
        uv_thread_create(&t, efd_worker, &r) != 0) {
        fprintf(stderr, "workers: efd_block set-up failed\n");
        exit(1);
    }
    t0 = bench_now();
    c0 = bench_cpu();
    if (cfg->table == T_RTT) {
        for (long i = 0; i < cfg->n; i++) {
            json_t *v;
            __atomic_store_n(&r.slot_w, json_pack("{s:I}", "n", (json_int_t)i), __ATOMIC_RELEASE);
            efd_signal(r.to_w);
            efd_wait(r.to_p);
            v = __atomic_load_n(&r.slot_p, __ATOMIC_ACQUIRE);
            r.bad |= json_integer_value(json_object_get(v, "n")) != i;
            json_decref(v);
        }
        t1 = bench_now();
        c1 = bench_cpu();
        __atomic_store_n(&r.slot_w, NULL, __ATOMIC_RELEASE);
        efd_signal(r.to_w);
    } else {
        efd_signal(r.to_w);
        while (r.tail < cfg->n) {
            long head = __atomic_load_n(&r.head, __ATOMIC_SEQ_CST);
            if (head == r.tail) {
                /* Say so, look again (the worker may have pushed before it saw the flag),
                 * then block until it writes. */
                __atomic_store_n(&r.sleeping, 1, __ATOMIC_SEQ_CST);
                if (__atomic_load_n(&r.head, __ATOMIC_SEQ_CST) != r.tail) {
                    if (!__atomic_exchange_n(&r.sleeping, 0, __ATOMIC_SEQ_CST))
                        efd_wait(r.to_p); /* the worker saw the flag and writes: eat it */
                    continue;
                }
                efd_wait(r.to_p);
                continue;
            }
            for (; r.tail < head; r.tail++) {
                json_t *v = r.ring[r.tail];
                r.bad |= json_integer_value(json_object_get(v, "n")) != r.tail;
                json_decref(v);
            }
        }
        t1 = bench_now();
        c1 = bench_cpu();
    }
    uv_thread_join(&t);
    close(r.to_w);
    close(r.to_p);
    free(r.ring);
    m[0] = (double)cfg->n / (t1 - t0);
    m[1] = (c1 - c0) * 1e6 / (double)cfg->n;
    return r.bad;
}

/* --- uvproc -------------------------------------------------------------------------- */

typedef struct {
    const cfg_t *cfg;
    uv_loop_t loop;
    uvproc_worker_t *w;
    long got;
    int online, exited, bad;
    double t0, t1, c1, start;
    double startup_total;
} up_round_t;

static void up_worker_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    const cfg_t *cfg = uvproc_port_data(port);
    if (cfg->table == T_ONEWAY) {
        for (long i = 0; i < cfg->n; i++)
            uvproc_port_post_new(port, json_pack("{s:I}", "n", (json_int_t)i), NULL);
    } else if (cfg->table == T_RTT) {
        json_int_t n = json_integer_value(json_object_get(msg->value, "n"));
        uvproc_port_post_new(port, json_pack("{s:I}", "n", n), NULL);
    } else if (cfg->table == T_BUF_TRANSFER) {
        uvproc_transfer_t t = {.transfer = msg->buffers, .transfer_count = 1};
        uvproc_port_post(port, NULL, &t);
    } else {
        uvproc_transfer_t t = {.copy = msg->buffers, .copy_count = 1};
        uvproc_port_post(port, NULL, &t);
    }
}

static int up_entry(uv_loop_t *loop, void *arg)
{
    const cfg_t *cfg = arg;
    uvproc_port_options_t o = {
        .on_message = up_worker_message, .data = arg, .busy_poll_us = cfg->busy_poll_us};
    if (cfg->table == T_STARTUP)
        return 0;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

static void up_online(uvproc_worker_t *w)
{
    up_round_t *r = uvproc_worker_data(w);
    r->online = 1;
    if (r->cfg->table == T_STARTUP)
        r->startup_total += bench_now() - r->start;
    uv_stop(&r->loop);
}

static void up_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    up_round_t *r = uvproc_worker_data(w);
    const cfg_t *cfg = r->cfg;
    if (cfg->table == T_ONEWAY || cfg->table == T_RTT) {
        if (json_integer_value(json_object_get(msg->value, "n")) != r->got)
            r->bad = 1;
        if (++r->got == cfg->n)
            r->t1 = bench_now(), r->c1 = bench_cpu();
        else if (cfg->table == T_RTT)
            uvproc_worker_post_new(w, json_pack("{s:I}", "n", (json_int_t)r->got), NULL);
    } else if (++r->got == cfg->n) {
        r->t1 = bench_now(), r->c1 = bench_cpu(); /* the library frees the last buffer */
    } else {
        uvproc_transfer_t t = {.transfer = msg->buffers, .transfer_count = 1};
        uvproc_transfer_t c = {.copy = msg->buffers, .copy_count = 1};
        uvproc_worker_post(w, NULL, cfg->table == T_BUF_TRANSFER ? &t : &c);
    }
    if (r->got == cfg->n)
        uvproc_worker_terminate(w, NULL, NULL);
}

static void up_exit(uvproc_worker_t *w, int code)
{
    up_round_t *r = uvproc_worker_data(w);
    (void)code;
    r->exited = 1;
}

static void up_start(up_round_t *r)
{
    uvproc_worker_options_t o = {.on_online = up_online,
                                 .on_message = up_message,
                                 .on_exit = up_exit,
                                 .data = r,
                                 .arg = (void *)r->cfg};
    r->online = r->exited = 0;
    r->start = bench_now();
    if (uvproc_worker_start(&r->loop, &r->w, up_entry, &o) != 0) {
        r->bad = 1;
        return;
    }
    while (!r->online)
        uv_run(&r->loop, UV_RUN_ONCE);
}

static int run_uvproc(void *arg, double *m)
{
    up_round_t r = {.cfg = arg};
    const cfg_t *cfg = r.cfg;
    uv_loop_init(&r.loop);
    if (cfg->table == T_STARTUP) {
        for (long i = 0; i < cfg->n && !r.bad; i++) {
            up_start(&r);
            uv_run(&r.loop, UV_RUN_DEFAULT); /* until its exit: outside the timing */
        }
        m[0] = r.startup_total * 1e6 / (double)cfg->n;
    } else {
        double c0;
        up_start(&r);
        r.t0 = bench_now();
        c0 = bench_cpu();
        if (cfg->table == T_ONEWAY) {
            uvproc_worker_post_new(r.w, json_string("go"), NULL);
        } else if (cfg->table == T_RTT) {
            uvproc_worker_post_new(r.w, json_pack("{s:I}", "n", (json_int_t)0), NULL);
        } else {
            void *b = calloc(1, BUF_SIZE);
            uvproc_buf_t buf = {b, BUF_SIZE};
            uvproc_transfer_t t = {.transfer = &buf, .transfer_count = 1};
            uvproc_transfer_t c = {.copy = &buf, .copy_count = 1};
            uvproc_worker_post(r.w, NULL, cfg->table == T_BUF_TRANSFER ? &t : &c);
            if (cfg->table == T_BUF_COPY)
                free(b);
        }
        uv_run(&r.loop, UV_RUN_DEFAULT);
        m[0] = (double)cfg->n / (r.t1 - r.t0);
        m[1] = (r.c1 - c0) * 1e6 / (double)cfg->n;
    }
    uv_run(&r.loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&r.loop) != 0)
        return 1;
    return r.bad;
}

/* --- Node ---------------------------------------------------------------------------- */

static int run_node(void *arg, double *m)
{
    const cfg_t *cfg = arg;
    static const char *modes[] = {"startup", "rtt", "oneway", "buf", "buf"};
    char n[32];
    char script[4096];
    snprintf(n, sizeof n, "%ld", cfg->table == T_STARTUP ? cfg->node_n : cfg->n);
    snprintf(script, sizeof script, "%s/workers.js", BENCH_NODE_DIR);
    char *argv[] = {(char *)bench_node(),
                    script,
                    (char *)modes[cfg->table],
                    n,
                    cfg->table == T_BUF_COPY ? "copy" : "transfer",
                    NULL};
    const char *keys[] = {"value"};
    return bench_subprocess(argv, keys, m, 1);
}

/* --- main ---------------------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out, "  --tables LIST       startup,rtt,oneway,buf_transfer,buf_copy (default all)\n"
                 "  --baseline NAME     the variant ratios are taken against (default efd_block for rtt\n"
                 "                      and oneway, the floor; raw_async for the others)\n"
                 "  --startups N        workers started per round, C variants (default 200)\n"
                 "  --node-startups N   the same for Node (default 20: ~50 ms each)\n"
                 "  --rt N              round trips per round (default 20000)\n"
                 "  --oneway N          one-way messages per round (default 200000)\n"
                 "  --buf N             1 MB round trips per round (default 3000)\n");
}

/* Paired ratios of uvproc against every other variant (the table shows them against one). */
static void print_ratios(bench_t *b, int uv, FILE *out)
{
    int keep = b->baseline;
    fprintf(out, "uvproc paired ratios:");
    for (int i = 0; i < b->variant_count; i++) {
        double med, min, max;
        if (i == uv || !b->v[i].enabled)
            continue;
        b->baseline = i;
        if (bench_ratio(b, uv, &med, &min, &max) > 0) {
            /* For a time (lower is better): uvproc's time as a multiple of the other's. */
            fprintf(out, " %.3gx %s%s (%.3g - %.3g);", med,
                    b->metric_higher[0] ? "" : "the time of ", b->v[i].name, min, max);
        }
    }
    b->baseline = keep;
    fprintf(out, "\n");
}

static int run(int argc, char **argv, int argc0, char **argv0)
{
    bench_args_t a = {.rounds = 5};
    const char *tables = "startup,rtt,oneway,buf_transfer,buf_copy";
    const char *baseline = NULL;
    long startups = 200, node_startups = 20, rt = 20000, oneway = 200000, buf = 3000;
    int r = bench_parse_args(&argc, argv, &a, usage);
    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i += 2) {
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
        long x = val != NULL ? atol(val) : 0;
        if (val == NULL) {
            fprintf(stderr, "workers: %s needs a value (try --help)\n", argv[i]);
            return 2;
        } else if (strcmp(argv[i], "--tables") == 0) {
            tables = val;
        } else if (strcmp(argv[i], "--baseline") == 0) {
            baseline = val;
        } else if (x <= 0) {
            fprintf(stderr, "workers: bad value for %s: %s\n", argv[i], val);
            return 2;
        } else if (strcmp(argv[i], "--startups") == 0) {
            startups = x;
        } else if (strcmp(argv[i], "--node-startups") == 0) {
            node_startups = x;
        } else if (strcmp(argv[i], "--rt") == 0) {
            rt = x;
        } else if (strcmp(argv[i], "--oneway") == 0) {
            oneway = x;
        } else if (strcmp(argv[i], "--buf") == 0) {
            buf = x;
        } else {
            fprintf(stderr, "workers: unknown option %s (try --help)\n", argv[i]);
            return 2;
        }
    }
    static const struct {
        const char *name, *title, *metric;
        table_t table;
        int higher;
    } all[] = {
        {"startup", "Worker start -> online (sequential)", "us to online", T_STARTUP, 0},
        {"rtt", "Round trips of {\"n\":i}, parent <-> worker", "round trips/s", T_RTT, 1},
        {"oneway", "One-way {\"n\":i}, worker -> parent", "msgs/s", T_ONEWAY, 1},
        {"buf_transfer", "1 MB buffer round trips, transferred (moved) both ways", "round trips/s",
         T_BUF_TRANSFER, 1},
        {"buf_copy", "1 MB buffer round trips, copied both ways", "round trips/s", T_BUF_COPY, 1},
    };
    bench_print_header(stdout, argc0, argv0);
    for (size_t t = 0; t < sizeof all / sizeof all[0]; t++) {
        cfg_t cfg = {.table = all[t].table};
        bench_t b;
        char title[160];
        int uv;
        if (!bench_listed(tables, all[t].name))
            continue;
        cfg.n = all[t].table == T_STARTUP  ? startups
                : all[t].table == T_RTT    ? rt
                : all[t].table == T_ONEWAY ? oneway
                                           : (all[t].table == T_BUF_COPY ? buf / 3 : buf);
        cfg.node_n = node_startups;
        cfg_t poll_cfg = cfg;
        poll_cfg.busy_poll_us = 50;
        snprintf(title, sizeof title, "%s (N=%ld%s)", all[t].title, cfg.n,
                 all[t].table == T_STARTUP ? ", Node N=" : "");
        if (all[t].table == T_STARTUP)
            snprintf(title + strlen(title) - 1, sizeof title - strlen(title) + 1, "%ld)",
                     node_startups);
        bench_init(&b, title, &a);
        bench_metric(&b, all[t].metric, all[t].higher);
        if (all[t].table != T_STARTUP)
            bench_metric(&b, all[t].table == T_ONEWAY ? "CPU us/msg" : "CPU us/round trip",
                         BENCH_LOWER);
        bench_variant(&b, "raw_async", "2 threads, 2 loops, mutex queue + uv_async_t",
                      run_raw_async, &cfg);
        bench_variant(&b, "raw_efd", "2 threads, 2 loops, mutex queue + eventfd/uv_poll_t",
                      run_raw_efd, &cfg);
        if (all[t].table == T_RTT)
            bench_variant(&b, "efd_block",
                          "the floor: 2 threads, no loop, one slot per direction, write the "
                          "peer's eventfd and block in read() on your own",
                          run_efd_block, &cfg);
        else if (all[t].table == T_ONEWAY)
            bench_variant(&b, "efd_block",
                          "the floor: 2 threads, no loop, a preallocated SPSC ring, the "
                          "eventfd written only when the receiver is about to block in read()",
                          run_efd_block, &cfg);
        uv = bench_variant(&b, "uvproc", "uvproc_worker_start + ports", run_uvproc, &cfg);
        if (all[t].table != T_STARTUP)
            bench_variant(&b, "uvproc_poll",
                          "the same with busy_poll_us = 50 on both sides (opt-in busy polling)",
                          run_uvproc, &poll_cfg);
        bench_variant(&b, "node", "Node worker_threads (bench/node/workers.js)", run_node, &cfg);
        bench_baseline(&b, baseline != NULL ? baseline
                           : all[t].table == T_RTT || all[t].table == T_ONEWAY ? "efd_block"
                                                                              : "raw_async");
        if (bench_node() == NULL)
            bench_disable(&b, "node", "node not found");
        bench_run(&b);
        bench_print(&b, stdout);
        print_ratios(&b, uv, stdout);
    }
    return 0;
}

int main(int argc, char **argv)
{
    return bench_main(argc, argv, run);
}
