/* The primary's own upgrade, as nginx's and gunicorn's USR2: a new primary is started from
 * the program on disk with every listening socket of this one as an open fd (never
 * rebound: the kernel's accept queue is the same file description in both, so no
 * connection is refused or lost while two primaries serve), plus one end of a socketpair on
 * which it writes "READY=1\n" once its workers listen. Until then this cluster serves as
 * before; if the new one exits first, or stays silent past the timeout (then it is killed),
 * nothing here has changed. After READY the caller stops this cluster (a graceful drain).
 *
 * The handoff in the environment: UVPROC_CLUSTER_FDS="3,4,..." (the sockets, taken by
 * uvproc_cluster_listen_fds) and UVPROC_CLUSTER_UPGRADE_FD=N (the readiness end). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"

#define UVPROC__CL_UPGRADE_TIMEOUT_MS 30000
#define UVPROC__CL_READY "READY=1\n"

typedef struct uvproc__cluster_upgrade_s {
    uvproc_cluster_t *c; /* NULL once the outcome is told */
    uvproc_process_t *p;
    uv_timer_t timer;
    int ready_fd; /* the readiness end's number in the child */
    char buf[16];
    size_t len;
    int closing; /* the process and the timer close before this is freed */
    void (*cb)(uvproc_cluster_t *c, int status, uv_pid_t pid, void *data);
    void *data;
} uvproc__cl_upgrade_t;

static void uvproc__cl_upgrade_free(uv_handle_t *timer)
{
    free(timer->data);
}

/* Tells the outcome once; the state goes when both the process and the timer are done. */
static void uvproc__cl_upgrade_end(uvproc__cl_upgrade_t *u, int status)
{
    uvproc_cluster_t *c = u->c;
    uv_pid_t pid = u->p != NULL ? uvproc_pid(u->p) : 0;
    if (c == NULL)
        return;
    u->c = NULL;
    c->upgrade = NULL;
    uv_timer_stop(&u->timer);
    if (status == 0) {
        c->count.upgrades++;
        /* The new primary outlives this one: it no longer keeps the loop alive, and nothing
         * it does later concerns this cluster. */
        uvproc_process_set_data(u->p, NULL);
        uvproc_close_stdio(u->p, u->ready_fd);
        uvproc_process_unref(u->p);
        u->p = NULL;
        uv_close((uv_handle_t *)&u->timer, uvproc__cl_upgrade_free);
    } else {
        c->count.upgrade_failures++;
        if (u->p != NULL && !uvproc_exited(u->p))
            uvproc_kill(u->p, SIGKILL); /* its workers follow it (kill_on_parent_death) */
    }
    if (u->cb != NULL)
        u->cb(c, status, status == 0 ? pid : 0, u->data);
}

static void uvproc__cl_upgrade_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    uvproc__cl_upgrade_t *u = uvproc_process_data(p);
    size_t room;
    if (u == NULL || fd != u->ready_fd || u->c == NULL)
        return;
    room = sizeof u->buf - 1 - u->len;
    memcpy(u->buf + u->len, buf, len < room ? len : room);
    u->len += len < room ? len : room;
    u->buf[u->len] = '\0';
    if (strstr(u->buf, UVPROC__CL_READY) != NULL)
        uvproc__cl_upgrade_end(u, 0);
}

static void uvproc__cl_upgrade_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    uvproc__cl_upgrade_t *u = uvproc_process_data(p);
    if (u != NULL)
        uvproc__cl_upgrade_end(u, err->code);
}

static void uvproc__cl_upgrade_close(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc__cl_upgrade_t *u = uvproc_process_data(p);
    (void)code;
    (void)signal;
    if (u == NULL)
        return;
    uvproc__cl_upgrade_end(u, UVPROC_EUPGRADE); /* no-op when already told */
    u->p = NULL;
    uv_close((uv_handle_t *)&u->timer, uvproc__cl_upgrade_free);
}

static void uvproc__cl_upgrade_timeout(uv_timer_t *t)
{
    uvproc__cl_upgrade_end(t->data, UV_ETIMEDOUT);
}

void uvproc__cluster_upgrade_cancel(uvproc_cluster_t *c)
{
    if (c->upgrade != NULL)
        uvproc__cl_upgrade_end(c->upgrade, UV_ECANCELED);
}

/* The environment entries of the handoff, after the caller's own (the new primary's
 * environment is this process's, plus these). */
static int uvproc__cl_upgrade_env(size_t nfds, int ready_fd, char *fds_env, size_t fds_size,
                                  char *ready_env, size_t ready_size)
{
    size_t off = (size_t)snprintf(fds_env, fds_size, "UVPROC_CLUSTER_FDS=");
    for (size_t i = 0; i < nfds; i++) {
        int n = snprintf(fds_env + off, fds_size - off, i == 0 ? "%zu" : ",%zu", 3 + i);
        if (n < 0 || (size_t)n >= fds_size - off)
            return UV_E2BIG;
        off += (size_t)n;
    }
    snprintf(ready_env, ready_size, "UVPROC_CLUSTER_UPGRADE_FD=%d", ready_fd);
    return 0;
}

