/* Message ports (Node's MessageChannel / MessagePort): two entangled ends; what one end posts
 * lands in the other end's mailbox and is delivered on the loop that end is started on. A
 * port moves between threads inside a message: it leaves the sender's loop before the
 * message is queued, and the receiver starts it on its own. */
#include <stdlib.h>
#include <string.h>

#include "threads.h"

#define UVPROC__PORT(m) ((uvproc_port_t *)(m))

static void uvproc__port_deliver(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it);
static void uvproc__port_teardown(uvproc__threads_mailbox_t *m);

/* Every port not yet freed, so that uvproc_port_close can answer UV_EALREADY for a port it
 * has already freed instead of reading freed memory: a port never started is freed by its
 * own close once its peer is gone, and "close twice" must still be safe (issue 16, fault 6).
 * An open-addressing set of pointers (linear probing, backward-shift delete), one lock;
 * ports are made and freed far less often than messages are posted. */
static uv_once_t live_once = UV_ONCE_INIT;
static uv_mutex_t live_lock;
static uvproc_port_t **live_slots;
static size_t live_cap, live_count; /* cap: 0 or a power of two */

static void live_init(void)
{
    if (uv_mutex_init(&live_lock) != 0)
        abort(); /* as libuv itself does when a mutex cannot be made */
}

static size_t live_hash(const uvproc_port_t *p, size_t cap)
{
    uint64_t h = (uint64_t)(uintptr_t)p * UINT64_C(0x9e3779b97f4a7c15);
    return (size_t)(h >> 32) & (cap - 1);
}

static size_t live_find(const uvproc_port_t *p)
{
    size_t i = live_hash(p, live_cap);
    while (live_slots[i] != NULL && live_slots[i] != p)
        i = (i + 1) & (live_cap - 1);
    return i;
}

/* Under live_lock. */
static int live_add(uvproc_port_t *p)
{
    if ((live_count + 1) * 2 > live_cap) {
        size_t ncap = live_cap != 0 ? live_cap * 2 : 64;
        uvproc_port_t **old = live_slots, **n = calloc(ncap, sizeof *n);
        size_t ocap = live_cap;
        if (n == NULL)
            return UV_ENOMEM;
        live_slots = n;
        live_cap = ncap;
        for (size_t i = 0; i < ocap; i++)
            if (old[i] != NULL)
                live_slots[live_find(old[i])] = old[i];
        free(old);
    }
    live_slots[live_find(p)] = p;
    live_count++;
    return 0;
}

/* Under live_lock. */
static void live_remove(const uvproc_port_t *p)
{
    size_t i = live_find(p), j = i;
    if (live_slots[i] == NULL)
        return;
    live_slots[i] = NULL;
    live_count--;
    /* Shift back the entries that probed past the hole. */
    for (;;) {
        size_t home;
        j = (j + 1) & (live_cap - 1);
        if (live_slots[j] == NULL)
            break;
        home = live_hash(live_slots[j], live_cap);
        if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
            live_slots[i] = live_slots[j];
            live_slots[j] = NULL;
            i = j;
        }
    }
    if (live_count == 0) {
        free(live_slots);
        live_slots = NULL;
        live_cap = 0;
    }
}

static int live_contains(const uvproc_port_t *p)
{
    return live_cap != 0 && live_slots[live_find(p)] == p;
}

static uvproc_port_t *uvproc__port_new(void)
{
    uvproc_port_t *p = calloc(1, sizeof *p);
    int err;
    if (p == NULL)
        return NULL;
    uv_once(&live_once, live_init);
    uv_mutex_lock(&live_lock);
    err = live_add(p);
    uv_mutex_unlock(&live_lock);
    if (err != 0) {
        free(p);
        return NULL;
    }
    if (uvproc__threads_mailbox_init(&p->mb) != 0) {
        uv_mutex_lock(&live_lock);
        live_remove(p);
        uv_mutex_unlock(&live_lock);
        free(p);
        return NULL;
    }
    atomic_init(&p->refs, 2);
    p->mb.deliver = uvproc__port_deliver;
    p->mb.teardown = uvproc__port_teardown;
    p->mb.hold = 1;
    return p;
}

int uvproc__threads_port_pair(uvproc_port_t **a, uvproc_port_t **b)
{
    uvproc_port_t *x = uvproc__port_new(), *y = uvproc__port_new();
    if (x == NULL || y == NULL) {
        if (x != NULL) {
            atomic_store(&x->refs, 1);
            uvproc__threads_port_release(x);
        }
        if (y != NULL) {
            atomic_store(&y->refs, 1);
            uvproc__threads_port_release(y);
        }
        return UV_ENOMEM;
    }
    x->peer = y;
    y->peer = x;
    *a = x;
    *b = y;
    return 0;
}

int uvproc_message_channel(uvproc_port_t **port1, uvproc_port_t **port2)
{
    if (port1 == NULL || port2 == NULL)
        return UV_EINVAL;
    return uvproc__threads_port_pair(port1, port2);
}

