/*
 * sock.c: blocking socket calls with Python's guarantees (sockit/sock.h).
 *
 * How timeouts work without a wrapper object: a timeout is stored in the socket (O_NONBLOCK
 * for 0, SO_RCVTIMEO/SO_SNDTIMEO for > 0), so the fast path is a single plain syscall and
 * the kernel enforces the timeout. Only when a call is interrupted, would block, or makes
 * partial progress do we read the socket's mode (struct op) and, for a timed socket, go
 * on with MSG_DONTWAIT and poll() against a deadline measured from the call's start. A
 * signal storm therefore cannot stretch a timeout, and sendall / recv_exact honour it for
 * the whole call.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "base.h"
#include "sockit/error.h"
#include "sockit/sock.h"
#include "sys.h"

/* Retries of the whole bind sequence when port 0 must be shared by several addresses. */
#define SHARED_PORT_TRIES 8

int sk__wait_fd(int fd, short events, int64_t deadline_ns)
{
    for (;;) {
        int ms = -1;
        if (deadline_ns >= 0) {
            int64_t left = deadline_ns - sk__now_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            int64_t lms = (left + 999999) / 1000000;
            ms = lms > INT_MAX ? INT_MAX : (int)lms;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int r = SK_SYS(poll)(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r < 0 && errno != EINTR)
            return -errno;
        /* Timed out or interrupted: the deadline check above decides. */
    }
}

/* One blocking operation in progress: what we know of its socket, learnt lazily. */
struct op {
    int fd;
    int optname;      /* SO_RCVTIMEO or SO_SNDTIMEO: which timeout applies */
    short events;     /* POLLIN or POLLOUT */
    int known;        /* mode below has been read */
    int nonblock;     /* O_NONBLOCK: would-block is -EAGAIN */
    int dontwait;     /* timed: MSG_DONTWAIT + poll against deadline */
    int64_t t0;       /* when the call started */
    int64_t deadline; /* t0 + timeout, or -1 */
};

static void op_begin(struct op *o, int fd, short events)
{
    o->fd = fd;
    o->events = events;
    o->optname = events == POLLIN ? SO_RCVTIMEO : SO_SNDTIMEO;
    o->known = o->nonblock = o->dontwait = 0;
    o->t0 = sk__now_ns();
    o->deadline = -1;
}

/* Read the socket's mode; a timed socket switches to deadline mode. */
static int op_learn(struct op *o)
{
    if (o->known)
        return 0;
    int fl = fcntl(o->fd, F_GETFL);
    if (fl < 0)
        return -errno;
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    if (getsockopt(o->fd, SOL_SOCKET, o->optname, &tv, &len) < 0 && errno != ENOTSOCK)
        return -errno;
    o->nonblock = (fl & O_NONBLOCK) != 0;
    if (!o->nonblock && (tv.tv_sec || tv.tv_usec)) {
        o->deadline = o->t0 + (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
        o->dontwait = 1;
    }
    o->known = 1;
    return 0;
}

/* Flags for the next send/recv. */
static int op_flags(const struct op *o)
{
    return o->dontwait ? MSG_DONTWAIT : 0;
}

/*
 * A call failed with errno e: return 0 to retry it, or the code to report. EINTR retries;
 * on a timed socket it first waits for readiness against the deadline, so that a call
 * without a per-call non-blocking flag (accept) cannot restart the kernel's full timeout.
 * Would-block is -EAGAIN on a non-blocking socket, -ETIMEDOUT when the kernel's timeout
 * ran out in a blocking call, and otherwise a wait for readiness.
 */
static int op_retry(struct op *o, int e)
{
    if (e == EINTR) {
        int r = op_learn(o);
        if (r < 0 || !o->dontwait)
            return r;
        return sk__wait_fd(o->fd, o->events, o->deadline);
    }
    if (e == EAGAIN || e == EWOULDBLOCK) {
        int was_dontwait = o->dontwait;
        int r = op_learn(o);
        if (r < 0)
            return r;
        if (o->nonblock)
            return -EAGAIN;
        if (!was_dontwait && o->deadline >= 0)
            return -ETIMEDOUT;
        return sk__wait_fd(o->fd, o->events, o->deadline);
    }
    return -e;
}

int sk__unread(int fd)
{
    int n = 0;
    return ioctl(fd, FIONREAD, &n) == 0 && n > 0 ? n : 0;
}

int sk_socket(int family, int type, int protocol)
{
    int fd = SK_SYS(socket)(family, type | SOCK_CLOEXEC, protocol);
    return fd < 0 ? -errno : fd;
}

int sk_socketpair(int type, int fds[2])
{
    return socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, fds) < 0 ? -errno : 0;
}

int sk_close(int fd)
{
    if (SK_SYS(close)(fd) < 0 && errno != EINTR)
        return -errno;
    return 0;
}

int sk_bind(int fd, const sk_addr_t *addr)
{
    return bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ? -errno : 0;
}

int sk_listen(int fd, int backlog)
{
    return listen(fd, backlog < 1 ? SOMAXCONN : backlog) < 0 ? -errno : 0;
}

/* Give an accepted socket the promised mode: Linux copies the listener's SO_RCVTIMEO and
 * SO_SNDTIMEO to it, but sk_accept() returns blocking sockets without a timeout. */
static int clear_inherited_timeout(int fd)
{
    struct timeval tv = {0, 0};
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) == 0 && !tv.tv_sec && !tv.tv_usec)
        return 0;
    return sk_settimeout(fd, SK_TIMEOUT_NONE);
}

