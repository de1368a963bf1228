/* bench/ipc: the IPC channel, Node's 'json' serialization (one JSON text + '\n' per message),
 * through uvproc (C parent and C child: uvproc_fork + uvproc_channel_from_parent), Node
 * (child_process.fork + process.send), the two mixed pairs, and the raw bound (a socketpair
 * with plain write()/read() and a '\n' splitter), interleaved in one run (bench.h).
 *
 * Two tables:
 * - one-way: the child sends N messages {"n":i,"isPrime":b} (Node's JSON.stringify bytes);
 *   the parent parses every one (uvproc hands on_message a json_t: that is the parse) and
 *   checks each n and isPrime against its own sieve, and the count;
 * - ping-pong: the parent sends {"number":i}, the child answers {"n":i,"isPrime":b}, the
 *   parent checks the answer and sends the next, N round trips.
 * Every child is a fresh process per round. It builds its sieve, says {"ready":true}, and the
 * parent's timer starts when that arrives (child start-up is outside, as in the reference
 * baselines); one-way, the parent then says {"go":true} and the child starts sending. The
 * timer stops at the last message (or answer); the parent then disconnects and the child must
 * exit 0.
 *
 * The C children are this program again, with a hidden first argument: --raw-child MODE N
 * (socketpair at fd 3) or --uvproc-child MODE N (the channel a uvproc or Node parent left).
 *
 *   bench/ipc [-n 200000] [--rt 20000] [-r 5] [--tables oneway,pingpong] [--cpus P,C]
 *             [--only ...]
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uv.h>
#include <uvproc.h>

#include "bench.h"

#ifndef BENCH_NODE_DIR
#define BENCH_NODE_DIR "bench/node"
#endif

#define RAW_BATCH (64 * 1024)
/* The uvproc child sends one-way in chunks of this many messages (~110 KB, under the channel's
 * 128 KiB high-water mark), the next chunk from the send callback of the last one: the way a
 * sender that honours backpressure is written. */
#define UVPROC_CHUNK 4096

typedef struct {
    int pingpong; /* else one-way */
    long n;       /* messages (one-way) or round trips */
    double bytes; /* payload bytes of the whole exchange, both directions */
} ipc_cfg_t;

typedef struct {
    const ipc_cfg_t *cfg;
    const char *raw_mode;   /* raw variants: the child's mode */
    int parse;              /* raw parent: parse each line with jansson (else split only) */
    int epoll;              /* raw parent: wait in epoll_wait, not in a blocking read */
    int node_child;         /* uvproc parent: fork the Node script */
    int c_child;            /* Node parent: fork this program's uvproc child */
    const char *child_mode; /* uvproc child: "oneway", "oneway_burst", "oneway_reuse", "pingpong" */
} variant_arg_t;

static char self_exe[4096];

#define CHILD_CPU_ENV "UVPROC_BENCH_CHILD_CPU"

/* --cpus P,C: this process (and so every parent, Node's included) runs on CPU P; children pin
 * themselves to CPU C at start-up, before they say ready. */
static int pin_to(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof set, &set) == 0)
        return 0;
    fprintf(stderr, "ipc: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
    return -1;
}

static int pin_child(void)
{
    const char *cpu = getenv(CHILD_CPU_ENV);
    return cpu != NULL && *cpu != '\0' ? pin_to(atoi(cpu)) : 0;
}

/* --- shared: the sieve and the messages ------------------------------------------------------ */

static unsigned char *make_sieve(long n)
{
    unsigned char *s = malloc((size_t)n + 2);
    if (s == NULL)
        return NULL;
    memset(s, 1, (size_t)n + 2);
    s[0] = s[1] = 0;
    for (long i = 2; i * i <= n + 1; i++)
        if (s[i])
            for (long j = i * i; j <= n + 1; j += i)
                s[j] = 0;
    return s;
}

static int fmt_answer(char *buf, size_t size, long i, int prime)
{
    return snprintf(buf, size, "{\"n\":%ld,\"isPrime\":%s}\n", i, prime ? "true" : "false");
}

static int fmt_question(char *buf, size_t size, long i)
{
    return snprintf(buf, size, "{\"number\":%ld}\n", i);
}

