/* Worker jobs, the parent side of npm workerpool's protocol (src/WorkerHandler.js of
 * workerpool 10): the worker says the string "ready"; a request is {"id","method","params"};
 * a reply is {"id","result","error"} with error null or a serialized Error ({message, stack,
 * name, ...}); {"id","isEvent":true,"payload"} is a workerEmit; the string
 * "__workerpool-terminate__" asks the worker to exit.
 *
 * Slots (worker processes) are started on demand up to max_workers, kept down to
 * min_workers, retired when idle for idle_timeout_ms, after max_jobs_per_worker jobs, or past
 * max_rss_kb of peak RSS. A job's cancel or timeout kills only its own worker: jobs sent
 * ahead to the same worker (pipeline > 1) go back to the front of the queue, unharmed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"

#define TERMINATE_MESSAGE "__workerpool-terminate__"
#define CLEANUP_METHOD "__workerpool-cleanup__"

static void slot_retire(uvproc__slot_t *s, int kill);
static void slot_timer_cb(uv_timer_t *t);

static unsigned slots_serving(const uvproc_pool_t *pool, unsigned *starting)
{
    unsigned n = 0;
    *starting = 0;
    for (const uvproc__slot_t *s = pool->slots; s != NULL; s = s->next) {
        if (s->state == UVPROC__SLOT_READY && !s->recycle)
            n++;
        else if (s->state == UVPROC__SLOT_STARTING) {
            n++;
            (*starting)++;
        }
    }
    return n;
}

static void slot_set_state(uvproc__slot_t *s, uvproc__slot_state_t st)
{
    uvproc_pool_t *pool = s->pool;
    if (s->state == UVPROC__SLOT_READY)
        pool->ready_slots--;
    if (st == UVPROC__SLOT_READY)
        pool->ready_slots++;
    if (st == UVPROC__SLOT_GONE && s->state != UVPROC__SLOT_GONE) {
        pool->live_slots--;
        pool->c.workers--;
    }
    s->state = st;
}

static void slot_maybe_free(uvproc__slot_t *s)
{
    uvproc_pool_t *pool = s->pool;
    if (--s->pending > 0)
        return;
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        pool->slots = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    free(s);
    uvproc__pool_kick(pool);
}

static void slot_timer_closed(uv_handle_t *h)
{
    slot_maybe_free(h->data);
}

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

/* ---- the worker's end ---- */

/* Every job still in flight on a worker that is gone. If we killed it, the jobs we were
 * stopping finish with their stop reason and the others go back to the queue; if it died on
 * its own, the oldest (the one it was running: workers serve in order) fails, the rest go
 * back. */
static void slot_fail_jobs(uvproc__slot_t *s)
{
    int blamed = s->killed;
    while (s->jobs != NULL) {
        uvproc__job_t *j = s->jobs;
        if (j->state == UVPROC__JOB_STOPPING)
            uvproc__job_event(j, UVPROC__EV_CRASH, UVPROC_EWORKERDIED);
        else if (s->host_lost && !blamed) {
            /* scale-out: the host (or ssh's 255 for a crash) took it: a retry elsewhere */
            blamed = 1;
            uvproc__job_event(j, UVPROC__EV_HOSTLOST, UVPROC_EWORKERDIED);
        } else if (!blamed) {
            blamed = 1;
            uvproc__job_event(j, UVPROC__EV_CRASH, UVPROC_EWORKERDIED);
        } else
            uvproc__job_event(j, UVPROC__EV_REQUEUE, 0);
        if (s->jobs == j) /* an action that left it linked: never loop forever */
            uvproc__worker_job_left(j);
    }
}

/* The worker's end is taken at close, not exit: a reply it wrote just before exiting is
 * read (and its job completed) before the jobs still in flight are judged. */
static void slot_gone(uvproc_process_t *p)
{
    uvproc__slot_t *s = uvproc_process_data(p);
    uvproc_pool_t *pool = s->pool;
    int was_starting = s->state == UVPROC__SLOT_STARTING;
    slot_set_state(s, UVPROC__SLOT_GONE);
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
    pool->in_api++; /* deliver from the next turn: the slot is half torn down */
    slot_fail_jobs(s);
    pool->in_api--;
    if (was_starting && !s->host_lost) { /* a lost host is pool_hosts.c's to retry */
        int err = s->start_error != 0 ? s->start_error : UVPROC_EWORKERDIED;
        unsigned starting;
        pool->start_failures++;
        if (pool->o.on_worker_error != NULL)
            pool->o.on_worker_error(pool, err, uvproc_pid(p));
        /* Nobody can serve the queue: its first job gets the error rather than a pool that
         * restarts a broken worker forever. The next job gets its own try. */
        if (pool->ready_slots == 0 && slots_serving(pool, &starting) == 0 && pool->qhead != NULL) {
            pool->in_api++;
            uvproc__job_event(pool->qhead, UVPROC__EV_NOWORKER, err);
            pool->in_api--;
        }
    }
    uvproc__pool_kick(pool);
}

