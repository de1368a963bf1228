/* worker-pingpong: Node's worker_threads hello world in C. The parent posts
 * "ping"; the worker, a thread with its own libuv loop, answers {"pong": "ping"}. With a
 * ROUNDS argument it goes on for that many round trips and prints the rate.
 *
 *   const worker = new Worker(__filename);
 *   worker.on('message', (msg) => console.log(msg));       // { pong: 'ping' }
 *   worker.postMessage('ping');
 *   // in the worker:
 *   parentPort.on('message', (msg) => parentPort.postMessage({ pong: msg }));
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uvproc.h>

static long long rounds = 1, done;
static uint64_t start_ns, end_ns;
static int json_out, tty;

/* The worker: answer every message with {"pong": message}. */
static void worker_on_message(uvproc_port_t *port, uvproc_message_t *msg)
{
    uvproc_port_post_new(port, json_pack("{s:O}", "pong", msg->value), NULL);
}

static int worker_main(uv_loop_t *loop, void *arg)
{
    uvproc_port_options_t o = {.on_message = worker_on_message};
    (void)arg;
    return uvproc_port_start(uvproc_parent_port(), loop, &o);
}

/* The parent. */
static void on_message(uvproc_worker_t *w, uvproc_message_t *msg)
{
    if (done == 0 && !json_out) {
        char *text = json_dumps(msg->value, JSON_COMPACT);
        printf("%s\n", text != NULL ? text : "?");
        free(text);
    }
    if (++done == rounds) {
        end_ns = uv_hrtime();
        uvproc_worker_terminate(w, NULL, NULL);
        return;
    }
    if (tty && done % 10000 == 0) {
        fprintf(stderr, "\r%lld / %lld round trips", done, rounds);
        fflush(stderr);
    }
    uvproc_worker_post_new(w, json_string("ping"), NULL);
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    (void)w;
    if (tty && rounds >= 10000)
        fprintf(stderr, "\r%*s\r", 40, "");
    if (!json_out)
        printf("worker exited with code %d (terminated, as Node's terminate())\n", code);
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--json] [ROUNDS]\n"
                   "Starts a worker thread, posts \"ping\" and prints its answer {\"pong\":"
                   "\"ping\"};\nwith ROUNDS (default 1), bounces ping/pong that many times and "
                   "prints the rate.\n  --json  print only a JSON summary\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else {
            rounds = atoll(argv[i]);
            if (rounds <= 0) {
                fprintf(stderr, "ROUNDS must be a positive number (try --help)\n");
                return 2;
            }
        }
    }
    tty = isatty(2);
    uvproc_worker_options_t o = {.on_message = on_message, .on_exit = on_exit_cb};
    uvproc_worker_t *w;
    int err = uvproc_worker_start(uv_default_loop(), &w, worker_main, &o);
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_start: %s\n", uvproc_strerror(err));
        return 1;
    }
    start_ns = uv_hrtime();
    uvproc_worker_post_new(w, json_string("ping"), NULL);
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    if (uv_loop_close(uv_default_loop()) != 0 || done != rounds) {
        fprintf(stderr, "only %lld of %lld round trips completed\n", done, rounds);
        return 1;
    }
    double secs = (double)(end_ns - start_ns) / 1e9;
    if (json_out)
        printf("{\"rounds\":%lld,\"seconds\":%.6f,\"round_trips_per_s\":%.0f}\n", rounds, secs,
               (double)rounds / secs);
    else if (rounds > 1)
        printf("%lld round trips in %.3f s: %.0f round trips/s\n", rounds, secs,
               (double)rounds / secs);
    return 0;
}
