/* Worker slots: one worker process each, its life written as a state x event table (as the
 * jobs' in pool.c). A slot is STARTING (forked, waiting for "ready"), READY (takes jobs),
 * RETIRING (told to terminate, or killed) or GONE (closed; freed once its timer closed too).
 *
 * Slots start on demand up to max_workers, are kept down to min_workers, retire when idle for
 * idle_timeout_ms above min_workers, when recycled (pool_worker.c), on drain; they are killed
 * for a job's cancel or timeout, for a protocol error, on terminate. */
#include <signal.h>
#include <stdlib.h>

#include "pool.h"

#define TERMINATE_MESSAGE "__workerpool-terminate__"

/* The crash-loop guard for workers that never get to "ready" (a broken script, a missing
 * module): after each failed start the next one waits a backoff (50 ms, doubling, at most
 * 1 s), and only one start is tried at a time; after START_ATTEMPTS failures in a row every
 * queued job fails (the spawn error, or UVPROC_EWORKERSTART). The pool stays usable: a job
 * submitted later gets one fresh try (no backoff), and a worker that says "ready" resets the
 * count. Without this, several slots starting at once each saw another one "still starting"
 * and no job ever ended while workers were restarted forever. */
#define START_ATTEMPTS 5
#define START_BACKOFF_MS 50
#define START_BACKOFF_MAX_MS 1000

static unsigned slots_serving(const uvproc_pool_t *pool, unsigned *starting)
{
    const uvproc__common_list_t *n;
    unsigned serving = 0;
    *starting = 0;
    uvproc__common_list_foreach(n, &pool->slots) {
        const uvproc__pool_slot_t *s = uvproc__common_list_entry(n, uvproc__pool_slot_t, node);
        if (s->state == UVPROC__SLOT_READY && !s->recycle)
            serving++;
        else if (s->state == UVPROC__SLOT_STARTING) {
            serving++;
            (*starting)++;
        }
    }
    return serving;
}

static void slot_set_state(uvproc__pool_slot_t *s, uvproc__pool_slot_state_t st)
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

static void slot_maybe_free(uvproc__pool_slot_t *s)
{
    uvproc_pool_t *pool = s->pool;
    if (--s->pending > 0)
        return;
    uvproc__common_list_remove(&s->node);
    free(s);
    uvproc__pool_kick(pool);
}

static void slot_timer_closed(uv_handle_t *h)
{
    slot_maybe_free(h->data);
}

static void slot_timer_cb(uv_timer_t *t)
{
    uvproc__pool_slot_t *s = t->data;
    uvproc__pool_slot_event(s, s->state == UVPROC__SLOT_RETIRING ? UVPROC__SLOT_EV_GRACE
                                                                 : UVPROC__SLOT_EV_IDLE);
}

void uvproc__pool_slot_arm_idle(uvproc__pool_slot_t *s)
{
    if (s->state == UVPROC__SLOT_READY && s->njobs == 0 && !s->pool->draining)
        uv_timer_start(&s->timer, slot_timer_cb, s->pool->o.idle_timeout_ms, 0);
}

/* Every job still in flight on a worker that is gone. If we killed it, the jobs we were
 * stopping finish with their stop reason and the others go back to the queue; if it died on
 * its own, the oldest (the one it was running: workers serve in order) fails, the rest go
 * back. */
static void slot_fail_jobs(uvproc__pool_slot_t *s)
{
    int blamed = s->killed;
    uvproc__pool_job_t *j;
    while ((j = uvproc__pool_worker_first_job(s)) != NULL) {
        if (j->state == UVPROC__JOB_STOPPING)
            uvproc__pool_job_event(j, UVPROC__EV_CRASH, UVPROC_EWORKERDIED);
        else if (s->host_lost && !blamed) {
            /* scale-out: the host (or ssh's 255 for a crash) took it: a retry elsewhere */
            blamed = 1;
            uvproc__pool_job_event(j, UVPROC__EV_HOSTLOST, UVPROC_EWORKERDIED);
        } else if (!blamed) {
            blamed = 1;
            uvproc__pool_job_event(j, UVPROC__EV_CRASH, UVPROC_EWORKERDIED);
        } else
            uvproc__pool_job_event(j, UVPROC__EV_REQUEUE, 0);
        /* an action that left it linked: never loop forever */
        if (uvproc__pool_worker_first_job(s) == j)
            uvproc__pool_worker_job_left(j);
    }
}

