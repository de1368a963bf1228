/* Launcher over posix_spawn + pidfd: the Linux fast path.
 *
 * glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK): no page tables are copied, so starting
 * a child costs the same from a 10 MiB parent as from a 4 GiB one, where fork() (uv_spawn on
 * libuv 1.44) grows ~14 us per MiB touched. Exec failures still come back synchronously (the
 * parent is suspended until the child execs or fails).
 *
 * Exit is watched through a pidfd polled on the loop, and the child is reaped with wait4() on
 * its own pid: no SIGCHLD handler, no walk over every child on each signal, and kill goes
 * through pidfd_send_signal, which cannot hit a recycled pid.
 *
 * posix_spawn has no attribute for a parent-death signal or for uid/gid: requests that need
 * them go through our own clone(CLONE_VM | CLONE_VFORK) below, with the same cost profile.
 * Kernels without pidfd_open (< 5.3) get UV_ENOSYS, and launcher.c falls back to uv_spawn. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

typedef struct {
    uvproc__launcher_t base;
    uv_poll_t poll;
    int pidfd;
    pid_t pid;
    void *owner;
    uvproc__launcher_exit_cb on_exit;
    uvproc__launcher_closed_cb on_closed;
} uvproc__posix_launcher_t;

static const uvproc__launcher_ops_t uvproc__posix_ops;

/* sources[i] for a slot whose fd is already the child's fd i (nothing to do, nothing to
 * close): negative, so the cleanup loops skip it. */
#define UVPROC__IN_PLACE (-2)

static pthread_once_t uvproc__pidfd_once = PTHREAD_ONCE_INIT;
static int uvproc__pidfd_works;

static void uvproc__probe_pidfd(void)
{
    int fd = pidfd_open(getpid(), 0);
    uvproc__pidfd_works = fd >= 0;
    if (fd >= 0)
        close(fd);
}

int uvproc__launcher_posix_available(void)
{
    pthread_once(&uvproc__pidfd_once, uvproc__probe_pidfd);
    return uvproc__pidfd_works;
}

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
static int uvproc__resolve(const char *file, char **env, const char *cwd, char **exec_path)
{
    const char *path = uvproc__env_get(env, "PATH");
    size_t flen = strlen(file);
    int found_unusable = 0;

    *exec_path = NULL;
    if (strchr(file, '/') != NULL)
        return 0;
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

static void uvproc__close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

static void uvproc__on_pidfd(uv_poll_t *poll, int status, int events)
{
    uvproc__posix_launcher_t *l = poll->data;
    int wstatus = 0;
    struct rusage ru;
    pid_t r;
    (void)status;
    (void)events;

    do
        r = wait4(l->pid, &wstatus, WNOHANG, &ru);
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return;
    /* No uv_poll_stop here: on_exit closes the launcher at once, and uv_close stops the
     * poll itself. Stopping first cost an epoll_ctl(DEL) per exit, and the close's own DEL
     * then failed with ENOENT: two syscalls for one. */
    if (r < 0) {
        /* ECHILD: the host reaped our child itself (waitpid(-1)); the status is lost. */
        l->on_exit(l->owner, -ECHILD, 0, NULL);
        return;
    }
    if (WIFSIGNALED(wstatus))
        l->on_exit(l->owner, 0, WTERMSIG(wstatus), &ru);
    else
        l->on_exit(l->owner, WEXITSTATUS(wstatus), 0, &ru);
}

/* Child fds are built with file actions. Every source fd is above the child's slots (moved
 * there with F_DUPFD_CLOEXEC if it is not already), so a dup2 onto slot i can never clobber
 * the source of a later slot
 * (the stdout/stderr swap), and a dup2 never has equal source and target (whose CLOEXEC
 * handling varies across glibc versions). Everything above the slots is closed in the child,
 * so even fds the host opened without O_CLOEXEC do not leak. */
static int uvproc__file_actions(const uvproc__launcher_launch_t *req, int *sources,
                                int *parent_ends, posix_spawn_file_actions_t *fa)
{
    int n = req->slot_count;
    for (int i = 0; i < n; i++) {
        const uvproc__launcher_launch_slot_t *s = &req->slots[i];
        int src = -1, err = 0;
        if (s->kind == UVPROC__SLOT_PIPE) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
                return -errno;
            parent_ends[i] = sv[0];
            sources[i] = sv[1];
            src = sv[1];
        } else if (s->kind == UVPROC__SLOT_FD) {
            int flags = s->fd == i ? fcntl(i, F_GETFD) : -1;
            /* Inherited in place (the parent's fd 1 as the child's 1), without CLOEXEC: the
             * child has it already. One fcntl instead of a move, a close and a dup2. */
            if (flags >= 0 && !(flags & FD_CLOEXEC)) {
                sources[i] = UVPROC__IN_PLACE;
                continue;
            }
            src = s->fd;
        }
        if (src >= 0 && src >= n && sources[i] >= 0) {
            /* Our own socketpair end, already above the slots (the usual case: 0-2 are
             * taken): no move needed, which saves an fcntl and a close per pipe. */
            err = posix_spawn_file_actions_adddup2(fa, src, i);
        } else if (src >= 0) {
            int moved = fcntl(src, F_DUPFD_CLOEXEC, n);
            if (moved < 0)
                return -errno;
            if (sources[i] >= 0)
                close(sources[i]);
            sources[i] = moved;
            err = posix_spawn_file_actions_adddup2(fa, moved, i);
        } else if (i < 3) {
            err = posix_spawn_file_actions_addopen(fa, i, "/dev/null", O_RDWR, 0);
        } else {
            /* An ignored extra slot is closed in the child, even if the host has that fd
             * open without CLOEXEC: open something there first so the close cannot fail. */
            err = posix_spawn_file_actions_addopen(fa, i, "/dev/null", O_RDONLY, 0);
            if (err == 0)
                err = posix_spawn_file_actions_addclose(fa, i);
        }
        if (err != 0)
            return -err;
    }
    if (posix_spawn_file_actions_addclosefrom_np(fa, n) != 0)
        return UV_ENOSYS;
    if (req->cwd != NULL && posix_spawn_file_actions_addchdir_np(fa, req->cwd) != 0)
        return UV_ENOMEM;
    return 0;
}

