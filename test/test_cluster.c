/* The cluster primary with C workers (test/helpers/cluster_worker.c) and, compiled again with
 * CLUSTER_NODE as test_cluster_node, with unmodified Node cluster workers (test/node/): both
 * policies, restarts,
 * backoff and crash loops, graceful stop, rolling reload under load, bad input, and every
 * reachable cell of the slot table (printed at the end). Real processes, real HTTP over
 * 127.0.0.1. Short backoff values keep it fast; events, not sleeps, synchronise. */
#include <errno.h>
#include <sys/syscall.h>

#include "cluster/cluster.h"
#include "cluster_util.h"

#ifdef CLUSTER_NODE
/* test_cluster_node runs the tests that make sense with Node workers; the C-only ones are
 * compiled but not run there. */
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define MAX_EV 64

typedef struct {
    uv_loop_t loop;
    uvproc_cluster_t *c;
    int port;
    unsigned forks, onlines, listenings, exits, restarts, crash_loops, disconnects, messages;
    unsigned errors, err_proto, err_badmsg, err_inuse, stopped;
    int last_code, last_signal, last_state;
    uint64_t fork_ms[MAX_EV];
    uint64_t restart_delay[MAX_EV];
    uv_pid_t pids[MAX_EV];
    int reload_status, reloads_done;
    int stop_in_crash_loop, stop_in_backoff, stop_after_listening;
    unsigned want_listening;
} rec_t;

/* rr_NAME and shared_NAME: the same test body in each policy. */
#define BOTH_POLICIES(name, fn)                                                                    \
    TEST(rr_##name)                                                                                \
    {                                                                                              \
        fn(UVPROC_CLUSTER_RR);                                                                     \
    }                                                                                              \
    TEST(shared_##name)                                                                            \
    {                                                                                              \
        fn(UVPROC_CLUSTER_SHARED);                                                                 \
    }

static rec_t *R(uvproc_cluster_t *c)
{
    return uvproc_cluster_data(c);
}

static void r_fork(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    rec_t *r = R(c);
    if (r->forks < MAX_EV) {
        r->fork_ms[r->forks] = uv_hrtime() / 1000000;
        r->pids[r->forks] = uvproc_cluster_worker_pid(w);
    }
    r->forks++;
}

static void r_online(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    (void)w;
    R(c)->onlines++;
}

static void r_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                        const uvproc_cluster_address_t *a)
{
    rec_t *r = R(c);
    (void)w;
    r->listenings++;
    if (a->port > 0 && r->port == 0)
        r->port = a->port;
    if (r->stop_after_listening && r->listenings == r->want_listening)
        CHECK_OK(uvproc_cluster_stop(c, NULL, NULL));
}

static void r_exit(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int sig)
{
    rec_t *r = R(c);
    struct rusage ru;
    r->exits++;
    r->last_code = (int)code;
    r->last_signal = sig;
    r->last_state = uvproc_cluster_worker_state(w);
    CHECK(uvproc_cluster_worker_pid(w) == 0);
    int e = uvproc_cluster_worker_rusage(w, &ru);
    CHECK(e == 0 || e == UV_ENOTSUP || code < -1); /* never started: no usage */
}

static void r_restart(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, uint64_t delay)
{
    rec_t *r = R(c);
    (void)w;
    if (r->restarts < MAX_EV)
        r->restart_delay[r->restarts] = delay;
    r->restarts++;
    if (r->stop_in_backoff && delay > 0)
        CHECK_OK(uvproc_cluster_stop(c, NULL, NULL)); /* BACKOFF x STOP */
}

static void r_crash_loop(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    rec_t *r = R(c);
    r->crash_loops++;
    CHECK_EQ(uvproc_cluster_worker_state(w), UVPROC_WORKER_DEAD);
    if (r->stop_in_crash_loop)
        CHECK_OK(uvproc_cluster_stop(c, NULL, NULL)); /* DEAD x STOP, queued in the event */
}

static void r_disconnect(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    (void)w;
    R(c)->disconnects++;
}

static void r_message(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, json_t *msg)
{
    (void)w;
    (void)msg;
    R(c)->messages++;
}

static void r_error(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int err, json_t *msg)
{
    rec_t *r = R(c);
    (void)w;
    (void)msg;
    r->errors++;
    r->err_proto += err == UV_EPROTO;
    r->err_badmsg += err == UVPROC_EBADMSG;
    r->err_inuse += err == UV_EADDRINUSE;
}

static void r_stopped(uvproc_cluster_t *c, void *data)
{
    (void)c;
    ((rec_t *)data)->stopped = 1;
}

static uvproc_cluster_options_t opts(rec_t *r, unsigned workers, uvproc_cluster_policy_t pol)
{
    uvproc_cluster_options_t o = {0};
    o.workers = workers;
    o.policy = pol;
    o.grace_ms = 3000;
    o.restart.delay_ms = 20;
    o.restart.factor = 2;
    o.data = r;
    o.on_fork = r_fork;
    o.on_online = r_online;
    o.on_listening = r_listening;
    o.on_exit = r_exit;
    o.on_restart = r_restart;
    o.on_crash_loop = r_crash_loop;
    o.on_disconnect = r_disconnect;
    o.on_message = r_message;
    o.on_error = r_error;
    /* Workers' stdout (Node's console.log) must not mix with this test's TAP output. */
    o.fork.spawn.stdio[1] = (uvproc_stdio_t){.type = UVPROC_STDIO_FD, .fd = 2};
    return o;
}

#ifdef CLUSTER_NODE
/* test_cluster_node: the same tests with unmodified Node cluster workers: `mode` is a script
 * in test/node/, `port` reaches it as CLUSTER_TEST_PORT (0: a free port is chosen). */
static void start(rec_t *r, const char *mode, int port, const uvproc_cluster_options_t *opt)
{
    char script[1024], env[64];
    uvproc_cluster_options_t o = *opt;
    const char *envv[] = {env, NULL};
    snprintf(script, sizeof script, "%s/%s", NODE_SCRIPTS, mode);
    snprintf(env, sizeof env, "CLUSTER_TEST_PORT=%d", port != 0 ? port : free_port());
    o.fork.exec_path = getenv("UVPROC_TEST_NODE");
    o.fork.spawn.env = envv;
    o.fork.spawn.env_mode = UVPROC_ENV_EXTEND;
    CHECK_OK(uvproc_cluster_start(&r->loop, &r->c, script, NULL, &o));
}
#define SERVE "cluster_worker.js"
#define LEAVE "cluster_leave.js"
#else
#define SERVE "serve"
#define LEAVE "leave"
static void start(rec_t *r, const char *mode, int port, const uvproc_cluster_options_t *o)
{
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    const char *args[] = {mode, p, NULL};
    CHECK_OK(uvproc_cluster_start(&r->loop, &r->c, CLUSTER_WORKER, args, o));
}
#endif

static void stop_and_close(rec_t *r)
{
    if (!r->stopped && uvproc_cluster_stop(r->c, r_stopped, r) == UV_EALREADY) {
        /* stopped from inside a callback, without a completion callback */
    }
    CHECK_LOOP_CLOSE(&r->loop);
}

/* ---------------------------------------------------------------------------------------- */
/* serving                                                                                  */

typedef struct {
    unsigned answered, failed;
    uv_pid_t seen[8];
    unsigned distinct;
} pidset_t;

static void pid_answer(http_get_t *g, int status, const char *body)
{
    pidset_t *ps = g->data;
    if (status != 200) {
        ps->failed++;
        return;
    }
    ps->answered++;
    uv_pid_t pid = atoi(body);
    for (unsigned i = 0; i < ps->distinct; i++)
        if (ps->seen[i] == pid)
            return;
    if (ps->distinct < 8)
        ps->seen[ps->distinct++] = pid;
}

/* n requests, `conc` at a time. */
static void get_many(rec_t *r, pidset_t *ps, unsigned n)
{
    unsigned before = ps->answered + ps->failed;
    for (unsigned i = 0; i < n; i++)
        http_get(&r->loop, r->port, "/", pid_answer, ps);
    RUN_UNTIL(&r->loop, ps->answered + ps->failed == before + n);
}

static void serve_distinct(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    pidset_t ps = {0};
    uvproc_cluster_options_t o = opts(&r, 2, pol);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2);
    CHECK(r.port > 0);
    for (int round = 0; round < 100 && ps.distinct < 2; round++)
        get_many(&r, &ps, 8);
    CHECK_EQ(ps.failed, 0);
    CHECK_EQ(ps.distinct, 2);
    CHECK(ps.seen[0] == r.pids[0] || ps.seen[0] == r.pids[1]);
    CHECK(ps.seen[1] == r.pids[0] || ps.seen[1] == r.pids[1]);
    /* Broadcast reaches both. */
    json_t *m = json_pack("{s:i}", "hello", 1);
    CHECK_EQ(uvproc_cluster_broadcast(r.c, m), 2);
    json_decref(m);
#ifndef CLUSTER_NODE
    RUN_UNTIL(&r.loop, r.messages == 2); /* the C workers echo it */
#endif
    CHECK_EQ(uvproc_cluster_workers(r.c, NULL, 0), 2);
    stop_and_close(&r);
    CHECK_EQ(r.exits, 2);
    CHECK_EQ(r.last_code, 0);
    CHECK_EQ(r.disconnects, 2);
    CHECK_EQ(r.restarts, 0);
}

