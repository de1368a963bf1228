/* The parent side of each stdio pipe: readable slots deliver data/end, writable slots take
 * writes with a completion callback, backpressure and end (half-close). */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "process.h"
#include "common/common.h"

/* Queued bytes above which uvproc_write asks the caller to wait for on_drain. */
#define UVPROC__WRITE_HIGH_WATER (64 * 1024)

/* The pipe size asked for once a child's output turns out to be bulk (a read filled the whole
 * buffer). A default pipe holds 64 KiB: a fast writer then blocks, and the parent wakes, every
 * 64 KiB; at 1 MiB both sides run longer per wake-up. Only for bulk readers, not per spawn: it
 * costs an fcntl, and the pages are charged to the user's pipe quota (pipe-user-pages-soft;
 * past it the kernel refuses, which is harmless here). */
#define UVPROC__BULK_PIPE_SIZE (1024 * 1024)

typedef struct {
    uv_write_t req;
    uvproc__process_stdio_t *slot;
    uvproc_write_cb cb;
    void *data;
    char bytes[];
} uvproc__write_req_t;

static uvproc__process_stdio_t *uvproc__slot(uvproc_process_t *p, int fd)
{
    if (p == NULL || fd < 0 || fd >= p->slot_count || !p->slots[fd].is_pipe)
        return NULL;
    return &p->slots[fd];
}

static uvproc_process_t *uvproc__process_slot_owner(uvproc__process_stdio_t *s)
{
    return (uvproc_process_t *)((char *)(s - s->fd) - offsetof(uvproc_process_t, slots));
}

static void uvproc__slot_closed(uv_handle_t *h)
{
    uvproc__process_stdio_t *s = h->data;
    uvproc__process_unhold(uvproc__process_slot_owner(s));
}

static void uvproc__slot_close(uvproc__process_stdio_t *s)
{
    if (s->closing)
        return;
    s->closing = 1;
    s->reading = 0;
    uv_close((uv_handle_t *)&s->pipe, uvproc__slot_closed);
}

/* A slot is finished when neither direction is left to serve. */
static void uvproc__slot_maybe_close(uvproc__process_stdio_t *s)
{
    if ((!s->readable || s->read_done) && (!s->writable || s->write_done))
        uvproc__slot_close(s);
}

int uvproc__process_stdio_init(uvproc_process_t *p, int fd, int parent_reads, int parent_writes)
{
    uvproc__process_stdio_t *s = &p->slots[fd];
    int err = uv_pipe_init(p->loop, &s->pipe, 0);
    if (err != 0)
        return err;
    s->pipe.data = s;
    s->fd = fd;
    s->is_pipe = 1;
    s->readable = (unsigned char)parent_reads;
    s->writable = (unsigned char)parent_writes;
    uvproc__process_hold(p);
    return 0;
}

static void uvproc__read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    uvproc__process_stdio_t *s = stream->data;
    uvproc_process_t *p = uvproc__process_slot_owner(s);

    if (nread > 0) {
        if ((size_t)nread == buf->len && !s->grown) {
            uv_os_fd_t fd;
            s->grown = 1;
            /* A socketpair slot (IPC, duplex) refuses it: nothing lost. */
            if (uv_fileno((uv_handle_t *)stream, &fd) == 0)
                (void)fcntl(fd, F_SETPIPE_SZ, UVPROC__BULK_PIPE_SIZE);
        }
        if (p->ev.on_data != NULL)
            p->ev.on_data(p, s->fd, buf->base, (size_t)nread);
        return;
    }
    if (nread == 0)
        return;
    uv_read_stop(stream);
    s->reading = 0;
    s->read_done = 1;
    /* The child closed its end (or the socket broke): nothing more to write either. */
    s->write_done = 1;
    if (p->ev.on_end != NULL)
        p->ev.on_end(p, s->fd, nread == UV_EOF ? 0 : (int)nread);
    uvproc__slot_maybe_close(s);
}

static int uvproc__slot_read_start(uvproc__process_stdio_t *s)
{
    int err;
    if (!s->readable || s->read_done || s->closing || s->reading || s->paused)
        return 0;
    err = uv_read_start((uv_stream_t *)&s->pipe, uvproc__common_read_alloc, uvproc__read);
    if (err == 0)
        s->reading = 1;
    return err;
}

void uvproc__process_stdio_start(uvproc_process_t *p)
{
    for (int fd = 0; fd < p->slot_count; fd++)
        if (p->slots[fd].is_pipe)
            uvproc__slot_read_start(&p->slots[fd]);
}

void uvproc__process_stdio_on_exit(uvproc_process_t *p)
{
    /* As Node destroys child.stdin on exit: nobody is left to read what we would write
     * (queued writes complete with UV_ECANCELED). Readable pipes stay open until EOF, so the
     * child's last bytes (or a grandchild's) still arrive. */
    for (int fd = 0; fd < p->slot_count; fd++) {
        uvproc__process_stdio_t *s = &p->slots[fd];
        if (s->is_pipe && s->writable) {
            s->write_done = 1;
            uvproc__slot_maybe_close(s);
        }
    }
}

