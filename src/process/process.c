/* The child object's lifecycle: spawn/error on the next loop turn, exit exactly once, close
 * once exit has happened and every handle (pipes, the launcher, timers, the channel) closed;
 * kill, stop escalation, accessors, and the ownership rule of uvproc.h. Events are delivered in
 * batches, one per loop turn for all the loop's children (uvproc__process_loop_t). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "process.h"

static void uvproc__maybe_close(uvproc_process_t *p);

void uvproc__process_set_handle_ref(uv_handle_t *h, int ref)
{
    if (ref)
        uv_ref(h);
    else
        uv_unref(h);
}

void uvproc__process_hold(uvproc_process_t *p)
{
    p->pending++;
}

void uvproc__process_unhold(uvproc_process_t *p)
{
    p->pending--;
    uvproc__maybe_close(p);
}

static void uvproc__launcher_closed(void *owner)
{
    uvproc__process_unhold(owner);
}

/* ---------------------------------------------------------------------------------------- */
/* What a loop's children share: the launcher's per-loop state (the epoll set of pidfds), and
 * the batch of events waiting for delivery. spawn/error must not come from inside the call that
 * caused them (the user has *out first, and reading starts at spawn), and exit must come after
 * the data that sat in the same poll batch as the exit notification (the child's last bytes
 * first, as Node users expect: data, end, exit, close). So events are queued and the check
 * phase, which runs after the turn's reads, delivers them; an idle handle keeps the poll phase
 * from blocking while anything is queued (an event queued from a timer or before the loop runs
 * would otherwise wait for an unrelated wake-up).
 *
 * spawn and error go out before the next poll phase: from the idle handle (the turn after
 * they were queued, as the per-child 0 ms timer this replaces did), or from the same check
 * phase when a callback of that batch queued them (a child started from another's on_close
 * gets its spawn event without another loop turn; no poll phase lies in between). The exit of a child with pipes or a channel goes out
 * in the check phase of the turn AFTER the one that reaped it, as the per-child 0 ms timer this
 * replaces did: libuv 1.44 stops reading a stream after a short read, so an EOF that was
 * already there when the child died is seen one poll phase later, and a peer (a socket the
 * child answered on and closed before it exited) must get that EOF before the child's close
 * (test_cluster's graceful stop checks exactly that). A child with neither has nothing to wait
 * for: its exit goes out in the turn that reaped it. Exits reaped in one wake-up go out as one
 * batch: no timer per child.
 *
 * It lives while any of the loop's children is not yet closed (a child started from another's
 * on_close still finds it), then closes its handles. Found by loop through a short global list:
 * loops may run on several threads, each loop on one. */
typedef struct uvproc__process_loop_s {
    uv_loop_t *loop;
    uvproc__launcher_loop_t *launch;
    uv_check_t check;
    uv_idle_t idle;
    /* Processes, by their `queued` node. */
    uvproc__common_list_t due;   /* due in the next check phase, oldest first */
    uvproc__common_list_t later; /* exits: due one check phase after that */
    int refs;
    int handles_open;
    uvproc__common_list_t node; /* on uvproc__loops */
} uvproc__process_loop_t;

static pthread_mutex_t uvproc__loops_lock = PTHREAD_MUTEX_INITIALIZER;
static uvproc__common_list_t uvproc__loops = {&uvproc__loops, &uvproc__loops};

static void uvproc__ploop_handle_closed(uv_handle_t *h)
{
    uvproc__process_loop_t *pl = h->data;
    if (--pl->handles_open == 0)
        free(pl);
}

static void uvproc__ploop_release(uvproc__process_loop_t *pl)
{
    if (--pl->refs > 0)
        return;
    pthread_mutex_lock(&uvproc__loops_lock);
    uvproc__common_list_remove(&pl->node);
    pthread_mutex_unlock(&uvproc__loops_lock);
    uvproc__launcher_loop_release(pl->launch);
    pl->handles_open = 2;
    uv_close((uv_handle_t *)&pl->check, uvproc__ploop_handle_closed);
    uv_close((uv_handle_t *)&pl->idle, uvproc__ploop_handle_closed);
}

