/* The IPC channel's lifecycle: creating a channel (over a pipe someone else opens, or over an
 * inherited fd: uvproc_channel_open), starting it, ref/unref, disconnect, and the close that
 * cancels what is still queued, delivers what was held, reports on_disconnect and frees the
 * channel once all of its handles have closed.
 *
 * The channel is Node's 'json' serialization (one JSON value + '\n' per message) over a
 * uv_pipe_t opened with ipc=1; the same code serves the parent side (fork) and the child side
 * (uvproc_channel_from_parent, in fork.c). The other concerns live beside this file:
 *   channel_send.c     batching frames and writing them
 *   channel_handles.c  passing handles (NODE_HANDLE) and their ACK/NACK
 *   channel_read.c     reading, framing, internal (NODE_*) routing, delivery to the user
 * and channel_internal.h is what they share. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "ipc.h"
#include "common/common.h"

static void uvproc__handle_closed(uvproc_channel_t *ch)
{
    uvproc__ipc_channel_hook_t released;
    void *arg;

    if (--ch->open_handles > 0)
        return;
    released = ch->released;
    arg = ch->hook_arg;
    free(ch);
    if (released != NULL)
        released(arg);
}

static void uvproc__aux_closed(uv_handle_t *h)
{
    uvproc__handle_closed(h->data);
}

static void uvproc__cancel_queue(uvproc_channel_t *ch)
{
    uvproc__common_list_t *n;
    while ((n = uvproc__common_list_shift(&ch->queue)) != NULL)
        uvproc__ipc_channel_complete(ch, uvproc__common_list_entry(n, uvproc__ipc_batch_t, node),
                                     UV_ECANCELED);
}

/* libuv has already reported the write in flight (UV_ECANCELED, or 0 if it had completed). */
static void uvproc__pipe_closed(uv_handle_t *h)
{
    uvproc_channel_t *ch = h->data;
    uvproc__ipc_batch_t *unacked = ch->unacked;

    ch->unacked = NULL;
    /* Written through before the close: their bytes left, so they report 0, first. */
    uvproc__ipc_channel_report_written(ch);
    if (unacked != NULL)
        uvproc__ipc_channel_complete(ch, unacked, UV_ECANCELED);
    if (ch->ctrl != NULL) {
        uvproc__ipc_batch_t *ctrl = ch->ctrl;
        ch->ctrl = NULL;
        uvproc__ipc_channel_complete(ch, ctrl, UV_ECANCELED);
    }
    uvproc__cancel_queue(ch);
    ch->queued = 0;
    uvproc__ipc_channel_deliver_held(ch);
    uvproc__ipc_channel_drop_held(ch);
    uvproc__ipc_channel_drop_recv(ch);
    uvproc__ipc_jsonl_free(&ch->framer);
    if (!ch->aborted && ch->o.on_disconnect != NULL)
        ch->o.on_disconnect(ch);
    if (ch->gone != NULL)
        ch->gone(ch->hook_arg);
    uvproc__handle_closed(ch);
}

void uvproc__ipc_channel_close(uvproc_channel_t *ch)
{
    if (ch->closing)
        return;
    ch->closing = 1;
    ch->connected = 0;
    uv_close((uv_handle_t *)&ch->pipe, uvproc__pipe_closed);
    if (ch->over_stdio)
        uv_close((uv_handle_t *)&ch->stdio_out, uvproc__aux_closed);
    uv_close((uv_handle_t *)&ch->flusher, uvproc__aux_closed);
    uv_close((uv_handle_t *)&ch->ack_timer, uvproc__aux_closed);
    uv_close((uv_handle_t *)&ch->deliverer, uvproc__aux_closed);
}

