/* The default launcher: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) + one epoll per loop.
 *
 * Start: the child borrows the parent's memory on a stack of its own until it execs, the
 * calling thread waits meanwhile (posix_spawn's technique, glibc's spawni.c), and an exec
 * failure comes back through the shared memory. Unlike glibc's posix_spawn, the child stack is
 * mapped once per thread and reused: glibc maps and unmaps one per call, and unmapping memory a
 * CLONE_VM child just ran on from the other CPU costs a TLB-shootdown IPI (15 % of posix_spawn's
 * parent profile on the VM this was measured on, research/floors.md 2.1). The pidfd comes from
 * clone itself (no pidfd_open), the fd sweep is the child's close_range (no getrlimit), and
 * everything else the child needs is done by the child, not the parent.
 *
 * Exit: every pidfd of a loop sits in one epoll set that libuv watches through one uv_poll_t
 * (uvproc__launcher_loop_t). A pidfd is added once (EPOLLONESHOT) and closed after waitid: no
 * libuv handle per child (whose init probes the fd with an epoll_ctl ADD/DEL pair and an
 * ioctl), and no epoll_ctl(DEL): closing the pidfd takes it out of the set. EPOLLONESHOT is
 * what makes that safe: a pidfd still open in a child forked elsewhere in the process (between
 * its fork and its exec) keeps the epoll entry alive after our close, and a disarmed entry can
 * never report again, so no event arrives for a freed launcher.
 *
 * The clone asks for no exit signal (the kernel gives the child SIGCHLD back when it execs),
 * so a child that fails before its exec is invisible to the host's waitpid(-1) and is reaped
 * here with __WALL.
 *
 * The child runs inside the parent's address space, so it does only what cannot disturb the
 * parent: plain system calls, no allocation, no locks. Raw syscalls for setgroups/setgid/setuid:
 * glibc's wrappers broadcast the change to every thread of the process, and the threads glibc
 * knows about here are the parent's. No handler of the parent's may ever run on the child's
 * stack: clone3's CLONE_CLEAR_SIGHAND resets them all as the child is made (uvproc__clone3),
 * or, where that is not to be had, every signal is blocked across the clone. The child then
 * resets what is still not default (ignored signals) and opens its mask, just before exec. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "launcher.h"

extern char **environ;

struct uvproc__launcher_loop_s {
    uv_loop_t *loop;
    uv_poll_t poll; /* on epfd; initialised with the first clone child */
    int epfd;       /* -1 until then */
    int armed;      /* children whose pidfd is in the set */
    int refd;       /* of which the loop waits for */
    int released;   /* the owner is done with it: close once nothing is armed */
};

typedef struct {
    uvproc__launcher_t base;
    uvproc__launcher_loop_t *ll;
    int pidfd; /* -1 once reaped */
    pid_t pid;
    unsigned char ref;
    void *owner;
    uvproc__launcher_exit_cb on_exit;
} uvproc__clone_launcher_t;

static const uvproc__launcher_ops_t uvproc__clone_ops;

/* ---------------------------------------------------------------------------------------- */
/* The per-loop epoll set of pidfds. */

uvproc__launcher_loop_t *uvproc__launcher_loop_new(uv_loop_t *loop)
{
    uvproc__launcher_loop_t *ll = calloc(1, sizeof *ll);
    if (ll != NULL) {
        ll->loop = loop;
        ll->epfd = -1;
    }
    return ll;
}

uv_loop_t *uvproc__launcher_loop_uv(const uvproc__launcher_loop_t *ll)
{
    return ll->loop;
}

static void uvproc__loop_poll_closed(uv_handle_t *h)
{
    uvproc__launcher_loop_t *ll = h->data;
    close(ll->epfd);
    free(ll);
}

