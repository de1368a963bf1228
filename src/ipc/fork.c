/* fork: spawn with an IPC channel at the child's fd 3 (parent side), and the child side that
 * adopts the channel a parent (uvproc_fork or Node's fork) left at NODE_CHANNEL_FD. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ipc.h"
#include "process/process.h"

/* Overrides the user's env as Node does: a child told about a different fd, or an 'advanced'
 * serialization, would talk nonsense on the channel. */
static const char *const uvproc__fork_env[] = {
    "NODE_CHANNEL_FD=3",
    "NODE_CHANNEL_SERIALIZATION_MODE=json",
    NULL,
};

/* The remote command's environment when the channel runs over stdio (fd 3 does not cross a
 * launcher): what uvproc_channel_from_parent and uvproc-relay look for. */
static const char *const uvproc__fork_stdio_env[] = {
    "UVPROC_CHANNEL=" UVPROC_CHANNEL_STDIO,
    "NODE_CHANNEL_SERIALIZATION_MODE=json",
    NULL,
};

static void uvproc__channel_gone(void *arg)
{
    uvproc_process_t *p = arg;
    p->channel = NULL;
}

/* The process's close waits for this hold, including after a disconnect the parent asked for
 * (Node forgets that case, nodejs/node#19433). */
static void uvproc__channel_released(void *arg)
{
    uvproc__process_unhold(arg);
}

int uvproc_fork(uv_loop_t *loop, uvproc_process_t **out, const char *file, const char *const *args,
                const uvproc_fork_options_t *options)
{
    static const uvproc_fork_options_t defaults;
    const uvproc_fork_options_t *o = options != NULL ? options : &defaults;
    uvproc_spawn_options_t spawn = o->spawn;
    uvproc__process_spawn_extra_t extra;
    uvproc_channel_t *ch;
    uvproc_process_t *p;
    int err;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || file == NULL || file[0] == '\0')
        return UV_EINVAL;
    /* Node's fork: no shell, and stdio the user left alone is inherited (silent: false). */
    spawn.shell = NULL;
    for (int i = 0; i < 3; i++)
        if (spawn.stdio[i].type == UVPROC_STDIO_DEFAULT)
            spawn.stdio[i].type = UVPROC_STDIO_INHERIT;

    extra = (uvproc__process_spawn_extra_t){.exec_path = o->exec_path, .exec_args = o->exec_args};
    if (spawn.remote != NULL) {
        err = uvproc__ipc_channel_new_stdio(loop, &ch, &o->channel);
        if (err != 0)
            return err;
        uvproc__ipc_channel_stdio_pipes(ch, &extra.channel_stdio[0], &extra.channel_stdio[1]);
        extra.remote_env = uvproc__fork_stdio_env;
    } else {
        err = uvproc__ipc_channel_new(loop, &ch, &o->channel);
        if (err != 0)
            return err;
        extra.ipc_pipe = uvproc__ipc_channel_pipe(ch);
        extra.env_override = uvproc__fork_env;
    }
    err = uvproc__process_spawn(loop, &p, file, args, &spawn, &extra);
    if (err != 0) {
        /* Nothing was created: no process holds the channel. */
        uvproc__ipc_channel_abort(ch);
        return err;
    }
    if (p->spawn_error != 0) {
        /* error then close will follow; the channel never carried anything, so it closes
         * without on_disconnect, and the close waits for it. */
        uvproc__ipc_channel_set_hooks(ch, NULL, uvproc__channel_released, p);
        uvproc__ipc_channel_abort(ch);
    } else {
        p->channel = ch;
        uvproc__ipc_channel_set_hooks(ch, uvproc__channel_gone, uvproc__channel_released, p);
        /* Reading starts now, but the spawn event is a zero timer queued before it, so it
         * still comes first: timers run before poll in every loop turn. */
        uvproc__ipc_channel_start(ch);
    }
    if (out != NULL)
        *out = p;
    return 0;
}

uvproc_channel_t *uvproc_process_channel(const uvproc_process_t *p)
{
    return p != NULL ? p->channel : NULL;
}

/* NODE_CHANNEL_FD as Node reads it, but strictly: digits only, no sign, fits an int. */
static int uvproc__parse_fd(const char *s, int *fd)
{
    long v = 0;
    if (*s == '\0')
        return UV_EINVAL;
    for (; *s != '\0'; s++) {
        if (*s < '0' || *s > '9')
            return UV_EINVAL;
        v = v * 10 + (*s - '0');
        if (v > INT_MAX)
            return UV_EINVAL;
    }
    *fd = (int)v;
    return 0;
}

int uvproc_channel_from_parent(uv_loop_t *loop, uvproc_channel_t **out,
                               const uvproc_channel_options_t *options)
{
    const char *fd_env = getenv("NODE_CHANNEL_FD");
    const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
    uvproc_channel_t *ch;
    int fd, err;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return UV_EINVAL;
    if (getenv("UVPROC_CHANNEL") != NULL) /* a remote parent: the channel is on stdio */
        return uvproc__ipc_channel_from_parent_stdio(loop, out, options);
    /* Node ignores an empty value the same way. */
    if (fd_env == NULL || fd_env[0] == '\0')
        return UVPROC_ENOCHANNEL;
    err = uvproc__parse_fd(fd_env, &fd);
    if (err != 0)
        return err;
    /* An 'advanced' parent frames with a 4-byte length: a JSON line would read as a ~2 GB
     * length and the parent would wait forever. Refuse instead. */
    if (mode != NULL && mode[0] != '\0' && strcmp(mode, "json") != 0)
        return UVPROC_ESERIALIZATION;
    err = uvproc_channel_open(loop, &ch, fd, options);
    if (err != 0)
        return err;
    uvproc__ipc_channel_adopted(ch);
    /* Only once adopted: a refusal leaves the environment as it was, for the caller to
     * report or clear. */
    unsetenv("NODE_CHANNEL_FD");
    unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
    *out = ch;
    return 0;
}
