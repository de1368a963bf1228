/* uvproc_spawn: turns the user's options into a launch request (argv with argv0, shell or
 * exec_path applied; env merged; stdio slots), starts it, and attributes failures. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher/launcher.h"
#include "process.h"
#include "common/common.h"

extern char **environ;

/* libuv never closes a stream on fds 0-2 ("nothing good comes from it") and asserts when
 * its EMFILE reserve fd sits there at uv_loop_close: if the host has closed one of them (a
 * daemon), a pipe made for the child would take it and stay open for good. Hold the free ones
 * with /dev/null while the pipes are made; lowest first, as open() returns the lowest fd. */
static void uvproc__hold_std_fds(int held[3])
{
    for (int fd = 0; fd < 3; fd++) {
        held[fd] = -1;
        if (fcntl(fd, F_GETFD) == -1 && errno == EBADF) {
            int got = open("/dev/null", O_RDWR | O_CLOEXEC);
            if (got == fd)
                held[fd] = got;
            else if (got >= 0)
                close(got);
        }
    }
}

/* Whether any slot will be a pipe (as uvproc__setup_slot decides). */
static int uvproc__wants_pipe(const uvproc_spawn_options_t *o)
{
    for (int fd = 0; fd < 3; fd++)
        if (o->stdio[fd].type == UVPROC_STDIO_PIPE || o->stdio[fd].type == UVPROC_STDIO_DEFAULT)
            return 1;
    for (size_t i = 0; i < o->extra_stdio_count; i++)
        if (o->extra_stdio[i].type == UVPROC_STDIO_PIPE)
            return 1;
    return 0;
}

static void uvproc__release_std_fds(const int held[3])
{
    for (int fd = 0; fd < 3; fd++)
        if (held[fd] >= 0)
            close(held[fd]);
}

static size_t uvproc__key_len(const char *entry)
{
    const char *eq = strchr(entry, '=');
    return eq != NULL ? (size_t)(eq - entry) : strlen(entry);
}

/* Adds "KEY=VALUE" to env (room already reserved), replacing an entry with the same KEY. */
static void uvproc__env_put(char **env, size_t *n, const char *entry)
{
    size_t klen = uvproc__key_len(entry);
    for (size_t i = 0; i < *n; i++) {
        if (uvproc__key_len(env[i]) == klen && memcmp(env[i], entry, klen) == 0) {
            env[i] = (char *)entry;
            return;
        }
    }
    env[(*n)++] = (char *)entry;
}

/* The child's environment, or NULL for the parent's own. Entries are borrowed: uv_spawn has
 * exec'd (or failed) before we free the array. */
static int uvproc__build_env(const uvproc_spawn_options_t *o, const char *const *override,
                             char ***out)
{
    const char *const *base = NULL;
    const char *const *user = o->env;
    size_t n = 0, cap;
    char **env;

    *out = NULL;
    if (user == NULL && override == NULL)
        return 0;
    if (user == NULL || o->env_mode == UVPROC_ENV_EXTEND)
        base = (const char *const *)environ;
    cap = uvproc__common_strv_len(base) + uvproc__common_strv_len(user) + uvproc__common_strv_len(override) + 1;
    env = malloc(cap * sizeof *env);
    if (env == NULL)
        return UV_ENOMEM;
    for (size_t i = 0; base != NULL && base[i] != NULL; i++)
        uvproc__env_put(env, &n, base[i]);
    for (size_t i = 0; user != NULL && user[i] != NULL; i++)
        uvproc__env_put(env, &n, user[i]);
    for (size_t i = 0; override != NULL && override[i] != NULL; i++)
        uvproc__env_put(env, &n, override[i]);
    env[n] = NULL;
    *out = env;
    return 0;
}

typedef struct {
    const char *file;
    char **argv;
    char *command; /* shell mode's joined command line */
    char **prefixed; /* remote: the launcher's argv with the command after it (one block) */
} uvproc__argv_t;

