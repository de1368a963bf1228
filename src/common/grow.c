/* Growing an array by doubling: the one copy of the realloc dance the tables and queues use. */
#include <stdint.h>
#include <stdlib.h>

#include "common.h"

void *uvproc__common_grow(void *array, size_t *cap, size_t n, size_t elem, size_t first)
{
    size_t ncap;
    void *grown;

    if (n < *cap)
        return array;
    ncap = *cap != 0 ? *cap : first != 0 ? first : 1;
    while (ncap <= n) {
        if (ncap > SIZE_MAX / 2 / elem)
            return NULL;
        ncap *= 2;
    }
    grown = realloc(array, ncap * elem);
    if (grown != NULL)
        *cap = ncap;
    return grown;
}
