/* The live process objects, so a caller's misuse of a stale pointer (a second
 * uvproc_process_release, a retain after the last release) is caught without reading the
 * freed object: the pointer is looked up here first. libuv keeps every handle on its loop's
 * queue for the same reason (uv_walk); ours is process-wide because release takes no loop.
 *
 * An open-addressing set of pointers under one mutex (processes may live on loops in several
 * threads). Adding and removing is a hash and a probe or two, once per spawn. A pointer that
 * was freed and then handed out again by malloc for a new process is found live: that misuse
 * cannot be told from a correct call by any bookkeeping short of never reusing addresses. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "process.h"

#define UVPROC__TOMBSTONE ((uvproc_process_t *)(uintptr_t)1)

static pthread_mutex_t uvproc__registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uvproc_process_t **uvproc__slots;
static size_t uvproc__cap, uvproc__used, uvproc__live; /* used counts tombstones too */

static size_t uvproc__hash(const uvproc_process_t *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p >> 4;
    return (size_t)(x * 0x9E3779B97F4A7C15ull >> 17);
}

/* The slot holding p, or NULL. */
static uvproc_process_t **uvproc__find(const uvproc_process_t *p)
{
    if (uvproc__cap == 0)
        return NULL;
    for (size_t i = uvproc__hash(p) & (uvproc__cap - 1);; i = (i + 1) & (uvproc__cap - 1)) {
        if (uvproc__slots[i] == p)
            return &uvproc__slots[i];
        if (uvproc__slots[i] == NULL)
            return NULL;
    }
}

static void uvproc__insert(uvproc_process_t *p)
{
    size_t i = uvproc__hash(p) & (uvproc__cap - 1);
    while (uvproc__slots[i] != NULL && uvproc__slots[i] != UVPROC__TOMBSTONE)
        i = (i + 1) & (uvproc__cap - 1);
    if (uvproc__slots[i] == NULL)
        uvproc__used++;
    uvproc__slots[i] = p;
    uvproc__live++;
}

/* Keeps the table at most half full (tombstones included), dropping tombstones. */
static int uvproc__grow(void)
{
    size_t old_cap = uvproc__cap, cap = uvproc__cap != 0 ? uvproc__cap : 64;
    uvproc_process_t **old = uvproc__slots, **slots;

    while ((uvproc__live + 1) * 2 > cap)
        cap *= 2;
    if ((slots = calloc(cap, sizeof *slots)) == NULL)
        return UV_ENOMEM;
    uvproc__slots = slots;
    uvproc__cap = cap;
    uvproc__used = uvproc__live = 0;
    for (size_t i = 0; i < old_cap; i++)
        if (old[i] != NULL && old[i] != UVPROC__TOMBSTONE)
            uvproc__insert(old[i]);
    free(old);
    return 0;
}

int uvproc__process_registry_add(uvproc_process_t *p)
{
    int err = 0;
    pthread_mutex_lock(&uvproc__registry_lock);
    if ((uvproc__used + 1) * 2 > uvproc__cap)
        err = uvproc__grow();
    if (err == 0)
        uvproc__insert(p);
    pthread_mutex_unlock(&uvproc__registry_lock);
    return err;
}

void uvproc__process_registry_remove(uvproc_process_t *p)
{
    uvproc_process_t **slot;
    pthread_mutex_lock(&uvproc__registry_lock);
    if ((slot = uvproc__find(p)) != NULL) {
        *slot = UVPROC__TOMBSTONE;
        uvproc__live--;
    }
    if (uvproc__live == 0) {
        /* Nothing left: give the memory back (a library must not hold it for good). */
        free(uvproc__slots);
        uvproc__slots = NULL;
        uvproc__cap = uvproc__used = 0;
    }
    pthread_mutex_unlock(&uvproc__registry_lock);
}

int uvproc__process_registry_has(const uvproc_process_t *p)
{
    int found;
    pthread_mutex_lock(&uvproc__registry_lock);
    found = uvproc__find(p) != NULL;
    pthread_mutex_unlock(&uvproc__registry_lock);
    return found;
}