/* Bytes on the wire for the whole timed exchange (the ready/go lines left out). */
static double exchange_bytes(int pingpong, long n)
{
    unsigned char *sieve = make_sieve(n);
    char buf[64];
    double total = 0;
    for (long i = 0; sieve != NULL && i < n; i++) {
        total += fmt_answer(buf, sizeof buf, i, sieve[i]);
        if (pingpong)
            total += fmt_question(buf, sizeof buf, i);
    }
    free(sieve);
    return total;
}

static void fill_metrics(const ipc_cfg_t *cfg, double *m, double secs)
{
    m[0] = (double)cfg->n / secs;
    m[1] = cfg->bytes / secs / 1e6;
    m[2] = secs * 1e6 / (double)cfg->n;
}

/* CPU seconds of this process so far. */
static double cpu_self(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of every child reaped so far (whoever reaped it: waitpid here, uvproc's reaper
 * in the uvproc parents). */
static double cpu_children(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

/* Metric 3: CPU per message (or round trip) of both processes: the parent's CPU inside the
 * timed loop plus the child's whole CPU (its start-up, a few ms, is included: the child is
 * only measurable once reaped). A rate alone hides a variant that wins by burning a CPU. */
static void fill_cpu(const ipc_cfg_t *cfg, double *m, double parent_cpu, double child_cpu)
{
    m[3] = (parent_cpu + child_cpu) * 1e6 / (double)cfg->n;
}

/* Checks one parsed answer {"n":i,"isPrime":b} against the expectation. */
static int answer_ok(const json_t *msg, long i, const unsigned char *sieve)
{
    const json_t *n = json_object_get(msg, "n");
    const json_t *p = json_object_get(msg, "isPrime");
    if (json_is_integer(n) && json_integer_value(n) == i && json_is_boolean(p) &&
        json_is_true(p) == (sieve[i] != 0))
        return 1;
    fprintf(stderr, "ipc: bad answer for %ld\n", i);
    return 0;
}

/* --- raw: socketpair, write(), read() and a '\n' splitter ---------------------------------- */

typedef struct {
    int fd;
    int ep; /* >= 0: wait in epoll_wait on this epoll fd (fd non-blocking), as an event loop */
    char buf[RAW_BATCH];
    size_t off, len;
} reader_t;

/* The next line (without its '\n'), reading as needed; NULL at EOF or on error. */
static const char *next_line(reader_t *r, size_t *len)
{
    for (;;) {
        char *start = r->buf + r->off;
        char *nl = memchr(start, '\n', r->len - r->off);
        ssize_t got;
        if (nl != NULL) {
            *len = (size_t)(nl - start);
            r->off += *len + 1;
            return start;
        }
        memmove(r->buf, start, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
        if (r->len == sizeof r->buf)
            return NULL; /* a line longer than the buffer: not ours */
        if (r->ep >= 0) {
            struct epoll_event ev;
            if (epoll_wait(r->ep, &ev, 1, -1) < 0 && errno != EINTR)
                return NULL;
        }
        got = read(r->fd, r->buf + r->len, sizeof r->buf - r->len);
        if (got < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (got <= 0)
            return NULL;
        r->len += (size_t)got;
    }
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
    }
    return 0;
}

/* The number after the first ':' of a line ({"number":i} or {"n":i,...}). */
static long first_number(const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    return colon != NULL ? strtol(colon + 1, NULL, 10) : -1;
}

/* Waits in epoll_wait before every read from now on, as an event loop does. */
static int reader_use_epoll(reader_t *r)
{
    struct epoll_event ev = {.events = EPOLLIN};
    int flags = fcntl(r->fd, F_GETFL);
    r->ep = epoll_create1(EPOLL_CLOEXEC);
    if (r->ep < 0 || flags < 0 || fcntl(r->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        epoll_ctl(r->ep, EPOLL_CTL_ADD, r->fd, &ev) != 0)
        return -1;
    return 0;
}

/* Raw child: `mode` is batch (one-way, 64 KiB writes), 1w (one-way, one write per message),
 * pp_split, pp_jansson or pp_epoll (ping-pong, the question parsed with strtol or jansson;
 * pp_epoll: jansson, and waiting in epoll_wait). Fd 3. */
static int raw_child(const char *mode, long n)
{
    static reader_t r = {.fd = 3, .ep = -1};
    unsigned char *sieve = make_sieve(n);
    static char out[RAW_BATCH + 64];
    size_t len, used = 0;
    const char *line;

    if (sieve == NULL || pin_child() != 0)
        return 1;
    if (write_all(3, "{\"ready\":true}\n", 15) != 0)
        return 1;
    if (strcmp(mode, "batch") == 0 || strcmp(mode, "1w") == 0) {
        int batch = mode[0] == 'b';
        if (next_line(&r, &len) == NULL) /* {"go":true} */
            return 1;
        for (long i = 0; i < n; i++) {
            used += (size_t)fmt_answer(out + used, 64, i, sieve[i]);
            if (!batch || used >= RAW_BATCH || i == n - 1) {
                if (write_all(3, out, used) != 0)
                    return 1;
                used = 0;
            }
        }
    } else {
        int jansson = strcmp(mode, "pp_split") != 0;
        if (strcmp(mode, "pp_epoll") == 0 && reader_use_epoll(&r) != 0)
            return 1;
        while ((line = next_line(&r, &len)) != NULL) {
            long i;
            if (jansson) {
                json_t *v = json_loadb(line, len, 0, NULL);
                i = (long)json_integer_value(json_object_get(v, "number"));
                json_decref(v);
            } else {
                i = first_number(line, len);
            }
            if (i < 0 || i >= n)
                return 1;
            if (write_all(3, out, (size_t)fmt_answer(out, 64, i, sieve[i])) != 0)
                return 1;
        }
        free(sieve);
        return 0;
    }
    /* Wait for the parent to close its end. */
    while (next_line(&r, &len) != NULL)
        ;
    free(sieve);
    return 0;
}

static int spawn_raw_child(const char *mode, long n, int fd, pid_t *pid)
{
    char num[32];
    char *argv[] = {self_exe, "--raw-child", (char *)mode, num, NULL};
    posix_spawn_file_actions_t fa;
    int err;
    snprintf(num, sizeof num, "%ld", n);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fd, 3);
    err = posix_spawn(pid, self_exe, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (err != 0)
        fprintf(stderr, "ipc: posix_spawn: %s\n", strerror(err));
    return err != 0 ? -1 : 0;
}

static int run_raw(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    const ipc_cfg_t *cfg = va->cfg;
    unsigned char *sieve = make_sieve(cfg->n);
    reader_t *r = malloc(sizeof *r);
    int sv[2], status, ok = 0;
    const char *line = NULL;
    size_t len;
    long i;
    double t0, t1 = 0, c0 = 0, c1 = 0, k0 = cpu_children();
    pid_t pid;

    if (sieve == NULL || r == NULL || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        free(sieve);
        free(r);
        return -1;
    }
    r->fd = sv[0];
    r->ep = -1;
    r->off = r->len = 0;
    if (spawn_raw_child(va->raw_mode, cfg->n, sv[1], &pid) != 0) {
        close(sv[0]);
        close(sv[1]);
        free(sieve);
        free(r);
        return -1;
    }
    close(sv[1]);
    if (next_line(r, &len) == NULL) /* {"ready":true} */
        goto done;
    if (va->epoll && reader_use_epoll(r) != 0)
        goto done;
    t0 = bench_now();
    c0 = cpu_self();
    if (!cfg->pingpong) {
        if (write_all(sv[0], "{\"go\":true}\n", 12) != 0)
            goto done;
        for (i = 0; i < cfg->n; i++) {
            if ((line = next_line(r, &len)) == NULL)
                goto done;
            if (va->parse) {
                json_t *v = json_loadb(line, len, 0, NULL);
                int good = v != NULL && answer_ok(v, i, sieve);
                json_decref(v);
                if (!good)
                    goto done;
            }
        }
        t1 = bench_now();
        c1 = cpu_self();
        /* Split only: the last line is still checked, with strtol. */
        ok = va->parse || (first_number(line, len) == cfg->n - 1 &&
                           (memmem(line, len, "true", 4) != NULL) == (sieve[cfg->n - 1] != 0));
    } else {
        char q[64];
        for (i = 0; i < cfg->n; i++) {
            if (write_all(sv[0], q, (size_t)fmt_question(q, sizeof q, i)) != 0 ||
                (line = next_line(r, &len)) == NULL)
                goto done;
            if (va->parse) {
                json_t *v = json_loadb(line, len, 0, NULL);
                int good = v != NULL && answer_ok(v, i, sieve);
                json_decref(v);
                if (!good)
                    goto done;
            } else if (first_number(line, len) != i) {
                fprintf(stderr, "ipc: bad answer for %ld\n", i);
                goto done;
            }
        }
        t1 = bench_now();
        c1 = cpu_self();
        ok = 1;
    }
done:
    if (r->ep >= 0)
        close(r->ep);
    close(sv[0]);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fprintf(stderr, "ipc: raw child status 0x%x\n", status);
        ok = 0;
    }
    free(sieve);
    free(r);
    if (!ok)
        return -1;
    fill_metrics(cfg, m, t1 - t0);
    fill_cpu(cfg, m, c1 - c0, cpu_children() - k0);
    return 0;
}

/* --- the uvproc child (for a uvproc parent or a Node parent) -------------------------------- */

static struct {
    unsigned char *sieve;
    long n, sent;
    int pingpong, burst, reuse, going, failed;
    json_t *msg; /* reuse mode: the one message object, updated in place per send */
} kid;

static void kid_fail(const char *what, int err)
{
    fprintf(stderr, "ipc --uvproc-child: %s: %s\n", what, uvproc_strerror(err));
    kid.failed = 1;
}

static void kid_pump(uvproc_channel_t *ch);

static void kid_chunk_sent(uvproc_channel_t *ch, int status, void *data)
{
    (void)data;
    if (status != 0)
        kid_fail("send", status);
    else
        kid_pump(ch);
}

/* One chunk of answers (or all of them in burst mode). */
static void kid_pump(uvproc_channel_t *ch)
{
    while (kid.sent < kid.n) {
        long i = kid.sent++;
        int last = !kid.burst && kid.sent % UVPROC_CHUNK == 0 && kid.sent < kid.n;
        uvproc_send_cb cb = last ? kid_chunk_sent : NULL;
        int err;
        if (kid.reuse) {
            /* send copies the text at once: the caller keeps the object and may change it. */
            json_integer_set(json_object_get(kid.msg, "n"), (json_int_t)i);
            json_object_set(kid.msg, "isPrime", json_boolean(kid.sieve[i]));
            err = uvproc_channel_send(ch, kid.msg, cb, NULL);
        } else {
            json_t *m = json_pack("{s:I,s:b}", "n", (json_int_t)i, "isPrime", kid.sieve[i]);
            err = uvproc_channel_send_new(ch, m, cb, NULL);
        }
        if (err < 0) {
            kid_fail("send", err);
            return;
        }
        if (last)
            return;
    }
}

static void kid_on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    (void)handle;
    if (kid.pingpong) {
        const json_t *num = json_object_get(msg, "number");
        json_int_t i = json_integer_value(num);
        int err;
        if (!json_is_integer(num) || i < 0 || i >= kid.n) {
            kid_fail("bad question", UVPROC_EBADMSG);
            return;
        }
        err = uvproc_channel_send_new(ch, json_pack("{s:I,s:b}", "n", i, "isPrime", kid.sieve[i]),
                                      NULL, NULL);
        if (err < 0)
            kid_fail("send", err);
    } else if (!kid.going) {
        kid.going = 1; /* {"go":true} */
        kid_pump(ch);
    }
}

static void kid_on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
}

static int uvproc_child(const char *mode, long n)
{
    uvproc_channel_options_t o = {.on_message = kid_on_message, .on_disconnect = kid_on_disconnect};
    uv_loop_t *loop = uv_default_loop();
    uvproc_channel_t *ch;
    int err;

    kid.n = n;
    kid.pingpong = strcmp(mode, "pingpong") == 0;
    kid.burst = strcmp(mode, "oneway_burst") == 0;
    kid.reuse = strcmp(mode, "oneway_reuse") == 0;
    kid.sieve = make_sieve(n);
    kid.msg = json_pack("{s:I,s:b}", "n", (json_int_t)0, "isPrime", 0);
    if (kid.sieve == NULL || kid.msg == NULL || pin_child() != 0)
        return 1;
    err = uvproc_channel_from_parent(loop, &ch, &o);
    if (err != 0) {
        kid_fail("uvproc_channel_from_parent", err);
        return 1;
    }
    err = uvproc_channel_send_new(ch, json_pack("{s:b}", "ready", 1), NULL, NULL);
    if (err < 0)
        kid_fail("send", err);
    uv_run(loop, UV_RUN_DEFAULT);
    free(kid.sieve);
    json_decref(kid.msg);
    if (uv_loop_close(loop) != 0)
        return 3;
    return kid.failed ? 1 : 0;
}

/* --- the uvproc parent (C child or Node child) ------------------------------------------------ */

typedef struct {
    uv_loop_t loop;
    const variant_arg_t *va;
    unsigned char *sieve;
    long count;
    double t0, t1, c0, c1;
    int ready, failed, closed;
} uvp_run_t;

static void uvp_fail(uvp_run_t *r, const char *what, int err)
{
    fprintf(stderr, "ipc uvproc parent: %s: %s\n", what, uvproc_strerror(err));
    r->failed = 1;
}

static void uvp_send(uvp_run_t *r, uvproc_channel_t *ch, json_t *msg)
{
    int err = uvproc_channel_send_new(ch, msg, NULL, NULL);
    if (err < 0)
        uvp_fail(r, "send", err);
}

static void uvp_on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    uvp_run_t *r = uvproc_channel_data(ch);
    const ipc_cfg_t *cfg = r->va->cfg;
    (void)handle;
    if (!r->ready) {
        if (!json_is_true(json_object_get(msg, "ready"))) {
            uvp_fail(r, "expected {\"ready\":true}", UVPROC_EBADMSG);
            uvproc_channel_disconnect(ch);
            return;
        }
        r->ready = 1;
        r->t0 = bench_now();
        r->c0 = cpu_self();
        if (cfg->pingpong)
            uvp_send(r, ch, json_pack("{s:I}", "number", (json_int_t)0));
        else
            uvp_send(r, ch, json_pack("{s:b}", "go", 1));
        return;
    }
    if (r->count >= cfg->n || !answer_ok(msg, r->count, r->sieve)) {
        r->failed = 1;
        uvproc_channel_disconnect(ch);
        return;
    }
    if (++r->count == cfg->n) {
        r->t1 = bench_now();
        r->c1 = cpu_self();
        uvproc_channel_disconnect(ch);
    } else if (cfg->pingpong) {
        uvp_send(r, ch, json_pack("{s:I}", "number", (json_int_t)r->count));
    }
}

