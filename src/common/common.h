/* common: what every layer of the library may use. error.c (uvproc_strerror and
 * uvproc_err_name over the code list in uvproc.h), sigpipe.c (SIGPIPE policy), memdup.c
 * (NUL-terminated copies), readbuf.c (the read buffer every stream shares), list.h (the
 * intrusive list), fifo.h (events a state machine raises on itself, in order), close.c
 * (free-on-close, and uvproc_handle_close for users), strv.c (string vectors), grow.c (array
 * doubling).
 * Calls go one way: every other folder may include this header; this folder includes no other. */
#ifndef UVPROC__COMMON_H
#define UVPROC__COMMON_H

#include <stddef.h>
#include <uv.h>

/* SIGPIPE policy, shared by everything that writes to a peer process. */
/* Sets SIGPIPE to SIG_IGN once per process, if the host left it at SIG_DFL. Thread-safe. */
void uvproc__common_ignore_sigpipe_once(void);

/* A NUL-terminated heap copy of bytes that may hold NULs (captured output, job output). */
/* len bytes of `bytes` plus a '\0' after them, or NULL when out of memory. */
char *uvproc__common_memdup0(const char *bytes, size_t len);

/* The read buffer every stream of the library reads into. */
/* A uv_alloc_cb: every read of every child pipe and channel on this thread lands in the same
 * 64 KiB. That is safe because each read is delivered synchronously and the buffer is only
 * borrowed by the callback, and it means no allocation per read. */
void uvproc__common_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

/* Handles the library malloc()ed: uv_close() them, free() them from the close callback. */
void uvproc__common_close_free(uv_handle_t *h);

/* NULL-terminated string vectors (argv, env) the library copies from its options. */
/* Entries before the NULL; 0 for a NULL vector. */
size_t uvproc__common_strv_len(const char *const *v);
/* A copy of `first` (skipped when NULL) followed by `rest` (may be NULL), NULL-terminated,
 * with room for `extra` more entries: the caller may append that many and it stays
 * NULL-terminated. NULL when out of memory (nothing is leaked). */
char **uvproc__common_strv_dup(const char *first, const char *const *rest, size_t extra);
void uvproc__common_strv_free(char **v);
/* `first` and the words of `rest` (may be NULL) joined with single spaces, as Node joins a
 * command line (exec's `cmd`, spawn's shell mode); NULL when out of memory. */
char *uvproc__common_strv_join(const char *first, const char *const *rest);

/* An array of `elem`-sized entries holding `n` with room for `*cap`: returns it unchanged
 * while n < *cap, else realloc()ed to twice the capacity (`first` entries the first time) and
 * *cap updated. NULL when out of memory: the old array and *cap stay as they were. */
void *uvproc__common_grow(void *array, size_t *cap, size_t n, size_t elem, size_t first);

#endif
