/* The per-worker environment: a copy of the parent's by default (changes stay in the
 * worker), the parent's own with UVPROC_WORKER_ENV_SHARE (Node's SHARE_ENV), or exactly a
 * given list; the main thread's is the process environment; bad names are refused. */
#include <stdlib.h>

#include <uvproc.h>

#include "worker_util.h"

typedef struct {
    json_t *last;
    int exit_code, exits;
} seen_t;

static void on_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    seen_t *s = uvproc_worker_data(w);
    json_decref(s->last);
    s->last = json_incref(msg->value);
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    seen_t *s = uvproc_worker_data(w);
    s->exit_code = code;
    s->exits++;
}

static uvproc_worker_options_t opts_for(seen_t *s)
{
    return (uvproc_worker_options_t){.data = s, .on_message = on_message, .on_exit = on_exit_cb};
}

/* --- the environment: a copy by default, the parent's with SHARE, a given list. */

static int env_entry(uv_loop_t *loop, void *arg)
{
    char buf[64];
    size_t size = sizeof buf;
    json_t *r = json_object();
    (void)loop;
    (void)arg;
    if (uvproc_env_get("UVPROC_TEST_PARENT", buf, &size) == 0)
        json_object_set_new(r, "parent", json_string(buf));
    CHECK_OK(uvproc_env_set("UVPROC_TEST_WORKER", "from-worker"));
    size = sizeof buf;
    CHECK_OK(uvproc_env_get("UVPROC_TEST_WORKER", buf, &size));
    CHECK_STR(buf, "from-worker");
    CHECK_EQ(size, 11);
    size = 3;
    CHECK_EQ(uvproc_env_get("UVPROC_TEST_WORKER", buf, &size), UV_ENOBUFS);
    CHECK_EQ(size, 12);
    json_object_set_new(r, "has_path", json_boolean(getenv("PATH") != NULL));
    size = sizeof buf;
    json_object_set_new(r, "env_path",
                        json_boolean(uvproc_env_get("PATH", buf, &size) != UV_ENOENT));
    CHECK_OK(uvproc_port_post_new(uvproc_parent_port(), r, NULL));
    return 0;
}

static void env_run(uvproc_worker_env_mode_t mode, const char *const *list, seen_t *s)
{
    uv_loop_t loop;
    uvproc_worker_options_t o = opts_for(s);
    o.env_mode = mode;
    o.env = list;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_OK(uvproc_worker_start(&loop, NULL, env_entry, &o));
    CHECK_OK(uv_run(&loop, UV_RUN_DEFAULT));
    CHECK_EQ(s->exit_code, 0);
    CHECK_LOOP_CLOSE(&loop);
}

TEST(env_copy_share_list)
{
    char buf[64];
    size_t size = sizeof buf;
    seen_t s = {0};
    const char *list[] = {"ONLY=1", "UVPROC_TEST_PARENT=listed", NULL};

    CHECK_OK(uvproc_env_set("UVPROC_TEST_PARENT", "p"));
    CHECK_STR(getenv("UVPROC_TEST_PARENT"), "p"); /* the main thread's is the process's */
    CHECK_EQ(uvproc_env_set("A=B", "x"), UV_EINVAL);
    CHECK_EQ(uvproc_env_set("", "x"), UV_EINVAL);

    /* Copy (Node's default): the worker sees ours; its change stays in the worker. */
    env_run(UVPROC_WORKER_ENV_COPY, NULL, &s);
    CHECK_STR(json_string_value(json_object_get(s.last, "parent")), "p");
    CHECK(json_is_true(json_object_get(s.last, "env_path")));
    CHECK_EQ(uvproc_env_get("UVPROC_TEST_WORKER", buf, &size), UV_ENOENT);
    CHECK(getenv("UVPROC_TEST_WORKER") == NULL);
    json_decref(s.last);

    /* SHARE_ENV: the change is ours too. */
    s = (seen_t){0};
    env_run(UVPROC_WORKER_ENV_SHARE, NULL, &s);
    CHECK_STR(json_string_value(json_object_get(s.last, "parent")), "p");
    size = sizeof buf;
    CHECK_OK(uvproc_env_get("UVPROC_TEST_WORKER", buf, &size));
    CHECK_STR(buf, "from-worker");
    CHECK_OK(uvproc_env_unset("UVPROC_TEST_WORKER"));
    json_decref(s.last);

    /* A given list: only that; the process environment (getenv) is untouched. */
    s = (seen_t){0};
    env_run(UVPROC_WORKER_ENV_COPY, list, &s);
    CHECK_STR(json_string_value(json_object_get(s.last, "parent")), "listed");
    CHECK(json_is_false(json_object_get(s.last, "env_path")));
    CHECK(json_is_true(json_object_get(s.last, "has_path")));
    json_decref(s.last);
    CHECK_OK(uvproc_env_unset("UVPROC_TEST_PARENT"));
}

int main(int argc, char **argv)
{
    RUN_W(env_copy_share_list);
    return check_done();
}
