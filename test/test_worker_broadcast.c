/* BroadcastChannel: a post reaches every other open channel of its name, on any thread (the
 * main thread's loop and two workers here), never the sender and never another name. */
#include <string.h>

#include <uvproc.h>

#include "worker_util.h"

typedef struct {
    int ready, got, exits;
    uvproc_broadcast_t *bc;
} bcast_t;

static void bworker_message(uvproc_broadcast_t *bc, uvproc_message_t *msg)
{
    /* Tell the parent what arrived, then leave: the worker's loop empties. */
    CHECK_OK(uvproc_port_post(uvproc_parent_port(), msg->value, NULL));
    CHECK_OK(uvproc_broadcast_close(bc));
    CHECK_EQ(uvproc_broadcast_close(bc), UV_EALREADY);
}

static int bworker_entry(uv_loop_t *loop, void *arg)
{
    uvproc_broadcast_t *bc;
    uvproc_broadcast_options_t o = {.on_message = bworker_message};
    (void)arg;
    CHECK_OK(uvproc_broadcast_open(loop, &bc, "news", &o));
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), json_string("ready"), NULL));
    return 0;
}

static void bparent_worker_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    bcast_t *b = uvproc_worker_data(w);
    if (json_is_string(msg->value) && strcmp(json_string_value(msg->value), "ready") == 0) {
        if (++b->ready == 2) {
            json_t *v = json_pack("{s:s}", "headline", "hi");
            CHECK_OK(uvproc_broadcast_post(b->bc, v));
            json_decref(v);
        }
        return;
    }
    CHECK_STR(json_string_value(json_object_get(msg->value, "headline")), "hi");
    b->got++;
}

static void bparent_exit(uvproc_worker_t *w, int code)
{
    bcast_t *b = uvproc_worker_data(w);
    CHECK_EQ(code, 0);
    b->exits++;
}

static void bself_message(uvproc_broadcast_t *bc, uvproc_message_t *msg)
{
    (void)msg;
    int *n = uvproc_broadcast_data(bc);
    (*n)++;
}

TEST(broadcast_channel)
{
    uv_loop_t loop;
    bcast_t b = {0};
    int self_got = 0, other_got = 0, same_got = 0;
    uvproc_broadcast_t *other, *same;
    uvproc_broadcast_options_t so = {.on_message = bself_message, .data = &self_got};
    uvproc_broadcast_options_t oo = {.on_message = bself_message, .data = &other_got};
    uvproc_broadcast_options_t sameo = {.on_message = bself_message, .data = &same_got};
    uvproc_worker_options_t wo = {
        .on_message = bparent_worker_message, .on_exit = bparent_exit, .data = &b};
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_broadcast_open(&loop, &b.bc, "news", &so));
    CHECK_OK(uvproc_broadcast_open(&loop, &other, "sports", &oo));
    CHECK_OK(uvproc_broadcast_open(&loop, &same, "news", &sameo));
    uvproc_broadcast_unref(b.bc);
    uvproc_broadcast_unref(other);
    uvproc_broadcast_unref(same);
    uvproc_broadcast_ref(same);
    CHECK(uv_run(&loop, UV_RUN_NOWAIT) != 0); /* ref'd: keeps the loop */
    uvproc_broadcast_unref(same);
    CHECK_OK(uvproc_worker_start(&loop, NULL, bworker_entry, &wo));
    CHECK_OK(uvproc_worker_start(&loop, NULL, bworker_entry, &wo));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(b.got, 2);
    CHECK_EQ(b.exits, 2);
    CHECK_EQ(self_got, 0);
    CHECK_EQ(other_got, 0);
    uv_run(&loop, UV_RUN_NOWAIT);
    CHECK_EQ(same_got, 1);
    CHECK_OK(uvproc_broadcast_close(b.bc));
    CHECK_EQ(uvproc_broadcast_post(b.bc, json_null()), UV_EPIPE);
    CHECK_OK(uvproc_broadcast_close(other));
    CHECK_OK(uvproc_broadcast_close(same));
    CHECK_LOOP_CLOSE(&loop);
}

int main(int argc, char **argv)
{
    RUN_W(broadcast_channel);
    return check_done();
}
