/* child: the one helper program the process tests spawn. argv[1] picks the behaviour, the
 * rest are its arguments; argv[0] is never looked at, so tests may set it to anything.
 *
 *   exit CODE            exit with CODE at once
 *   print OUT [ERR [CODE]]
 *                        write OUT to stdout, then ERR to stderr (exactly, no newline added),
 *                        exit CODE (default 0)
 *   echo                 copy stdin to stdout until EOF, exit 0
 *   checksum             read stdin to EOF, print "<bytes> <fnv1a-64 in 16 hex digits>\n"
 *   write N [NOTE]       write N bytes of the pattern below to stdout, exit 0; with NOTE,
 *                        first write the line "NOTE\n" to stderr
 *   fd3 TEXT             write TEXT to fd 3, then copy fd 3 to stdout until EOF, exit 0
 *   env NAME...          one line per NAME: "NAME=value", or "NAME unset"
 *   environ              every entry of the environment, one per line
 *   argv                 every argv element (argv[0] included), one per line
 *   cwd                  the working directory and "\n"
 *   ids                  "pid ppid sid pgid uid gid\n"
 *   fds                  the open fds, ascending, space-separated, then "\n"
 *   fdpath N...          what each fd N points to (readlink of /proc/self/fd/N, or "closed"),
 *                        space-separated, then "\n"; written to BOTH stdout and stderr so a
 *                        test can ignore either of them and still read the answer
 *   sigstate             "ignored: N N...\nblocked: N N...\n": the signals 1-31 whose
 *                        disposition is SIG_IGN, and those in the signal mask
 *   sleep                wait until a signal ends it
 *   trap-term            ignore SIGTERM, print "ready\n", wait (only SIGKILL, or another
 *                        signal, ends it)
 *   close-stdin          close fd 0, print "closed\n", wait until a signal ends it
 *   kill-self SIG        raise signal number SIG (it must be deadly by default)
 *   grandchild           fork a grandchild that keeps stdout/stderr open, and exit 0 at once;
 *                        the grandchild waits for one byte (or EOF) on fd 3, then writes
 *                        "grandchild done\n" to stdout and exits 0
 *   group                fork a grandchild that prints "grandchild PID\n" on stdout; both then
 *                        wait until a signal ends them (for process-group kills)
 *
 * The pattern of `write`: byte i is (i % 251 + i / 4093) & 0xff, so lost, repeated or
 * reordered chunks show. FNV-1a 64: h = 0xcbf29ce484222325; for each byte: h ^= b,
 * h *= 0x100000001b3.
 *
 * Every mode that waits sets alarm(60) first: a test that fails half-way leaves no process
 * behind for long. Unknown modes print a message on stderr and exit 99. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

extern char **environ;

static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_str(int fd, const char *s)
{
    return write_all(fd, s, strlen(s));
}

/* Copies `from` to `to` until EOF; returns the byte count, or -1 on a read or write error. */
static long long copy_fd(int from, int to)
{
    char buf[65536];
    long long total = 0;
    for (;;) {
        ssize_t n = read(from, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return total;
        if (write_all(to, buf, (size_t)n) != 0)
            return -1;
        total += n;
    }
}

static _Noreturn void wait_for_signal(void)
{
    alarm(60);
    for (;;)
        pause();
}

static int mode_print(int argc, char **argv)
{
    if (argc > 2 && write_str(1, argv[2]) != 0)
        return 1;
    if (argc > 3 && write_str(2, argv[3]) != 0)
        return 1;
    return argc > 4 ? atoi(argv[4]) : 0;
}

static int mode_checksum(void)
{
    unsigned char buf[65536];
    uint64_t h = 0xcbf29ce484222325u;
    unsigned long long total = 0;
    char line[64];
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return 1;
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            h ^= buf[i];
            h *= 0x100000001b3u;
        }
        total += (unsigned long long)n;
    }
    snprintf(line, sizeof line, "%llu %016llx\n", total, (unsigned long long)h);
    return write_str(1, line) != 0;
}

static int mode_write(int argc, char **argv)
{
    unsigned char buf[65536];
    unsigned long long n = argc > 2 ? strtoull(argv[2], NULL, 10) : 0, i = 0;
    if (argc > 3 && (write_str(2, argv[3]) != 0 || write_str(2, "\n") != 0))
        return 1;
    while (i < n) {
        size_t chunk = n - i < sizeof buf ? (size_t)(n - i) : sizeof buf;
        for (size_t j = 0; j < chunk; j++)
            buf[j] = (unsigned char)((i + j) % 251 + (i + j) / 4093);
        if (write_all(1, buf, chunk) != 0)
            return 1;
        i += chunk;
    }
    return 0;
}

static int mode_fd3(int argc, char **argv)
{
    if (argc > 2 && write_str(3, argv[2]) != 0)
        return 1;
    return copy_fd(3, 1) < 0;
}

static int mode_env(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        const char *v = getenv(argv[i]);
        char line[4096];
        snprintf(line, sizeof line, v != NULL ? "%s=%s\n" : "%s unset\n", argv[i], v);
        if (write_str(1, line) != 0)
            return 1;
    }
    return 0;
}

static int mode_lines(char **v)
{
    for (size_t i = 0; v != NULL && v[i] != NULL; i++)
        if (write_str(1, v[i]) != 0 || write_str(1, "\n") != 0)
            return 1;
    return 0;
}

