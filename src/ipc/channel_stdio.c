/* The IPC channel over a child's stdin/stdout, for children behind a launcher (ssh, srun): fd 3
 * does not cross a host, stdio does. The same framing, batching and routing as over a socket
 * (channel_send.c, channel_read.c); only the transport differs: two plain pipes, one read
 * (`pipe`, ipc=0) and one written (`stdio_out`), and no handles (UV_ENOTSUP in
 * channel_handles.c).
 *
 * Parent side: uvproc_fork with a launcher hands both pipes to spawn as the child's fds 0 and 1
 * and tells the remote command UVPROC_CHANNEL=stdio. Child side: uvproc_channel_from_parent
 * sees that variable and adopts fds 0 and 1 (uvproc__ipc_channel_from_parent_stdio below). */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"

int uvproc__ipc_channel_new_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                                  const uvproc_channel_options_t *options)
{
    return uvproc__ipc_channel_create(loop, out, options, 1);
}

void uvproc__ipc_channel_stdio_pipes(uvproc_channel_t *ch, uv_pipe_t **child_stdin,
                                     uv_pipe_t **child_stdout)
{
    *child_stdin = &ch->stdio_out;
    *child_stdout = &ch->pipe;
}

/* Opens the channel over two fds it owns from now on: on error both are closed. */
static int uvproc__open_owned(uv_loop_t *loop, uvproc_channel_t **out, int in_fd, int out_fd,
                              const uvproc_channel_options_t *options)
{
    uvproc_channel_t *ch = NULL;
    int err, opened = 0;

    err = uvproc__ipc_channel_new_stdio(loop, &ch, options);
    if (err == 0) {
        err = uv_pipe_open(&ch->pipe, in_fd);
        opened = err == 0;
    }
    if (err == 0) {
        err = uv_pipe_open(&ch->stdio_out, out_fd);
        opened += err == 0;
    }
    if (err != 0) {
        /* The channel's close closes what it opened; the rest is ours to close. */
        if (opened < 1)
            close(in_fd);
        if (opened < 2)
            close(out_fd);
        if (ch != NULL)
            uvproc__ipc_channel_abort(ch);
        return err;
    }
    uvproc__ipc_channel_start(ch);
    *out = ch;
    return 0;
}

int uvproc_channel_open_stdio(uv_loop_t *loop, uvproc_channel_t **out, int in_fd, int out_fd,
                              const uvproc_channel_options_t *options)
{
    int in_copy, out_copy, err;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return UV_EINVAL;
    /* The channel works on close-on-exec copies, so that the caller's fds stay untouched
     * whatever fails; they are closed only once the channel is up. */
    in_copy = in_fd >= 0 ? fcntl(in_fd, F_DUPFD_CLOEXEC, 3) : -1;
    if (in_copy < 0)
        return UV_EBADF;
    out_copy = out_fd >= 0 ? fcntl(out_fd, F_DUPFD_CLOEXEC, 3) : -1;
    if (out_copy < 0) {
        close(in_copy);
        return UV_EBADF;
    }
    err = uvproc__open_owned(loop, out, in_copy, out_copy, options);
    if (err != 0)
        return err;
    close(in_fd);
    if (out_fd != in_fd)
        close(out_fd);
    return 0;
}

/* Once the channel has its own copies of fds 0 and 1, the program's stdio is moved out of the
 * way so that it cannot touch a frame: fd 1 becomes a copy of fd 2 (a stray printf shows up on
 * the launcher's stderr, not in the middle of a message) and fd 0 reads /dev/null. */
static void uvproc__park_stdio(void)
{
    int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
        dup2(devnull, 0);
        close(devnull);
    }
    if (fcntl(2, F_GETFD) >= 0)
        dup2(2, 1);
}

int uvproc__ipc_channel_from_parent_stdio(uv_loop_t *loop, uvproc_channel_t **out,
                                          const uvproc_channel_options_t *options)
{
    const char *transport = getenv("UVPROC_CHANNEL");
    const char *mode = getenv("NODE_CHANNEL_SERIALIZATION_MODE");
    int in_fd, out_fd, err;
    uvproc_channel_t *ch;

    if (transport == NULL || strcmp(transport, UVPROC_CHANNEL_STDIO) != 0)
        return UV_EINVAL;
    if (mode != NULL && mode[0] != '\0' && strcmp(mode, "json") != 0)
        return UVPROC_ESERIALIZATION;
    in_fd = fcntl(0, F_DUPFD_CLOEXEC, 3);
    if (in_fd < 0)
        return UV_EBADF;
    out_fd = fcntl(1, F_DUPFD_CLOEXEC, 3);
    if (out_fd < 0) {
        close(in_fd);
        return UV_EBADF;
    }
    err = uvproc__open_owned(loop, &ch, in_fd, out_fd, options);
    if (err != 0)
        return err; /* nothing changed: fds 0 and 1 and the variables are as they were */
    uvproc__park_stdio();
    uvproc__ipc_channel_adopted(ch);
    unsetenv("UVPROC_CHANNEL");
    unsetenv("NODE_CHANNEL_SERIALIZATION_MODE");
    *out = ch;
    return 0;
}
