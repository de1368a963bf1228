/* Listening sockets a primary is given instead of binding them: systemd's socket activation
 * (LISTEN_FDS, sd_listen_fds(3)'s protocol) and the sockets an upgrading primary hands to
 * its successor (UVPROC_CLUSTER_FDS, cluster_upgrade.c). Both arrive as open fds; the
 * cluster keeps them in c->inherited until a worker asks for the address one is bound to
 * (cluster_handle.c then opens its handle on that fd instead of binding). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster.h"

/* sd_listen_fds(3): the first passed fd is always 3. */
#define UVPROC__CL_LISTEN_FDS_START 3

int uvproc__cluster_inherit(uvproc_cluster_t *c, const int *fds, size_t n)
{
    c->o.listen_fds = NULL; /* the caller's array: copied here, not kept */
    c->o.listen_fds_count = 0;
    if (fds == NULL || n == 0)
        return 0;
    c->inherited = malloc(n * sizeof *c->inherited);
    if (c->inherited == NULL)
        return UV_ENOMEM;
    memcpy(c->inherited, fds, n * sizeof *fds);
    c->ninherited = n;
    return 0;
}

void uvproc__cluster_close_inherited(uvproc_cluster_t *c)
{
    for (size_t i = 0; i < c->ninherited; i++)
        if (c->inherited[i] >= 0)
            close(c->inherited[i]);
    free(c->inherited);
    c->inherited = NULL;
    c->ninherited = 0;
}

/* Does the socket `fd` listen where (address, port) asks? "All interfaces" (NULL) matches a
 * wildcard socket of either family; an address matches the same address. */
static int uvproc__cl_fd_matches(int fd, const char *address, int port)
{
    struct sockaddr_storage ss, want;
    socklen_t len = sizeof ss;
    int type = 0;
    socklen_t tlen = sizeof type;

    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0 || type != SOCK_STREAM)
        return 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return 0;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        if (ntohs(a->sin_port) != port)
            return 0;
        if (address == NULL)
            return a->sin_addr.s_addr == htonl(INADDR_ANY);
        if (uv_ip4_addr(address, port, (struct sockaddr_in *)&want) != 0)
            return 0;
        return a->sin_addr.s_addr == ((struct sockaddr_in *)&want)->sin_addr.s_addr;
    }
    if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        if (ntohs(a->sin6_port) != port)
            return 0;
        if (address == NULL)
            return memcmp(&a->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
        if (uv_ip6_addr(address, port, (struct sockaddr_in6 *)&want) != 0)
            return 0;
        return memcmp(&a->sin6_addr, &((struct sockaddr_in6 *)&want)->sin6_addr,
                      sizeof a->sin6_addr) == 0;
    }
    return 0;
}