static int uvproc__build_argv(const char *file, const char *const *args,
                              const uvproc_spawn_options_t *o,
                              const uvproc__process_spawn_extra_t *x, uvproc__argv_t *a)
{
    const char *exec_path = x != NULL ? x->exec_path : NULL;
    const char *const *exec_args = x != NULL ? x->exec_args : NULL;
    size_t n = 0;

    memset(a, 0, sizeof *a);
    if (o->shell != NULL) {
        a->command = uvproc__common_strv_join(file, args); /* Node's shell mode */
        a->argv = malloc(4 * sizeof *a->argv);
        if (a->command == NULL || a->argv == NULL)
            return UV_ENOMEM;
        a->file = o->shell;
        a->argv[n++] = (char *)(o->argv0 != NULL ? o->argv0 : o->shell);
        a->argv[n++] = "-c";
        a->argv[n++] = a->command;
        a->argv[n] = NULL;
        return 0;
    }
    a->argv = malloc((uvproc__common_strv_len(exec_args) + uvproc__common_strv_len(args) + 3) * sizeof *a->argv);
    if (a->argv == NULL)
        return UV_ENOMEM;
    if (exec_path != NULL) {
        a->file = exec_path;
        a->argv[n++] = (char *)(o->argv0 != NULL ? o->argv0 : exec_path);
        for (size_t i = 0; exec_args != NULL && exec_args[i] != NULL; i++)
            a->argv[n++] = (char *)exec_args[i];
        a->argv[n++] = (char *)file;
    } else {
        a->file = file;
        a->argv[n++] = (char *)(o->argv0 != NULL ? o->argv0 : file);
    }
    for (size_t i = 0; args != NULL && args[i] != NULL; i++)
        a->argv[n++] = (char *)args[i];
    a->argv[n] = NULL;
    return 0;
}

/* Remote children: the command built above runs behind the launcher prefix. */
static int uvproc__apply_remote(const uvproc_spawn_options_t *o,
                                const uvproc__process_spawn_extra_t *x, uvproc__argv_t *a)
{
    int err;
    if (o->remote == NULL)
        return 0;
    err = uvproc__launcher_prefix_argv(o->remote, x != NULL ? x->remote_env : NULL, a->file,
                                       a->argv, &a->prefixed);
    if (err == 0)
        a->file = a->prefixed[0];
    return err;
}

static int uvproc__check_stdio(const uvproc_stdio_t *s)
{
    if (s->type < UVPROC_STDIO_DEFAULT || s->type > UVPROC_STDIO_FD)
        return UV_EINVAL;
    if (s->type == UVPROC_STDIO_FD && s->fd < 0)
        return UV_EINVAL;
    return 0;
}

/* Sets up slot `fd` of the launch request (and the parent's pipe for it). */
static int uvproc__setup_slot(uvproc_process_t *p, uvproc__launcher_launch_slot_t *slot, int fd,
                              const uvproc_stdio_t *s)
{
    uvproc_stdio_type_t type = s->type;
    if (type == UVPROC_STDIO_DEFAULT)
        type = fd < 3 ? UVPROC_STDIO_PIPE : UVPROC_STDIO_IGNORE;
    switch (type) {
    case UVPROC_STDIO_PIPE: {
        /* stdin is written by the parent, stdout/stderr read; extra pipes go both ways. */
        int parent_reads = fd != 0, parent_writes = fd == 0 || fd > 2;
        int err = uvproc__process_stdio_init(p, fd, parent_reads, parent_writes);
        if (err != 0)
            return err;
        slot->kind = UVPROC__SLOT_PIPE;
        slot->pipe = &p->slots[fd].pipe;
        slot->child_reads = parent_writes;
        slot->child_writes = parent_reads;
        return 0;
    }
    case UVPROC_STDIO_INHERIT:
        slot->kind = UVPROC__SLOT_FD;
        slot->fd = fd;
        return 0;
    case UVPROC_STDIO_FD:
        slot->kind = UVPROC__SLOT_FD;
        slot->fd = s->fd;
        return 0;
    default:
        slot->kind = UVPROC__SLOT_IGNORE;
        return 0;
    }
}

