/* One read buffer per loop thread, shared by stdio pipes and IPC channels (see readbuf.h). */
#include "common.h"

static _Thread_local char uvproc__read_buffer[64 * 1024];

void uvproc__common_read_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(uvproc__read_buffer, sizeof uvproc__read_buffer);
}