int uvproc__cluster_take_inherited(uvproc_cluster_t *c, const char *address, int port,
                                   int address_type)
{
    /* Port 0 asks for a fresh free port: no passed socket is that. */
    if (address_type == -1 || port <= 0)
        return -1;
    if (address != NULL && (strcmp(address, "::") == 0 || strcmp(address, "0.0.0.0") == 0))
        address = NULL;
    for (size_t i = 0; i < c->ninherited; i++) {
        int fd = c->inherited[i];
        if (fd >= 0 && uvproc__cl_fd_matches(fd, address, port)) {
            c->inherited[i] = -1;
            return fd;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------------------------------- */
/* the process side: what was passed in the environment                                     */

/* A whole decimal number in [0, INT_MAX]; -1 for anything else. */
static long uvproc__cl_number(const char *s, char **end)
{
    long v;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtol(s, end, 10);
    return errno != 0 || v > INT_MAX ? -1 : v;
}

static int uvproc__cl_valid_fd(long fd)
{
    return fd >= 0 && fd <= INT_MAX && fcntl((int)fd, F_GETFD) >= 0;
}

/* UVPROC_CLUSTER_FDS="3,4,...": the sockets an upgrading primary passed. */
static int uvproc__cl_upgrade_fds(const char *list, int *fds, size_t max, size_t *n)
{
    const char *p = list;
    *n = 0;
    while (*p != '\0') {
        char *end;
        long fd = uvproc__cl_number(p, &end);
        if (fd < 0 || (*end != ',' && *end != '\0') || !uvproc__cl_valid_fd(fd))
            return UV_EINVAL;
        if (*n < max)
            fds[*n] = (int)fd;
        (*n)++;
        p = *end == ',' ? end + 1 : end;
    }
    return 0;
}

/* LISTEN_PID / LISTEN_FDS: systemd's, for this process only (a child inheriting the
 * environment by mistake must not take its parent's sockets). */
static int uvproc__cl_systemd_fds(int *fds, size_t max, size_t *n)
{
    const char *pid_s = getenv("LISTEN_PID"), *fds_s = getenv("LISTEN_FDS");
    char *end;
    long pid, count;

    *n = 0;
    if (pid_s == NULL || fds_s == NULL)
        return 0;
    pid = uvproc__cl_number(pid_s, &end);
    if (pid < 0 || *end != '\0')
        return UV_EINVAL;
    if (pid != (long)getpid())
        return 0;
    count = uvproc__cl_number(fds_s, &end);
    if (count < 0 || *end != '\0' || count > INT_MAX - UVPROC__CL_LISTEN_FDS_START)
        return UV_EINVAL;
    for (long i = 0; i < count; i++) {
        if (!uvproc__cl_valid_fd(UVPROC__CL_LISTEN_FDS_START + i))
            return UV_EINVAL;
        if ((size_t)i < max)
            fds[i] = (int)(UVPROC__CL_LISTEN_FDS_START + i);
    }
    *n = (size_t)count;
    return 0;
}

/* LISTEN_FDNAMES="a:b:...": the i-th name, "" when missing. */
static void uvproc__cl_fdname(const char *names, size_t i, char *out)
{
    const char *p = names, *end;
    out[0] = '\0';
    if (p == NULL)
        return;
    for (; i > 0; i--) {
        p = strchr(p, ':');
        if (p == NULL)
            return;
        p++;
    }
    end = strchr(p, ':');
    if (end == NULL)
        end = p + strlen(p);
    if ((size_t)(end - p) >= UVPROC_CLUSTER_FDNAME_MAX)
        end = p + UVPROC_CLUSTER_FDNAME_MAX - 1;
    memcpy(out, p, (size_t)(end - p));
    out[end - p] = '\0';
}

int uvproc_cluster_listen_fds(int *fds, char (*names)[UVPROC_CLUSTER_FDNAME_MAX], size_t max)
{
    const char *upgrade = getenv("UVPROC_CLUSTER_FDS");
    const char *fdnames = getenv("LISTEN_FDNAMES");
    size_t n = 0;
    int err, systemd = upgrade == NULL;

    if (fds == NULL && max > 0)
        return UV_EINVAL;
    /* An upgrade's readiness end too, before any worker is started with this environment. */
    uvproc_cluster_upgrading();
    err = systemd ? uvproc__cl_systemd_fds(fds, max, &n)
                  : uvproc__cl_upgrade_fds(upgrade, fds, max, &n);
    if (err != 0)
        return err;
    if (n > max)
        return UV_E2BIG;
    for (size_t i = 0; i < n; i++) {
        int flags = fcntl(fds[i], F_GETFD);
        if (flags >= 0)
            fcntl(fds[i], F_SETFD, flags | FD_CLOEXEC);
        if (names != NULL)
            uvproc__cl_fdname(systemd ? fdnames : NULL, i, names[i]);
    }
    unsetenv("UVPROC_CLUSTER_FDS");
    if (systemd && n > 0) {
        unsetenv("LISTEN_PID");
        unsetenv("LISTEN_FDS");
        unsetenv("LISTEN_FDNAMES");
    }
    return (int)n;
}