static int uvproc__attributes(const uvproc__launcher_launch_t *req, posix_spawnattr_t *attr)
{
    sigset_t none, all;
    short flags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    /* Default dispositions and an empty mask, as uv_spawn gives: notably SIGPIPE, which this
     * library ignores in the parent, must kill the child normally. */
    sigemptyset(&none);
    sigfillset(&all);
    if (req->detached)
        flags |= POSIX_SPAWN_SETSID;
    if (posix_spawnattr_setflags(attr, flags) != 0 ||
        posix_spawnattr_setsigmask(attr, &none) != 0 ||
        posix_spawnattr_setsigdefault(attr, &all) != 0)
        return UV_EINVAL;
    return 0;
}

/* An executable file that is not a binary and has no #! line: execvp (uv_spawn, Node) runs it
 * with /bin/sh, and so do we, so both launchers start the same things. This is that command
 * line: `/bin/sh path argv[1]...` (malloc'd; the strings are borrowed). */
static char **uvproc__sh_argv(const char *path, char **argv)
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

static int uvproc__posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                               const posix_spawnattr_t *attr, char **argv, char **env)
{
    char **sh_argv;
    int err = -posix_spawn(pid, path, fa, attr, argv, env);
    if (err != -ENOEXEC)
        return err;
    if ((sh_argv = uvproc__sh_argv(path, argv)) == NULL)
        return UV_ENOMEM;
    err = -posix_spawn(pid, "/bin/sh", fa, attr, sh_argv, env);
    free(sh_argv);
    return err;
}

/* ---------------------------------------------------------------------------------------- */
/* Our own clone(CLONE_VM | CLONE_VFORK), for what posix_spawn has no attribute for: a
 * parent-death signal and uid/gid. It is posix_spawn's technique (glibc's spawni.c): the child
 * borrows the parent's memory on a stack of its own until it execs, the calling thread waits
 * meanwhile, and an exec failure comes back through the shared memory.
 *
 * The child runs inside the parent's address space, so it may do only what cannot disturb the
 * parent: plain system calls, no allocation, no locks. Hence raw syscalls for setgroups/setgid/
 * setuid: glibc's wrappers broadcast the change to every thread of the process, and the
 * threads glibc knows about here are the parent's. Every signal is blocked across the clone,
 * so no handler of the parent's ever runs on the child's stack; the child resets dispositions
 * to default before it unblocks them, just before exec. */

