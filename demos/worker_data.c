/* worker-data: a worker started with workerData "Hello" prints it (Node's worker_threads docs):
 *
 *   if (isMainThread) {
 *     new Worker(__filename, { workerData: 'Hello' });
 *   } else {
 *     console.log(workerData);  // Hello
 *   }
 *
 * The worker gets its own deep copy of the value; it prints it from its own thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

static int json_out;

static int worker_main(uv_loop_t *loop, void *arg)
{
    const json_t *data = uvproc_worker_workerdata();
    (void)loop;
    (void)arg;
    if (json_out) {
        json_t *r = json_pack("{s:O,s:b,s:I,s:s}", "workerData", data, "isMainThread",
                              uvproc_is_main_thread(), "threadId", (json_int_t)uvproc_thread_id(),
                              "name", uvproc_worker_name());
        char *text = json_dumps(r, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\n", text);
        free(text);
        json_decref(r);
    } else {
        char *text = json_is_string(data) ? strdup(json_string_value(data))
                                          : json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        printf("%s\n", text);
        printf("(printed by worker \"%s\", threadId %llu, isMainThread %s)\n", uvproc_worker_name(),
               (unsigned long long)uvproc_thread_id(), uvproc_is_main_thread() ? "true" : "false");
        free(text);
    }
    fflush(stdout);
    return 0;
}

static void on_exit_cb(uvproc_worker_t *w, int code)
{
    (void)w;
    if (!json_out)
        printf("worker exited with code %d\n", code);
}

int main(int argc, char **argv)
{
    const char *text = "\"Hello\"";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: %s [--json] [JSON]\n"
                   "Starts a worker thread with workerData JSON (default \"Hello\") and lets it "
                   "print it.\nA JSON argument that does not parse is taken as a string.\n"
                   "  --json  the worker prints {workerData, isMainThread, threadId, name}\n",
                   argv[0]);
            return 0;
        } else if (strcmp(argv[i], "--json") == 0) {
            json_out = 1;
        } else {
            text = argv[i];
        }
    }
    json_t *data = json_loads(text, JSON_DECODE_ANY, NULL);
    if (data == NULL)
        data = json_string(text);
    uvproc_worker_options_t o = {.worker_data = data, .name = "data-demo", .on_exit = on_exit_cb};
    int err = uvproc_worker_start(uv_default_loop(), NULL, worker_main, &o);
    json_decref(data); /* the worker has its own copy */
    if (err != 0) {
        fprintf(stderr, "uvproc_worker_start: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}