static void on_error_cb(uvproc_process_t *p, const uvproc_error_t *e)
{
    uvproc__slot_t *s = uvproc_process_data(p);
    s->start_error = e->code;
}

static void on_close_cb(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc__slot_t *s = uvproc_process_data(p);
    uvproc__hosts_worker_closed(s, code, signal);
    slot_gone(p);
    s->proc = NULL;
    s->ch = NULL;
    slot_maybe_free(s);
}

/* ---- protocol, parent side ---- */

static uvproc__job_t *slot_find(uvproc__slot_t *s, json_int_t id)
{
    for (uvproc__job_t *j = s->jobs; j != NULL; j = j->wnext)
        if ((json_int_t)j->id == id)
            return j;
    return NULL;
}

/* Garbage, or a reply to a job it was not given: its jobs fail (UVPROC_EPROTOCOL) and it is
 * replaced; what it says from now on is not believed. */
static void slot_protocol_error(uvproc__slot_t *s)
{
    uvproc_pool_t *pool = s->pool;
    if (s->state == UVPROC__SLOT_GONE || s->killed)
        return;
    if (pool->o.on_worker_error != NULL)
        pool->o.on_worker_error(pool, UVPROC_EPROTOCOL, uvproc_pid(s->proc));
    for (uvproc__job_t *j = s->jobs, *next; j != NULL; j = next) {
        next = j->wnext;
        if (j->state == UVPROC__JOB_RUNNING)
            uvproc__job_event(j, UVPROC__EV_FAIL, UVPROC_EPROTOCOL);
    }
    slot_retire(s, 1);
}

static char *dup_string_member(const json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? strdup(v) : NULL;
}

static void job_error_reply(uvproc__job_t *j, json_t *error)
{
    json_incref(error);
    j->res.error_value = error;
    j->res_error_message = dup_string_member(error, "message");
    j->res_error_name = dup_string_member(error, "name");
    if (j->res_error_name == NULL && json_is_object(error)) {
        /* A Node Error's own properties are message and stack; its name leads the stack. */
        const char *stack = json_string_value(json_object_get(error, "stack"));
        const char *colon = stack != NULL ? strchr(stack, ':') : NULL;
        if (colon != NULL && colon > stack && colon - stack < 64 &&
            !memchr(stack, ' ', colon - stack))
            j->res_error_name = strndup(stack, (size_t)(colon - stack));
    }
    j->res.error_message = j->res_error_message;
    j->res.error_name = j->res_error_name != NULL ? j->res_error_name : "Error";
    if (!json_is_object(error) && j->res_error_message == NULL)
        j->res.error_message = json_string_value(error);
    uvproc__job_event(j, UVPROC__EV_FAIL, UVPROC_EJOBERROR);
}

static void on_message_cb(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc__slot_t *s = uvproc_channel_data(ch);
    uvproc_pool_t *pool = s->pool;
    json_t *id_v, *error;
    uvproc__job_t *j;

    if (handle != NULL) { /* workerpool never sends handles */
        uv_close((uv_handle_t *)handle->stream, (uv_close_cb)free);
        slot_protocol_error(s);
        return;
    }
    if (s->killed || s->state == UVPROC__SLOT_GONE)
        return;
    if (json_is_string(msg) && strcmp(json_string_value(msg), "ready") == 0) {
        if (s->state != UVPROC__SLOT_STARTING)
            return; /* a second "ready" changes nothing */
        slot_set_state(s, UVPROC__SLOT_READY);
        pool->start_failures = 0;
        uvproc__hosts_worker_ready(s);
        uvproc__pool_dispatch(pool);
        if (s->njobs == 0 && s->state == UVPROC__SLOT_READY && !pool->draining)
            uv_timer_start(&s->timer, slot_timer_cb, pool->o.idle_timeout_ms, 0);
        return;
    }
    id_v = json_object_get(msg, "id");
    if (!json_is_object(msg) || !json_is_integer(id_v)) {
        slot_protocol_error(s);
        return;
    }
    if (json_is_string(json_object_get(msg, "method")) &&
        strcmp(json_string_value(json_object_get(msg, "method")), CLEANUP_METHOD) == 0)
        return; /* the answer to a cleanup we never ask for (we kill instead) */
    j = slot_find(s, json_integer_value(id_v));
    if (json_is_true(json_object_get(msg, "isEvent"))) {
        if (j != NULL && j->state == UVPROC__JOB_RUNNING && pool->o.on_event != NULL)
            pool->o.on_event(pool, j->id, j->data, json_object_get(msg, "payload"));
        return;
    }
    if (j == NULL) {
        slot_protocol_error(s);
        return;
    }
    error = json_object_get(msg, "error");
    if (error != NULL && !json_is_null(error)) {
        job_error_reply(j, error);
        return;
    }
    j->res.result = json_incref(json_object_get(msg, "result"));
    if (j->res.result == NULL)
        j->res.result = json_null();
    uvproc__job_event(j, UVPROC__EV_SUCCESS, 0);
}

