/* src/common's helpers (the intrusive list, string vectors, array growth, free-on-close) and
 * the two public calls that sit on them: uvproc_handle_close and uvproc_supports. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common/common.h"
#include "common/fifo.h"
#include "common/list.h"
#include "uvproc.h"

typedef struct {
    int v;
    uvproc__common_list_t node;
} item_t;

static void list_values(uvproc__common_list_t *head, int *out, int *n)
{
    uvproc__common_list_t *q;
    *n = 0;
    uvproc__common_list_foreach(q, head) out[(*n)++] =
        uvproc__common_list_entry(q, item_t, node)->v;
}

TEST(list_push_unshift_remove_shift)
{
    uvproc__common_list_t head, *q, *next;
    item_t it[5];
    int got[5], n;

    uvproc__common_list_init(&head);
    CHECK(uvproc__common_list_empty(&head));
    CHECK(uvproc__common_list_first(&head) == NULL);
    CHECK(uvproc__common_list_shift(&head) == NULL);
    for (int i = 0; i < 5; i++) {
        it[i].v = i;
        uvproc__common_list_init(&it[i].node);
        CHECK(!uvproc__common_list_linked(&it[i].node));
    }
    uvproc__common_list_push(&head, &it[1].node);
    uvproc__common_list_push(&head, &it[2].node);
    uvproc__common_list_unshift(&head, &it[0].node);
    uvproc__common_list_push(&head, &it[3].node);
    list_values(&head, got, &n);
    CHECK_EQ(n, 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(got[i], i);
    CHECK(uvproc__common_list_linked(&it[2].node));

    /* Unlinking in the middle, twice, and a node that was never linked. */
    uvproc__common_list_remove(&it[2].node);
    uvproc__common_list_remove(&it[2].node);
    uvproc__common_list_remove(&it[4].node);
    CHECK(!uvproc__common_list_linked(&it[2].node));
    list_values(&head, got, &n);
    CHECK_EQ(n, 3);
    CHECK(got[0] == 0 && got[1] == 1 && got[2] == 3);

    CHECK(uvproc__common_list_shift(&head) == &it[0].node);
    /* The safe walk may unlink what it visits. */
    uvproc__common_list_foreach_safe(q, next, &head) uvproc__common_list_remove(q);
    CHECK(uvproc__common_list_empty(&head));
}