static uvproc__process_loop_t *uvproc__ploop_get(uv_loop_t *loop)
{
    uvproc__process_loop_t *pl = NULL;
    uvproc__common_list_t *n;
    pthread_mutex_lock(&uvproc__loops_lock);
    uvproc__common_list_foreach(n, &uvproc__loops) {
        uvproc__process_loop_t *at = uvproc__common_list_entry(n, uvproc__process_loop_t, node);
        if (at->loop == loop) {
            pl = at;
            break;
        }
    }
    if (pl == NULL && (pl = calloc(1, sizeof *pl)) != NULL) {
        if ((pl->launch = uvproc__launcher_loop_new(loop)) == NULL) {
            free(pl);
            pl = NULL;
        } else {
            pl->loop = loop;
            uv_check_init(loop, &pl->check);
            uv_idle_init(loop, &pl->idle);
            pl->check.data = pl->idle.data = pl;
            uvproc__common_list_init(&pl->due);
            uvproc__common_list_init(&pl->later);
            uvproc__common_list_unshift(&uvproc__loops, &pl->node);
        }
    }
    if (pl != NULL)
        pl->refs++;
    pthread_mutex_unlock(&uvproc__loops_lock);
    return pl;
}

static void uvproc__deliver(uvproc_process_t *p);

static void uvproc__ploop_deliver_all(uvproc__common_list_t *batch);

/* Before the poll phase: what is due now (spawn and error events of children started since the
 * last check phase, from a timer, another handle's callback or before the loop ran) goes out
 * before any read of the turn, so `spawn` precedes a message the child's channel (which reads
 * from the start) may already hold. Exits waiting for a poll phase stay queued. Being active,
 * this handle also keeps the poll phase from blocking while anything waits. */
static void uvproc__ploop_idle(uv_idle_t *h)
{
    uvproc__process_loop_t *pl = h->data;
    uvproc__common_list_t batch;

    pl->refs++;
    uvproc__common_list_init(&batch);
    uvproc__common_list_splice(&batch, &pl->due);
    uvproc__ploop_deliver_all(&batch);
    if (uvproc__common_list_empty(&pl->due) && uvproc__common_list_empty(&pl->later)) {
        uv_check_stop(&pl->check);
        uv_idle_stop(&pl->idle);
    }
    uvproc__ploop_release(pl);
}

/* Delivers and empties `batch` (a list of the caller's). A process still on it is still
 * queued: enqueueing it again from an earlier one's callback changes nothing. */
static void uvproc__ploop_deliver_all(uvproc__common_list_t *batch)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(batch)) != NULL) {
        uvproc_process_t *p = uvproc__common_list_entry(n, uvproc_process_t, queued);
        uvproc__deliver(p);
        uvproc__process_unhold(p); /* the queue's hold: may close and free p */
    }
}

static void uvproc__ploop_check(uv_check_t *h)
{
    uvproc__process_loop_t *pl = h->data;
    uvproc__common_list_t batch, later;

    pl->refs++;
    uvproc__common_list_init(&batch);
    uvproc__common_list_init(&later);
    uvproc__common_list_splice(&batch, &pl->due);
    uvproc__common_list_splice(&later, &pl->later);
    uvproc__ploop_deliver_all(&batch);
    /* One more pass for what this batch's callbacks queued (spawn events of children started
     * from them); what that pass queues waits for the next turn, so a callback that starts a
     * child that fails at once cannot keep the loop here forever. */
    uvproc__common_list_splice(&batch, &pl->due);
    uvproc__ploop_deliver_all(&batch);
    /* Exits queued before this turn's delivery are due in the next one, after what was queued
     * just now. */
    uvproc__common_list_splice(pl->due.prev, &later);
    if (uvproc__common_list_empty(&pl->due) && uvproc__common_list_empty(&pl->later)) {
        uv_check_stop(&pl->check);
        uv_idle_stop(&pl->idle);
    }
    uvproc__ploop_release(pl);
}

