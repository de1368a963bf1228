/* The child object's lifecycle: spawn/error on the next loop turn, exit exactly once, close
 * once exit has happened and every handle (pipes, the launcher, timers, the channel) closed;
 * kill, stop escalation, accessors, and the ownership rule of uvproc.h. */
#include <errno.h>
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

static void uvproc__handle_closed(uv_handle_t *h)
{
    uvproc__process_unhold(h->data);
}

static void uvproc__launcher_closed(void *owner)
{
    uvproc__process_unhold(owner);
}

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
    p->loop = loop;
    p->data = o->data;
    p->ev.on_spawn = o->on_spawn;
    p->ev.on_error = o->on_error;
    p->ev.on_data = o->on_data;
    p->ev.on_end = o->on_end;
    p->ev.on_drain = o->on_drain;
    p->ev.on_exit = o->on_exit;
    p->ev.on_close = o->on_close;
    p->exit_code = -1;
    p->loop_ref = 1;
    p->slot_count = slot_count;
    return p;
}

static void uvproc__deliver_exit(uvproc_process_t *p);

/* The defer timer delivers events that must not come from inside the call or the poll batch
 * that caused them: spawn (or error) on the loop turn after uvproc_spawn returned, so the user
 * has *out first and before any read callback (reading starts here); and exit on the turn
 * after the child was reaped, so output that sat in the same poll batch as the exit
 * notification (the child's last bytes and EOF) is delivered first, as Node users expect:
 * data, end, exit, close. */
static void uvproc__deferred(uv_timer_t *t)
{
    uvproc_process_t *p = t->data;
    if (p->spawn_error) {
        uvproc_error_t e = {p->spawn_error, p->error_syscall, p->error_path};
        uv_close((uv_handle_t *)t, uvproc__handle_closed);
        if (p->ev.on_error != NULL)
            p->ev.on_error(p, &e);
        return;
    }
    if (!p->started) {
        p->started = 1;
        if (p->ev.on_spawn != NULL)
            p->ev.on_spawn(p);
        uvproc__process_stdio_start(p);
        /* Reaped before the spawn event could run (uv_spawn's SIGCHLD walk can do that):
         * exit still waits one more turn, for the pipes just started. */
        if (p->reaped && !p->exited)
            uv_timer_start(t, uvproc__deferred, 0, 0);
        return;
    }
    if (p->reaped && !p->exited)
        uvproc__deliver_exit(p);
}

static void uvproc__defer(uvproc_process_t *p)
{
    uv_timer_init(p->loop, &p->defer_timer);
    p->defer_timer.data = p;
    uvproc__process_hold(p);
    uv_timer_start(&p->defer_timer, uvproc__deferred, 0, 0);
}

/* From the launcher: the child is reaped. From here on it must never be signalled by pid (the
 * pid may be reused), so the launcher goes now; the exit event follows on the next turn. */
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
        uv_timer_start(&p->defer_timer, uvproc__deferred, 0, 0);
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
    uv_close((uv_handle_t *)&p->defer_timer, uvproc__handle_closed);
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
    int err = uvproc__launcher_start(p->loop, req, p, uvproc__on_reaped, &l);
    if (err == 0) {
        p->launcher = l;
        p->pid = uvproc__launcher_pid(l);
        uvproc__process_hold(p); /* the launcher's handle */
        uvproc__defer(p);
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
    uvproc__defer(p);
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
    if (!uv_is_closing((uv_handle_t *)&p->defer_timer))
        uvproc__process_set_handle_ref((uv_handle_t *)&p->defer_timer, ref);
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
