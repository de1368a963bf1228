/* exec / execFile: run a child to completion on the caller's loop and hand back what it wrote,
 * with max_buffer, timeout, kill escalation and cancellation. Built only on the public spawn
 * API (uvproc_spawn, uvproc_write/uvproc_end, uvproc_stop): exec is a user of the child
 * object, not part of it.
 *
 * Stopping a child (timeout, max_buffer in KILL mode, cancel) signals first and keeps reading
 * until the pipes close. Node closes the pipes first, so a child that handles SIGTERM and
 * writes a last line dies of SIGPIPE instead (research/node-ipc.md §6); here it can finish and
 * its last bytes are captured.
 *
 * The result's error, when several reasons apply, is the first of (and docs/exec.md says so):
 *   1. the spawn error (UV_ENOENT, ..., syscall "spawn" or "chdir"): there was no child at all;
 *   2. UV_ENOMEM: the output could not be stored (the child was stopped);
 *   3. UV_ECANCELED: the caller asked for the stop; a caller that cancelled always learns that
 *      the cancel won, whatever raced with it in the same loop turn;
 *   4. UV_ETIMEDOUT;
 *   5. UVPROC_EMAXBUFFER, KILL mode;
 *   6. UVPROC_ESIGNALED: a signal the library did not cause (3-5 outrank the SIGTERM they
 *      send; term_signal still says which signal ended the child);
 *   7. UVPROC_EEXITCODE;
 *   8. UVPROC_EMAXBUFFER, TRUNCATE mode: the child ran to a clean end, only the capture is
 *      short, which is the least of the failures.
 * A fixed order makes the outcome independent of the order in which one loop turn happens to
 * deliver a timer, a read and SIGCHLD. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "uvproc.h"

#define UVPROC__EXEC_DEFAULT_MAX_BUFFER ((size_t)1024 * 1024) /* Node's maxBuffer */
#define UVPROC__EXEC_INPUT_CHUNK ((size_t)64 * 1024)
#define UVPROC__EXEC_FIRST_CAPACITY ((size_t)16 * 1024)

/* One captured stream: `len` bytes, always at most max_buffer, plus room for the NUL. */
typedef struct {
    char *bytes;
    size_t len;
    size_t cap;
    char none[1]; /* what `out`/`err` point at when nothing was captured */
} uvproc__capture_t;

struct uvproc_exec_s {
    uvproc_process_t *proc; /* NULL once the exec is done */
    uv_timer_t timer;       /* the timeout */
    uvproc_exec_cb cb;
    void *data;
    char *cmd;
    uvproc_stop_t stop; /* defaults filled in */
    size_t max_buffer;
    uvproc_maxbuffer_mode_t max_buffer_mode;
    int kill_tree;
    uv_pid_t pid;
    char *input; /* our copy, freed once it is all queued */
    size_t input_len, input_off;
    uvproc__capture_t out, err;
    int spawn_error;
    const char *syscall;
    unsigned char spawned, stopping, killed, cancelled, timed_out, maxbuf_killed, truncated,
        no_memory, input_failed, input_ended, done;
};

static void uvproc__exec_stop(uvproc_exec_t *e);

/* Grows `c` to hold `need` bytes and a NUL. Never allocates past limit + 1: doubling up to a
 * small max_buffer would waste up to twice of it. */
static int uvproc__capture_reserve(uvproc__capture_t *c, size_t need, size_t limit)
{
    size_t cap;
    char *bytes;
    if (need < c->cap)
        return 0;
    if (need == SIZE_MAX)
        return UV_ENOMEM;
    cap = c->cap != 0 ? c->cap : UVPROC__EXEC_FIRST_CAPACITY;
    while (cap <= need)
        cap = cap <= SIZE_MAX / 2 ? cap * 2 : need + 1;
    if (limit < SIZE_MAX && cap > limit + 1)
        cap = limit + 1;
    bytes = realloc(c->bytes, cap);
    if (bytes == NULL)
        return UV_ENOMEM;
    c->bytes = bytes;
    c->cap = cap;
    return 0;
}

