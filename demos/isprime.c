/* isprime: forks one child per number, sends it {"number":N} over the IPC channel and prints
 * the reply with the time it took: Node's classic fork example, on a libuv loop in C. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uvproc.h>

typedef struct {
    long long number;
    uint64_t start_ns;
    int answered;
} job_t;

static int failures;

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    job_t *job = uvproc_channel_data(ch);
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    (void)handle;
    printf("%s  (%.2f ms)\n", text != NULL ? text : "?",
           (double)(uv_hrtime() - job->start_ns) / 1e6);
    free(text);
    job->answered = 1;
    /* One question per child: hanging up lets it exit. */
    uvproc_channel_disconnect(ch);
}

static void on_channel_error(uvproc_channel_t *ch, int err, const char *line, size_t len)
{
    (void)ch;
    fprintf(stderr, "bad message from child (%s): %.*s\n", uvproc_strerror(err), (int)len,
            line != NULL ? line : "");
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    job_t *job = uvproc_process_data(p);
    fprintf(stderr, "%lld: cannot start the child: %s %s: %s\n", job->number, err->syscall,
            err->path != NULL ? err->path : "", uvproc_strerror(err->code));
}

static void on_close(uvproc_process_t *p, int64_t code, int signal)
{
    job_t *job = uvproc_process_data(p);
    if (!job->answered) {
        fprintf(stderr, "%lld: child ended without answering (code %lld, signal %d)\n",
                job->number, (long long)code, signal);
        failures++;
    }
}

static void usage(const char *argv0)
{
    printf("usage: %s [--node-child SCRIPT] N [N...]\n"
           "Forks a child per number, sends it {\"number\":N} and prints its answer.\n"
           "The child is the C program isprime_child (next to this one) unless\n"
           "--node-child names a Node script that answers the same protocol\n"
           "(demos/isprime_child.js is one).\n",
           argv0);
}

static char *sibling_path(const char *name)
{
    char exe[4096];
    size_t size = sizeof exe;
    char *slash, *path;
    if (uv_exepath(exe, &size) != 0)
        return NULL;
    slash = strrchr(exe, '/');
    if (slash != NULL)
        slash[1] = '\0';
    path = malloc(strlen(exe) + strlen(name) + 1);
    if (path != NULL)
        strcat(strcpy(path, exe), name);
    return path;
}

int main(int argc, char **argv)
{
    uv_loop_t *loop = uv_default_loop();
    const char *node_child = NULL;
    char *c_child = NULL;
    job_t *jobs;
    int first = 1, count;

    if (argc > 2 && strcmp(argv[1], "--node-child") == 0) {
        node_child = argv[2];
        first = 3;
    }
    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(argv[0]);
        return 0;
    }
    if (argc <= first) {
        usage(argv[0]);
        return 2;
    }
    if (node_child == NULL && (c_child = sibling_path("isprime_child")) == NULL) {
        fprintf(stderr, "cannot find isprime_child\n");
        return 1;
    }
    count = argc - first;
    jobs = calloc((size_t)count, sizeof *jobs);
    if (jobs == NULL)
        return 1;
    for (int i = 0; i < count; i++) {
        job_t *job = &jobs[i];
        uvproc_process_t *p;
        char *end;
        uvproc_fork_options_t o = {
            .spawn = {.data = job, .on_error = on_error, .on_close = on_close,
                      .stdio = {{.type = UVPROC_STDIO_INHERIT}, {.type = UVPROC_STDIO_INHERIT},
                                {.type = UVPROC_STDIO_INHERIT}}},
            .exec_path = node_child != NULL ? "node" : NULL,
            .channel = {.data = job, .on_message = on_message, .on_error = on_channel_error},
        };
        errno = 0;
        job->number = strtoll(argv[first + i], &end, 10);
        if (*end != '\0' || end == argv[first + i] || job->number < 0 || errno == ERANGE) {
            fprintf(stderr, "not a number from 0 to 2^63-1: %s\n", argv[first + i]);
            job->answered = 1;
            failures++;
            continue;
        }
        job->start_ns = uv_hrtime();
        int err = uvproc_fork(loop, &p, node_child != NULL ? node_child : c_child, NULL, &o);
        if (err != 0) {
            fprintf(stderr, "uvproc_fork: %s\n", uvproc_strerror(err));
            failures++;
            continue;
        }
        uvproc_channel_send_new(uvproc_process_channel(p),
                                json_pack("{s:I}", "number", (json_int_t)job->number), NULL,
                                NULL);
    }
    uv_run(loop, UV_RUN_DEFAULT);
    free(jobs);
    free(c_child);
    if (uv_loop_close(loop) != 0)
        return 1;
    return failures == 0 ? 0 : 1;
}
