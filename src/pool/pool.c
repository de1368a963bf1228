/* The pool: a bounded run queue, a concurrency limit, and every job's life written as one
 * state x event table (as s6-supervise does), so that "a cancel arrives while the job's worker
 * is being killed for its timeout" is one cell to read, not a path through callbacks.
 *
 * Callbacks to the user (on_done, on_progress, on_close) never run from inside a call the
 * user made (submit, cancel, drain, terminate): what such a call finishes is delivered from
 * the `kick` timer on the next loop turn. Work that user callbacks cause (a submit from
 * on_done) is safe because delivery and dispatch are guarded against re-entry. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/common.h"
#include "pool.h"

uint64_t uvproc__pool_now_ns(void)
{
    return uv_hrtime();
}

/* ---- lists ---- */

uvproc__pool_job_t *uvproc__pool_queue_first(const uvproc_pool_t *pool)
{
    uvproc__common_list_t *n = uvproc__common_list_first(&pool->queue);
    return n != NULL ? uvproc__common_list_entry(n, uvproc__pool_job_t, qnode) : NULL;
}

static void queue_unlink(uvproc_pool_t *pool, uvproc__pool_job_t *j)
{
    uvproc__common_list_remove(&j->qnode);
    pool->c.queued--;
}

void uvproc__pool_job_queue_push(uvproc_pool_t *pool, uvproc__pool_job_t *j, int front)
{
    j->state = UVPROC__JOB_QUEUED;
    if (front)
        uvproc__common_list_unshift(&pool->queue, &j->qnode);
    else
        uvproc__common_list_push(&pool->queue, &j->qnode);
    pool->c.queued++;
}

/* ---- job memory ---- */

static void job_clear_result(uvproc__pool_job_t *j)
{
    json_decref(j->res.result);
    json_decref(j->res.error_value);
    free(j->res_out);
    free(j->res_err);
    free(j->res_error_name);
    free(j->res_error_message);
    j->res_out = j->res_err = j->res_error_name = j->res_error_message = NULL;
    j->res.result = j->res.error_value = NULL;
    j->res.out = j->res.err = j->res.error_name = j->res.error_message = NULL;
    j->res.out_len = j->res.err_len = 0;
    j->res.exit_code = -1;
    j->res.term_signal = 0;
    j->res.has_rusage = 0;
}

void uvproc__pool_job_free_now(uvproc__pool_job_t *j)
{
    job_clear_result(j);
    free(j->file);
    uvproc__common_strv_free(j->argv);
    free(j->input);
    free(j->method);
    json_decref(j->params);
    free(j);
}

static void job_timer_closed(uv_handle_t *h)
{
    uvproc__pool_job_t *j = h->data;
    free(h);
    uvproc__pool_job_free_now(j);
}

static void job_free(uvproc__pool_job_t *j)
{
    if (j->timer != NULL)
        uv_close((uv_handle_t *)j->timer, job_timer_closed);
    else
        uvproc__pool_job_free_now(j);
}

/* ---- delivery (on_done), in completion or submission order ---- */

static void pool_maybe_close(uvproc_pool_t *pool);

static void deliver_one(uvproc_pool_t *pool, uvproc__pool_job_t *j)
{
    j->res.id = j->id;
    j->res.data = j->data;
    uvproc__common_list_remove(&j->snode);
    uvproc__common_list_remove(&j->dnode);
    if (pool->o.on_done != NULL)
        pool->o.on_done(pool, &j->res);
    job_free(j);
}

/* Delivers finished jobs: keep_order waits for the oldest of the submission list; otherwise
 * they leave in completion order from the done list. */
static void pool_deliver(uvproc_pool_t *pool)
{
    if (pool->in_callback) /* an on_done that caused this: the outer loop picks it up */
        return;
    pool->in_callback = 1;
    for (;;) {
        uvproc__common_list_t *n = pool->o.keep_order ? uvproc__common_list_first(&pool->submitted)
                                                      : uvproc__common_list_first(&pool->done);
        uvproc__pool_job_t *j;
        if (n == NULL)
            break;
        j = pool->o.keep_order ? uvproc__common_list_entry(n, uvproc__pool_job_t, snode)
                               : uvproc__common_list_entry(n, uvproc__pool_job_t, dnode);
        if (j->state != UVPROC__JOB_DONE)
            break;
        deliver_one(pool, j);
    }
    pool->in_callback = 0;
}

