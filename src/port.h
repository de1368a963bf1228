/* Ports inside the library: worker.c builds a worker's two ends from these. */
#ifndef UVPROC_PORT_H
#define UVPROC_PORT_H

#include <stdatomic.h>

#include "mailbox.h"

struct uvproc_port_s {
    uvproc__mailbox_t mb; /* what the peer posts to this end */
    uvproc_port_t *peer;  /* fixed at creation; kept alive by a reference */
    atomic_int refs;      /* the owner's, and the peer's */
    uvproc_port_options_t o;
    int closed;     /* the owner's thread: close has begun */
    int user_unref; /* uvproc_port_unref was called */
};

/* Two entangled ends, not attached anywhere. */
int uvproc__port_pair(uvproc_port_t **a, uvproc_port_t **b);
/* Posts from `p` to its peer: the body of every post call. `*value` is consumed when moved
 * (set to NULL); the caller drops what is left. */
int uvproc__port_post(uvproc_port_t *p, json_t **value, int steal, uvproc_transfer_t *t);
int uvproc__port_post_text(uvproc_port_t *p, const char *text, size_t len);
/* Closes `p`: its queue is dropped, its peer told, on_close follows if it is started. */
void uvproc__port_shutdown(uvproc_port_t *p);
/* Drops a reference; the last one frees. */
void uvproc__port_release(uvproc_port_t *p);

#endif
