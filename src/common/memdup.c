/* memdup: the one copy helper that exec's sync variants and the pool share. */
#include <stdlib.h>
#include <string.h>

#include "common.h"

char *uvproc__common_memdup0(const char *bytes, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy == NULL)
        return NULL;
    memcpy(copy, bytes, len);
    copy[len] = '\0';
    return copy;
}