/* ---- the state table's actions ---- */

static void job_arm_timer(uvproc__pool_job_t *j);

static void act_impossible(uvproc__pool_job_t *j, int reason)
{
    (void)j;
    (void)reason;
}

static void act_ignore(uvproc__pool_job_t *j, int reason)
{
    (void)j;
    (void)reason;
}

static void act_start(uvproc__pool_job_t *j, int reason)
{
    uvproc_pool_t *pool = j->pool;
    int err;
    (void)reason;
    queue_unlink(pool, j);
    j->state = UVPROC__JOB_RUNNING;
    j->stop_reason = 0;
    job_clear_result(j);
    j->res.attempts++;
    pool->c.running++;
    j->start_ns = uvproc__pool_now_ns();
    err = pool->o.kind == UVPROC_POOL_COMMANDS ? uvproc__pool_command_start(j)
                                               : uvproc__pool_worker_send(j);
    if (err != 0) {
        uvproc__pool_job_finish(j, err);
        return;
    }
    /* A worker serves its jobs in order: one sent ahead (pipeline) starts when the one before
     * it is answered, and its clock starts then (uvproc__pool_worker_job_left). */
    if (pool->o.kind == UVPROC_POOL_COMMANDS || uvproc__pool_worker_first_job(j->slot) == j)
        uvproc__pool_job_begin(j);
}

static int may_retry(uvproc__pool_job_t *j, int crash)
{
    const uvproc_pool_t *pool = j->pool;
    if (pool->terminating || pool->halted)
        return 0;
    if (crash && !pool->o.retry_on_signal)
        return 0;
    if (j->res.pid == 0 && pool->o.kind == UVPROC_POOL_COMMANDS)
        return 0; /* it never started (missing program): running it again cannot help */
    return j->res.attempts <= pool->o.retries;
}

static void job_stop_timer(uvproc__pool_job_t *j)
{
    if (j->timer != NULL)
        uv_timer_stop(j->timer);
}

static void job_back_to_queue(uvproc__pool_job_t *j)
{
    uvproc_pool_t *pool = j->pool;
    job_stop_timer(j);
    if (pool->o.kind == UVPROC_POOL_WORKERS)
        uvproc__pool_worker_job_left(j);
    pool->c.running--;
    uvproc__pool_job_queue_push(pool, j, 1);
    uvproc__pool_kick(pool);
}

static void job_timer_cb(uv_timer_t *t);

/* Backoff: the first retry waits retry_delay_ms, each next one twice as long as the one
 * before (capped at 64x). The job waits in WAITING, counted as queued, its timer armed. */
static void job_wait_to_retry(uvproc__pool_job_t *j)
{
    uvproc_pool_t *pool = j->pool;
    unsigned shift = j->res.attempts - 1 < 6 ? j->res.attempts - 1 : 6;
    job_stop_timer(j);
    if (pool->o.kind == UVPROC_POOL_WORKERS)
        uvproc__pool_worker_job_left(j);
    pool->c.running--;
    pool->c.queued++;
    j->state = UVPROC__JOB_WAITING;
    if (j->timer == NULL) {
        j->timer = malloc(sizeof *j->timer);
        if (j->timer == NULL) { /* no delay rather than no retry */
            pool->c.queued--;
            uvproc__pool_job_queue_push(pool, j, 1);
            uvproc__pool_kick(pool);
            return;
        }
        uv_timer_init(pool->loop, j->timer);
        j->timer->data = j;
    }
    uv_timer_start(j->timer, job_timer_cb, pool->o.retry_delay_ms << shift, 0);
}

static void act_fail_or_retry(uvproc__pool_job_t *j, int reason, int crash)
{
    if (may_retry(j, crash)) {
        j->pool->c.retried++;
        if (j->pool->o.retry_delay_ms != 0)
            job_wait_to_retry(j);
        else
            job_back_to_queue(j);
        return;
    }
    uvproc__pool_job_finish(j, reason);
}

/* WAITING x TIMEOUT: its backoff is over. */
static void act_retry_now(uvproc__pool_job_t *j, int reason)
{
    (void)reason;
    j->pool->c.queued--;
    uvproc__pool_job_queue_push(j->pool, j, 1);
    uvproc__pool_kick(j->pool);
}

