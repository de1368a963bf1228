/* The cluster primary's worker slots, supervised as a state x event table (as s6-supervise):
 * Node's NODE_CLUSTER messages from workers, restart backoff, the stop of one worker. The
 * user's controls (start, stop, reload, resize) are cluster_control.c's, the listening
 * sockets cluster_handle.c's, the message envelope cluster_proto.c's.
 *
 * A slot is one place in the cluster; its process changes on every restart (each process gets
 * a new NODE_UNIQUE_ID, as Node's cluster.fork() would). Everything that happens to a slot is
 * one of six events, and what it does is one cell of `uvproc__cl_table` below:
 *
 *              ONLINE      LISTENING    DISCONNECT   EXIT          STOP        TIMER
 *   STARTING   online      listening    disconnect   exit          stop        -
 *   ONLINE     duplicate   listening    disconnect   exit          stop        -
 *   LISTENING  duplicate   listen_more  disconnect   exit          stop        -
 *   STOPPING   late        late         disconnect   exit_stopped  ignore      kill
 *   BACKOFF    -           -            -            -             cancel      respawn
 *   DEAD       -           -            -            -             ignore      -
 *
 * "-" cannot happen (no process, or no timer, in that state): `impossible` reports it. A DEAD
 * slot is freed at the end of the event that made it DEAD, so the DEAD row is only reached by
 * an event queued during that same event. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"

typedef void (*uvproc__cl_action_t)(uvproc_cluster_worker_t *w, json_t *msg);

#define CL_EMIT(c, cb, ...)                                                                        \
    do {                                                                                           \
        if ((c)->o.cb != NULL)                                                                     \
            (c)->o.cb((c), __VA_ARGS__);                                                           \
    } while (0)

static int uvproc__cl_spawn(uvproc_cluster_worker_t *w);

void uvproc__cluster_report(uvproc_cluster_worker_t *w, int err, json_t *msg)
{
    CL_EMIT(w->cluster, on_error, w, err, msg);
}

/* ---------------------------------------------------------------------------------------- */
/* restart policy                                                                           */

static uvproc_cluster_restart_t uvproc__cl_restart_policy(const uvproc_cluster_t *c)
{
    uvproc_cluster_restart_t r = c->o.restart;
    if (r.delay_ms == 0)
        r.delay_ms = 100;
    if (r.factor < 1.0)
        r.factor = 1.5;
    if (r.max_delay_ms == 0)
        r.max_delay_ms = 15000;
    if (r.reset_after_ms == 0)
        r.reset_after_ms = 30000;
    if (r.crash_loop_restarts == 0)
        r.crash_loop_restarts = 10;
    if (r.crash_loop_window_ms == 0)
        r.crash_loop_window_ms = 60000;
    return r;
}

/* The delay before this slot's next restart, or -1 when it is in a crash loop. */
static int64_t uvproc__cl_next_delay(uvproc_cluster_worker_t *w, uint64_t now)
{
    uvproc_cluster_restart_t r = uvproc__cl_restart_policy(w->cluster);
    double delay;

    if (now - w->started_ms >= r.reset_after_ms) {
        w->streak = 0; /* it was stable: start the sequence over */
        w->window_count = 0;
    }
    if (w->window_count == 0 || now - w->window_start_ms > r.crash_loop_window_ms) {
        w->window_start_ms = now;
        w->window_count = 0;
    }
    if (r.crash_loop_restarts != UINT32_MAX && ++w->window_count > r.crash_loop_restarts)
        return -1;
    /* delay_ms * factor^(streak-1), capped; multiplied out so the cap stops it early. */
    delay = w->streak == 0 ? 0.0 : (double)r.delay_ms;
    for (unsigned i = 1; i < w->streak && delay < (double)r.max_delay_ms; i++)
        delay *= r.factor;
    w->streak++;
    return delay > (double)r.max_delay_ms ? (int64_t)r.max_delay_ms : (int64_t)delay;
}

/* ---------------------------------------------------------------------------------------- */
/* actions: one per cell of the table                                                       */

static void uvproc__cl_timer_cb(uv_timer_t *t)
{
    uvproc__cluster_event(t->data, UVPROC__EV_TIMER, NULL);
}

static void a_online(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    w->state = UVPROC_WORKER_ONLINE;
    CL_EMIT(w->cluster, on_online, w);
}

/* msg was validated before the event was raised. */
static void uvproc__cl_emit_listening(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc__cluster_query_t q;
    uvproc_cluster_address_t a;
    uvproc__cluster_parse_query(msg, &q);
    a = (uvproc_cluster_address_t){q.address, (int)q.port, q.address_type};
    CL_EMIT(w->cluster, on_listening, w, &a);
}

