/* BroadcastChannel: a process-wide registry of named channels; a post deep-copies the value
 * into the mailbox of every other open channel of that name, whatever thread owns it. The
 * registry lock is taken before any mailbox lock, never the other way round. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/list.h"
#include "threads.h"

struct uvproc_broadcast_s {
    uvproc__threads_mailbox_t mb;
    char *name;
    uvproc_broadcast_options_t o;
    uvproc__common_list_t node; /* on the registry, under its lock */
    int closed;                 /* the owner's thread */
};

static uv_mutex_t uvproc__registry_lock = PTHREAD_MUTEX_INITIALIZER;
static uvproc__common_list_t uvproc__registry = {&uvproc__registry, &uvproc__registry};

static void uvproc__broadcast_deliver(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    uvproc_broadcast_t *bc = (uvproc_broadcast_t *)m;
    if (it->kind == UVPROC__ITEM_MESSAGE && bc->o.on_message != NULL && !bc->closed)
        bc->o.on_message(bc, &it->msg);
    uvproc__threads_item_free(it);
}

static void uvproc__broadcast_free(uvproc__threads_mailbox_t *m)
{
    uvproc_broadcast_t *bc = (uvproc_broadcast_t *)m;
    uvproc__threads_mailbox_destroy(&bc->mb);
    free(bc->name);
    free(bc);
}

static void uvproc__broadcast_teardown(uvproc__threads_mailbox_t *m)
{
    uvproc_broadcast_close((uvproc_broadcast_t *)m);
}

int uvproc_broadcast_open(uv_loop_t *loop, uvproc_broadcast_t **out, const char *name,
                          const uvproc_broadcast_options_t *options)
{
    uvproc_broadcast_t *bc;
    int err;
    if (loop == NULL || out == NULL || name == NULL)
        return UV_EINVAL;
    bc = calloc(1, sizeof *bc);
    if (bc == NULL)
        return UV_ENOMEM;
    if ((bc->name = strdup(name)) == NULL || uvproc__threads_mailbox_init(&bc->mb) != 0) {
        free(bc->name);
        free(bc);
        return UV_ENOMEM;
    }
    if (options != NULL)
        bc->o = *options;
    bc->mb.deliver = uvproc__broadcast_deliver;
    bc->mb.teardown = uvproc__broadcast_teardown;
    err = uvproc__threads_mailbox_attach(&bc->mb, loop, uvproc__threads_worker_list_for(loop));
    if (err != 0) {
        uvproc__broadcast_free(&bc->mb);
        return err;
    }
    uv_mutex_lock(&uvproc__registry_lock);
    uvproc__common_list_unshift(&uvproc__registry, &bc->node);
    uv_mutex_unlock(&uvproc__registry_lock);
    *out = bc;
    return 0;
}

int uvproc_broadcast_post(uvproc_broadcast_t *bc, const json_t *value)
{
    uvproc__common_list_t *n;
    int err = 0;
    if (bc == NULL)
        return UV_EINVAL;
    if (bc->closed)
        return UV_EPIPE;
    uv_mutex_lock(&uvproc__registry_lock);
    uvproc__common_list_foreach(n, &uvproc__registry) {
        uvproc_broadcast_t *to = uvproc__common_list_entry(n, uvproc_broadcast_t, node);
        json_t *v = (json_t *)value;
        uvproc__threads_item_t *it;
        if (to == bc || strcmp(to->name, bc->name) != 0)
            continue;
        err = uvproc__threads_item_build(&it, &v, 0, NULL);
        if (err == 0 && uvproc__threads_mailbox_push(&to->mb, it, 0) != 0)
            uvproc__threads_item_free(it);
        if (err != 0)
            break;
    }
    uv_mutex_unlock(&uvproc__registry_lock);
    return err;
}

int uvproc_broadcast_close(uvproc_broadcast_t *bc)
{
    if (bc == NULL)
        return UV_EINVAL;
    if (bc->closed)
        return UV_EALREADY;
    bc->closed = 1;
    uv_mutex_lock(&uvproc__registry_lock);
    uvproc__common_list_remove(&bc->node);
    uv_mutex_unlock(&uvproc__registry_lock);
    uvproc__threads_item_free_list(uvproc__threads_mailbox_close(&bc->mb));
    uvproc__threads_mailbox_detach(&bc->mb, uvproc__broadcast_free);
    return 0;
}

void uvproc_broadcast_ref(uvproc_broadcast_t *bc)
{
    uvproc__threads_mailbox_set_ref(&bc->mb, 1);
}

void uvproc_broadcast_unref(uvproc_broadcast_t *bc)
{
    uvproc__threads_mailbox_set_ref(&bc->mb, 0);
}

void *uvproc_broadcast_data(const uvproc_broadcast_t *bc)
{
    return bc->o.data;
}
