/* The job log, in GNU parallel's --joblog format (one tab-separated line per finished job:
 * Seq Host Starttime JobRuntime Send Receive Exitval Signal Command), and resume from it:
 * jobs whose Seq the log shows ended with exit 0 and no signal are not run again (parallel's
 * --resume-failed). A line is written whole with one fwrite + fflush, so a pool killed
 * mid-run leaves a log whose every complete line can be trusted. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "pool.h"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Reads the Seqs of successful jobs from an existing log (a missing log is an empty one). */
static int joblog_read(uvproc_pool_t *pool, FILE *f)
{
    char line[8192];
    size_t cap = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        unsigned long long seq;
        char host[256];
        double start, runtime;
        long long send, recv, exitval;
        int sig;
        if (sscanf(line, "%llu\t%255s\t%lf\t%lf\t%lld\t%lld\t%lld\t%d", &seq, host, &start,
                   &runtime, &send, &recv, &exitval, &sig) != 8)
            continue; /* the header, or a torn last line */
        if (exitval != 0 || sig != 0)
            continue;
        uint64_t *ok = uvproc__common_grow(pool->resume_ok, &cap, pool->resume_count,
                                           sizeof *ok, 256);
        if (ok == NULL)
            return UV_ENOMEM;
        pool->resume_ok = ok;
        pool->resume_ok[pool->resume_count++] = seq;
    }
    qsort(pool->resume_ok, pool->resume_count, sizeof *pool->resume_ok, cmp_u64);
    return 0;
}

int uvproc__pool_joblog_open(uvproc_pool_t *pool)
{
    FILE *f;
    int err;
    if (pool->o.joblog == NULL)
        return 0;
    if (pool->o.resume) {
        f = fopen(pool->o.joblog, "re");
        if (f != NULL) {
            err = joblog_read(pool, f);
            fclose(f);
            if (err != 0)
                return err;
        }
    }
    f = fopen(pool->o.joblog, pool->o.resume ? "ae" : "we");
    if (f == NULL)
        return uv_translate_sys_error(errno);
    if (ftell(f) == 0)
        fputs("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n", f);
    fflush(f);
    pool->joblog = f;
    return 0;
}

int uvproc__pool_joblog_done_before(const uvproc_pool_t *pool, uint64_t id)
{
    return pool->resume_count > 0 &&
           bsearch(&id, pool->resume_ok, pool->resume_count, sizeof id, cmp_u64) != NULL;
}

/* The Command column: the command line, or method + params for worker jobs; tabs and
 * newlines would break the format, so they become spaces. */
static char *job_command(const uvproc__pool_job_t *j)
{
    size_t len = 0;
    char *s, *p;
    char *params = j->params != NULL ? json_dumps(j->params, JSON_COMPACT) : NULL;
    if (j->method != NULL)
        len = strlen(j->method) + 1 + (params != NULL ? strlen(params) : 0);
    else {
        len = j->file != NULL ? strlen(j->file) : 0;
        for (size_t i = 0; j->argv != NULL && j->argv[i] != NULL; i++)
            len += 1 + strlen(j->argv[i]);
    }
    s = p = malloc(len + 1);
    if (s == NULL) {
        free(params);
        return NULL;
    }
    if (j->method != NULL)
        p += sprintf(p, "%s %s", j->method, params != NULL ? params : "");
    else {
        if (j->file != NULL)
            p += sprintf(p, "%s", j->file);
        for (size_t i = 0; j->argv != NULL && j->argv[i] != NULL; i++)
            p += sprintf(p, "%s%s", p == s ? "" : " ", j->argv[i]);
    }
    *p = '\0';
    for (p = s; *p != '\0'; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    free(params);
    return s;
}

void uvproc__pool_joblog_write(uvproc_pool_t *pool, const uvproc__pool_job_t *j)
{
    FILE *f = pool->joblog;
    char *cmd;
    long long exitval = j->res.exit_code;
    if (f == NULL)
        return;
    if (j->method != NULL) /* worker jobs: 0 for a result, 1 for an error */
        exitval = j->res.error == 0 ? 0 : 1;
    else if (j->res.error != 0 && exitval == 0)
        exitval = -1; /* stopped, or never started */
    cmd = job_command(j);
    fprintf(f, "%llu\t:\t%.3f\t%.3f\t%zu\t%zu\t%lld\t%d\t%s\n", (unsigned long long)j->id,
            j->res.start_time, j->res.run_ms / 1000.0, j->input_len, j->res.out_len, exitval,
            j->res.term_signal, cmd != NULL ? cmd : "");
    fflush(f);
    free(cmd);
}

void uvproc__pool_joblog_close(uvproc_pool_t *pool)
{
    if (pool->joblog != NULL)
        fclose(pool->joblog);
    pool->joblog = NULL;
    free(pool->resume_ok);
    pool->resume_ok = NULL;
    pool->resume_count = 0;
}