/* Splicing one list into another at the front, at the tail and in the middle. */
TEST(list_splice)
{
    uvproc__common_list_t a, b;
    item_t it[6];
    int got[6], n;

    uvproc__common_list_init(&a);
    uvproc__common_list_init(&b);
    for (int i = 0; i < 6; i++)
        it[i].v = i;
    uvproc__common_list_push(&a, &it[2].node);
    uvproc__common_list_push(&a, &it[3].node);
    uvproc__common_list_push(&b, &it[0].node);
    uvproc__common_list_push(&b, &it[1].node);
    uvproc__common_list_splice(&a, &b); /* in front */
    CHECK(uvproc__common_list_empty(&b));
    uvproc__common_list_splice(&a, &b); /* an empty list: nothing */
    uvproc__common_list_push(&b, &it[5].node);
    uvproc__common_list_splice(a.prev, &b); /* at the tail */
    uvproc__common_list_push(&b, &it[4].node);
    uvproc__common_list_splice(&it[3].node, &b); /* after 3 */
    list_values(&a, got, &n);
    CHECK_EQ(n, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ(got[i], i);
    /* Backwards too: the prev links are right. */
    n = 5;
    for (uvproc__common_list_t *q = a.prev; q != &a; q = q->prev)
        CHECK_EQ(uvproc__common_list_entry(q, item_t, node)->v, n--);
}

TEST(strv_copies_with_room)
{
    const char *rest[] = {"b", "c", NULL};
    char **v = uvproc__common_strv_dup("a", rest, 2);

    CHECK(v != NULL);
    CHECK_EQ(uvproc__common_strv_len((const char *const *)v), 3);
    CHECK_STR(v[0], "a");
    CHECK_STR(v[2], "c");
    CHECK(v[3] == NULL && v[4] == NULL && v[5] == NULL);
    v[3] = strdup("d"); /* the room asked for: still NULL-terminated */
    v[4] = strdup("e");
    CHECK_EQ(uvproc__common_strv_len((const char *const *)v), 5);
    uvproc__common_strv_free(v);

    char *line = uvproc__common_strv_join("ls", rest);
    CHECK_STR(line, "ls b c");
    free(line);
    line = uvproc__common_strv_join("true", NULL);
    CHECK_STR(line, "true");
    free(line);

    v = uvproc__common_strv_dup(NULL, NULL, 0);
    CHECK(v != NULL && v[0] == NULL);
    uvproc__common_strv_free(v);
    uvproc__common_strv_free(NULL);
    CHECK_EQ(uvproc__common_strv_len(NULL), 0);
}

TEST(grow_doubles_and_keeps_contents)
{
    int *a = NULL, *g;
    size_t cap = 0;

    for (int i = 0; i < 100; i++) {
        g = uvproc__common_grow(a, &cap, (size_t)i, sizeof *a, 4);
        CHECK(g != NULL);
        a = g;
        CHECK((size_t)i < cap);
        a[i] = i;
    }
    CHECK_EQ(cap, 128);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(a[i], i);
    /* Under capacity: the same array back. */
    CHECK(uvproc__common_grow(a, &cap, 50, sizeof *a, 4) == a);
    /* An impossible size fails and leaves the array as it was. */
    size_t huge = (size_t)-1 / 4;
    CHECK(uvproc__common_grow(a, &huge, huge, 16, 4) == NULL);
    CHECK_EQ(huge, (size_t)-1 / 4);
    free(a);
}

/* Both close helpers free the handle from its close callback: the loop closes clean, and
 * ASan/valgrind see no leak. */
TEST(close_free_and_handle_close)
{
    uv_loop_t loop;
    uv_pipe_t *p = malloc(sizeof *p);
    uv_tcp_t *t = malloc(sizeof *t);

    CHECK_OK(uv_loop_init(&loop));
    CHECK(p != NULL && t != NULL);
    CHECK_OK(uv_pipe_init(&loop, p, 0));
    CHECK_OK(uv_tcp_init(&loop, t));
    uvproc__common_close_free((uv_handle_t *)p);
    uvproc_handle_close((uv_stream_t *)t);
    uvproc_handle_close(NULL);
    CHECK_LOOP_CLOSE(&loop);
}

/* The cluster's deferred events: run in the order raised, duplicates and arguments kept, and
 * an overflow refused rather than merged. */
TEST(fifo_keeps_order_duplicates_and_args)
{
    uvproc__common_fifo_t f = {0};
    uvproc__common_fifo_item_t it;
    int args[3];

    CHECK_OK(uvproc__common_fifo_push(&f, 4, &args[0]));
    CHECK_OK(uvproc__common_fifo_push(&f, 1, NULL));
    CHECK_OK(uvproc__common_fifo_push(&f, 4, &args[2])); /* a bitmask would have merged it */
    CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == 4 && it.arg == &args[0]);
    CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == 1 && it.arg == NULL);
    CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == 4 && it.arg == &args[2]);
    CHECK(!uvproc__common_fifo_shift(&f, &it));

    /* Around the ring's end, then full. */
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < UVPROC__COMMON_FIFO_CAP; i++)
            CHECK_OK(uvproc__common_fifo_push(&f, i, NULL));
        CHECK_EQ(uvproc__common_fifo_push(&f, 99, NULL), UV_ENOBUFS);
        for (int i = 0; i < UVPROC__COMMON_FIFO_CAP - 1; i++)
            CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == i);
        CHECK_OK(uvproc__common_fifo_push(&f, 100, NULL));
        CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == UVPROC__COMMON_FIFO_CAP - 1);
        CHECK(uvproc__common_fifo_shift(&f, &it) && it.ev == 100);
        CHECK(!uvproc__common_fifo_shift(&f, &it));
    }
}

typedef struct {
    int spawned, err;
} pdeath_t;

static void pdeath_on_spawn(uvproc_process_t *p)
{
    ((pdeath_t *)uvproc_process_data(p))->spawned = 1;
}

static void pdeath_on_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    ((pdeath_t *)uvproc_process_data(p))->err = e->code;
}

/* What uvproc_supports says is what a spawn asking for it gets. */
TEST(supports_matches_what_spawn_does)
{
    const char *args[] = {"-c", "exit 0", NULL};
    pdeath_t r = {0, 0};
    uvproc_spawn_options_t o = {
        .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_IGNORE},
                  {.type = UVPROC_STDIO_IGNORE}},
        .kill_on_parent_death = 1, .data = &r,
        .on_spawn = pdeath_on_spawn, .on_error = pdeath_on_error,
    };
    uv_loop_t loop;
    int yes = uvproc_supports(UVPROC_FEATURE_KILL_ON_PARENT_DEATH);

    CHECK(yes == 0 || yes == 1);
    CHECK_EQ(uvproc_supports((uvproc_feature_t)12345), 0);
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_spawn(&loop, NULL, "/bin/sh", args, &o));
    CHECK_LOOP_CLOSE(&loop);
    if (yes)
        CHECK(r.spawned && r.err == 0);
    else
        CHECK(!r.spawned && r.err == UV_ENOSYS);
    printf("# kill_on_parent_death %s here\n", yes ? "supported" : "not supported");
}

int main(int argc, char **argv)
{
    RUN(list_push_unshift_remove_shift);
    RUN(list_splice);
    RUN(strv_copies_with_room);
    RUN(grow_doubles_and_keeps_contents);
    RUN(close_free_and_handle_close);
    RUN(fifo_keeps_order_duplicates_and_args);
    RUN(supports_matches_what_spawn_does);
    return check_done();
}