void uvproc__threads_port_release(uvproc_port_t *p)
{
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) == 1) {
        uv_mutex_lock(&live_lock);
        live_remove(p);
        uv_mutex_unlock(&live_lock);
        uvproc__threads_mailbox_destroy(&p->mb);
        free(p);
    }
}

/* The owner is done with `p`: its reference and its hold on the peer go. */
static void uvproc__port_finalize(uvproc_port_t *p)
{
    uvproc_port_t *peer = p->peer;
    uvproc__threads_port_release(peer);
    uvproc__threads_port_release(p);
}

static void uvproc__port_on_detached(uvproc__threads_mailbox_t *m)
{
    uvproc_port_t *p = UVPROC__PORT(m);
    if (p->o.on_close != NULL)
        p->o.on_close(p);
    uvproc__port_finalize(p);
}

void uvproc__threads_port_shutdown(uvproc_port_t *p)
{
    uvproc__threads_item_t *close_item;
    p->closed = 1;
    /* Unread messages die with the port (buffers freed, ports in them closed). */
    uvproc__threads_item_free_list(uvproc__threads_mailbox_close(&p->mb));
    close_item = uvproc__threads_item_new(UVPROC__ITEM_CLOSE, 0, 0, 0);
    /* The peer may have closed first: then it needs no telling. Out of memory, it is not
     * told either: a documented limit of a machine that cannot allocate 64 bytes. */
    if (close_item != NULL && uvproc__threads_mailbox_push(&p->peer->mb, close_item, 0) != 0)
        uvproc__threads_item_free(close_item);
    if (p->mb.loop != NULL)
        uvproc__threads_mailbox_detach(&p->mb, uvproc__port_on_detached);
    else
        uvproc__port_finalize(p);
}

int uvproc_port_close(uvproc_port_t *p)
{
    int closed;
    if (p == NULL)
        return UV_EINVAL;
    /* Looked up before p is read: it may be a port this call already freed. One not yet
     * closed by its owner (the caller) still holds the owner's reference, so it cannot be
     * freed between the check and the shutdown. */
    uv_once(&live_once, live_init);
    uv_mutex_lock(&live_lock);
    closed = !live_contains(p) || p->closed;
    uv_mutex_unlock(&live_lock);
    if (closed)
        return UV_EALREADY;
    uvproc__threads_port_shutdown(p);
    return 0;
}

static void uvproc__port_teardown(uvproc__threads_mailbox_t *m)
{
    uvproc__threads_port_shutdown(UVPROC__PORT(m));
}

static void uvproc__port_deliver(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    uvproc_port_t *p = UVPROC__PORT(m);
    switch (it->kind) {
    case UVPROC__ITEM_TEXT:
    case UVPROC__ITEM_MESSAGE:
        if (uvproc__threads_item_parse_text(it) != 0) {
            if (p->o.on_messageerror != NULL)
                p->o.on_messageerror(p, UVPROC_EBADMSG, it->text, it->text_len);
        } else if (p->o.on_message != NULL) {
            p->o.on_message(p, &it->msg);
        }
        break;
    case UVPROC__ITEM_CLOSE:
        if (!p->closed)
            uvproc__threads_port_shutdown(p);
        break;
    default:
        break;
    }
    uvproc__threads_item_free(it);
}

static void uvproc__port_apply_ref(uvproc_port_t *p)
{
    int wanted = !p->user_unref && (p->o.on_message != NULL || p->o.on_close != NULL);
    uvproc__threads_mailbox_set_ref(&p->mb, wanted);
}

int uvproc_port_start(uvproc_port_t *p, uv_loop_t *loop, const uvproc_port_options_t *options)
{
    int err;
    if (p == NULL || (loop == NULL && p->mb.loop == NULL))
        return UV_EINVAL;
    if (p->closed)
        return UV_EPIPE;
    if (loop != NULL && p->mb.loop != NULL && loop != p->mb.loop)
        return UV_EINVAL;
    p->o = options != NULL ? *options : (uvproc_port_options_t){0};
    p->mb.hold = p->o.on_message == NULL;
    p->mb.busy_poll_ns = (uint64_t)p->o.busy_poll_us * 1000;
    if (p->mb.loop == NULL) {
        p->mb.unref = 1;
        err = uvproc__threads_mailbox_attach(&p->mb, loop, uvproc__threads_worker_list_for(loop));
        if (err != 0)
            return err;
    }
    uvproc__port_apply_ref(p);
    uvproc__threads_mailbox_kick(&p->mb);
    return 0;
}

void uvproc_port_ref(uvproc_port_t *p)
{
    p->user_unref = 0;
    uvproc__port_apply_ref(p);
}

void uvproc_port_unref(uvproc_port_t *p)
{
    p->user_unref = 1;
    uvproc__port_apply_ref(p);
}

void *uvproc_port_data(const uvproc_port_t *p)
{
    return p->o.data;
}

/* What a port had on the sender's side, to put back if the post fails after all. */
typedef struct {
    uv_loop_t *loop;
    uvproc_port_options_t o;
    int user_unref;
} uvproc__port_was_t;

/* Takes the listed ports off this thread's loop before the message that carries them is
 * queued: the receiver may start one before this function returns. */