/* uv_spawn reports a missing or unusable cwd as the program's ENOENT/EACCES (the child's
 * chdir fails before exec). Node repeats that confusion; we look at the directory and name
 * the real culprit. */
static const char *uvproc__attribute_error(const char *cwd, int *err)
{
    struct stat st;
    if (cwd == NULL || (*err != UV_ENOENT && *err != UV_EACCES && *err != UV_ENOTDIR))
        return "spawn";
    if (stat(cwd, &st) != 0) {
        *err = -errno;
        return "chdir";
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = UV_ENOTDIR;
        return "chdir";
    }
    if (access(cwd, X_OK) != 0) {
        *err = -errno;
        return "chdir";
    }
    return "spawn";
}

/* Step 1: arguments that make no process at all. */
static int uvproc__check_options(uv_loop_t *loop, const char *file, const uvproc_spawn_options_t *o)
{
    if (loop == NULL || file == NULL || file[0] == '\0')
        return UV_EINVAL;
    if (o->extra_stdio_count > 1024 || (o->extra_stdio_count > 0 && o->extra_stdio == NULL))
        return UV_EINVAL;
    if (o->remote != NULL && o->extra_stdio_count > 0) /* only fds 0-2 cross a launcher */
        return UV_EINVAL;
    for (int i = 0; i < 3; i++)
        if (uvproc__check_stdio(&o->stdio[i]) != 0)
            return UV_EINVAL;
    for (size_t i = 0; i < o->extra_stdio_count; i++)
        if (uvproc__check_stdio(&o->extra_stdio[i]) != 0)
            return UV_EINVAL;
    return 0;
}

/* What step 2 builds: the launch request and the memory behind it, freed once launched. */
typedef struct {
    uvproc__launcher_launch_t req;
    uvproc__argv_t argv;
    char **env;
    uvproc__launcher_launch_slot_t *slots;
    uvproc__launcher_launch_slot_t stack_slots[8];
} uvproc__spawn_request_t;

static void uvproc__request_free(uvproc__spawn_request_t *r)
{
    if (r->slots != r->stack_slots)
        free(r->slots);
    free(r->env);
    free(r->argv.argv);
    free(r->argv.command);
    free(r->argv.prefixed);
}

/* Step 2a: the command, environment and slot array of the request (slots still empty). */
static int uvproc__build_request(uvproc__spawn_request_t *r, const char *file,
                                 const char *const *args, const uvproc_spawn_options_t *o,
                                 const uvproc__process_spawn_extra_t *x)
{
    int slot_count = 3 + (x != NULL && x->ipc_pipe != NULL) + (int)o->extra_stdio_count;
    int err;

    r->env = NULL;
    r->slots = r->stack_slots;
    err = uvproc__build_argv(file, args, o, x, &r->argv);
    if (err == 0)
        err = uvproc__apply_remote(o, x, &r->argv);
    if (err == 0)
        err = uvproc__build_env(o, x != NULL ? x->env_override : NULL, &r->env);
    if (err == 0 && slot_count > (int)(sizeof r->stack_slots / sizeof r->stack_slots[0])) {
        r->slots = calloc((size_t)slot_count, sizeof *r->slots);
        if (r->slots == NULL)
            err = UV_ENOMEM;
    }
    if (err != 0)
        return err;
    memset(r->slots, 0, (size_t)slot_count * sizeof *r->slots);
    r->req = (uvproc__launcher_launch_t){
        .file = r->argv.file,
        .argv = r->argv.prefixed != NULL ? r->argv.prefixed : r->argv.argv,
        .env = r->env,
        .cwd = o->cwd,
        .detached = o->detached,
        .kill_on_parent_death = o->kill_on_parent_death,
        .set_uid = o->set_uid,
        .set_gid = o->set_gid,
        .uid = o->uid,
        .gid = o->gid,
        .slot_count = slot_count,
        .slots = r->slots,
    };
    return 0;
}

