/* Launcher prefixes: the argv that runs a child through ssh, srun or any program that runs its
 * arguments, and the POSIX shell quoting ssh needs. ssh does not pass an argv: it joins its
 * arguments with single spaces and the remote login shell splits that string again, so an
 * argument with a space, a quote, a `$` or a newline arrives changed unless each word is
 * quoted for that shell. */
#include <stdlib.h>
#include <string.h>

#include "launcher.h"

/* Words made only of these are the same to every POSIX shell, quoted or not (the set Python's
 * shlex.quote leaves bare). */
static int uvproc__is_safe_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("@%+=:,./_-", c) != NULL;
}

size_t uvproc__launcher_shell_quote(const char *s, char *dst, int first)
{
    size_t n = 0;
    /* As the start of ssh's command argument, a '-' would read as an option of ssh. */
    int safe = s[0] != '\0' && !(first && s[0] == '-');
    for (const char *c = s; *c != '\0' && safe; c++)
        safe = uvproc__is_safe_char(*c);
    if (safe) {
        n = strlen(s);
        if (dst != NULL)
            memcpy(dst, s, n);
        return n;
    }
    /* Inside single quotes nothing is special but the quote itself: end the quoted part,
     * write an escaped quote, start again. */
    if (dst != NULL)
        dst[n] = '\'';
    n++;
    for (const char *c = s; *c != '\0'; c++) {
        if (*c == '\'') {
            if (dst != NULL)
                memcpy(dst + n, "'\\''", 4);
            n += 4;
        } else {
            if (dst != NULL)
                dst[n] = *c;
            n++;
        }
    }
    if (dst != NULL)
        dst[n] = '\'';
    return n + 1;
}

static int uvproc__is_ssh(const char *path)
{
    const char *base = strrchr(path, '/');
    return strcmp(base != NULL ? base + 1 : path, "ssh") == 0;
}

static size_t uvproc__count(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

static int uvproc__check_env(const char *const *env)
{
    for (size_t i = 0; env != NULL && env[i] != NULL; i++)
        if (strchr(env[i], '=') == NULL || env[i][0] == '=')
            return UV_EINVAL;
    return 0;
}

/* The remote words, borrowed, in order; *n is their count. `words` has room for all. */
static void uvproc__remote_words(const uvproc_remote_t *r, const char *const *extra_env,
                                 const char *file, char *const *argv, const char **words, size_t *n)
{
    size_t k = 0;
    if (r->cwd != NULL || r->env != NULL || extra_env != NULL) {
        words[k++] = "env";
        if (r->cwd != NULL) {
            words[k++] = "-C";
            words[k++] = r->cwd;
        }
        for (size_t i = 0; r->env != NULL && r->env[i] != NULL; i++)
            words[k++] = r->env[i];
        for (size_t i = 0; extra_env != NULL && extra_env[i] != NULL; i++)
            words[k++] = extra_env[i];
    }
    if (r->relay != NULL)
        words[k++] = r->relay;
    words[k++] = file;
    for (size_t i = 1; argv[0] != NULL && argv[i] != NULL; i++)
        words[k++] = argv[i];
    *n = k;
}

int uvproc__launcher_prefix_argv(const uvproc_remote_t *r, const char *const *extra_env,
                                 const char *file, char *const *argv, char ***out)
{
    size_t nl = uvproc__count(r->launcher), nw, nargv = uvproc__count((const char *const *)argv);
    size_t max_words = 4 + uvproc__count(r->env) + uvproc__count(extra_env) + nargv + 1;
    const char **words;
    size_t bytes = 0, nout;
    int quote;
    char **v, *at;

    *out = NULL;
    if (nl == 0 || r->launcher[0][0] == '\0' || file == NULL || file[0] == '\0')
        return UV_EINVAL;
    if (r->quote < UVPROC_REMOTE_QUOTE_AUTO || r->quote > UVPROC_REMOTE_QUOTE_NONE)
        return UV_EINVAL;
    if (uvproc__check_env(r->env) != 0 || uvproc__check_env(extra_env) != 0 ||
        (r->cwd != NULL && r->cwd[0] == '\0') || (r->relay != NULL && r->relay[0] == '\0'))
        return UV_EINVAL;
    quote = r->quote == UVPROC_REMOTE_QUOTE_SHELL ||
            (r->quote == UVPROC_REMOTE_QUOTE_AUTO && uvproc__is_ssh(r->launcher[0]));

    words = malloc(max_words * sizeof *words);
    if (words == NULL)
        return UV_ENOMEM;
    uvproc__remote_words(r, extra_env, file, argv, words, &nw);

    for (size_t i = 0; i < nl; i++)
        bytes += strlen(r->launcher[i]) + 1;
    for (size_t i = 0; i < nw; i++)
        bytes +=
            (quote ? uvproc__launcher_shell_quote(words[i], NULL, i == 0) : strlen(words[i])) + 1;
    nout = nl + (quote ? 1 : nw);
    v = malloc((nout + 1) * sizeof *v + bytes);
    if (v == NULL) {
        free(words);
        return UV_ENOMEM;
    }
    at = (char *)(v + nout + 1);
    for (size_t i = 0; i < nl; i++) {
        v[i] = at;
        at = stpcpy(at, r->launcher[i]) + 1;
    }
    if (quote) {
        /* One argument, so that no word of it can be taken for an ssh option. */
        v[nl] = at;
        for (size_t i = 0; i < nw; i++) {
            if (i > 0)
                *at++ = ' ';
            at += uvproc__launcher_shell_quote(words[i], at, i == 0);
        }
        *at = '\0';
    } else {
        for (size_t i = 0; i < nw; i++) {
            v[nl + i] = at;
            at = stpcpy(at, words[i]) + 1;
        }
    }
    v[nout] = NULL;
    free(words);
    *out = v;
    return 0;
}