static void uvproc__ports_leave(uvproc_port_t **ports, size_t n, uvproc__port_was_t *was)
{
    for (size_t i = 0; i < n; i++) {
        uvproc_port_t *q = ports[i];
        was[i] = (uvproc__port_was_t){q->mb.loop, q->o, q->user_unref};
        if (q->mb.loop != NULL)
            uvproc__threads_mailbox_detach(&q->mb, NULL);
        q->o = (uvproc_port_options_t){0};
        q->mb.hold = 1;
        q->mb.busy_poll_ns = 0;
        q->mb.unref = 1;
        q->user_unref = 0;
    }
}

static void uvproc__ports_return(uvproc_port_t **ports, size_t n, const uvproc__port_was_t *was)
{
    for (size_t i = 0; i < n; i++) {
        uvproc_port_t *q = ports[i];
        if (was[i].loop == NULL)
            continue;
        q->user_unref = was[i].user_unref;
        if (uvproc_port_start(q, was[i].loop, &was[i].o) != 0)
            uvproc__threads_port_shutdown(q); /* out of memory: closed rather than lost silently */
    }
}

int uvproc__threads_port_post(uvproc_port_t *p, json_t **value, int steal, uvproc_transfer_t *t)
{
    uvproc__threads_item_t *it;
    uvproc__port_was_t stack_was[8], *was = stack_was;
    size_t nports = t != NULL ? t->port_count : 0;
    int err;

    if (p->closed)
        return UV_EPIPE;
    for (size_t i = 0; i < nports; i++) {
        uvproc_port_t *q = t->ports != NULL ? t->ports[i] : NULL;
        /* Node's DataCloneError: a port cannot travel through itself or its own channel. */
        if (q == NULL || q == p || q == p->peer || q->closed)
            return UV_EINVAL;
    }
    err = uvproc__threads_item_build(&it, value, steal, t);
    if (err != 0)
        return err;
    if (nports > 8 && (was = malloc(nports * sizeof *was)) == NULL) {
        uvproc__threads_item_disown(it, t->transfer_count);
        uvproc__threads_item_free(it);
        return UV_ENOMEM;
    }
    uvproc__ports_leave(it->msg.ports, nports, was);
    err = uvproc__threads_mailbox_push(&p->peer->mb, it, 0);
    if (err != 0) {
        uvproc__ports_return(it->msg.ports, nports, was);
        if (it->msg.value != NULL && steal && value != NULL && *value == NULL) {
            /* The value had moved into the item: it goes back to the caller's reference,
             * which the caller drops. */
            *value = it->msg.value;
            it->msg.value = NULL;
        }
        uvproc__threads_item_disown(it, t != NULL ? t->transfer_count : 0);
        uvproc__threads_item_free(it);
    } else {
        uvproc__threads_transfer_commit(t);
    }
    if (was != stack_was)
        free(was);
    return err;
}

int uvproc__threads_port_post_text(uvproc_port_t *p, const char *text, size_t len)
{
    uvproc__threads_item_t *it;
    int err;
    if (text == NULL && len > 0)
        return UV_EINVAL;
    if (p->closed)
        return UV_EPIPE;
    it = uvproc__threads_item_new(UVPROC__ITEM_TEXT, 0, 0, len);
    if (it == NULL)
        return UV_ENOMEM;
    if (len > 0)
        memcpy(it->text, text, len);
    err = uvproc__threads_mailbox_push(&p->peer->mb, it, 0);
    if (err != 0)
        uvproc__threads_item_free(it);
    return err;
}

int uvproc_port_post(uvproc_port_t *p, const json_t *value, uvproc_transfer_t *t)
{
    json_t *v = (json_t *)value;
    if (p == NULL)
        return UV_EINVAL;
    return uvproc__threads_port_post(p, &v, 0, t);
}

int uvproc_port_post_new(uvproc_port_t *p, json_t *value, uvproc_transfer_t *t)
{
    int err = p != NULL ? uvproc__threads_port_post(p, &value, 1, t) : UV_EINVAL;
    json_decref(value);
    return err;
}

int uvproc_port_post_text(uvproc_port_t *p, const char *text, size_t len)
{
    return p != NULL ? uvproc__threads_port_post_text(p, text, len) : UV_EINVAL;
}

int uvproc_port_receive(uvproc_port_t *p, uvproc_message_t **out)
{
    uvproc__threads_item_t *it;
    if (p == NULL || out == NULL)
        return UV_EINVAL;
    if (p->closed)
        return UV_EPIPE;
    for (;;) {
        it = uvproc__threads_mailbox_peek(&p->mb);
        if (it == NULL)
            return UV_EAGAIN;
        if (it->kind == UVPROC__ITEM_CLOSE)
            return UV_EPIPE;
        it = uvproc__threads_mailbox_take(&p->mb);
        if (it->kind == UVPROC__ITEM_TEXT && uvproc__threads_item_parse_text(it) != 0) {
            uvproc__threads_item_free(it);
            return UVPROC_EBADMSG;
        }
        if (it->kind == UVPROC__ITEM_MESSAGE)
            break;
        uvproc__threads_item_free(it);
    }
    *out = &it->msg;
    return 0;
}
