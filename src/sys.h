/*
 * sys.h: the socket system calls behind sock and conn, reachable through a table in test
 * builds (sqlite's aSyscall[]), so that tests can inject EINTR, EAGAIN, short transfers,
 * resets, EMFILE and ENOBUFS on purpose.
 *
 * Library code writes SK_SYS(send)(fd, buf, len, flags) where it would write send(...).
 * In the shipped library (no SOCKIT_SYSCALL_TABLE) the macro is the plain name, so the
 * call is the libc call itself: no table, no indirection, no symbol. Compiled with
 * -DSOCKIT_SYSCALL_TABLE (the sockit_faults library that test_faults links), it reads
 * the function pointer from sk__sys instead.
 *
 * Tests own the table: they assign entries before the threads that use them start (and
 * restore them, sk__sys = sk__sys_default, after those threads are gone); a replacement
 * reaches the real call through sk__sys_default. The entries take plain struct sockaddr
 * pointers, whatever libc's prototypes say. Not installed; not part of the API.
 */
#ifndef SOCKIT_SYS_H
#define SOCKIT_SYS_H

#ifdef SOCKIT_SYSCALL_TABLE

#include <poll.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Every system call libsockit makes on a socket through SK_SYS, with libc's contract:
 * the result, or -1 with errno set. */
struct sk__syscalls {
    int (*socket)(int domain, int type, int protocol);
    int (*accept4)(int fd, struct sockaddr *addr, socklen_t *len, int flags);
    int (*connect)(int fd, const struct sockaddr *addr, socklen_t len);
    ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
    ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
    ssize_t (*sendto)(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                      socklen_t tolen);
    ssize_t (*recvfrom)(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                        socklen_t *fromlen);
    ssize_t (*sendmsg)(int fd, const struct msghdr *msg, int flags);
    ssize_t (*recvmsg)(int fd, struct msghdr *msg, int flags);
    int (*poll)(struct pollfd *fds, nfds_t n, int timeout_ms);
    int (*shutdown)(int fd, int how);
    int (*close)(int fd);
};

/* The table the library calls through. Starts as a copy of sk__sys_default. */
extern struct sk__syscalls sk__sys;

/* The real calls (libc), for restoring sk__sys and for replacements to pass calls on. */
extern const struct sk__syscalls sk__sys_default;

#define SK_SYS(name) (sk__sys.name)

#else

#define SK_SYS(name) name

#endif
#endif
