/* Worker threads (Node's Worker): a thread with its own uv_loop_t, joined to its parent by a
 * pair of ports. The parent's end is internal: besides the worker's messages it carries the
 * lifecycle (online, error, exit) as items of the same queue, so the parent sees them in the
 * order they happened, every message of the worker before its exit.
 *
 * Everything the thread needs is set up on the parent's thread before the thread starts
 * (loop, stop handle, both ports), so that uvproc_worker_start can report every failure
 * synchronously. The worker's end: close what the library owns on its loop, close what the
 * user left open (counted), run the loop until the closes are done, close the loop, then
 * post exit. The parent joins the thread when exit arrives, before on_exit. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

struct uvproc_worker_s {
    uvproc_port_t *pport; /* the parent's end, on the parent's loop */
    uvproc_port_t *wport; /* the worker's end: its parentPort */
    uv_loop_t loop;       /* the worker's */
    uv_thread_t thread;
    uint64_t id;
    uvproc_worker_entry_t entry;
    void *arg;
    uvproc_worker_options_t o;
    char *name;
    json_t *data; /* workerData: the worker's own copy */
    uvproc__threads_env_t *env;

    /* terminate: the flag is the cooperative check; the async stops a waiting loop. The lock
     * orders the parent's send against the worker closing the handle. */
    atomic_int terminate_flag;
    uv_mutex_t stop_lock;
    uv_async_t stop_async;
    int stop_open;

    /* The worker's thread only (until exit is posted, which publishes them). */
    uvproc__threads_mailbox_list_t owned;
    int exit_called, exit_code;
    int fail_called, fail_code;
    char *fail_message;
    size_t stray;
    /* Allocated at start: the parent gets its exit whatever memory is left at the end. */
    uvproc__threads_item_t *exit_item;

    /* The parent's thread only. */
    int terminate_called, exited;
    uvproc_terminate_cb terminate_cb;
    void *terminate_data;
};

static _Thread_local uvproc_worker_t *uvproc__tls_worker;
static atomic_uint_fast64_t uvproc__next_thread_id = 1;

uvproc__threads_mailbox_list_t *uvproc__threads_worker_list_for(uv_loop_t *loop)
{
    uvproc_worker_t *w = uvproc__tls_worker;
    return w != NULL && loop == &w->loop ? &w->owned : NULL;
}

/* --- the worker's thread ------------------------------------------------------------- */

static void uvproc__worker_on_stop(uv_async_t *h)
{
    uv_stop(h->loop);
}

static void uvproc__worker_close_stray(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h) || uvproc__threads_is_library_handle(h))
        return;
    (*(size_t *)arg)++;
    uv_close(h, NULL);
}

static void uvproc__worker_end_loop(uvproc_worker_t *w)
{
    uvproc__common_list_t *n, *next;

    uv_mutex_lock(&w->stop_lock);
    w->stop_open = 0;
    uv_mutex_unlock(&w->stop_lock);
    uv_close((uv_handle_t *)&w->stop_async, NULL);
    /* Ports and broadcast channels close (peers learn it); workers this worker started are
     * terminated, and the loop below waits for their exit. */
    /* A teardown detaches its own mailbox at most (a child worker's stays until its exit),
     * never another one. */
    uvproc__common_list_foreach_safe(n, next, &w->owned) {
        uvproc__threads_mailbox_t *m =
            uvproc__common_list_entry(n, uvproc__threads_mailbox_t, node);
        m->teardown(m);
    }
    /* Bounded: a handle closed here cannot come back; a user close callback that opens a
     * new one gets a few more rounds, then the loop is left unclosed rather than hang. */
    for (int round = 0; round < 16; round++) {
        uv_walk(&w->loop, uvproc__worker_close_stray, &w->stray);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        if (uv_loop_close(&w->loop) == 0)
            break;
    }
}

static void uvproc__worker_post_error(uvproc_worker_t *w)
{
    uvproc__threads_item_t *it;
    if (w->fail_called) {
        size_t len = w->fail_message != NULL ? strlen(w->fail_message) : 0;
        it = uvproc__threads_item_new(UVPROC__ITEM_ERROR, 0, 0, len);
        if (it != NULL) {
            it->code = w->fail_code;
            if (len > 0)
                memcpy(it->text, w->fail_message, len);
            uvproc__threads_mailbox_push(&w->pport->mb, it, 1);
        }
    }
}

