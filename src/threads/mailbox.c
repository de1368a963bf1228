/* The receiving end of a cross-thread message path: see threads.h.
 *
 * The queue is Dmitry Vyukov's intrusive multi-producer single-consumer queue: a sender
 * links its item with one atomic exchange and one store, the owner takes items with plain
 * loads, and neither ever waits for the other or takes a lock. Multi-producer because a port
 * can have several senders over time (its peer moved between threads, an item still in
 * flight from the old one) and a broadcast channel has many at once; an SPSC ring with a
 * locked fallback for those would need the same atomics to tell the cases apart. The items
 * are the messages handed to the user (uvproc_message_t is the item), so they cannot live in
 * preallocated ring slots: the one malloc per message is the message itself, and glibc's
 * per-thread cache serves it.
 *
 * The wake-up: one eventfd per mailbox, watched by a uv_poll_t on the owner's loop, written
 * only by the sender that turns wake_pending from 0 to 1, so a burst costs one write and one
 * wake-up, however long. Not a uv_async_t: libuv 1.44's uv_async_send marks the handle busy,
 * writes, then marks it done, and the woken loop spins (then sched_yield()s) while it sees
 * "busy"; on two cores a ping-pong paid one sched_yield per message (9685 yields for 10000
 * messages, measured).
 *
 * Every atomic here is sequentially consistent, which the lost-wake-up argument relies on:
 * a sender links (store to prev->next) and then exchanges wake_pending; the owner stores 0 to
 * wake_pending and then looks at the queue again. In the single total order either the owner's
 * second look sees the link, or the sender's exchange comes after the owner's store, reads 0,
 * and writes the eventfd. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "threads.h"

#define UVPROC__SEQ __ATOMIC_SEQ_CST

/* The watcher is allocated apart from the mailbox: a port moved to another thread gets a new
 * one there while the old one is still closing on the first loop. The eventfd is the
 * mailbox's: a sender that won wake_pending just before a detach may still write to it. */
typedef struct {
    uv_poll_t handle;
    uvproc__threads_mailbox_t *m;
    void (*done)(uvproc__threads_mailbox_t *m);
    int detached; /* the owner's thread: the mailbox left this watcher */
} uvproc__wake_t;

static const char uvproc__library_handle = 0;

void uvproc__threads_mark_library_handle(uv_handle_t *h)
{
    h->data = (void *)&uvproc__library_handle;
}

int uvproc__threads_is_library_handle(const uv_handle_t *h)
{
    return h->data == &uvproc__library_handle;
}

int uvproc__threads_mailbox_init(uvproc__threads_mailbox_t *m)
{
    *m = (uvproc__threads_mailbox_t){0};
    uvproc__common_list_init(&m->node);
    m->in = m->out = &m->stub;
    m->efd = -1;
    /* Not attached: nobody to wake (attach wakes itself). */
    m->wake_pending = 1;
    return 0;
}

/* --- the queue --------------------------------------------------------------------------- */

static void uvproc__link(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    uvproc__threads_item_t *prev;
    /* Published by the exchange below (and read only through prev->next, which orders it). */
    __atomic_store_n(&it->next, NULL, __ATOMIC_RELAXED);
    prev = __atomic_exchange_n(&m->in, it, UVPROC__SEQ);
    /* Between the exchange and this store the queue is cut: the owner sees nothing past
     * `prev` until it lands (uvproc__pop then reports empty, and this sender's wake-up
     * follows). */
    __atomic_store_n(&prev->next, it, UVPROC__SEQ);
}

/* The owner's side: the oldest item, or NULL when there is none (or the next one is still
 * being linked by a sender, who will wake the owner). */
static uvproc__threads_item_t *uvproc__pop(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *out = m->out;
    uvproc__threads_item_t *next = __atomic_load_n(&out->next, UVPROC__SEQ);

    if (out == &m->stub) {
        if (next == NULL)
            return NULL;
        m->out = out = next;
        next = __atomic_load_n(&next->next, UVPROC__SEQ);
    }
    if (next == NULL) {
        /* `out` is the last linked item: it can be taken only once something is behind it,
         * so put the stub there. If a sender is half-way, wait for its link. */
        if (out != __atomic_load_n(&m->in, UVPROC__SEQ))
            return NULL;
        uvproc__link(m, &m->stub);
        next = __atomic_load_n(&out->next, UVPROC__SEQ);
        if (next == NULL)
            return NULL;
    }
    m->out = next;
    out->next = NULL;
    return out;
}

static void uvproc__batch_append(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    it->next = NULL;
    if (m->batch_tail != NULL)
        m->batch_tail->next = it;
    else
        m->batch = it;
    m->batch_tail = it;
}

static uvproc__threads_item_t *uvproc__batch_shift(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it = m->batch;
    if (it != NULL) {
        m->batch = it->next;
        if (m->batch == NULL)
            m->batch_tail = NULL;
        it->next = NULL;
    }
    return it;
}