int uvproc_cluster_upgrade(uvproc_cluster_t *c, const char *file, const char *argv0,
                           const char *const *args, uint64_t timeout_ms,
                           void (*cb)(uvproc_cluster_t *c, int status, uv_pid_t pid, void *data),
                           void *data)
{
    uvproc_spawn_options_t so = {0};
    uvproc_stdio_t *slots;
    uvproc__cl_upgrade_t *u;
    size_t nfds, n;
    int *fds, err;
    char *fds_env, ready_env[64];
    const char *env[3];

    if (c == NULL || file == NULL || file[0] == '\0')
        return UV_EINVAL;
    if (c->stopping)
        return UV_EALREADY;
    if (c->upgrade != NULL)
        return UV_EBUSY;

    /* Every socket the cluster listens on, and the passed ones no worker asked for yet: the
     * new primary gets them all, at fds 3, 4, ... */
    nfds = uvproc__cluster_handle_fds(c, NULL, 0);
    for (size_t i = 0; i < c->ninherited; i++)
        nfds += c->inherited[i] >= 0;
    fds = calloc(nfds + 1, sizeof *fds);
    slots = calloc(nfds + 1, sizeof *slots);
    fds_env = malloc(32 + nfds * 12);
    u = calloc(1, sizeof *u);
    if (fds == NULL || slots == NULL || fds_env == NULL || u == NULL) {
        free(fds), free(slots), free(fds_env), free(u);
        return UV_ENOMEM;
    }
    n = uvproc__cluster_handle_fds(c, fds, nfds);
    for (size_t i = 0; i < c->ninherited; i++)
        if (c->inherited[i] >= 0)
            fds[n++] = c->inherited[i];
    for (size_t i = 0; i < nfds; i++)
        slots[i] = (uvproc_stdio_t){.type = UVPROC_STDIO_FD, .fd = fds[i]};
    slots[nfds] = (uvproc_stdio_t){.type = UVPROC_STDIO_PIPE};
    u->ready_fd = (int)(3 + nfds);
    uvproc__cl_upgrade_env(nfds, u->ready_fd, fds_env, 32 + nfds * 12, ready_env, sizeof ready_env);
    env[0] = fds_env;
    env[1] = ready_env;
    env[2] = NULL;

    so.env = env;
    so.env_mode = UVPROC_ENV_EXTEND;
    so.argv0 = argv0;
    so.stdio[0] = (uvproc_stdio_t){.type = UVPROC_STDIO_INHERIT};
    so.stdio[1] = (uvproc_stdio_t){.type = UVPROC_STDIO_INHERIT};
    so.stdio[2] = (uvproc_stdio_t){.type = UVPROC_STDIO_INHERIT};
    so.extra_stdio = slots;
    so.extra_stdio_count = nfds + 1;
    so.data = u;
    so.on_data = uvproc__cl_upgrade_data;
    so.on_error = uvproc__cl_upgrade_error;
    so.on_close = uvproc__cl_upgrade_close;

    u->c = c;
    u->cb = cb;
    u->data = data;
    uv_timer_init(c->loop, &u->timer);
    u->timer.data = u;
    c->upgrade = u;
    err = uvproc_spawn(c->loop, &u->p, file, args, &so);
    free(fds);
    free(slots);
    free(fds_env);
    if (err != 0) {
        c->upgrade = NULL;
        uv_close((uv_handle_t *)&u->timer, uvproc__cl_upgrade_free);
        return err;
    }
    /* A spawn failure (ENOENT, EACCES) comes as on_error, then on_close: the outcome. */
    if (u->c != NULL)
        uv_timer_start(&u->timer, uvproc__cl_upgrade_timeout,
                       timeout_ms != 0 ? timeout_ms : UVPROC__CL_UPGRADE_TIMEOUT_MS, 0);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* the new primary's side                                                                   */

/* The readiness end, taken from the environment on first use (then unset, so that the
 * workers this primary starts do not see it) and kept here: -2 not looked at yet, -1 none. */
static int uvproc__cl_ready = -2;

static int uvproc__cl_ready_fd(void)
{
    const char *s;
    char *end;
    long fd;
    if (uvproc__cl_ready != -2)
        return uvproc__cl_ready;
    uvproc__cl_ready = -1;
    s = getenv("UVPROC_CLUSTER_UPGRADE_FD");
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    fd = strtol(s, &end, 10);
    unsetenv("UVPROC_CLUSTER_UPGRADE_FD");
    if (*end != '\0' || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
        return -1;
    /* Its workers must not hold it: the old primary reads EOF as "it died". */
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    uvproc__cl_ready = (int)fd;
    return uvproc__cl_ready;
}

int uvproc_cluster_upgrading(void)
{
    return uvproc__cl_ready_fd() >= 0;
}

int uvproc_cluster_upgrade_ready(void)
{
    int fd = uvproc__cl_ready_fd();
    const char *msg = UVPROC__CL_READY;
    size_t off = 0, len = strlen(msg);
    if (fd < 0)
        return 0;
    uvproc__cl_ready = -1; /* told once */
    while (off < len) {
        /* MSG_NOSIGNAL: an old primary gone meanwhile is EPIPE here, not a SIGPIPE. */
        ssize_t w = send(fd, msg + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == ENOTSOCK)
            w = write(fd, msg + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            int err = -errno;
            close(fd);
            return err;
        }
        off += (size_t)w;
    }
    close(fd);
    return 1;
}
