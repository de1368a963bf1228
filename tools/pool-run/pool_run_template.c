/* GNU parallel's replacement strings and its quoting for a POSIX shell.
 *
 * A command word is cut into literal text and replacement strings once, at start; each job
 * then only copies. The strings and what they do (parallel 20221122, checked side by side):
 *   {}   every argument, joined by spaces    {n}  argument n ({-n}: n-th from the end;
 *   {.}  without its extension                    {0} is {}; past the end: nothing at all)
 *   {/}  basename    {//}  dirname    {/.}  basename without extension
 *   {#}  the job's sequence number    {%}  its slot (1..-j)
 *   {n.} {n/} {n//} {n/.}  the same on argument n.
 * Anything else between braces is text, as in parallel, except {=perl=}: parallel runs Perl
 * there, pool-run cannot, so the template is refused rather than run with the text in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pool_run.h"

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n);
    if (p == NULL) {
        fputs("pool-run: out of memory\n", stderr);
        exit(PR_EXIT_ERROR);
    }
    return p;
}

static void word_push(pr_word_t *w, pr_seg_t seg)
{
    w->seg = xrealloc(w->seg, (w->nseg + 1) * sizeof *w->seg);
    w->seg[w->nseg++] = seg;
}

/* The replacement string at `s` (which starts with '{'): its length, or 0 if it is text. */
static size_t match_repl(const char *s, int *pos, int *op)
{
    static const struct {
        const char *tail;
        int op;
    } ops[] = {{"}", PR_OP_NONE}, {".}", PR_OP_DOT},  {"/}", PR_OP_BASE},
               {"//}", PR_OP_DIR}, {"/.}", PR_OP_BASEDOT}};
    const char *p = s + 1;
    *pos = 0;
    if (strncmp(p, "#}", 2) == 0 || strncmp(p, "%}", 2) == 0) {
        *op = p[0] == '#' ? PR_OP_SEQ : PR_OP_SLOT;
        return 3;
    }
    if (*p == '-' || (*p >= '0' && *p <= '9')) {
        const char *d = *p == '-' ? p + 1 : p;
        long n = 0;
        if (*d < '0' || *d > '9')
            return 0;
        for (; *d >= '0' && *d <= '9'; d++)
            if ((n = n * 10 + (*d - '0')) > 1000000)
                return 0;
        *pos = *p == '-' ? (int)-n : (int)n;
        p = d;
    }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        size_t n = strlen(ops[i].tail);
        if (strncmp(p, ops[i].tail, n) == 0) {
            *op = ops[i].op;
            return (size_t)(p - s) + n;
        }
    }
    return 0;
}

int pr_template_parse(pr_template_t *t, char **words, size_t n, char **bad)
{
    memset(t, 0, sizeof *t);
    t->w = xrealloc(NULL, (n + 1) * sizeof *t->w);
    t->nw = n;
    for (size_t i = 0; i < n; i++) {
        pr_word_t *w = &t->w[i];
        const char *s = words[i], *lit = s;
        memset(w, 0, sizeof *w);
        while (*s != '\0') {
            int pos, op;
            size_t len;
            if (*s != '{') {
                s++;
                continue;
            }
            if (s[1] == '=') {
                const char *end = strstr(s + 2, "=}");
                *bad = strndup(s, end != NULL ? (size_t)(end + 2 - s) : strlen(s));
                return -1;
            }
            len = match_repl(s, &pos, &op);
            if (len == 0) {
                s++;
                continue;
            }
            if (s > lit)
                word_push(w, (pr_seg_t){.text = lit, .len = (size_t)(s - lit)});
            word_push(w, (pr_seg_t){.pos = pos, .op = op});
            t->has_repl = 1;
            t->has_slot |= op == PR_OP_SLOT;
            s += len;
            lit = s;
        }
        if (s > lit || w->nseg == 0)
            word_push(w, (pr_seg_t){.text = lit, .len = (size_t)(s - lit)});
    }
    return 0;
}

void pr_template_free(pr_template_t *t)
{
    for (size_t i = 0; i < t->nw; i++)
        free(t->w[i].seg);
    free(t->w);
    memset(t, 0, sizeof *t);
}

void pr_quote(pr_buf_t *b, const char *s)
{
    size_t start = b->len;
    const char *p;
    if (*s == '\0') {
        pr_buf_adds(b, "''");
        return;
    }
    for (p = s; *p != '\0'; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("-_.+/", *p) != NULL))
            break;
    if (*p == '\0') {
        pr_buf_adds(b, s);
        return;
    }
    pr_buf_adds(b, "'");
    for (p = s; *p != '\0'; p++) {
        if (*p == '\'')
            pr_buf_adds(b, "'\"'\"'");
        else
            pr_buf_add(b, p, 1);
    }
    pr_buf_adds(b, "'");
    /* parallel drops the empty '' a quote at either end leaves behind. */
    if (b->len - start >= 2 && memcmp(b->p + start, "''", 2) == 0) {
        memmove(b->p + start, b->p + start + 2, b->len - start - 2);
        b->len -= 2;
        b->p[b->len] = '\0';
    }
    if (b->len - start >= 2 && memcmp(b->p + b->len - 2, "''", 2) == 0) {
        b->len -= 2;
        b->p[b->len] = '\0';
    }
}

/* {.}: parallel's s:\.[^/.]*$:: */
static size_t cut_ext(const char *s, size_t len)
{
    for (size_t i = len; i-- > 0;) {
        if (s[i] == '/')
            return len;
        if (s[i] == '.')
            return i;
    }
    return len;
}