/* WAITING x CANCEL: it never runs again. */
static void act_unwait(uvproc__pool_job_t *j, int reason)
{
    job_stop_timer(j);
    j->pool->c.queued--;
    j->state = UVPROC__JOB_DONE; /* not running: job_finish must not count it as running */
    uvproc__pool_job_finish(j, reason);
}

static void act_succeed(uvproc__pool_job_t *j, int reason)
{
    (void)reason;
    uvproc__pool_job_finish(j, 0);
}

static void act_fail(uvproc__pool_job_t *j, int reason)
{
    act_fail_or_retry(j, reason, 0);
}

static void act_crash(uvproc__pool_job_t *j, int reason)
{
    act_fail_or_retry(j, reason, 1);
}

/* Timeout or cancel of a running job: stop its process (its worker), and finish it when that
 * process is gone, with this reason rather than whatever the kill looks like. */
static void act_stop(uvproc__pool_job_t *j, int reason)
{
    j->state = UVPROC__JOB_STOPPING;
    j->stop_reason = reason;
    job_stop_timer(j);
    if (j->pool->o.kind == UVPROC_POOL_COMMANDS)
        uvproc__pool_command_stop(j);
    else
        uvproc__pool_worker_stop_job(j);
}

static void act_stopped(uvproc__pool_job_t *j, int reason)
{
    (void)reason;
    uvproc__pool_job_finish(j, j->stop_reason);
}

/* Not counted as an attempt: nothing went wrong with this job. */
static void act_requeue(uvproc__pool_job_t *j, int reason)
{
    (void)reason;
    j->res.attempts--;
    job_back_to_queue(j);
}

/* Scale-out: its host's launcher failed (the job itself may be fine): run it elsewhere,
 * counted as a retry whatever `retries` says, unless it lost a host more often than retries
 * + hosts (then it is what kills them). */
static void act_host_lost(uvproc__pool_job_t *j, int reason)
{
    uvproc_pool_t *pool = j->pool;
    if (pool->terminating || pool->halted ||
        j->res.attempts > pool->o.retries + uvproc__pool_hosts_count(pool)) {
        uvproc__pool_job_finish(j, reason);
        return;
    }
    pool->c.retried++;
    job_back_to_queue(j);
}

static void act_unqueue(uvproc__pool_job_t *j, int reason)
{
    queue_unlink(j->pool, j);
    j->state = UVPROC__JOB_DONE; /* never ran: job_finish must not count it as running */
    uvproc__pool_job_finish(j, reason);
}

typedef void (*uvproc__job_action_t)(uvproc__pool_job_t *j, int reason);

/* Every cell: rows are states, columns events. act_impossible marks cells no code path can
 * produce (a queued job has no process to succeed or time out); test/test_pool*.c reach every
 * other cell. */