int sk_accept(int fd, sk_addr_t *peer)
{
    struct op o;
    op_begin(&o, fd, POLLIN);
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int c = SK_SYS(accept4)(fd, (struct sockaddr *)&ss, &len, SOCK_CLOEXEC);
        if (c >= 0) {
            int r = clear_inherited_timeout(c);
            if (r < 0) {
                sk_close(c);
                return r;
            }
            if (peer)
                sk_addr_set(peer, (struct sockaddr *)&ss, len);
            return c;
        }
        int r = op_retry(&o, errno);
        if (r < 0)
            return r;
    }
}

/*
 * connect() on AF_UNIX completes or fails at once, or waits for room in the listener's
 * backlog, bounded by SO_SNDTIMEO; nothing is left in progress, so an interrupted call may
 * be repeated. So that repeats cannot stretch the timeout, each one gets only the time
 * left (SO_SNDTIMEO is set to it, and restored afterwards).
 */
static int connect_unix(int fd, const sk_addr_t *addr)
{
    struct op o;
    op_begin(&o, fd, POLLOUT);
    struct timeval orig = {0, 0};
    int shortened = 0, r;
    for (;;) {
        if (SK_SYS(connect)(fd, (const struct sockaddr *)&addr->ss, addr->len) == 0) {
            r = 0;
            break;
        }
        if (errno != EINTR) {
            r = errno == EAGAIN ? -ETIMEDOUT : -errno;
            break;
        }
        if ((r = op_learn(&o)) < 0)
            break;
        if (o.deadline < 0)
            continue;
        int64_t left = o.deadline - sk__now_ns();
        if (left <= 0) {
            r = -ETIMEDOUT;
            break;
        }
        if (!shortened) {
            socklen_t len = sizeof orig;
            getsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &orig, &len);
            shortened = 1;
        }
        int64_t us = left / 1000 + 1;
        struct timeval tv = {.tv_sec = (time_t)(us / 1000000),
                             .tv_usec = (suseconds_t)(us % 1000000)};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    if (shortened)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &orig, sizeof orig);
    return r;
}