static void uvp_on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    uvp_fail(uvproc_process_data(p), err->syscall, err->code);
}

static void uvp_on_close(uvproc_process_t *p, int64_t code, int sig)
{
    uvp_run_t *r = uvproc_process_data(p);
    r->closed = 1;
    if (code != 0 || sig != 0) {
        fprintf(stderr, "ipc: child closed with code %lld, signal %d\n", (long long)code, sig);
        r->failed = 1;
    }
}

static int run_uvproc(void *arg, double *m)
{
    uvp_run_t r = {.va = arg};
    const ipc_cfg_t *cfg = r.va->cfg;
    char num[32];
    const char *c_args[] = {"--uvproc-child", r.va->child_mode, num, NULL};
    const char *node_args[] = {cfg->pingpong ? "pingpong" : "oneway", num, NULL};
    uvproc_fork_options_t o = {0};
    double k0 = cpu_children();
    int err;

    snprintf(num, sizeof num, "%ld", cfg->n);
    r.sieve = make_sieve(cfg->n);
    if (r.sieve == NULL || uv_loop_init(&r.loop) != 0) {
        free(r.sieve);
        return -1;
    }
    o.spawn.data = &r;
    o.spawn.on_error = uvp_on_error;
    o.spawn.on_close = uvp_on_close;
    o.spawn.stdio[0].type = UVPROC_STDIO_IGNORE;
    o.channel.data = &r;
    o.channel.on_message = uvp_on_message;
    if (r.va->node_child) {
        o.exec_path = bench_node();
        err = uvproc_fork(&r.loop, NULL, BENCH_NODE_DIR "/ipc_child.js", node_args, &o);
    } else {
        err = uvproc_fork(&r.loop, NULL, self_exe, c_args, &o);
    }
    if (err != 0) {
        uvp_fail(&r, "uvproc_fork", err);
    } else {
        uv_run(&r.loop, UV_RUN_DEFAULT);
    }
    if (uv_loop_close(&r.loop) != 0)
        r.failed = 1;
    free(r.sieve);
    if (r.failed || !r.closed || r.count != cfg->n)
        return -1;
    fill_metrics(cfg, m, r.t1 - r.t0);
    /* A Node child's CPU includes Node's start-up (tens of ms): not comparable, left out. */
    if (!r.va->node_child)
        fill_cpu(cfg, m, r.c1 - r.c0, cpu_children() - k0);
    return 0;
}

