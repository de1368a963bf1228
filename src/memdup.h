/* A NUL-terminated heap copy of bytes that may hold NULs (captured output, job output). */
#ifndef UVPROC_MEMDUP_H
#define UVPROC_MEMDUP_H

#include <stddef.h>

/* len bytes of `bytes` plus a '\0' after them, or NULL when out of memory. */
char *uvproc__memdup0(const char *bytes, size_t len);

#endif
