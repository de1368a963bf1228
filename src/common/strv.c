/* NULL-terminated string vectors (argv, env): the copies every layer keeps of its options. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

size_t uvproc__common_strv_len(const char *const *v)
{
    size_t n = 0;
    while (v != NULL && v[n] != NULL)
        n++;
    return n;
}

char **uvproc__common_strv_dup(const char *first, const char *const *rest, size_t extra)
{
    size_t n = uvproc__common_strv_len(rest), k = 0;
    char **v = calloc((first != NULL) + n + extra + 1, sizeof *v);

    if (v == NULL)
        return NULL;
    if (first != NULL && (v[k++] = strdup(first)) == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++)
        if ((v[k++] = strdup(rest[i])) == NULL)
            goto fail;
    return v;

fail:
    uvproc__common_strv_free(v);
    return NULL;
}

char *uvproc__common_strv_join(const char *first, const char *const *rest)
{
    size_t len = strlen(first) + 1, at;
    char *line;

    for (size_t i = 0; rest != NULL && rest[i] != NULL; i++)
        len += strlen(rest[i]) + 1;
    line = malloc(len);
    if (line == NULL)
        return NULL;
    at = strlen(first);
    memcpy(line, first, at);
    for (size_t i = 0; rest != NULL && rest[i] != NULL; i++) {
        size_t n = strlen(rest[i]);
        line[at++] = ' ';
        memcpy(line + at, rest[i], n);
        at += n;
    }
    line[at] = '\0';
    return line;
}

void uvproc__common_strv_free(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        free(v[i]);
    free(v);
}
