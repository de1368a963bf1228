/* The cluster as the user drives it: start, graceful stop, rolling reload, resize, messages
 * to workers, and what can be asked about a worker. What happens to each worker slot is
 * cluster.c's state table; this file only raises events on it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster.h"
#include "common/common.h"

static void uvproc__cl_reload_step(uvproc_cluster_t *c);

/* ---------------------------------------------------------------------------------------- */
/* the cluster                                                                              */

static void uvproc__cl_free(uvproc_cluster_t *c)
{
    uvproc__cluster_free_handles(c);
    uvproc__cluster_close_inherited(c);
    free(c->file);
    uvproc__common_strv_free(c->args);
    /* The NODE_UNIQUE_ID slot may hold the last one forked with. */
    if (c->env != NULL)
        c->env[c->env_len] = NULL;
    uvproc__common_strv_free(c->env);
    free(c->reload_old);
    free((char *)c->o.host);
    free(c->exec_path);
    uvproc__common_strv_free(c->exec_args);
    free(c->cwd);
    free(c->argv0);
    free(c->extra_stdio);
    free(c);
}

int uvproc_cluster_start(uv_loop_t *loop, uvproc_cluster_t **out, const char *file,
                         const char *const *args, const uvproc_cluster_options_t *options)
{
    static const uvproc_cluster_options_t defaults;
    uvproc_cluster_t *c;
    unsigned n;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || file == NULL || file[0] == '\0')
        return UV_EINVAL;
    c = calloc(1, sizeof *c);
    if (c == NULL)
        return UV_ENOMEM;
    c->loop = loop;
    c->o = options != NULL ? *options : defaults;
    uvproc__common_list_init(&c->workers);
    uvproc__common_list_init(&c->handles);
    c->file = strdup(file);
    c->args = uvproc__common_strv_dup(NULL, args, 0);
    c->env_len = uvproc__common_strv_len(c->o.fork.spawn.env);
    c->env = uvproc__common_strv_dup(NULL, c->o.fork.spawn.env, 1);
    c->o.host = c->o.host != NULL ? strdup(c->o.host) : NULL;
    if (c->file == NULL || c->args == NULL || c->env == NULL ||
        (options != NULL && options->host != NULL && c->o.host == NULL)) {
        uvproc__cl_free(c);
        return UV_ENOMEM;
    }
    /* Every fork reads these again: keep copies, not the caller's pointers. A user env of
     * NULL means the primary's, plus NODE_UNIQUE_ID. */
    c->env_mode = c->o.fork.spawn.env != NULL ? c->o.fork.spawn.env_mode : UVPROC_ENV_EXTEND;
    c->o.fork.spawn.env = NULL;
    c->exec_path = c->o.fork.exec_path != NULL ? strdup(c->o.fork.exec_path) : NULL;
    c->exec_args = uvproc__common_strv_dup(NULL, c->o.fork.exec_args, 0);
    c->cwd = c->o.fork.spawn.cwd != NULL ? strdup(c->o.fork.spawn.cwd) : NULL;
    c->argv0 = c->o.fork.spawn.argv0 != NULL ? strdup(c->o.fork.spawn.argv0) : NULL;
    if (c->o.fork.spawn.extra_stdio_count > 0 && c->o.fork.spawn.extra_stdio != NULL) {
        size_t bytes = c->o.fork.spawn.extra_stdio_count * sizeof *c->extra_stdio;
        c->extra_stdio = malloc(bytes);
        if (c->extra_stdio != NULL)
            memcpy(c->extra_stdio, c->o.fork.spawn.extra_stdio, bytes);
    }
    if ((c->o.fork.exec_path != NULL && c->exec_path == NULL) || c->exec_args == NULL ||
        (c->o.fork.spawn.cwd != NULL && c->cwd == NULL) ||
        (c->o.fork.spawn.argv0 != NULL && c->argv0 == NULL) ||
        (c->o.fork.spawn.extra_stdio != NULL && c->o.fork.spawn.extra_stdio_count > 0 &&
         c->extra_stdio == NULL)) {
        uvproc__cl_free(c);
        return UV_ENOMEM;
    }
    c->o.fork.exec_path = c->exec_path;
    c->o.fork.exec_args = c->o.fork.exec_args != NULL ? (const char *const *)c->exec_args : NULL;
    c->o.fork.spawn.cwd = c->cwd;
    c->o.fork.spawn.argv0 = c->argv0;
    c->o.fork.spawn.extra_stdio = c->extra_stdio;
    /* kill_on_parent_death needs pidfds (the posix_spawn launcher); where the kernel (or
     * valgrind) has none, a worker asked to have it would not start at all. It is then left
     * out: workers still leave when the channel drops (Node's do; C workers see
     * on_disconnect(w, 0)). */
    c->pdeath = uvproc_supports(UVPROC_FEATURE_KILL_ON_PARENT_DEATH);
    if (uvproc__cluster_inherit(c, c->o.listen_fds, c->o.listen_fds_count) != 0) {
        uvproc__cl_free(c);
        return UV_ENOMEM;
    }
    c->started_ms = uv_now(loop);
    uv_idle_init(loop, &c->finisher);
    c->finisher.data = c;
    n = c->o.workers != 0 ? c->o.workers : uv_available_parallelism();
    c->target = n;
    for (unsigned i = 0; i < n; i++)
        uvproc__cluster_add_worker(c);
    if (out != NULL)
        *out = c;
    return 0;
}

