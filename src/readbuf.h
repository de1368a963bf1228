/* The read buffer every stream of the library reads into. */
#ifndef UVPROC_READBUF_H
#define UVPROC_READBUF_H

#include <uv.h>

/* A uv_alloc_cb: every read of every child pipe and channel on this thread lands in the same
 * 64 KiB. That is safe because each read is delivered synchronously and the buffer is only
 * borrowed by the callback, and it means no allocation per read. */
void uvproc__read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

#endif