static int mode_cwd(void)
{
    char buf[4096];
    if (getcwd(buf, sizeof buf) == NULL)
        return 1;
    return write_str(1, buf) != 0 || write_str(1, "\n") != 0;
}

static int mode_ids(void)
{
    char line[256];
    snprintf(line, sizeof line, "%d %d %d %d %u %u\n", (int)getpid(), (int)getppid(),
             (int)getsid(0), (int)getpgid(0), (unsigned)getuid(), (unsigned)getgid());
    return write_str(1, line) != 0;
}

static int mode_fds(void)
{
    /* readdir's order is not numeric: collect, then print in order. */
    char seen[1024] = {0}, line[8192] = "";
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    size_t len = 0;
    if (d == NULL)
        return 1;
    while ((e = readdir(d)) != NULL) {
        int fd = atoi(e->d_name);
        if (e->d_name[0] != '.' && fd != dirfd(d) && fd >= 0 && fd < 1024)
            seen[fd] = 1;
    }
    closedir(d);
    for (int fd = 0; fd < 1024; fd++)
        if (seen[fd])
            len += (size_t)snprintf(line + len, sizeof line - len, "%s%d", len ? " " : "", fd);
    return write_str(1, line) != 0 || write_str(1, "\n") != 0;
}

static int mode_fdpath(int argc, char **argv)
{
    char line[8192] = "";
    size_t len = 0;
    for (int i = 2; i < argc; i++) {
        char path[64], target[1024];
        ssize_t n;
        snprintf(path, sizeof path, "/proc/self/fd/%d", atoi(argv[i]));
        n = readlink(path, target, sizeof target - 1);
        target[n < 0 ? 0 : n] = '\0';
        len += (size_t)snprintf(line + len, sizeof line - len, "%s%s", i > 2 ? " " : "",
                                n < 0 ? "closed" : target);
    }
    if (len < sizeof line - 1)
        line[len++] = '\n';
    /* Either may be /dev/null or closed: that is what some tests look at. */
    write_all(1, line, len);
    write_all(2, line, len);
    return 0;
}

static int mode_sigstate(void)
{
    char line[512] = "ignored:";
    size_t len = strlen(line);
    sigset_t mask;
    for (int sig = 1; sig < 32; sig++) {
        struct sigaction sa;
        if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
            len += (size_t)snprintf(line + len, sizeof line - len, " %d", sig);
    }
    len += (size_t)snprintf(line + len, sizeof line - len, "\nblocked:");
    sigprocmask(SIG_SETMASK, NULL, &mask);
    for (int sig = 1; sig < 32; sig++)
        if (sigismember(&mask, sig) == 1)
            len += (size_t)snprintf(line + len, sizeof line - len, " %d", sig);
    snprintf(line + len, sizeof line - len, "\n");
    return write_str(1, line) != 0;
}

static int mode_grandchild(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        char c;
        alarm(60);
        while (read(3, &c, 1) < 0 && errno == EINTR)
            ;
        _exit(write_str(1, "grandchild done\n") != 0);
    }
    return 0;
}

static int mode_group(void)
{
    pid_t pid = fork();
    if (pid < 0)
        return 1;
    if (pid == 0) {
        char line[64];
        snprintf(line, sizeof line, "grandchild %d\n", (int)getpid());
        if (write_str(1, line) != 0)
            _exit(1);
    }
    wait_for_signal();
    return 0;
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";

    if (strcmp(mode, "exit") == 0)
        return argc > 2 ? atoi(argv[2]) : 0;
    if (strcmp(mode, "print") == 0)
        return mode_print(argc, argv);
    if (strcmp(mode, "echo") == 0)
        return copy_fd(0, 1) < 0;
    if (strcmp(mode, "checksum") == 0)
        return mode_checksum();
    if (strcmp(mode, "write") == 0)
        return mode_write(argc, argv);
    if (strcmp(mode, "fd3") == 0)
        return mode_fd3(argc, argv);
    if (strcmp(mode, "env") == 0)
        return mode_env(argc, argv);
    if (strcmp(mode, "environ") == 0)
        return mode_lines(environ);
    if (strcmp(mode, "argv") == 0)
        return mode_lines(argv);
    if (strcmp(mode, "cwd") == 0)
        return mode_cwd();
    if (strcmp(mode, "ids") == 0)
        return mode_ids();
    if (strcmp(mode, "fds") == 0)
        return mode_fds();
    if (strcmp(mode, "fdpath") == 0)
        return mode_fdpath(argc, argv);
    if (strcmp(mode, "sigstate") == 0)
        return mode_sigstate();
    if (strcmp(mode, "sleep") == 0)
        wait_for_signal();
    if (strcmp(mode, "trap-term") == 0) {
        signal(SIGTERM, SIG_IGN);
        if (write_str(1, "ready\n") != 0)
            return 1;
        wait_for_signal();
    }
    if (strcmp(mode, "close-stdin") == 0) {
        close(0);
        if (write_str(1, "closed\n") != 0)
            return 1;
        wait_for_signal();
    }
    if (strcmp(mode, "kill-self") == 0) {
        raise(argc > 2 ? atoi(argv[2]) : SIGTERM);
        return 98; /* the signal was not deadly */
    }
    if (strcmp(mode, "grandchild") == 0)
        return mode_grandchild();
    if (strcmp(mode, "group") == 0)
        return mode_group();
    fprintf(stderr, "child: unknown mode \"%s\" (see the comment in test/helpers/child.c)\n", mode);
    return 99;
}
