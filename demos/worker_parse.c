/* worker-parse: the parseJSAsync example of Node's worker_threads docs in C: parse a large
 * JSON text on a worker thread and hand the result back, while the parent's loop stays free
 * (its timer keeps ticking).
 *
 *   function parseJSAsync(script) {
 *     return new Promise((resolve, reject) => {
 *       const worker = new Worker(__filename, { workerData: script });
 *       worker.on('message', resolve);
 *       worker.on('error', reject);
 *       worker.on('exit', (code) => { if (code !== 0) reject(new Error(`exit ${code}`)); });
 *     });
 *   }
 *
 * The text goes to the worker as a transferred buffer (no copy); the worker parses it with
 * jansson and posts the parsed value back with uvproc_port_post_new, which moves it (the
 * worker held the only reference): no copy either way. A parse error becomes the worker's
 * 'error' event. --main parses on the main thread as well, to show the timer stall there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

#define TICK_MS 5

static int json_out, tty;
static long ticks, ticks_at_start;
static uint64_t start_ns, parse_ns;
static size_t text_len;
static json_t *result;
static int failed;

/* The worker: the text arrives as the message's one buffer. */
static void worker_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    json_error_t e;
    json_t *v;
    if (msg->buffer_count != 1) {
        uvproc_worker_fail(UV_EINVAL, "expected one buffer");
        return;
    }
    v = json_loadb(msg->buffers[0].base, msg->buffers[0].len, 0, &e);
    if (v == NULL) {
        char text[256];
        snprintf(text, sizeof text, "line %d: %s", e.line, e.text);
        uvproc_worker_fail(UVPROC_EBADMSG, text);
        return;
    }
    uvproc_port_post_new(port, v, NULL); /* moved, not copied */
    uvproc_port_close(port);
}

static int worker_main(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = worker_on_message};
    (void)arg;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

/* The parent. */
static void on_tick(uv_timer_t *t)
{
    (void)t;
    ticks++;
    if (tty && !json_out) {
        fprintf(stderr, "\rparent timer: tick %ld (every %d ms)", ticks, TICK_MS);
        fflush(stderr);
    }
}

static void on_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    (void)w;
    parse_ns = uv_hrtime() - start_ns;
    result = json_incref(msg->value);
}

static void on_error(uvproc_worker_t *w, int err, const char *message)
{
    (void)w;
    fprintf(stderr, "worker error: %s: %s\n", uvproc_err_name(err), message);
    failed = 1;
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    uv_timer_t *timer = uvproc_worker_data(w);
    if (code != 0)
        failed = 1;
    uv_close((uv_handle_t *)timer, NULL);
}

/* A large JSON text: an array of `n` records. */
static char *make_text(long n, size_t *len)
{
    size_t cap = (size_t)n * 96 + 16, at = 0;
    char *t = malloc(cap);
    if (t == NULL)
        return NULL;
    t[at++] = '[';
    for (long i = 0; i < n; i++)
        at += (size_t)snprintf(t + at, cap - at,
                               "%s{\"id\":%ld,\"name\":\"item-%ld\",\"price\":%ld.%02ld,"
                               "\"tags\":[\"a\",\"b\"],\"ok\":%s}",
                               i ? "," : "", i, i, i % 1000, i % 100, i % 2 ? "true" : "false");
    t[at++] = ']';
    *len = at;
    return t;
}