static void on_channel_error_cb(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)err;
    (void)line;
    (void)len;
    slot_protocol_error(uvproc_channel_data(ch));
}

/* A worker that closed its channel but lives on can never answer: end it. */
static void on_disconnect_cb(uvproc_channel_t *ch)
{
    uvproc__slot_t *s = uvproc_channel_data(ch);
    s->ch = NULL;
    if (s->state == UVPROC__SLOT_READY && uvproc__hosts_is_remote(s->host) && !s->killed) {
        /* scale-out: a launcher whose connection dropped exits on its own, and its code
         * (ssh: 255) is what says the host is lost; a kill now would hide it. A second is
         * plenty for ssh, even on a loaded machine. */
        slot_set_state(s, UVPROC__SLOT_RETIRING);
        uv_timer_start(&s->timer, slot_timer_cb, 1000, 0);
        return;
    }
    if (s->state != UVPROC__SLOT_GONE && s->proc != NULL && !s->killed) {
        s->killed = s->jobs == NULL; /* jobs in flight: the oldest is to blame (exit) */
        uvproc_kill(s->proc, SIGKILL);
    }
}

/* ---- slots ---- */

static void slot_timer_cb(uv_timer_t *t)
{
    uvproc__slot_t *s = t->data;
    unsigned starting;
    if (s->state == UVPROC__SLOT_RETIRING) { /* it did not exit when asked */
        s->killed = 1;
        uvproc_kill(s->proc, SIGKILL);
        return;
    }
    if (s->state == UVPROC__SLOT_READY && s->njobs == 0 &&
        slots_serving(s->pool, &starting) > s->pool->o.min_workers)
        slot_retire(s, 0);
}

static void slot_start(uvproc_pool_t *pool)
{
    uvproc__slot_t *s = calloc(1, sizeof *s);
    uvproc_fork_options_t events = {
        .spawn = {.on_error = on_error_cb, .on_close = on_close_cb},
        .channel = {.on_message = on_message_cb,
                    .on_error = on_channel_error_cb,
                    .on_disconnect = on_disconnect_cb},
    };
    int err;
    if (s == NULL)
        return;
    s->pool = pool;
    s->state = UVPROC__SLOT_STARTING;
    uv_timer_init(pool->loop, &s->timer);
    s->timer.data = s;
    s->pending = 2; /* the process and the timer */
    s->next = pool->slots;
    if (pool->slots != NULL)
        pool->slots->prev = s;
    pool->slots = s;
    pool->live_slots++;
    pool->c.workers++;
    pool->c.workers_started++;
    events.channel.data = s;
    err = uvproc__launch_worker(pool, s, &events);
    if (err != 0) { /* nothing was created: no callback will come */
        s->start_error = err;
        s->pending = 1;
        slot_set_state(s, UVPROC__SLOT_GONE);
        uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
        pool->start_failures++;
        if (pool->o.on_worker_error != NULL)
            pool->o.on_worker_error(pool, err, 0);
        if (pool->qhead != NULL)
            uvproc__job_event(pool->qhead, UVPROC__EV_NOWORKER, err);
        return;
    }
    s->ch = uvproc_process_channel(s->proc);
}

static void slot_retire(uvproc__slot_t *s, int kill)
{
    uvproc_pool_t *pool = s->pool;
    if (s->state == UVPROC__SLOT_GONE || s->proc == NULL)
        return;
    if (kill) {
        if (!s->killed) {
            s->killed = 1;
            slot_set_state(s, UVPROC__SLOT_RETIRING);
            uvproc_kill(s->proc, SIGKILL);
        }
        return;
    }
    if (s->state == UVPROC__SLOT_RETIRING)
        return;
    slot_set_state(s, UVPROC__SLOT_RETIRING);
    if (s->ch == NULL ||
        uvproc_channel_send_new(s->ch, json_string(TERMINATE_MESSAGE), NULL, NULL) < 0) {
        s->killed = 1;
        uvproc_kill(s->proc, SIGKILL);
        return;
    }
    uint64_t grace = pool->o.stop.first.grace_ms != 0 ? pool->o.stop.first.grace_ms : 2000;
    uv_timer_start(&s->timer, slot_timer_cb, grace, 0);
}