static void uvproc__worker_main(void *arg)
{
    uvproc_worker_t *w = arg;
    uvproc__threads_item_t *online = uvproc__threads_item_new(UVPROC__ITEM_ONLINE, 0, 0, 0);
    uvproc__threads_item_t *exit_item;
    int code = 0;

    uvproc__tls_worker = w;
    uvproc__threads_env_enter(w->env);
    if (online != NULL)
        uvproc__threads_mailbox_push(&w->pport->mb, online, 1);
    if (!atomic_load(&w->terminate_flag)) {
        code = w->entry(&w->loop, w->arg);
        /* An entry that ran the loop itself may have been stopped by terminate in there. */
        if (!w->exit_called && !w->fail_called && !atomic_load(&w->terminate_flag))
            uv_run(&w->loop, UV_RUN_DEFAULT);
    }
    uvproc__worker_end_loop(w);
    if (w->fail_called)
        code = 1;
    else if (w->exit_called)
        code = w->exit_code;
    else if (atomic_load(&w->terminate_flag))
        code = 1;
    json_decref(w->data);
    w->data = NULL;
    uvproc__threads_env_enter(NULL);
    uvproc__threads_env_release(w->env);
    w->env = NULL;
    uvproc__tls_worker = NULL;
    uvproc__worker_post_error(w);
    exit_item = w->exit_item;
    exit_item->code = code;
    /* The last touch of shared state: after this push the parent may join and free. */
    uvproc__threads_mailbox_push(&w->pport->mb, exit_item, 1);
}

int uvproc_is_main_thread(void)
{
    return uvproc__tls_worker == NULL;
}

uint64_t uvproc_thread_id(void)
{
    return uvproc__tls_worker != NULL ? uvproc__tls_worker->id : 0;
}

uvproc_port_t *uvproc_parent_port(void)
{
    return uvproc__tls_worker != NULL ? uvproc__tls_worker->wport : NULL;
}

const json_t *uvproc_worker_workerdata(void)
{
    return uvproc__tls_worker != NULL ? uvproc__tls_worker->data : NULL;
}

const char *uvproc_worker_name(void)
{
    uvproc_worker_t *w = uvproc__tls_worker;
    return w != NULL && w->name != NULL ? w->name : "";
}

int uvproc_worker_exit(int code)
{
    uvproc_worker_t *w = uvproc__tls_worker;
    if (w == NULL)
        return UV_EINVAL;
    if (!w->exit_called && !w->fail_called) {
        w->exit_called = 1;
        w->exit_code = code;
    }
    uv_stop(&w->loop);
    return 0;
}

int uvproc_worker_fail(int err, const char *message)
{
    uvproc_worker_t *w = uvproc__tls_worker;
    if (w == NULL)
        return UV_EINVAL;
    if (!w->exit_called && !w->fail_called) {
        w->fail_called = 1;
        w->fail_code = err;
        /* Out of memory the error still arrives, without its message. */
        w->fail_message = message != NULL ? strdup(message) : NULL;
    }
    uv_stop(&w->loop);
    return 0;
}

int uvproc_worker_should_stop(void)
{
    uvproc_worker_t *w = uvproc__tls_worker;
    return w != NULL && (atomic_load_explicit(&w->terminate_flag, memory_order_relaxed) ||
                         w->exit_called || w->fail_called);
}

/* --- the parent's thread ------------------------------------------------------------- */

static void uvproc__worker_free(uvproc_worker_t *w)
{
    uvproc__threads_item_free(w->exit_item);
    json_decref(w->data);
    uvproc__threads_env_release(w->env);
    free(w->fail_message);
    free(w->name);
    uv_mutex_destroy(&w->stop_lock);
    free(w);
}

/* The parent's end has closed: the last thing that referred to the worker. */
static void uvproc__worker_on_closed(uvproc__threads_mailbox_t *m)
{
    uvproc_port_t *pport = (uvproc_port_t *)m;
    uvproc_worker_t *w = pport->o.data;
    uvproc__threads_port_release(pport->peer);
    uvproc__threads_port_release(pport);
    uvproc__worker_free(w);
}

static void uvproc__worker_close_parent_end(uvproc_worker_t *w)
{
    w->pport->closed = 1;
    uvproc__threads_item_free_list(uvproc__threads_mailbox_close(&w->pport->mb));
    uvproc__threads_mailbox_detach(&w->pport->mb, uvproc__worker_on_closed);
}

