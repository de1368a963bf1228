/* What crosses between threads: an item holding a JSON value (deep-copied, or moved when the
 * sender provably held the only reference), byte buffers (moved or copied) and ports. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

/* One allocation: the item, then its buffer array, then its port array, then its text. */
uvproc__threads_item_t *uvproc__threads_item_new(uvproc__threads_item_kind_t kind, size_t nbufs,
                                                 size_t nports, size_t text_len)
{
    size_t size = sizeof(uvproc__threads_item_t);
    uvproc__threads_item_t *it;
    if (nbufs > SIZE_MAX / 4 / sizeof(uvproc_buf_t) ||
        nports > SIZE_MAX / 4 / sizeof(uvproc_port_t *) || text_len > SIZE_MAX / 4)
        return NULL;
    size += nbufs * sizeof(uvproc_buf_t) + nports * sizeof(uvproc_port_t *) + text_len +
            (text_len > 0 || kind == UVPROC__ITEM_TEXT || kind == UVPROC__ITEM_ERROR);
    /* malloc, not calloc: glibc's calloc skips the per-thread cache, and one item per
     * message made it the top of the one-way profile. */
    it = malloc(size);
    if (it == NULL)
        return NULL;
    *it = (uvproc__threads_item_t){.kind = kind};
    memset(it + 1, 0, size - sizeof *it);
    if (nbufs > 0) {
        it->msg.buffers = (uvproc_buf_t *)(it + 1);
        it->msg.buffer_count = nbufs;
    }
    if (nports > 0) {
        it->msg.ports = (uvproc_port_t **)((char *)(it + 1) + nbufs * sizeof(uvproc_buf_t));
        it->msg.port_count = nports;
    }
    if (text_len > 0 || kind == UVPROC__ITEM_TEXT || kind == UVPROC__ITEM_ERROR) {
        it->text =
            (char *)(it + 1) + nbufs * sizeof(uvproc_buf_t) + nports * sizeof(uvproc_port_t *);
        it->text_len = text_len;
    }
    return it;
}

void uvproc__threads_item_free(uvproc__threads_item_t *it)
{
    if (it == NULL)
        return;
    json_decref(it->msg.value);
    for (size_t i = 0; i < it->msg.buffer_count; i++)
        free(it->msg.buffers[i].base);
    /* A port nobody took is closed: its peer learns it (Node closes an unclaimed port too). */
    for (size_t i = 0; i < it->msg.port_count; i++)
        if (it->msg.ports[i] != NULL)
            uvproc_port_close(it->msg.ports[i]);
    free(it);
}

void uvproc__threads_item_free_list(uvproc__threads_item_t *it)
{
    while (it != NULL) {
        uvproc__threads_item_t *next = it->next;
        uvproc__threads_item_free(it);
        it = next;
    }
}

void uvproc_message_free(uvproc_message_t *msg)
{
    uvproc__threads_item_free((uvproc__threads_item_t *)msg);
}

int uvproc__threads_item_parse_text(uvproc__threads_item_t *it)
{
    json_t *v;
    if (it->kind != UVPROC__ITEM_TEXT)
        return 0;
    v = json_loadb(it->text, it->text_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (v == NULL)
        return UVPROC_EBADMSG;
    it->msg.value = v;
    it->kind = UVPROC__ITEM_MESSAGE;
    return 0;
}

/* Whether `v` and everything inside it is reachable only through the reference being
 * posted. Static singletons (true, false, null: refcount -1) are immutable and never freed,
 * so sharing them is harmless. Deep values are simply copied. */
static int uvproc__exclusive(const json_t *v, int depth)
{
    if (v->refcount == (size_t)-1)
        return 1;
    if (v->refcount != 1 || depth > 64)
        return 0;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key,
                            child) if (!uvproc__exclusive(child, depth + 1)) return 0;
    } else if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++)
            if (!uvproc__exclusive(json_array_get(v, i), depth + 1))
                return 0;
    }
    return 1;
}

int uvproc__threads_item_build(uvproc__threads_item_t **out, json_t **value, int steal,
                               const uvproc_transfer_t *t)
{
    static const uvproc_transfer_t none = {0};
    uvproc__threads_item_t *it;
    size_t nbufs;

    if (t == NULL)
        t = &none;
    if ((t->transfer_count > 0 && t->transfer == NULL) || (t->copy_count > 0 && t->copy == NULL) ||
        (t->port_count > 0 && t->ports == NULL) || t->transfer_count > SIZE_MAX / 2 ||
        t->copy_count > SIZE_MAX / 2)
        return UV_EINVAL;
    for (size_t i = 0; i < t->transfer_count; i++) {
        if (t->transfer[i].base == NULL && t->transfer[i].len > 0)
            return UV_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (t->transfer[i].base != NULL && t->transfer[j].base == t->transfer[i].base)
                return UV_EINVAL;
    }
    for (size_t i = 0; i < t->copy_count; i++)
        if (t->copy[i].base == NULL && t->copy[i].len > 0)
            return UV_EINVAL;
    for (size_t i = 0; i < t->port_count; i++) {
        if (t->ports[i] == NULL)
            return UV_EINVAL;
        for (size_t j = 0; j < i; j++)
            if (t->ports[j] == t->ports[i])
                return UV_EINVAL;
    }

    nbufs = t->transfer_count + t->copy_count;
    it = uvproc__threads_item_new(UVPROC__ITEM_MESSAGE, nbufs, t->port_count, 0);
    if (it == NULL)
        return UV_ENOMEM;
    for (size_t i = 0; i < t->transfer_count; i++)
        it->msg.buffers[i] = t->transfer[i];
    for (size_t i = 0; i < t->copy_count; i++) {
        uvproc_buf_t *b = &it->msg.buffers[t->transfer_count + i];
        b->len = t->copy[i].len;
        b->base = malloc(b->len > 0 ? b->len : 1);
        if (b->base == NULL) {
            uvproc__threads_item_disown(it, t->transfer_count);
            uvproc__threads_item_free(it);
            return UV_ENOMEM;
        }
        if (b->len > 0)
            memcpy(b->base, t->copy[i].base, b->len);
    }
    for (size_t i = 0; i < t->port_count; i++)
        it->msg.ports[i] = t->ports[i];
    if (*value != NULL) {
        if (steal && uvproc__exclusive(*value, 0)) {
            it->msg.value = *value;
            *value = NULL;
        } else {
            it->msg.value = json_deep_copy(*value);
            if (it->msg.value == NULL) {
                uvproc__threads_item_disown(it, t->transfer_count);
                uvproc__threads_item_free(it);
                return UV_ENOMEM;
            }
        }
    }
    *out = it;
    return 0;
}

void uvproc__threads_item_disown(uvproc__threads_item_t *it, size_t transferred)
{
    for (size_t i = 0; i < transferred && i < it->msg.buffer_count; i++)
        it->msg.buffers[i] = (uvproc_buf_t){0};
    for (size_t i = 0; i < it->msg.port_count; i++)
        it->msg.ports[i] = NULL;
}

void uvproc__threads_transfer_commit(uvproc_transfer_t *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->transfer_count; i++)
        t->transfer[i] = (uvproc_buf_t){0};
    for (size_t i = 0; i < t->port_count; i++)
        t->ports[i] = NULL;
}