static void uvproc__enqueue(uvproc_process_t *p, int later)
{
    uvproc__process_loop_t *pl = p->ploop;
    if (uvproc__common_list_linked(&p->queued))
        return;
    uvproc__process_hold(p);
    uvproc__common_list_push(later ? &pl->later : &pl->due, &p->queued);
    if (!uv_is_active((uv_handle_t *)&pl->check)) {
        uv_check_start(&pl->check, uvproc__ploop_check);
        uv_idle_start(&pl->idle, uvproc__ploop_idle);
    }
}

/* ---------------------------------------------------------------------------------------- */

static void uvproc__free(uvproc_process_t *p)
{
    uvproc__process_registry_remove(p);
    free(p->usage);
    free(p->error_path);
    free(p);
}

static void uvproc__maybe_close(uvproc_process_t *p)
{
    int64_t code;
    if (p->closed || p->pending > 0 || !(p->exited || p->spawn_error))
        return;
    p->closed = 1;
    code = p->spawn_error ? p->spawn_error : p->exit_code;
    /* Hold the object across the callback so a release() inside it cannot free it early. */
    p->retained++;
    if (p->ev.on_close != NULL)
        p->ev.on_close(p, code, p->term_signal);
    /* After the callback: a child it starts finds the loop's state still there. */
    uvproc__ploop_release(p->ploop);
    p->ploop = NULL;
    if (--p->retained == 0)
        uvproc__free(p);
}

uvproc_process_t *uvproc__process_new(uv_loop_t *loop, const uvproc_spawn_options_t *o,
                                      int slot_count)
{
    uvproc_process_t *p = calloc(1, sizeof *p + (size_t)slot_count * sizeof p->slots[0]);
    if (p == NULL)
        return NULL;
    if (uvproc__process_registry_add(p) != 0) {
        free(p);
        return NULL;
    }
    if ((p->ploop = uvproc__ploop_get(loop)) == NULL) {
        uvproc__process_registry_remove(p);
        free(p);
        return NULL;
    }
    p->loop = loop;
    p->data = o->data;
    p->ev = o->events;
    uvproc__common_list_init(&p->queued);
    p->exit_code = -1;
    p->loop_ref = 1;
    p->slot_count = slot_count;
    return p;
}

static void uvproc__deliver_exit(uvproc_process_t *p);

/* One queued process's turn in the batch: its spawn or error event, or its exit. */
static void uvproc__deliver(uvproc_process_t *p)
{
    if (p->spawn_error) {
        uvproc_error_t e = {p->spawn_error, p->error_syscall, p->error_path};
        if (p->ev.on_error != NULL)
            p->ev.on_error(p, &e);
        return;
    }
    if (!p->started) {
        p->started = 1;
        if (p->ev.on_spawn != NULL)
            p->ev.on_spawn(p);
        uvproc__process_stdio_start(p);
        /* Reaped before the spawn event could run: exit still waits one more turn, for the
         * pipes just started. */
        if (p->reaped && !p->exited)
            uvproc__enqueue(p, 1);
        return;
    }
    if (p->reaped && !p->exited)
        uvproc__deliver_exit(p);
}

/* From the launcher: the child is reaped. From here on it must never be signalled by pid (the
 * pid may be reused), so the launcher goes now; the exit event follows in a later batch. */
static void uvproc__on_reaped(void *owner, int64_t exit_status, int term_signal,
                              const struct rusage *usage)
{
    uvproc_process_t *p = owner;
    p->reaped = 1;
    /* Without memory for it, uvproc_rusage says UV_ENOTSUP: the exit itself still counts. */
    if (usage != NULL && (p->usage = malloc(sizeof *p->usage)) != NULL)
        *p->usage = *usage;
    p->term_signal = term_signal;
    p->exit_code = term_signal ? -1 : exit_status;
    uvproc__launcher_close(p->launcher, uvproc__launcher_closed);
    p->launcher = NULL;
    if (p->started)
        uvproc__enqueue(p, p->has_pipes);
}

/* uvproc_stop()'s escalation: allocated by the first call, freed when its timer closed. */
typedef struct uvproc__process_stopper_s {
    uv_timer_t timer;
    uvproc_stop_t stop;
    int group;
} uvproc__stopper_t;