int sk_connect(int fd, const sk_addr_t *addr)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK)
        return SK_SYS(connect)(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0
                   ? -errno
                   : 0;
    if (sk_addr_family(addr) == AF_UNIX)
        return connect_unix(fd, addr);

    /* Blocking socket: connect non-blocking and wait for the outcome ourselves, so that a
     * signal cannot leave us retrying an in-progress connect and the timeout is exact. */
    struct op o;
    op_begin(&o, fd, POLLOUT);
    int r = op_learn(&o);
    if (r < 0)
        return r;
    if (fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -errno;
    r = SK_SYS(connect)(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ? -errno : 0;
    if (r == -EINPROGRESS || r == -EINTR) {
        r = sk__wait_fd(fd, POLLOUT, o.deadline);
        if (r == 0) {
            int soerr = 0;
            socklen_t len = sizeof soerr;
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                soerr = errno;
            r = -soerr;
        }
    }
    int saved = errno;
    fcntl(fd, F_SETFL, fl);
    errno = saved;
    return r;
}

ssize_t sk_send(int fd, const void *buf, size_t len)
{
    struct op o;
    op_begin(&o, fd, POLLOUT);
    for (;;) {
        ssize_t n = SK_SYS(send)(fd, buf, len, MSG_NOSIGNAL | op_flags(&o));
        if (n >= 0)
            return n;
        int r = op_retry(&o, errno);
        if (r < 0)
            return r;
    }
}

/*
 * Move exactly len bytes: out of `out` with send() or into `in` with recv() (one of them is
 * NULL), over short transfers, keeping one deadline for the whole call. Returns len or a
 * negative code (SK_EEOF when the peer's EOF comes first); *done gets the bytes moved.
 */
static ssize_t io_all(int fd, const char *out, char *in, size_t len, size_t *done_out)
{
    struct op o;
    op_begin(&o, fd, out ? POLLOUT : POLLIN);
    size_t done = 0;
    ssize_t ret = (ssize_t)len;
    while (done < len) {
        ssize_t n = out ? SK_SYS(send)(fd, out + done, len - done, MSG_NOSIGNAL | op_flags(&o))
                        : SK_SYS(recv)(fd, in + done, len - done, op_flags(&o));
        if (n > 0) {
            done += (size_t)n;
            /* A short transfer means a signal, a timeout or a non-blocking socket: find
             * out which, so that the rest of the call keeps to the original deadline. */
            if (done < len && (ret = op_learn(&o)) < 0)
                break;
            ret = (ssize_t)len;
            continue;
        }
        int r = n < 0 ? op_retry(&o, errno) : out ? -EIO : SK_EEOF;
        if (r < 0) {
            ret = r;
            break;
        }
    }
    if (done_out)
        *done_out = done;
    return ret;
}

ssize_t sk_sendall(int fd, const void *buf, size_t len, size_t *sent)
{
    return io_all(fd, buf, NULL, len, sent);
}

ssize_t sk_recv(int fd, void *buf, size_t len)
{
    struct op o;
    op_begin(&o, fd, POLLIN);
    for (;;) {
        ssize_t n = SK_SYS(recv)(fd, buf, len, op_flags(&o));
        if (n >= 0)
            return n;
        int r = op_retry(&o, errno);
        if (r < 0)
            return r;
    }
}

ssize_t sk_recv_exact(int fd, void *buf, size_t len, size_t *got)
{
    return io_all(fd, NULL, buf, len, got);
}

ssize_t sk_sendto(int fd, const void *buf, size_t len, const sk_addr_t *to)
{
    struct op o;
    op_begin(&o, fd, POLLOUT);
    const struct sockaddr *sa = to ? (const struct sockaddr *)&to->ss : NULL;
    socklen_t salen = to ? to->len : 0;
    for (;;) {
        ssize_t n = SK_SYS(sendto)(fd, buf, len, MSG_NOSIGNAL | op_flags(&o), sa, salen);
        if (n >= 0)
            return n;
        int r = op_retry(&o, errno);
        if (r < 0)
            return r;
    }
}

ssize_t sk_recvfrom(int fd, void *buf, size_t cap, sk_addr_t *from)
{
    struct op o;
    op_begin(&o, fd, POLLIN);
    for (;;) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        ssize_t n = SK_SYS(recvfrom)(fd, buf, cap, MSG_TRUNC | op_flags(&o),
                                     (struct sockaddr *)&ss, &len);
        if (n >= 0) {
            if (from && sk_addr_set(from, (struct sockaddr *)&ss, len) < 0)
                memset(from, 0, sizeof *from);
            return n;
        }
        int r = op_retry(&o, errno);
        if (r < 0)
            return r;
    }
}

int sk_shutdown(int fd, int how)
{
    return SK_SYS(shutdown)(fd, how) < 0 ? -errno : 0;
}

int sk_settimeout(int fd, double seconds)
{
    if (isnan(seconds) || seconds > 1e9)
        return SK_EBADARG;
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    struct timeval tv = {0, 0};
    if (seconds > 0) {
        tv.tv_sec = (time_t)seconds;
        tv.tv_usec = (suseconds_t)((seconds - (double)tv.tv_sec) * 1e6);
        if (tv.tv_sec == 0 && tv.tv_usec == 0)
            tv.tv_usec = 1; /* below a microsecond: still a timeout, not "forever" */
    }
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) < 0)
        return -errno;
    int nfl = seconds == 0 ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
    if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0)
        return -errno;
    return 0;
}

