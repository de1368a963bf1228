/* The pool's public calls: create, submit (commands, shell lines, worker calls), cancel,
 * drain, terminate, counters. What happens to a job afterwards is pool.c's table. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "pool.h"

static int pool_copy_options(uvproc_pool_t *pool, const uvproc_pool_options_t *o)
{
    pool->o = *o;
    if (pool->o.max_workers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        pool->o.max_workers = n > 0 ? (unsigned)n : 1;
    }
    if (pool->o.min_workers > pool->o.max_workers)
        pool->o.min_workers = pool->o.max_workers;
    if (pool->o.idle_timeout_ms == 0)
        pool->o.idle_timeout_ms = 1000;
    if (pool->o.pipeline == 0)
        pool->o.pipeline = 1;
    if (o->joblog != NULL && (pool->joblog_path = strdup(o->joblog)) == NULL)
        return UV_ENOMEM;
    pool->o.joblog = pool->joblog_path;
    if (o->kind == UVPROC_POOL_WORKERS) {
        const char *ep = o->worker_fork.exec_path;
        pool->worker_file = strdup(o->worker_file);
        pool->worker_args = uvproc__common_strv_dup(NULL, o->worker_args, 0);
        pool->worker_exec_path = ep != NULL ? strdup(ep) : NULL;
        pool->worker_exec_args = uvproc__common_strv_dup(NULL, o->worker_fork.exec_args, 0);
        if (pool->worker_file == NULL || pool->worker_args == NULL ||
            pool->worker_exec_args == NULL || (ep != NULL && pool->worker_exec_path == NULL))
            return UV_ENOMEM;
    }
    return 0;
}

int uvproc_pool_new(uv_loop_t *loop, uvproc_pool_t **out, const uvproc_pool_options_t *options)
{
    uvproc_pool_t *pool;
    int err;
    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL || options == NULL)
        return UV_EINVAL;
    if (options->kind != UVPROC_POOL_COMMANDS && options->kind != UVPROC_POOL_WORKERS)
        return UV_EINVAL;
    if (options->kind == UVPROC_POOL_WORKERS &&
        (options->worker_file == NULL || options->worker_file[0] == '\0'))
        return UV_EINVAL;
    if (options->resume && options->joblog == NULL)
        return UV_EINVAL;
    pool = calloc(1, sizeof *pool);
    if (pool == NULL)
        return UV_ENOMEM;
    pool->loop = loop;
    uvproc__common_list_init(&pool->queue);
    uvproc__common_list_init(&pool->slots);
    uvproc__common_list_init(&pool->submitted);
    uvproc__common_list_init(&pool->done);
    err = pool_copy_options(pool, options);
    if (err == 0)
        err = uvproc__pool_hosts_init(pool, options); /* scale-out: slots on hosts */
    if (err == 0)
        err = uvproc__pool_joblog_open(pool);
    if (err != 0) {
        uvproc__pool_release(pool);
        return err;
    }
    uv_timer_init(loop, &pool->kick);
    pool->kick.data = pool;
    *out = pool;
    if (pool->o.kind == UVPROC_POOL_WORKERS)
        uvproc__pool_worker_grow(pool);
    return 0;
}

static uvproc__pool_job_t *job_new(uvproc_pool_t *pool, const uvproc_pool_job_options_t *jo)
{
    uvproc__pool_job_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return NULL;
    j->pool = pool;
    uvproc__common_list_init(&j->qnode);
    uvproc__common_list_init(&j->snode);
    uvproc__common_list_init(&j->dnode);
    uvproc__common_list_init(&j->wnode);
    j->res.exit_code = -1;
    if (jo != NULL) {
        j->data = jo->data;
        j->timeout_ms = jo->timeout_ms;
        if (jo->input != NULL && jo->input_len > 0) {
            j->input = malloc(jo->input_len);
            if (j->input == NULL) {
                free(j);
                return NULL;
            }
            memcpy(j->input, jo->input, jo->input_len);
            j->input_len = jo->input_len;
        }
    }
    return j;
}

static int submit_check(uvproc_pool_t *pool, uvproc_pool_kind_t kind)
{
    if (pool == NULL)
        return UV_EINVAL;
    if (pool->draining || pool->terminating || pool->closed)
        return UVPROC_EPOOLCLOSED;
    if (pool->o.kind != kind)
        return UV_EINVAL;
    if (pool->o.max_queue != 0 && pool->c.queued >= pool->o.max_queue)
        return UVPROC_EQUEUEFULL;
    return 0;
}

/* Links a new job in and runs it if a slot is free. */
static int submit_job(uvproc_pool_t *pool, uvproc__pool_job_t *j, uint64_t *id)
{
    j->id = ++pool->next_id;
    uvproc__common_list_push(&pool->submitted, &j->snode);
    pool->c.submitted++;
    if (id != NULL)
        *id = j->id;
    if (pool->resume_count > 0 && uvproc__pool_joblog_done_before(pool, j->id)) {
        j->res.skipped = 1;
        j->res.exit_code = 0;
        pool->in_api++;
        uvproc__pool_job_finish(j, 0);
        pool->in_api--;
        return 0;
    }
    uvproc__pool_job_queue_push(pool, j, 0);
    if (pool->halted) { /* halt policy: nothing new starts */
        pool->in_api++;
        uvproc__pool_job_event(j, UVPROC__EV_CANCEL, UV_ECANCELED);
        pool->in_api--;
        return 0;
    }
    pool->in_api++;
    uvproc__pool_dispatch(pool);
    pool->in_api--;
    return 0;
}

