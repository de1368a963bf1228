/* What the clone and posix launchers share: the PATH search in the child's environment, the
 * /bin/sh retry for a script without #!, and the pipe behind a stdio slot. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

static const char *uvproc__env_get(char **env, const char *key)
{
    size_t klen = strlen(key);
    for (char **e = env != NULL ? env : environ; e != NULL && *e != NULL; e++)
        if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=')
            return *e + klen + 1;
    return NULL;
}

/* execvp's search, but in the PATH of the CHILD's environment (as uv_spawn does, which sets
 * environ before execvp; posix_spawnp would search the parent's). Directories in PATH that are
 * relative are relative to the child's cwd. *exec_path is malloc'd, or NULL to use `file`. */
int uvproc__launcher_resolve(const char *file, char **env, const char *cwd, char **exec_path)
{
    const char *path;
    size_t flen = strlen(file);
    int found_unusable = 0;

    *exec_path = NULL;
    if (strchr(file, '/') != NULL)
        return 0; /* before the walk over the environment: a path needs no PATH */
    path = uvproc__env_get(env, "PATH");
    if (path == NULL)
        path = "/bin:/usr/bin"; /* glibc's execvp default */
    for (const char *dir = path;; dir++) {
        const char *end = strchr(dir, ':');
        size_t dlen = end != NULL ? (size_t)(end - dir) : strlen(dir);
        /* An empty element means the current directory: it is written as ".", so it is sized
         * as "." too (sizing it as 0 bytes put the NUL past the buffer). */
        const char *dname = dlen > 0 ? dir : ".";
        size_t nlen = dlen > 0 ? dlen : 1;
        int relative = dname[0] != '/';
        size_t cwdlen = relative && cwd != NULL ? strlen(cwd) : 0;
        size_t prefix = relative && cwd != NULL ? cwdlen + 1 : 0;
        char *candidate = malloc(prefix + nlen + 1 + flen + 1);
        char *exec_form;
        struct stat st;

        if (candidate == NULL)
            return UV_ENOMEM;
        /* `exec_form` is what the child (already in cwd) executes; `candidate` is the same file
         * seen from here. */
        if (prefix > 0) {
            memcpy(candidate, cwd, cwdlen);
            candidate[cwdlen] = '/';
        }
        exec_form = candidate + prefix;
        memcpy(exec_form, dname, nlen);
        exec_form[nlen] = '/';
        memcpy(exec_form + nlen + 1, file, flen + 1);
        if (stat(candidate, &st) == 0) {
            if (S_ISREG(st.st_mode) && access(candidate, X_OK) == 0) {
                memmove(candidate, exec_form, strlen(exec_form) + 1);
                *exec_path = candidate;
                return 0;
            }
            found_unusable = 1;
        }
        free(candidate);
        if (end == NULL)
            break;
        dir = end;
    }
    return found_unusable ? UV_EACCES : UV_ENOENT;
}

/* An executable file that is not a binary and has no #! line: execvp (uv_spawn, Node) runs it
 * with /bin/sh, and so do we, so both launchers start the same things. This is that command
 * line: `/bin/sh path argv[1]...` (malloc'd; the strings are borrowed). */
char **uvproc__launcher_sh_argv(const char *path, char **argv)
{
    size_t argc = 0;
    char **sh_argv;
    while (argv[argc] != NULL)
        argc++;
    sh_argv = malloc((argc + 2) * sizeof *sh_argv);
    if (sh_argv == NULL)
        return NULL;
    sh_argv[0] = "/bin/sh";
    sh_argv[1] = (char *)path;
    for (size_t i = 1; i <= argc; i++)
        sh_argv[i + 1] = argv[i];
    return sh_argv;
}

/* A slot that carries fds (the IPC channel) or goes both ways (extra slots) needs a socket; a
 * one-way stdio slot gets a pipe: on this kernel a pipe moves bulk output for 10-30 % less CPU
 * per byte than an AF_UNIX socketpair (research/floors.md 2.4), and the child sees what a
 * shell would give it. */
int uvproc__launcher_slot_pipe(const uvproc__launcher_launch_slot_t *s, int *parent_end,
                               int *child_end)
{
    int fds[2];
    if (s->pipe->ipc || (s->child_reads && s->child_writes)) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0)
            return -errno;
        *parent_end = fds[0];
        *child_end = fds[1];
        return 0;
    }
    if (pipe2(fds, O_CLOEXEC) != 0)
        return -errno;
    *parent_end = s->child_reads ? fds[1] : fds[0];
    *child_end = s->child_reads ? fds[0] : fds[1];
    return 0;
}

int uvproc__launcher_begin(const uvproc__launcher_launch_t *req, int per_slot, int **fds,
                           char **exec_path)
{
    int n = req->slot_count, err;
    if ((err = uvproc__launcher_resolve(req->file, req->env, req->cwd, exec_path)) != 0)
        return err;
    if (n > 8 && (*fds = malloc((size_t)per_slot * (size_t)n * sizeof **fds)) == NULL) {
        free(*exec_path);
        *exec_path = NULL;
        return UV_ENOMEM;
    }
    for (int i = 0; i < 2 * n; i++)
        (*fds)[i] = -1;
    return 0;
}

int uvproc__launcher_open_ends(const uvproc__launcher_launch_t *req, int *parent_ends)
{
    int err = 0;
    for (int i = 0; i < req->slot_count && err == 0; i++) {
        if (parent_ends[i] < 0)
            continue;
        err = uv_pipe_open(req->slots[i].pipe, parent_ends[i]);
        if (err == 0)
            parent_ends[i] = -1;
    }
    return err;
}

void uvproc__launcher_close_all(const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}
