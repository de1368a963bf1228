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
    /* pool */
    {UVPROC_EQUEUEFULL, "EQUEUEFULL", "pool queue is full"},
    {UVPROC_EPOOLCLOSED, "EPOOLCLOSED", "pool is draining or terminated"},
    {UVPROC_EWORKERDIED, "EWORKERDIED", "pool worker exited while running the job"},
    {UVPROC_EJOBERROR, "EJOBERROR", "pool worker's method reported an error"},
    {UVPROC_EPROTOCOL, "EPROTOCOL", "pool worker broke the workerpool protocol"},
    /* cluster (issue 8) */
    {UVPROC_ECRASHLOOP, "ECRASHLOOP", "a cluster worker kept crashing; restarts stopped"},
};

static const uvproc__error_entry_t *uvproc__find_error(int err)
{
    for (size_t i = 0; i < sizeof uvproc__errors / sizeof uvproc__errors[0]; i++)
        if (uvproc__errors[i].code == err)
            return &uvproc__errors[i];
    return NULL;
}

/* libuv's uv_strerror/uv_err_name strdup a fresh "Unknown system error N" for a code it does
 * not know, which nobody can free: ask the _r variant, which allocates nothing, and answer
 * such codes without calling them. */
static int uvproc__uv_knows(int err)
{
    char buf[64];
    uv_err_name_r(err, buf, sizeof buf);
    return strncmp(buf, "Unknown", 7) != 0;
}

/* Codes libuv has no words for (it knows the errnos it uses itself; ENOEXEC is not one):
 * glibc's, where it has them. */
static const char *uvproc__errno_text(int err, int want_name)
{
#ifdef UVPROC_HAVE_STRERRORDESC_NP
    if (err < 0 && err > -4096) {
        const char *t = want_name ? strerrorname_np(-err) : strerrordesc_np(-err);
        if (t != NULL)
            return t;
    }
#endif
    return want_name ? "UNKNOWN" : "unknown error";
}

const char *uvproc_strerror(int err)
{
    const uvproc__error_entry_t *e = uvproc__find_error(err);
    if (e != NULL)
        return e->message;
    if (err == 0)
        return "success";
    return uvproc__uv_knows(err) ? uv_strerror(err) : uvproc__errno_text(err, 0);
}

const char *uvproc_err_name(int err)
{
    const uvproc__error_entry_t *e = uvproc__find_error(err);
    if (e != NULL)
        return e->name;
    if (err == 0)
        return "OK";
    return uvproc__uv_knows(err) ? uv_err_name(err) : uvproc__errno_text(err, 1);
}