/* --- the Node parent (Node child or uvproc child), a subprocess that times itself ----------- */

static int run_node(void *arg, double *m)
{
    const variant_arg_t *va = arg;
    const ipc_cfg_t *cfg = va->cfg;
    char num[32];
    char *argv[] = {(char *)bench_node(),
                    BENCH_NODE_DIR "/ipc_parent.js",
                    cfg->pingpong ? "pingpong" : "oneway",
                    num,
                    va->c_child ? "--c-child" : NULL,
                    self_exe,
                    NULL};
    const char *keys[] = {"secs"};
    double secs;
    snprintf(num, sizeof num, "%ld", cfg->n);
    if (bench_subprocess(argv, keys, &secs, 1) != 0)
        return -1;
    fill_metrics(cfg, m, secs);
    return 0;
}

/* --- main ------------------------------------------------------------------------------------ */

typedef struct {
    const char *name;
    bench_fn fn;
    variant_arg_t a;
    int node; /* needs node */
    const char *desc;
} variant_t;

/* clang-format off: one line of facts per variant, then its description */
static const variant_t oneway_variants[] = {
    {"raw_batch_jansson",
     run_raw,
     {.raw_mode = "batch", .parse = 1},
     0,
     "raw C pair over a socketpair: the child coalesces lines into 64 KiB `write()`s, the "
     "parent `read()`s 64 KiB, splits on '\\n' and parses every line with `json_loadb`, "
     "checking n and isPrime: the bound for parsed messages"},
    {"raw_batch_split",
     run_raw,
     {.raw_mode = "batch"},
     0,
     "the same, the parent only splits lines (the last one checked with `strtol`): the "
     "transport's limit"},
    {"raw_1w_jansson",
     run_raw,
     {.raw_mode = "1w", .parse = 1},
     0,
     "raw C pair, one `write()` per message (as Node sends), every line parsed with jansson"},
    {"uvproc_c_c",
     run_uvproc,
     {.child_mode = "oneway"},
     0,
     "uvproc C parent (`uvproc_fork`, on_message gets each parsed `json_t`) and uvproc C child "
     "(`uvproc_channel_from_parent`, `json_pack` + `uvproc_channel_send_new` per message, in "
     "chunks of 4096 continued from the send callback)"},
    {"uvproc_c_c_burst",
     run_uvproc,
     {.child_mode = "oneway_burst"},
     0,
     "the same, the child sends all N in one tight loop, in one loop turn, ignoring backpressure "
     "(the channel writes through in ~64 KiB writes as the batch grows)"},
    {"uvproc_c_c_reuse",
     run_uvproc,
     {.child_mode = "oneway_reuse"},
     0,
     "as `uvproc_c_c`, but the child builds one `json_t` and updates it in place "
     "(`json_integer_set`, `json_object_set`) before each `uvproc_channel_send`"},
    {"node_node",
     run_node,
     {0},
     1,
     "`node bench/node/ipc_parent.js`: `child_process.fork` of `bench/node/ipc_child.js`, "
     "`process.send` in a tight loop, `'message'` in the parent"},
    {"uvproc_node",
     run_uvproc,
     {.node_child = 1},
     1,
     "uvproc C parent, Node child (`uvproc_fork` with `exec_path` node, "
     "`bench/node/ipc_child.js`)"},
    {"node_uvproc",
     run_node,
     {.c_child = 1},
     1,
     "Node parent (`bench/node/ipc_parent.js`), uvproc C child (`fork` with `execPath` = this "
     "program, chunked as in `uvproc_c_c`)"},
};