typedef struct {
    const uvproc__launcher_launch_t *req;
    const int *sources; /* per slot: the fd to dup2 there (all above the slots), or -1 */
    const char *path;
    char **env;
    char **sh_argv; /* the ENOEXEC retry, prepared by the parent: no malloc in the child */
    pid_t parent;
    int max_fd; /* for closing without close_range */
    int err;    /* written by the child when it fails, read after clone returns */
} uvproc__clone_args_t;

static int uvproc__clone_child(void *arg)
{
    uvproc__clone_args_t *a = arg;
    const uvproc__launcher_launch_t *req = a->req;
    struct sigaction dfl;
    sigset_t none;
    int n = req->slot_count;

    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction cur;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &cur) == 0 &&
            cur.sa_handler != SIG_DFL)
            sigaction(sig, &dfl, NULL);
    }
    if (req->detached && setsid() < 0)
        goto fail;
    for (int i = 0; i < n; i++) {
        if (a->sources[i] == UVPROC__IN_PLACE) {
            continue;
        } else if (a->sources[i] >= 0) {
            if (dup2(a->sources[i], i) < 0)
                goto fail;
        } else if (i < 3) {
            int fd = open("/dev/null", O_RDWR);
            if (fd < 0 || (fd != i && (dup2(fd, i) < 0 || close(fd) < 0)))
                goto fail;
        } else {
            close(i);
        }
    }
    if (close_range((unsigned)n, ~0U, 0) != 0)
        for (int fd = n; fd < a->max_fd; fd++)
            close(fd);
    if (req->cwd != NULL && chdir(req->cwd) != 0)
        goto fail;
    if (req->set_gid) {
        syscall(SYS_setgroups, 0, NULL); /* fails without privilege: the gid switch says more */
        if (syscall(SYS_setgid, req->gid) != 0)
            goto fail;
    }
    if (req->set_uid && syscall(SYS_setuid, req->uid) != 0)
        goto fail;
    /* After the identity switch: the kernel clears the parent-death signal on a credential
     * change. Then make sure the parent did not die before the signal was armed. */
    if (req->kill_on_parent_death) {
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0)
            goto fail;
        if (getppid() != a->parent) {
            errno = ESRCH;
            goto fail;
        }
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->path, req->argv, a->env);
    if (errno == ENOEXEC)
        execve("/bin/sh", a->sh_argv, a->env);
fail:
    a->err = errno;
    _exit(127);
}

static int uvproc__clone_spawn(pid_t *pid, const uvproc__launcher_launch_t *req, const int *sources,
                               const char *path, char **env)
{
    const size_t stack_size = 256 * 1024;
    uvproc__clone_args_t a = {
        .req = req,
        .sources = sources,
        .path = path,
        .env = env,
        .parent = getpid(),
        .max_fd = getdtablesize(),
    };
    sigset_t all, old;
    void *stack;
    pid_t child;
    int clone_errno;

    a.sh_argv = uvproc__sh_argv(path, req->argv);
    if (a.sh_argv == NULL)
        return UV_ENOMEM;
    stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                 -1, 0);
    if (stack == MAP_FAILED) {
        free(a.sh_argv);
        return -errno;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    child = clone(uvproc__clone_child, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD,
                  &a);
    clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    munmap(stack, stack_size);
    free(a.sh_argv);
    if (child < 0)
        return -clone_errno;
    if (a.err != 0) {
        /* It never exec'd: reap it here, the loop never hears of it. */
        while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
            ;
        return -a.err;
    }
    *pid = child;
    return 0;
}

