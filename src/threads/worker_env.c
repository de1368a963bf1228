/* Per-thread environments. C has one process environment (environ, getenv, setenv); Node
 * gives each worker a copy of it (or, with SHARE_ENV, its parent's). uvproc_env_* read and
 * write the calling thread's: a worker's own map, a map shared with the thread that started
 * it, or, on the main thread, the process environment itself, under one lock. Raw
 * getenv/setenv are untouched and stay process-wide. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "threads.h"

extern char **environ;

/* A worker's environment starts as a flat copy of the "KEY=VALUE" strings (one malloc and a
 * memcpy: building jansson's map of ~40 variables took a third of a worker's start-up) and
 * becomes a map at its first use. Both under `lock` (a shared environment has two users). */
struct uvproc__threads_env_s {
    uv_mutex_t lock;
    json_t *map; /* name -> string; NULL until first used */
    char *flat;  /* NUL-separated "KEY=VALUE" entries while map is NULL */
    size_t flat_len;
    atomic_int refs;
};

static _Thread_local uvproc__threads_env_t *uvproc__tls_env; /* NULL: the process environment */
/* uv_mutex_t is a pthread_mutex_t on Unix: a static initializer needs no once-call that
 * could fail. */
static uv_mutex_t uvproc__process_env_lock = PTHREAD_MUTEX_INITIALIZER;

static uv_mutex_t *uvproc__env_lock(uvproc__threads_env_t *env)
{
    return env != NULL ? &env->lock : &uvproc__process_env_lock;
}

static int uvproc__env_put_entry(json_t *map, const char *entry)
{
    const char *eq = strchr(entry, '=');
    char *name;
    int r;
    if (eq == NULL || eq == entry)
        return 0; /* not KEY=VALUE: skipped, as the kernel's execve would keep it opaque */
    name = strndup(entry, (size_t)(eq - entry));
    if (name == NULL)
        return UV_ENOMEM;
    r = json_object_set_new(map, name, json_string(eq + 1));
    free(name);
    return r == 0 ? 0 : UV_ENOMEM;
}

/* The map of `env`, built from its flat copy at first use. Called under env->lock. */
static json_t *uvproc__env_map(uvproc__threads_env_t *env)
{
    if (env->map == NULL) {
        json_t *map = json_object();
        for (size_t at = 0; map != NULL && at < env->flat_len; at += strlen(env->flat + at) + 1) {
            if (uvproc__env_put_entry(map, env->flat + at) != 0) {
                json_decref(map);
                map = NULL;
            }
        }
        if (map == NULL)
            return NULL;
        env->map = map;
        free(env->flat);
        env->flat = NULL;
        env->flat_len = 0;
    }
    return env->map;
}

/* Copies `entries` (NULL-terminated) into one NUL-separated block. */
static char *uvproc__env_flatten(const char *const *entries, size_t *len)
{
    size_t total = 0, at = 0;
    char *flat;
    for (size_t i = 0; entries != NULL && entries[i] != NULL; i++)
        total += strlen(entries[i]) + 1;
    flat = malloc(total > 0 ? total : 1);
    if (flat == NULL)
        return NULL;
    for (size_t i = 0; entries != NULL && entries[i] != NULL; i++) {
        size_t l = strlen(entries[i]) + 1;
        memcpy(flat + at, entries[i], l);
        at += l;
    }
    *len = total;
    return flat;
}

/* A copy of `parent` (NULL: the process environment) into `env`. */
static int uvproc__env_snapshot(uvproc__threads_env_t *parent, uvproc__threads_env_t *env)
{
    uv_mutex_t *lock = uvproc__env_lock(parent);
    int err = 0;
    uv_mutex_lock(lock);
    if (parent == NULL) {
        env->flat = uvproc__env_flatten((const char *const *)environ, &env->flat_len);
    } else if (parent->map == NULL) {
        env->flat = malloc(parent->flat_len > 0 ? parent->flat_len : 1);
        if (env->flat != NULL && parent->flat_len > 0)
            memcpy(env->flat, parent->flat, parent->flat_len);
        env->flat_len = parent->flat_len;
    } else if ((env->map = json_deep_copy(parent->map)) == NULL) {
        err = UV_ENOMEM;
    }
    if (env->map == NULL && env->flat == NULL)
        err = UV_ENOMEM;
    uv_mutex_unlock(lock);
    return err;
}