static const variant_t pingpong_variants[] = {
    {"raw_split",
     run_raw,
     {.raw_mode = "pp_split"},
     0,
     "raw C pair over a socketpair, one `write()` per message, blocking `read()`, each side "
     "reads the number with `strtol`: the bound"},
    {"raw_jansson",
     run_raw,
     {.raw_mode = "pp_jansson", .parse = 1},
     0,
     "the same with `json_loadb` of every line on both sides (answers checked for n and "
     "isPrime)"},
    {"raw_epoll_jansson",
     run_raw,
     {.raw_mode = "pp_epoll", .parse = 1, .epoll = 1},
     0,
     "`raw_jansson`, but both sides wait in `epoll_wait` (non-blocking fd) before each "
     "`read()`, as any event loop does: the bound for an event-loop library"},
    {"uvproc_c_c",
     run_uvproc,
     {.child_mode = "pingpong"},
     0,
     "uvproc C parent and C child: `json_pack` + `uvproc_channel_send_new` from on_message"},
    {"node_node",
     run_node,
     {0},
     1,
     "`node bench/node/ipc_parent.js`: Node parent and Node child, `process.send` from "
     "`'message'`"},
    {"uvproc_node", run_uvproc, {.node_child = 1}, 1, "uvproc C parent, Node child"},
    {"node_uvproc", run_node, {.c_child = 1}, 1, "Node parent, uvproc C child"},
};
/* clang-format on */

