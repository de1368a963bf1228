/* spawnSync / execSync / execFileSync: the async exec run to completion on a private loop on
 * the stack, so the caller's loops (the default one included) get no handle, no callback and
 * no wakeup from us; everything, timeout and max_buffer included, is enforced by exec.c
 * exactly as for the async calls. Safe from a callback of another loop, and from several
 * threads at once (each call has its own loop).
 *
 * The loop per call is the price of those promises, as for Node's spawnSync: libuv's loop
 * init and close cost about 11 syscalls (the epoll fd, its signal pipe, its wakeup eventfd,
 * the EMFILE reserve fd opened with the first pipe, two epoll_ctl and their five closes),
 * about 20-25 us of parent CPU on an ~850 us `echo hi`, none of which libuv lets a caller
 * skip. A loop cached per thread would keep four fds open between calls. */
#include <stdlib.h>
#include <string.h>

#include "uvproc.h"
#include "common/common.h"

/* The result exec hands over is borrowed for the callback: keep a copy the caller owns. */
static void uvproc__sync_done(const uvproc_exec_result_t *r, void *data)
{
    uvproc_exec_result_t *out = data;
    *out = *r;
    out->cmd = uvproc__common_memdup0(r->cmd, strlen(r->cmd));
    out->out = uvproc__common_memdup0(r->out, r->out_len);
    out->err = uvproc__common_memdup0(r->err, r->err_len);
    if (out->cmd == NULL || out->out == NULL || out->err == NULL) {
        uvproc_exec_result_free(out);
        out->error = UV_ENOMEM;
        out->pid = r->pid;
        out->exit_code = r->exit_code;
        out->term_signal = r->term_signal;
    }
}

static int uvproc__sync_run(const char *file, const char *const *args, int shell,
                            const uvproc_exec_options_t *options, uvproc_exec_result_t *result)
{
    uv_loop_t loop;
    int err;

    if (result == NULL)
        return UV_EINVAL;
    memset(result, 0, sizeof *result);
    err = uv_loop_init(&loop);
    if (err != 0)
        return err;
    if (shell)
        err = uvproc_exec(&loop, NULL, file, options, uvproc__sync_done, result);
    else
        err = uvproc_exec_file(&loop, NULL, file, args, options, uvproc__sync_done, result);
    /* exec closes every handle it opened before its last callback returns, so one run ends
     * with nothing left and the close cannot fail. */
    if (err == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
    return err;
}

int uvproc_spawn_sync(const char *file, const char *const *args,
                      const uvproc_exec_options_t *options, uvproc_exec_result_t *result)
{
    int err = uvproc__sync_run(file, args, 0, options, result);
    if (err != 0)
        return err;
    /* Node's spawnSync reports how the child ended in status/signal, not as an error; what
     * is left is a cut output in TRUNCATE mode. */
    if (result->error == UVPROC_EEXITCODE || result->error == UVPROC_ESIGNALED)
        result->error = result->truncated ? UVPROC_EMAXBUFFER : 0;
    return 0;
}

int uvproc_exec_sync(const char *command, const uvproc_exec_options_t *options,
                     uvproc_exec_result_t *result)
{
    int err = uvproc__sync_run(command, NULL, 1, options, result);
    return err != 0 ? err : result->error;
}

int uvproc_exec_file_sync(const char *file, const char *const *args,
                          const uvproc_exec_options_t *options, uvproc_exec_result_t *result)
{
    int err = uvproc__sync_run(file, args, 0, options, result);
    return err != 0 ? err : result->error;
}

void uvproc_exec_result_free(uvproc_exec_result_t *result)
{
    if (result == NULL)
        return;
    free((char *)result->cmd);
    free(result->out);
    free(result->err);
    memset(result, 0, sizeof *result);
}