static void uvproc__loop_maybe_free(uvproc__launcher_loop_t *ll)
{
    if (!ll->released || ll->armed > 0)
        return;
    if (ll->epfd < 0)
        free(ll);
    else
        uv_close((uv_handle_t *)&ll->poll, uvproc__loop_poll_closed);
}

void uvproc__launcher_loop_release(uvproc__launcher_loop_t *ll)
{
    if (ll == NULL)
        return;
    ll->released = 1;
    uvproc__loop_maybe_free(ll);
}

/* The poll keeps the loop alive exactly while a referenced child is alive. */
static void uvproc__loop_update_ref(uvproc__launcher_loop_t *ll)
{
    if (ll->refd > 0)
        uv_ref((uv_handle_t *)&ll->poll);
    else
        uv_unref((uv_handle_t *)&ll->poll);
}

static void uvproc__reap(uvproc__clone_launcher_t *l);

/* One wake-up, one batch: every pidfd that became readable is reaped here. */
static void uvproc__on_pidfds(uv_poll_t *h, int status, int events)
{
    uvproc__launcher_loop_t *ll = h->data;
    struct epoll_event ev[64];
    int n;
    (void)status;
    (void)events;

    do {
        n = epoll_wait(ll->epfd, ev, (int)(sizeof ev / sizeof ev[0]), 0);
        for (int i = 0; i < n; i++)
            uvproc__reap(ev[i].data.ptr);
    } while (n == (int)(sizeof ev / sizeof ev[0]) || (n < 0 && errno == EINTR));
}