static void usage(FILE *out)
{
    fprintf(out, "  --rt N       ping-pong round trips (default 20000; -n is one-way messages)\n"
                 "  --tables L   oneway,pingpong (default both)\n"
                 "  --cpus P,C   parents on CPU P, children on CPU C (default: unpinned)\n"
                 "  --run-variant V  run variant V of the first table of --tables once, alone,\n"
                 "               and print rate=... (for perf / strace)\n"
                 "one-way variants:");
    for (size_t i = 0; i < sizeof oneway_variants / sizeof oneway_variants[0]; i++)
        fprintf(out, " %s%s", oneway_variants[i].name, i == 0 ? " (baseline)" : "");
    fprintf(out, "\nping-pong variants:");
    for (size_t i = 0; i < sizeof pingpong_variants / sizeof pingpong_variants[0]; i++)
        fprintf(out, " %s%s", pingpong_variants[i].name, i == 0 ? " (baseline)" : "");
    fprintf(out, "\n");
}

static void run_table(const bench_args_t *a, const char *title, const char *unit,
                      const ipc_cfg_t *cfg, const variant_t *vs, size_t count)
{
    variant_arg_t args[BENCH_MAX_VARIANTS];
    bench_t b;

    bench_init(&b, title, a);
    bench_metric(&b, unit, BENCH_HIGHER);
    bench_metric(&b, "MB/s", BENCH_HIGHER);
    bench_metric(&b, cfg->pingpong ? "us/round trip" : "us/msg", BENCH_LOWER);
    bench_metric(&b, cfg->pingpong ? "CPU us/round trip" : "CPU us/msg", BENCH_LOWER);
    for (size_t i = 0; i < count && i < BENCH_MAX_VARIANTS; i++) {
        args[i] = vs[i].a;
        args[i].cfg = cfg;
        bench_variant(&b, vs[i].name, vs[i].desc, vs[i].fn, &args[i]);
    }
    bench_baseline(&b, vs[0].name);
    for (size_t i = 0; i < count && bench_node() == NULL; i++)
        if (vs[i].node)
            bench_disable(&b, vs[i].name, "node not found (set NODE=/path/to/node)");
    bench_run(&b);
    bench_print(&b, stdout);
}

