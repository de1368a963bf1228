/* How a pool starts its children: the one seam between the pool and the process layer.
 * A remote slot (a launcher prefix such as `ssh host --` or `srun`) plugs in here: both
 * functions get the job or worker and the event callbacks, and nothing else in pool*.c knows
 * how the child came to be. */
#include "pool.h"

static int launch_command(uvproc__pool_job_t *j, uvproc_exec_cb cb,
                          const uvproc_process_events_t *events, const uvproc_remote_t *remote)
{
    uvproc_pool_t *pool = j->pool;
    const char *const *args = (const char *const *)j->argv;

    if (pool->o.output == UVPROC_POOL_CAPTURE) {
        uvproc_exec_options_t eo = pool->o.exec;
        eo.timeout_ms = 0; /* the pool's timer counts from the job's start */
        eo.stop = pool->o.stop;
        eo.input = j->input;
        eo.input_len = j->input_len;
        eo.spawn.remote = remote;
        if (j->file != NULL)
            return uvproc_exec_file(pool->loop, &j->exec, j->file, args, &eo, cb, j);
        return uvproc_exec(pool->loop, &j->exec, args[0], &eo, cb, j);
    }

    uvproc_spawn_options_t so = pool->o.exec.spawn;
    uvproc_stdio_type_t t = pool->o.output == UVPROC_POOL_INHERIT  ? UVPROC_STDIO_INHERIT
                            : pool->o.output == UVPROC_POOL_STREAM ? UVPROC_STDIO_PIPE
                                                                   : UVPROC_STDIO_IGNORE;
    so.stdio[0].type = UVPROC_STDIO_IGNORE;
    so.stdio[1].type = t;
    so.stdio[2].type = t;
    so.extra_stdio = NULL;
    so.extra_stdio_count = 0;
    so.data = j;
    so.events = *events;
    so.remote = remote;
    uvproc__pool_hosts_tag_output(j, &so); /* scale-out: "HOST\t" before each line, on request */
    if (j->file != NULL) {
        so.shell = NULL;
        return uvproc_spawn(pool->loop, &j->proc, j->file, args, &so);
    }
    if (so.shell == NULL)
        so.shell = UVPROC_SHELL;
    return uvproc_spawn(pool->loop, &j->proc, args[0], NULL, &so);
}

/* Scale-out: the job's host (pool_hosts.c) decides the launcher; a start that fails at once
 * gives its host slot back. */
int uvproc__pool_launch_command(uvproc__pool_job_t *j, uvproc_exec_cb cb,
                                const uvproc_process_events_t *events)
{
    const uvproc_remote_t *remote;
    int err = uvproc__pool_hosts_pick_command(j, &remote);
    if (err == 0)
        err = launch_command(j, cb, events, remote);
    if (err != 0)
        uvproc__pool_hosts_command_ended(j, 0, 0, 0);
    return err;
}

int uvproc__pool_launch_worker(uvproc_pool_t *pool, uvproc__pool_slot_t *s,
                               const uvproc_fork_options_t *events)
{
    uvproc_fork_options_t fo = pool->o.worker_fork;
    const uvproc_remote_t *remote;
    int err = uvproc__pool_hosts_pick_worker(s, &remote);
    if (err != 0)
        return err;
    fo.spawn.remote = remote;
    fo.exec_path = pool->worker_exec_path;
    fo.exec_args = (const char *const *)pool->worker_exec_args;
    fo.spawn.data = s;
    fo.spawn.events = events->spawn.events; /* the user's own callbacks never reach a worker */
    fo.channel = events->channel;
    fo.channel.max_message_size = pool->o.worker_fork.channel.max_message_size;
    return uvproc_fork(pool->loop, &s->proc, pool->worker_file,
                       (const char *const *)pool->worker_args, &fo);
}
