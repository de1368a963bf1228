/* pool-run's input sources and the jobs they make, as GNU parallel makes them: several sources
 * are crossed (the first varies slowest), a linked source (`:::+`, `::::+`) is paired row by
 * row with the one before it (the shortest decides), and --link pairs all of them, the
 * shorter ones wrapping around. Jobs are computed from their number, never listed, so a
 * product of large sources costs no memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_run.h"

void pr_buf_add(pr_buf_t *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap != 0 ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (p == NULL) {
            fputs("pool-run: out of memory\n", stderr);
            exit(PR_EXIT_ERROR);
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void pr_buf_adds(pr_buf_t *b, const char *s)
{
    pr_buf_add(b, s, strlen(s));
}

char *pr_buf_steal(pr_buf_t *b)
{
    char *p = b->p;
    if (p == NULL)
        p = calloc(1, 1);
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

static pr_source_t *source_new(pr_inputs_t *in, int linked)
{
    pr_source_t *s = realloc(in->src, (in->nsrc + 1) * sizeof *s);
    if (s == NULL)
        return NULL;
    in->src = s;
    s = &in->src[in->nsrc++];
    memset(s, 0, sizeof *s);
    s->linked = linked && in->nsrc > 1; /* a first source has nothing to link to */
    return s;
}

static int source_push(pr_source_t *s, const char *v, size_t len)
{
    if (s->n == s->cap) {
        size_t ncap = s->cap != 0 ? s->cap * 2 : 16;
        char **nv = realloc(s->v, ncap * sizeof *nv);
        if (nv == NULL)
            return -ENOMEM;
        s->v = nv;
        s->cap = ncap;
    }
    s->v[s->n] = strndup(v, len);
    if (s->v[s->n] == NULL)
        return -ENOMEM;
    s->n++;
    return 0;
}

/* Records of `data` split at `delim`; a last record without its delimiter still counts. */
static int source_split(pr_source_t *s, const char *data, size_t len, char delim)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && data[i] != delim)
            continue;
        if (i == len && i == start)
            break;
        int err = source_push(s, data + start, i - start);
        if (err != 0)
            return err;
        start = i + 1;
    }
    return 0;
}

int pr_inputs_add_args(pr_inputs_t *in, char **words, size_t n, int linked)
{
    pr_source_t *s = source_new(in, linked);
    if (s == NULL)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        /* parallel reads `:::` values back as lines: one holding a newline makes two jobs. */
        if (in->delim == '\n' && strchr(words[i], '\n') != NULL) {
            int err = source_split(s, words[i], strlen(words[i]), '\n');
            if (err != 0)
                return err;
            continue;
        }
        int err = source_push(s, words[i], strlen(words[i]));
        if (err != 0)
            return err;
    }
    return 0;
}

int pr_inputs_add_file(pr_inputs_t *in, const char *path, int linked)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "re");
    pr_buf_t b = {0};
    char chunk[65536];
    size_t got;
    int err = 0;
    if (f == NULL)
        return -errno;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        pr_buf_add(&b, chunk, got);
    if (ferror(f))
        err = -EIO;
    if (f != stdin)
        fclose(f);
    pr_source_t *s = err == 0 ? source_new(in, linked) : NULL;
    if (err == 0 && s == NULL)
        err = -ENOMEM;
    if (err == 0)
        err = source_split(s, b.p != NULL ? b.p : "", b.len, in->delim);
    free(b.p);
    return err;
}

void pr_inputs_plan(pr_inputs_t *in)
{
    in->group_first = calloc(in->nsrc + 1, sizeof *in->group_first);
    in->group_len = calloc(in->nsrc + 1, sizeof *in->group_len);
    if (in->group_first == NULL || in->group_len == NULL) {
        fputs("pool-run: out of memory\n", stderr);
        exit(PR_EXIT_ERROR);
    }
    in->ngroups = 0;
    if (in->link_all && in->nsrc > 0) {
        size_t longest = 0;
        for (size_t i = 0; i < in->nsrc; i++) {
            if (in->src[i].n == 0) { /* nothing to wrap around: no job */
                longest = 0;
                break;
            }
            longest = in->src[i].n > longest ? in->src[i].n : longest;
        }
        in->ngroups = 1;
        in->group_len[0] = longest;
    } else {
        for (size_t i = 0; i < in->nsrc; i++) {
            if (!in->src[i].linked) {
                in->group_first[in->ngroups] = i;
                in->group_len[in->ngroups++] = in->src[i].n;
            } else if (in->src[i].n < in->group_len[in->ngroups - 1]) {
                in->group_len[in->ngroups - 1] = in->src[i].n;
            }
        }
    }
    in->total = in->ngroups > 0 ? 1 : 0;
    for (size_t g = 0; g < in->ngroups; g++) {
        if (in->group_len[g] == 0) {
            in->total = 0;
            break;
        }
        in->total *= in->group_len[g];
    }
}

void pr_inputs_job(const pr_inputs_t *in, uint64_t k, const char **out)
{
    if (in->link_all) {
        for (size_t i = 0; i < in->nsrc; i++)
            out[i] = in->src[i].v[k % in->src[i].n];
        return;
    }
    /* Mixed radix, the last group the fastest digit. */
    for (size_t g = in->ngroups; g-- > 0;) {
        uint64_t row = k % in->group_len[g];
        k /= in->group_len[g];
        size_t end = g + 1 < in->ngroups ? in->group_first[g + 1] : in->nsrc;
        for (size_t i = in->group_first[g]; i < end; i++)
            out[i] = in->src[i].v[row];
    }
}

void pr_inputs_free(pr_inputs_t *in)
{
    for (size_t i = 0; i < in->nsrc; i++) {
        for (size_t k = 0; k < in->src[i].n; k++)
            free(in->src[i].v[k]);
        free(in->src[i].v);
    }
    free(in->src);
    free(in->group_first);
    free(in->group_len);
    memset(in, 0, sizeof *in);
}