BOTH_POLICIES(distinct_pids, serve_distinct)

/* kill -9 → restarted at once; a request sent right after the kill is still answered (the
 * primary kept the socket: it waits in the backlog, or goes to the other worker). */
static void kill_restart(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    pidset_t ps = {0};
    uvproc_cluster_options_t o = opts(&r, 2, pol);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2);
    uv_pid_t victim = r.pids[0];
    CHECK_OK(kill(victim, SIGKILL));
    get_many(&r, &ps, 4);
    CHECK_EQ(ps.failed, 0);
    RUN_UNTIL(&r.loop, r.listenings == 3);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_signal, SIGKILL);
    CHECK_EQ(r.last_state, UVPROC_WORKER_BACKOFF);
    CHECK_EQ(r.restarts, 1);
    CHECK_EQ(r.restart_delay[0], 0); /* the first restart of a window is immediate */
    CHECK_EQ(r.forks, 3);
    ps = (pidset_t){0};
    for (int round = 0; round < 100 && ps.distinct < 2; round++)
        get_many(&r, &ps, 8);
    CHECK_EQ(ps.failed, 0);
    for (unsigned i = 0; i < ps.distinct; i++)
        CHECK(ps.seen[i] != victim);
    uvproc_cluster_worker_t *ws[4];
    CHECK_EQ(uvproc_cluster_workers(r.c, ws, 4), 2);
    unsigned restarts =
        uvproc_cluster_worker_restarts(ws[0]) + uvproc_cluster_worker_restarts(ws[1]);
    CHECK_EQ(restarts, 1);
    stop_and_close(&r);
}

BOTH_POLICIES(kill9_restarts, kill_restart)

/* A worker that exits at start: restarts at 0, 20, 40 ms (delay 20, factor 2), then the
 * fourth restart would pass crash_loop_restarts = 3: reported, and no more forks. */
TEST(crash_loop_backoff)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.crash_loop_restarts = 3;
    o.restart.crash_loop_window_ms = 20000;
    r.stop_in_crash_loop = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "exit", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.forks, 4);
    CHECK_EQ(r.exits, 4);
    CHECK_EQ(r.last_code, 3);
    CHECK_EQ(r.restarts, 3);
    CHECK_EQ(r.crash_loops, 1);
    CHECK_EQ(r.restart_delay[0], 0);
    CHECK_EQ(r.restart_delay[1], 20);
    CHECK_EQ(r.restart_delay[2], 40);
    /* The gaps between forks grow: each waited at least its delay. */
    CHECK(r.fork_ms[2] - r.fork_ms[1] >= 20);
    CHECK(r.fork_ms[3] - r.fork_ms[2] >= 40);
    CHECK_EQ(r.onlines, 0);
}

