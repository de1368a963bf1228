/* libFuzzer target for the hosts spec ("[N/]NAME,..." with ':' the local host, pool_hosts.c)
 * and the launcher argv built for each host. Input: one byte of options (kind, a launcher or
 * ssh's default, a relay), then the spec. Nothing may crash or leak; a spec taken gives at
 * least one slot and no more than the hosts' slots allow. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool/pool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uv_loop_t *loop(void)
{
    static uv_loop_t l;
    static int done;
    if (!done) {
        if (uv_loop_init(&l) != 0)
            abort();
        done = 1;
    }
    return &l;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const srun[] = {"srun", "-N1", "--", NULL};
    uvproc_pool_hosts_t hosts = {0};
    uvproc_pool_options_t o = {0};
    uvproc_pool_t pool;
    char *spec;

    if (size < 1)
        return 0;
    spec = malloc(size);
    if (spec == NULL)
        return 0;
    memcpy(spec, data + 1, size - 1);
    spec[size - 1] = '\0';

    memset(&pool, 0, sizeof pool);
    uvproc__common_list_init(&pool.slots); /* no workers: host_used() walks an empty list */
    pool.loop = loop();
    pool.o.kind = (data[0] & 1) ? UVPROC_POOL_WORKERS : UVPROC_POOL_COMMANDS;
    o.kind = pool.o.kind;
    o.min_workers = data[0] >> 4;
    hosts.spec = spec;
    hosts.launcher = (data[0] & 2) ? srun : NULL;
    hosts.remote.relay = (data[0] & 4) ? "uvproc-relay" : NULL;
    hosts.failure_exit_code = (data[0] & 8) ? 300 : 0;
    o.hosts = &hosts;

    if (uvproc__pool_hosts_init(&pool, &o) == 0) {
        unsigned n = uvproc__pool_hosts_count(&pool);
        if (n == 0 || pool.o.max_workers < n || pool.o.min_workers > pool.o.max_workers)
            abort();
        (void)uvproc__pool_hosts_capacity(&pool);
        uvproc__pool_hosts_close(&pool);
        uv_run(pool.loop, UV_RUN_DEFAULT); /* the hosts' timer closes, then they are freed */
    }
    free(spec);
    return 0;
}