/* --run-variant: one variant of one table, once, without the baseline (for perf and strace). */
static int run_variant_once(const char *name, const char *table, const ipc_cfg_t *cfg)
{
    int pp = strcmp(table, "pingpong") == 0;
    const variant_t *vs = pp ? pingpong_variants : oneway_variants;
    size_t count = pp ? sizeof pingpong_variants / sizeof pingpong_variants[0]
                      : sizeof oneway_variants / sizeof oneway_variants[0];
    for (size_t i = 0; i < count; i++) {
        variant_arg_t va = vs[i].a;
        double m[3];
        if (strcmp(vs[i].name, name) != 0)
            continue;
        va.cfg = cfg;
        if (vs[i].fn(&va, m) != 0)
            return 1;
        printf("rate=%.1f mb_per_s=%.2f us=%.3f n=%ld\n", m[0], m[1], m[2], cfg->n);
        return 0;
    }
    fprintf(stderr, "no %s variant named %s\n", table, name);
    return 2;
}

static int run(int argc, char **argv, int cmd_argc, char **cmd)
{
    bench_args_t a = {.n = 200000, .rounds = 5};
    const char *tables = "oneway,pingpong", *only_variant = NULL;
    long rt = 20000;
    static char child_cpu[16];
    size_t exe_size = sizeof self_exe;
    char title[160];
    int r = bench_parse_args(&argc, argv, &a, usage);

    if (r != 0)
        return r > 0 ? 0 : 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rt") == 0 && i + 1 < argc) {
            rt = strtol(argv[++i], NULL, 10);
            if (rt <= 0) {
                fprintf(stderr, "%s: bad --rt\n", argv[0]);
                return 2;
            }
        } else if (strcmp(argv[i], "--tables") == 0 && i + 1 < argc) {
            tables = argv[++i];
        } else if (strcmp(argv[i], "--cpus") == 0 && i + 1 < argc) {
            int p, c;
            if (sscanf(argv[++i], "%d,%d", &p, &c) != 2 || p < 0 || c < 0) {
                fprintf(stderr, "%s: bad --cpus (P,C)\n", argv[0]);
                return 2;
            }
            snprintf(child_cpu, sizeof child_cpu, "%d", c);
            if (pin_to(p) != 0 || setenv(CHILD_CPU_ENV, child_cpu, 1) != 0)
                return 1;
        } else if (strcmp(argv[i], "--run-variant") == 0 && i + 1 < argc) {
            only_variant = argv[++i];
        } else {
            fprintf(stderr, "%s: unknown option %s (try --help)\n", argv[0], argv[i]);
            return 2;
        }
    }
    if (uv_exepath(self_exe, &exe_size) != 0) {
        fprintf(stderr, "%s: cannot find this program's path\n", argv[0]);
        return 1;
    }
    if (only_variant != NULL) {
        int pp = strncmp(tables, "pingpong", 8) == 0;
        ipc_cfg_t cfg = {pp, pp ? rt : a.n, exchange_bytes(pp, pp ? rt : a.n)};
        return run_variant_once(only_variant, pp ? "pingpong" : "oneway", &cfg);
    }
    bench_print_header(stdout, cmd_argc, cmd);
    if (bench_listed(tables, "oneway")) {
        ipc_cfg_t cfg = {0, a.n, exchange_bytes(0, a.n)};
        snprintf(title, sizeof title,
                 "IPC one-way, %ld {\"n\":i,\"isPrime\":b} messages child -> parent, each parsed",
                 a.n);
        run_table(&a, title, "msgs/s", &cfg, oneway_variants,
                  sizeof oneway_variants / sizeof oneway_variants[0]);
    }
    if (bench_listed(tables, "pingpong")) {
        ipc_cfg_t cfg = {1, rt, exchange_bytes(1, rt)};
        snprintf(title, sizeof title,
                 "IPC ping-pong, %ld round trips {\"number\":i} -> {\"n\":i,\"isPrime\":b}", rt);
        run_table(&a, title, "round trips/s", &cfg, pingpong_variants,
                  sizeof pingpong_variants / sizeof pingpong_variants[0]);
    }
    return 0;
}

int main(int argc, char **argv)
{
    /* The children: this program again (hidden first argument). */
    if (argc == 4 && strcmp(argv[1], "--raw-child") == 0)
        return raw_child(argv[2], strtol(argv[3], NULL, 10));
    if (argc == 4 && strcmp(argv[1], "--uvproc-child") == 0)
        return uvproc_child(argv[2], strtol(argv[3], NULL, 10));
    return bench_main(argc, argv, run);
}
