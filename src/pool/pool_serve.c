/* The worker side of npm workerpool's protocol (workerpool 10's src/worker.js, process mode),
 * for C programs: register methods, then serve calls until told to terminate. The same wire
 * serves a uvproc pool and Node's workerpool (which forks this program with
 * forkOpts.execPath, see docs/pool.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uvproc.h"

#define TERMINATE_MESSAGE "__workerpool-terminate__"
#define CLEANUP_METHOD "__workerpool-cleanup__"

typedef struct {
    uvproc_channel_t *ch;
    const uvproc_pool_method_t *methods;
    size_t n;
    int exit_code;
    int terminating;
} uvproc__worker_t;

struct uvproc_pool_call_s {
    uvproc__worker_t *w;
    json_t *id; /* echoed exactly as it came */
};

static int reply_new(uvproc_pool_call_t *call, json_t *msg)
{
    int r;
    if (msg == NULL) {
        json_decref(call->id);
        free(call);
        return UV_ENOMEM;
    }
    r = call->w->ch != NULL ? uvproc_channel_send_new(call->w->ch, msg, NULL, NULL)
                            : (json_decref(msg), UV_EPIPE);
    json_decref(call->id);
    free(call);
    return r < 0 ? r : 0;
}

int uvproc_pool_call_resolve_new(uvproc_pool_call_t *call, json_t *result)
{
    if (call == NULL) {
        json_decref(result);
        return UV_EINVAL;
    }
    if (result == NULL)
        result = json_null();
    return reply_new(call, json_pack("{s:O,s:o,s:n}", "id", call->id, "result", result, "error"));
}

static json_t *error_object(const char *name, const char *message)
{
    char stack[512];
    name = name != NULL ? name : "Error";
    message = message != NULL ? message : "";
    snprintf(stack, sizeof stack, "%s: %s", name, message);
    return json_pack("{s:s,s:s,s:s}", "name", name, "message", message, "stack", stack);
}

int uvproc_pool_call_reject(uvproc_pool_call_t *call, const char *name, const char *message)
{
    if (call == NULL)
        return UV_EINVAL;
    return reply_new(call, json_pack("{s:O,s:n,s:o*}", "id", call->id, "result", "error",
                                     error_object(name, message)));
}

int uvproc_pool_call_emit_new(uvproc_pool_call_t *call, json_t *payload)
{
    json_t *msg;
    int r;
    if (call == NULL || call->w->ch == NULL) {
        json_decref(payload);
        return call == NULL ? UV_EINVAL : UV_EPIPE;
    }
    if (payload == NULL)
        payload = json_null();
    msg = json_pack("{s:O,s:b,s:o}", "id", call->id, "isEvent", 1, "payload", payload);
    if (msg == NULL)
        return UV_ENOMEM;
    r = uvproc_channel_send_new(call->w->ch, msg, NULL, NULL);
    return r < 0 ? r : 0;
}

int64_t uvproc_pool_call_id(const uvproc_pool_call_t *call)
{
    return call != NULL ? (int64_t)json_integer_value(call->id) : 0;
}

/* workerpool's built-in "methods": the names it can run. */
static void list_methods(uvproc_pool_call_t *call, const uvproc__worker_t *w)
{
    json_t *names = json_array();
    for (size_t i = 0; names != NULL && i < w->n; i++)
        json_array_append_new(names, json_string(w->methods[i].name));
    if (names != NULL)
        json_array_append_new(names, json_string("methods"));
    uvproc_pool_call_resolve_new(call, names);
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc__worker_t *w = uvproc_channel_data(ch);
    const char *method = json_string_value(json_object_get(msg, "method"));
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");
    uvproc_pool_call_t *call;
    char text[300];

    if (handle != NULL) {
        uvproc_handle_close(handle->stream);
        return;
    }
    if (json_is_string(msg) && strcmp(json_string_value(msg), TERMINATE_MESSAGE) == 0) {
        w->terminating = 1;
        uvproc_channel_disconnect(ch); /* replies already queued go out first */
        return;
    }
    if (method == NULL || id == NULL)
        return; /* not a request: workerpool ignores it too */
    call = malloc(sizeof *call);
    if (call == NULL)
        return;
    call->w = w;
    call->id = json_incref(id);
    if (strcmp(method, CLEANUP_METHOD) == 0) {
        /* No abort listeners here: answer as workerpool's worker does without any, and the
         * parent terminates us. */
        reply_new(call, json_pack("{s:O,s:s,s:o*}", "id", id, "method", CLEANUP_METHOD, "error",
                                  error_object("Error", "Worker terminating")));
        return;
    }
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->methods[i].name, method) == 0) {
            json_t *empty = NULL;
            if (!json_is_array(params))
                params = empty = json_array();
            w->methods[i].fn(call, params, w->methods[i].data);
            json_decref(empty);
            return;
        }
    if (strcmp(method, "methods") == 0) {
        list_methods(call, w);
        return;
    }
    snprintf(text, sizeof text, "Unknown method \"%.200s\"", method);
    uvproc_pool_call_reject(call, "Error", text);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    uvproc__worker_t *w = uvproc_channel_data(ch);
    w->ch = NULL;
    if (!w->terminating)
        w->exit_code = 1; /* the parent went away without a word (worker.js exits 1) */
}

int uvproc_pool_serve(uv_loop_t *loop, const uvproc_pool_method_t *methods, size_t n)
{
    uvproc__worker_t w = {.methods = methods, .n = n};
    uvproc_channel_options_t o = {
        .data = &w,
        .on_message = on_message,
        .on_disconnect = on_disconnect,
    };
    int err;
    if (loop == NULL || (methods == NULL && n > 0))
        return UV_EINVAL;
    for (size_t i = 0; i < n; i++)
        if (methods[i].name == NULL || methods[i].fn == NULL)
            return UV_EINVAL;
    err = uvproc_channel_from_parent(loop, &w.ch, &o);
    if (err != 0) {
        /* A worker that exits without a word leaves its user guessing: say why here. */
        const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
        if (err == UVPROC_ESERIALIZATION)
            fprintf(stderr,
                    "uvproc_pool_serve: NODE_CHANNEL_SERIALIZATION_MODE=%s is not supported: "
                    "fork this worker with serialization 'json' (the default)\n",
                    mode != NULL ? mode : "");
        else
            fprintf(stderr, "uvproc_pool_serve: no channel to the pool: %s (%s)\n",
                    uvproc_strerror(err), uvproc_err_name(err));
        return err;
    }
    uvproc_channel_send_new(w.ch, json_string("ready"), NULL, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    return w.exit_code;
}
