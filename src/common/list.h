/* The library's one intrusive list, after libuv's src/queue.h: a circular doubly linked list
 * whose head is a node of its own, so that append, unlink and "am I linked" take no branch on
 * head/tail and no owner pointer. A structure joins a list by embedding a
 * uvproc__common_list_t; uvproc__common_list_entry() gets the structure back from the node.
 *
 *   uvproc__common_list_t jobs;                  (in the owner; list_init before use)
 *   struct job { ...; uvproc__common_list_t node; };
 *   uvproc__common_list_push(&owner->jobs, &j->node);
 *   uvproc__common_list_foreach_safe(n, next, &owner->jobs) {
 *       struct job *j = uvproc__common_list_entry(n, struct job, node); ... }
 *
 * A node that is not on a list points at itself (list_init, or after list_remove), so
 * removing twice is harmless and uvproc__common_list_linked() tells whether it is on one. */
#ifndef UVPROC__COMMON_LIST_H
#define UVPROC__COMMON_LIST_H

#include <stddef.h>

typedef struct uvproc__common_list_s {
    struct uvproc__common_list_s *next, *prev;
} uvproc__common_list_t;

#define uvproc__common_list_entry(node, type, field)                                          \
    ((type *)(void *)((char *)(node) - offsetof(type, field)))

/* Every node, first to last; the body must not unlink `n` (use the _safe form for that). */
#define uvproc__common_list_foreach(n, head)                                                  \
    for ((n) = (head)->next; (n) != (head); (n) = (n)->next)
/* The same, where the body may unlink (and free) `n`: `next` is read before it runs. */
#define uvproc__common_list_foreach_safe(n, nextn, head)                                      \
    for ((n) = (head)->next, (nextn) = (n)->next; (n) != (head); (n) = (nextn),              \
        (nextn) = (n)->next)

static inline void uvproc__common_list_init(uvproc__common_list_t *l)
{
    l->next = l->prev = l;
}

static inline int uvproc__common_list_empty(const uvproc__common_list_t *head)
{
    return head->next == head;
}

/* For a node: whether it is on a list now. */
static inline int uvproc__common_list_linked(const uvproc__common_list_t *node)
{
    return node->next != node;
}

/* The first node, or NULL for an empty list. */
static inline uvproc__common_list_t *uvproc__common_list_first(const uvproc__common_list_t *head)
{
    return head->next != head ? head->next : NULL;
}

/* Appends `node` (at the tail). */
static inline void uvproc__common_list_push(uvproc__common_list_t *head,
                                            uvproc__common_list_t *node)
{
    node->next = head;
    node->prev = head->prev;
    node->prev->next = node;
    head->prev = node;
}

/* Prepends `node` (at the head). */
static inline void uvproc__common_list_unshift(uvproc__common_list_t *head,
                                               uvproc__common_list_t *node)
{
    node->next = head->next;
    node->prev = head;
    node->next->prev = node;
    head->next = node;
}

/* Unlinks `node` from whatever list holds it; a node on none stays as it is. */
static inline void uvproc__common_list_remove(uvproc__common_list_t *node)
{
    node->prev->next = node->next;
    node->next->prev = node->prev;
    uvproc__common_list_init(node);
}

/* Moves every node of list `from` in after node `at` (at == head: in front; at == head->prev:
 * at the tail), in their order; `from` is left empty. A queue drained whole per wake-up (the
 * threads' mailboxes) takes its items with this in O(1). */
static inline void uvproc__common_list_splice(uvproc__common_list_t *at,
                                              uvproc__common_list_t *from)
{
    if (from->next == from)
        return;
    from->prev->next = at->next;
    at->next->prev = from->prev;
    at->next = from->next;
    from->next->prev = at;
    uvproc__common_list_init(from);
}

/* Unlinks and returns the first node, or NULL for an empty list. */
static inline uvproc__common_list_t *uvproc__common_list_shift(uvproc__common_list_t *head)
{
    uvproc__common_list_t *n = uvproc__common_list_first(head);
    if (n != NULL)
        uvproc__common_list_remove(n);
    return n;
}

#endif