static void uvproc__stop_timer_closed(uv_handle_t *h)
{
    uvproc_process_t *p = h->data;
    free(p->stopper);
    p->stopper = NULL;
    uvproc__process_unhold(p);
}

static void uvproc__stop_timer_close(uvproc_process_t *p)
{
    if (p->stopper != NULL && !p->stop_closed) {
        p->stop_closed = 1;
        uv_close((uv_handle_t *)&p->stopper->timer, uvproc__stop_timer_closed);
    }
}

static void uvproc__deliver_exit(uvproc_process_t *p)
{
    p->exited = 1;
    /* A group stop outlives the leader while members of its group remain: they may have
     * trapped the first signal and still hold our pipes. The pgid cannot be reused while any
     * member lives. */
    if (!(p->stopper != NULL && p->stopper->group &&
          uv_is_active((uv_handle_t *)&p->stopper->timer) && kill(-p->pid, 0) == 0))
        uvproc__stop_timer_close(p);
    uvproc__process_stdio_on_exit(p);
    p->retained++;
    if (p->ev.on_exit != NULL)
        p->ev.on_exit(p, p->exit_code, p->term_signal);
    p->retained--;
    uvproc__maybe_close(p);
}

int uvproc__process_launch(uvproc_process_t *p, const uvproc__launcher_launch_t *req)
{
    uvproc__launcher_t *l;
    int err;

    for (int i = 0; i < req->slot_count; i++)
        if (req->slots[i].kind == UVPROC__SLOT_PIPE)
            p->has_pipes = 1;
    err = uvproc__launcher_start(p->ploop->launch, req, p, uvproc__on_reaped, &l);
    if (err == 0) {
        p->launcher = l;
        p->pid = uvproc__launcher_pid(l);
        uvproc__process_hold(p); /* the launcher's handle */
        uvproc__enqueue(p, 0);
        return 0;
    }
    if (l != NULL) {
        uvproc__process_hold(p);
        uvproc__launcher_close(l, uvproc__launcher_closed);
    }
    return err;
}

void uvproc__process_failed(uvproc_process_t *p, int err, const char *syscall, const char *path)
{
    p->spawn_error = err;
    p->error_syscall = syscall;
    p->error_path = path != NULL ? strdup(path) : NULL;
    uvproc__process_stdio_close_all(p);
    uvproc__enqueue(p, 0);
}

static int uvproc__valid_signal(int signum)
{
    return signum >= 0 && signum < NSIG;
}

int uvproc_kill(uvproc_process_t *p, int signum)
{
    int err;
    if (p == NULL || !uvproc__valid_signal(signum))
        return UV_EINVAL;
    /* Once reaped the pid may already belong to someone else: never signal it. */
    if (p->launcher == NULL)
        return UV_ESRCH;
    err = uvproc__launcher_kill(p->launcher, signum);
    if (err == 0)
        p->killed = 1;
    return err;
}

/* The group of a detached child outlives the child itself, and its id cannot be reused while
 * any member is alive, so this works after the leader exited, until the group is empty. */
int uvproc_kill_group(uvproc_process_t *p, int signum)
{
    if (p == NULL || !uvproc__valid_signal(signum) || !p->detached)
        return UV_EINVAL;
    if (p->pid == 0)
        return UV_ESRCH;
    if (kill(-p->pid, signum) != 0)
        return -errno;
    p->killed = 1;
    return 0;
}

static void uvproc__stop_escalate(uv_timer_t *t)
{
    uvproc_process_t *p = t->data;
    int sig = p->stopper->stop.second.signal;
    if (p->stopper->group)
        uvproc_kill_group(p, sig);
    else if (!p->reaped)
        uvproc_kill(p, sig);
    if (p->exited)
        uvproc__stop_timer_close(p);
}