/* The delay stops growing at max_delay_ms: 0, 5, 15, then 20 and 20 (delay 5, factor 3). */
TEST(backoff_capped)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.delay_ms = 5;
    o.restart.factor = 3;
    o.restart.max_delay_ms = 20;
    o.restart.crash_loop_restarts = 5;
    r.stop_in_crash_loop = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "exit", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.restarts, 5);
    static const uint64_t want[] = {0, 5, 15, 20, 20};
    for (int i = 0; i < 5; i++)
        CHECK_EQ(r.restart_delay[i], want[i]);
}

static void restart_then_stop(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, uint64_t delay)
{
    r_restart(c, w, delay);
    if (R(c)->restarts == 5)
        CHECK_OK(uvproc_cluster_stop(c, r_stopped, R(c)));
}

static void listening_kill(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                           const uvproc_cluster_address_t *a)
{
    r_listening(c, w, a);
    CHECK_OK(kill(uvproc_cluster_worker_pid(w), SIGKILL));
}

/* A worker that stayed up reset_after_ms (1 ms here: it is killed once it listens) starts the
 * sequence over: every restart immediate, and no crash loop however many there are. */
TEST(backoff_resets_after_stable_uptime)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.reset_after_ms = 1;
    o.restart.crash_loop_restarts = 2;
    o.on_restart = restart_then_stop;
    o.on_listening = listening_kill;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "serve", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.restarts, 5);
    CHECK_EQ(r.crash_loops, 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(r.restart_delay[i], 0);
}

/* A program that cannot start: the spawn error is reported, then it crash-loops too. */
TEST(missing_program_crash_loops)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.crash_loop_restarts = 2;
    r.stop_in_crash_loop = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    CHECK_OK(uvproc_cluster_start(&r.loop, &r.c, "/nonexistent/worker", NULL, &o));
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.forks, 3);
    CHECK_EQ(r.crash_loops, 1);
    CHECK(r.errors >= 3);
    CHECK_EQ(r.last_code, UV_ENOENT);
}

TEST(stop_during_backoff)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.delay_ms = 60000; /* the second restart would wait a minute */
    r.stop_in_backoff = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "exit", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.forks, 2);
    CHECK_EQ(r.restarts, 2);
}

/* ---------------------------------------------------------------------------------------- */
/* stopping                                                                                 */

typedef struct {
    rec_t *r;
    int status;
    char body[64];
    int answered;
} slow_t;

static void slow_answer(http_get_t *g, int status, const char *body)
{
    slow_t *s = g->data;
    s->status = status;
    snprintf(s->body, sizeof s->body, "%s", body);
    s->answered = 1;
    CHECK(!s->r->stopped); /* answered before the stop completed */
}

/* Stop with a slow request in flight: the worker says when it has the request (a user
 * message), the stop comes then; the request completes, then everything exits. */
static void stop_on_message(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, json_t *msg)
{
    r_message(c, w, msg);
    CHECK(json_is_true(json_object_get(msg, "slow")));
    CHECK_OK(uvproc_cluster_stop(c, r_stopped, R(c)));
}

static void graceful(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    slow_t s = {&r, 0, "", 0};
    uvproc_cluster_options_t o = opts(&r, 2, pol);
    o.on_message = stop_on_message;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2);
    http_get(&r.loop, r.port, "/slow", slow_answer, &s);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.messages, 1);
    CHECK(s.answered);
    CHECK_EQ(s.status, 200);
    CHECK(atoi(s.body) == r.pids[0] || atoi(s.body) == r.pids[1]);
    CHECK(r.stopped);
    CHECK_EQ(r.exits, 2);
    CHECK_EQ(r.last_signal, 0);
    CHECK_EQ(r.restarts, 0);
}

BOTH_POLICIES(graceful_stop_finishes_request, graceful)

/* Ignores SIGTERM and the request to leave (and says online/listening again): SIGKILL after
 * the grace period. */
TEST(stubborn_worker_killed_after_grace)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.grace_ms = 200;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "stubborn", 1, &o);
    RUN_UNTIL(&r.loop, r.listenings == 1);
    uint64_t t0 = uv_now(&r.loop);
    CHECK_OK(uvproc_cluster_stop(r.c, r_stopped, &r));
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK(uv_now(&r.loop) - t0 >= 200);
    CHECK_EQ(r.last_signal, SIGKILL);
    CHECK_EQ(r.onlines, 2);
    CHECK_EQ(r.listenings, 2);
    CHECK(r.stopped);
}

TEST(stop_while_starting)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 2, UVPROC_CLUSTER_RR);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    CHECK_OK(uvproc_cluster_stop(r.c, r_stopped, &r));
    CHECK_EQ(uvproc_cluster_stop(r.c, NULL, NULL), UV_EALREADY);
    CHECK_EQ(uvproc_cluster_reload(r.c, NULL, NULL), UV_EALREADY);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK(r.stopped);
    CHECK_EQ(r.exits, 2);
    CHECK_EQ(r.restarts, 0);
}

static void online_stop(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    r_online(c, w);
    CHECK_OK(uvproc_cluster_stop(c, r_stopped, R(c))); /* ONLINE x STOP */
}

TEST(stop_while_online)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.on_online = online_stop;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "online", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK(r.stopped);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_code, 0);
}

static void exit_then_stop(uvproc_cluster_t *c, uvproc_cluster_worker_t *w, int64_t code, int sig)
{
    r_exit(c, w, code, sig);
    if (uvproc_cluster_workers(c, NULL, 0) == 0)
        CHECK_OK(uvproc_cluster_stop(c, r_stopped, R(c)));
}