static const uvproc__job_action_t job_table[UVPROC__JOB_NSTATES][UVPROC__EV_NEVENTS] = {
    [UVPROC__JOB_QUEUED] =
        {
            [UVPROC__EV_START] = act_start,
            [UVPROC__EV_SUCCESS] = act_impossible,
            [UVPROC__EV_FAIL] = act_impossible,
            [UVPROC__EV_CRASH] = act_impossible,
            [UVPROC__EV_TIMEOUT] = act_impossible, /* the timer runs only while running */
            [UVPROC__EV_CANCEL] = act_unqueue,
            [UVPROC__EV_REQUEUE] = act_impossible,
            [UVPROC__EV_NOWORKER] = act_unqueue, /* with the worker's start error */
            [UVPROC__EV_HOSTLOST] = act_impossible,
        },
    [UVPROC__JOB_RUNNING] =
        {
            [UVPROC__EV_START] = act_impossible,
            [UVPROC__EV_SUCCESS] = act_succeed,
            [UVPROC__EV_FAIL] = act_fail,
            [UVPROC__EV_CRASH] = act_crash,
            [UVPROC__EV_TIMEOUT] = act_stop,
            [UVPROC__EV_CANCEL] = act_stop,
            [UVPROC__EV_REQUEUE] = act_requeue,
            [UVPROC__EV_NOWORKER] = act_impossible,
            [UVPROC__EV_HOSTLOST] = act_host_lost,
        },
    [UVPROC__JOB_STOPPING] =
        {
            [UVPROC__EV_START] = act_impossible,
            [UVPROC__EV_SUCCESS] = act_stopped, /* the reply raced the kill: the stop wins */
            [UVPROC__EV_FAIL] = act_stopped,
            [UVPROC__EV_CRASH] = act_stopped,
            [UVPROC__EV_TIMEOUT] = act_ignore, /* already stopping */
            [UVPROC__EV_CANCEL] = act_ignore,
            [UVPROC__EV_REQUEUE] = act_stopped, /* its worker went for another job's sake */
            [UVPROC__EV_NOWORKER] = act_impossible,
            [UVPROC__EV_HOSTLOST] = act_stopped, /* the stop wins, as for a crash */
        },
    [UVPROC__JOB_WAITING] =
        {
            [UVPROC__EV_START] = act_impossible, /* not in the run queue */
            [UVPROC__EV_SUCCESS] = act_impossible,
            [UVPROC__EV_FAIL] = act_impossible,
            [UVPROC__EV_CRASH] = act_impossible,
            [UVPROC__EV_TIMEOUT] = act_retry_now, /* the backoff timer */
            [UVPROC__EV_CANCEL] = act_unwait,
            [UVPROC__EV_REQUEUE] = act_impossible,
            [UVPROC__EV_NOWORKER] = act_impossible,
            [UVPROC__EV_HOSTLOST] = act_impossible, /* waiting, it runs on no host */
        },
    [UVPROC__JOB_DONE] =
        {
            [UVPROC__EV_START] = act_impossible,
            [UVPROC__EV_SUCCESS] = act_impossible,
            [UVPROC__EV_FAIL] = act_impossible,
            [UVPROC__EV_CRASH] = act_impossible,
            [UVPROC__EV_TIMEOUT] = act_impossible,
            [UVPROC__EV_CANCEL] = act_ignore, /* cancel after the end: UV_EALREADY */
            [UVPROC__EV_REQUEUE] = act_impossible,
            [UVPROC__EV_NOWORKER] = act_impossible,
            [UVPROC__EV_HOSTLOST] = act_impossible,
        },
};

void uvproc__pool_job_event(uvproc__pool_job_t *j, uvproc__pool_job_event_t ev, int reason)
{
    job_table[j->state][ev](j, reason);
}

/* ---- timeouts, counted from the start ---- */

static void job_timer_cb(uv_timer_t *t)
{
    uvproc__pool_job_event(t->data, UVPROC__EV_TIMEOUT, UV_ETIMEDOUT);
}

/* The job's clock starts: run time, start time, its timeout. */
void uvproc__pool_job_begin(uvproc__pool_job_t *j)
{
    struct timespec ts;
    j->start_ns = uvproc__pool_now_ns();
    j->res.start_time = (double)time(NULL);
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0)
        j->res.start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    job_arm_timer(j);
}

static void job_arm_timer(uvproc__pool_job_t *j)
{
    uint64_t ms = j->timeout_ms != 0 ? j->timeout_ms : j->pool->o.timeout_ms;
    if (ms == 0 || j->state != UVPROC__JOB_RUNNING)
        return;
    if (j->timer == NULL) {
        j->timer = malloc(sizeof *j->timer);
        if (j->timer == NULL)
            return; /* no timeout rather than no job */
        uv_timer_init(j->pool->loop, j->timer);
        j->timer->data = j;
    }
    uv_timer_start(j->timer, job_timer_cb, ms, 0);
}

/* ---- finishing, halt ---- */

void uvproc__pool_cancel_unfinished(uvproc_pool_t *pool, int running_too)
{
    uvproc__common_list_t *n, *next;
    uvproc__pool_job_t *q;
    while ((q = uvproc__pool_queue_first(pool)) != NULL)
        uvproc__pool_job_event(q, UVPROC__EV_CANCEL, UV_ECANCELED);
    uvproc__common_list_foreach_safe(n, next, &pool->submitted) {
        uvproc__pool_job_t *j = uvproc__common_list_entry(n, uvproc__pool_job_t, snode);
        if (j->state == UVPROC__JOB_WAITING || (running_too && j->state == UVPROC__JOB_RUNNING))
            uvproc__pool_job_event(j, UVPROC__EV_CANCEL, UV_ECANCELED);
    }
}