/* ---- the table's actions ---- */

static void slot_impossible(uvproc__pool_slot_t *s)
{
    (void)s;
}

static void slot_ignore(uvproc__pool_slot_t *s)
{
    (void)s;
}

static void slot_ready(uvproc__pool_slot_t *s)
{
    slot_set_state(s, UVPROC__SLOT_READY);
    s->pool->start_failures = 0;
    uvproc__pool_hosts_worker_ready(s);
    uvproc__pool_dispatch(s->pool);
    uvproc__pool_slot_arm_idle(s);
}

static void slot_kill(uvproc__pool_slot_t *s)
{
    if (s->killed || s->proc == NULL)
        return;
    s->killed = 1;
    slot_set_state(s, UVPROC__SLOT_RETIRING);
    uvproc_kill(s->proc, SIGKILL);
}

/* Asks it to exit ("__workerpool-terminate__"); SIGKILL after the grace period. */
static void slot_retire(uvproc__pool_slot_t *s)
{
    const uvproc_pool_t *pool = s->pool;
    slot_set_state(s, UVPROC__SLOT_RETIRING);
    if (s->ch == NULL ||
        uvproc_channel_send_new(s->ch, json_string(TERMINATE_MESSAGE), NULL, NULL) < 0) {
        slot_kill(s);
        return;
    }
    uint64_t grace = pool->o.stop.first.grace_ms != 0 ? pool->o.stop.first.grace_ms : 2000;
    uv_timer_start(&s->timer, slot_timer_cb, grace, 0);
}

static void slot_idle(uvproc__pool_slot_t *s)
{
    unsigned starting;
    if (s->njobs == 0 && slots_serving(s->pool, &starting) > s->pool->o.min_workers)
        slot_retire(s);
}

/* It hung up its channel, so it can never answer: SIGKILL (it is usually exiting anyway),
 * and its jobs are judged as after a crash (not `killed`: the oldest is to blame). Before
 * "ready" it stays STARTING, so that its end counts as a failed start. */
static void slot_lost(uvproc__pool_slot_t *s)
{
    if (s->state == UVPROC__SLOT_READY && uvproc__pool_hosts_is_remote(s->host) && !s->killed) {
        /* scale-out: a launcher whose connection dropped exits on its own, and its code
         * (ssh: 255) is what says the host is lost; a kill now would hide it. A second is
         * plenty for ssh, even on a loaded machine. */
        slot_set_state(s, UVPROC__SLOT_RETIRING);
        uv_timer_start(&s->timer, slot_timer_cb, 1000, 0);
        return;
    }
    if (s->state == UVPROC__SLOT_READY)
        slot_set_state(s, UVPROC__SLOT_RETIRING);
    if (s->proc != NULL)
        uvproc_kill(s->proc, SIGKILL);
}

/* The process closed (exit + channel closed). Taken at close, not exit: a reply it wrote just
 * before exiting is read (and its job completed) before the jobs still in flight are
 * judged. */
static void backoff_done_cb(uv_timer_t *t)
{
    uvproc__pool_slot_t *s = t->data;
    uvproc_pool_t *pool = s->pool;
    pool->start_backoff = 0;
    uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
    uvproc__pool_kick(pool); /* the queue may start its next try now */
}

/* A worker exited before "ready", or could not be started (err). Called with the slot GONE
 * and its timer still open; the timer either closes now or carries the backoff. */
static void start_failed(uvproc__pool_slot_t *s, int err)
{
    uvproc_pool_t *pool = s->pool;
    uint64_t delay;
    unsigned shift;

    pool->start_failures++;
    if (pool->o.on_worker_error != NULL)
        pool->o.on_worker_error(pool, err, s->proc != NULL ? uvproc_pid(s->proc) : 0);
    if (pool->start_failures >= START_ATTEMPTS) {
        /* Give up on what is queued: a spawn error says itself, an early exit is ours. */
        int job_err = s->start_error != 0 ? s->start_error : UVPROC_EWORKERSTART;
        uvproc__pool_job_t *j;
        pool->in_api++;
        while ((j = uvproc__pool_queue_first(pool)) != NULL)
            uvproc__pool_job_event(j, UVPROC__EV_NOWORKER, job_err);
        pool->in_api--;
        uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
        return;
    }
    if (pool->start_backoff || pool->terminating || pool->halted) {
        uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
        return;
    }
    shift = pool->start_failures - 1;
    delay = (uint64_t)START_BACKOFF_MS << (shift < 16 ? shift : 16);
    pool->start_backoff = 1;
    uv_timer_start(&s->timer, backoff_done_cb,
                   delay < START_BACKOFF_MAX_MS ? delay : START_BACKOFF_MAX_MS, 0);
}