int sk_gettimeout(int fd, double *seconds)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -errno;
    if (fl & O_NONBLOCK) {
        *seconds = 0;
        return 0;
    }
    struct timeval tv;
    socklen_t len = sizeof tv;
    if (getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len) < 0)
        return -errno;
    *seconds = tv.tv_sec || tv.tv_usec ? (double)tv.tv_sec + (double)tv.tv_usec / 1e6
                                       : SK_TIMEOUT_NONE;
    return 0;
}

int sk_setblocking(int fd, int blocking)
{
    return sk_settimeout(fd, blocking ? SK_TIMEOUT_NONE : 0);
}

int sk_getsockname(int fd, sk_addr_t *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    return sk_addr_set(addr, (struct sockaddr *)&ss, len);
}

int sk_getpeername(int fd, sk_addr_t *addr)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) < 0)
        return -errno;
    return sk_addr_set(addr, (struct sockaddr *)&ss, len);
}

int sk_setsockopt_int(int fd, int level, int name, int value)
{
    return setsockopt(fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

int sk_set_keepalive(int fd, const sk_keepalive_t *ka)
{
    int type = 0, proto = 0;
    socklen_t tl = sizeof type, pl = sizeof proto;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) < 0 ||
        getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &pl) < 0)
        return -errno;
    if (type != SOCK_STREAM || proto != IPPROTO_TCP)
        return -EOPNOTSUPP;
    /* The timers first: a value the kernel refuses leaves SO_KEEPALIVE as it was. */
    int r = 0;
    if (ka && ka->idle > 0)
        r = sk_setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, ka->idle);
    if (r == 0 && ka && ka->interval > 0)
        r = sk_setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, ka->interval);
    if (r == 0 && ka && ka->count > 0)
        r = sk_setsockopt_int(fd, IPPROTO_TCP, TCP_KEEPCNT, ka->count);
    return r < 0 ? r : sk_setsockopt_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
}

int sk_source_init(sk_source_t *src, const char *host, int port, char *err)
{
    memset(src, 0, sizeof *src);
    src->port = port;
    if (!host || !host[0])
        return 0;
    sk_endpoint_t ep;
    memset(&ep, 0, sizeof ep);
    if (strlen(host) >= sizeof ep.host) {
        sk__set_err(err, "source address too long");
        return SK_EBADADDR;
    }
    ep.family = AF_UNSPEC;
    snprintf(ep.host, sizeof ep.host, "%s", host[0] == '[' ? host + 1 : host);
    size_t hl = strlen(ep.host);
    if (host[0] == '[' && hl && ep.host[hl - 1] == ']')
        ep.host[hl - 1] = '\0';
    ep.port = (uint16_t)port;
    sk_addrlist_t list;
    int r = sk_resolve(&list, &ep, SOCK_STREAM, 0, NULL);
    if (r < 0) {
        char q[SK__QUOTE_MAX + 4];
        sk__set_err(err, "source %s: %s", sk__quote(host, q), sk_strerror(r));
        return r;
    }
    for (size_t i = 0; i < list.n && src->n < SK_SOURCE_MAX; i++)
        src->addrs[src->n++] = list.v[i].addr;
    sk_addrlist_free(&list);
    return 0;
}