static int uvproc__loop_open(uvproc__launcher_loop_t *ll)
{
    int err;
    if (ll->epfd >= 0)
        return 0;
    ll->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (ll->epfd < 0)
        return -errno;
    err = uv_poll_init(ll->loop, &ll->poll, ll->epfd);
    if (err == 0)
        err = uv_poll_start(&ll->poll, UV_READABLE, uvproc__on_pidfds);
    if (err != 0) {
        /* uv_poll_init fails before it registers anything: nothing to close on the loop. */
        close(ll->epfd);
        ll->epfd = -1;
        return err;
    }
    ll->poll.data = ll;
    uv_unref((uv_handle_t *)&ll->poll);
    return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* The child stack: one per thread, mapped on first use and unmapped when the thread exits
 * (the main thread's lives as long as the process). A thread runs one clone at a time (vfork
 * suspends it), so one stack per thread is enough. A guard page below it turns an overflow
 * into a fault instead of a write into whatever the parent has mapped there. */

#define UVPROC__STACK_SIZE (256 * 1024)

static pthread_once_t uvproc__stack_once = PTHREAD_ONCE_INIT;
static pthread_key_t uvproc__stack_key;
static int uvproc__stack_key_ok;
static _Thread_local char *uvproc__stack;

static void uvproc__stack_free(void *stack)
{
    munmap(stack, UVPROC__STACK_SIZE);
}

static void uvproc__stack_key_create(void)
{
    uvproc__stack_key_ok = pthread_key_create(&uvproc__stack_key, uvproc__stack_free) == 0;
}

static char *uvproc__child_stack_top(void)
{
    if (uvproc__stack == NULL) {
        char *s = mmap(NULL, UVPROC__STACK_SIZE, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
        if (s == MAP_FAILED)
            return NULL;
        mprotect(s, 4096, PROT_NONE);
        pthread_once(&uvproc__stack_once, uvproc__stack_key_create);
        if (uvproc__stack_key_ok)
            pthread_setspecific(uvproc__stack_key, s);
        uvproc__stack = s;
    }
    return uvproc__stack + UVPROC__STACK_SIZE;
}

/* ---------------------------------------------------------------------------------------- */
/* The child. */

typedef struct {
    const uvproc__launcher_launch_t *req;
    const int *sources; /* per slot: the fd to put there, or -1 (ignored) */
    int *scratch;       /* per slot: the child's own copy of sources (never the parent's) */
    const char *path;
    char **env;
    char **sh_argv; /* the ENOEXEC retry, prepared by the parent: no malloc in the child */
    pid_t parent;
    int err; /* written by the child when it fails, read after clone returns */
} uvproc__clone_args_t;

static void uvproc__child_signals(void)
{
    struct sigaction dfl;
    memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    /* Default dispositions, as uv_spawn and Node give: notably SIGPIPE, which this library
     * ignores in the parent, must kill the child normally. Handled signals must be reset too,
     * before the mask opens: a signal pending then would run the parent's handler here. */
    for (int sig = 1; sig < NSIG; sig++) {
        struct sigaction cur;
        if (sig != SIGKILL && sig != SIGSTOP && sigaction(sig, NULL, &cur) == 0 &&
            cur.sa_handler != SIG_DFL)
            sigaction(sig, &dfl, NULL);
    }
}

/* Puts each source on its slot. A source below its own slot may be the target of an earlier
 * slot's dup2 (stdout and stderr swapped), so those are first moved above every slot; the
 * dup2s then go upwards, and a source above its slot is read before its own slot is written. */
static int uvproc__child_fds(const uvproc__clone_args_t *a)
{
    int n = a->req->slot_count;
    int *src = a->scratch;

    for (int i = 0; i < n; i++) {
        src[i] = a->sources[i];
        if (src[i] >= 0 && src[i] < i && (src[i] = fcntl(src[i], F_DUPFD, n)) < 0)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        if (src[i] == i) {
            /* Inherited in place: only its CLOEXEC flag (if any) must go. */
            if (fcntl(i, F_SETFD, 0) != 0)
                return -1;
        } else if (src[i] >= 0) {
            if (dup2(src[i], i) < 0)
                return -1;
        } else if (i < 3) {
            int fd = open("/dev/null", O_RDWR);
            if (fd < 0 || (fd != i && (dup2(fd, i) < 0 || close(fd) < 0)))
                return -1;
        } else {
            close(i);
        }
    }
    /* Everything above the slots goes, even fds the host opened without O_CLOEXEC. */
    if (close_range((unsigned)n, ~0U, 0) != 0) {
        struct rlimit rl;
        int max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 1u << 20 ? (int)rl.rlim_cur
                                                                                : 1 << 16;
        for (int fd = n; fd < max; fd++)
            close(fd);
    }
    return 0;
}

static int uvproc__clone_child(void *arg)
{
    uvproc__clone_args_t *a = arg;
    const uvproc__launcher_launch_t *req = a->req;
    sigset_t none;

    uvproc__child_signals();
    if (req->detached && setsid() < 0)
        goto fail;
    if (uvproc__child_fds(a) != 0)
        goto fail;
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

/* ---------------------------------------------------------------------------------------- */
/* The parent. */

/* The child's fds: our own pipe ends (sources[i] = the child's end, parent_ends[i] ours), the
 * host's fds as given, -1 for an ignored slot. Nothing is moved or tested here: the child
 * sorts it out, so the parent pays one pipe2 (or socketpair) per pipe and nothing else. */
static int uvproc__slots(const uvproc__launcher_launch_t *req, int *sources, int *parent_ends)
{
    for (int i = 0; i < req->slot_count; i++) {
        const uvproc__launcher_launch_slot_t *s = &req->slots[i];
        if (s->kind == UVPROC__SLOT_PIPE) {
            int err = uvproc__launcher_slot_pipe(s, &parent_ends[i], &sources[i]);
            if (err != 0)
                return err;
        } else if (s->kind == UVPROC__SLOT_FD) {
            if (s->fd < 0)
                return UV_EBADF;
            sources[i] = s->fd;
        }
    }
    return 0;
}

/* Reaps a child that never exec'd, or one we started but cannot watch. */
static void uvproc__wait_pidfd(int pidfd)
{
    siginfo_t si;
    while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL) < 0 && errno == EINTR)
        ;
    close(pidfd);
}

/* clone3 with CLONE_CLEAR_SIGHAND (Linux >= 5.5) resets every handler of the parent to
 * SIG_DFL in the child as it is created, so none can run on the child's stack: no need to block
 * every signal in the parent around the clone, which costs two rt_sigprocmask calls per spawn
 * (about 7 us of the parent's CPU on the VM this was measured on, a tenth of the spawn). glibc
 * has no clone3 wrapper that takes a function, and a CLONE_VM child that returns from a plain
 * syscall() into C code on its fresh stack would crash, hence the few lines of assembly: the
 * child, on its new stack, calls fn(arg), which never returns. x86-64 only; elsewhere, and
 * where clone3 is refused (older kernels, seccomp filters that answer ENOSYS or EPERM), the
 * parent blocks signals and calls glibc's clone(). */
#define UVPROC__CLONE_CLEAR_SIGHAND 0x100000000ULL

typedef struct {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
} uvproc__clone_args3_t;

#if defined(__x86_64__)
static long uvproc__clone3_call(uvproc__clone_args3_t *ca, int (*fn)(void *), void *arg)
{
    long ret;
    __asm__ volatile("syscall\n\t"
                     "test %%rax, %%rax\n\t"
                     "jnz 1f\n\t"
                     "xor %%ebp, %%ebp\n\t"
                     "mov %[arg], %%rdi\n\t"
                     "call *%[fn]\n\t"
                     "mov %%eax, %%edi\n\t"
                     "mov $60, %%eax\n\t" /* SYS_exit, should fn ever return */
                     "syscall\n\t"
                     "hlt\n\t"
                     "1:\n\t"
                     : "=a"(ret)
                     : "a"((long)SYS_clone3), "D"(ca), "S"(sizeof *ca), [fn] "r"(fn),
                       [arg] "r"(arg)
                     : "rcx", "r11", "memory");
    return ret;
}
#endif

static int uvproc__clone3_works = 1; /* cleared for good once the kernel refuses it */
static pthread_once_t uvproc__clone3_once = PTHREAD_ONCE_INIT;

/* UVPROC_CLONE3=0 takes the fallback path from the start: for its tests (meson runs the spawn
 * and launcher tests that way too), and as an escape hatch. */
static void uvproc__clone3_read_env(void)
{
    const char *v = getenv("UVPROC_CLONE3");
    if (v != NULL && strcmp(v, "0") == 0)
        uvproc__clone3_works = 0;
}

/* 1: done (*child and *pidfd set, or *child < 0 and *err set); 0: clone3 is not to be had. */
static int uvproc__clone3(char *stack_top, uvproc__clone_args_t *a, int *pidfd, pid_t *child,
                          int *err)
{
#if defined(__x86_64__)
    uvproc__clone_args3_t ca;
    long r;
    pthread_once(&uvproc__clone3_once, uvproc__clone3_read_env);
    if (!__atomic_load_n(&uvproc__clone3_works, __ATOMIC_RELAXED))
        return 0;
    memset(&ca, 0, sizeof ca);
    ca.flags = CLONE_VM | CLONE_VFORK | CLONE_PIDFD | UVPROC__CLONE_CLEAR_SIGHAND;
    ca.pidfd = (uint64_t)(uintptr_t)pidfd;
    ca.stack = (uint64_t)(uintptr_t)(stack_top - UVPROC__STACK_SIZE);
    ca.stack_size = UVPROC__STACK_SIZE;
    r = uvproc__clone3_call(&ca, uvproc__clone_child, a);
    if (r == -ENOSYS || r == -EINVAL || r == -EPERM || r == -E2BIG) {
        __atomic_store_n(&uvproc__clone3_works, 0, __ATOMIC_RELAXED);
        return 0;
    }
    *child = r < 0 ? -1 : (pid_t)r;
    *err = r < 0 ? (int)-r : 0;
    return 1;
#else
    (void)stack_top;
    (void)a;
    (void)pidfd;
    (void)child;
    (void)err;
    return 0;
#endif
}

static int uvproc__clone(const uvproc__launcher_launch_t *req, const int *sources, int *scratch,
                         const char *path, int *pidfd_out, pid_t *pid_out)
{
    uvproc__clone_args_t a = {
        .req = req,
        .sources = sources,
        .scratch = scratch,
        .path = path,
        .env = req->env != NULL ? req->env : environ,
        .parent = req->kill_on_parent_death ? getpid() : 0,
    };
    char *stack = uvproc__child_stack_top();
    sigset_t all, old;
    int pidfd = -1, clone_errno;
    pid_t child;

    if (stack == NULL)
        return UV_ENOMEM;
    a.sh_argv = uvproc__launcher_sh_argv(path, req->argv);
    if (a.sh_argv == NULL)
        return UV_ENOMEM;
    if (!uvproc__clone3(stack, &a, &pidfd, &child, &clone_errno)) {
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        child = clone(uvproc__clone_child, stack, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, &a,
                      &pidfd);
        clone_errno = errno;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    free(a.sh_argv);
    if (child < 0)
        return -clone_errno;
    if (a.err != 0) {
        /* It never exec'd: reap it here, the loop never hears of it. */
        uvproc__wait_pidfd(pidfd);
        return -a.err;
    }
    *pidfd_out = pidfd;
    *pid_out = child;
    return 0;
}

/* The child is running but we cannot watch it: take it down and reap it now. */
static void uvproc__abandon(int pidfd)
{
    pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
    uvproc__wait_pidfd(pidfd);
}

int uvproc__launcher_clone_start(uvproc__launcher_loop_t *ll, const uvproc__launcher_launch_t *req,
                                 void *owner, uvproc__launcher_exit_cb on_exit,
                                 uvproc__launcher_t **out)
{
    int stack_fds[3 * 8];
    int *fds = stack_fds;
    int *sources, *parent_ends;
    uvproc__clone_launcher_t *l;
    char *exec_path = NULL;
    struct epoll_event ev;
    pid_t pid = 0;
    int pidfd = -1, err, n = req->slot_count;

    *out = NULL;
    if (!uvproc__launcher_posix_available())
        return UV_ENOSYS;
    if ((err = uvproc__loop_open(ll)) != 0)
        return err;
    if ((err = uvproc__launcher_begin(req, 3, &fds, &exec_path)) != 0)
        return err;
    sources = fds;
    parent_ends = fds + n;
    l = malloc(sizeof *l);
    err = l == NULL ? UV_ENOMEM : uvproc__slots(req, sources, parent_ends);
    if (err == 0)
        err = uvproc__clone(req, sources, fds + 2 * n, exec_path != NULL ? exec_path : req->file,
                            &pidfd, &pid);
    free(exec_path);
    /* Our own pipe ends for the child go; the host's fds (SLOT_FD) stay the host's. */
    for (int i = 0; i < n; i++)
        if (req->slots[i].kind == UVPROC__SLOT_PIPE && sources[i] >= 0)
            close(sources[i]);
    if (err == 0) {
        ev.events = EPOLLIN | EPOLLONESHOT;
        ev.data.ptr = l;
        if (epoll_ctl(ll->epfd, EPOLL_CTL_ADD, pidfd, &ev) != 0)
            err = -errno;
    }
    if (err == 0)
        err = uvproc__launcher_open_ends(req, parent_ends);
    uvproc__launcher_close_all(parent_ends, n);
    if (fds != stack_fds)
        free(fds);
    if (err != 0) {
        /* Closing the pidfd takes it out of the set, and it never fired: no stale event. */
        if (pidfd >= 0)
            uvproc__abandon(pidfd);
        free(l);
        return err;
    }
    l->base.ops = &uvproc__clone_ops;
    l->ll = ll;
    l->pidfd = pidfd;
    l->pid = pid;
    l->ref = 1;
    l->owner = owner;
    l->on_exit = on_exit;
    ll->armed++;
    ll->refd++;
    uvproc__loop_update_ref(ll);
    *out = &l->base;
    return 0;
}

static void uvproc__disarm(uvproc__clone_launcher_t *l)
{
    uvproc__launcher_loop_t *ll = l->ll;
    close(l->pidfd);
    l->pidfd = -1;
    ll->armed--;
    if (l->ref) {
        ll->refd--;
        uvproc__loop_update_ref(ll);
    }
}

static void uvproc__reap(uvproc__clone_launcher_t *l)
{
    siginfo_t si;
    struct rusage ru;
    long r;

    /* The raw waitid has the rusage argument glibc's wrapper drops: one syscall for the status
     * and the child's resource usage, with no pid that could have been reused. */
    memset(&si, 0, sizeof si);
    do
        r = syscall(SYS_waitid, P_PIDFD, l->pidfd, &si, WEXITED | WNOHANG | __WALL, &ru);
    while (r < 0 && errno == EINTR);
    if (r == 0 && si.si_pid == 0) {
        /* Readable but not reapable (not seen; the watch is one-shot, so re-arm it). */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLONESHOT, .data.ptr = l};
        epoll_ctl(l->ll->epfd, EPOLL_CTL_MOD, l->pidfd, &ev);
        return;
    }
    uvproc__disarm(l);
    if (r < 0)
        l->on_exit(l->owner, -errno, 0, NULL);
    else if (si.si_code == CLD_EXITED)
        l->on_exit(l->owner, si.si_status, 0, &ru);
    else
        l->on_exit(l->owner, 0, si.si_status, &ru);
}

static uv_pid_t uvproc__clone_pid(const uvproc__launcher_t *base)
{
    return ((const uvproc__clone_launcher_t *)base)->pid;
}

static int uvproc__clone_kill(uvproc__launcher_t *base, int signum)
{
    uvproc__clone_launcher_t *l = (uvproc__clone_launcher_t *)base;
    if (l->pidfd < 0)
        return UV_ESRCH;
    return pidfd_send_signal(l->pidfd, signum, NULL, 0) == 0 ? 0 : -errno;
}

/* Synchronous: nothing of the launcher's is a libuv handle. */
static void uvproc__clone_close(uvproc__launcher_t *base, uvproc__launcher_closed_cb on_closed)
{
    uvproc__clone_launcher_t *l = (uvproc__clone_launcher_t *)base;
    uvproc__launcher_loop_t *ll = l->ll;
    void *owner = l->owner;
    if (l->pidfd >= 0) {
        /* Closed before its exit (not done by process/): it may have fired already, or fire
         * while the pidfd lives on in a forked child, so leave the set explicitly. The child
         * is left running, unwatched. */
        epoll_ctl(ll->epfd, EPOLL_CTL_DEL, l->pidfd, NULL);
        uvproc__disarm(l);
    }
    free(l);
    uvproc__loop_maybe_free(ll);
    if (on_closed != NULL)
        on_closed(owner);
}

static void uvproc__clone_set_ref(uvproc__launcher_t *base, int ref)
{
    uvproc__clone_launcher_t *l = (uvproc__clone_launcher_t *)base;
    ref = ref != 0;
    if (l->ref == ref)
        return;
    l->ref = (unsigned char)ref;
    if (l->pidfd >= 0) {
        l->ll->refd += ref ? 1 : -1;
        uvproc__loop_update_ref(l->ll);
    }
}

static const uvproc__launcher_ops_t uvproc__clone_ops = {
    .name = "clone",
    .pid = uvproc__clone_pid,
    .kill = uvproc__clone_kill,
    .close = uvproc__clone_close,
    .set_ref = uvproc__clone_set_ref,
};
