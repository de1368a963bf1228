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

/* One tab-ended field of `line` at *at: its bytes, or NULL when the line ends first. */
static const char *next_field(char **at)
{
    char *f = *at, *tab = f != NULL ? strchr(f, '\t') : NULL;
    if (tab == NULL)
        return NULL;
    *tab = '\0';
    *at = tab + 1;
    return f;
}

/* A whole field of decimal digits (a '-' or a number past 64 bits is not a Seq). */
static int parse_u64(const char *f, uint64_t *out)
{
    char *end;
    if (f == NULL || f[0] < '0' || f[0] > '9')
        return -1;
    errno = 0;
    *out = strtoull(f, &end, 10);
    return *end == '\0' && errno == 0 ? 0 : -1;
}

/* GNU parallel pads JobRuntime with spaces ("%10.3f"): leading blanks are fine. */
static int parse_i64(const char *f, long long *out)
{
    char *end;
    if (f == NULL)
        return -1;
    errno = 0;
    *out = strtoll(f, &end, 10);
    return end != f && *end == '\0' && errno == 0 ? 0 : -1;
}

static int parse_real(const char *f)
{
    char *end;
    if (f == NULL)
        return -1;
    (void)strtod(f, &end);
    return end != f && *end == '\0' ? 0 : -1;
}

/* The Seq of a line that says its job ended with exit 0 and no signal, or -1: the header, a
 * torn last line, a malformed one (all fields but Command are checked whole). */
static int line_ok_seq(char *line, uint64_t *seq)
{
    char *at = line;
    const char *host;
    long long send, recv, exitval, sig;
    if (parse_u64(next_field(&at), seq) != 0)
        return -1;
    host = next_field(&at);
    if (host == NULL || host[0] == '\0')
        return -1;
    if (parse_real(next_field(&at)) != 0 || parse_real(next_field(&at)) != 0 ||
        parse_i64(next_field(&at), &send) != 0 || parse_i64(next_field(&at), &recv) != 0 ||
        parse_i64(next_field(&at), &exitval) != 0 || parse_i64(next_field(&at), &sig) != 0)
        return -1;
    return exitval == 0 && sig == 0 ? 0 : -1;
}

/* Reads the Seqs of successful jobs from an existing log (a missing log is an empty one) into
 * pool->resume_ok, sorted. Any bytes at all may be in the file (test/fuzz/fuzz_joblog.c). A
 * line longer than the buffer is skipped whole: its tail must not pass for a line of its own. */
int uvproc__pool_joblog_read(uvproc_pool_t *pool, void *file)
{
    FILE *f = file;
    char line[8192];
    size_t cap = 0;
    int skipping = 0;
    while (fgets(line, sizeof line, f) != NULL) {
        size_t len = strlen(line);
        int whole = len > 0 && line[len - 1] == '\n';
        uint64_t seq;
        if (skipping || !whole) {
            skipping = !whole;
            continue; /* part of an overlong line, or a torn last line */
        }
        if (line_ok_seq(line, &seq) != 0)
            continue;
        uint64_t *ok = uvproc__common_grow(pool->resume_ok, &cap, pool->resume_count,
                                           sizeof *ok, 256);
        if (ok == NULL)
            return UV_ENOMEM;
        pool->resume_ok = ok;
        pool->resume_ok[pool->resume_count++] = seq;
    }
    if (pool->resume_count > 1) /* qsort(NULL, 0) is undefined (found by fuzz_joblog) */
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
            err = uvproc__pool_joblog_read(pool, f);
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