int sk_source_bind(const sk_source_t *src, int fd, int family)
{
    if (!src || (src->n == 0 && src->port == 0) || family == AF_UNIX)
        return 0;
    sk_addr_t a;
    memset(&a, 0, sizeof a);
    size_t i = 0;
    while (i < src->n && sk_addr_family(&src->addrs[i]) != family)
        i++;
    if (i < src->n) {
        a = src->addrs[i];
    } else if (src->n > 0) {
        return SK_ENOADDR;
    } else if (family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a.ss;
        s6->sin6_family = AF_INET6;
        a.len = sizeof *s6;
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a.ss;
        s4->sin_family = AF_INET;
        a.len = sizeof *s4;
    }
    sk_addr_set_port(&a, (uint16_t)src->port);
    int r = src->port ? sk_setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1)
                      : sk_setsockopt_int(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1);
    (void)r; /* an old kernel without IP_BIND_ADDRESS_NO_PORT binds a port at once: fine */
    return sk_bind(fd, &a);
}

const char *sk_source_str(const sk_source_t *src, char buf[SK_ADDRSTRLEN])
{
    char host[SK_ADDRSTRLEN] = "";
    if (src->n)
        sk_addr_host(&src->addrs[0], host, sizeof host);
    if (src->n && src->port)
        snprintf(buf, SK_ADDRSTRLEN, "%s port %d", host, src->port);
    else if (src->n)
        snprintf(buf, SK_ADDRSTRLEN, "%s", host);
    else
        snprintf(buf, SK_ADDRSTRLEN, "port %d", src->port);
    return buf;
}

/* Record a failed operation on an address as "OP ADDR: reason". */
static int op_fail(char *err, const char *op, const sk_addr_t *a, int code)
{
    char as[SK_ADDRSTRLEN];
    sk__set_err(err, "%s %s: %s", op, sk_addr_str(a, as), sk_strerror(code));
    return code;
}

/* Try addresses one after another with a blocking connect (Unix sockets, timeout 0, and
 * datagram sockets, whose connect() only sets the default destination). */
static int connect_each(const sk_addr_t *addrs, size_t n, int socktype, double timeout,
                        const sk_source_t *src, sk_addr_t *peer, char *err)
{
    int r = SK_ENOADDR;
    for (size_t i = 0; i < n; i++) {
        int family = sk_addr_family(&addrs[i]);
        int fd = sk_socket(family, socktype, 0);
        if (fd < 0) {
            r = op_fail(err, "socket", &addrs[i], fd);
            continue;
        }
        r = sk_settimeout(fd, timeout);
        if (r == 0 && family == AF_UNIX && socktype == SOCK_DGRAM) {
            /* Autobind an abstract name: an unnamed socket can receive no replies. The
             * address is sun_family alone; the zeroed path is for valgrind, whose bind
             * check reads sun_path whatever the length. */
            struct sockaddr_un un = {.sun_family = AF_UNIX};
            r = bind(fd, (const struct sockaddr *)&un, sizeof(sa_family_t)) < 0 ? -errno : 0;
        }
        if (r == 0 && (r = sk_source_bind(src, fd, family)) < 0) {
            char sb[SK_ADDRSTRLEN], as[SK_ADDRSTRLEN];
            sk__set_err(err, "connect %s from %s: %s", sk_addr_str(&addrs[i], as),
                        sk_source_str(src, sb),
                        r == SK_ENOADDR ? "no source address of this family" : sk_strerror(r));
            sk_close(fd);
            continue;
        }
        if (r == 0)
            r = sk_connect(fd, &addrs[i]);
        if (r == 0) {
            if (peer)
                *peer = addrs[i];
            return fd;
        }
        op_fail(err, "connect", &addrs[i], r);
        sk_close(fd);
    }
    return r;
}

