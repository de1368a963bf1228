/* libFuzzer target for launcher prefixes (launcher_prefix.c): any strings as cwd, env, relay,
 * file and arguments. Input: one byte of options (quote mode, which fields are set), then
 * NUL-separated words. Nothing may crash or leak, and what comes out must say exactly the
 * words that went in: split as separate arguments, or, quoted for ssh, read back by a POSIX
 * shell's word splitting (done here for the forms sh gives meaning to: bare words, '...'
 * and \x), which must give every word back unchanged and in order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "launcher/launcher.h"

#define MAXW 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* POSIX sh's reading of one command line into words (no expansions: quoting must leave none
 * active, so any unquoted $, `, *, ?, ~, ; etc. is a failure). Returns the count or -1. */
static int sh_split(const char *s, char **words, int max)
{
    int n = 0;
    size_t len = strlen(s);
    char *cur = malloc(len + 1);
    size_t k = 0;
    int in_word = 0;
    if (cur == NULL)
        return -1;
    for (const char *c = s;; c++) {
        if (*c == '\0' || *c == ' ') {
            if (in_word) {
                if (n == max)
                    goto fail;
                cur[k] = '\0';
                words[n++] = strdup(cur);
                k = 0;
                in_word = 0;
            }
            if (*c == '\0')
                break;
            continue;
        }
        in_word = 1;
        if (*c == '\'') {
            const char *end = strchr(c + 1, '\'');
            if (end == NULL)
                goto fail;
            memcpy(cur + k, c + 1, (size_t)(end - c - 1));
            k += (size_t)(end - c - 1);
            c = end;
        } else if (*c == '\\') {
            if (c[1] == '\0')
                goto fail;
            cur[k++] = *++c;
        } else if (strchr("@%+=:,./_-", *c) != NULL || (*c >= 'a' && *c <= 'z') ||
                   (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9')) {
            cur[k++] = *c;
        } else {
            goto fail; /* special to the shell, and not quoted */
        }
    }
    free(cur);
    return n;
fail:
    free(cur);
    for (int i = 0; i < n; i++)
        free(words[i]);
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const ssh[] = {"ssh", "-T", "host", NULL};
    static const char *const srun[] = {"srun", "--", NULL};
    const char *w[MAXW + 1], *env[MAXW + 1], *expect[3 * MAXW + 8];
    char *argv[MAXW + 1], *copy, **out, *split[3 * MAXW + 8];
    uvproc_remote_t r = {0};
    size_t nw = 0, ne = 0, nx = 0, nl;
    int err, quoted, k;
    uint8_t opt;

    if (size < 1)
        return 0;
    opt = data[0];
    copy = malloc(size);
    if (copy == NULL)
        return 0;
    memcpy(copy, data + 1, size - 1);
    copy[size - 1] = '\0';
    for (char *at = copy; nw < MAXW && at < copy + size - 1; at += strlen(at) + 1)
        w[nw++] = at;
    if (nw == 0) {
        free(copy);
        return 0;
    }

    /* Word 0 is the file; then cwd and relay if asked; "K=V"-looking words are env (when
     * env is asked), the rest arguments. */
    r.launcher = (opt & 1) ? srun : ssh;
    r.quote = (uvproc_remote_quote_t)((opt >> 1) & 3);
    {
        size_t i = 1, na = 0;
        if ((opt & 8) && i < nw)
            r.cwd = w[i++];
        if ((opt & 16) && i < nw)
            r.relay = w[i++];
        argv[na++] = (char *)"argv0";
        for (; i < nw; i++) {
            if ((opt & 32) && strchr(w[i], '=') != NULL)
                env[ne++] = w[i];
            else
                argv[na++] = (char *)w[i];
        }
        argv[na] = NULL;
        env[ne] = NULL;
        if (ne > 0)
            r.env = env;
    }
    err = uvproc__launcher_prefix_argv(&r, NULL, w[0], argv, &out);
    if (err != 0) {
        free(copy);
        return 0;
    }

    /* The words the far side must see. */
    if (r.cwd != NULL || r.env != NULL) {
        expect[nx++] = "env";
        if (r.cwd != NULL) {
            expect[nx++] = "-C";
            expect[nx++] = r.cwd;
        }
        for (size_t i = 0; i < ne; i++)
            expect[nx++] = env[i];
    }
    if (r.relay != NULL)
        expect[nx++] = r.relay;
    expect[nx++] = w[0];
    for (size_t i = 1; argv[i] != NULL; i++)
        expect[nx++] = argv[i];

    nl = r.launcher == ssh ? 3 : 2;
    for (size_t i = 0; i < nl; i++)
        if (strcmp(out[i], r.launcher[i]) != 0)
            abort();
    quoted = r.quote == UVPROC_REMOTE_QUOTE_SHELL ||
             (r.quote == UVPROC_REMOTE_QUOTE_AUTO && r.launcher == ssh);
    if (quoted) {
        if (out[nl] == NULL || out[nl + 1] != NULL)
            abort();
        /* ssh would read a leading '-' as its own option. */
        if (out[nl][0] == '-')
            abort();
        k = sh_split(out[nl], split, 3 * MAXW + 8);
        if (k < 0 || (size_t)k != nx)
            abort();
        for (int i = 0; i < k; i++) {
            if (strcmp(split[i], expect[i]) != 0)
                abort();
            free(split[i]);
        }
    } else {
        for (size_t i = 0; i < nx; i++)
            if (out[nl + i] == NULL || strcmp(out[nl + i], expect[i]) != 0)
                abort();
        if (out[nl + nx] != NULL)
            abort();
    }
    free(out);
    free(copy);
    return 0;
}