void uvproc__worker_grow(uvproc_pool_t *pool)
{
    unsigned starting;
    unsigned serving = slots_serving(pool, &starting);
    if (pool->terminating || pool->halted || pool->closed)
        return;
    while (serving < uvproc__hosts_capacity(pool)) {
        int want_min =
            !pool->draining && pool->start_failures == 0 && serving < pool->o.min_workers;
        /* Work nobody can take now: more queued jobs than starting workers will take. */
        unsigned free_ready = 0;
        for (const uvproc__slot_t *s = pool->slots; s != NULL; s = s->next)
            if (s->state == UVPROC__SLOT_READY && !s->recycle)
                free_ready += pool->o.pipeline - s->njobs;
        int want_work =
            pool->c.queued > (uint64_t)free_ready + (uint64_t)starting * pool->o.pipeline;
        if (!want_min && !want_work)
            break;
        slot_start(pool);
        serving = slots_serving(pool, &starting);
        if (pool->closed || pool->halted)
            break;
        if (pool->start_failures > 0 && starting == 0)
            break; /* it failed at once: the queue's head got the error; one try per call */
    }
}

/* Hands queued jobs to ready workers, the least loaded first. */
int uvproc__worker_assign(uvproc_pool_t *pool)
{
    while (pool->qhead != NULL) {
        uvproc__slot_t *best = NULL;
        for (uvproc__slot_t *s = pool->slots; s != NULL; s = s->next)
            /* A channel that has just closed (its on_disconnect still to come, as when a
             * host dies) takes no job: every one sent would fail with EPIPE at once. */
            if (s->state == UVPROC__SLOT_READY && !s->recycle && s->njobs < pool->o.pipeline &&
                uvproc_channel_connected(s->ch) && (best == NULL || s->njobs < best->njobs))
                best = s;
        if (best == NULL)
            break;
        uvproc__job_t *j = pool->qhead;
        j->slot = best;
        j->wnext = NULL;
        if (best->jobs_tail != NULL)
            best->jobs_tail->wnext = j;
        else
            best->jobs = j;
        best->jobs_tail = j;
        best->njobs++;
        uv_timer_stop(&best->timer);
        uvproc__job_event(j, UVPROC__EV_START, 0);
    }
    return 0;
}

int uvproc__worker_send(uvproc__job_t *j)
{
    uvproc__slot_t *s = j->slot;
    json_t *req;
    int r;
    if (s == NULL || s->ch == NULL)
        return UVPROC_EWORKERDIED;
    j->res.pid = uvproc_pid(s->proc);
    j->res.host = uvproc__hosts_name(s->host);
    req = json_pack("{s:I,s:s,s:O}", "id", (json_int_t)j->id, "method", j->method, "params",
                    j->params);
    if (req == NULL)
        return UV_ENOMEM;
    r = uvproc_channel_send_new(s->ch, req, NULL, NULL);
    return r < 0 ? r : 0;
}

void uvproc__worker_stop_job(uvproc__job_t *j)
{
    if (j->slot != NULL)
        slot_retire(j->slot, 1);
}

void uvproc__worker_retire_all(uvproc_pool_t *pool, int kill)
{
    for (uvproc__slot_t *s = pool->slots; s != NULL; s = s->next)
        if (s->state != UVPROC__SLOT_GONE && (kill || s->njobs == 0))
            slot_retire(s, kill);
}

/* The job no longer occupies its worker. NULL: only re-check the idle timer. */
void uvproc__worker_job_left(uvproc__job_t *j)
{
    uvproc__slot_t *s = j != NULL ? j->slot : NULL;
    uvproc_pool_t *pool;
    if (s == NULL)
        return;
    pool = s->pool;
    uvproc__job_t **pp = &s->jobs, *prev = NULL;
    while (*pp != NULL && *pp != j) {
        prev = *pp;
        pp = &(*pp)->wnext;
    }
    if (*pp == j) {
        *pp = j->wnext;
        if (s->jobs_tail == j)
            s->jobs_tail = prev;
        s->njobs--;
        if (prev == NULL && s->jobs != NULL && s->jobs->state == UVPROC__JOB_RUNNING)
            uvproc__job_begin(s->jobs); /* the worker moves on to the next one sent ahead */
    }
    j->slot = NULL;
    j->wnext = NULL;
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
            slot_retire(s, 0);
        uvproc__pool_kick(pool); /* a replacement may be needed */
        return;
    }
    if (s->njobs == 0 && !pool->draining)
        uv_timer_start(&s->timer, slot_timer_cb, pool->o.idle_timeout_ms, 0);
}
