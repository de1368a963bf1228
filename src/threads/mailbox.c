/* The receiving end of a cross-thread message path: see mailbox.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "threads.h"

/* The wake-up: an eventfd per mailbox, watched by a uv_poll_t on the owner's loop. Not a
 * uv_async_t: libuv 1.44's uv_async_send marks the handle busy, writes, then marks it done,
 * and the woken loop spins (then sched_yield()s) while it sees "busy"; on two cores the
 * woken receiver often preempts the sender in between, and a ping-pong paid one
 * sched_yield per message (measured: 9685 yields for 10000 messages). The mailbox keeps
 * its own wake_pending flag under its lock, so a bare eventfd write is all it needs.
 *
 * The watcher is allocated apart from the mailbox: a port moved to another thread gets a new
 * one there while the old one is still closing on the first loop. */
typedef struct {
    uv_poll_t handle;
    int fd;
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
    int err;
    *m = (uvproc__threads_mailbox_t){0};
    err = uv_mutex_init(&m->lock);
    if (err == 0 && (err = uv_mutex_init(&m->wake_lock)) != 0)
        uv_mutex_destroy(&m->lock);
    return err;
}

void uvproc__threads_mailbox_destroy(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_free_list(m->batch);
    uvproc__threads_item_free_list(m->head);
    m->batch = m->head = m->tail = NULL;
    uv_mutex_destroy(&m->wake_lock);
    uv_mutex_destroy(&m->lock);
}

/* Called without `lock`, after the caller set wake_pending under it. A detached mailbox
 * loses the wake-up: attaching it again sends a new one. */
static void uvproc__mailbox_wake(uvproc__threads_mailbox_t *m)
{
    uint64_t one = 1;
    uv_mutex_lock(&m->wake_lock);
    if (m->async != NULL) {
        /* EAGAIN would mean the counter is about to overflow: it is readable anyway. */
        while (write(((uvproc__wake_t *)m->async)->fd, &one, sizeof one) < 0 && errno == EINTR)
            ;
    }
    uv_mutex_unlock(&m->wake_lock);
}

int uvproc__threads_mailbox_push(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it,
                                 int force)
{
    int wake;
    uv_mutex_lock(&m->lock);
    if (m->closed && !force) {
        uv_mutex_unlock(&m->lock);
        return UV_EPIPE;
    }
    it->next = NULL;
    if (m->tail != NULL)
        m->tail->next = it;
    else
        m->head = it;
    m->tail = it;
    __atomic_add_fetch(&m->pushes, 1, __ATOMIC_RELEASE);
    wake = !m->wake_pending;
    m->wake_pending = 1;
    uv_mutex_unlock(&m->lock);
    if (wake)
        uvproc__mailbox_wake(m);
    return 0;
}

static void uvproc__mailbox_on_closed(uv_handle_t *h);

/* Rounds of take-and-deliver per wake-up before the loop gets its turn back. */
#define UVPROC__DRAIN_ROUNDS 64

/* Busy polling (opt-in, busy_poll_ns): waits up to that long for a push after `seen`, by
 * watching the push counter, without the lock and without a syscall. 1 if one came. */
static int uvproc__mailbox_spin(uvproc__threads_mailbox_t *m, unsigned long seen)
{
    uint64_t deadline = uv_hrtime() + m->busy_poll_ns;
    for (unsigned i = 1;; i++) {
        if (__atomic_load_n(&m->pushes, __ATOMIC_ACQUIRE) != seen)
            return 1;
        if ((i & 63) == 0 && uv_hrtime() >= deadline)
            return 0;
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }
}

static void uvproc__mailbox_on_wake(uv_poll_t *h, int status, int events)
{
    uvproc__wake_t *w = (uvproc__wake_t *)h;
    uvproc__threads_mailbox_t *m = w->m;
    uint64_t count;

    (void)status;
    (void)events;
    while (read(w->fd, &count, sizeof count) < 0 && errno == EINTR)
        ;
    /* wake_pending stays set while this drains: a sender that keeps posting meanwhile pays
     * no eventfd write, its items are picked up by the next round here. It is cleared only
     * where the queue is seen empty, under the lock, so no wake-up is ever lost. */
    for (int round = 1;; round++) {
        uvproc__threads_item_t *taken;
        unsigned long seen;
        uv_mutex_lock(&m->lock);
        taken = m->head;
        m->head = m->tail = NULL;
        /* A busy poll keeps wake_pending set while it polls: the peer pays no write. */
        if (taken == NULL && m->busy_poll_ns == 0)
            m->wake_pending = 0;
        seen = m->pushes;
        uv_mutex_unlock(&m->lock);
        /* Items a previous round left (delivery was held) go first. */
        if (m->batch == NULL) {
            m->batch = taken;
        } else if (taken != NULL) {
            uvproc__threads_item_t *last = m->batch;
            while (last->next != NULL)
                last = last->next;
            last->next = taken;
        }
        /* deliver may detach the mailbox (a port moved away, or closed): the rest of the
         * batch then went back to the queue for the next owner, in order, and the mailbox is
         * no longer this thread's to read: another thread may own it already. Only `w`, this
         * watcher, still is (it is freed by its close callback, later on this loop). */
        while (!w->detached) {
            uvproc__threads_item_t *it = m->batch;
            if (it == NULL || (m->hold && it->kind <= UVPROC__ITEM_TEXT))
                break;
            m->batch = it->next;
            it->next = NULL;
            m->deliver(m, it);
        }
        if (w->detached)
            return;
        if (taken == NULL && m->batch == NULL) {
            if (m->busy_poll_ns == 0)
                return;
            if (!uvproc__mailbox_spin(m, seen)) {
                int empty;
                uv_mutex_lock(&m->lock);
                empty = m->head == NULL;
                if (empty)
                    m->wake_pending = 0;
                uv_mutex_unlock(&m->lock);
                if (empty)
                    return;
            }
            continue; /* something came: take it */
        }
        if (m->batch != NULL) {
            /* Held: nothing more can be delivered until uvproc__threads_mailbox_kick. */
            uv_mutex_lock(&m->lock);
            m->wake_pending = 0;
            uv_mutex_unlock(&m->lock);
            return;
        }
        if (round >= UVPROC__DRAIN_ROUNDS) {
            /* Still busy: let the loop's other handles run, and come back (wake_pending is
             * still set, so nobody else will write). */
            uvproc__mailbox_wake(m);
            return;
        }
    }
}