/* A worker stopped on its own, twice (STOPPING x STOP): it leaves, is not restarted. */
TEST(worker_stop_no_restart)
{
    rec_t r = {0};
    uvproc_cluster_worker_t *w;
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_SHARED);
    o.on_exit = exit_then_stop;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 1);
    CHECK_EQ(uvproc_cluster_workers(r.c, &w, 1), 1);
    CHECK_OK(uvproc_cluster_worker_stop(w));
    CHECK_EQ(uvproc_cluster_worker_state(w), UVPROC_WORKER_STOPPING);
    CHECK_OK(uvproc_cluster_worker_stop(w));
    CHECK_EQ(uvproc_cluster_workers(r.c, NULL, 0), 1); /* stopping still counts */
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_state, UVPROC_WORKER_DEAD);
    CHECK_EQ(r.restarts, 0);
    CHECK(r.stopped);
}

/* One worker of `mode` that is not restarted after it exits (`no_restart`: by policy; else it
 * must not be, by what it did); the cluster stops then. Runs to the end. */
static void run_to_exit(rec_t *r, const char *mode, int no_restart)
{
    uvproc_cluster_options_t o = opts(r, 1, UVPROC_CLUSTER_RR);
    o.restart.disabled = no_restart;
    o.on_exit = exit_then_stop;
    CHECK_OK(uv_loop_init(&r->loop));
    start(r, mode, 0, &o);
    CHECK_LOOP_CLOSE(&r->loop);
    CHECK_EQ(r->restarts, 0);
}

/* The worker leaves by itself (exitedAfterDisconnect): wanted, so not restarted. */
TEST(worker_leaves_no_restart)
{
    rec_t r = {0};
    run_to_exit(&r, LEAVE, 0);
    CHECK_EQ(r.exits, 1);
    CHECK_EQ(r.last_code, 0);
    CHECK_EQ(r.last_state, UVPROC_WORKER_DEAD);
}

/* Online, then exit: ONLINE x DISCONNECT, ONLINE x EXIT. */
TEST(online_then_exit)
{
    rec_t r = {0};
    run_to_exit(&r, "online-exit", 1);
    CHECK_EQ(r.onlines, 1);
    CHECK_EQ(r.last_code, 5);
    CHECK_EQ(r.disconnects, 1);
}

TEST(two_servers_two_listening)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    r.stop_after_listening = 1;
    r.want_listening = 2;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "two", 0, &o);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK_EQ(r.listenings, 2);
}

/* ---------------------------------------------------------------------------------------- */
/* reload and resize                                                                        */

static void reload_done(uvproc_cluster_t *c, int status, void *data)
{
    rec_t *r = data;
    (void)c;
    r->reload_status = status;
    r->reloads_done++;
}

/* Two rolling reloads while 4 request streams run: not one request fails. */
static void reload_under_load(uvproc_cluster_policy_t pol)
{
    rec_t r = {0};
    http_load_t load = {0};
    uvproc_cluster_options_t o = opts(&r, 2, pol);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2);
    load.loop = &r.loop;
    load.port = r.port;
    http_load_start(&load, 4);
    RUN_UNTIL(&r.loop, load.ok >= 50);
    CHECK_OK(uvproc_cluster_reload(r.c, reload_done, &r));
    CHECK_EQ(uvproc_cluster_reload(r.c, NULL, NULL), UV_EBUSY);
    RUN_UNTIL(&r.loop, r.reloads_done == 1);
    CHECK_EQ(r.reload_status, 0);
    unsigned mid = load.ok;
    RUN_UNTIL(&r.loop, load.ok >= mid + 50);
    CHECK_OK(uvproc_cluster_reload(r.c, reload_done, &r));
    RUN_UNTIL(&r.loop, r.reloads_done == 2);
    CHECK_EQ(r.reload_status, 0);
    mid = load.ok;
    RUN_UNTIL(&r.loop, load.ok >= mid + 50);
    load.running = 0;
    RUN_UNTIL(&r.loop, load.inflight == 0);
    if (load.failed != 0)
        fprintf(stderr, "failed %u of %u, last %s\n", load.failed, load.ok + load.failed,
                uv_err_name(load.last_error));
    CHECK_EQ(load.failed, 0);
    CHECK_EQ(r.forks, 6);
    CHECK_EQ(r.restarts, 0);
    RUN_UNTIL(&r.loop, r.exits == 4); /* the last old one may still be finishing */
    CHECK_EQ(uvproc_cluster_workers(r.c, NULL, 0), 2);
    stop_and_close(&r);
    CHECK_EQ(r.exits, 6);
}

BOTH_POLICIES(reload_under_load_no_failure, reload_under_load)

/* A bad deploy: the replacement crash-loops, the reload reports it, the old worker serves on. */
TEST(reload_with_crashing_replacement)
{
    rec_t r = {0};
    pidset_t ps = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    o.restart.crash_loop_restarts = 2;
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "first-only", 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 1);
    CHECK_OK(uvproc_cluster_reload(r.c, reload_done, &r));
    RUN_UNTIL(&r.loop, r.reloads_done == 1);
    CHECK_EQ(r.reload_status, UVPROC_ECRASHLOOP);
    CHECK_EQ(r.crash_loops, 1);
    CHECK_EQ(r.forks, 4); /* the old one, the replacement and its 2 restarts */
    get_many(&r, &ps, 4);
    CHECK_EQ(ps.failed, 0);
    CHECK_EQ(ps.distinct, 1);
    CHECK_EQ(ps.seen[0], r.pids[0]);
    stop_and_close(&r);
}

TEST(stop_during_reload)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 2, UVPROC_CLUSTER_SHARED);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2);
    CHECK_OK(uvproc_cluster_reload(r.c, reload_done, &r));
    CHECK_OK(uvproc_cluster_stop(r.c, r_stopped, &r));
    CHECK_EQ(r.reloads_done, 1);
    CHECK_EQ(r.reload_status, UV_ECANCELED);
    CHECK_LOOP_CLOSE(&r.loop);
    CHECK(r.stopped);
    CHECK_EQ(r.exits, 3);
}