void uvproc__pool_halt(uvproc_pool_t *pool, uvproc_halt_t how)
{
    pool->halted = 1;
    /* HALT_SOON lets running jobs finish; a retry waiting for its backoff would start
     * something new, so it goes with the queue. */
    uvproc__pool_cancel_unfinished(pool, how == UVPROC_HALT_NOW);
}

void uvproc__pool_job_finish(uvproc__pool_job_t *j, int err)
{
    uvproc_pool_t *pool = j->pool;
    int was_running = j->state == UVPROC__JOB_RUNNING || j->state == UVPROC__JOB_STOPPING;
    job_stop_timer(j);
    if (was_running) {
        pool->c.running--;
        j->res.run_ms = (double)(uvproc__pool_now_ns() - j->start_ns) / 1e6;
        if (pool->o.kind == UVPROC_POOL_WORKERS)
            uvproc__pool_worker_job_left(j);
    }
    j->state = UVPROC__JOB_DONE;
    j->res.error = err;
    if (!pool->o.keep_order)
        uvproc__common_list_push(&pool->done, &j->dnode);
    if (err == 0)
        pool->c.done++;
    else
        pool->c.failed++;
    if (err == UV_ECANCELED)
        pool->c.cancelled++;
    if (j->res.skipped)
        pool->c.skipped++;
    else if (j->res.attempts > 0)
        uvproc__pool_joblog_write(pool, j);
    if (pool->o.on_progress != NULL)
        pool->o.on_progress(pool, &pool->c);
    if (err != 0 && err != UV_ECANCELED && pool->o.halt != UVPROC_HALT_NEVER && !pool->halted)
        uvproc__pool_halt(pool, pool->o.halt); /* after this job's progress: counters rise */
    uvproc__pool_kick(pool);
    if (!pool->in_api)
        pool_deliver(pool);
}

/* ---- dispatch and lifecycle ---- */

void uvproc__pool_dispatch(uvproc_pool_t *pool)
{
    if (pool->dispatching) {
        pool->redispatch = 1;
        return;
    }
    pool->dispatching = 1;
    do {
        pool->redispatch = 0;
        if (pool->halted || pool->terminating)
            break;
        if (pool->o.kind == UVPROC_POOL_COMMANDS) {
            uvproc__pool_job_t *j;
            while ((j = uvproc__pool_queue_first(pool)) != NULL &&
                   pool->c.running < uvproc__pool_hosts_capacity(pool))
                uvproc__pool_job_event(j, UVPROC__EV_START, 0);
        } else {
            uvproc__pool_worker_assign(pool);
            uvproc__pool_worker_grow(pool);
        }
    } while (pool->redispatch);
    pool->dispatching = 0;
}

void uvproc__pool_release(uvproc_pool_t *pool)
{
    uvproc__pool_hosts_close(pool);
    uvproc__pool_joblog_close(pool);
    free(pool->joblog_path);
    free(pool->worker_file);
    uvproc__common_strv_free(pool->worker_args);
    free(pool->worker_exec_path);
    uvproc__common_strv_free(pool->worker_exec_args);
    free(pool);
}

static void pool_free(uv_handle_t *h)
{
    uvproc_pool_t *pool = h->data;
    if (pool->o.on_close != NULL)
        pool->o.on_close(pool);
    uvproc__pool_release(pool);
}

static void pool_maybe_close(uvproc_pool_t *pool)
{
    if (pool->closed || !(pool->draining || pool->terminating) || pool->in_api)
        return;
    if (uvproc__common_list_empty(&pool->queue) && pool->c.running == 0 && pool->live_slots > 0)
        uvproc__pool_worker_retire_all(pool, pool->terminating);
    if (!uvproc__common_list_empty(&pool->submitted) || pool->live_slots > 0 ||
        !uvproc__common_list_empty(&pool->slots))
        return;
    pool->closed = 1;
    uv_close((uv_handle_t *)&pool->kick, pool_free);
}

static void kick_cb(uv_timer_t *t)
{
    uvproc_pool_t *pool = t->data;
    pool_deliver(pool);
    uvproc__pool_dispatch(pool);
    pool_deliver(pool);
    pool_maybe_close(pool);
}

void uvproc__pool_kick(uvproc_pool_t *pool)
{
    if (!pool->closed && !uv_is_active((uv_handle_t *)&pool->kick))
        uv_timer_start(&pool->kick, kick_cb, 0, 0);
}