void uvproc__threads_mailbox_destroy(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it;
    uvproc__threads_item_free_list(m->batch);
    m->batch = m->batch_tail = NULL;
    while ((it = uvproc__pop(m)) != NULL)
        uvproc__threads_item_free(it);
    if (m->efd >= 0)
        close(m->efd);
    m->efd = -1;
}

/* --- senders ----------------------------------------------------------------------------- */

static void uvproc__mailbox_wake(uvproc__threads_mailbox_t *m)
{
    uint64_t one = 1;
    /* EAGAIN would mean the counter is about to overflow: it is readable anyway. */
    while (write(m->efd, &one, sizeof one) < 0 && errno == EINTR)
        ;
}

int uvproc__threads_mailbox_push(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it,
                                 int force)
{
    if (!force && __atomic_load_n(&m->closed, UVPROC__SEQ))
        return UV_EPIPE;
    uvproc__link(m, it);
    /* wake_pending is 0 only while attached (the owner clears it only then, and a detach
     * sets it first), and efd was set before the attach cleared it. Loaded first: while the
     * owner drains a burst it stays 1, and a plain load costs no locked instruction and no
     * cache-line steal per message (a seq_cst load still orders after the link above). */
    if (__atomic_load_n(&m->wake_pending, UVPROC__SEQ) == 0 &&
        !__atomic_exchange_n(&m->wake_pending, 1, UVPROC__SEQ))
        uvproc__mailbox_wake(m);
    return 0;
}

/* --- the owner --------------------------------------------------------------------------- */

static void uvproc__mailbox_on_closed(uv_handle_t *h);

/* Items delivered per wake-up before the loop gets its turn back (a sender that keeps up
 * with the receiver would otherwise keep it here forever). */
#define UVPROC__DRAIN_ITEMS 16384

/* Busy polling (opt-in, busy_poll_ns): waits up to that long for a push after `seen` (the
 * queue's last item when the owner found it empty) by watching it change, without a syscall.
 * 1 if one came. */
