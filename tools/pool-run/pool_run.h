/* pool-run's parts: input sources (pool_run_input.c), command templates with GNU parallel's
 * replacement strings and shell quoting (pool_run_template.c), the run (pool_run.c). */
#ifndef UVPROC_TOOLS_POOL_RUN_H
#define UVPROC_TOOLS_POOL_RUN_H

#include <stddef.h>
#include <stdint.h>

#define PR_EXIT_ERROR 255 /* parallel's "other error": an input file, the job log, a signal */

/* A growing byte string. */
typedef struct {
    char *p;
    size_t len, cap;
} pr_buf_t;

void pr_buf_add(pr_buf_t *b, const char *s, size_t n);
void pr_buf_adds(pr_buf_t *b, const char *s);
char *pr_buf_steal(pr_buf_t *b); /* NUL-terminated; the buffer is empty again */

/* ---- inputs ---- */

/* One input source: `:::` arguments, a `::::` / -a file, or stdin. `linked`: joined to the
 * source before it (`:::+`, `::::+`) rather than crossed with it. */
typedef struct {
    char **v; /* a record holding a NUL byte ends there, as it would in argv */
    size_t n, cap;
    int linked;
} pr_source_t;

typedef struct {
    pr_source_t *src;
    size_t nsrc;
    int link_all; /* --link: every source linked, the shorter ones wrap around */
    char delim;   /* record separator of files and stdin: '\n', '\0' (-0), or -d */
    /* Filled by pr_inputs_plan: the product's shape. */
    size_t ngroups;
    size_t *group_first, *group_len; /* per group: its first source, its row count */
    uint64_t total;                  /* jobs */
} pr_inputs_t;

/* Adds the `:::` words as one source (split at newlines, as parallel does). */
int pr_inputs_add_args(pr_inputs_t *in, char **words, size_t n, int linked);
/* Adds a file's records ("-" is stdin). 0, or -errno. */
int pr_inputs_add_file(pr_inputs_t *in, const char *path, int linked);
/* Computes the number of jobs and the groups. */
void pr_inputs_plan(pr_inputs_t *in);
/* Job `k` (0-based) gets one value per source, in `out` (in->nsrc entries, borrowed). */
void pr_inputs_job(const pr_inputs_t *in, uint64_t k, const char **out);
void pr_inputs_free(pr_inputs_t *in);

/* ---- templates ---- */

enum { PR_OP_NONE, PR_OP_DOT, PR_OP_BASE, PR_OP_DIR, PR_OP_BASEDOT, PR_OP_SEQ, PR_OP_SLOT };

typedef struct {
    const char *text; /* literal part (len bytes), or NULL for a replacement string */
    size_t len;
    int pos; /* replacement: 0 for every argument ({}), n for {n}, -n for {-n} */
    int op;
} pr_seg_t;

typedef struct {
    pr_seg_t *seg;
    size_t nseg;
} pr_word_t;

typedef struct {
    pr_word_t *w;
    size_t nw;
    int has_repl; /* a replacement string of inputs appears ({#} and {%} do not count) */
    int has_slot; /* {%} appears */
} pr_template_t;

/* What one job's expansion needs. */
typedef struct {
    const char **args;
    size_t nargs;
    uint64_t seq;
    unsigned slot;
} pr_job_args_t;

/* Parses words into a template. On a replacement string pool-run does not support ({= =}) it
 * returns -1 and sets *bad to it (a malloc'd copy). */
int pr_template_parse(pr_template_t *t, char **words, size_t n, char **bad);
void pr_template_free(pr_template_t *t);

/* parallel's quoting for a POSIX shell: nothing for [-_.+a-zA-Z0-9/]+, '' for "", else in
 * single quotes with ' written '"'"'. */
void pr_quote(pr_buf_t *b, const char *s);

/* The command line for a shell: words joined by spaces, values quoted (-q: each whole word
 * quoted); without a replacement string the (quoted) arguments are appended. An empty
 * template makes the arguments themselves the command (`parallel ::: 'echo a'`). */
char *pr_expand_shell(const pr_template_t *t, const pr_job_args_t *a, int quote_words);
/* The argv for --no-shell: one word per template word, values as they are; without a
 * replacement string each argument is appended as its own word. NULL-terminated. */
char **pr_expand_argv(const pr_template_t *t, const pr_job_args_t *a);
/* A tag (--tagstring): the template's words with values unquoted, joined by spaces. */
char *pr_expand_plain(const pr_template_t *t, const pr_job_args_t *a);

#endif