static void a_listening(uvproc_cluster_worker_t *w, json_t *msg)
{
    w->state = UVPROC_WORKER_LISTENING;
    uvproc__cl_emit_listening(w, msg);
    uvproc__cluster_reload_ready(w->cluster, w);
}

static void a_listen_more(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc__cl_emit_listening(w, msg); /* a second server of the same worker */
}

static void a_duplicate(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc__cluster_report(w, UV_EPROTO, msg); /* online twice: a confused worker */
}

static void a_late(uvproc_cluster_worker_t *w, json_t *msg)
{
    /* A worker that came up while being stopped: tell the user, stay STOPPING. */
    if (uvproc__cluster_act(msg) != NULL && strcmp(uvproc__cluster_act(msg), "online") == 0)
        CL_EMIT(w->cluster, on_online, w);
    else
        uvproc__cl_emit_listening(w, msg);
}

static void a_disconnect(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    w->peer.ch = NULL;
    uvproc__cluster_forget_worker(w);
    uvproc__cluster_cancel_all(&w->peer);
    CL_EMIT(w->cluster, on_disconnect, w);
}

static void uvproc__cl_dead(uvproc_cluster_worker_t *w)
{
    uvproc_cluster_t *c = w->cluster;
    w->state = UVPROC_WORKER_DEAD;
    uvproc__cluster_release_orphans(w); /* nothing will ask for them again */
    for (size_t i = 0; i < c->reload_count; i++)
        if (c->reload_old[i] == w)
            c->reload_old[i] = NULL;
}

static void a_exit(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc_cluster_t *c = w->cluster;
    int64_t delay = -1;
    int crash_loop = 0;
    (void)msg;

    uvproc__cluster_forget_worker(w);
    if (c->stopping || w->voluntary || c->o.restart.disabled) {
        uvproc__cl_dead(w);
    } else {
        delay = uvproc__cl_next_delay(w, w->exited_ms);
        crash_loop = delay < 0;
        if (crash_loop) {
            uvproc__cl_dead(w);
        } else {
            w->state = UVPROC_WORKER_BACKOFF;
            uv_timer_start(&w->timer, uvproc__cl_timer_cb, (uint64_t)delay, 0);
        }
    }
    c->count.exits++;
    c->count.restarts += delay >= 0;
    c->count.crash_loops += crash_loop;
    CL_EMIT(c, on_exit, w, w->exit_code, w->exit_signal);
    if (delay >= 0)
        CL_EMIT(c, on_restart, w, (uint64_t)delay);
    if (crash_loop) {
        CL_EMIT(c, on_crash_loop, w);
        if (c->reloading && c->reload_new == w)
            uvproc__cluster_reload_end(c, UVPROC_ECRASHLOOP);
    }
}

static void a_exit_stopped(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    uv_timer_stop(&w->timer);
    uvproc__cluster_forget_worker(w);
    uvproc__cl_dead(w);
    w->cluster->count.exits++;
    CL_EMIT(w->cluster, on_exit, w, w->exit_code, w->exit_signal);
}

/* Node's worker.disconnect(): the worker closes its servers and leaves; SIGKILL after grace. */
static void a_stop(uvproc_cluster_worker_t *w, json_t *msg)
{
    uint64_t grace = w->cluster->o.grace_ms != 0 ? w->cluster->o.grace_ms : 5000;
    (void)msg;
    w->state = UVPROC_WORKER_STOPPING;
    uvproc__cluster_forget_worker(w);
    /* Without a channel the worker cannot be asked: SIGTERM is the next politest thing. */
    if (uvproc__cluster_send(&w->peer, json_pack("{s:s}", "act", "disconnect"), NULL, NULL, NULL,
                             NULL, NULL) != 0)
        uvproc_kill(w->proc, SIGTERM);
    uv_timer_start(&w->timer, uvproc__cl_timer_cb, grace, 0);
}

static void a_kill(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    uvproc_kill(w->proc, SIGKILL);
}

static void a_cancel(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    uv_timer_stop(&w->timer);
    uvproc__cl_dead(w);
}

static void a_respawn(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)msg;
    w->restarts++;
    uvproc__cl_spawn(w);
}

static void a_ignore(uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)w;
    (void)msg;
}

static void a_impossible(uvproc_cluster_worker_t *w, json_t *msg)
{
    uvproc__cluster_report(w, UV_EINVAL, msg);
}

static const uvproc__cl_action_t uvproc__cl_table[UVPROC_WORKER_DEAD + 1][UVPROC__EV_COUNT] = {
    /*              ONLINE        LISTENING      DISCONNECT    EXIT            STOP      TIMER */
    [UVPROC_WORKER_STARTING] = {a_online, a_listening, a_disconnect, a_exit, a_stop, a_impossible},
    [UVPROC_WORKER_ONLINE] = {a_duplicate, a_listening, a_disconnect, a_exit, a_stop, a_impossible},
    [UVPROC_WORKER_LISTENING] = {a_duplicate, a_listen_more, a_disconnect, a_exit, a_stop,
                                 a_impossible},
    [UVPROC_WORKER_STOPPING] = {a_late, a_late, a_disconnect, a_exit_stopped, a_ignore, a_kill},
    [UVPROC_WORKER_BACKOFF] = {a_impossible, a_impossible, a_impossible, a_impossible, a_cancel,
                               a_respawn},
    [UVPROC_WORKER_DEAD] = {a_impossible, a_impossible, a_impossible, a_impossible, a_ignore,
                            a_impossible},
};

