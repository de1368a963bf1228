/* Worker jobs, the parent side of npm workerpool's protocol (src/WorkerHandler.js of
 * workerpool 10): the worker says the string "ready"; a request is {"id","method","params"};
 * a reply is {"id","result","error"} with error null or a serialized Error ({message, stack,
 * name, ...}); {"id","isEvent":true,"payload"} is a workerEmit; the string
 * "__workerpool-terminate__" asks the worker to exit.
 *
 * Jobs go to the least loaded ready worker (pool_slot.c has the workers' lifecycle); a worker
 * is recycled after max_jobs_per_worker jobs or past max_rss_kb of peak RSS. A job's cancel
 * or timeout kills only its own worker: jobs sent ahead to the same worker (pipeline > 1) go
 * back to the front of the queue, unharmed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define TERMINATE_MESSAGE "__workerpool-terminate__"
#define CLEANUP_METHOD "__workerpool-cleanup__"

/* ---- peak RSS, for recycling ---- */

static uint64_t peak_rss_kb(uv_pid_t pid)
{
    char path[64], line[256];
    uint64_t kb = 0;
    FILE *f;
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "re");
    if (f == NULL)
        return 0;
    while (fgets(line, sizeof line, f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

/* ---- protocol, parent side ---- */

uvproc__pool_job_t *uvproc__pool_worker_first_job(const uvproc__pool_slot_t *s)
{
    uvproc__common_list_t *n = uvproc__common_list_first(&s->jobs);
    return n != NULL ? uvproc__common_list_entry(n, uvproc__pool_job_t, wnode) : NULL;
}

static uvproc__pool_job_t *slot_find(uvproc__pool_slot_t *s, json_int_t id)
{
    uvproc__common_list_t *n;
    uvproc__common_list_foreach(n, &s->jobs) {
        uvproc__pool_job_t *j = uvproc__common_list_entry(n, uvproc__pool_job_t, wnode);
        if ((json_int_t)j->id == id)
            return j;
    }
    return NULL;
}

/* Garbage, or a reply to a job it was not given: its jobs fail (UVPROC_EPROTOCOL) and it is
 * replaced; what it says from now on is not believed. */
static void slot_protocol_error(uvproc__pool_slot_t *s)
{
    uvproc_pool_t *pool = s->pool;
    uvproc__common_list_t *n, *next;
    if (s->state == UVPROC__SLOT_GONE || s->killed)
        return;
    if (pool->o.on_worker_error != NULL)
        pool->o.on_worker_error(pool, UVPROC_EPROTOCOL, uvproc_pid(s->proc));
    /* A job's FAIL unlinks that job only (job_left): the next one stays on the list. */
    uvproc__common_list_foreach_safe(n, next, &s->jobs) {
        uvproc__pool_job_t *j = uvproc__common_list_entry(n, uvproc__pool_job_t, wnode);
        if (j->state == UVPROC__JOB_RUNNING)
            uvproc__pool_job_event(j, UVPROC__EV_FAIL, UVPROC_EPROTOCOL);
    }
    uvproc__pool_slot_event(s, UVPROC__SLOT_EV_KILL);
}

static char *dup_string_member(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? strdup(v) : NULL;
}

char *uvproc__pool_worker_error_name(const json_t *error)
{
    const char *stack, *colon;
    char *name = dup_string_member(error, "name");
    if (name != NULL || !json_is_object(error))
        return name;
    /* A Node Error's own properties are message and stack; its name leads the stack. */
    stack = json_string_value(json_object_get(error, "stack"));
    colon = stack != NULL ? strchr(stack, ':') : NULL;
    if (colon != NULL && colon > stack && colon - stack < 64 &&
        !memchr(stack, ' ', (size_t)(colon - stack)))
        return strndup(stack, (size_t)(colon - stack));
    return NULL;
}

static void job_error_reply(uvproc__pool_job_t *j, json_t *error)
{
    json_incref(error);
    j->res.error_value = error;
    j->res_error_message = dup_string_member(error, "message");
    j->res_error_name = uvproc__pool_worker_error_name(error);
    j->res.error_message = j->res_error_message;
    j->res.error_name = j->res_error_name != NULL ? j->res_error_name : "Error";
    if (!json_is_object(error) && j->res_error_message == NULL)
        j->res.error_message = json_string_value(error);
    uvproc__pool_job_event(j, UVPROC__EV_FAIL, UVPROC_EJOBERROR);
}

uvproc__pool_reply_t uvproc__pool_worker_reply_kind(const json_t *msg, json_int_t *id)
{
    const json_t *id_v, *error;
    const char *method;

    *id = 0;
    if (json_is_string(msg) && strcmp(json_string_value(msg), "ready") == 0)
        return UVPROC__REPLY_READY;
    id_v = json_object_get(msg, "id");
    if (!json_is_object(msg) || !json_is_integer(id_v))
        return UVPROC__REPLY_BAD;
    *id = json_integer_value(id_v);
    method = json_string_value(json_object_get(msg, "method"));
    if (method != NULL && strcmp(method, CLEANUP_METHOD) == 0)
        return UVPROC__REPLY_CLEANUP; /* the answer to a cleanup we never ask for */
    if (json_is_true(json_object_get(msg, "isEvent")))
        return UVPROC__REPLY_EVENT;
    error = json_object_get(msg, "error");
    return error != NULL && !json_is_null(error) ? UVPROC__REPLY_ERROR : UVPROC__REPLY_RESULT;
}

static void on_message_cb(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc__pool_slot_t *s = uvproc_channel_data(ch);
    uvproc_pool_t *pool = s->pool;
    uvproc__pool_reply_t kind;
    uvproc__pool_job_t *j;
    json_int_t id;

    if (handle != NULL) { /* workerpool never sends handles */
        uvproc_handle_close(handle->stream);
        slot_protocol_error(s);
        return;
    }
    if (s->killed || s->state == UVPROC__SLOT_GONE)
        return;
    kind = uvproc__pool_worker_reply_kind(msg, &id);
    if (kind == UVPROC__REPLY_READY) {
        uvproc__pool_slot_event(s, UVPROC__SLOT_EV_READY);
        return;
    }
    if (kind == UVPROC__REPLY_BAD) {
        slot_protocol_error(s);
        return;
    }
    if (kind == UVPROC__REPLY_CLEANUP)
        return; /* we kill instead of asking for a cleanup */
    j = slot_find(s, id);
    if (kind == UVPROC__REPLY_EVENT) {
        if (j != NULL && j->state == UVPROC__JOB_RUNNING && pool->o.on_event != NULL)
            pool->o.on_event(pool, j->id, j->data, json_object_get(msg, "payload"));
        return;
    }
    if (j == NULL) {
        slot_protocol_error(s);
        return;
    }
    if (kind == UVPROC__REPLY_ERROR) {
        job_error_reply(j, json_object_get(msg, "error"));
        return;
    }
    j->res.result = json_incref(json_object_get(msg, "result"));
    if (j->res.result == NULL)
        j->res.result = json_null();
    uvproc__pool_job_event(j, UVPROC__EV_SUCCESS, 0);
}

static void on_channel_error_cb(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)err;
    (void)line;
    (void)len;
    slot_protocol_error(uvproc_channel_data(ch));
}

static void on_disconnect_cb(uvproc_channel_t *ch)
{
    uvproc__pool_slot_t *s = uvproc_channel_data(ch);
    s->ch = NULL;
    uvproc__pool_slot_event(s, UVPROC__SLOT_EV_LOST);
}

void uvproc__pool_worker_channel_events(uvproc_channel_options_t *o, uvproc__pool_slot_t *s)
{
    o->data = s;
    o->on_message = on_message_cb;
    o->on_error = on_channel_error_cb;
    o->on_disconnect = on_disconnect_cb;
}

/* Hands queued jobs to ready workers, the least loaded first. */
int uvproc__pool_worker_assign(uvproc_pool_t *pool)
{
    uvproc__pool_job_t *j;
    while ((j = uvproc__pool_queue_first(pool)) != NULL) {
        uvproc__pool_slot_t *best = NULL;
        uvproc__common_list_t *n;
        uvproc__common_list_foreach(n, &pool->slots) {
            uvproc__pool_slot_t *s = uvproc__common_list_entry(n, uvproc__pool_slot_t, node);
            /* A channel that has just closed (its on_disconnect still to come, as when a
             * host dies) takes no job: every one sent would fail with EPIPE at once. */
            if (s->state == UVPROC__SLOT_READY && !s->recycle && s->njobs < pool->o.pipeline &&
                uvproc_channel_connected(s->ch) && (best == NULL || s->njobs < best->njobs))
                best = s;
        }
        if (best == NULL)
            break;
        j->slot = best;
        uvproc__common_list_push(&best->jobs, &j->wnode);
        best->njobs++;
        uv_timer_stop(&best->timer);
        uvproc__pool_job_event(j, UVPROC__EV_START, 0);
    }
    return 0;
}

int uvproc__pool_worker_send(uvproc__pool_job_t *j)
{
    uvproc__pool_slot_t *s = j->slot;
    json_t *req;
    int r;
    if (s == NULL || s->ch == NULL)
        return UVPROC_EWORKERDIED;
    j->res.pid = uvproc_pid(s->proc);
    j->res.host = uvproc__pool_hosts_name(s->host);
    req = json_pack("{s:I,s:s,s:O}", "id", (json_int_t)j->id, "method", j->method, "params",
                    j->params);
    if (req == NULL)
        return UV_ENOMEM;
    r = uvproc_channel_send_new(s->ch, req, NULL, NULL);
    return r < 0 ? r : 0;
}

void uvproc__pool_worker_stop_job(uvproc__pool_job_t *j)
{
    if (j->slot != NULL)
        uvproc__pool_slot_event(j->slot, UVPROC__SLOT_EV_KILL);
}

/* The job no longer occupies its worker. NULL: only re-check the idle timer. */
void uvproc__pool_worker_job_left(uvproc__pool_job_t *j)
{
    uvproc__pool_slot_t *s = j != NULL ? j->slot : NULL;
    uvproc_pool_t *pool;
    if (s == NULL)
        return;
    pool = s->pool;
    if (uvproc__common_list_linked(&j->wnode)) { /* linked: on s->jobs, as j->slot says */
        int was_oldest = uvproc__pool_worker_first_job(s) == j;
        uvproc__pool_job_t *oldest;
        uvproc__common_list_remove(&j->wnode);
        s->njobs--;
        oldest = uvproc__pool_worker_first_job(s);
        if (was_oldest && oldest != NULL && oldest->state == UVPROC__JOB_RUNNING)
            uvproc__pool_job_begin(oldest); /* the worker moves on to the next one sent ahead */
    }
    j->slot = NULL;
    if (s->state != UVPROC__SLOT_READY)
        return;
    s->served++;
    if (pool->o.max_jobs_per_worker != 0 && s->served >= pool->o.max_jobs_per_worker)
        s->recycle = 1;
    if (pool->o.max_rss_kb != 0 && !s->recycle &&
        peak_rss_kb(uvproc_pid(s->proc)) > pool->o.max_rss_kb)
        s->recycle = 1;
    if (s->recycle) {
        if (s->njobs == 0)
            uvproc__pool_slot_event(s, UVPROC__SLOT_EV_RETIRE);
        uvproc__pool_kick(pool); /* a replacement may be needed */
        return;
    }
    uvproc__pool_slot_arm_idle(s);
}