int uvproc__threads_mailbox_attach(uvproc__threads_mailbox_t *m, uv_loop_t *loop,
                                   uvproc__threads_mailbox_list_t *list)
{
    uvproc__wake_t *w = malloc(sizeof *w);
    int err, wake;
    if (w == NULL)
        return UV_ENOMEM;
    w->m = m;
    w->done = NULL;
    w->detached = 0;
    w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (w->fd < 0) {
        err = -errno;
        free(w);
        return err;
    }
    err = uv_poll_init(loop, &w->handle, w->fd);
    if (err != 0) {
        close(w->fd);
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
    m->list = list;
    if (list != NULL) {
        m->list_prev = NULL;
        m->list_next = list->head;
        if (list->head != NULL)
            list->head->list_prev = m;
        list->head = m;
    }
    uv_mutex_lock(&m->wake_lock);
    m->async = (void *)w;
    uv_mutex_unlock(&m->wake_lock);
    /* Whatever came while detached (its wake-ups went nowhere) is delivered now. */
    uv_mutex_lock(&m->lock);
    wake = m->wake_pending = m->head != NULL;
    uv_mutex_unlock(&m->lock);
    if (wake)
        uvproc__mailbox_wake(m);
    return 0;
}

static void uvproc__mailbox_on_closed(uv_handle_t *h)
{
    uvproc__wake_t *w = (uvproc__wake_t *)h;
    close(w->fd);
    if (w->done != NULL)
        w->done(w->m);
    free(w);
}

void uvproc__threads_mailbox_detach(uvproc__threads_mailbox_t *m,
                                    void (*done)(uvproc__threads_mailbox_t *m))
{
    uvproc__wake_t *w;
    uv_mutex_lock(&m->wake_lock);
    w = (uvproc__wake_t *)m->async;
    m->async = NULL;
    uv_mutex_unlock(&m->wake_lock);
    uv_mutex_lock(&m->lock);
    /* Pushes from now on do not try to wake anyone; attach resets this. */
    m->wake_pending = 1;
    /* The undelivered part of the batch goes back in front of the queue: whoever attaches
     * next (maybe another thread) finds every item, in order. */
    if (m->batch != NULL) {
        uvproc__threads_item_t *last = m->batch;
        while (last->next != NULL)
            last = last->next;
        last->next = m->head;
        if (m->head == NULL)
            m->tail = last;
        m->head = m->batch;
        m->batch = NULL;
    }
    uv_mutex_unlock(&m->lock);
    if (m->list != NULL) {
        if (m->list_prev != NULL)
            m->list_prev->list_next = m->list_next;
        else
            m->list->head = m->list_next;
        if (m->list_next != NULL)
            m->list_next->list_prev = m->list_prev;
        m->list = NULL;
    }
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
    uv_mutex_lock(&m->lock);
    m->closed = 1;
    all = m->head;
    m->head = m->tail = NULL;
    uv_mutex_unlock(&m->lock);
    if (m->batch != NULL) {
        uvproc__threads_item_t *last = m->batch;
        while (last->next != NULL)
            last = last->next;
        last->next = all;
        all = m->batch;
        m->batch = NULL;
    }
    return all;
}

void uvproc__threads_mailbox_kick(uvproc__threads_mailbox_t *m)
{
    int wake;
    uv_mutex_lock(&m->lock);
    /* A wake-up may be pending already (it found nothing to deliver while held): send
     * anyway, libuv coalesces. */
    wake = m->async != NULL && (m->head != NULL || m->batch != NULL);
    if (wake)
        m->wake_pending = 1;
    uv_mutex_unlock(&m->lock);
    if (wake)
        uvproc__mailbox_wake(m);
}

uvproc__threads_item_t *uvproc__threads_mailbox_peek(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it;
    if (m->batch != NULL)
        return m->batch;
    uv_mutex_lock(&m->lock);
    it = m->head;
    uv_mutex_unlock(&m->lock);
    return it;
}

uvproc__threads_item_t *uvproc__threads_mailbox_take(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_item_t *it = m->batch;
    if (it != NULL) {
        m->batch = it->next;
        it->next = NULL;
        return it;
    }
    uv_mutex_lock(&m->lock);
    it = m->head;
    if (it != NULL) {
        m->head = it->next;
        if (m->head == NULL)
            m->tail = NULL;
        it->next = NULL;
    }
    uv_mutex_unlock(&m->lock);
    return it;
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
