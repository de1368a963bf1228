/* The middle process of the kill_on_parent_death test: spawns `sleep 100` (stdio ignored) with
 * kill_on_parent_death set to argv[1] (0 or 1), prints the sleeper's pid on a line once it is
 * running, then waits for it forever; the test kills this process and watches the sleeper. */
#include <stdio.h>
#include <stdlib.h>

#include "uvproc.h"

static void on_spawn(uvproc_process_t *p)
{
    printf("%d\n", (int)uvproc_pid(p));
    fflush(stdout);
}

static void on_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    (void)p;
    fprintf(stderr, "pdeath_parent: %s\n", uvproc_strerror(e->code));
    exit(2);
}

int main(int argc, char **argv)
{
    const char *args[] = {"100", NULL};
    uvproc_spawn_options_t o = {
        .stdio = {{.type = UVPROC_STDIO_IGNORE}, {.type = UVPROC_STDIO_IGNORE},
                  {.type = UVPROC_STDIO_IGNORE}},
        .kill_on_parent_death = argc > 1 && atoi(argv[1]) != 0,
        .on_spawn = on_spawn,
        .on_error = on_error,
    };
    if (uvproc_spawn(uv_default_loop(), NULL, "sleep", args, &o) != 0)
        return 2;
    uv_run(uv_default_loop(), UV_RUN_DEFAULT);
    return 0;
}
