/*
 * sys.c: the syscall table of test builds (sys.h). Each default entry is a small adapter
 * with the table's plain prototype around the libc call, so that replacements need no
 * knowledge of libc's transparent-union sockaddr arguments.
 */
#ifndef SOCKIT_SYSCALL_TABLE
#error "sys.c belongs to the fault-injection build only (-DSOCKIT_SYSCALL_TABLE)"
#endif

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sys.h"

static int sys_socket(int domain, int type, int protocol)
{
    return socket(domain, type, protocol);
}

static int sys_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    return accept4(fd, addr, len, flags);
}

static int sys_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    return connect(fd, addr, len);
}

static ssize_t sys_send(int fd, const void *buf, size_t len, int flags)
{
    return send(fd, buf, len, flags);
}

static ssize_t sys_recv(int fd, void *buf, size_t len, int flags)
{
    return recv(fd, buf, len, flags);
}

static ssize_t sys_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                          socklen_t tolen)
{
    return sendto(fd, buf, len, flags, to, tolen);
}

static ssize_t sys_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                            socklen_t *fromlen)
{
    return recvfrom(fd, buf, len, flags, from, fromlen);
}

static ssize_t sys_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    return sendmsg(fd, msg, flags);
}

static ssize_t sys_recvmsg(int fd, struct msghdr *msg, int flags)
{
    return recvmsg(fd, msg, flags);
}

static int sys_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    return poll(fds, n, timeout_ms);
}

static int sys_shutdown(int fd, int how)
{
    return shutdown(fd, how);
}

static int sys_close(int fd)
{
    return close(fd);
}

/* The libc calls, once for both tables. */
#define SYS_LIBC                                                                                   \
    {                                                                                              \
        .socket = sys_socket, .accept4 = sys_accept4, .connect = sys_connect, .send = sys_send,    \
        .recv = sys_recv, .sendto = sys_sendto, .recvfrom = sys_recvfrom, .sendmsg = sys_sendmsg,  \
        .recvmsg = sys_recvmsg, .poll = sys_poll, .shutdown = sys_shutdown, .close = sys_close,    \
    }

const struct sk__syscalls sk__sys_default = SYS_LIBC;

struct sk__syscalls sk__sys = SYS_LIBC;