TEST(resize_up_and_down)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, SERVE, 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 1);
    CHECK_OK(uvproc_cluster_resize(r.c, 3));
    RUN_UNTIL(&r.loop, r.listenings == 3);
    CHECK_EQ(uvproc_cluster_workers(r.c, NULL, 0), 3);
    CHECK_OK(uvproc_cluster_resize(r.c, 1));
    RUN_UNTIL(&r.loop, r.exits == 2);
    CHECK_EQ(uvproc_cluster_workers(r.c, NULL, 0), 1);
    CHECK_EQ(r.restarts, 0);
    pidset_t ps = {0};
    get_many(&r, &ps, 4);
    CHECK_EQ(ps.failed, 0);
    CHECK_EQ(ps.distinct, 1);
    stop_and_close(&r);
}

/* ---------------------------------------------------------------------------------------- */
/* bad input and errors                                                                     */

TEST(eaddrinuse_reported_to_worker)
{
    for (int pol = 0; pol < 2; pol++) {
        rec_t r = {0};
        uv_tcp_t squat;
        struct sockaddr_in sa;
        struct sockaddr_storage ss;
        int len = sizeof ss;
        uvproc_cluster_options_t o = opts(&r, 1, (uvproc_cluster_policy_t)pol);
        o.restart.disabled = 1;
        o.on_exit = exit_then_stop;
        CHECK_OK(uv_loop_init(&r.loop));
        uv_tcp_init(&r.loop, &squat);
        uv_ip4_addr("127.0.0.1", 0, &sa);
        CHECK_OK(uv_tcp_bind(&squat, (struct sockaddr *)&sa, 0));
        CHECK_OK(uv_listen((uv_stream_t *)&squat, 8, NULL));
        CHECK_OK(uv_tcp_getsockname(&squat, (struct sockaddr *)&ss, &len));
        start(&r, SERVE, ntohs(((struct sockaddr_in *)&ss)->sin_port), &o);
        RUN_UNTIL(&r.loop, r.exits == 1);
        CHECK_EQ(r.err_inuse, 1);
        CHECK_EQ(r.last_code, 7); /* the helper's exit code for a failed listen */
        uv_close((uv_handle_t *)&squat, NULL);
        CHECK_LOOP_CLOSE(&r.loop);
    }
}

/* Worker 1 refuses every connection it is given (accepted:false): the primary gives each to
 * worker 2, so every request is answered, all by worker 2. */
TEST(rr_refused_connection_goes_to_another_worker)
{
    rec_t r = {0};
    pidset_t ps = {0};
    uvproc_cluster_options_t o = opts(&r, 2, UVPROC_CLUSTER_RR);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "refuse-first", 0, &o);
    RUN_UNTIL(&r.loop, r.listenings == 2 && r.port > 0);
    get_many(&r, &ps, 10);
    CHECK_EQ(ps.failed, 0);
    CHECK_EQ(ps.distinct, 1);
    CHECK(ps.seen[0] != r.pids[0]); /* not the refuser, the first forked */
    CHECK_EQ(r.errors, 0);
    stop_and_close(&r);
}

TEST(ipv6_both_policies)
{
    struct sockaddr_in6 sa6;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    uv_ip6_addr("::1", 0, &sa6);
    if (probe < 0 || bind(probe, (struct sockaddr *)&sa6, sizeof sa6) != 0) {
        fprintf(stderr, "# skip: no IPv6 loopback here\n");
        if (probe >= 0)
            close(probe);
        return;
    }
    close(probe);
    for (int pol = 0; pol < 2; pol++) {
        rec_t r = {0};
        pidset_t ps = {0};
        uvproc_cluster_options_t o = opts(&r, 2, (uvproc_cluster_policy_t)pol);
        CHECK_OK(uv_loop_init(&r.loop));
        start(&r, "ipv6", 0, &o);
        RUN_UNTIL(&r.loop, r.listenings == 2);
        for (int i = 0; i < 4; i++)
            http_get_at(&r.loop, "::1", r.port, "/", pid_answer, &ps);
        RUN_UNTIL(&r.loop, ps.answered + ps.failed == 4);
        CHECK_EQ(ps.answered, 4);
        stop_and_close(&r);
        CHECK_EQ(r.errors, 0);
    }
}

/* A Unix socket path, both policies: the connection arrives as a pipe. */
typedef struct {
    uv_pipe_t pipe;
    uv_connect_t connect;
    uv_write_t write;
    char resp[512];
    size_t len;
    int done;
} unix_get_t;

static void unix_alloc(uv_handle_t *h, size_t size, uv_buf_t *buf)
{
    unix_get_t *g = h->data;
    (void)size;
    *buf = uv_buf_init(g->resp + g->len, (unsigned)(sizeof g->resp - 1 - g->len));
}

static void unix_closed(uv_handle_t *h)
{
    ((unix_get_t *)h->data)->done = 1;
}

static void unix_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    unix_get_t *g = s->data;
    (void)buf;
    if (n > 0) {
        g->len += (size_t)n;
        g->resp[g->len] = '\0';
        return;
    }
    uv_close((uv_handle_t *)s, unix_closed);
}

static void unix_connected(uv_connect_t *c, int status)
{
    unix_get_t *g = c->data;
    static char req[] = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    uv_buf_t b = uv_buf_init(req, sizeof req - 1);
    CHECK_OK(status);
    CHECK_OK(uv_write(&g->write, (uv_stream_t *)&g->pipe, &b, 1, NULL));
    CHECK_OK(uv_read_start((uv_stream_t *)&g->pipe, unix_alloc, unix_read));
}

