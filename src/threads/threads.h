/* threads: worker threads, each with its own uv_loop_t (worker.c), the mailbox every
 * cross-thread path delivers through (mailbox.c), messages and their deep copies (message.c),
 * MessagePorts and MessageChannels (port.c), BroadcastChannels (broadcast.c), the worker's
 * environment (worker_env.c).
 * Calls: worker.c -> port.c -> mailbox.c <- message.c, broadcast.c; worker_env.c stands alone.
 * This folder uses common/ and libuv's thread, poll and loop calls only: nothing of processes
 * or channels. */
#ifndef UVPROC__THREADS_H
#define UVPROC__THREADS_H

#include <stdatomic.h>
#include <stdint.h>

#include <uv.h>

#include "common/list.h"
#include "uvproc.h"

/* The receiving end of every cross-thread message path (ports, a worker's parent side,
 * broadcast channels): a lock-free queue of items plus an eventfd watched on the loop of the
 * thread that owns it. Senders (any thread, several at once for a broadcast channel or a port
 * whose peer moved) push without a lock and write the eventfd only when no wake-up is pending;
 * the owner drains without a lock and delivers item by item (the batching that makes a busy
 * sender cheap). See mailbox.c. */
typedef enum {
    UVPROC__ITEM_MESSAGE, /* msg: a value, buffers, ports */
    UVPROC__ITEM_TEXT,    /* text: JSON text parsed by the receiver */
    UVPROC__ITEM_CLOSE,   /* the peer closed */
    UVPROC__ITEM_ONLINE,  /* worker lifecycle, to the parent's side only */
    UVPROC__ITEM_ERROR,   /* code, text: the message */
    UVPROC__ITEM_EXIT,    /* code */
} uvproc__threads_item_kind_t;

/* msg comes first: a uvproc_message_t * handed to the user is the item itself. */
typedef struct uvproc__threads_item_s {
    uvproc_message_t msg;
    struct uvproc__threads_item_s *next;
    uvproc__threads_item_kind_t kind;
    int code;
    char *text;
    size_t text_len;
} uvproc__threads_item_t;

typedef struct uvproc__threads_mailbox_s uvproc__threads_mailbox_t;

/* Handles a worker's loop closes at its end: every mailbox started on that loop, by their
 * `node`, newest first. */
typedef uvproc__common_list_t uvproc__threads_mailbox_list_t;

struct uvproc__threads_mailbox_s {
    /* Written by senders (atomics only). */
    uvproc__threads_item_t *in; /* the last item pushed (Vyukov's MPSC queue: its "head") */
    int closed;                 /* pushes fail with UV_EPIPE (forced pushes still land) */
    /* 1: someone will look at the queue without being told (the owner is draining, an
     * eventfd write is on its way, or the mailbox is detached): a sender need not write. */
    int wake_pending;
    int efd; /* the wake-up eventfd, from the first attach until destroy; -1 before */
    char pad[64]; /* the owner's fields below on another cache line than the senders' */

    /* The owner's thread only. */
    uvproc__threads_item_t *out; /* the oldest item not yet taken, or &stub */
    uvproc__threads_item_t stub; /* the queue is never empty of nodes: see mailbox.c */
    /* Taken from the queue, not delivered yet: ahead of the queue, also across a detach (a
     * port moved to another thread takes them along, in order). */
    uvproc__threads_item_t *batch, *batch_tail;
    void *async;           /* the watcher (mailbox.c); NULL while not attached to a loop */
    uint64_t busy_poll_ns; /* after draining, keep polling this long before sleeping */
    uv_loop_t *loop;
    int hold;  /* attached, but no one takes messages: they wait (a close still passes) */
    int unref; /* the watcher does not keep the loop alive */
    /* Delivers one item; takes it (frees it). May detach or close the mailbox. */
    void (*deliver)(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it);
    /* A worker's end: closes whatever owns this mailbox (which must detach it). */
    void (*teardown)(uvproc__threads_mailbox_t *m);
    uvproc__common_list_t node; /* on the worker's list given to attach, or on none */
};

int uvproc__threads_mailbox_init(uvproc__threads_mailbox_t *m);
/* Frees queued items; the mailbox must be detached. */
void uvproc__threads_mailbox_destroy(uvproc__threads_mailbox_t *m);
/* Appends `it` (taken on success). UV_EPIPE when closed, unless `force`. Any thread, no lock:
 * the mailbox must stay alive until it returns (the sender holds a reference). A push racing
 * with the owner's close may land after it: it is freed with the mailbox, undelivered, as a
 * message posted just before a close is. */
int uvproc__threads_mailbox_push(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it,
                                 int force);
/* Starts delivering on `loop` (this thread's); `list` (may be NULL) is the worker's. */
int uvproc__threads_mailbox_attach(uvproc__threads_mailbox_t *m, uv_loop_t *loop,
                                   uvproc__threads_mailbox_list_t *list);
