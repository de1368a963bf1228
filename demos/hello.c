#include <stdio.h>
#include <uvproc.h>

static void on_data(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    printf("[pid %d, fd %d] %.*s", (int)uvproc_pid(p), fd, (int)len, buf);
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *err)
{
    fprintf(stderr, "cannot start: %s %s: %s\n", err->syscall, err->path,
            uvproc_strerror(err->code));
}

static void on_close(uvproc_process_t *p, int64_t code, int signal)
{
    printf("closed: code %lld, signal %d\n", (long long)code, signal);
}

int main(void)
{
    uv_loop_t *loop = uv_default_loop();
    const char *args[] = {"-c", "echo hello from $0; echo oops >&2; exit 3", NULL};
    uvproc_spawn_options_t opts = {
        .on_data = on_data, .on_error = on_error, .on_close = on_close,
    };
    int err = uvproc_spawn(loop, NULL, "sh", args, &opts);
    if (err != 0) {
        fprintf(stderr, "uvproc_spawn: %s\n", uvproc_strerror(err));
        return 1;
    }
    uv_run(loop, UV_RUN_DEFAULT);
    return uv_loop_close(loop) == 0 ? 0 : 1;
}