int uvproc__threads_env_for_worker(uvproc_worker_env_mode_t mode, const char *const *list,
                                   uvproc__threads_env_t **out)
{
    uvproc__threads_env_t *env;
    int err;

    if (list == NULL && mode == UVPROC_WORKER_ENV_SHARE) {
        env = uvproc__tls_env;
        if (env != NULL)
            atomic_fetch_add(&env->refs, 1);
        *out = env;
        return 0;
    }
    env = calloc(1, sizeof *env);
    if (env == NULL)
        return UV_ENOMEM;
    if (uv_mutex_init(&env->lock) != 0) {
        free(env);
        return UV_ENOMEM;
    }
    atomic_init(&env->refs, 1);
    if (list != NULL) {
        env->flat = uvproc__env_flatten(list, &env->flat_len);
        err = env->flat != NULL ? 0 : UV_ENOMEM;
    } else {
        err = uvproc__env_snapshot(uvproc__tls_env, env);
    }
    if (err != 0) {
        uvproc__threads_env_release(env);
        return err;
    }
    *out = env;
    return 0;
}

void uvproc__threads_env_release(uvproc__threads_env_t *env)
{
    if (env != NULL && atomic_fetch_sub(&env->refs, 1) == 1) {
        json_decref(env->map);
        free(env->flat);
        uv_mutex_destroy(&env->lock);
        free(env);
    }
}

void uvproc__threads_env_enter(uvproc__threads_env_t *env)
{
    uvproc__tls_env = env;
}

static int uvproc__env_bad_name(const char *name)
{
    return name == NULL || *name == '\0' || strchr(name, '=') != NULL;
}

int uvproc_env_get(const char *name, char *buf, size_t *size)
{
    uvproc__threads_env_t *env = uvproc__tls_env;
    uv_mutex_t *lock;
    const char *v;
    size_t len;
    int err = 0;

    if (uvproc__env_bad_name(name) || size == NULL || (buf == NULL && *size > 0))
        return UV_EINVAL;
    lock = uvproc__env_lock(env);
    uv_mutex_lock(lock);
    if (env != NULL && uvproc__env_map(env) == NULL) {
        err = UV_ENOMEM;
    } else {
        v = env != NULL ? json_string_value(json_object_get(env->map, name)) : getenv(name);
        if (v == NULL) {
            err = UV_ENOENT;
        } else if ((len = strlen(v)) >= *size) {
            *size = len + 1;
            err = UV_ENOBUFS;
        } else {
            memcpy(buf, v, len + 1);
            *size = len;
        }
    }
    uv_mutex_unlock(lock);
    return err;
}

int uvproc_env_set(const char *name, const char *value)
{
    uvproc__threads_env_t *env = uvproc__tls_env;
    uv_mutex_t *lock;
    int err;

    if (uvproc__env_bad_name(name) || value == NULL)
        return UV_EINVAL;
    lock = uvproc__env_lock(env);
    uv_mutex_lock(lock);
    if (env != NULL)
        err = uvproc__env_map(env) != NULL &&
                      json_object_set_new(env->map, name, json_string(value)) == 0
                  ? 0
                  : UV_ENOMEM;
    else
        err = setenv(name, value, 1) == 0 ? 0 : UV_ENOMEM;
    uv_mutex_unlock(lock);
    return err;
}

int uvproc_env_unset(const char *name)
{
    uvproc__threads_env_t *env = uvproc__tls_env;
    uv_mutex_t *lock;

    if (uvproc__env_bad_name(name))
        return UV_EINVAL;
    lock = uvproc__env_lock(env);
    uv_mutex_lock(lock);
    if (env != NULL && uvproc__env_map(env) != NULL)
        json_object_del(env->map, name);
    else
        unsetenv(name);
    uv_mutex_unlock(lock);
    return 0;
}