/* sk_connect_addrs() with a source (NULL: none). */
static int connect_addrs_from(const sk_addr_t *addrs, size_t n, double timeout,
                              const sk_source_t *src, sk_addr_t *peer, char *err)
{
    if (n == 0) {
        sk__set_err(err, "connect: no address to connect to");
        return SK_ENOADDR;
    }
    if (timeout == 0 || sk_addr_family(&addrs[0]) == AF_UNIX)
        return connect_each(addrs, n, SOCK_STREAM, timeout, src, peer, err);
    sk_connector_t *c = sk_connector_new(addrs, n, SK_HE_DELAY, timeout);
    if (!c)
        return -ENOMEM;
    sk_connector_set_source(c, src);
    int fd;
    while ((fd = sk_connector_step(c, peer, err)) == 0) {
        struct pollfd p[SK_ADDRLIST_MAX];
        size_t k = sk_connector_pollfds(c, p, SK_ADDRLIST_MAX);
        if (SK_SYS(poll)(p, k, sk_connector_timeout_ms(c)) < 0 && errno != EINTR) {
            fd = -errno;
            sk__set_err(err, "poll: %s", sk_strerror(fd));
            break;
        }
    }
    sk_connector_free(c);
    if (fd >= 0) {
        int r = sk_settimeout(fd, timeout);
        if (r < 0) {
            sk_close(fd);
            return r;
        }
    }
    return fd;
}

int sk_connect_addrs(const sk_addr_t *addrs, size_t n, double timeout, sk_addr_t *peer,
                     char *err)
{
    return connect_addrs_from(addrs, n, timeout, NULL, peer, err);
}

int sk_connect_endpoint_from(const sk_endpoint_t *ep, int socktype, double timeout,
                             const sk_source_t *src, sk_addr_t *peer, char *err)
{
    sk_addrlist_t list;
    int r = sk_resolve(&list, ep, socktype, 0, err);
    if (r < 0)
        return r;
    sk_addr_t addrs[SK_ADDRLIST_MAX];
    size_t n = 0;
    for (size_t i = 0; i < list.n && n < SK_ADDRLIST_MAX; i++)
        addrs[n++] = list.v[i].addr;
    sk_addrlist_free(&list);
    if (socktype == SOCK_STREAM)
        return connect_addrs_from(addrs, n, timeout, src, peer, err);
    return connect_each(addrs, n, socktype, timeout, src, peer, err); /* fails fast, if at all */
}

int sk_connect_endpoint(const sk_endpoint_t *ep, int socktype, double timeout,
                        sk_addr_t *peer, char *err)
{
    return sk_connect_endpoint_from(ep, socktype, timeout, NULL, peer, err);
}

int sk_create_connection(const char *address, double timeout, sk_addr_t *peer, char *err)
{
    sk_endpoint_t ep;
    int r = sk_endpoint_parse(&ep, address, err);
    if (r < 0)
        return r;
    return sk_connect_endpoint(&ep, SOCK_STREAM, timeout, peer, err);
}

/* An address this host cannot use: skipped while another address of the name works. */
static int unusable_here(int code)
{
    return code == -EAFNOSUPPORT || code == -EADDRNOTAVAIL || code == -EPROTONOSUPPORT;
}

/*
 * A Unix socket path that bind() found taken: replace it if it is a socket nobody listens
 * on any more (a server that died without cleaning up). Never touches a file that is not a
 * socket, nor one that accepts connections. Returns 1 if removed.
 */
