/* uvproc-relay: runs on the far side of a launcher (ssh, srun) and gives a child that expects
 * Node's IPC channel (NODE_CHANNEL_FD: a Node script, or a uvproc C child) its socketpair
 * there, bridging the socket to the relay's own stdin/stdout, which the launcher carries back
 * to the parent's channel. Node cannot take its channel from a pipe (it needs a socket: over a
 * pipe nothing is delivered), and ssh hands the remote command pipes.
 *
 *   uvproc-relay [--grace MS] [--] PROGRAM [ARGS...]      e.g. uvproc-relay node worker.js
 *
 * Options end at PROGRAM (or at `--`, for a program whose name starts with '-'): everything
 * after it is the program's. --help, --version; a usage error exits 2 (tools/common/cli.h).
 *
 * The child gets the socket as fd 3 with NODE_CHANNEL_FD=3 and
 * NODE_CHANNEL_SERIALIZATION_MODE=json, /dev/null as stdin, and the relay's stderr as both
 * stdout and stderr (a console.log cannot corrupt a frame; it comes back as the launcher's
 * stderr). It runs in a process group of its own.
 *
 * No orphans: when stdin reaches EOF (the parent disconnected, or its ssh died) the relay
 * closes the socket (a Node child then sees 'disconnect'), gives the child --grace ms (default
 * 1000, or UVPROC_RELAY_GRACE_MS) to end, then SIGTERMs its process group, and SIGKILLs it after
 * another --grace. SIGTERM, SIGINT and SIGHUP to the relay go to the child's group. The relay exits
 * with the child's exit code, or 128 + the signal that killed it, as a shell does; 127 if PROGRAM
 * cannot be run, 2 for a usage error.
 *
 * Bytes are bridged as they are (no parsing): the relay costs one copy each way. Flow control
 * both ways: a side is read only while the buffer toward its peer has room, and read again as
 * soon as that peer has taken some (a full buffer once stopped both directions for good, after
 * 256 KiB: issue 16, fault 2). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define BUF_SIZE (256 * 1024)

typedef struct {
    char data[BUF_SIZE];
    size_t start, end; /* bytes [start, end) wait to be written */
} buf_t;

static volatile sig_atomic_t child_pgid;