int uvproc_pool_submit(uvproc_pool_t *pool, const char *file, const char *const *args,
                       const uvproc_pool_job_options_t *options, uint64_t *id)
{
    int err = submit_check(pool, UVPROC_POOL_COMMANDS);
    uvproc__pool_job_t *j;
    if (err != 0)
        return err;
    if (file == NULL || file[0] == '\0')
        return UV_EINVAL;
    j = job_new(pool, options);
    if (j == NULL)
        return UV_ENOMEM;
    j->file = strdup(file);
    j->argv = uvproc__common_strv_dup(NULL, args, 0);
    if (j->file == NULL || j->argv == NULL) {
        uvproc__pool_job_free_now(j);
        return UV_ENOMEM;
    }
    return submit_job(pool, j, id);
}

int uvproc_pool_submit_shell(uvproc_pool_t *pool, const char *command,
                             const uvproc_pool_job_options_t *options, uint64_t *id)
{
    int err = submit_check(pool, UVPROC_POOL_COMMANDS);
    uvproc__pool_job_t *j;
    if (err != 0)
        return err;
    if (command == NULL)
        return UV_EINVAL;
    j = job_new(pool, options);
    if (j == NULL)
        return UV_ENOMEM;
    j->argv = uvproc__common_strv_dup(command, NULL, 0);
    if (j->argv == NULL) {
        uvproc__pool_job_free_now(j);
        return UV_ENOMEM;
    }
    return submit_job(pool, j, id);
}

int uvproc_pool_call(uvproc_pool_t *pool, const char *method, const json_t *params,
                     const uvproc_pool_job_options_t *options, uint64_t *id)
{
    int err = submit_check(pool, UVPROC_POOL_WORKERS);
    uvproc__pool_job_t *j;
    if (err != 0)
        return err;
    if (method == NULL || (params != NULL && !json_is_array(params)))
        return UV_EINVAL;
    j = job_new(pool, options);
    if (j == NULL)
        return UV_ENOMEM;
    j->method = strdup(method);
    /* Deep copy: the caller may change its value after the call returns. */
    j->params = params != NULL ? json_deep_copy(params) : json_array();
    if (j->method == NULL || j->params == NULL) {
        uvproc__pool_job_free_now(j);
        return UV_ENOMEM;
    }
    return submit_job(pool, j, id);
}

int uvproc_pool_cancel(uvproc_pool_t *pool, uint64_t id)
{
    uvproc__pool_job_t *j;
    if (pool == NULL)
        return UV_EINVAL;
    uvproc__common_list_t *n;
    uvproc__common_list_foreach(n, &pool->submitted) {
        j = uvproc__common_list_entry(n, uvproc__pool_job_t, snode);
        if (j->id == id)
            break;
    }
    if (n == &pool->submitted)
        return id != 0 && id <= pool->next_id ? UV_EALREADY : UV_ENOENT;
    if (j->state == UVPROC__JOB_DONE || j->state == UVPROC__JOB_STOPPING)
        return UV_EALREADY;
    pool->in_api++;
    uvproc__pool_job_event(j, UVPROC__EV_CANCEL, UV_ECANCELED);
    pool->in_api--;
    uvproc__pool_kick(pool);
    return 0;
}

int uvproc_pool_drain(uvproc_pool_t *pool)
{
    if (pool == NULL)
        return UV_EINVAL;
    if (pool->draining || pool->terminating)
        return UV_EALREADY;
    pool->draining = 1;
    uvproc__pool_kick(pool);
    return 0;
}

int uvproc_pool_halt(uvproc_pool_t *pool, uvproc_halt_t how)
{
    if (pool == NULL || (how != UVPROC_HALT_SOON && how != UVPROC_HALT_NOW))
        return UV_EINVAL;
    if (pool->halted || pool->terminating)
        return UV_EALREADY;
    pool->in_api++;
    uvproc__pool_halt(pool, how);
    pool->in_api--;
    uvproc__pool_kick(pool);
    return 0;
}

int uvproc_pool_terminate(uvproc_pool_t *pool)
{
    if (pool == NULL)
        return UV_EINVAL;
    if (pool->terminating)
        return UV_EALREADY;
    pool->terminating = 1;
    pool->in_api++;
    uvproc__pool_cancel_unfinished(pool, 1);
    if (pool->o.kind == UVPROC_POOL_WORKERS)
        uvproc__pool_worker_retire_all(pool, 1);
    pool->in_api--;
    uvproc__pool_kick(pool);
    return 0;
}

void uvproc_pool_counters(const uvproc_pool_t *pool, uvproc_pool_counters_t *out)
{
    if (pool != NULL && out != NULL)
        *out = pool->c;
}

void *uvproc_pool_data(const uvproc_pool_t *pool)
{
    return pool != NULL ? pool->o.data : NULL;
}
