/* uvproc_strerror / uvproc_err_name: libuv's codes plus the few this library adds. */
#include <string.h>

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
#ifdef UVPROC_HAVE_STRERRORDESC_NP
    /* libuv names only the errnos it uses itself (ENOEXEC is "Unknown system error -8"). */
    if (err < 0 && err > -4096 && strncmp(uv_err_name(err), "Unknown", 7) == 0 &&
        strerrordesc_np(-err) != NULL)
        return strerrordesc_np(-err);
#endif
    return uv_strerror(err);
}

const char *uvproc_err_name(int err)
{
    const uvproc__error_entry_t *e = uvproc__find_error(err);
    if (e != NULL)
        return e->name;
    if (err == 0)
        return "OK";
#ifdef UVPROC_HAVE_STRERRORDESC_NP
    if (err < 0 && err > -4096 && strncmp(uv_err_name(err), "Unknown", 7) == 0 &&
        strerrorname_np(-err) != NULL)
        return strerrorname_np(-err);
#endif
    return uv_err_name(err);
}
