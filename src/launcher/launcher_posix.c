/* Launcher over posix_spawn + a pidfd per child: the fallback behind the clone launcher
 * (UVPROC_LAUNCHER=posix), kept for comparison and for hosts where the clone path misbehaves.
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
 * them go to the clone launcher (launcher_clone.c), with the same cost profile.
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
            int child_end;
            int err2 = uvproc__launcher_slot_pipe(s, &parent_ends[i], &child_end);
            if (err2 != 0)
                return err2;
            sources[i] = child_end;
            src = child_end;
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
            /* Our own pipe end, already above the slots (the usual case: 0-2 are
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

static int uvproc__posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                               const posix_spawnattr_t *attr, char **argv, char **env)
{
    char **sh_argv;
    int err = -posix_spawn(pid, path, fa, attr, argv, env);
    if (err != -ENOEXEC)
        return err;
    if ((sh_argv = uvproc__launcher_sh_argv(path, argv)) == NULL)
        return UV_ENOMEM;
    err = -posix_spawn(pid, "/bin/sh", fa, attr, sh_argv, env);
    free(sh_argv);
    return err;
}

/* The child is running but we cannot watch it: take it down and reap it now. */
static void uvproc__abandon(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int uvproc__launcher_posix_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                                 void *owner, uvproc__launcher_exit_cb on_exit,
                                 uvproc__launcher_t **out)
{
    uv_loop_t *loop = uvproc__launcher_loop_uv(ll);
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
    /* posix_spawn has no attribute for these: the clone launcher serves them. */
    if (req->set_uid || req->set_gid || req->kill_on_parent_death)
        return uvproc__launcher_clone_start(ll, req, owner, on_exit, out);
    if ((err = uvproc__launcher_begin(req, 2, &fds, &exec_path)) != 0)
        return err;
    sources = fds;
    parent_ends = fds + n;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    l = calloc(1, sizeof *l);
    err = l == NULL ? UV_ENOMEM : uvproc__file_actions(req, sources, parent_ends, &fa);
    if (err == 0)
        err = uvproc__attributes(req, &attr);
    if (err == 0) {
        const char *path = exec_path != NULL ? exec_path : req->file;
        char **env = req->env != NULL ? req->env : environ;
        err = uvproc__posix_spawn(&pid, path, &fa, &attr, req->argv, env);
    }
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    free(exec_path);
    uvproc__launcher_close_all(sources, n);
    if (err == 0 && (pidfd = pidfd_open(pid, 0)) < 0)
        err = -errno;
    if (err == 0)
        err = uvproc__launcher_open_ends(req, parent_ends);
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
    uvproc__launcher_close_all(parent_ends, n);
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