int uvproc_stop(uvproc_process_t *p, const uvproc_stop_t *stop, int group)
{
    uvproc_stop_t s = stop != NULL ? *stop : (uvproc_stop_t){0};
    int err;

    if (p == NULL)
        return UV_EINVAL;
    if (s.first.signal == 0)
        s.first.signal = SIGTERM;
    if (s.first.grace_ms == 0)
        s.first.grace_ms = 2000;
    if (s.second.signal == 0)
        s.second.signal = SIGKILL;
    if (!uvproc__valid_signal(s.first.signal) ||
        (s.second.signal >= 0 && !uvproc__valid_signal(s.second.signal)))
        return UV_EINVAL;
    err = group ? uvproc_kill_group(p, s.first.signal) : uvproc_kill(p, s.first.signal);
    if (err != 0 || s.second.signal < 0 || p->closed)
        return err;
    if (p->stop_closed)
        return 0; /* exit came and went: the first signal was all there was to send */
    if (p->stopper == NULL) {
        if ((p->stopper = malloc(sizeof *p->stopper)) == NULL)
            return UV_ENOMEM; /* the first signal went; there is no timer for the second */
        uv_timer_init(p->loop, &p->stopper->timer);
        p->stopper->timer.data = p;
        uvproc__process_hold(p);
        if (!p->loop_ref)
            uv_unref((uv_handle_t *)&p->stopper->timer);
    }
    p->stopper->stop = s;
    p->stopper->group = group;
    uv_timer_start(&p->stopper->timer, uvproc__stop_escalate, s.first.grace_ms, 0);
    return 0;
}

uv_pid_t uvproc_pid(const uvproc_process_t *p)
{
    return p->pid;
}

int uvproc_exited(const uvproc_process_t *p)
{
    return p->exited;
}

int64_t uvproc_exit_code(const uvproc_process_t *p)
{
    return p->exit_code;
}

int uvproc_term_signal(const uvproc_process_t *p)
{
    return p->term_signal;
}

int uvproc_rusage(const uvproc_process_t *p, struct rusage *usage)
{
    if (p == NULL || usage == NULL)
        return UV_EINVAL;
    if (!p->exited)
        return UV_EAGAIN;
    if (p->usage == NULL)
        return UV_ENOTSUP;
    *usage = *p->usage;
    return 0;
}

int uvproc_killed(const uvproc_process_t *p)
{
    return p->killed;
}

uv_loop_t *uvproc_loop(const uvproc_process_t *p)
{
    return p->loop;
}

void *uvproc_process_data(const uvproc_process_t *p)
{
    return p->data;
}

void uvproc_process_set_data(uvproc_process_t *p, void *data)
{
    p->data = data;
}

/* A caller's misuse of retain/release: refused, with no effect, and said on stderr (there is
 * no error to return; silence would hide a use-after-free in the caller's own code). */
static int uvproc__misuse(const uvproc_process_t *p, const char *call, int releasing)
{
    if (!uvproc__process_registry_has(p)) {
        fprintf(stderr,
                "uvproc: %s(%p): not a live process (released once too often, or never "
                "created); ignored\n",
                call, (const void *)p);
        return 1;
    }
    if (releasing && p->retained <= 0) {
        fprintf(stderr, "uvproc: %s(%p): released more often than retained; ignored\n", call,
                (const void *)p);
        return 1;
    }
    return 0;
}

void uvproc_process_retain(uvproc_process_t *p)
{
    if (uvproc__misuse(p, "uvproc_process_retain", 0))
        return;
    p->retained++;
}

void uvproc_process_release(uvproc_process_t *p)
{
    if (uvproc__misuse(p, "uvproc_process_release", 1))
        return;
    if (--p->retained == 0 && p->closed)
        uvproc__free(p);
}

static void uvproc__set_ref(uvproc_process_t *p, int ref)
{
    p->loop_ref = (unsigned char)ref;
    if (p->launcher != NULL)
        uvproc__launcher_set_ref(p->launcher, ref);
    if (p->stopper != NULL && !p->stop_closed)
        uvproc__process_set_handle_ref((uv_handle_t *)&p->stopper->timer, ref);
    uvproc__process_stdio_set_ref(p, ref);
}

void uvproc_process_unref(uvproc_process_t *p)
{
    uvproc__set_ref(p, 0);
}

void uvproc_process_ref(uvproc_process_t *p)
{
    uvproc__set_ref(p, 1);
}
