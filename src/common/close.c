/* Closing a heap-allocated handle and freeing it once libuv is done with it. A close callback
 * must have uv_close_cb's type: calling free() through a cast uv_close_cb pointer is undefined
 * behaviour (C11 6.3.2.3p8), even where it happens to work. */
#include <stdlib.h>

#include "common.h"
#include "uvproc.h"

static void free_handle(uv_handle_t *h)
{
    free(h);
}

void uvproc__common_close_free(uv_handle_t *h)
{
    uv_close(h, free_handle);
}

void uvproc_handle_close(uv_stream_t *stream)
{
    if (stream != NULL)
        uvproc__common_close_free((uv_handle_t *)stream);
}