static void uvproc__exec_capture(uvproc_exec_t *e, uvproc__capture_t *c, const char *buf,
                                 size_t len)
{
    size_t room, take;
    if (e->no_memory)
        return;
    room = e->max_buffer - c->len;
    take = len < room ? len : room;
    if (take > 0) {
        if (uvproc__capture_reserve(c, c->len + take, e->max_buffer) != 0) {
            e->no_memory = 1;
            uvproc__exec_stop(e);
            return;
        }
        memcpy(c->bytes + c->len, buf, take);
        c->len += take;
    }
    if (take == len)
        return;
    /* Over the limit: what is kept is exactly max_buffer bytes; the rest is read and dropped
     * so the child never blocks on a full pipe (TRUNCATE) or can die of our signal, not of a
     * stalled write (KILL). */
    e->truncated = 1;
    if (e->max_buffer_mode == UVPROC_MAXBUFFER_KILL && !e->maxbuf_killed) {
        e->maxbuf_killed = 1;
        uvproc__exec_stop(e);
    }
}

/* uvproc_stop signals first and leaves the pipes alone; with kill_tree it signals the group,
 * also after the leader has exited (members that trapped the first signal may hold our pipes)
 * and escalates there too. */
static void uvproc__exec_stop(uvproc_exec_t *e)
{
    if (e->stopping || e->done)
        return;
    e->stopping = 1;
    uv_timer_stop(&e->timer);
    if (uvproc_stop(e->proc, &e->stop, e->kill_tree) == 0)
        e->killed = 1;
}

/* A child we stopped has exited, but a descendant it left behind (dash forks the last command
 * of `a; b`) may hold the pipes for as long as it likes. One grace period later the pipes are
 * closed, so a timeout or a cancel completes in bounded time even without kill_tree. */
static void uvproc__exec_cut_pipes(uv_timer_t *t)
{
    uvproc_exec_t *e = t->data;
    if (e->done)
        return;
    uvproc_close_stdio(e->proc, 1);
    uvproc_close_stdio(e->proc, 2);
}

static void uvproc__exec_on_exit(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc_exec_t *e = uvproc_process_data(p);
    (void)code;
    (void)signal;
    if (e->stopping)
        uv_timer_start(&e->timer, uvproc__exec_cut_pipes,
                       e->stop.first.grace_ms != 0 ? e->stop.first.grace_ms : 2000, 0);
}

static void uvproc__exec_timeout(uv_timer_t *t)
{
    uvproc_exec_t *e = t->data;
    e->timed_out = 1;
    uvproc__exec_stop(e);
}

static void uvproc__exec_pump(uvproc_exec_t *e);

/* Write errors on stdin are not the exec's failure: a child may exit, or close its stdin,
 * without reading everything (Node ignores EPIPE there too). Stop feeding it, that is all. */
static void uvproc__exec_written(uvproc_process_t *p, int fd, int status, void *data)
{
    uvproc_exec_t *e = data;
    (void)p;
    (void)fd;
    if (status < 0)
        e->input_failed = 1;
}

/* Feeds stdin chunk by chunk, waiting for on_drain whenever uvproc_write reports 64 KiB
 * queued, so the queue (and its copies) stays small whatever input_len is. */
static void uvproc__exec_pump(uvproc_exec_t *e)
{
    if (e->input_ended)
        return;
    while (!e->input_failed && e->input_off < e->input_len) {
        size_t n = e->input_len - e->input_off;
        int r;
        if (n > UVPROC__EXEC_INPUT_CHUNK)
            n = UVPROC__EXEC_INPUT_CHUNK;
        r = uvproc_write(e->proc, 0, e->input + e->input_off, n, uvproc__exec_written, e);
        if (r < 0) {
            e->input_failed = 1;
            break;
        }
        e->input_off += n;
        if (r == 0)
            return;
    }
    e->input_ended = 1;
    uvproc_end(e->proc, 0);
    free(e->input); /* uvproc_write copied what it queued */
    e->input = NULL;
}

static void uvproc__exec_on_spawn(uvproc_process_t *p)
{
    uvproc_exec_t *e = uvproc_process_data(p);
    e->spawned = 1;
    if (e->input != NULL)
        uvproc__exec_pump(e);
}