/* The value of one replacement string on one argument, into `b` (unquoted). */
static void apply_op(pr_buf_t *b, const char *v, int op)
{
    size_t len = strlen(v);
    const char *slash;
    switch (op) {
    case PR_OP_DOT:
        pr_buf_add(b, v, cut_ext(v, len));
        return;
    case PR_OP_BASE:
    case PR_OP_BASEDOT:
        slash = strrchr(v, '/');
        if (slash != NULL)
            v = slash + 1;
        len = strlen(v);
        pr_buf_add(b, v, op == PR_OP_BASE ? len : cut_ext(v, len));
        return;
    case PR_OP_DIR: /* dirname, as Perl's File::Basename (which parallel uses) */
        while (len > 1 && v[len - 1] == '/')
            len--;
        while (len > 0 && v[len - 1] != '/')
            len--;
        if (len == 0) {
            pr_buf_adds(b, ".");
            return;
        }
        while (len > 1 && v[len - 1] == '/')
            len--;
        pr_buf_add(b, v, len);
        return;
    default:
        pr_buf_add(b, v, len);
    }
}

/* One replacement string of a job: `each` is called per value (quoted or not by the caller);
 * values of {} are separated by a space. Returns 0 when it stands for nothing ({5} of a job
 * with 2 arguments), which parallel drops without even an empty quote. */
static int seg_value(pr_buf_t *b, const pr_seg_t *g, const pr_job_args_t *a, int quote)
{
    pr_buf_t tmp = {0};
    char num[32];
    if (g->op == PR_OP_SEQ || g->op == PR_OP_SLOT) {
        snprintf(num, sizeof num, "%llu",
                 (unsigned long long)(g->op == PR_OP_SEQ ? a->seq : a->slot));
        pr_buf_adds(b, num);
        return 1;
    }
    if (g->pos == 0) {
        for (size_t i = 0; i < a->nargs; i++) {
            if (i > 0)
                pr_buf_adds(b, " ");
            apply_op(&tmp, a->args[i], g->op);
            if (quote)
                pr_quote(b, tmp.p != NULL ? tmp.p : "");
            else
                pr_buf_add(b, tmp.p != NULL ? tmp.p : "", tmp.len);
            tmp.len = 0;
        }
        free(tmp.p);
        return a->nargs > 0;
    }
    long i = g->pos > 0 ? g->pos - 1 : (long)a->nargs + g->pos;
    if (i < 0 || (size_t)i >= a->nargs)
        return 0;
    apply_op(&tmp, a->args[i], g->op);
    if (quote)
        pr_quote(b, tmp.p != NULL ? tmp.p : "");
    else
        pr_buf_add(b, tmp.p != NULL ? tmp.p : "", tmp.len);
    free(tmp.p);
    return 1;
}

static void word_raw(pr_buf_t *b, const pr_word_t *w, const pr_job_args_t *a)
{
    for (size_t k = 0; k < w->nseg; k++) {
        if (w->seg[k].text != NULL)
            pr_buf_add(b, w->seg[k].text, w->seg[k].len);
        else
            seg_value(b, &w->seg[k], a, 0);
    }
}

char *pr_expand_shell(const pr_template_t *t, const pr_job_args_t *a, int quote_words)
{
    pr_buf_t b = {0}, raw = {0};
    if (t->nw == 0) { /* the inputs are the commands */
        for (size_t i = 0; i < a->nargs; i++) {
            if (i > 0)
                pr_buf_adds(&b, " ");
            pr_buf_adds(&b, a->args[i]);
        }
        return pr_buf_steal(&b);
    }
    for (size_t i = 0; i < t->nw; i++) {
        const pr_word_t *w = &t->w[i];
        if (i > 0)
            pr_buf_adds(&b, " ");
        if (quote_words) {
            raw.len = 0;
            word_raw(&raw, w, a);
            pr_quote(&b, raw.p != NULL ? raw.p : "");
            continue;
        }
        for (size_t k = 0; k < w->nseg; k++) {
            if (w->seg[k].text != NULL)
                pr_buf_add(&b, w->seg[k].text, w->seg[k].len);
            else
                seg_value(&b, &w->seg[k], a, 1);
        }
    }
    free(raw.p);
    if (!t->has_repl) {
        for (size_t i = 0; i < a->nargs; i++) {
            pr_buf_adds(&b, " ");
            pr_quote(&b, a->args[i]);
        }
    }
    return pr_buf_steal(&b);
}

char **pr_expand_argv(const pr_template_t *t, const pr_job_args_t *a)
{
    size_t n = t->nw + (t->has_repl ? 0 : a->nargs), k = 0;
    char **v = xrealloc(NULL, (n + 1) * sizeof *v);
    pr_buf_t b = {0};
    for (size_t i = 0; i < t->nw; i++) {
        word_raw(&b, &t->w[i], a);
        v[k++] = pr_buf_steal(&b);
    }
    for (size_t i = 0; !t->has_repl && i < a->nargs; i++) {
        v[k++] = strdup(a->args[i]);
        if (v[k - 1] == NULL) {
            fputs("pool-run: out of memory\n", stderr);
            exit(PR_EXIT_ERROR);
        }
    }
    v[k] = NULL;
    return v;
}

char *pr_expand_plain(const pr_template_t *t, const pr_job_args_t *a)
{
    pr_buf_t b = {0};
    for (size_t i = 0; i < t->nw; i++) {
        if (i > 0)
            pr_buf_adds(&b, " ");
        word_raw(&b, &t->w[i], a);
    }
    return pr_buf_steal(&b);
}