static void uvproc__worker_exited(uvproc_worker_t *w, int code)
{
    uv_thread_join(&w->thread);
    w->exited = 1;
    if (w->o.on_exit != NULL)
        w->o.on_exit(w, code);
    if (w->terminate_cb != NULL)
        w->terminate_cb(w, code, w->terminate_data);
    uvproc__worker_close_parent_end(w);
}

static void uvproc__worker_deliver(uvproc__threads_mailbox_t *m, uvproc__threads_item_t *it)
{
    uvproc_port_t *pport = (uvproc_port_t *)m;
    uvproc_worker_t *w = pport->o.data;

    switch (it->kind) {
    case UVPROC__ITEM_ONLINE:
        if (w->o.on_online != NULL)
            w->o.on_online(w);
        break;
    case UVPROC__ITEM_TEXT:
    case UVPROC__ITEM_MESSAGE:
        if (uvproc__threads_item_parse_text(it) != 0) {
            if (w->o.on_messageerror != NULL)
                w->o.on_messageerror(w, UVPROC_EBADMSG, it->text, it->text_len);
        } else if (w->o.on_message != NULL) {
            w->o.on_message(w, &it->msg);
        }
        break;
    case UVPROC__ITEM_CLOSE:
        /* The worker closed its parent port: posts to it fail from now on. */
        pport->closed = 1;
        break;
    case UVPROC__ITEM_ERROR:
        if (w->o.on_error != NULL)
            w->o.on_error(w, it->code, it->text != NULL ? it->text : "");
        break;
    case UVPROC__ITEM_EXIT:
        if (it == w->exit_item)
            w->exit_item = NULL;
        uvproc__worker_exited(w, it->code);
        break;
    }
    uvproc__threads_item_free(it);
}

/* A worker started by a worker that is ending: Node terminates it with its parent. The
 * parent's loop then runs until its exit has arrived. */
static void uvproc__worker_teardown_child(uvproc__threads_mailbox_t *m)
{
    uvproc_worker_t *w = ((uvproc_port_t *)m)->o.data;
    uvproc__threads_mailbox_set_ref(m, 1);
    if (!w->terminate_called)
        uvproc_worker_terminate(w, NULL, NULL);
}

static int uvproc__worker_prepare(uvproc_worker_t *w, const uvproc_worker_options_t *o)
{
    int err;
    if (o->name != NULL && (w->name = strdup(o->name)) == NULL)
        return UV_ENOMEM;
    if (o->worker_data != NULL && (w->data = json_deep_copy(o->worker_data)) == NULL)
        return UV_ENOMEM;
    w->exit_item = uvproc__threads_item_new(UVPROC__ITEM_EXIT, 0, 0, 0);
    if (w->exit_item == NULL)
        return UV_ENOMEM;
    err = uvproc__threads_env_for_worker(o->env_mode, o->env, &w->env);
    if (err != 0)
        return err;
    return uv_mutex_init(&w->stop_lock);
}