/* Step 2b: each slot of the request, with the process's pipe where the slot is one. */
static int uvproc__setup_slots(uvproc_process_t *p, uvproc__spawn_request_t *r,
                               const uvproc_spawn_options_t *o,
                               const uvproc__process_spawn_extra_t *x)
{
    int ipc = x != NULL && x->ipc_pipe != NULL;
    int chan_stdio = x != NULL && x->channel_stdio[0] != NULL;
    uvproc__launcher_launch_slot_t *slots = r->slots;
    int err = 0;

    for (int fd = 0; fd < r->req.slot_count && err == 0; fd++) {
        if (fd < 2 && chan_stdio) {
            slots[fd].kind = UVPROC__SLOT_PIPE;
            slots[fd].pipe = x->channel_stdio[fd];
            slots[fd].child_reads = fd == 0;
            slots[fd].child_writes = fd == 1;
            continue;
        }
        if (fd == 3 && ipc) {
            slots[fd].kind = UVPROC__SLOT_PIPE;
            slots[fd].pipe = x->ipc_pipe;
            slots[fd].child_reads = slots[fd].child_writes = 1;
            continue;
        }
        err = uvproc__setup_slot(p, &slots[fd], fd,
                                 fd < 3 ? &o->stdio[fd] : &o->extra_stdio[fd - 3 - ipc]);
    }
    return err;
}

/* Step 3: start the child. Whatever fails from here on is the child's runtime failure,
 * reported through error and close, never returned. */
static void uvproc__start(uvproc_process_t *p, uvproc__spawn_request_t *r,
                          const uvproc_spawn_options_t *o,
                          const uvproc__process_spawn_extra_t *x)
{
    int channel = x != NULL && (x->ipc_pipe != NULL || x->channel_stdio[0] != NULL);
    int held[3] = {-1, -1, -1};
    int err;

    /* Only a child with a pipe needs the check (libuv opens its EMFILE reserve fd at the
     * loop's first stream, and the launcher makes the pipes): one with none skips its three
     * fcntl calls. */
    if (channel || uvproc__wants_pipe(o))
        uvproc__hold_std_fds(held);
    if (channel)
        uvproc__process_hold(p); /* released by the channel once its pipe is closed */
    err = uvproc__setup_slots(p, r, o, x);

    p->detached = (unsigned char)(o->detached != 0);
    if (err == 0)
        err = uvproc__process_launch(p, &r->req);
    uvproc__release_std_fds(held);
    if (err != 0) {
        const char *syscall = uvproc__attribute_error(o->cwd, &err);
        uvproc__process_failed(p, err, syscall,
                               strcmp(syscall, "chdir") == 0 ? o->cwd : r->argv.file);
    }
}

int uvproc__process_spawn(uv_loop_t *loop, uvproc_process_t **out, const char *file,
                          const char *const *args, const uvproc_spawn_options_t *options,
                          const uvproc__process_spawn_extra_t *extra)
{
    static const uvproc_spawn_options_t defaults;
    const uvproc_spawn_options_t *o = options != NULL ? options : &defaults;
    uvproc__spawn_request_t r;
    uvproc_process_t *p = NULL;
    int err;

    if (out != NULL)
        *out = NULL;
    err = uvproc__check_options(loop, file, o);
    if (err != 0)
        return err;

    uvproc__common_ignore_sigpipe_once();
    err = uvproc__build_request(&r, file, args, o, extra);
    if (err == 0 && (p = uvproc__process_new(loop, o, r.req.slot_count)) == NULL)
        err = UV_ENOMEM;

    if (err == 0) {
        uvproc__start(p, &r, o, extra);
        if (out != NULL)
            *out = p;
    }
    uvproc__request_free(&r);
    return err;
}

int uvproc_spawn(uv_loop_t *loop, uvproc_process_t **out, const char *file, const char *const *args,
                 const uvproc_spawn_options_t *options)
{
    return uvproc__process_spawn(loop, out, file, args, options, NULL);
}