int main(int argc, char **argv)
{
    long records = 200000;
    int on_main = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--json] [--main] [--bad] [RECORDS]\n"
                   "Parses a JSON array of RECORDS objects (default 200000, 15.3 MB) on a worker "
                   "thread\nwhile the parent's %d ms timer ticks, and prints how many ticks "
                   "happened meanwhile.\n  --main  also parse on the main thread, for "
                   "comparison (the timer stalls)\n  --bad   corrupt the text: the worker's "
                   "error event\n  --json  print a JSON summary\n",
                   argv[0], TICK_MS);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else if (strcmp(argv[i], "--main") == 0) {
            on_main = 1;
        } else if (strcmp(argv[i], "--bad") == 0) {
            bad = 1;
        } else if ((records = atol(argv[i])) <= 0) {
            fprintf(stderr, "RECORDS must be a positive number (try --help)\n");
            return 2;
        }
    }
    tty = isatty(2);
    char *text = make_text(records, &text_len);
    if (text == NULL) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (bad)
        text_len /= 2; /* cut in the middle: never one JSON value */

    uv_loop_t *loop = uv_default_loop();
    uv_timer_t timer;
    uv_timer_init(loop, &timer);
    uv_timer_start(&timer, on_tick, TICK_MS, TICK_MS);

    uvproc_worker_options_t o = {.name = "parser",
                                 .on_message = on_message,
                                 .on_error = on_error,
                                 .on_exit = on_exit_cb,
                                 .data = &timer};
    uvproc_worker_t *w;
    int err = uvproc_worker_start(loop, &w, worker_main, &o);
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_start: %s\n", uvproc_strerror(err));
        return 1;
    }
    start_ns = uv_hrtime();
    ticks_at_start = ticks;
    uvproc_buf_t buf = {text, text_len};
    uvproc_transfer_t t = {.transfer = &buf, .transfer_count = 1};
    err = uvproc_worker_post(w, NULL, &t); /* `text` now belongs to the worker */
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_post: %s\n", uvproc_strerror(err));
        free(text);
        uvproc_worker_terminate(w, NULL, NULL);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    if (tty && !json_out)
        fprintf(stderr, "\r%*s\r", 50, "");
    long worker_ticks = ticks - ticks_at_start;

    double main_ms = -1;
    long main_ticks = -1;
    if (on_main && !failed) {
        /* The same parse on this thread: the timer cannot fire until it returns. */
        char *again = make_text(records, &text_len);
        uv_timer_t t2;
        uv_timer_init(loop, &t2);
        uv_timer_start(&t2, on_tick, TICK_MS, TICK_MS);
        long before = ticks;
        uint64_t t0 = uv_hrtime();
        json_t *v = json_loadb(again, text_len, 0, NULL);
        main_ms = (double)(uv_hrtime() - t0) / 1e6;
        uv_run(loop, UV_RUN_NOWAIT);
        main_ticks = ticks - before;
        json_decref(v);
        free(again);
        uv_close((uv_handle_t *)&t2, NULL);
        uv_run(loop, UV_RUN_DEFAULT);
    }

    int ok = !failed && json_is_array(result) && json_array_size(result) == (size_t)records;
    if (json_out) {
        printf("{\"ok\":%s,\"bytes\":%zu,\"records\":%zu,\"parse_ms\":%.3f,\"ticks\":%ld",
               ok ? "true" : "false", text_len, result ? json_array_size(result) : 0,
               (double)parse_ns / 1e6, worker_ticks);
        if (on_main)
            printf(",\"main_parse_ms\":%.3f,\"main_ticks\":%ld", main_ms, main_ticks);
        printf("}\n");
    } else if (ok) {
        json_t *last = json_array_get(result, json_array_size(result) - 1);
        printf("parsed %.1f MB (%zu records, last name \"%s\") on a worker in %.1f ms; the "
               "parent's %d ms timer ticked %ld times meanwhile\n",
               (double)text_len / 1e6, json_array_size(result),
               json_string_value(json_object_get(last, "name")), (double)parse_ns / 1e6, TICK_MS,
               worker_ticks);
        if (on_main)
            printf("on the main thread the same parse took %.1f ms and the timer ticked %ld "
                   "time(s): it had to wait\n",
                   main_ms, main_ticks);
    }
    json_decref(result);
    if (uv_loop_close(loop) != 0)
        return 1;
    return ok ? 0 : 1;
}