/* The child is running but we cannot watch it: take it down and reap it now. */
static void uvproc__abandon(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int uvproc__launcher_posix_start(uv_loop_t *loop, const uvproc__launcher_launch_t *req, void *owner,
                                 uvproc__launcher_exit_cb on_exit, uvproc__launcher_t **out)
{
    int stack_fds[2 * 8];
    int *fds = stack_fds;
    int *sources, *parent_ends;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    uvproc__posix_launcher_t *l = NULL;
    char *exec_path = NULL;
    pid_t pid = 0;
    int pidfd = -1, err, n = req->slot_count;

    *out = NULL;
    if (!uvproc__launcher_posix_available())
        return UV_ENOSYS;
    err = uvproc__resolve(req->file, req->env, req->cwd, &exec_path);
    if (err != 0)
        return err;
    if (n > 8 && (fds = malloc(2 * (size_t)n * sizeof *fds)) == NULL) {
        free(exec_path);
        return UV_ENOMEM;
    }
    sources = fds;
    parent_ends = fds + n;
    for (int i = 0; i < 2 * n; i++)
        fds[i] = -1;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    l = calloc(1, sizeof *l);
    err = l == NULL ? UV_ENOMEM : uvproc__file_actions(req, sources, parent_ends, &fa);
    if (err == 0)
        err = uvproc__attributes(req, &attr);
    if (err == 0) {
        const char *path = exec_path != NULL ? exec_path : req->file;
        char **env = req->env != NULL ? req->env : environ;
        if (req->set_uid || req->set_gid || req->kill_on_parent_death)
            err = uvproc__clone_spawn(&pid, req, sources, path, env);
        else
            err = uvproc__posix_spawn(&pid, path, &fa, &attr, req->argv, env);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(exec_path);
    uvproc__close_all(sources, n);
    if (err == 0 && (pidfd = pidfd_open(pid, 0)) < 0)
        err = -errno;
    for (int i = 0; i < n && err == 0; i++) {
        if (parent_ends[i] < 0)
            continue;
        err = uv_pipe_open(req->slots[i].pipe, parent_ends[i]);
        if (err == 0)
            parent_ends[i] = -1; /* the pipe owns it now */
    }
    if (err == 0 && (err = uv_poll_init(loop, &l->poll, pidfd)) == 0) {
        l->base.ops = &uvproc__posix_ops;
        l->poll.data = l;
        l->pidfd = pidfd;
        l->pid = pid;
        l->owner = owner;
        l->on_exit = on_exit;
        uv_poll_start(&l->poll, UV_READABLE, uvproc__on_pidfd);
        *out = &l->base;
    }
    uvproc__close_all(parent_ends, n);
    if (fds != stack_fds)
        free(fds);
    if (err != 0) {
        if (pid > 0)
            uvproc__abandon(pid);
        if (pidfd >= 0)
            close(pidfd);
        free(l);
    }
    return err;
}

static uv_pid_t uvproc__posix_pid(const uvproc__launcher_t *base)
{
    return ((const uvproc__posix_launcher_t *)base)->pid;
}

static int uvproc__posix_kill(uvproc__launcher_t *base, int signum)
{
    uvproc__posix_launcher_t *l = (uvproc__posix_launcher_t *)base;
    return pidfd_send_signal(l->pidfd, signum, NULL, 0) == 0 ? 0 : -errno;
}

static void uvproc__posix_closed(uv_handle_t *h)
{
    uvproc__posix_launcher_t *l = h->data;
    uvproc__launcher_closed_cb cb = l->on_closed;
    void *owner = l->owner;
    close(l->pidfd);
    free(l);
    if (cb != NULL)
        cb(owner);
}

static void uvproc__posix_close(uvproc__launcher_t *base, uvproc__launcher_closed_cb on_closed)
{
    uvproc__posix_launcher_t *l = (uvproc__posix_launcher_t *)base;
    l->on_closed = on_closed;
    uv_close((uv_handle_t *)&l->poll, uvproc__posix_closed);
}

static void uvproc__posix_set_ref(uvproc__launcher_t *base, int ref)
{
    uvproc__posix_launcher_t *l = (uvproc__posix_launcher_t *)base;
    if (ref)
        uv_ref((uv_handle_t *)&l->poll);
    else
        uv_unref((uv_handle_t *)&l->poll);
}

static const uvproc__launcher_ops_t uvproc__posix_ops = {
    .name = "posix",
    .pid = uvproc__posix_pid,
    .kill = uvproc__posix_kill,
    .close = uvproc__posix_close,
    .set_ref = uvproc__posix_set_ref,
};
