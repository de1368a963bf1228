/* sd_notify(3)'s protocol, written directly rather than linking libsystemd (one datagram of
 * "KEY=VALUE\n" lines to the AF_UNIX socket named by $NOTIFY_SOCKET; "@" at its start means
 * the abstract namespace). A library on libuv should not pull in libsystemd for ten lines,
 * and the protocol is stable: systemd documents it as an interface (sd_notify(3), "NOTES"). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "cluster.h"

int uvproc_cluster_notify(const char *state)
{
    const char *path = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len;
    socklen_t salen;
    int fd, err = 0;

    if (state == NULL || state[0] == '\0')
        return UV_EINVAL;
    if (path == NULL || path[0] == '\0')
        return 0;
    len = strlen(path);
    if ((path[0] != '/' && path[0] != '@') || len >= sizeof sa.sun_path)
        return UV_EAFNOSUPPORT; /* systemd's vsock addresses are not handled */
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = '\0';
    salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    /* MSG_NOSIGNAL: a datagram socket raises no SIGPIPE, but nothing here may ever. */
    if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa, salen) < 0)
        err = -errno;
    close(fd);
    return err != 0 ? err : 1;
}