TEST(unix_socket_both_policies)
{
    for (int pol = 0; pol < 2; pol++) {
        rec_t r = {0};
        unix_get_t g = {0};
        char path[64];
        uvproc_cluster_options_t o = opts(&r, 2, (uvproc_cluster_policy_t)pol);
        const char *args[] = {"unix", path, NULL};
        snprintf(path, sizeof path, "/tmp/uvproc-cluster-%d-%d.sock", (int)getpid(), pol);
        unlink(path);
        CHECK_OK(uv_loop_init(&r.loop));
        CHECK_OK(uvproc_cluster_start(&r.loop, &r.c, CLUSTER_WORKER, args, &o));
        RUN_UNTIL(&r.loop, r.listenings == 2);
        CHECK_EQ(r.port, 0); /* -1 for both: a path has no port */
        uv_pipe_init(&r.loop, &g.pipe, 0);
        g.pipe.data = &g;
        g.connect.data = &g;
        uv_pipe_connect(&g.connect, &g.pipe, path, unix_connected);
        RUN_UNTIL(&r.loop, g.done);
        CHECK(strncmp(g.resp, "HTTP/1.1 200", 12) == 0);
        uv_pid_t pid = atoi(strstr(g.resp, "\r\n\r\n") + 4);
        CHECK(pid == r.pids[0] || pid == r.pids[1]);
        stop_and_close(&r);
        CHECK_EQ(r.errors, 0);
        CHECK(access(path, F_OK) != 0); /* the primary's socket file is gone with it */
    }
}

/* UDP is not balanced by a primary: the request is refused (ENOTSUP), not left unanswered. */
TEST(udp_refused)
{
    rec_t r = {0};
    run_to_exit(&r, "udp", 1);
    CHECK_EQ(r.last_code, 6);
    CHECK_EQ(r.errors, 1);
}

/* Sockets this process holds (the primary runs in it): libuv's own pipes and eventfds,
 * made once per loop, are not what is counted. */
static int count_fds(void)
{
    int fds[1024], n = check_list_fds_(fds, 1024), sockets = 0;
    for (int i = 0; i < n; i++) {
        char path[64], link[64];
        ssize_t len;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fds[i]);
        len = readlink(path, link, sizeof link - 1);
        sockets += len > 7 && strncmp(link, "socket:", 7) == 0;
    }
    return sockets;
}

/* Issue 16, fault 3: one worker asking for many distinct listen keys. The primary answers
 * the 65th and later with EMFILE (ELISTENLIMIT to on_error) instead of opening a socket for
 * each, and once the worker has gone (not restarted) no listening socket is left. Then with
 * restarts: a slot keeps the sockets of its last process only (for its replacement). */
TEST(many_listen_keys_bounded_and_released)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    int before;

    o.restart.disabled = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    before = count_fds();
    start(&r, "many-keys", 300, &o);
    RUN_UNTIL(&r.loop, r.exits == 1);
    CHECK_EQ(r.last_code, 0); /* 64 opened, 236 refused with EMFILE */
    CHECK_EQ(r.errors, 300 - 64);
    for (int i = 0; i < 3; i++)
        uv_run(&r.loop, UV_RUN_NOWAIT); /* the closes complete */
    CHECK_EQ(count_fds(), before);
    stop_and_close(&r);

    /* Restarted twice: every process asks for 64 keys of its own. */
    rec_t q = {0};
    o = opts(&q, 1, UVPROC_CLUSTER_RR);
    o.restart.delay_ms = 1;
    CHECK_OK(uv_loop_init(&q.loop));
    before = count_fds();
    start(&q, "many-keys", 64, &o);
    RUN_UNTIL(&q.loop, q.exits == 3);
    for (int i = 0; i < 3; i++)
        uv_run(&q.loop, UV_RUN_NOWAIT);
    CHECK_EQ(q.last_code, 0);
    CHECK(count_fds() <= before + 64 + 8); /* the last process's 64, kept for a restart */
    stop_and_close(&q);
    CHECK_EQ(count_fds(), before);
}

/* Garbage from one cluster's worker: error events there, while another cluster on the same
 * loop serves on; the garbage worker's slot goes on too (it reaches LISTENING). */
TEST(garbage_from_worker)
{
    rec_t g = {0}, s = {0};
    uvproc_cluster_options_t og = opts(&g, 1, UVPROC_CLUSTER_RR);
    uvproc_cluster_options_t os = opts(&s, 1, UVPROC_CLUSTER_RR);
    pidset_t ps = {0};
    CHECK_OK(uv_loop_init(&g.loop));
    const char *ga[] = {"garbage", "1", NULL}, *sa[] = {"serve", "0", NULL};
    CHECK_OK(uvproc_cluster_start(&g.loop, &g.c, CLUSTER_WORKER, ga, &og));
    os.data = &s;
    CHECK_OK(uvproc_cluster_start(&g.loop, &s.c, CLUSTER_WORKER, sa, &os));
    RUN_UNTIL(&g.loop, g.listenings == 1 && g.errors >= 8 && s.listenings == 1);
    CHECK_EQ(g.err_badmsg, 1);
    CHECK(g.err_proto >= 7);
    CHECK_EQ(g.onlines, 1);
    uvproc_cluster_worker_t *w;
    CHECK_EQ(uvproc_cluster_workers(g.c, &w, 1), 1);
    CHECK_EQ(uvproc_cluster_worker_state(w), UVPROC_WORKER_LISTENING);
    for (unsigned i = 0; i < 4; i++)
        http_get(&g.loop, s.port, "/", pid_answer, &ps);
    RUN_UNTIL(&g.loop, ps.answered + ps.failed == 4);
    CHECK_EQ(ps.answered, 4);
    CHECK_OK(uvproc_cluster_stop(g.c, r_stopped, &g));
    CHECK_OK(uvproc_cluster_stop(s.c, r_stopped, &s));
    CHECK_LOOP_CLOSE(&g.loop);
    CHECK(g.stopped && s.stopped);
    CHECK_EQ(g.exits, 1);
    CHECK_EQ(g.last_code, 0);
    CHECK_EQ(s.errors, 0);
}

/* listening before online: STARTING x LISTENING, then LISTENING x ONLINE. */
TEST(listening_before_online)
{
    rec_t r = {0};
    uvproc_cluster_options_t o = opts(&r, 1, UVPROC_CLUSTER_RR);
    CHECK_OK(uv_loop_init(&r.loop));
    start(&r, "backwards", 1, &o);
    RUN_UNTIL(&r.loop, r.listenings == 1 && r.errors == 1);
    CHECK_EQ(r.onlines, 0);
    CHECK_EQ(r.err_proto, 1);
    stop_and_close(&r);
    CHECK_EQ(r.exits, 1);
}

