/* uvproc_strerror / uvproc_err_name: libuv's codes plus this library's, whose names and
 * messages come from the one list in uvproc.h (UVPROC_ERRNO_MAP). */
#include <string.h>

#include "uvproc.h"

typedef struct {
    int code;
    const char *name;
    const char *message;
} uvproc__error_entry_t;

static const uvproc__error_entry_t uvproc__errors[] = {
#define UVPROC__ERR_ENTRY(name, code, msg) {code, #name, msg},
    UVPROC_ERRNO_MAP(UVPROC__ERR_ENTRY)
#undef UVPROC__ERR_ENTRY
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
