/* The receiving end of a cross-thread message path: see mailbox.h. */
#include <stdlib.h>

#include "mailbox.h"

/* The async handle is allocated apart from the mailbox: a port moved to another thread gets
 * a new one there while the old one is still closing on the first loop. */
typedef struct {
    uv_async_t handle;
    uvproc__mailbox_t *m;
    void (*done)(uvproc__mailbox_t *m);
} uvproc__wake_t;

static const char uvproc__library_handle = 0;

void uvproc__mark_library_handle(uv_handle_t *h)
{
    h->data = (void *)&uvproc__library_handle;
}

int uvproc__is_library_handle(const uv_handle_t *h)
{
    return h->data == &uvproc__library_handle;
}

int uvproc__mailbox_init(uvproc__mailbox_t *m)
{
    *m = (uvproc__mailbox_t){0};
    return uv_mutex_init(&m->lock);
}

void uvproc__mailbox_destroy(uvproc__mailbox_t *m)
{
    uvproc__item_free_list(m->batch);
    uvproc__item_free_list(m->head);
    m->batch = m->head = m->tail = NULL;
    uv_mutex_destroy(&m->lock);
}

/* Called with the lock held. */
static void uvproc__mailbox_wake_locked(uvproc__mailbox_t *m)
{
    if (m->async != NULL && !m->wake_pending) {
        m->wake_pending = 1;
        uv_async_send(m->async);
    }
}

int uvproc__mailbox_push(uvproc__mailbox_t *m, uvproc__item_t *it, int force)
{
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
    uvproc__mailbox_wake_locked(m);
    uv_mutex_unlock(&m->lock);
    return 0;
}

static void uvproc__mailbox_on_wake(uv_async_t *h)
{
    uvproc__mailbox_t *m = ((uvproc__wake_t *)h)->m;
    uvproc__item_t *taken;

    uv_mutex_lock(&m->lock);
    taken = m->head;
    m->head = m->tail = NULL;
    m->wake_pending = 0;
    uv_mutex_unlock(&m->lock);
    /* Items a previous round left (the user stopped it) go first. */
    if (m->batch == NULL) {
        m->batch = taken;
    } else if (taken != NULL) {
        uvproc__item_t *last = m->batch;
        while (last->next != NULL)
            last = last->next;
        last->next = taken;
    }
    /* deliver may detach (a port moved away, closed): the rest then stays for the next
     * owner, in order. The mailbox itself is never freed inside deliver: only from the
     * async's close callback, which runs later. */
    while (m->batch != NULL && m->async == &((uvproc__wake_t *)h)->handle &&
           !(m->hold && m->batch->kind <= UVPROC__ITEM_TEXT)) {
        uvproc__item_t *it = m->batch;
        m->batch = it->next;
        it->next = NULL;
        m->deliver(m, it);
    }
}

int uvproc__mailbox_attach(uvproc__mailbox_t *m, uv_loop_t *loop, uvproc__mailbox_list_t *list)
{
    uvproc__wake_t *w = malloc(sizeof *w);
    int err;
    if (w == NULL)
        return UV_ENOMEM;
    w->m = m;
    w->done = NULL;
    err = uv_async_init(loop, &w->handle, uvproc__mailbox_on_wake);
    if (err != 0) {
        free(w);
        return err;
    }
    uvproc__mark_library_handle((uv_handle_t *)&w->handle);
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
    uv_mutex_lock(&m->lock);
    m->async = &w->handle;
    m->wake_pending = 0;
    if (m->head != NULL)
        uvproc__mailbox_wake_locked(m);
    uv_mutex_unlock(&m->lock);
    return 0;
}

static void uvproc__mailbox_on_closed(uv_handle_t *h)
{
    uvproc__wake_t *w = (uvproc__wake_t *)h;
    if (w->done != NULL)
        w->done(w->m);
    free(w);
}

void uvproc__mailbox_detach(uvproc__mailbox_t *m, void (*done)(uvproc__mailbox_t *m))
{
    uvproc__wake_t *w;
    uv_mutex_lock(&m->lock);
    w = (uvproc__wake_t *)m->async;
    m->async = NULL;
    m->wake_pending = 0;
    /* The undelivered part of the batch goes back in front of the queue: whoever attaches
     * next (maybe another thread) finds every item, in order. */
    if (m->batch != NULL) {
        uvproc__item_t *last = m->batch;
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
    uv_close((uv_handle_t *)&w->handle, uvproc__mailbox_on_closed);
}

uvproc__item_t *uvproc__mailbox_close(uvproc__mailbox_t *m)
{
    uvproc__item_t *all;
    uv_mutex_lock(&m->lock);
    m->closed = 1;
    all = m->head;
    m->head = m->tail = NULL;
    uv_mutex_unlock(&m->lock);
    if (m->batch != NULL) {
        uvproc__item_t *last = m->batch;
        while (last->next != NULL)
            last = last->next;
        last->next = all;
        all = m->batch;
        m->batch = NULL;
    }
    return all;
}

void uvproc__mailbox_kick(uvproc__mailbox_t *m)
{
    uv_mutex_lock(&m->lock);
    if (m->async != NULL && (m->head != NULL || m->batch != NULL)) {
        /* A wake-up may be pending from while we held: send anyway, libuv coalesces. */
        m->wake_pending = 1;
        uv_async_send(m->async);
    }
    uv_mutex_unlock(&m->lock);
}

uvproc__item_t *uvproc__mailbox_peek(uvproc__mailbox_t *m)
{
    uvproc__item_t *it;
    if (m->batch != NULL)
        return m->batch;
    uv_mutex_lock(&m->lock);
    it = m->head;
    uv_mutex_unlock(&m->lock);
    return it;
}

uvproc__item_t *uvproc__mailbox_take(uvproc__mailbox_t *m)
{
    uvproc__item_t *it = m->batch;
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

void uvproc__mailbox_set_ref(uvproc__mailbox_t *m, int ref)
{
    m->unref = !ref;
    if (m->async == NULL)
        return;
    if (ref)
        uv_ref((uv_handle_t *)m->async);
    else
        uv_unref((uv_handle_t *)m->async);
}