static int uvproc__mailbox_spin(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *seen)
{
    uint64_t deadline = uv_hrtime() + m->busy_poll_ns;
    for (unsigned i = 1;; i++) {
        if (__atomic_load_n(&m->in, UVPROC__SEQ) != seen)
            return 1;
        if ((i & 63) == 0 && uv_hrtime() >= deadline)
            return 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

/* Moves what the queue holds into the batch; how many. */
static size_t uvproc__drain(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it;
    size_t n = 0;
    while ((it = uvproc__pop(m)) != NULL) {
        uvproc__batch_append(m, it);
        n++;
    }
    return n;
}

/* The next item to deliver (left at the front of the batch), or NULL. Items are taken from
 * the queue one at a time, right before their delivery: each is read from memory once,
 * while it is hot, instead of in a first pass that drains and a second that delivers. */
static uvproc__threads_item_t *uvproc__front(uvproc__threads_mailbox_t *m, size_t *taken)
{
    uvproc__threads_item_t *it;
    if (m->batch != NULL)
        return m->batch;
    if ((it = uvproc__pop(m)) != NULL) {
        uvproc__batch_append(m, it);
        (*taken)++;
    }
    return it;
}

static void uvproc__mailbox_on_wake(uv_poll_t *h, int status, int events)
{
    uvproc__wake_t *w = (uvproc__wake_t *)h;
    uvproc__threads_mailbox_t *m = w->m;
    size_t taken = 0;
    uint64_t count;

    (void)status;
    (void)events;
    while (read(m->efd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    /* wake_pending stays set while this delivers: a sender that keeps posting meanwhile pays
     * no eventfd write, its items are picked up here. */
    for (;;) {
        size_t before = taken;
        /* deliver may detach the mailbox (a port moved away, or closed): the rest stays with
         * the mailbox for the next owner, in order (the batch ahead of the queue), and the
         * mailbox is no longer this thread's to read: another thread may own it already.
         * Only `w`, this watcher, still is (freed by its close callback, later on this loop). */
        while (!w->detached) {
            uvproc__threads_item_t *it = uvproc__front(m, &taken);
            if (it == NULL || (m->hold && it->kind <= UVPROC__ITEM_TEXT))
                break;
            m->deliver(m, uvproc__batch_shift(m));
            if (taken >= UVPROC__DRAIN_ITEMS)
                break;
        }
        if (w->detached)
            return;
        if (taken >= UVPROC__DRAIN_ITEMS) {
            /* Still busy: let the loop's other handles run, and come back (wake_pending is
             * still set, so nobody else will write). First, because the batch may hold an item
             * that on_message peeked at (uvproc_port_receive) and left. */
            uvproc__mailbox_wake(m);
            return;
        }
        if (m->batch != NULL) {
            /* Held: nothing more can be delivered until uvproc__threads_mailbox_kick, which
             * looks at the queue itself. */
            __atomic_store_n(&m->wake_pending, 0, UVPROC__SEQ);
            return;
        }
        if (taken == before || m->busy_poll_ns == 0) {
            uvproc__threads_item_t *it;
            /* A busy poll keeps wake_pending set while it polls: the peer pays no write. */
            if (m->busy_poll_ns != 0 && uvproc__mailbox_spin(m, __atomic_load_n(&m->in, UVPROC__SEQ)))
                continue;
            __atomic_store_n(&m->wake_pending, 0, UVPROC__SEQ);
            /* The second look of the lost-wake-up argument (top of this file). */
            if ((it = uvproc__pop(m)) == NULL)
                return;
            uvproc__batch_append(m, it);
            taken++;
            /* Ours again; if a sender took it first, its wake-up only costs an empty round. */
            __atomic_store_n(&m->wake_pending, 1, UVPROC__SEQ);
        }
    }
}

int uvproc__threads_mailbox_attach(uvproc__threads_mailbox_t *m, uv_loop_t *loop,
                                   uvproc__threads_mailbox_list_t *list)
{
    uvproc__wake_t *w = malloc(sizeof *w);
    int err;
    if (w == NULL)
        return UV_ENOMEM;
    w->m = m;
    w->done = NULL;
    w->detached = 0;
    if (m->efd < 0 && (m->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) < 0) {
        err = -errno;
        free(w);
        return err;
    }
    err = uv_poll_init(loop, &w->handle, m->efd);
    if (err != 0) {
        free(w);
        return err;
    }
    err = uv_poll_start(&w->handle, UV_READABLE, uvproc__mailbox_on_wake);
    if (err != 0) {
        uv_close((uv_handle_t *)&w->handle, uvproc__mailbox_on_closed); /* frees w */
        return err;
    }
    uvproc__threads_mark_library_handle((uv_handle_t *)&w->handle);
    if (m->unref)
        uv_unref((uv_handle_t *)&w->handle);
    m->loop = loop;
    if (list != NULL)
        uvproc__common_list_unshift(list, &m->node);
    m->async = (void *)w;
    /* wake_pending is still 1 (from init or the detach): senders have not written. Whatever
     * came meanwhile is delivered by this wake-up; the round it starts clears the flag. */
    uvproc__mailbox_wake(m);
    return 0;
}

static void uvproc__mailbox_on_closed(uv_handle_t *h)
{
    uvproc__wake_t *w = (uvproc__wake_t *)h;
    if (w->done != NULL)
        w->done(w->m);
    free(w);
}

void uvproc__threads_mailbox_detach(uvproc__threads_mailbox_t *m,
                                    void (*done)(uvproc__threads_mailbox_t *m))
{
    uvproc__wake_t *w = (uvproc__wake_t *)m->async;
    m->async = NULL;
    /* Senders from now on do not write; attach wakes itself. The batch stays where it is,
     * ahead of the queue, for whoever owns the mailbox next. */
    __atomic_store_n(&m->wake_pending, 1, UVPROC__SEQ);
    uvproc__common_list_remove(&m->node);
    m->loop = NULL;
    if (w == NULL) {
        if (done != NULL)
            done(m);
        return;
    }
    w->done = done;
    w->detached = 1;
    uv_close((uv_handle_t *)&w->handle, uvproc__mailbox_on_closed);
}

uvproc__threads_item_t *uvproc__threads_mailbox_close(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *all;
    __atomic_store_n(&m->closed, 1, UVPROC__SEQ);
    uvproc__drain(m);
    all = m->batch;
    m->batch = m->batch_tail = NULL;
    return all;
}

void uvproc__threads_mailbox_kick(uvproc__threads_mailbox_t *m)
{
    if (m->async == NULL)
        return;
    uvproc__drain(m);
    if (m->batch == NULL)
        return;
    /* A wake-up may be pending already (it found nothing to deliver while held): send
     * anyway, an extra one only costs an empty round. */
    __atomic_store_n(&m->wake_pending, 1, UVPROC__SEQ);
    uvproc__mailbox_wake(m);
}

uvproc__threads_item_t *uvproc__threads_mailbox_peek(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it;
    if (m->batch == NULL && (it = uvproc__pop(m)) != NULL)
        uvproc__batch_append(m, it);
    return m->batch;
}

uvproc__threads_item_t *uvproc__threads_mailbox_take(uvproc__threads_mailbox_t *m)
{
    if (m->batch != NULL)
        return uvproc__batch_shift(m);
    return uvproc__pop(m);
}

void uvproc__threads_mailbox_set_ref(uvproc__threads_mailbox_t *m, int ref)
{
    m->unref = !ref;
    if (m->async == NULL)
        return;
    if (ref)
        uv_ref((uv_handle_t *)m->async);
    else
        uv_unref((uv_handle_t *)m->async);
}