void uvproc__process_stdio_close_all(uvproc_process_t *p)
{
    for (int fd = 0; fd < p->slot_count; fd++)
        if (p->slots[fd].is_pipe)
            uvproc__slot_close(&p->slots[fd]);
}

void uvproc__process_stdio_set_ref(uvproc_process_t *p, int ref)
{
    for (int fd = 0; fd < p->slot_count; fd++)
        if (p->slots[fd].is_pipe)
            uvproc__process_set_handle_ref((uv_handle_t *)&p->slots[fd].pipe, ref);
}

static void uvproc__write_done(uv_write_t *req, int status)
{
    uvproc__write_req_t *w = (uvproc__write_req_t *)req;
    uvproc__process_stdio_t *s = w->slot;
    uvproc_process_t *p = uvproc__process_slot_owner(s);

    if (w->cb != NULL)
        w->cb(p, s->fd, status, w->data);
    free(w);
    if (s->want_drain && !s->closing && s->pipe.write_queue_size == 0) {
        s->want_drain = 0;
        if (p->ev.on_drain != NULL)
            p->ev.on_drain(p, s->fd);
    }
}

int uvproc_write(uvproc_process_t *p, int fd, const void *buf, size_t len, uvproc_write_cb cb,
                 void *data)
{
    uvproc__process_stdio_t *s = uvproc__slot(p, fd);
    uvproc__write_req_t *w;
    uv_buf_t b;
    int err;

    if (s == NULL || !s->writable)
        return UV_EBADF;
    if (buf == NULL && len > 0)
        return UV_EINVAL;
    if (s->write_done || s->closing)
        return UV_EPIPE;
    if (len > SIZE_MAX - sizeof *w)
        return UV_ENOMEM;
    w = malloc(sizeof *w + len);
    if (w == NULL)
        return UV_ENOMEM;
    if (len > 0)
        memcpy(w->bytes, buf, len);
    w->slot = s;
    w->cb = cb;
    w->data = data;
    /* Not uv_buf_init: it takes an unsigned int, and a 4 GiB write went out as len mod 2^32
     * bytes with success reported. On Unix a uv_buf_t's len is a size_t and libuv writes it
     * whole, in as many write(2)s as it takes. */
    b.base = w->bytes;
    b.len = len;
    err = uv_write(&w->req, (uv_stream_t *)&s->pipe, &b, 1, uvproc__write_done);
    if (err != 0) {
        free(w);
        return err;
    }
    if (s->pipe.write_queue_size >= UVPROC__WRITE_HIGH_WATER) {
        s->want_drain = 1;
        return 0;
    }
    return 1;
}

size_t uvproc_write_queue_size(const uvproc_process_t *p, int fd)
{
    uvproc__process_stdio_t *s = uvproc__slot((uvproc_process_t *)p, fd);
    if (s == NULL || s->closing)
        return 0;
    return s->pipe.write_queue_size;
}

static void uvproc__shutdown_done(uv_shutdown_t *req, int status)
{
    uvproc__process_stdio_t *s = req->data;
    (void)status;
    free(req);
    uvproc__slot_maybe_close(s);
}

int uvproc_end(uvproc_process_t *p, int fd)
{
    uvproc__process_stdio_t *s = uvproc__slot(p, fd);
    uv_shutdown_t *req;
    int err;

    if (s == NULL || !s->writable)
        return UV_EBADF;
    if (s->write_done || s->closing)
        return 0;
    s->write_done = 1;
    req = malloc(sizeof *req);
    if (req == NULL)
        return UV_ENOMEM;
    req->data = s;
    /* uv_shutdown waits for queued writes, then shuts down our sending side: the child reads
     * EOF while we can still read from a duplex slot. */
    err = uv_shutdown(req, (uv_stream_t *)&s->pipe, uvproc__shutdown_done);
    if (err != 0) {
        free(req);
        uvproc__slot_maybe_close(s);
    }
    return 0;
}

int uvproc_close_stdio(uvproc_process_t *p, int fd)
{
    uvproc__process_stdio_t *s = uvproc__slot(p, fd);
    if (s == NULL)
        return UV_EBADF;
    if (s->closing)
        return 0;
    s->write_done = 1;
    if (s->readable && !s->read_done) {
        if (s->reading)
            uv_read_stop((uv_stream_t *)&s->pipe);
        s->reading = 0;
        s->read_done = 1;
        if (p->ev.on_end != NULL)
            p->ev.on_end(p, fd, UV_ECANCELED);
    }
    uvproc__slot_close(s);
    return 0;
}

int uvproc_pause(uvproc_process_t *p, int fd)
{
    uvproc__process_stdio_t *s = uvproc__slot(p, fd);
    if (s == NULL || !s->readable)
        return UV_EBADF;
    s->paused = 1;
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->pipe);
        s->reading = 0;
    }
    return 0;
}

int uvproc_resume(uvproc_process_t *p, int fd)
{
    uvproc__process_stdio_t *s = uvproc__slot(p, fd);
    if (s == NULL || !s->readable)
        return UV_EBADF;
    s->paused = 0;
    /* Before the spawn event reading has not begun; uvproc__process_stdio_start will start it. */
    if (!p->started)
        return 0;
    return uvproc__slot_read_start(s);
}