static void uvproc__exec_on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    uvproc_exec_t *e = uvproc_process_data(p);
    if (e->spawned || e->spawn_error != 0)
        return;
    e->spawn_error = err->code;
    /* Our own literals: the result outlives the process object the strings belong to. */
    e->syscall = err->syscall != NULL && strcmp(err->syscall, "chdir") == 0 ? "chdir" : "spawn";
}

static void uvproc__exec_on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    uvproc_exec_t *e = uvproc_process_data(p);
    uvproc__exec_capture(e, fd == 1 ? &e->out : &e->err, buf, len);
}

static void uvproc__exec_on_drain(uvproc_process_t *p, int fd)
{
    if (fd == 0)
        uvproc__exec_pump(uvproc_process_data(p));
}

static int uvproc__exec_reason(const uvproc_exec_t *e, int64_t code, int signal)
{
    if (e->spawn_error != 0)
        return e->spawn_error;
    if (e->no_memory)
        return UV_ENOMEM;
    if (e->cancelled)
        return UV_ECANCELED;
    if (e->timed_out)
        return UV_ETIMEDOUT;
    if (e->maxbuf_killed)
        return UVPROC_EMAXBUFFER;
    if (signal != 0)
        return UVPROC_ESIGNALED;
    if (code != 0)
        return UVPROC_EEXITCODE;
    if (e->truncated)
        return UVPROC_EMAXBUFFER;
    return 0;
}

static char *uvproc__capture_finish(uvproc__capture_t *c)
{
    if (c->bytes == NULL)
        return c->none;
    c->bytes[c->len] = '\0';
    return c->bytes;
}

static void uvproc__exec_free(uv_handle_t *h)
{
    free(h->data);
}

/* The process's last event: it has exited (or never started) and every pipe is closed. */
static void uvproc__exec_on_close(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc_exec_t *e = uvproc_process_data(p);
    uvproc_exec_result_t r;

    if (!e->spawned && e->spawn_error == 0)
        e->spawn_error = code < 0 ? (int)code : UV_EIO; /* an error event we did not see */
    e->done = 1;
    e->proc = NULL;
    uv_timer_stop(&e->timer);

    memset(&r, 0, sizeof r);
    r.error = uvproc__exec_reason(e, code, signal);
    r.syscall = e->spawn_error != 0 ? e->syscall : NULL;
    r.pid = e->pid;
    r.exit_code = e->spawn_error != 0 ? -1 : code;
    r.term_signal = signal;
    r.killed = e->killed;
    r.truncated = e->truncated;
    r.cmd = e->cmd;
    r.out = uvproc__capture_finish(&e->out);
    r.out_len = e->out.len;
    r.err = uvproc__capture_finish(&e->err);
    r.err_len = e->err.len;
    if (e->cb != NULL)
        e->cb(&r, e->data);

    free(e->out.bytes);
    free(e->err.bytes);
    free(e->input);
    free(e->cmd);
    uv_close((uv_handle_t *)&e->timer, uvproc__exec_free);
}

/* Bad stop signals are the caller's mistake: refuse them now rather than at the timeout. */
static int uvproc__exec_check_stop(const uvproc_stop_t *s)
{
    if (s->first.signal < 0 || s->first.signal >= NSIG || s->second.signal >= NSIG)
        return UV_EINVAL;
    return 0;
}

/* The user's own events are not exec's: its child reports to these only. */
static const uvproc_process_events_t uvproc__exec_events = {
    .on_spawn = uvproc__exec_on_spawn,
    .on_error = uvproc__exec_on_error,
    .on_data = uvproc__exec_on_data,
    .on_drain = uvproc__exec_on_drain,
    .on_exit = uvproc__exec_on_exit,
    .on_close = uvproc__exec_on_close,
};