/* How often each cell ran, process-wide: the tests read it to show that every cell that can
 * happen has been exercised (test/test_cluster.c prints the table). Loop threads of
 * different clusters may race on it; it is a statistic, never read by the library. */
unsigned long uvproc__cluster_cells[UVPROC_WORKER_DEAD + 1][UVPROC__EV_COUNT];

/* ---------------------------------------------------------------------------------------- */
/* slots                                                                                    */

static void uvproc__cl_slot_freed(uv_handle_t *h)
{
    uvproc_cluster_worker_t *w = h->data;
    uvproc_cluster_t *c = w->cluster;
    free(w);
    c->nslots--;
    uvproc__cluster_maybe_finish(c);
}

static void uvproc__cl_slot_free(uvproc_cluster_worker_t *w)
{
    uvproc_cluster_t *c = w->cluster;
    uvproc__common_list_remove(&w->node);
    if (c->reload_new == w)
        c->reload_new = NULL;
    uv_close((uv_handle_t *)&w->timer, uvproc__cl_slot_freed);
}

/* Queues an event raised while a cell of this slot runs, with a reference on its message. */
static void uvproc__cl_defer(uvproc_cluster_worker_t *w, uvproc__cluster_event_t ev, json_t *msg)
{
    if (uvproc__common_fifo_push(&w->pending, (int)ev, msg) == 0)
        json_incref(msg);
    else /* more than UVPROC__COMMON_FIFO_CAP events raised inside one cell */
        uvproc__cluster_report(w, UV_ENOBUFS, msg);
}

/* Runs the cell for (state, ev). Events raised while a cell runs (a user callback calling
 * uvproc_cluster_stop, say) wait in w->pending and run after it, each in the state the one
 * before it left, in the order raised, with their messages: no cell ever sees a half-changed
 * slot. */
void uvproc__cluster_event(uvproc_cluster_worker_t *w, uvproc__cluster_event_t ev, json_t *msg)
{
    uvproc__common_fifo_item_t next;

    if (w->dispatching) {
        uvproc__cl_defer(w, ev, msg);
        return;
    }
    w->dispatching = 1;
    uvproc__cluster_cells[w->state][ev]++;
    uvproc__cl_table[w->state][ev](w, msg);
    while (uvproc__common_fifo_shift(&w->pending, &next)) {
        uvproc__cluster_cells[w->state][next.ev]++;
        uvproc__cl_table[w->state][next.ev](w, next.arg);
        json_decref(next.arg);
    }
    w->dispatching = 0;
    if (w->state == UVPROC_WORKER_DEAD && w->proc == NULL)
        uvproc__cl_slot_free(w);
}

static uvproc_cluster_worker_t *uvproc__cl_slot_new(uvproc_cluster_t *c)
{
    uvproc_cluster_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->cluster = c;
    c->nslots++;
    uv_timer_init(c->loop, &w->timer);
    w->timer.data = w;
    uvproc__common_list_unshift(&c->workers, &w->node);
    return w;
}

/* ---------------------------------------------------------------------------------------- */
/* a worker's process and channel                                                           */

static void uvproc__cl_on_internal(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc_cluster_worker_t *w = uvproc_channel_data(ch);
    const char *act;

    if (!uvproc__cluster_is_cluster(msg)) {
        if (handle != NULL)
            uvproc_handle_close(handle->stream);
        return; /* another NODE_ command: ignored, as Node's primary does */
    }
    if (uvproc__cluster_route_reply(&w->peer, msg, handle))
        return;
    if (handle != NULL) /* workers send no handles to the primary */
        uvproc_handle_close(handle->stream);
    act = uvproc__cluster_act(msg);
    if (act == NULL)
        uvproc__cluster_report(w, UV_EPROTO, msg); /* no act, and no request of ours to answer */
    else if (strcmp(act, "online") == 0)
        uvproc__cluster_event(w, UVPROC__EV_ONLINE, msg);
    else if (strcmp(act, "listening") == 0) {
        uvproc__cluster_query_t q;
        if (uvproc__cluster_parse_query(msg, &q) != 0)
            uvproc__cluster_report(w, UV_EPROTO, msg); /* not an event: the state stays */
        else
            uvproc__cluster_event(w, UVPROC__EV_LISTENING, msg);
    } else if (strcmp(act, "queryServer") == 0)
        uvproc__cluster_query_server(w, msg);
    else if (strcmp(act, "close") == 0)
        uvproc__cluster_close_server(w, msg);
    else if (strcmp(act, "exitedAfterDisconnect") == 0) {
        json_t *seq = json_object_get(msg, "seq");
        w->voluntary = 1;
        uvproc__cluster_send(&w->peer, json_pack("{s:O}", "ack", seq != NULL ? seq : json_null()),
                             NULL, NULL, NULL, NULL, NULL);
    } else
        uvproc__cluster_report(w, UV_EPROTO, msg);
}

