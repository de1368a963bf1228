/* loadtest_target: the server loadtest loads when it is given no URL. It starts the
 * cluster-server demo found next to its own executable (same build directory) on a free port of
 * 127.0.0.1, reads the one line the server prints once every worker listens
 * ("cluster-server listening on http://HOST:PORT/"), and stops it with SIGTERM (its graceful
 * stop) at the end. Where cluster-server was not built it falls back, and says so, to the
 * isprime-server demo's /testrequest. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "loadtest.h"

#define START_TIMEOUT_MS 10000

struct lt_target_s {
    uvproc_process_t *proc;
    uv_timer_t timer;
    void (*ready)(lt_target_t *t, const char *url, const char *error, void *data);
    void *data;
    void (*done)(void *data);
    void *done_data;
    char out[4096]; /* stdout until the listening line */
    size_t out_len;
    char err[2048]; /* the last of stderr, to explain a failed start */
    size_t err_len;
    char url[256];
    char name[128];
    const char *path; /* appended to the URL the server prints */
    int announced, closed, timer_closed;
};

const char *lt_target_name(const lt_target_t *t)
{
    return t->name;
}

static void maybe_free(lt_target_t *t)
{
    if (!t->closed || !t->timer_closed)
        return;
    if (t->done != NULL)
        t->done(t->done_data);
    free(t);
}

static void timer_closed(uv_handle_t *h)
{
    lt_target_t *t = h->data;
    t->timer_closed = 1;
    maybe_free(t);
}

static void fail(lt_target_t *t, const char *why)
{
    char msg[2300];
    if (t->announced)
        return;
    t->announced = 1;
    snprintf(msg, sizeof msg, "%s%s%.*s", why, t->err_len ? "; it said: " : "", (int)t->err_len,
             t->err);
    t->ready(t, NULL, msg, t->data);
    if (t->proc != NULL)
        uvproc_kill(t->proc, SIGKILL);
    if (!uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, timer_closed);
}

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    lt_target_t *t = uvproc_process_data(p);
    if (fd == 2) {
        /* Keep the tail: the reason a start failed is usually the last thing said. */
        if (len >= sizeof t->err) {
            buf += len - (sizeof t->err - 1);
            len = sizeof t->err - 1;
        }
        if (t->err_len + len >= sizeof t->err) {
            size_t drop = t->err_len + len - (sizeof t->err - 1);
            memmove(t->err, t->err + drop, t->err_len - drop);
            t->err_len -= drop;
        }
        memcpy(t->err + t->err_len, buf, len);
        t->err_len += len;
        return;
    }
    if (t->announced || t->out_len + len >= sizeof t->out)
        return; /* after the line: the server's own log, not ours to show */
    memcpy(t->out + t->out_len, buf, len);
    t->out_len += len;
    t->out[t->out_len] = '\0';
    char *at = strstr(t->out, "listening on http://"), *eol;
    if (at == NULL || (eol = strchr(at, '\n')) == NULL)
        return;
    at += strlen("listening on ");
    *eol = '\0';
    while (eol > at && (eol[-1] == '/' || eol[-1] == '\r'))
        *--eol = '\0';
    snprintf(t->url, sizeof t->url, "%s%s", at, t->path);
    t->announced = 1;
    uv_timer_stop(&t->timer);
    t->ready(t, t->url, NULL, t->data);
}

static void on_close(uvproc_process_t *p, int64_t code, int signal)
{
    lt_target_t *t = uvproc_process_data(p);
    char why[96];
    t->proc = NULL;
    if (!t->announced) {
        if (code < 0)
            snprintf(why, sizeof why, "%s", uvproc_strerror((int)code));
        else
            snprintf(why, sizeof why, "it exited (code %lld, signal %d) before listening",
                     (long long)code, signal);
        fail(t, why);
    }
    t->closed = 1;
    maybe_free(t);
}

static void on_start_timeout(uv_timer_t *timer)
{
    fail(timer->data, "it did not say it was listening within 10 s");
}

int lt_target_start(uv_loop_t *loop, lt_target_t **out,
                    void (*ready)(lt_target_t *t, const char *url, const char *error, void *data),
                    void *data)
{
    char exe[4096], prog[4200];
    size_t size = sizeof exe;
    lt_target_t *t;
    const char *cluster_args[] = {"-w", "2", "-p", "0", "--host", "127.0.0.1", NULL};
    const char *isprime_args[] = {"--port", "0", "--host", "127.0.0.1", NULL};
    const char *const *args = cluster_args;
    int err;

    if (uv_exepath(exe, &size) != 0)
        return UV_ENOENT;
    if (strrchr(exe, '/') != NULL)
        *strrchr(exe, '/') = '\0';
    t = calloc(1, sizeof *t);
    if (t == NULL)
        return UV_ENOMEM;
    snprintf(prog, sizeof prog, "%s/cluster-server", exe);
    t->path = "/";
    snprintf(t->name, sizeof t->name, "embedded cluster-server, 2 workers");
    if (access(prog, X_OK) != 0) {
        snprintf(prog, sizeof prog, "%s/isprime-server", exe);
        args = isprime_args;
        t->path = "/testrequest";
        snprintf(t->name, sizeof t->name,
                 "embedded isprime-server: cluster-server is not built here");
        fprintf(stderr, "loadtest: no cluster-server next to me; loading isprime-server\n");
    }
    uvproc_spawn_options_t o = {
        .data = t,
        /* Its own process group, so a Ctrl-C meant for loadtest does not stop the server under
         * the load; loadtest stops it. The kernel kills it if loadtest dies. */
        .detached = 1,
        .kill_on_parent_death = 1,
        .stdio = {{.type = UVPROC_STDIO_IGNORE},
                  {.type = UVPROC_STDIO_PIPE},
                  {.type = UVPROC_STDIO_PIPE}},
        .on_data = on_data,
        .on_close = on_close,
    };
    t->ready = ready;
    t->data = data;
    uv_timer_init(loop, &t->timer);
    t->timer.data = t;
    err = uvproc_spawn(loop, &t->proc, prog, args, &o);
    if (err != 0) {
        uv_close((uv_handle_t *)&t->timer, NULL);
        uv_run(loop, UV_RUN_NOWAIT); /* the timer's close, before t goes */
        free(t);
        return err;
    }
    uv_timer_start(&t->timer, on_start_timeout, START_TIMEOUT_MS, 0);
    *out = t;
    return 0;
}

void lt_target_stop(lt_target_t *t, void (*done)(void *data), void *data)
{
    uvproc_stop_t stop = {.first = {.signal = SIGTERM, .grace_ms = 5000}};
    t->done = done;
    t->done_data = data;
    if (t->proc != NULL)
        uvproc_stop(t->proc, &stop, 0);
    if (!uv_is_closing((uv_handle_t *)&t->timer))
        uv_close((uv_handle_t *)&t->timer, timer_closed);
}