/* The process closed (exit + channel closed). Taken at close, not exit: a reply it wrote just
 * before exiting is read (and its job completed) before the jobs still in flight are
 * judged. */
static void slot_closed(uvproc__pool_slot_t *s)
{
    uvproc_pool_t *pool = s->pool;
    int was_starting = s->state == UVPROC__SLOT_STARTING;
    slot_set_state(s, UVPROC__SLOT_GONE);
    uv_timer_stop(&s->timer);
    pool->in_api++; /* deliver from the next turn: the slot is half torn down */
    slot_fail_jobs(s);
    pool->in_api--;
    if (was_starting && !s->host_lost) /* a lost host is pool_hosts.c's to retry */
        start_failed(s, s->start_error != 0 ? s->start_error : UVPROC_EWORKERDIED);
    else
        uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
    uvproc__pool_kick(pool);
}

typedef void (*uvproc__slot_action_t)(uvproc__pool_slot_t *s);

/* Rows are states, columns events; slot_impossible marks cells no path produces. Tests
 * (test_pool_worker.c): READY every test; IDLE min_max_and_idle_shrink; RETIRE recycle_*,
 * every drain, STARTING x RETIRE drain_before_ready_and_terminate_ignored; KILL cancel_*,
 * timeout_*, misbehaving_workers, terminate_*; LOST worker_that_hangs_up; GRACE
 * drain_before_ready_and_terminate_ignored; CLOSED every test, STARTING x CLOSED
 * misbehaving_workers ("noready", a missing program), early_exit_with_many_slots_is_bounded. */
static const uvproc__slot_action_t slot_table[UVPROC__SLOT_NSTATES][UVPROC__SLOT_EV_NEVENTS] = {
    [UVPROC__SLOT_STARTING] =
        {
            [UVPROC__SLOT_EV_READY] = slot_ready,
            [UVPROC__SLOT_EV_IDLE] = slot_impossible, /* the idle timer starts when ready */
            [UVPROC__SLOT_EV_RETIRE] = slot_retire,   /* drained before it was ready */
            [UVPROC__SLOT_EV_KILL] = slot_kill,
            [UVPROC__SLOT_EV_LOST] = slot_lost,
            [UVPROC__SLOT_EV_GRACE] = slot_impossible,
            [UVPROC__SLOT_EV_CLOSED] = slot_closed, /* it died (or never ran) before "ready" */
        },
    [UVPROC__SLOT_READY] =
        {
            [UVPROC__SLOT_EV_READY] = slot_ignore, /* a second "ready" changes nothing */
            [UVPROC__SLOT_EV_IDLE] = slot_idle,
            [UVPROC__SLOT_EV_RETIRE] = slot_retire,
            [UVPROC__SLOT_EV_KILL] = slot_kill,
            [UVPROC__SLOT_EV_LOST] = slot_lost,
            [UVPROC__SLOT_EV_GRACE] = slot_impossible,
            [UVPROC__SLOT_EV_CLOSED] = slot_closed, /* crashed */
        },
    [UVPROC__SLOT_RETIRING] =
        {
            [UVPROC__SLOT_EV_READY] = slot_ignore, /* told to terminate before it was ready */
            [UVPROC__SLOT_EV_IDLE] = slot_ignore,
            [UVPROC__SLOT_EV_RETIRE] = slot_ignore,
            [UVPROC__SLOT_EV_KILL] = slot_kill,   /* terminate while it winds down */
            [UVPROC__SLOT_EV_LOST] = slot_ignore, /* exiting as asked */
            [UVPROC__SLOT_EV_GRACE] = slot_kill,  /* it did not exit when asked */
            [UVPROC__SLOT_EV_CLOSED] = slot_closed,
        },
    [UVPROC__SLOT_GONE] =
        {
            [UVPROC__SLOT_EV_READY] = slot_ignore,
            [UVPROC__SLOT_EV_IDLE] = slot_impossible, /* its timer is closed */
            [UVPROC__SLOT_EV_RETIRE] = slot_ignore,
            [UVPROC__SLOT_EV_KILL] = slot_ignore,
            [UVPROC__SLOT_EV_LOST] = slot_ignore,
            [UVPROC__SLOT_EV_GRACE] = slot_impossible,
            [UVPROC__SLOT_EV_CLOSED] = slot_impossible, /* closes once */
        },
};