static void uvproc__cl_on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvproc_cluster_worker_t *w = uvproc_channel_data(ch);
    if (handle != NULL)
        uvproc_handle_close(handle->stream);
    CL_EMIT(w->cluster, on_message, w, msg);
}

static void uvproc__cl_on_channel_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    uvproc_cluster_worker_t *w = uvproc_channel_data(ch);
    json_t *text = line != NULL ? json_stringn_nocheck(line, len) : NULL;
    uvproc__cluster_report(w, err, text);
    json_decref(text);
}

static void uvproc__cl_on_channel_gone(uvproc_channel_t *ch)
{
    uvproc__cluster_event(uvproc_channel_data(ch), UVPROC__EV_DISCONNECT, NULL);
}

static void uvproc__cl_on_spawn_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    uvproc__cluster_report(uvproc_process_data(p), err->code, NULL);
}

static void uvproc__cl_on_close(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc_cluster_worker_t *w = uvproc_process_data(p);
    w->exit_code = code;
    w->exit_signal = signal;
    w->exited_ms = uv_now(w->cluster->loop);
    w->usage_err = uvproc_rusage(p, &w->usage);
    w->has_usage = 1;
    w->proc = NULL; /* freed when this returns */
    w->peer.ch = NULL;
    uvproc__cluster_cancel_all(&w->peer);
    uvproc__cluster_event(w, UVPROC__EV_EXIT, NULL);
}

static int uvproc__cl_spawn(uvproc_cluster_worker_t *w)
{
    uvproc_cluster_t *c = w->cluster;
    uvproc_fork_options_t fo = c->o.fork;
    char id_env[32];
    int err;

    w->id = ++c->next_id;
    snprintf(id_env, sizeof id_env, "NODE_UNIQUE_ID=%u", w->id);
    c->env[c->env_len] = id_env;
    fo.spawn.env = (const char *const *)c->env;
    fo.spawn.env_mode = c->env_mode;
    fo.spawn.kill_on_parent_death = c->pdeath;
    fo.spawn.data = w;
    fo.spawn.events = (uvproc_process_events_t){
        .on_error = uvproc__cl_on_spawn_error,
        .on_close = uvproc__cl_on_close,
    };
    fo.channel.data = w;
    fo.channel.on_message = uvproc__cl_on_message;
    fo.channel.on_internal = uvproc__cl_on_internal;
    fo.channel.on_error = uvproc__cl_on_channel_error;
    fo.channel.on_disconnect = uvproc__cl_on_channel_gone;

    w->state = UVPROC_WORKER_STARTING;
    w->voluntary = 0;
    w->started_ms = uv_now(c->loop);
    w->peer = (uvproc__cluster_peer_t){0};
    err = uvproc_fork(c->loop, &w->proc, c->file, (const char *const *)c->args, &fo);
    c->env[c->env_len] = NULL;
    if (err != 0) {
        /* Not even a process object (no memory): as if it had died at once. */
        uvproc__cluster_report(w, err, NULL);
        w->proc = NULL;
        w->exit_code = err;
        w->exit_signal = 0;
        w->exited_ms = w->started_ms;
        w->has_usage = 0;
        uvproc__cl_defer(w, UVPROC__EV_EXIT, NULL);
        return err;
    }
    w->peer.ch = uvproc_process_channel(w->proc);
    c->count.forks++;
    CL_EMIT(c, on_fork, w);
    return 0;
}

/* A new slot with a running worker (or one whose failure is already under way). */
uvproc_cluster_worker_t *uvproc__cluster_add_worker(uvproc_cluster_t *c)
{
    uvproc_cluster_worker_t *w = uvproc__cl_slot_new(c);
    uvproc__common_fifo_item_t exit_ev;
    if (w == NULL)
        return NULL;
    w->dispatching = 1; /* a synchronous failure becomes an EXIT event, run below */
    uvproc__cl_spawn(w);
    w->dispatching = 0;
    if (uvproc__common_fifo_shift(&w->pending, &exit_ev)) {
        uvproc__cluster_event(w, (uvproc__cluster_event_t)exit_ev.ev, exit_ev.arg);
        json_decref(exit_ev.arg);
        return NULL;
    }
    return w;
}
