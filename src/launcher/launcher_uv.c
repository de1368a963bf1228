/* Launcher over uv_spawn: the portable baseline. On Debian's libuv 1.44 this is fork() +
 * execvp in the child, so its cost grows with the parent's memory (see DESIGN.md); a
 * posix_spawn launcher can replace it behind launcher.h. */
#include <stdlib.h>

#include "launcher.h"

typedef struct {
    uvproc__launcher_t base;
    uv_process_t handle;
    void *owner;
    uvproc__launcher_exit_cb on_exit;
    uvproc__launcher_closed_cb on_closed;
} uvproc__uv_launcher_t;

static const uvproc__launcher_ops_t uvproc__uv_ops;

static void uvproc__uv_exit(uv_process_t *handle, int64_t exit_status, int term_signal)
{
    uvproc__uv_launcher_t *l = handle->data;
    /* libuv reaps with waitpid: the child's resource usage is not to be had. */
    l->on_exit(l->owner, exit_status, term_signal, NULL);
}

static void uvproc__uv_closed(uv_handle_t *handle)
{
    uvproc__uv_launcher_t *l = handle->data;
    uvproc__launcher_closed_cb cb = l->on_closed;
    void *owner = l->owner;
    free(l);
    if (cb != NULL)
        cb(owner);
}

int uvproc__launcher_uv_start(uv_loop_t *loop, const uvproc__launcher_launch_t *req, void *owner,
                              uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out)
{
    uv_stdio_container_t stack_stdio[8];
    uv_stdio_container_t *stdio = stack_stdio;
    uvproc__uv_launcher_t *l;
    uv_process_options_t o = {0};
    int err;

    *out = NULL;
    l = calloc(1, sizeof *l);
    if (l == NULL)
        return UV_ENOMEM;
    if (req->slot_count > (int)(sizeof stack_stdio / sizeof stack_stdio[0])) {
        stdio = calloc((size_t)req->slot_count, sizeof *stdio);
        if (stdio == NULL) {
            free(l);
            return UV_ENOMEM;
        }
    }
    for (int i = 0; i < req->slot_count; i++) {
        const uvproc__launcher_launch_slot_t *s = &req->slots[i];
        switch (s->kind) {
        case UVPROC__SLOT_PIPE:
            /* UV_CREATE_PIPE is a socketpair: ~5x a default pipe's bandwidth on this kernel
             * (research/baselines.md), and it carries fds when the slot is an IPC channel. */
            stdio[i].flags = UV_CREATE_PIPE | (s->child_reads ? UV_READABLE_PIPE : 0) |
                             (s->child_writes ? UV_WRITABLE_PIPE : 0);
            stdio[i].data.stream = (uv_stream_t *)s->pipe;
            break;
        case UVPROC__SLOT_FD:
            stdio[i].flags = UV_INHERIT_FD;
            stdio[i].data.fd = s->fd;
            break;
        default:
            stdio[i].flags = UV_IGNORE;
            break;
        }
    }
    l->base.ops = &uvproc__uv_ops;
    l->owner = owner;
    l->on_exit = on_exit;
    l->handle.data = l;
    o.exit_cb = uvproc__uv_exit;
    o.file = req->file;
    o.args = req->argv;
    o.env = req->env;
    o.cwd = req->cwd;
    o.stdio_count = req->slot_count;
    o.stdio = stdio;
    o.flags = (req->detached ? UV_PROCESS_DETACHED : 0) | (req->set_uid ? UV_PROCESS_SETUID : 0) |
              (req->set_gid ? UV_PROCESS_SETGID : 0);
    o.uid = req->uid;
    o.gid = req->gid;
    err = uv_spawn(loop, &l->handle, &o);
    if (stdio != stack_stdio)
        free(stdio);
    /* uv_spawn initialises the handle even when it fails, and it must then be closed. */
    *out = &l->base;
    return err;
}

static uv_pid_t uvproc__uv_pid(const uvproc__launcher_t *base)
{
    const uvproc__uv_launcher_t *l = (const uvproc__uv_launcher_t *)base;
    return uv_process_get_pid(&l->handle);
}

static int uvproc__uv_kill(uvproc__launcher_t *base, int signum)
{
    uvproc__uv_launcher_t *l = (uvproc__uv_launcher_t *)base;
    return uv_process_kill(&l->handle, signum);
}

static void uvproc__uv_close(uvproc__launcher_t *base, uvproc__launcher_closed_cb on_closed)
{
    uvproc__uv_launcher_t *l = (uvproc__uv_launcher_t *)base;
    l->on_closed = on_closed;
    uv_close((uv_handle_t *)&l->handle, uvproc__uv_closed);
}

static void uvproc__uv_set_ref(uvproc__launcher_t *base, int ref)
{
    uvproc__uv_launcher_t *l = (uvproc__uv_launcher_t *)base;
    if (ref)
        uv_ref((uv_handle_t *)&l->handle);
    else
        uv_unref((uv_handle_t *)&l->handle);
}

static const uvproc__launcher_ops_t uvproc__uv_ops = {
    .name = "uv",
    .pid = uvproc__uv_pid,
    .kill = uvproc__uv_kill,
    .close = uvproc__uv_close,
    .set_ref = uvproc__uv_set_ref,
};