/* Leaves the loop: items (undelivered batch included) stay queued, in order. `done` (may be
 * NULL) runs on this loop once the watcher has closed. Whoever attaches next must have
 * received the mailbox from this thread through something that orders memory (a message). */
void uvproc__threads_mailbox_detach(uvproc__threads_mailbox_t *m,
                                    void (*done)(uvproc__threads_mailbox_t *m));
/* Marks closed and returns everything queued (the caller frees it). */
uvproc__threads_item_t *uvproc__threads_mailbox_close(uvproc__threads_mailbox_t *m);
/* Schedules a delivery round (after `hold` was cleared). */
void uvproc__threads_mailbox_kick(uvproc__threads_mailbox_t *m);
/* The next item without taking it, or NULL. */
uvproc__threads_item_t *uvproc__threads_mailbox_peek(uvproc__threads_mailbox_t *m);
/* Takes the next item, or NULL. */
uvproc__threads_item_t *uvproc__threads_mailbox_take(uvproc__threads_mailbox_t *m);
void uvproc__threads_mailbox_set_ref(uvproc__threads_mailbox_t *m, int ref);
/* Marks a handle as the library's own (a worker's end closes those itself, not as strays). */
void uvproc__threads_mark_library_handle(uv_handle_t *h);
int uvproc__threads_is_library_handle(const uv_handle_t *h);

/* Items (message.c). */
uvproc__threads_item_t *uvproc__threads_item_new(uvproc__threads_item_kind_t kind, size_t nbufs,
                                                 size_t nports, size_t text_len);
void uvproc__threads_item_free(uvproc__threads_item_t *it);
void uvproc__threads_item_free_list(uvproc__threads_item_t *it);
/* Parses a TEXT item into a MESSAGE (its msg.value): 0, or UVPROC_EBADMSG when the text is
 * not one JSON value (Node's messageerror). Other items: 0, unchanged. */
int uvproc__threads_item_parse_text(uvproc__threads_item_t *it);
/* Builds a MESSAGE item: `value` deep-copied, or moved when `steal` and nothing else holds
 * any part of it (then *value is set to NULL: the item has it). Buffers are copied or
 * recorded for transfer; ports recorded. Nothing is moved yet: see uvproc__threads_item_commit. */
int uvproc__threads_item_build(uvproc__threads_item_t **out, json_t **value, int steal,
                               const uvproc_transfer_t *t);
/* Forgets the caller's transfer buffers (the first `transferred`) and ports held by `it`, so
 * that freeing it leaves them to the caller (a post that failed). */
void uvproc__threads_item_disown(uvproc__threads_item_t *it, size_t transferred);
/* After a successful push: detaches the transfer buffers and ports in the sender's list. */
void uvproc__threads_transfer_commit(uvproc_transfer_t *t);
/* The worker whose loop `loop` is, if the calling thread is that worker: its mailbox list. */
uvproc__threads_mailbox_list_t *uvproc__threads_worker_list_for(uv_loop_t *loop);

/* Ports inside the library: worker.c builds a worker's two ends from these. */
struct uvproc_port_s {
    uvproc__threads_mailbox_t mb; /* what the peer posts to this end */
    uvproc_port_t *peer;          /* fixed at creation; kept alive by a reference */
    atomic_int refs;              /* the owner's, and the peer's */
    uvproc_port_options_t o;
    int closed;     /* the owner's thread: close has begun */
    int user_unref; /* uvproc_port_unref was called */
};

/* Two entangled ends, not attached anywhere. */
int uvproc__threads_port_pair(uvproc_port_t **a, uvproc_port_t **b);
/* Posts from `p` to its peer: the body of every post call. `*value` is consumed when moved
 * (set to NULL); the caller drops what is left. */
int uvproc__threads_port_post(uvproc_port_t *p, json_t **value, int steal, uvproc_transfer_t *t);
int uvproc__threads_port_post_text(uvproc_port_t *p, const char *text, size_t len);
/* Closes `p`: its queue is dropped, its peer told, on_close follows if it is started. */
void uvproc__threads_port_shutdown(uvproc_port_t *p);
/* Drops a reference; the last one frees. */
void uvproc__threads_port_release(uvproc_port_t *p);

/* A worker's environment map (worker_env.c). */
typedef struct uvproc__threads_env_s uvproc__threads_env_t;

/* The environment a new worker gets, made on the parent's thread. *out NULL means the process
 * environment (a shared-env worker of the main thread). */
int uvproc__threads_env_for_worker(uvproc_worker_env_mode_t mode, const char *const *list,
                                   uvproc__threads_env_t **out);
void uvproc__threads_env_release(uvproc__threads_env_t *env);
/* Makes `env` the calling thread's (a worker's thread, at its start). */
void uvproc__threads_env_enter(uvproc__threads_env_t *env);

#endif