ssize_t uvproc__ipc_channel_peek(uvproc_channel_t *ch)
{
    uv_os_fd_t fd;
    char byte;
    ssize_t n;

    if (uv_fileno((uv_handle_t *)&ch->pipe, &fd) != 0)
        return UV_EBADF;
    do
        n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

void uvproc__ipc_channel_write_failed(uvproc_channel_t *ch)
{
    if (ch->closing || ch->write_failed)
        return;
    ch->write_failed = 1;
    /* The peer may have sent messages (and handles) before it went away; closing now would
     * drop them unread. Nothing more is written, but reading goes on until what is readable
     * has been read (EAGAIN or EOF, channel_read.c), then the channel closes. If nothing is
     * readable now, no read callback would ever come: close at once. */
    if (uvproc__ipc_channel_peek(ch) < 0)
        uvproc__ipc_channel_close(ch);
}

static void uvproc__apply_ref(uvproc_channel_t *ch)
{
    if (ch->closing)
        return;
    if (ch->ref)
        uv_ref((uv_handle_t *)&ch->pipe);
    else
        uv_unref((uv_handle_t *)&ch->pipe);
}

int uvproc__ipc_channel_new(uv_loop_t *loop, uvproc_channel_t **out,
                        const uvproc_channel_options_t *options)
{
    return uvproc__ipc_channel_create(loop, out, options, 0);
}

int uvproc__ipc_channel_create(uv_loop_t *loop, uvproc_channel_t **out,
                           const uvproc_channel_options_t *options, int over_stdio)
{
    uvproc_channel_t *ch;

    *out = NULL;
    if (loop == NULL)
        return UV_EINVAL;
    uvproc__common_ignore_sigpipe_once();
    ch = calloc(1, sizeof *ch);
    if (ch == NULL)
        return UV_ENOMEM;
    ch->loop = loop;
    uvproc__common_list_init(&ch->queue);
    uvproc__common_list_init(&ch->written);
    uvproc__common_list_init(&ch->recv);
    uvproc__common_list_init(&ch->held);
    if (options != NULL)
        ch->o = *options;
    ch->ack_timeout_ms =
        ch->o.handle_ack_timeout_ms != 0 ? ch->o.handle_ack_timeout_ms : UVPROC__ACK_TIMEOUT_MS;
    uvproc__ipc_jsonl_init(&ch->framer, ch->o.max_message_size);
    /* None of these can fail on Unix for an initialised loop. */
    uv_pipe_init(loop, &ch->pipe, !over_stdio);
    uv_prepare_init(loop, &ch->flusher);
    uv_timer_init(loop, &ch->ack_timer);
    uv_idle_init(loop, &ch->deliverer);
    ch->pipe.data = ch->flusher.data = ch->ack_timer.data = ch->deliverer.data = ch;
    ch->open_handles = 4;
    ch->out = &ch->pipe;
    if (over_stdio) {
        uv_pipe_init(loop, &ch->stdio_out, 0);
        ch->stdio_out.data = ch;
        ch->out = &ch->stdio_out;
        ch->over_stdio = 1;
        ch->open_handles++;
    }
    ch->connected = 1;
    ch->ref = 1;
    *out = ch;
    return 0;
}

uv_pipe_t *uvproc__ipc_channel_pipe(uvproc_channel_t *ch)
{
    return &ch->pipe;
}

void uvproc__ipc_channel_start(uvproc_channel_t *ch)
{
    ch->started = 1;
    if (uv_read_start((uv_stream_t *)&ch->pipe, uvproc__common_read_alloc,
                      uvproc__ipc_channel_on_read) != 0) {
        uvproc__ipc_channel_close(ch);
        return;
    }
    uvproc__apply_ref(ch);
    uvproc__ipc_channel_schedule(ch);
}

void uvproc__ipc_channel_abort(uvproc_channel_t *ch)
{
    ch->aborted = 1;
    uvproc__ipc_channel_close(ch);
}

void uvproc__ipc_channel_set_hooks(uvproc_channel_t *ch, uvproc__ipc_channel_hook_t gone,
                               uvproc__ipc_channel_hook_t released, void *arg)
{
    ch->gone = gone;
    ch->released = released;
    ch->hook_arg = arg;
}

void uvproc__ipc_channel_auto_ref(uvproc_channel_t *ch)
{
    /* Node refs the child's channel while it has 'message' or 'disconnect' listeners. */
    ch->ref = ch->o.on_message != NULL || ch->o.on_disconnect != NULL;
    uvproc__apply_ref(ch);
}

void uvproc__ipc_channel_adopted(uvproc_channel_t *ch)
{
    ch->auto_ref = 1;
    uvproc__ipc_channel_auto_ref(ch);
}

static int uvproc__check_socket(int fd)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof ss;
    struct stat st;
    int type;
    socklen_t len = sizeof type;

    if (fd < 0)
        return UV_EBADF;
    if (fstat(fd, &st) != 0)
        return -errno;
    if (!S_ISSOCK(st.st_mode))
        return UV_ENOTSOCK;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
        return -errno;
    if (getsockname(fd, (struct sockaddr *)&ss, &sslen) != 0)
        return -errno;
    /* Node reads the channel with recvmsg and passes fds with SCM_RIGHTS. */
    if (type != SOCK_STREAM || ss.ss_family != AF_UNIX)
        return UV_EINVAL;
    /* Connected: a listening (or never connected) socket reads nothing ever, and the child
     * would wait for its parent's messages with no error. */
    sslen = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &sslen) != 0)
        return errno == ENOTCONN ? UV_ENOTCONN : -errno;
    return 0;
}

int uvproc_channel_open(uv_loop_t *loop, uvproc_channel_t **out, int fd,
                        const uvproc_channel_options_t *options)
{
    uvproc_channel_t *ch;
    int err, flags;

    if (out != NULL)
        *out = NULL;
    if (loop == NULL || out == NULL)
        return UV_EINVAL;
    err = uvproc__check_socket(fd);
    if (err != 0)
        return err;
    err = uvproc__ipc_channel_new(loop, &ch, options);
    if (err != 0)
        return err;
    err = uv_pipe_open(&ch->pipe, fd);
    if (err != 0) {
        /* The fd was not adopted: it stays the caller's. The handle closes on the loop. */
        uvproc__ipc_channel_abort(ch);
        return err;
    }
    /* A grandchild must not inherit the channel (Node's child sets O_CLOEXEC too). */
    flags = fcntl(fd, F_GETFD);
    if (flags >= 0)
        fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    uvproc__ipc_channel_start(ch);
    *out = ch;
    return 0;
}

int uvproc_channel_disconnect(uvproc_channel_t *ch)
{
    if (ch == NULL)
        return UV_EINVAL;
    if (!ch->connected)
        return UV_EPIPE;
    ch->connected = 0;
    ch->disconnecting = 1;
    /* The close itself happens in the flusher once everything queued has been written, so
     * on_disconnect always comes on a later loop turn. */
    uvproc__ipc_channel_schedule(ch);
    return 0;
}

int uvproc_channel_connected(const uvproc_channel_t *ch)
{
    return ch != NULL && ch->connected;
}

void uvproc_channel_ref(uvproc_channel_t *ch)
{
    ch->auto_ref = 0;
    ch->ref = 1;
    uvproc__apply_ref(ch);
}

void uvproc_channel_unref(uvproc_channel_t *ch)
{
    ch->auto_ref = 0;
    ch->ref = 0;
    uvproc__apply_ref(ch);
}

void *uvproc_channel_data(const uvproc_channel_t *ch)
{
    return ch->o.data;
}

uv_loop_t *uvproc_channel_loop(const uvproc_channel_t *ch)
{
    return ch->loop;
}
