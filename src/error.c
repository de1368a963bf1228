/* uvproc_strerror / uvproc_err_name: libuv's codes plus the few this library adds. */
#include "uvproc.h"

typedef struct {
    int code;
    const char *name;
    const char *message;
} uvproc__error_entry_t;

static const uvproc__error_entry_t uvproc__errors[] = {
    {UVPROC_EEXITCODE, "EEXITCODE", "child exited with a non-zero code"},
    {UVPROC_ESIGNALED, "ESIGNALED", "child was terminated by a signal"},
    {UVPROC_EMAXBUFFER, "EMAXBUFFER", "child output exceeded max_buffer"},
    {UVPROC_EBADMSG, "EBADMSG", "malformed IPC message: not exactly one JSON value"},
    {UVPROC_ESERIALIZATION, "ESERIALIZATION",
     "unsupported IPC serialization mode (only \"json\" is supported)"},
    {UVPROC_ENOCHANNEL, "ENOCHANNEL", "no IPC channel: NODE_CHANNEL_FD is not set"},
};

static const uvproc__error_entry_t *uvproc__find_error(int err)
{
    for (size_t i = 0; i < sizeof uvproc__errors / sizeof uvproc__errors[0]; i++)
        if (uvproc__errors[i].code == err)
            return &uvproc__errors[i];
    return NULL;
}

const char *uvproc_strerror(int err)
{
    const uvproc__error_entry_t *e = uvproc__find_error(err);
    if (e != NULL)
        return e->message;
    if (err == 0)
        return "success";
    return uv_strerror(err);
}

const char *uvproc_err_name(int err)
{
    const uvproc__error_entry_t *e = uvproc__find_error(err);
    if (e != NULL)
        return e->name;
    if (err == 0)
        return "OK";
    return uv_err_name(err);
}