void uvproc__pool_slot_event(uvproc__pool_slot_t *s, uvproc__pool_slot_event_t ev)
{
    slot_table[s->state][ev](s);
}

/* ---- starting ---- */

static void on_error_cb(uvproc_process_t *p, const uvproc_error_t *e)
{
    uvproc__pool_slot_t *s = uvproc_process_data(p);
    s->start_error = e->code;
}

static void on_close_cb(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc__pool_slot_t *s = uvproc_process_data(p);
    uvproc__pool_hosts_worker_closed(s, code, signal);
    uvproc__pool_slot_event(s, UVPROC__SLOT_EV_CLOSED);
    s->proc = NULL;
    s->ch = NULL;
    slot_maybe_free(s);
}

static void slot_start(uvproc_pool_t *pool)
{
    uvproc__pool_slot_t *s = calloc(1, sizeof *s);
    uvproc_fork_options_t events = {
        .spawn = {.on_error = on_error_cb, .on_close = on_close_cb},
    };
    int err;
    if (s == NULL)
        return;
    s->pool = pool;
    s->state = UVPROC__SLOT_STARTING;
    uv_timer_init(pool->loop, &s->timer);
    s->timer.data = s;
    uvproc__common_list_init(&s->jobs);
    s->pending = 2; /* the process and the timer */
    uvproc__common_list_unshift(&pool->slots, &s->node); /* newest first: assign's ties go to it */
    pool->live_slots++;
    pool->c.workers++;
    pool->c.workers_started++;
    uvproc__pool_worker_channel_events(&events.channel, s);
    err = uvproc__pool_launch_worker(pool, s, &events);
    if (err != 0) { /* nothing was created: no callback will come */
        s->start_error = err;
        s->pending = 1;
        slot_set_state(s, UVPROC__SLOT_GONE);
        start_failed(s, err);
        return;
    }
    s->ch = uvproc_process_channel(s->proc);
}

void uvproc__pool_worker_grow(uvproc_pool_t *pool)
{
    unsigned starting;
    unsigned serving = slots_serving(pool, &starting);
    if (pool->terminating || pool->halted || pool->closed || pool->start_backoff)
        return;
    while (serving < uvproc__pool_hosts_capacity(pool)) {
        int want_min =
            !pool->draining && pool->start_failures == 0 && serving < pool->o.min_workers;
        /* Work nobody can take now: more queued jobs than starting workers will take. */
        unsigned free_ready = 0;
        const uvproc__common_list_t *n;
        uvproc__common_list_foreach(n, &pool->slots) {
            const uvproc__pool_slot_t *s = uvproc__common_list_entry(n, uvproc__pool_slot_t, node);
            if (s->state == UVPROC__SLOT_READY && !s->recycle)
                free_ready += pool->o.pipeline - s->njobs;
        }
        int want_work =
            pool->c.queued > (uint64_t)free_ready + (uint64_t)starting * pool->o.pipeline;
        if (!want_min && !want_work)
            break;
        if (pool->start_failures > 0 && starting > 0)
            break; /* after a failed start, one try at a time */
        slot_start(pool);
        serving = slots_serving(pool, &starting);
        if (pool->closed || pool->halted)
            break;
        if (pool->start_failures > 0 && starting == 0)
            break; /* it failed at once: the queue's head got the error; one try per call */
    }
}

void uvproc__pool_worker_retire_all(uvproc_pool_t *pool, int kill)
{
    uvproc__common_list_t *n;
    uvproc__common_list_foreach(n, &pool->slots) {
        uvproc__pool_slot_t *s = uvproc__common_list_entry(n, uvproc__pool_slot_t, node);
        if (s->state == UVPROC__SLOT_GONE) {
            if (uv_is_active((uv_handle_t *)&s->timer)) { /* a start's backoff: no next start */
                pool->start_backoff = 0;
                uv_close((uv_handle_t *)&s->timer, slot_timer_closed);
            }
        } else if (kill)
            uvproc__pool_slot_event(s, UVPROC__SLOT_EV_KILL);
        else if (s->njobs == 0)
            uvproc__pool_slot_event(s, UVPROC__SLOT_EV_RETIRE);
    }
}