static int uvproc__exec_start(uv_loop_t *loop, const char *file, const char *const *args,
                              const char *shell, const uvproc_exec_options_t *options,
                              uvproc_exec_cb cb, void *data, uvproc_exec_t **handle)
{
    static const uvproc_exec_options_t defaults;
    const uvproc_exec_options_t *o = options != NULL ? options : &defaults;
    uvproc_spawn_options_t so;
    uvproc_exec_t *e;
    int err;

    if (handle != NULL)
        *handle = NULL;
    if (loop == NULL || file == NULL)
        return UV_EINVAL;
    if (o->max_buffer_mode != UVPROC_MAXBUFFER_KILL &&
        o->max_buffer_mode != UVPROC_MAXBUFFER_TRUNCATE)
        return UV_EINVAL;
    if (o->input == NULL && o->input_len > 0)
        return UV_EINVAL;
    e = calloc(1, sizeof *e);
    if (e == NULL)
        return UV_ENOMEM;
    e->stop = o->stop;
    err = uvproc__exec_check_stop(&o->stop);
    if (err != 0)
        goto fail;
    e->cb = cb;
    e->data = data;
    e->max_buffer = o->max_buffer != 0 ? o->max_buffer : UVPROC__EXEC_DEFAULT_MAX_BUFFER;
    e->max_buffer_mode = o->max_buffer_mode;
    e->kill_tree = o->kill_tree;
    e->cmd = uvproc__common_strv_join(file, args); /* Node's `cmd` */
    err = UV_ENOMEM;
    if (e->cmd == NULL)
        goto fail;
    if (o->input != NULL) {
        /* A copy: the caller's options (and the bytes) need not outlive this call. */
        e->input = malloc(o->input_len != 0 ? o->input_len : 1);
        if (e->input == NULL)
            goto fail;
        memcpy(e->input, o->input, o->input_len);
        e->input_len = o->input_len;
    }

    so = o->spawn;
    /* Without input the child reads /dev/null, not a pipe nobody ends: Node leaves stdin
     * open, and `exec("cat")` then hangs forever. */
    so.stdio[0].type = e->input != NULL ? UVPROC_STDIO_PIPE : UVPROC_STDIO_IGNORE;
    so.stdio[1].type = UVPROC_STDIO_PIPE;
    so.stdio[2].type = UVPROC_STDIO_PIPE;
    so.extra_stdio = NULL;
    so.extra_stdio_count = 0;
    so.detached = o->spawn.detached || o->kill_tree; /* a group of its own to signal */
    so.shell = shell;
    so.data = e;
    so.events = uvproc__exec_events;
    err = uvproc_spawn(loop, &e->proc, file, args, &so);
    if (err != 0)
        goto fail;
    e->pid = uvproc_pid(e->proc);

    uv_timer_init(loop, &e->timer);
    e->timer.data = e;
    if (o->timeout_ms != 0) {
        /* The loop's clock may be stale (the caller may have been busy in a callback): the
         * timeout counts from now. */
        uv_update_time(loop);
        uv_timer_start(&e->timer, uvproc__exec_timeout, o->timeout_ms, 0);
    }
    if (handle != NULL)
        *handle = e;
    return 0;

fail:
    free(e->input);
    free(e->cmd);
    free(e);
    return err;
}

int uvproc_exec(uv_loop_t *loop, uvproc_exec_t **handle, const char *command,
                const uvproc_exec_options_t *options, uvproc_exec_cb cb, void *data)
{
    const char *shell =
        options != NULL && options->spawn.shell != NULL ? options->spawn.shell : UVPROC_SHELL;
    return uvproc__exec_start(loop, command, NULL, shell, options, cb, data, handle);
}

int uvproc_exec_file(uv_loop_t *loop, uvproc_exec_t **handle, const char *file, const char *const *args, const uvproc_exec_options_t *options, uvproc_exec_cb cb, void *data)
{
    const char *shell = options != NULL ? options->spawn.shell : NULL;
    return uvproc__exec_start(loop, file, args, shell, options, cb, data, handle);
}

int uvproc_exec_cancel(uvproc_exec_t *handle)
{
    if (handle == NULL)
        return UV_EINVAL;
    if (handle->done || handle->cancelled)
        return UV_EALREADY;
    handle->cancelled = 1;
    uvproc__exec_stop(handle);
    return 0;
}