static void uvproc__cl_finished(uv_handle_t *h)
{
    uvproc__cl_free(h->data);
}

static void uvproc__cl_finish_cb(uv_idle_t *idle)
{
    uvproc_cluster_t *c = idle->data;
    uv_idle_stop(idle);
    if (c->stop_cb != NULL)
        c->stop_cb(c, c->stop_data);
    uv_close((uv_handle_t *)idle, uvproc__cl_finished);
}

/* The stop is complete once every slot is freed and every listening socket closed; the user
 * hears it on a clean stack (an idle callback), not from inside some worker's event. */
void uvproc__cluster_maybe_finish(uvproc_cluster_t *c)
{
    if (c->stopping == 1 && uvproc__common_list_empty(&c->workers) && c->pending_closes == 0 && c->nslots == 0) {
        c->stopping = 2;
        uv_idle_start(&c->finisher, uvproc__cl_finish_cb);
    }
}

void uvproc__cluster_handles_closed(uvproc_cluster_t *c)
{
    uvproc__cluster_maybe_finish(c);
}

int uvproc_cluster_stop(uvproc_cluster_t *c, void (*cb)(uvproc_cluster_t *c, void *data),
                        void *data)
{
    uvproc__common_list_t *n, *next;
    if (c == NULL)
        return UV_EINVAL;
    if (c->stopping)
        return UV_EALREADY;
    c->stopping = 1;
    c->stop_cb = cb;
    c->stop_data = data;
    if (c->reloading)
        uvproc__cluster_reload_end(c, UV_ECANCELED);
    uvproc__cluster_upgrade_cancel(c);
    uvproc__cluster_close_handles(c);
    /* STOP may free its own slot, and runs no user callback that could free another. */
    uvproc__common_list_foreach_safe(n, next, &c->workers)
        uvproc__cluster_event(UVPROC__CLUSTER_WORKER(n), UVPROC__EV_STOP, NULL);
    uvproc__cluster_maybe_finish(c);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* rolling reload and resize                                                                */

static int uvproc__cl_live(const uvproc_cluster_worker_t *w)
{
    return w->state != UVPROC_WORKER_STOPPING && w->state != UVPROC_WORKER_DEAD;
}

void uvproc__cluster_reload_end(uvproc_cluster_t *c, int status)
{
    void (*cb)(uvproc_cluster_t *, int, void *) = c->reload_cb;
    c->count.reloads += status == 0;
    c->count.reload_failures += status != 0 && status != UV_ECANCELED;
    c->reloading = 0;
    c->reload_new = NULL;
    c->reload_cb = NULL;
    if (cb != NULL)
        cb(c, status, c->reload_data);
}

/* Starts the replacement of the next old worker; the old one is stopped once the new one
 * listens (uvproc__cluster_reload_ready), so the port never lacks a ready worker. */
static void uvproc__cl_reload_step(uvproc_cluster_t *c)
{
    while (c->reloading && c->reload_next < c->reload_count) {
        if (c->reload_old[c->reload_next] == NULL) {
            c->reload_next++; /* it died for good meanwhile: nothing to replace */
            continue;
        }
        c->reload_new = uvproc__cluster_add_worker(c);
        if (c->reload_new == NULL)
            uvproc__cluster_reload_end(c, UVPROC_ECRASHLOOP);
        return;
    }
    if (c->reloading)
        uvproc__cluster_reload_end(c, 0);
}

void uvproc__cluster_reload_ready(uvproc_cluster_t *c, uvproc_cluster_worker_t *w)
{
    uvproc_cluster_worker_t *old;
    if (!c->reloading || c->reload_new != w)
        return;
    old = c->reload_old[c->reload_next];
    c->reload_old[c->reload_next++] = NULL;
    c->reload_new = NULL;
    if (old != NULL)
        uvproc__cluster_event(old, UVPROC__EV_STOP, NULL);
    uvproc__cl_reload_step(c);
}

int uvproc_cluster_reload(uvproc_cluster_t *c,
                          void (*cb)(uvproc_cluster_t *c, int status, void *data), void *data)
{
    size_t n = 0;
    uvproc__common_list_t *i;
    if (c == NULL)
        return UV_EINVAL;
    if (c->stopping)
        return UV_EALREADY;
    if (c->reloading)
        return UV_EBUSY;
    uvproc__common_list_foreach(i, &c->workers)
        n += uvproc__cl_live(UVPROC__CLUSTER_WORKER(i));
    free(c->reload_old);
    c->reload_old = calloc(n + 1, sizeof *c->reload_old);
    if (c->reload_old == NULL)
        return UV_ENOMEM;
    c->reload_count = 0;
    /* Oldest first: the list holds the newest at its head. */
    uvproc__common_list_foreach(i, &c->workers)
        if (uvproc__cl_live(UVPROC__CLUSTER_WORKER(i)))
            c->reload_old[n - 1 - c->reload_count++] = UVPROC__CLUSTER_WORKER(i);
    c->reload_next = 0;
    c->reloading = 1;
    c->reload_cb = cb;
    c->reload_data = data;
    uvproc__cl_reload_step(c);
    return 0;
}

int uvproc_cluster_resize(uvproc_cluster_t *c, unsigned n)
{
    unsigned live = 0;
    uvproc__common_list_t *i, *next;
    uvproc_cluster_worker_t *w;
    if (c == NULL)
        return UV_EINVAL;
    if (c->stopping)
        return UV_EALREADY;
    /* A reload's replacement takes an old worker's place: not one more (TTIN during HUP). */
    uvproc__common_list_foreach(i, &c->workers) {
        w = UVPROC__CLUSTER_WORKER(i);
        live += uvproc__cl_live(w) && w != c->reload_new;
    }
    c->target = n;
    for (; live < n; live++)
        uvproc__cluster_add_worker(c);
    uvproc__common_list_foreach_safe(i, next, &c->workers) {
        if (live <= n)
            break;
        w = UVPROC__CLUSTER_WORKER(i);
        if (uvproc__cl_live(w) && w != c->reload_new) {
            live--;
            uvproc__cluster_event(w, UVPROC__EV_STOP, NULL);
        }
    }
    return 0;
}

int uvproc_cluster_worker_stop(uvproc_cluster_worker_t *w)
{
    if (w == NULL)
        return UV_EINVAL;
    uvproc__cluster_event(w, UVPROC__EV_STOP, NULL);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* messages and accessors                                                                   */

int uvproc_cluster_send(uvproc_cluster_worker_t *w, const json_t *msg)
{
    return w != NULL ? uvproc__cluster_send_user(&w->peer, msg) : UV_EINVAL;
}

int uvproc_cluster_broadcast(uvproc_cluster_t *c, const json_t *msg)
{
    int sent = 0;
    uvproc__common_list_t *i;
    if (c == NULL || msg == NULL)
        return UV_EINVAL;
    uvproc__common_list_foreach(i, &c->workers)
        sent += uvproc_cluster_send(UVPROC__CLUSTER_WORKER(i), msg) == 0;
    return sent;
}

size_t uvproc_cluster_workers(const uvproc_cluster_t *c, uvproc_cluster_worker_t **out, size_t max)
{
    size_t n = 0;
    uvproc__common_list_t *i;
    uvproc__common_list_foreach(i, &c->workers) {
        uvproc_cluster_worker_t *w = UVPROC__CLUSTER_WORKER(i);
        if (w->state == UVPROC_WORKER_DEAD)
            continue;
        if (out != NULL && n < max)
            out[n] = w;
        n++;
    }
    return n;
}

void *uvproc_cluster_data(const uvproc_cluster_t *c)
{
    return c->o.data;
}

unsigned uvproc_cluster_worker_id(const uvproc_cluster_worker_t *w)
{
    return w->id;
}

uv_pid_t uvproc_cluster_worker_pid(const uvproc_cluster_worker_t *w)
{
    return w->proc != NULL ? uvproc_pid(w->proc) : 0;
}

uvproc_cluster_worker_state_t uvproc_cluster_worker_state(const uvproc_cluster_worker_t *w)
{
    return w->state;
}

const char *uvproc_cluster_state_name(uvproc_cluster_worker_state_t state)
{
    static const char *const names[] = {"starting", "online",  "listening",
                                        "stopping", "backoff", "dead"};
    return (unsigned)state <= UVPROC_WORKER_DEAD ? names[state] : "unknown";
}

unsigned uvproc_cluster_worker_restarts(const uvproc_cluster_worker_t *w)
{
    return w->restarts;
}

uint64_t uvproc_cluster_worker_uptime(const uvproc_cluster_worker_t *w)
{
    uint64_t end = w->proc != NULL ? uv_now(w->cluster->loop) : w->exited_ms;
    return end - w->started_ms;
}

int uvproc_cluster_worker_rusage(const uvproc_cluster_worker_t *w, struct rusage *usage)
{
    if (!w->has_usage)
        return UV_EAGAIN;
    if (w->usage_err != 0)
        return w->usage_err;
    *usage = w->usage;
    return 0;
}

uvproc_cluster_t *uvproc_cluster_worker_cluster(const uvproc_cluster_worker_t *w)
{
    return w->cluster;
}
