/* Command jobs: one process per job. CAPTURE mode runs it with exec (captured output,
 * max_buffer, input); INHERIT and DISCARD spawn it directly, which costs no pipes and gives
 * the job's rusage. Either way the end becomes one job event: SUCCESS, FAIL (non-zero exit,
 * spawn error, max_buffer) or CRASH (a signal, including the one our own stop sent: a stopping
 * job's table cell turns that into its stop reason). */
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "common/common.h"

static void exec_done(const uvproc_exec_result_t *r, void *data)
{
    uvproc__pool_job_t *j = data;
    int host_lost = uvproc__pool_hosts_command_ended(j, r->pid != 0, r->exit_code, r->term_signal);
    j->exec = NULL;
    j->res.pid = r->pid;
    j->res.exit_code = r->exit_code;
    j->res.term_signal = r->term_signal;
    j->res_out = uvproc__common_memdup0(r->out, r->out_len);
    j->res_err = uvproc__common_memdup0(r->err, r->err_len);
    j->res.out = j->res_out != NULL ? j->res_out : "";
    j->res.out_len = j->res_out != NULL ? r->out_len : 0;
    j->res.err = j->res_err != NULL ? j->res_err : "";
    j->res.err_len = j->res_err != NULL ? r->err_len : 0;
    if (host_lost)
        uvproc__pool_job_event(j, UVPROC__EV_HOSTLOST, r->error);
    else if (r->error == 0)
        uvproc__pool_job_event(j, UVPROC__EV_SUCCESS, 0);
    else if (r->error == UVPROC_ESIGNALED || r->error == UV_ECANCELED)
        uvproc__pool_job_event(j, UVPROC__EV_CRASH, UVPROC_ESIGNALED);
    else
        uvproc__pool_job_event(j, UVPROC__EV_FAIL, r->error);
}

static void spawned(uvproc_process_t *p)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    j->res.pid = uvproc_pid(p);
}

static void spawn_error(uvproc_process_t *p, const uvproc_error_t *e)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    if (j->res.pid == 0)
        j->res.exit_code = e->code; /* picked up by on_close below */
}

static void exited(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    j->res.exit_code = code;
    j->res.term_signal = signal;
    j->res.has_rusage = uvproc_rusage(p, &j->res.rusage) == 0;
}

static void streamed(uvproc_process_t *p, int fd, const char *buf, size_t len)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    uvproc_pool_t *pool = j->pool;
    if (pool->o.on_output != NULL)
        pool->o.on_output(pool, j->id, j->data, fd, buf, len);
}

static void closed(uvproc_process_t *p, int64_t code, int signal)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    j->proc = NULL;
    if (uvproc__pool_hosts_command_ended(j, j->res.pid != 0, code, signal))
        uvproc__pool_job_event(j, UVPROC__EV_HOSTLOST, UVPROC_EEXITCODE);
    else if (j->res.pid == 0) { /* never started: code is the spawn error */
        j->res.exit_code = -1;
        uvproc__pool_job_event(j, UVPROC__EV_FAIL, (int)code);
    } else if (signal != 0) {
        uvproc__pool_job_event(j, UVPROC__EV_CRASH, UVPROC_ESIGNALED);
    } else if (code != 0) {
        uvproc__pool_job_event(j, UVPROC__EV_FAIL, UVPROC_EEXITCODE);
    } else {
        uvproc__pool_job_event(j, UVPROC__EV_SUCCESS, 0);
    }
}

int uvproc__pool_command_start(uvproc__pool_job_t *j)
{
    static const uvproc_process_events_t events = {
        .on_spawn = spawned,
        .on_error = spawn_error,
        .on_exit = exited,
        .on_close = closed,
        .on_data = streamed,
    };
    return uvproc__pool_launch_command(j, exec_done, &events);
}

void uvproc__pool_command_stop(uvproc__pool_job_t *j)
{
    if (j->exec != NULL)
        uvproc_exec_cancel(j->exec);
    else if (j->proc != NULL)
        uvproc_stop(j->proc, &j->pool->o.stop, 0);
}
