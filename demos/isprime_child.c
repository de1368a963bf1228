/* The child of the isprime demos: receives {"number":N} over the IPC channel its parent left
 * at NODE_CHANNEL_FD (a uvproc parent or Node's child_process.fork), answers
 * {"number":N,"isPrime":true|false}, and keeps answering until the parent disconnects.
 * Works unchanged under Node: fork(anything, [], {execPath: "<this program>"}). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <uvproc.h>

static int is_prime(uint64_t n)
{
    if (n < 2)
        return 0;
    if (n % 2 == 0)
        return n == 2;
    for (uint64_t d = 3; d <= n / d; d += 2)
        if (n % d == 0)
            return 0;
    return 1;
}

static void on_message(uvproc_channel_t *ch, json_t *msg, uvproc_handle_t *handle)
{
    json_t *number = json_object_get(msg, "number");
    json_int_t n;
    (void)handle;
    if (!json_is_integer(number) || (n = json_integer_value(number)) < 0) {
        uvproc_channel_send_new(ch, json_pack("{s:s}", "error", "expected {\"number\": N >= 0}"),
                                NULL, NULL);
        return;
    }
    uvproc_channel_send_new(ch, json_pack("{s:I,s:b}", "number", n, "isPrime", is_prime((uint64_t)n)),
                            NULL, NULL);
}

static void on_disconnect(uvproc_channel_t *ch)
{
    (void)ch;
}

int main(int argc, char **argv)
{
    uvproc_channel_options_t opts = {.on_message = on_message, .on_disconnect = on_disconnect};
    uvproc_channel_t *ch;
    int err;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: %s\n"
               "Run by a parent that forks it (uvproc's isprime demo, or Node's\n"
               "child_process.fork(x, [], {execPath: '%s'})). Answers {\"number\":N} with\n"
               "{\"number\":N,\"isPrime\":bool} until the parent disconnects.\n",
               argv[0], argv[0]);
        return 0;
    }
    err = uvproc_channel_from_parent(uv_default_loop(), &ch, &opts);
    if (err != 0) {
        fprintf(stderr, "%s: no IPC channel from a parent: %s\n", argv[0], uvproc_strerror(err));
        return 2;
    }
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return uv_loop_close(uv_default_loop()) == 0 ? 0 : 1;
}