static void forward_signal(int sig)
{
    if (child_pgid > 0)
        kill(-child_pgid, sig);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static void usage(const char *prog)
{
    printf("usage: %s [--grace MS] [--] PROGRAM [ARGS...]\n"
           "Runs PROGRAM with a Node IPC channel (NODE_CHANNEL_FD=3, a socketpair) bridged to\n"
           "stdin/stdout, on the far side of a launcher (ssh, srun); stops it when stdin\n"
           "reaches EOF.\n"
           "\n"
           "  -g, --grace MS   after stdin's EOF, wait MS ms for PROGRAM to end, then SIGTERM\n"
           "                   its process group, and SIGKILL after MS more (default 1000, or\n"
           "                   UVPROC_RELAY_GRACE_MS; 0 to 3600000)\n"
           "  -h, --help       this text\n"
           "  -V, --version    the version\n"
           "\n"
           "Options end at PROGRAM; `--` ends them too (for a PROGRAM starting with '-').\n"
           "Exit status: PROGRAM's, 128+N if signal N killed it, 127 if it cannot be run,\n"
           "2 for a usage error. See uvproc-relay(1) and docs/scale-out.md.\n",
           prog);
}

/* The options; returns the index of PROGRAM in argv (exits on --help, --version, errors). */
static int parse_args(int argc, char **argv, int64_t *grace)
{
    static const struct option longopts[] = {{"grace", required_argument, NULL, 'g'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    const char *prog = cli_prog(argv[0]);
    int c;
    long v;

    opterr = 0; /* our own one-line messages */
    /* '+': stop at PROGRAM, whose own options are not ours. */
    while ((c = getopt_long(argc, argv, "+:g:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'g':
            if (cli_parse_long(optarg, 0, 3600 * 1000, &v) != 0)
                cli_usage_error(prog, "--grace wants a number of ms from 0 to 3600000, not '%s'",
                                optarg);
            *grace = v;
            break;
        case 'h':
            usage(prog);
            exit(0);
        case 'V':
            cli_print_version(prog);
            exit(0);
        case ':':
            cli_usage_error(prog, "%s needs a value", argv[optind - 1]);
        default:
            if (optopt != 0)
                cli_usage_error(prog, "unknown option '-%c'", optopt);
            cli_usage_error(prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        cli_usage_error(prog, "no PROGRAM to run");
    return optind;
}

/* In the child, before exec: the socket at fd 3, stdio as documented above. */
static void exec_child(int sock, char **argv)
{
    sigset_t none;
    int devnull = open("/dev/null", O_RDONLY);

    setpgid(0, 0);
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    signal(SIGHUP, SIG_DFL);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(2, 1) < 0 || dup2(sock, 3) < 0) {
        perror("uvproc-relay: setting up the child's fds");
        _exit(127);
    }
    if (devnull > 3)
        close(devnull);
    if (sock > 3)
        close(sock);
    setenv("NODE_CHANNEL_FD", "3", 1);
    setenv("NODE_CHANNEL_SERIALIZATION_MODE", "json", 1);
    /* The child gets a socket, not stdio: it must not try to adopt stdin/stdout. */
    unsetenv("UVPROC_CHANNEL");
    execvp(argv[0], argv);
    fprintf(stderr, "uvproc-relay: cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
}

/* Reads from `fd` into `b` while there is room. 1: got bytes or would block, 0: EOF/error. */
static int fill(int fd, buf_t *b)
{
    if (b->start == b->end)
        b->start = b->end = 0;
    if (b->end == BUF_SIZE && b->start > 0) {
        memmove(b->data, b->data + b->start, b->end - b->start);
        b->end -= b->start;
        b->start = 0;
    }
    if (b->end == BUF_SIZE)
        return 1;
    for (;;) {
        ssize_t n = read(fd, b->data + b->end, BUF_SIZE - b->end);
        if (n > 0) {
            b->end += (size_t)n;
            return 1;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
}

/* Writes what `b` holds to `fd`. 1: all written or would block, 0: the reader is gone. */
static int drain(int fd, buf_t *b)
{
    while (b->start < b->end) {
        ssize_t n = write(fd, b->data + b->start, b->end - b->start);
        if (n > 0) {
            b->start += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return 1;
}

/* Free bytes in `b`, counting those already written out: fill() moves the rest down when it
 * reaches the end. Polling on "end < BUF_SIZE" instead read each side only until its buffer
 * had once been full. */
static size_t buf_room(const buf_t *b)
{
    return BUF_SIZE - (b->end - b->start);
}

static int exit_status(int status)
{
    if (WIFEXITED(status))
        return WEXITSTATUS(status);
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return 1;
}

int main(int argc, char **argv)
{
    static buf_t to_child, to_parent;
    int64_t grace = 1000, deadline = -1;
    int sv[2], pidfd, status = 0, argi = 1, stop_step = 0;
    int in_open = 1, out_open = 1, sock_read = 1, sock_write = 1, reaped = 0;
    struct sigaction sa;
    pid_t pid;

    /* The default grace can come from the environment: a launcher prefix sets variables on
     * the remote command line more easily than options. */
    if (getenv("UVPROC_RELAY_GRACE_MS") != NULL) {
        char *end;
        grace = strtoll(getenv("UVPROC_RELAY_GRACE_MS"), &end, 10);
        if (*end != '\0' || grace < 0 || grace > 3600 * 1000)
            grace = 1000;
    }
    argi = parse_args(argc, argv, &grace);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        perror("uvproc-relay: socketpair");
        return 127;
    }
    signal(SIGPIPE, SIG_IGN);
    pid = fork();
    if (pid < 0) {
        perror("uvproc-relay: fork");
        return 127;
    }
    if (pid == 0)
        exec_child(sv[1], argv + argi);
    /* Both sides set the group, so a signal forwarded right away cannot miss it. */
    setpgid(pid, pid);
    child_pgid = pid;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = forward_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    close(sv[1]);
    pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    set_nonblock(0);
    set_nonblock(1);
    set_nonblock(sv[0]);

    while (!reaped || out_open) {
        struct pollfd p[4];
        int n = 0, i_in = -1, i_out = -1, i_sock = -1, i_pid = -1, timeout = -1;
        short sock_ev = 0;

        /* stdin is watched for its EOF even once the child stopped reading. */
        if (in_open && (buf_room(&to_child) > 0 || !sock_write))
            p[i_in = n++] = (struct pollfd){.fd = 0, .events = POLLIN};
        if (out_open && to_parent.start < to_parent.end)
            p[i_out = n++] = (struct pollfd){.fd = 1, .events = POLLOUT};
        if (sock_read && buf_room(&to_parent) > 0)
            sock_ev |= POLLIN;
        if (sock_write && to_child.start < to_child.end)
            sock_ev |= POLLOUT;
        if (sock_ev != 0)
            p[i_sock = n++] = (struct pollfd){.fd = sv[0], .events = sock_ev};
        if (!reaped && pidfd >= 0)
            p[i_pid = n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
        if (deadline >= 0)
            timeout = (int)(deadline > now_ms() ? deadline - now_ms() : 0);
        if (!reaped && pidfd < 0 && (timeout < 0 || timeout > 100))
            timeout = 100; /* no pidfd (old kernel): look for the exit now and then */
        if (n == 0 && timeout < 0) {
            /* Nothing left to bridge: only the child's exit is awaited. */
            if (waitpid(pid, &status, 0) == pid)
                reaped = 1;
            out_open = 0;
            continue;
        }
        if (poll(p, (nfds_t)n, timeout) < 0 && errno != EINTR)
            break;

        if (i_in >= 0 && p[i_in].revents != 0 && !fill(0, &to_child))
            in_open = 0;
        if (!sock_write)
            to_child.start = to_child.end = 0; /* nobody to give it to */
        if (i_sock >= 0 && (p[i_sock].revents & (POLLIN | POLLHUP | POLLERR)) &&
            (sock_ev & POLLIN) && !fill(sv[0], &to_parent))
            sock_read = 0;
        if (sock_write && to_child.start < to_child.end && !drain(sv[0], &to_child))
            sock_write = 0;
        if (out_open && !drain(1, &to_parent)) {
            out_open = 0; /* the parent is gone: as good as stdin EOF */
            in_open = 0;
        }
        if (out_open && !sock_read && to_parent.start == to_parent.end) {
            /* The child closed its channel and all of it has been passed on: the parent sees
             * EOF on its channel. */
            close(1);
            out_open = 0;
        }
        if (!in_open && !reaped && stop_step == 0) {
            /* stdin ended (or the parent is gone): the child sees its channel close once what
             * came before the EOF is written, and has `grace` ms to end. */
            stop_step = 1;
            deadline = now_ms() + grace;
        }
        if (!in_open && sock_write && to_child.start == to_child.end) {
            shutdown(sv[0], SHUT_WR);
            sock_write = 0;
        }
        if (!reaped && ((i_pid >= 0 && p[i_pid].revents != 0) || pidfd < 0) &&
            waitpid(pid, &status, WNOHANG) == pid) {
            reaped = 1;
            child_pgid = 0;
            deadline = -1;
        }
        if (!reaped && deadline >= 0 && now_ms() >= deadline) {
            kill(-pid, stop_step == 1 ? SIGTERM : SIGKILL);
            stop_step++;
            deadline = stop_step <= 2 ? now_ms() + grace : -1;
        }
        if (reaped && !in_open && out_open) {
            /* The parent is gone and so is the child: a grandchild holding the socket does
             * not keep the relay. */
            drain(1, &to_parent);
            close(1);
            out_open = 0;
        }
    }
    if (!reaped && waitpid(pid, &status, 0) != pid)
        return 1;
    return exit_status(status);
}
