/* A small FIFO of (event, argument) pairs with no allocation: what a state machine raises on
 * itself while one of its cells runs waits here, and runs after that cell in the order raised
 * (duplicates and arguments kept). The cluster's worker slots use it. */
#ifndef UVPROC__COMMON_FIFO_H
#define UVPROC__COMMON_FIFO_H

#include <uv.h>

/* A cell raises at most a few events on its own slot (a user callback calling the API, a
 * failed restart); 16 leaves room for callbacks that call the API in a loop. */
#define UVPROC__COMMON_FIFO_CAP 16

typedef struct {
    int ev;
    void *arg;
} uvproc__common_fifo_item_t;

typedef struct {
    uvproc__common_fifo_item_t items[UVPROC__COMMON_FIFO_CAP];
    unsigned char first, count;
} uvproc__common_fifo_t; /* all zero: empty */

/* 0, or UV_ENOBUFS when full (nothing is queued: the caller says so). */
static inline int uvproc__common_fifo_push(uvproc__common_fifo_t *f, int ev, void *arg)
{
    uvproc__common_fifo_item_t *it;
    if (f->count == UVPROC__COMMON_FIFO_CAP)
        return UV_ENOBUFS;
    it = &f->items[(f->first + f->count++) % UVPROC__COMMON_FIFO_CAP];
    it->ev = ev;
    it->arg = arg;
    return 0;
}

/* 1 and the oldest item in *out, or 0 when empty. */
static inline int uvproc__common_fifo_shift(uvproc__common_fifo_t *f,
                                            uvproc__common_fifo_item_t *out)
{
    if (f->count == 0)
        return 0;
    *out = f->items[f->first];
    f->first = (unsigned char)((f->first + 1) % UVPROC__COMMON_FIFO_CAP);
    f->count--;
    return 1;
}

#endif
