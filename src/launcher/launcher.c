/* Picks the launcher for each child and forwards the seam's calls to it. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

typedef enum {
    UVPROC__PREFER_CLONE = 0,
    UVPROC__PREFER_POSIX,
    UVPROC__PREFER_UV
} uvproc__preference_t;

static pthread_once_t uvproc__preference_once = PTHREAD_ONCE_INIT;
static uvproc__preference_t uvproc__preference;

/* UVPROC_LAUNCHER=posix or uv picks a fallback: for comparing launchers in tests and
 * benchmarks, and as an escape hatch should the clone path misbehave somewhere. */
static void uvproc__read_preference(void)
{
    const char *v = getenv("UVPROC_LAUNCHER");
    uvproc__preference = UVPROC__PREFER_CLONE;
    if (v != NULL && strcmp(v, "uv") == 0)
        uvproc__preference = UVPROC__PREFER_UV;
    else if (v != NULL && strcmp(v, "posix") == 0)
        uvproc__preference = UVPROC__PREFER_POSIX;
}

int uvproc__launcher_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                           void *owner, uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out)
{
    int err = UV_ENOSYS;
    pthread_once(&uvproc__preference_once, uvproc__read_preference);
    /* uv_spawn cannot set a parent-death signal: only the pidfd launchers serve that. */
    if (uvproc__preference == UVPROC__PREFER_POSIX)
        err = uvproc__launcher_posix_start(ll, req, owner, on_exit, out);
    else if (uvproc__preference == UVPROC__PREFER_CLONE || req->kill_on_parent_death)
        err = uvproc__launcher_clone_start(ll, req, owner, on_exit, out);
    if (err != UV_ENOSYS || req->kill_on_parent_death)
        return err;
    return uvproc__launcher_uv_start(uvproc__launcher_loop_uv(ll), req, owner, on_exit, out);
}

uv_pid_t uvproc__launcher_pid(const uvproc__launcher_t *l)
{
    return l->ops->pid(l);
}

int uvproc__launcher_kill(uvproc__launcher_t *l, int signum)
{
    return l->ops->kill(l, signum);
}

void uvproc__launcher_close(uvproc__launcher_t *l, uvproc__launcher_closed_cb on_closed)
{
    l->ops->close(l, on_closed);
}

void uvproc__launcher_set_ref(uvproc__launcher_t *l, int ref)
{
    l->ops->set_ref(l, ref);
}
