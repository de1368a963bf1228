/* Pool across hosts, tagged output (uvproc_pool_hosts_t.tag_output): the lines of an
 * INHERIT-mode command job go to the pool's own stdout/stderr as "HOST\tline", each in one
 * write, as GNU parallel's --tag: the job's stdout and stderr become pipes, partial lines wait
 * in a buffer per stream (cut at 64 KiB), and the last line gets its newline at EOF. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pool.h"

#define TAG_LINE_MAX (64 * 1024)

typedef struct uvproc__pool_tag_s {
    char *buf[2]; /* stdout, stderr: the partial line so far */
    size_t len[2];
} uvproc__tag_t;

static void tag_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return; /* our stdout is gone: the job's output goes with it */
        p += w;
        n -= (size_t)w;
    }
}

/* One line (without its '\n') to fd 1 or 2, as "HOST\tline\n" in a single write. */
static void tag_emit(const uvproc__pool_job_t *j, int fd, const char *line, size_t n)
{
    const char *name = j->res.host != NULL ? j->res.host : "";
    size_t hl = strlen(name), total = hl + 1 + n + 1;
    char *out = malloc(total);
    if (out == NULL)
        return;
    memcpy(out, name, hl);
    out[hl] = '\t';
    memcpy(out + hl + 1, line, n);
    out[total - 1] = '\n';
    tag_write_all(fd, out, total);
    free(out);
}

static void tag_data(uvproc_process_t *p, int fd, const char *data, size_t n)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    uvproc__tag_t *t = j->tag;
    int k = fd == 2;
    if (t == NULL || (fd != 1 && fd != 2))
        return;
    for (size_t i = 0; i < n; i++) {
        if (data[i] == '\n' || t->len[k] == TAG_LINE_MAX) {
            tag_emit(j, fd, t->buf[k], t->len[k]);
            t->len[k] = 0;
            if (data[i] == '\n')
                continue;
        }
        t->buf[k][t->len[k]++] = data[i];
    }
}

/* The last line without a '\n' still gets one. */
static void tag_end(uvproc_process_t *p, int fd, int status)
{
    uvproc__pool_job_t *j = uvproc_process_data(p);
    int k = fd == 2;
    (void)status;
    if (j->tag != NULL && (fd == 1 || fd == 2) && j->tag->len[k] > 0) {
        tag_emit(j, fd, j->tag->buf[k], j->tag->len[k]);
        j->tag->len[k] = 0;
    }
}

void uvproc__pool_hosts_tag_free(uvproc__pool_job_t *j)
{
    if (j->tag == NULL)
        return;
    free(j->tag->buf[0]);
    free(j->tag->buf[1]);
    free(j->tag);
    j->tag = NULL;
}

void uvproc__pool_hosts_tag_output(uvproc__pool_job_t *j, uvproc_spawn_options_t *so)
{
    uvproc__tag_t *t;
    if (!uvproc__pool_hosts_tagging(j->pool) || j->pool->o.output != UVPROC_POOL_INHERIT)
        return;
    t = calloc(1, sizeof *t);
    if (t != NULL) {
        t->buf[0] = malloc(TAG_LINE_MAX);
        t->buf[1] = malloc(TAG_LINE_MAX);
    }
    if (t == NULL || t->buf[0] == NULL || t->buf[1] == NULL) {
        j->tag = t;
        uvproc__pool_hosts_tag_free(j);
        return; /* untagged rather than lost */
    }
    j->tag = t;
    so->stdio[1].type = UVPROC_STDIO_PIPE;
    so->stdio[2].type = UVPROC_STDIO_PIPE;
    so->on_data = tag_data;
    so->on_end = tag_end;
}
