/* bench/floor.h: the kernel's cheapest paths, for the floor variants of bench/spawn.c,
 * bench/children.c and bench/stdout.c (header-only, after bench.h), and a second column of
 * paired ratios against another variant than the table's baseline.
 *
 * The floor start of a child is what the clone launcher reduces to when nothing is asked of
 * it: clone(CLONE_VM | CLONE_VFORK | CLONE_PIDFD) on a stack mapped once, a child that only
 * dup2s its stdio and execs, no signal mask or disposition work, no PATH search, exit signal 0
 * (no SIGCHLD), reaped with waitid(P_PIDFD). Unsafe as a library (a signal handler of the
 * parent could run on the child's stack), which is why it is a floor. */
#ifndef UVPROC_BENCH_FLOOR_H
#define UVPROC_BENCH_FLOOR_H

#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>

/* The parent's own CPU time (user + system, every thread of this process; not the children,
 * and not a CLONE_VM child before its exec: that is a task of its own). */
static inline double floor_cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct {
    const char *path;
    char **argv;
    const int *fds; /* the child's 0, 1, 2, or NULL to inherit */
} floor_child_t;

static int floor_child(void *arg)
{
    const floor_child_t *c = arg;
    if (c->fds != NULL)
        for (int i = 0; i < 3; i++)
            if (c->fds[i] != i && dup2(c->fds[i], i) < 0)
                _exit(126);
    execve(c->path, c->argv, environ);
    _exit(127);
}

/* Starts `path` (absolute); returns its pidfd (CLOEXEC), or -1. */
static inline int floor_spawn(const char *path, char **argv, const int *fds)
{
    static char *stack;
    const size_t size = 64 * 1024;
    floor_child_t c = {path, argv, fds};
    int pidfd = -1;
    if (stack == NULL) {
        stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK,
                     -1, 0);
        if (stack == MAP_FAILED) {
            stack = NULL;
            return -1;
        }
    }
    if (clone(floor_child, stack + size, CLONE_VM | CLONE_VFORK | CLONE_PIDFD, &c, &pidfd) < 0)
        return -1;
    return pidfd;
}

/* Reaps the child behind a readable (or, blocking, any) pidfd; its exit status, -1 on error,
 * -2 when it is not reapable yet: this kernel can report a pidfd readable a moment before
 * waitid sees the zombie (the library re-arms and waits for the next report; so does the
 * floor, its epoll being level-triggered). */
static inline int floor_reap(int pidfd, int nohang)
{
    siginfo_t si;
    int r;
    memset(&si, 0, sizeof si);
    do
        r = waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED | __WALL | (nohang ? WNOHANG : 0));
    while (r < 0 && errno == EINTR);
    if (r < 0)
        return -1;
    if (si.si_pid == 0)
        return -2;
    return si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status;
}

/* Prints, for each variant, its paired ratio to variant `vs` on metric `k` (median, min - max
 * over the rounds where both ran): the second floor or bound of a table. */
static inline void floor_print_ratios(const bench_t *b, int k, const char *vs, FILE *out)
{
    int j = -1;
    for (int i = 0; i < b->variant_count; i++)
        if (strcmp(b->v[i].name, vs) == 0)
            j = i;
    if (j < 0 || !b->v[j].enabled)
        return;
    fprintf(out, "\nPaired ratio of %s to `%s`:\n\n| variant | ratio | min - max |\n|---|---:|---:|\n",
            b->metric_names[k], vs);
    for (int i = 0; i < b->variant_count; i++) {
        double x[BENCH_MAX_ROUNDS], med, min, max;
        int n = b->args.rounds;
        char s1[32], s2[32], s3[32];
        if (!b->v[i].enabled)
            continue;
        for (int r = 0; r < n; r++)
            x[r] = b->v[i].m[k][r] / b->v[j].m[k][r];
        bench_stats(x, n, &med, &min, &max);
        bench_fmt(med, s1, sizeof s1);
        bench_fmt(min, s2, sizeof s2);
        bench_fmt(max, s3, sizeof s3);
        fprintf(out, "| %s | %sx | %s - %s |\n", b->v[i].name, s1, s2, s3);
    }
}

#endif