TEST(bad_arguments)
{
    uv_loop_t loop;
    uvproc_cluster_t *c;
    CHECK_OK(uv_loop_init(&loop));
    CHECK_EQ(uvproc_cluster_start(&loop, &c, NULL, NULL, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_cluster_start(&loop, &c, "", NULL, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_cluster_start(NULL, &c, "x", NULL, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_cluster_stop(NULL, NULL, NULL), UV_EINVAL);
    CHECK_EQ(uvproc_cluster_send(NULL, NULL), UV_EINVAL);
    CHECK(!uvproc_cluster_is_worker());
    uvproc_cluster_child_t *w;
    CHECK_EQ(uvproc_cluster_child_start(&loop, &w, NULL), UVPROC_ENOCHANNEL);
    CHECK_STR(uvproc_err_name(UVPROC_ECRASHLOOP), "ECRASHLOOP");
    CHECK_STR(uvproc_cluster_state_name(UVPROC_WORKER_BACKOFF), "backoff");
    CHECK_LOOP_CLOSE(&loop);
}

/* ---------------------------------------------------------------------------------------- */
/* the primary dies                                                                         */

typedef struct {
    char out[1024];
    size_t len;
    int closed;
} prim_t;

static void prim_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    prim_t *s = uvproc_process_data(p);
    (void)fd;
    if (s->len + len < sizeof s->out) {
        memcpy(s->out + s->len, buf, len);
        s->len += len;
        s->out[s->len] = '\0';
    }
}

static void prim_close(uvproc_process_t *p, int64_t code, int sig)
{
    (void)code;
    (void)sig;
    ((prim_t *)uvproc_process_data(p))->closed = 1;
}

static void pidfd_gone(uv_poll_t *h, int status, int events)
{
    (void)status;
    (void)events;
    (*(int *)h->data)++;
    uv_poll_stop(h);
    uv_close((uv_handle_t *)h, NULL);
}

/* A primary (test/helpers/cluster_primary.c) SIGKILLed: its workers die with it. */
TEST(primary_sigkill_leaves_no_worker)
{
    uv_loop_t loop;
    uvproc_process_t *p;
    prim_t s = {0};
    uvproc_spawn_options_t so = {0};
    uv_poll_t polls[2];
    int fds[2], gone = 0, pids[2];
    CHECK_OK(uv_loop_init(&loop));
    so.stdio[1].type = UVPROC_STDIO_PIPE;
    so.stdio[2].type = UVPROC_STDIO_INHERIT;
    so.data = &s;
    so.on_data = prim_data;
    so.on_close = prim_close;
    const char *args[] = {CLUSTER_WORKER, NULL};
    CHECK_OK(uvproc_spawn(&loop, &p, CLUSTER_PRIMARY, args, &so));
    RUN_UNTIL(&loop, strchr(s.out, '\n') != NULL);
    CHECK_EQ(sscanf(s.out, "%d %d", &pids[0], &pids[1]), 2);
    for (int i = 0; i < 2; i++) {
        fds[i] = (int)syscall(SYS_pidfd_open, pids[i], 0);
        if (fds[i] < 0) {
            /* No pidfds (valgrind, old kernels): no kill_on_parent_death either. */
            fprintf(stderr, "# skip: no pidfd_open\n");
            uvproc_kill(p, SIGKILL);
            for (int j = 0; j < 2; j++)
                kill(pids[j], SIGKILL);
            if (i == 1)
                close(fds[0]);
            CHECK_LOOP_CLOSE(&loop);
            return;
        }
        uv_poll_init(&loop, &polls[i], fds[i]);
        polls[i].data = &gone;
        uv_poll_start(&polls[i], UV_READABLE, pidfd_gone);
    }
    CHECK_OK(uvproc_kill(p, SIGKILL));
    RUN_UNTIL(&loop, gone == 2 && s.closed);
    CHECK_LOOP_CLOSE(&loop);
    /* A readable pidfd means the process has exited (init reaps it: it is not ours). */
    for (int i = 0; i < 2; i++)
        close(fds[i]);
}

#ifdef CLUSTER_NODE
typedef struct {
    unsigned ok, failed;
} seed_t;

static void seed_answer(http_get_t *g, int status, const char *body)
{
    seed_t *s = g->data;
    /* Node chunks it (writeHead without a length): the text is inside the chunk. */
    if (status == 200 && strstr(body, "hello world\n") != NULL)
        s->ok++;
    else
        s->failed++;
}

/* Seed 004's program, unchanged (but for its port), served through the C primary. */
TEST(seed_program_serves)
{
    for (int pol = 0; pol < 2; pol++) {
        rec_t r = {0};
        seed_t s = {0};
        uvproc_cluster_options_t o = opts(&r, 2, (uvproc_cluster_policy_t)pol);
        CHECK_OK(uv_loop_init(&r.loop));
        start(&r, "cluster_seed.js", 0, &o);
        RUN_UNTIL(&r.loop, r.listenings == 2);
        for (int i = 0; i < 8; i++)
            http_get(&r.loop, r.port, "/", seed_answer, &s);
        RUN_UNTIL(&r.loop, s.ok + s.failed == 8);
        CHECK_EQ(s.ok, 8);
        stop_and_close(&r);
        CHECK_EQ(r.exits, 2);
        CHECK_EQ(r.errors, 0);
    }
}

/* The seed's program byte for byte (Node's documentation example, port 8000), when 8000 is
 * free here. */
TEST(seed_program_verbatim_on_8000)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(8000)};
    int probe = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(probe, (struct sockaddr *)&sa, sizeof sa) != 0) {
        fprintf(stderr, "# skip: port 8000 is taken here\n");
        close(probe);
        return;
    }
    close(probe);
    rec_t r = {0};
    seed_t s = {0};
    uvproc_cluster_options_t o = opts(&r, 2, UVPROC_CLUSTER_RR);
    char script[1024];
    snprintf(script, sizeof script, "%s/cluster_seed_verbatim.js", NODE_SCRIPTS);
    o.fork.exec_path = getenv("UVPROC_TEST_NODE");
    o.restart.disabled = 1;
    CHECK_OK(uv_loop_init(&r.loop));
    CHECK_OK(uvproc_cluster_start(&r.loop, &r.c, script, NULL, &o));
    RUN_UNTIL(&r.loop, r.listenings == 2 || r.exits > 0);
    if (r.exits > 0 && r.err_inuse > 0) {
        fprintf(stderr, "# skip: port 8000 was taken meanwhile\n");
        stop_and_close(&r);
        return;
    }
    CHECK_EQ(r.exits, 0);
    CHECK_EQ(r.port, 8000);
    for (int i = 0; i < 4; i++)
        http_get(&r.loop, 8000, "/", seed_answer, &s);
    RUN_UNTIL(&r.loop, s.ok + s.failed == 4);
    CHECK_EQ(s.ok, 4);
    stop_and_close(&r);
    CHECK_EQ(r.errors, 0);
}

