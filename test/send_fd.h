/* Sending bytes with an fd attached (SCM_RIGHTS), as a raw peer of an IPC channel does. */
#ifndef UVPROC_TEST_SEND_FD_H
#define UVPROC_TEST_SEND_FD_H

#include <string.h>
#include <sys/socket.h>

/* sendmsg(sock, buf/len + fd, flags): what sendmsg returns. */
static inline ssize_t send_with_fd(int sock, const void *buf, size_t len, int fd, int flags)
{
    struct iovec iov = {(void *)buf, len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } u;
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
    struct cmsghdr *c;
    /* CMSG_SPACE pads past the fd: the padding goes to the kernel too (valgrind saw it
     * uninitialised). */
    memset(&u, 0, sizeof u);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    return sendmsg(sock, &m, flags);
}

#endif
