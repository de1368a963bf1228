/* A cluster primary in a process of its own, for the "primary killed" test: runs 2 workers of
 * argv[1] (test/helpers/cluster_worker.c, mode serve) and prints their pids on one line once
 * both listen; then serves until killed. */
#include <stdio.h>

#include <uvproc.h>

static unsigned listening;

static void on_listening(uvproc_cluster_t *c, uvproc_cluster_worker_t *w,
                         const uvproc_cluster_address_t *a)
{
    uvproc_cluster_worker_t *ws[2];
    (void)w;
    (void)a;
    if (++listening != 2)
        return;
    uvproc_cluster_workers(c, ws, 2);
    printf("%d %d\n", (int)uvproc_cluster_worker_pid(ws[0]), (int)uvproc_cluster_worker_pid(ws[1]));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    uvproc_cluster_options_t o = {.workers = 2, .on_listening = on_listening};
    const char *args[] = {"serve", "0", NULL};
    uvproc_cluster_t *c;
    if (argc < 2 || uvproc_cluster_start(uv_default_loop(), &c, argv[1], args, &o) != 0)
        return 2;
    return uv_run(uv_default_loop(), UV_RUN_DEFAULT);
}