/* The other direction: Node's own cluster primary with uvproc C workers, both policies. */
TEST(c_workers_under_node_primary)
{
    static const char *const policies[] = {"rr", "none"};
    char script[1024];
    snprintf(script, sizeof script, "%s/cluster_c_workers.js", NODE_SCRIPTS);
    for (int i = 0; i < 2; i++) {
        const char *args[] = {script, CLUSTER_WORKER, policies[i], NULL};
        uvproc_exec_result_t res;
        int err = uvproc_exec_file_sync(getenv("UVPROC_TEST_NODE"), args, NULL, &res);
        if (err != 0)
            fprintf(stderr, "%s\n%s\n", res.out, res.err);
        CHECK_OK(err);
        CHECK(strncmp(res.out, "ok ", 3) == 0);
        uvproc_exec_result_free(&res);
    }
}

int main(int argc, char **argv)
{
    const char *node = getenv("UVPROC_TEST_NODE");
    if (node == NULL || node[0] == '\0')
        return 77; /* skip: no node */
    RUN(seed_program_serves);
    RUN(seed_program_verbatim_on_8000);
    RUN(rr_distinct_pids);
    RUN(shared_distinct_pids);
    RUN(rr_kill9_restarts);
    RUN(shared_kill9_restarts);
    RUN(rr_graceful_stop_finishes_request);
    RUN(shared_graceful_stop_finishes_request);
    RUN(stop_while_starting);
    RUN(worker_stop_no_restart);
    RUN(worker_leaves_no_restart);
    RUN(rr_reload_under_load_no_failure);
    RUN(shared_reload_under_load_no_failure);
    RUN(eaddrinuse_reported_to_worker);
    RUN(c_workers_under_node_primary);
    return check_done();
}
#else
/* ---------------------------------------------------------------------------------------- */

static const char *const ev_names[] = {"online", "listening", "disconnect",
                                       "exit",   "stop",      "timer"};

/* The cells that can happen (see src/cluster.c's table): each must have run. */
static void check_cells(void)
{
    static const int reachable[6][6] = {
        /* online listening disconnect exit stop timer */
        {1, 1, 1, 1, 1, 0}, /* starting */
        {1, 1, 1, 1, 1, 0}, /* online */
        {1, 1, 1, 1, 1, 0}, /* listening */
        {1, 1, 1, 1, 1, 1}, /* stopping */
        {0, 0, 0, 0, 1, 1}, /* backoff */
        {0, 0, 0, 0, 1, 0}, /* dead */
    };
    int missing = 0;
    fprintf(stderr, "# state x event cells run (src/cluster.c):\n#            ");
    for (int e = 0; e < 6; e++)
        fprintf(stderr, "%11s", ev_names[e]);
    fprintf(stderr, "\n");
    for (int st = 0; st < 6; st++) {
        fprintf(stderr, "# %-10s", uvproc_cluster_state_name((uvproc_cluster_worker_state_t)st));
        for (int e = 0; e < 6; e++) {
            fprintf(stderr, "%11lu", uvproc__cluster_cells[st][e]);
            if (reachable[st][e] && uvproc__cluster_cells[st][e] == 0) {
                fprintf(stderr, "<-MISSING");
                missing++;
            }
        }
        fprintf(stderr, "\n");
    }
    CHECK_EQ(missing, 0);
}

int main(int argc, char **argv)
{
    RUN(rr_distinct_pids);
    RUN(shared_distinct_pids);
    RUN(rr_kill9_restarts);
    RUN(shared_kill9_restarts);
    RUN(crash_loop_backoff);
    RUN(backoff_capped);
    RUN(backoff_resets_after_stable_uptime);
    RUN(missing_program_crash_loops);
    RUN(stop_during_backoff);
    RUN(rr_graceful_stop_finishes_request);
    RUN(shared_graceful_stop_finishes_request);
    RUN(stubborn_worker_killed_after_grace);
    RUN(stop_while_starting);
    RUN(stop_while_online);
    RUN(worker_stop_no_restart);
    RUN(worker_leaves_no_restart);
    RUN(online_then_exit);
    RUN(two_servers_two_listening);
    RUN(rr_reload_under_load_no_failure);
    RUN(shared_reload_under_load_no_failure);
    RUN(reload_with_crashing_replacement);
    RUN(stop_during_reload);
    RUN(resize_up_and_down);
    RUN(eaddrinuse_reported_to_worker);
    RUN(rr_refused_connection_goes_to_another_worker);
    RUN(ipv6_both_policies);
    RUN(unix_socket_both_policies);
    RUN(udp_refused);
    RUN(many_listen_keys_bounded_and_released);
    RUN(garbage_from_worker);
    RUN(listening_before_online);
    RUN(bad_arguments);
    RUN(primary_sigkill_leaves_no_worker);
    if (argc == 1)
        check_cells();
    return check_done();
}
#endif