int uvproc_worker_start(uv_loop_t *loop, uvproc_worker_t **out, uvproc_worker_entry_t entry,
                        const uvproc_worker_options_t *options)
{
    static const uvproc_worker_options_t defaults = {0};
    uv_thread_options_t topts = {0};
    uvproc_worker_t *w;
    int err;

    if (loop == NULL || entry == NULL)
        return UV_EINVAL;
    if (options == NULL)
        options = &defaults;
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return UV_ENOMEM;
    uvproc__common_list_init(&w->owned);
    w->o = *options;
    w->o.name = NULL;
    w->o.worker_data = NULL;
    w->o.env = NULL;
    w->entry = entry;
    w->arg = options->arg;
    atomic_init(&w->terminate_flag, 0);
    err = uvproc__worker_prepare(w, options);
    if (err != 0) {
        uvproc__threads_item_free(w->exit_item);
        json_decref(w->data);
        uvproc__threads_env_release(w->env);
        free(w->name);
        free(w);
        return err;
    }
    err = uv_loop_init(&w->loop);
    if (err != 0) {
        uvproc__worker_free(w);
        return err;
    }
    /* From here on, undoing means closing handles (the error path below). */
    uv_async_init(&w->loop, &w->stop_async, uvproc__worker_on_stop);
    uvproc__threads_mark_library_handle((uv_handle_t *)&w->stop_async);
    uv_unref((uv_handle_t *)&w->stop_async);
    w->stop_open = 1;

    err = uvproc__threads_port_pair(&w->pport, &w->wport);
    if (err == 0) {
        w->pport->o.data = w;
        w->pport->mb.deliver = uvproc__worker_deliver;
        w->pport->mb.teardown = uvproc__worker_teardown_child;
        w->pport->mb.hold = 0;
        w->pport->mb.busy_poll_ns = (uint64_t)options->busy_poll_us * 1000;
        err = uvproc__threads_mailbox_attach(&w->pport->mb, loop,
                                             uvproc__threads_worker_list_for(loop));
    }
    if (err == 0) {
        /* The parentPort waits, unref'd, until the worker's code sets on_message. */
        w->wport->mb.unref = 1;
        err = uvproc__threads_mailbox_attach(&w->wport->mb, &w->loop, &w->owned);
    }
    if (err == 0) {
        w->id = atomic_fetch_add(&uvproc__next_thread_id, 1);
        if (options->stack_size > 0) {
            topts.flags = UV_THREAD_HAS_STACK_SIZE;
            topts.stack_size = options->stack_size;
        }
        err = uv_thread_create_ex(&w->thread, &topts, uvproc__worker_main, w);
    }
    if (err != 0) {
        /* Nothing ran: close the worker's loop here, and the parent's end on the parent's
         * loop (it frees the rest when its handle has closed). */
        if (w->wport != NULL && w->wport->mb.loop != NULL) {
            w->wport->closed = 1;
            uvproc__threads_mailbox_detach(&w->wport->mb, NULL);
        }
        uv_close((uv_handle_t *)&w->stop_async, NULL);
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        if (w->pport == NULL) {
            uvproc__worker_free(w);
            return err;
        }
        /* The worker's end is done: its reference and its hold on the parent's end go. */
        uvproc__threads_port_release(w->pport);
        uvproc__threads_port_release(w->wport);
        if (w->pport->mb.loop != NULL) {
            uvproc__worker_close_parent_end(w);
        } else {
            uvproc__threads_port_release(w->wport);
            uvproc__threads_port_release(w->pport);
            uvproc__worker_free(w);
        }
        return err;
    }
    if (out != NULL)
        *out = w;
    return 0;
}

int uvproc_worker_post(uvproc_worker_t *w, const json_t *value, uvproc_transfer_t *t)
{
    json_t *v = (json_t *)value;
    if (w == NULL)
        return UV_EINVAL;
    if (w->exited || w->terminate_called)
        return UV_EPIPE;
    return uvproc__threads_port_post(w->pport, &v, 0, t);
}

int uvproc_worker_post_new(uvproc_worker_t *w, json_t *value, uvproc_transfer_t *t)
{
    int err = UV_EINVAL;
    if (w != NULL)
        err = w->exited || w->terminate_called ? UV_EPIPE
                                               : uvproc__threads_port_post(w->pport, &value, 1, t);
    json_decref(value);
    return err;
}

int uvproc_worker_post_text(uvproc_worker_t *w, const char *text, size_t len)
{
    if (w == NULL)
        return UV_EINVAL;
    if (w->exited || w->terminate_called)
        return UV_EPIPE;
    return uvproc__threads_port_post_text(w->pport, text, len);
}

int uvproc_worker_terminate(uvproc_worker_t *w, uvproc_terminate_cb cb, void *data)
{
    if (w == NULL)
        return UV_EINVAL;
    if (w->exited)
        return UV_ESRCH;
    if (w->terminate_called)
        return UV_EALREADY;
    w->terminate_called = 1;
    w->terminate_cb = cb;
    w->terminate_data = data;
    atomic_store(&w->terminate_flag, 1);
    uv_mutex_lock(&w->stop_lock);
    if (w->stop_open)
        uv_async_send(&w->stop_async);
    uv_mutex_unlock(&w->stop_lock);
    return 0;
}

void uvproc_worker_ref(uvproc_worker_t *w)
{
    uvproc__threads_mailbox_set_ref(&w->pport->mb, 1);
}

void uvproc_worker_unref(uvproc_worker_t *w)
{
    uvproc__threads_mailbox_set_ref(&w->pport->mb, 0);
}

uint64_t uvproc_worker_thread_id(const uvproc_worker_t *w)
{
    return w->id;
}

void *uvproc_worker_data(const uvproc_worker_t *w)
{
    return w->o.data;
}

size_t uvproc_worker_stray_handles(const uvproc_worker_t *w)
{
    return w->stray;
}