static int remove_stale_unix(const sk_addr_t *a, int socktype)
{
    const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
    struct stat st;
    if (un->sun_path[0] == '\0' || lstat(un->sun_path, &st) < 0 || !S_ISSOCK(st.st_mode))
        return 0;
    int probe = sk_socket(AF_UNIX, socktype, 0);
    if (probe < 0)
        return 0;
    int r = SK_SYS(connect)(probe, (const struct sockaddr *)&a->ss, a->len) < 0 ? errno : 0;
    sk_close(probe);
    return r == ECONNREFUSED && unlink(un->sun_path) == 0;
}

/* Make one listening (or bound datagram) socket. Returns the fd, or a code with err set. */
static int listen_one(const sk_resolved_t *ra, const sk_addr_t *a, int backlog, char *err)
{
    int family = sk_addr_family(a);
    int fd = sk_socket(family, ra->socktype, ra->protocol);
    if (fd < 0)
        return op_fail(err, "socket", a, fd);
    int r = 0;
    /* Streams only: on UDP, SO_REUSEADDR would let any other socket that sets it bind the
     * same port and take our datagrams (Python dropped it for UDP for that reason). */
    if (family != AF_UNIX && ra->socktype == SOCK_STREAM)
        r = sk_setsockopt_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (r == 0 && family == AF_INET6)
        r = sk_setsockopt_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
    if (r < 0) {
        sk_close(fd);
        return op_fail(err, "setsockopt", a, r);
    }
    r = sk_bind(fd, a);
    if (r == -EADDRINUSE && family == AF_UNIX && remove_stale_unix(a, ra->socktype))
        r = sk_bind(fd, a);
    if (r < 0) {
        sk_close(fd);
        return op_fail(err, "bind", a, r);
    }
    if (ra->socktype == SOCK_STREAM && (r = sk_listen(fd, backlog)) < 0) {
        sk_close(fd);
        return op_fail(err, "listen", a, r);
    }
    return fd;
}

int sk_listen_endpoint(const sk_endpoint_t *ep, int socktype, int backlog, int *fds,
                       size_t maxfds, char *err)
{
    sk_addrlist_t list;
    int r = sk_resolve(&list, ep, socktype, SK_RESOLVE_PASSIVE, err);
    if (r < 0)
        return r;
    size_t n = 0;
    for (int attempt = 0; attempt < SHARED_PORT_TRIES; attempt++) {
        int shared_port = ep->port; /* port 0: the first bind picks one for all */
        int retry = 0, skipped = 0;
        char skip_err[SK_ERRLEN] = "";
        r = 0;
        for (size_t i = 0; i < list.n && r == 0; i++) {
            sk_addr_t a = list.v[i].addr;
            if (shared_port)
                sk_addr_set_port(&a, (uint16_t)shared_port);
            if (n == maxfds)
                break;
            int fd = listen_one(&list.v[i], &a, backlog, err ? err : skip_err);
            if (fd >= 0) {
                fds[n++] = fd;
                sk_addr_t bound;
                if (!shared_port && sk_getsockname(fd, &bound) == 0 && sk_addr_port(&bound) > 0)
                    shared_port = sk_addr_port(&bound);
            } else if (fd == -EADDRINUSE && ep->port == 0 && n > 0) {
                retry = 1; /* the picked port is taken on another address: pick again */
                r = fd;
            } else if (unusable_here(fd)) {
                skipped = fd;
                if (err)
                    memcpy(skip_err, err, SK_ERRLEN);
            } else {
                r = fd;
            }
        }
        if (r == 0 && n == 0) {
            r = skipped ? skipped : SK_ENOADDR;
            if (err)
                memcpy(err, skip_err, SK_ERRLEN);
        }
        if (r == 0)
            break;
        while (n > 0)
            sk_close(fds[--n]);
        if (!retry)
            break;
    }
    sk_addrlist_free(&list);
    return r < 0 ? r : (int)n;
}

int sk_create_server(const char *address, int backlog, int *fds, size_t maxfds, char *err)
{
    sk_endpoint_t ep;
    int r = sk_endpoint_parse(&ep, address, err);
    if (r < 0)
        return r;
    return sk_listen_endpoint(&ep, SOCK_STREAM, backlog, fds, maxfds, err);
}
