/*
 * test_faults.c: syscall fault injection (STYLE.md item 14). This test links sockit_faults,
 * libsockit built with -DSOCKIT_SYSCALL_TABLE, so every socket call of the sock layer and
 * of the servers' connections goes through sk__sys (src/sys.h). The wrappers below put
 * faults there on purpose:
 *
 *   EINTR       at every call site of the library, the first attempt fails and the retry
 *               passes, then the next attempt fails again (per thread): every call but
 *               socket, shutdown and a zero-timeout poll. A TCP connect goes on in the
 *               background, as an interrupted one does; a Unix connect has not started;
 *               close has closed.
 *   EAGAIN      calls that cannot wait (MSG_DONTWAIT, O_NONBLOCK) say would-block: every
 *               other one, or (EAGAIN_UNTIL_POLL) again and again until the thread polls,
 *               so that a retry without a wait is seen (and counted as a spin).
 *   short       send moves 1 byte (SHORT1), or send and recv move 1..97 bytes (SHORT).
 *   ECONNRESET  recv on one connection fails after N bytes (then reads end of stream);
 *               or another error (ETIMEDOUT, as a keepalive gives).
 *   EMFILE      accept4 fails while the case says so; the calls are counted.
 *   ENOBUFS     send on one connection fails after N bytes; sendto fails k times.
 *
 * Every case asserts real outcomes: the bytes arrive exact and in order, nothing hangs
 * (every wait is bounded), the library reports the error the fault stands for, a server
 * drops only the connection concerned and keeps serving. Peers that are not under test use
 * libc directly (this file is compiled against libc, not the table). Each case runs in its
 * own process (t.h), so the table is simply set at the start of a case; it is not restored
 * at the end, since the thread model's detached session threads may still be closing
 * their sockets after run() returns. Loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/sock.h"
#include "sys.h"
#include "t.h"

#define MiB ((size_t)1 << 20)
/* Longest time a transfer may go without progress, and a run() may take to stop. */
#define STALL_S 20.0
#define STOP_MAX_S 10.0
/* Worker threads of the loop model in these cases: the listener shared by two loops. */
#define LOOP_THREADS 2
/* The servers' pause after EMFILE (src/server.c, src/server_loop.c ACCEPT_BACKOFF_MS). */
#define BACKOFF_S 0.1
/* Would-block retried without a poll in between: given this many times, then let through
 * (so that a spinning library fails the case instead of hanging it). */
#define SPIN_CAP 1000

/* ---- the faults ---- */

enum call {
    C_SOCKET,
    C_ACCEPT4,
    C_CONNECT,
    C_SEND,
    C_RECV,
    C_SENDTO,
    C_RECVFROM,
    C_POLL,
    C_SHUTDOWN,
    C_CLOSE,
    NCALLS
};

enum {
    F_EINTR = 1 << 0,
    F_EAGAIN = 1 << 1,
    F_EAGAIN_UNTIL_POLL = 1 << 2,
    F_SHORT = 1 << 3,
    F_SHORT1 = 1 << 4,
    F_RESET = 1 << 5,
    F_EMFILE = 1 << 6,
    F_ENOBUFS = 1 << 7,
};

/* What the wrappers do. Set before the library's threads start; changed only atomically. */
static atomic_uint faults;
static atomic_long ncalls[NCALLS], ninjected[NCALLS];
static atomic_long nshort; /* transfers cut short */
static atomic_long spins;  /* EAGAIN_UNTIL_POLL: a call retried without a poll */
/* RESET and ENOBUFS on send: the connection concerned is target_fd, or (target_fd < 0)
 * the one whose peer has port target_port; it moves target_after bytes, then fails. */
static atomic_int target_fd = -1;
static atomic_int target_port;
static atomic_long target_after, target_moved;
static atomic_int target_fired;
static atomic_int recv_errno = ECONNRESET; /* what RESET makes recv fail with */
static atomic_long enobufs_sendto;         /* sendto calls still to fail with ENOBUFS */
static atomic_long emfile_calls;           /* accept4 calls failed with EMFILE */
static int emfile_pipe[2] = {-1, -1};      /* written once, at the first EMFILE */

/* Call sites (a wrapper's return address: a place in the library) and how often each has
 * called, per thread, so that EINTR and EAGAIN reach every site, not every other call. */
#define SITES 64
static _Thread_local struct site {
    const void *pc;
    unsigned eintr, eagain;
} sites[SITES];
/* In a wrapper: where in the library it was called from. */
#define CALLER __builtin_return_address(0)
static _Thread_local unsigned need_wait; /* bit per call: would-block given, no poll since */
static _Thread_local uint64_t rng;

static int on(unsigned f)
{
    return (atomic_load(&faults) & f) != 0;
}

static long inject(enum call c, int e)
{
    atomic_fetch_add(&ninjected[c], 1);
    errno = e;
    return -1;
}

static struct site *site_of(const void *pc)
{
    size_t i = ((uintptr_t)pc >> 2) % SITES;
    for (size_t k = 0; k < SITES; k++, i = (i + 1) % SITES) {
        if (sites[i].pc == pc) return &sites[i];
        if (!sites[i].pc) {
            sites[i].pc = pc;
            return &sites[i];
        }
    }
    T_FAIL("more than %d call sites", SITES);
}

/* The first attempt at each call site fails with EINTR, the retry passes (per thread). */
static int eintr_now(const void *pc)
{
    return on(F_EINTR) && (site_of(pc)->eintr++ & 1) == 0;
}

static int cannot_wait(int fd, int flags)
{
    if (flags & MSG_DONTWAIT) return 1;
    int fl = fcntl(fd, F_GETFL);
    return fl >= 0 && (fl & O_NONBLOCK);
}

/* Would-block for a call that cannot wait: every other such call, and with
 * EAGAIN_UNTIL_POLL every one after it until this thread waits in poll(). */
static int eagain_now(enum call c, const void *pc, int fd, int flags)
{
    if (!on(F_EAGAIN | F_EAGAIN_UNTIL_POLL) || !cannot_wait(fd, flags)) return 0;
    unsigned bit = 1u << c;
    if (need_wait & bit) {
        if (atomic_fetch_add(&spins, 1) < SPIN_CAP) return 1;
        need_wait &= ~bit;
        return 0;
    }
    if ((site_of(pc)->eagain++ & 1) != 0) return 0;
    if (on(F_EAGAIN_UNTIL_POLL)) need_wait |= bit;
    return 1;
}

/* A shorter transfer, when SHORT or SHORT1 says so. */
static size_t cut(size_t len, int sending)
{
    size_t n = len;
    if (len > 1 && sending && on(F_SHORT1)) {
        n = 1;
    } else if (len > 1 && on(F_SHORT)) {
        if (!rng) rng = (uint64_t)(uintptr_t)&rng | 1;
        n = 1 + (size_t)(t_rand(&rng) % 97);
        n = n < len ? n : len;
    }
    if (n < len) atomic_fetch_add(&nshort, 1);
    return n;
}

static int is_target(int fd)
{
    int tfd = atomic_load(&target_fd);
    if (tfd >= 0) return fd == tfd;
    int port = atomic_load(&target_port);
    if (!port) return 0;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    sk_addr_t a;
    return getpeername(fd, (struct sockaddr *)&ss, &len) == 0 &&
           sk_addr_set(&a, (struct sockaddr *)&ss, len) == 0 && sk_addr_port(&a) == port;
}

/* The target's budget before its fault: the bytes it may still move (<= 0: fail now). */
static long target_left(void)
{
    return atomic_load(&target_after) - atomic_load(&target_moved);
}

static int w_socket(int domain, int type, int protocol)
{
    atomic_fetch_add(&ncalls[C_SOCKET], 1);
    return sk__sys_default.socket(domain, type, protocol);
}

static int w_accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags)
{
    atomic_fetch_add(&ncalls[C_ACCEPT4], 1);
    if (on(F_EMFILE)) {
        if (atomic_fetch_add(&emfile_calls, 1) == 0 && emfile_pipe[1] >= 0) {
            ssize_t n = write(emfile_pipe[1], "", 1);
            (void)n;
        }
        return (int)inject(C_ACCEPT4, EMFILE);
    }
    if (eintr_now(CALLER)) return (int)inject(C_ACCEPT4, EINTR);
    if (eagain_now(C_ACCEPT4, CALLER, fd, 0)) return (int)inject(C_ACCEPT4, EAGAIN);
    return sk__sys_default.accept4(fd, addr, len, flags);
}

static int w_connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    atomic_fetch_add(&ncalls[C_CONNECT], 1);
    if (!eintr_now(CALLER)) return sk__sys_default.connect(fd, addr, len);
    if (addr->sa_family == AF_UNIX) /* interrupted while queued: nothing is left behind */
        return (int)inject(C_CONNECT, EINTR);
    int r = sk__sys_default.connect(fd, addr, len);
    if (r == 0 || errno == EINPROGRESS) /* the handshake goes on, as after a signal */
        return (int)inject(C_CONNECT, EINTR);
    return r;
}

static ssize_t w_send(int fd, const void *buf, size_t len, int flags)
{
    atomic_fetch_add(&ncalls[C_SEND], 1);
    if (eintr_now(CALLER)) return inject(C_SEND, EINTR);
    if (eagain_now(C_SEND, CALLER, fd, flags)) return inject(C_SEND, EAGAIN);
    int target = on(F_ENOBUFS) && is_target(fd) && !atomic_load(&target_fired);
    if (target) {
        long left = target_left();
        if (left <= 0) {
            atomic_store(&target_fired, 1);
            return inject(C_SEND, ENOBUFS);
        }
        len = (size_t)left < len ? (size_t)left : len;
    }
    ssize_t n = sk__sys_default.send(fd, buf, cut(len, 1), flags);
    if (target && n > 0) atomic_fetch_add(&target_moved, n);
    return n;
}

static ssize_t w_recv(int fd, void *buf, size_t len, int flags)
{
    atomic_fetch_add(&ncalls[C_RECV], 1);
    if (eintr_now(CALLER)) return inject(C_RECV, EINTR);
    if (eagain_now(C_RECV, CALLER, fd, flags)) return inject(C_RECV, EAGAIN);
    int target = on(F_RESET) && is_target(fd);
    if (target) {
        if (atomic_load(&target_fired))
            return 0; /* Linux reports a reset once; then the stream has ended */
        long left = target_left();
        if (left <= 0) {
            atomic_store(&target_fired, 1);
            return inject(C_RECV, atomic_load(&recv_errno));
        }
        len = (size_t)left < len ? (size_t)left : len;
    }
    ssize_t n = sk__sys_default.recv(fd, buf, cut(len, 0), flags);
    if (target && n > 0) atomic_fetch_add(&target_moved, n);
    return n;
}

static ssize_t w_sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *to,
                        socklen_t tolen)
{
    atomic_fetch_add(&ncalls[C_SENDTO], 1);
    if (eintr_now(CALLER)) return inject(C_SENDTO, EINTR);
    if (eagain_now(C_SENDTO, CALLER, fd, flags)) return inject(C_SENDTO, EAGAIN);
    if (on(F_ENOBUFS) && atomic_fetch_sub(&enobufs_sendto, 1) > 0) return inject(C_SENDTO, ENOBUFS);
    return sk__sys_default.sendto(fd, buf, len, flags, to, tolen);
}

static ssize_t w_recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *from,
                          socklen_t *fromlen)
{
    atomic_fetch_add(&ncalls[C_RECVFROM], 1);
    if (eintr_now(CALLER)) return inject(C_RECVFROM, EINTR);
    if (eagain_now(C_RECVFROM, CALLER, fd, flags)) return inject(C_RECVFROM, EAGAIN);
    return sk__sys_default.recvfrom(fd, buf, len, flags, from, fromlen);
}

/* The datagram server's recvmsg/sendmsg (replies from the address asked) count as
 * recvfrom/sendto: the same faults, the same counters. */
static ssize_t w_sendmsg(int fd, const struct msghdr *msg, int flags)
{
    atomic_fetch_add(&ncalls[C_SENDTO], 1);
    if (eintr_now(CALLER)) return inject(C_SENDTO, EINTR);
    if (eagain_now(C_SENDTO, CALLER, fd, flags)) return inject(C_SENDTO, EAGAIN);
    if (on(F_ENOBUFS) && atomic_fetch_sub(&enobufs_sendto, 1) > 0) return inject(C_SENDTO, ENOBUFS);
    return sk__sys_default.sendmsg(fd, msg, flags);
}

static ssize_t w_recvmsg(int fd, struct msghdr *msg, int flags)
{
    atomic_fetch_add(&ncalls[C_RECVFROM], 1);
    if (eintr_now(CALLER)) return inject(C_RECVFROM, EINTR);
    if (eagain_now(C_RECVFROM, CALLER, fd, flags)) return inject(C_RECVFROM, EAGAIN);
    return sk__sys_default.recvmsg(fd, msg, flags);
}

static int w_poll(struct pollfd *fds, nfds_t n, int timeout_ms)
{
    atomic_fetch_add(&ncalls[C_POLL], 1);
    if (timeout_ms == 0) /* a look, not a wait: cannot be interrupted */
        return sk__sys_default.poll(fds, n, timeout_ms);
    need_wait = 0;
    if (eintr_now(CALLER)) return (int)inject(C_POLL, EINTR);
    return sk__sys_default.poll(fds, n, timeout_ms);
}

static int w_shutdown(int fd, int how)
{
    atomic_fetch_add(&ncalls[C_SHUTDOWN], 1);
    return sk__sys_default.shutdown(fd, how);
}

static int w_close(int fd)
{
    atomic_fetch_add(&ncalls[C_CLOSE], 1);
    int r = sk__sys_default.close(fd);
    if (r == 0 && eintr_now(CALLER)) /* Linux: interrupted, but the fd is gone */
        return (int)inject(C_CLOSE, EINTR);
    return r;
}

/* Route the library's calls through the wrappers, with faults f. Call before any thread
 * that uses the library starts (thread creation publishes the table to it). */
static void install(unsigned f)
{
    sk__sys.socket = w_socket;
    sk__sys.accept4 = w_accept4;
    sk__sys.connect = w_connect;
    sk__sys.send = w_send;
    sk__sys.recv = w_recv;
    sk__sys.sendto = w_sendto;
    sk__sys.recvfrom = w_recvfrom;
    sk__sys.sendmsg = w_sendmsg;
    sk__sys.recvmsg = w_recvmsg;
    sk__sys.poll = w_poll;
    sk__sys.shutdown = w_shutdown;
    sk__sys.close = w_close;
    atomic_store(&faults, f);
}

/* Aim RESET / ENOBUFS at one fd (or, fd < 0, at the connection from `port`), failing after
 * `after` bytes. */
static void aim(int fd, int port, long after)
{
    atomic_store(&target_after, after);
    atomic_store(&target_moved, 0);
    atomic_store(&target_fired, 0);
    atomic_store(&target_port, port);
    atomic_store(&target_fd, fd);
}

static long injected(enum call c)
{
    return atomic_load(&ninjected[c]);
}

/* Would-block retried without a wait (EAGAIN_UNTIL_POLL). */
static long spun(void)
{
    return atomic_load(&spins);
}

/* Transfers the wrappers cut short. */
static long shortened(void)
{
    return atomic_load(&nshort);
}

/* ---- plain helpers (libc, no faults) ---- */

static unsigned char *pattern_buf(size_t n, uint64_t seed)
{
    unsigned char *p = malloc(n);
    T_ASSERT(p != NULL);
    t_pattern(p, n, seed, 0);
    return p;
}

/* 127.0.0.1, port 0. */
static void loopback_any(sk_addr_t *a)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    T_OK(sk_addr_set(a, (struct sockaddr *)&sin, sizeof sin));
}

/* Join th within max_s seconds or fail naming it. */
static void join_within(pthread_t th, double max_s, const char *what)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)max_s;
    int e = pthread_timedjoin_np(th, NULL, &until);
    if (e == ETIMEDOUT) T_FAIL("%s did not finish within %g s", what, max_s);
    T_EQ_INT(e, 0);
}

/* A TCP listener on 127.0.0.1, any port, made with libc. */
static int raw_listener(sk_addr_t *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_GE_INT(fd, 0);
    sk_addr_t any;
    loopback_any(&any);
    T_EQ_INT(bind(fd, (const struct sockaddr *)&any.ss, any.len), 0);
    T_EQ_INT(listen(fd, 16), 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    T_EQ_INT(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    T_OK(sk_addr_set(addr, (struct sockaddr *)&ss, len));
    return fd;
}

/* A client made with libc, connected to a (a backlog takes it even while the server does
 * not accept), then non-blocking. */
static int raw_connect(const sk_addr_t *a)
{
    int fd = socket(sk_addr_family(a), SOCK_STREAM | SOCK_CLOEXEC, 0);
    T_GE_INT(fd, 0);
    if (connect(fd, (const struct sockaddr *)&a->ss, a->len) < 0)
        T_FAIL("connect: %s", strerror(errno));
    T_EQ_INT(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK), 0);
    return fd;
}

static int local_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    sk_addr_t a;
    T_EQ_INT(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    T_OK(sk_addr_set(&a, (struct sockaddr *)&ss, len));
    return sk_addr_port(&a);
}

/* Wait (libc poll) for events on fd until the absolute t_now() deadline; 0 on timeout. */
static short wait_raw(int fd, short events, double deadline)
{
    for (;;) {
        double left = deadline - t_now();
        if (left <= 0) return 0;
        struct pollfd p = {.fd = fd, .events = events};
        int r = poll(&p, 1, (int)(left * 1000) + 1);
        if (r > 0) return p.revents;
        if (r < 0 && errno != EINTR) T_FAIL("poll: %s", strerror(errno));
    }
}

/*
 * Through an echo server on non-blocking fd (libc): send n bytes of stream `seed` and
 * check every byte that comes back, in both directions at once (the server may stop
 * reading until we read). Fails when the stream stalls for STALL_S or ends early.
 */
static void raw_echo(int fd, size_t n, uint64_t seed)
{
    unsigned char out[16384], in[16384], want[16384];
    size_t sent = 0, got = 0;
    double deadline = t_now() + STALL_S;
    while (got < n) {
        short ev = wait_raw(fd, (short)(POLLIN | (sent < n ? POLLOUT : 0)), deadline);
        if (!ev) T_FAIL("echo stalled for %g s: sent %zu, got %zu of %zu", STALL_S, sent, got, n);
        if ((ev & POLLOUT) && sent < n) {
            size_t k = n - sent < sizeof out ? n - sent : sizeof out;
            t_pattern(out, k, seed, sent);
            ssize_t w = send(fd, out, k, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN) T_FAIL("send after %zu bytes: %s", sent, strerror(errno));
            if (w > 0) {
                sent += (size_t)w;
                deadline = t_now() + STALL_S;
            }
        }
        if (ev & (POLLIN | POLLHUP | POLLERR)) {
            size_t k = n - got < sizeof in ? n - got : sizeof in;
            ssize_t r = recv(fd, in, k, 0);
            if (r == 0) T_FAIL("end of stream after %zu of %zu echoed bytes", got, n);
            if (r < 0 && errno != EAGAIN) T_FAIL("recv after %zu bytes: %s", got, strerror(errno));
            if (r > 0) {
                t_pattern(want, (size_t)r, seed, got);
                T_EQ_MEM(in, want, (size_t)r);
                got += (size_t)r;
                deadline = t_now() + STALL_S;
            }
        }
    }
}

/* Read fd until the peer's end of stream (or a reset, if allowed), checking that what
 * arrives continues stream `seed` from *off. Returns 0 at end of stream, else -errno. */
static int raw_read_to_end(int fd, uint64_t seed, size_t *off, int reset_ok)
{
    unsigned char in[16384], want[16384];
    double deadline = t_now() + STALL_S;
    for (;;) {
        if (!wait_raw(fd, POLLIN, deadline))
            T_FAIL("no end of stream within %g s (%zu bytes read)", STALL_S, *off);
        ssize_t r = recv(fd, in, sizeof in, 0);
        if (r == 0) return 0;
        if (r < 0 && errno == EAGAIN) continue;
        if (r < 0 && reset_ok && errno == ECONNRESET) return -ECONNRESET;
        if (r < 0) T_FAIL("recv after %zu bytes: %s", *off, strerror(errno));
        t_pattern(want, (size_t)r, seed, *off);
        T_EQ_MEM(in, want, (size_t)r);
        *off += (size_t)r;
    }
}

/* End an echo session cleanly: our FIN, then the server's, and not a byte more. */
static void raw_finish(int fd)
{
    T_EQ_INT(shutdown(fd, SHUT_WR), 0);
    size_t extra = 0;
    T_EQ_INT(raw_read_to_end(fd, 0, &extra, 0), 0);
    T_EQ_INT(extra, 0);
    close(fd);
}

/* ---- the library's sockets, moved by threads ---- */

struct xfer {
    int fd;
    unsigned char *buf;
    size_t len;
    ssize_t rc;
    size_t done;
};

static void *sendall_main(void *arg)
{
    struct xfer *x = arg;
    x->rc = sk_sendall(x->fd, x->buf, x->len, &x->done);
    return NULL;
}

static void *recv_exact_main(void *arg)
{
    struct xfer *x = arg;
    x->rc = sk_recv_exact(x->fd, x->buf, x->len, &x->done);
    return NULL;
}

/* n bytes from `from` to `to` with sk_sendall (a thread) and sk_recv_exact (this one);
 * both must move all of them, in order. */
static void move_bytes(int from, int to, size_t n, uint64_t seed)
{
    unsigned char *want = pattern_buf(n, seed), *got = malloc(n);
    T_ASSERT(got != NULL);
    struct xfer tx = {.fd = from, .buf = want, .len = n, .rc = -1};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, sendall_main, &tx), 0);
    size_t done = 0;
    ssize_t r = sk_recv_exact(to, got, n, &done);
    join_within(th, STALL_S, "sk_sendall");
    if (tx.rc != (ssize_t)n)
        T_FAIL("sk_sendall = %zd (%s), sent %zu of %zu", tx.rc, sk_strerror((int)tx.rc), tx.done,
               n);
    if (r != (ssize_t)n)
        T_FAIL("sk_recv_exact = %zd (%s), got %zu of %zu", r, sk_strerror((int)r), done, n);
    T_EQ_INT(tx.done, n);
    T_EQ_INT(done, n);
    T_EQ_MEM(got, want, n);
    free(want);
    free(got);
}

/* A loopback TCP connection made by the library: *c from sk_create_connection, *s from
 * sk_accept on a libc listener. */
static void lib_pair(int *c, int *s, double timeout)
{
    sk_addr_t a;
    int l = raw_listener(&a);
    char text[64], err[SK_ERRLEN] = "";
    snprintf(text, sizeof text, "127.0.0.1:%d", sk_addr_port(&a));
    *c = sk_create_connection(text, timeout, NULL, err);
    if (*c < 0) T_FAIL("sk_create_connection(%s) = %d: %s", text, *c, err);
    *s = sk_accept(l, NULL);
    T_OK(*s);
    close(l);
}

static void check_closed(int fd)
{
    errno = 0;
    T_EQ_INT(fcntl(fd, F_GETFD), -1);
    T_EQ_INT(errno, EBADF);
}

/* ---- a server on a thread ---- */

struct logbuf {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char text[1 << 16];
    size_t len;
};

static void log_line(void *ctx, const char *line)
{
    struct logbuf *lb = ctx;
    pthread_mutex_lock(&lb->mu);
    size_t n = strlen(line);
    if (lb->len + n + 2 < sizeof lb->text) {
        memcpy(lb->text + lb->len, line, n);
        lb->len += n;
        lb->text[lb->len++] = '\n';
        lb->text[lb->len] = '\0';
    }
    pthread_cond_broadcast(&lb->cv);
    pthread_mutex_unlock(&lb->mu);
}

/* Wait until the log has a line containing both a and b (b may be NULL); fail after
 * STALL_S. Returns the line (static copy). */
static const char *log_wait(struct logbuf *lb, const char *a, const char *b)
{
    static char line[512];
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)STALL_S;
    pthread_mutex_lock(&lb->mu);
    for (;;) {
        for (const char *p = lb->text; *p;) {
            const char *end = strchr(p, '\n');
            size_t n = (size_t)(end - p) < sizeof line - 1 ? (size_t)(end - p) : sizeof line - 1;
            memcpy(line, p, n);
            line[n] = '\0';
            if (strstr(line, a) && (!b || strstr(line, b))) {
                pthread_mutex_unlock(&lb->mu);
                return line;
            }
            p = end + 1;
        }
        if (pthread_cond_timedwait(&lb->cv, &lb->mu, &until) == ETIMEDOUT) {
            pthread_mutex_unlock(&lb->mu);
            T_FAIL("no log line with \"%s\"%s%s%s within %g s; log:\n%s", a, b ? " and \"" : "",
                   b ? b : "", b ? "\"" : "", STALL_S, lb->text);
        }
    }
}

struct running {
    sk_server_t *srv;
    pthread_t th;
    int rc;
    sk_addr_t addr;
    struct logbuf log;
    sk_server_stats_t stats; /* after stop */
};

static void *run_main(void *arg)
{
    struct running *r = arg;
    r->rc = sk_server_run(r->srv);
    return NULL;
}

/* An echo server on 127.0.0.1:0 under `model`, run() on a thread. */
static void start_echo(struct running *r, sk_model_t model, int socktype, double idle_timeout)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->log.mu, NULL);
    pthread_cond_init(&r->log.cv, NULL);
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = model;
    o.socktype = socktype;
    o.threads = LOOP_THREADS;
    o.idle_timeout = idle_timeout;
    o.log = log_line;
    o.log_ctx = &r->log;
    T_OK(sk_server_new(&r->srv, &o));
    char err[SK_ERRLEN] = "";
    int n = sk_server_listen(r->srv, "127.0.0.1:0", err);
    if (n != 1) T_FAIL("sk_server_listen = %d: %s", n, err);
    T_OK(sk_server_listener_addr(r->srv, 0, &r->addr));
    r->rc = -12345;
    T_EQ_INT(pthread_create(&r->th, NULL, run_main, r), 0);
}

static void stop_server(struct running *r)
{
    sk_server_stop(r->srv);
    join_within(r->th, STOP_MAX_S, "sk_server_run after sk_server_stop");
    T_EQ_INT(r->rc, 0);
    sk_server_stats(r->srv, &r->stats);
    sk_server_free(r->srv);
}

/* Wait until the server has closed `closed` connections (the totals are counted as
 * connections end, a moment after the client saw the end). */
static void wait_closed(struct running *r, unsigned long long closed)
{
    double deadline = t_now() + STALL_S;
    for (;;) {
        sk_server_stats_t st;
        sk_server_stats(r->srv, &st);
        if (st.closed >= closed) return;
        if (t_now() > deadline) T_FAIL("%llu connection(s) closed, want %llu", st.closed, closed);
        /* The "Closed" line is logged just before the count moves: wait for lines. */
        pthread_mutex_lock(&r->log.mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 50 * 1000000;
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&r->log.cv, &r->log.mu, &until);
        pthread_mutex_unlock(&r->log.mu);
    }
}

static const char *peer_text(int client_fd, char *buf, size_t len)
{
    snprintf(buf, len, "Closed 127.0.0.1:%d:", local_port(client_fd));
    return buf;
}

/* One client echoes n bytes of stream seed, ends, and the server counts it. */
static void echo_client(struct running *r, size_t n, uint64_t seed)
{
    int c = raw_connect(&r->addr);
    raw_echo(c, n, seed);
    raw_finish(c);
}

/* ---- EINTR ---- */

TEST_TIMEOUT(eintr_every_call_sock_layer, 60)
{
    int fds0 = t_count_fds();
    install(F_EINTR);
    int c, s;
    lib_pair(&c, &s, 5.0); /* connect interrupted: finished by polling, never repeated */
    T_GT_INT(injected(C_CONNECT), 0);
    T_GT_INT(injected(C_POLL), 0);
    T_GT_INT(injected(C_ACCEPT4), 0);
    move_bytes(c, s, MiB, 1); /* blocking sockets */
    T_OK(sk_settimeout(c, 10.0));
    T_OK(sk_settimeout(s, 10.0));
    move_bytes(s, c, MiB, 2); /* timed: a retry must keep the deadline, so it polls first */
    T_EQ_INT(sk_send(c, "x", 1), 1);
    char b[8];
    T_EQ_INT(sk_recv(s, b, sizeof b), 1);
    T_EQ_INT(b[0], 'x');
    T_GT_INT(injected(C_SEND), 0);
    T_GT_INT(injected(C_RECV), 0);

    int c2, s2; /* no timeout at all: the connector path without a bound */
    lib_pair(&c2, &s2, SK_TIMEOUT_NONE);
    move_bytes(c2, s2, 4096, 3);

    /* Unix: an interrupted connect has not started, so it is repeated. */
    char unix_text[64], err[SK_ERRLEN] = "";
    snprintf(unix_text, sizeof unix_text, "unix:@sockit-faults-%d", (int)getpid());
    int ul;
    T_EQ_INT(sk_create_server(unix_text, 0, &ul, 1, err), 1);
    long before = injected(C_CONNECT);
    int uc = sk_create_connection(unix_text, 5.0, NULL, err);
    if (uc < 0) T_FAIL("sk_create_connection(%s) = %d: %s", unix_text, uc, err);
    T_GT_INT(injected(C_CONNECT), before);
    int us = sk_accept(ul, NULL);
    T_OK(us);
    move_bytes(uc, us, 65536, 4);

    /* Datagrams. */
    int u1 = sk_socket(AF_INET, SOCK_DGRAM, 0), u2 = sk_socket(AF_INET, SOCK_DGRAM, 0);
    T_OK(u1);
    T_OK(u2);
    sk_addr_t any, a1, a2, from;
    loopback_any(&any);
    T_OK(sk_bind(u1, &any));
    T_OK(sk_bind(u2, &any));
    T_OK(sk_getsockname(u1, &a1));
    T_OK(sk_getsockname(u2, &a2));
    T_EQ_INT(sk_sendto(u2, "datagram", 8, &a1), 8);
    char d[64];
    T_EQ_INT(sk_recvfrom(u1, d, sizeof d, &from), 8);
    T_EQ_MEM(d, "datagram", 8);
    T_ASSERT(sk_addr_equal(&from, &a2));
    T_GT_INT(injected(C_SENDTO), 0);
    T_GT_INT(injected(C_RECVFROM), 0);

    /* close: EINTR after the fd is gone counts as closed. */
    int all[] = {c, s, c2, s2, ul, uc, us, u1, u2};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        T_EQ_INT(sk_close(all[i]), 0);
        check_closed(all[i]);
    }
    T_GT_INT(injected(C_CLOSE), 0);
    T_EQ_INT(t_count_fds(), fds0);
}

/* Echo n bytes through a server under `model` with faults f; a clean end, no errors. */
static void echo_under(sk_model_t model, unsigned f, size_t n, double idle_timeout)
{
    install(f);
    struct running r;
    start_echo(&r, model, SOCK_STREAM, idle_timeout);
    echo_client(&r, n, 10);
    echo_client(&r, 4096, 11);
    wait_closed(&r, 2);
    stop_server(&r);
    T_EQ_INT(r.stats.accepted, 2);
    T_EQ_INT(r.stats.closed, 2);
    T_EQ_INT(r.stats.errors, 0);
    T_EQ_INT(r.stats.bytes_in, n + 4096);
    T_EQ_INT(r.stats.bytes_out, n + 4096);
    t_note("%s: calls injected: accept4 %ld, send %ld, recv %ld, poll %ld; %ld short",
           sk_model_name(model), injected(C_ACCEPT4), injected(C_SEND), injected(C_RECV),
           injected(C_POLL), shortened());
}

TEST_TIMEOUT(eintr_every_call_loop_server, 60)
{
    echo_under(SK_MODEL_LOOP, F_EINTR, MiB, 0);
    T_GT_INT(injected(C_ACCEPT4), 0);
    T_GT_INT(injected(C_SEND), 0);
    T_GT_INT(injected(C_RECV), 0);
}

TEST_TIMEOUT(eintr_every_call_thread_server, 60)
{
    echo_under(SK_MODEL_THREAD, F_EINTR, MiB, 0);
    T_GT_INT(injected(C_ACCEPT4), 0);
    T_GT_INT(injected(C_SEND), 0);
    T_GT_INT(injected(C_RECV), 0);
    T_GT_INT(injected(C_POLL), 0);
}

/* ---- EAGAIN ---- */

/* Timed sockets: after the first short transfer sendall and recv_exact go on with
 * MSG_DONTWAIT and poll; every would-block must be followed by a poll, never a retry. */
TEST_TIMEOUT(eagain_sock_layer_waits_then_retries, 60)
{
    install(F_EAGAIN_UNTIL_POLL | F_SHORT);
    int c, s;
    lib_pair(&c, &s, 10.0);
    T_OK(sk_settimeout(s, 10.0));
    move_bytes(c, s, MiB, 5);
    T_GT_INT(injected(C_SEND), 0);
    T_GT_INT(injected(C_RECV), 0);
    T_EQ_INT(spun(), 0);

    /* A non-blocking socket: -EAGAIN is the answer (*sent says how far it got); the caller
     * waits and goes on. Not a byte lost or repeated. */
    T_OK(sk_settimeout(c, 0));
    size_t n = 256 * 1024, done = 0;
    int eagains = 0;
    unsigned char *want = pattern_buf(n, 6), *got = malloc(n);
    struct xfer rx = {.fd = s, .buf = got, .len = n, .rc = -1};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, recv_exact_main, &rx), 0);
    while (done < n) {
        size_t sent = 0;
        ssize_t r = sk_sendall(c, want + done, n - done, &sent);
        done += sent;
        if (r == -EAGAIN) {
            eagains++;
            T_EQ_INT(sk__wait_fd(c, POLLOUT, sk__now_ns() + (int64_t)(STALL_S * 1e9)), 0);
            continue;
        }
        T_EQ_INT(r, (ssize_t)(n - (done - sent)));
    }
    join_within(th, STALL_S, "sk_recv_exact");
    T_EQ_INT(rx.rc, (ssize_t)n);
    T_EQ_MEM(got, want, n);
    T_GT_INT(eagains, 0);
    T_EQ_INT(spun(), 0);
    free(want);
    free(got);
    sk_close(c);
    sk_close(s);
}

TEST_TIMEOUT(eagain_loop_server, 60)
{
    echo_under(SK_MODEL_LOOP, F_EAGAIN | F_SHORT, MiB, 0);
    T_GT_INT(injected(C_ACCEPT4), 0);
    T_GT_INT(injected(C_SEND), 0);
    T_GT_INT(injected(C_RECV), 0);
}

/* Timed sessions (an idle timeout), so that output goes on with MSG_DONTWAIT and poll. */
TEST_TIMEOUT(eagain_thread_server, 60)
{
    echo_under(SK_MODEL_THREAD, F_EAGAIN_UNTIL_POLL | F_SHORT, MiB, 30.0);
    T_GT_INT(injected(C_ACCEPT4), 0);
    T_GT_INT(injected(C_SEND), 0);
    T_EQ_INT(spun(), 0);
}

/* ---- short transfers ---- */

TEST_TIMEOUT(short_writes_sock_layer, 60)
{
    install(F_SHORT1);
    int c, s;
    lib_pair(&c, &s, SK_TIMEOUT_NONE);
    move_bytes(c, s, 65536, 7); /* one byte per send */
    T_GE_INT(shortened(), 65535);
    atomic_store(&faults, F_SHORT); /* 1..97 bytes per send and recv */
    move_bytes(s, c, MiB, 8);
    T_OK(sk_settimeout(c, 10.0));
    T_OK(sk_settimeout(s, 10.0));
    move_bytes(c, s, MiB, 9);
    sk_close(c);
    sk_close(s);
}

TEST_TIMEOUT(short_writes_loop_server, 60)
{
    echo_under(SK_MODEL_LOOP, F_SHORT, MiB, 0);
    T_GT_INT(shortened(), 1000);
}

TEST_TIMEOUT(short_writes_thread_server, 60)
{
    echo_under(SK_MODEL_THREAD, F_SHORT, MiB, 0);
    T_GT_INT(shortened(), 1000);
}

TEST_TIMEOUT(one_byte_writes_loop_server, 60)
{
    echo_under(SK_MODEL_LOOP, F_SHORT1, 65536, 0);
    T_GE_INT(shortened(), 65535);
}

TEST_TIMEOUT(one_byte_writes_thread_server, 60)
{
    echo_under(SK_MODEL_THREAD, F_SHORT1, 65536, 0);
    T_GE_INT(shortened(), 65535);
}

/* ---- ECONNRESET ---- */

TEST_TIMEOUT(reset_mid_stream_sock_layer, 60)
{
    install(F_RESET);
    int c, s;
    lib_pair(&c, &s, SK_TIMEOUT_NONE);
    /* Small buffers: the sender is still sending when the receiver meets the reset. */
    T_OK(sk_setsockopt_int(c, SOL_SOCKET, SO_SNDBUF, 4096));
    T_OK(sk_setsockopt_int(s, SOL_SOCKET, SO_RCVBUF, 4096));
    const long at = 100000;
    aim(s, 0, at);
    size_t n = MiB;
    unsigned char *want = pattern_buf(n, 12), *got = malloc(n);
    struct xfer tx = {.fd = c, .buf = want, .len = n, .rc = -1};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, sendall_main, &tx), 0);
    size_t done = 0;
    ssize_t r = sk_recv_exact(s, got, n, &done);
    T_EQ_INT(r, -ECONNRESET);
    T_EQ_STR(sk_strerror((int)r), "Connection reset by peer");
    T_EQ_INT(done, at); /* every byte before the reset is delivered */
    T_EQ_MEM(got, want, done);
    T_EQ_INT(sk_recv(s, got, 16), 0); /* then the stream has ended */
    /* Reset the connection for real (RST on close): the sender, blocked on a full
     * buffer, gets an error, not SIGPIPE (which would end this process). */
    struct linger lg = {1, 0};
    T_EQ_INT(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    T_EQ_INT(sk_close(s), 0);
    join_within(th, STALL_S, "sk_sendall to a reset peer");
    if (tx.rc != -ECONNRESET && tx.rc != -EPIPE)
        T_FAIL("sk_sendall to a reset peer = %zd (%s), want -ECONNRESET or -EPIPE", tx.rc,
               sk_strerror((int)tx.rc));
    T_LT_INT(tx.done, n);
    T_GE_INT(tx.done, at);
    free(want);
    free(got);
    sk_close(c);
}

/* Client A's connection fails (as the server's recv sees it: error e) after 5000 bytes:
 * the server drops A, says why (`reason`), and serves B. */
static void recv_error_server(sk_model_t model, int e, const char *reason)
{
    install(F_RESET);
    atomic_store(&recv_errno, e);
    struct running r;
    start_echo(&r, model, SOCK_STREAM, 0);
    int a = raw_connect(&r.addr);
    aim(-1, local_port(a), 5000);
    unsigned char out[20000];
    t_pattern(out, sizeof out, 13, 0);
    T_EQ_INT(send(a, out, sizeof out, MSG_NOSIGNAL), sizeof out); /* fits the buffers */
    size_t off = 0;
    int end = raw_read_to_end(a, 13, &off, 1);
    T_LE_INT(off, 5000); /* the echo of what the server read before the reset, at most */
    char closed[64];
    const char *line = log_wait(&r.log, peer_text(a, closed, sizeof closed), "5000 bytes in");
    if (!strstr(line, reason))
        T_FAIL("the server's Closed line does not say \"%s\": %s", reason, line);
    t_note("%s: A got %zu bytes, then %s; server: %s", sk_model_name(model), off,
           end ? sk_strerror(end) : "end of stream", line);
    close(a);
    echo_client(&r, 256 * 1024, 14);
    wait_closed(&r, 2);
    stop_server(&r);
    T_EQ_INT(injected(C_RECV), 1);
    T_EQ_INT(r.stats.accepted, 2);
    T_EQ_INT(r.stats.errors, 1);
    T_EQ_INT(r.stats.bytes_in, 5000 + 256 * 1024);
}

TEST_TIMEOUT(reset_mid_stream_loop_server, 60)
{
    recv_error_server(SK_MODEL_LOOP, ECONNRESET, ": connection reset by peer");
}

TEST_TIMEOUT(reset_mid_stream_thread_server, 60)
{
    recv_error_server(SK_MODEL_THREAD, ECONNRESET, ": connection reset by peer");
}

/* Another input error is named as it is, not called a reset. */
TEST_TIMEOUT(recv_timedout_loop_server, 60)
{
    recv_error_server(SK_MODEL_LOOP, ETIMEDOUT, ": recv: Connection timed out");
}

TEST_TIMEOUT(recv_timedout_thread_server, 60)
{
    recv_error_server(SK_MODEL_THREAD, ETIMEDOUT, ": recv: Connection timed out");
}

/* ---- EMFILE ---- */

/*
 * accept4 fails with EMFILE for a while (the injected EMFILE also fails the accept that
 * tries to shed one client with the reserve fd, as ENFILE would). The server must back off
 * rather than spin: over the period it may call accept4 only a few times per backoff
 * interval. Then client A, queued all along, and a new client B are served.
 */
static void emfile_server(sk_model_t model, int workers)
{
    T_EQ_INT(pipe2(emfile_pipe, O_CLOEXEC), 0);
    install(F_EMFILE);
    struct running r;
    start_echo(&r, model, SOCK_STREAM, 0);
    int a = raw_connect(&r.addr);
    T_EQ_INT(send(a, "x", 1, MSG_NOSIGNAL), 1);
    if (!wait_raw(emfile_pipe[0], POLLIN, t_now() + STALL_S))
        T_FAIL("the server never called accept4");
    double t0 = t_now();
    /* The measurement period itself: nothing to wait for but time. */
    struct timespec period = {0, 500 * 1000000};
    nanosleep(&period, NULL);
    long calls = atomic_load(&emfile_calls);
    double secs = t_now() - t0;
    atomic_fetch_and(&faults, ~(unsigned)F_EMFILE);
    /* Per backoff interval and worker: the failed accept and the shedding accept. */
    long bound = (long)(secs / BACKOFF_S + 2) * 2 * workers * 2;
    t_note("%s: %ld accept4 calls failed with EMFILE in %.2f s (bound %ld)", sk_model_name(model),
           calls, secs, bound);
    T_LE_INT(calls, bound);
    log_wait(&r.log, "accept: Too many open files", NULL);
    /* A was queued through it all: now served, from its first byte. */
    unsigned char b;
    T_ASSERT(wait_raw(a, POLLIN, t_now() + STALL_S) & POLLIN);
    T_EQ_INT(recv(a, &b, 1, 0), 1);
    T_EQ_INT(b, 'x');
    raw_echo(a, 65536, 15);
    raw_finish(a);
    echo_client(&r, 65536, 16);
    wait_closed(&r, 2);
    stop_server(&r);
    T_EQ_INT(r.stats.accepted, 2);
    T_EQ_INT(r.stats.errors, 0);
    close(emfile_pipe[0]);
    close(emfile_pipe[1]);
}

TEST_TIMEOUT(emfile_on_accept_loop_server, 60)
{
    emfile_server(SK_MODEL_LOOP, LOOP_THREADS);
}

TEST_TIMEOUT(emfile_on_accept_thread_server, 60)
{
    emfile_server(SK_MODEL_THREAD, 1);
}

/* ---- ENOBUFS ---- */

/*
 * ENOBUFS from a stream send is reported, not retried: on Linux it means the kernel could
 * not allocate (no readiness event says when memory is back, so a retry would be a guess
 * or a spin). sk_sendall returns it with *sent exact, so the caller knows what arrived.
 * A datagram send reports it too; the next datagram goes out.
 */
TEST_TIMEOUT(enobufs_sock_layer, 60)
{
    install(F_ENOBUFS);
    int c, s;
    lib_pair(&c, &s, SK_TIMEOUT_NONE);
    const long at = 300000;
    aim(c, 0, at);
    size_t n = MiB;
    unsigned char *want = pattern_buf(n, 17), *got = malloc(n);
    struct xfer rx = {.fd = s, .buf = got, .len = n, .rc = -1};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, recv_exact_main, &rx), 0);
    size_t sent = 0;
    ssize_t r = sk_sendall(c, want, n, &sent);
    T_EQ_INT(r, -ENOBUFS);
    T_EQ_STR(sk_strerror((int)r), "No buffer space available");
    T_EQ_INT(sent, at);
    T_OK(sk_shutdown(c, SHUT_WR));
    join_within(th, STALL_S, "sk_recv_exact");
    T_EQ_INT(rx.rc, SK_EEOF);
    T_EQ_INT(rx.done, at); /* exactly what sendall said it sent */
    T_EQ_MEM(got, want, rx.done);
    T_EQ_INT(injected(C_SEND), 1);
    sk_close(c);
    sk_close(s);
    free(want);
    free(got);

    int u1 = sk_socket(AF_INET, SOCK_DGRAM, 0), u2 = sk_socket(AF_INET, SOCK_DGRAM, 0);
    sk_addr_t any, a1;
    loopback_any(&any);
    T_OK(sk_bind(u1, &any));
    T_OK(sk_getsockname(u1, &a1));
    atomic_store(&enobufs_sendto, 1);
    T_EQ_INT(sk_sendto(u2, "first", 5, &a1), -ENOBUFS);
    T_EQ_INT(sk_sendto(u2, "second", 6, &a1), 6);
    char d[16];
    T_EQ_INT(sk_recvfrom(u1, d, sizeof d, NULL), 6);
    T_EQ_MEM(d, "second", 6);
    sk_close(u1);
    sk_close(u2);
}

/* The server's output to client A fails with ENOBUFS after 3000 bytes: A is dropped with
 * the reason in the log and counted as an error; B is served. */
static void enobufs_server(sk_model_t model)
{
    install(F_ENOBUFS);
    struct running r;
    start_echo(&r, model, SOCK_STREAM, 0);
    int a = raw_connect(&r.addr);
    aim(-1, local_port(a), 3000);
    unsigned char out[20000];
    t_pattern(out, sizeof out, 18, 0);
    T_EQ_INT(send(a, out, sizeof out, MSG_NOSIGNAL), sizeof out);
    size_t off = 0;
    raw_read_to_end(a, 18, &off, 1);
    T_LE_INT(off, 3000);
    char closed[64];
    const char *line = log_wait(&r.log, peer_text(a, closed, sizeof closed), NULL);
    t_note("%s: A got %zu bytes; server: %s", sk_model_name(model), off, line);
    if (!strstr(line, "No buffer space available"))
        T_FAIL("the server's Closed line does not name the error: %s", line);
    close(a);
    echo_client(&r, 256 * 1024, 19);
    wait_closed(&r, 2);
    stop_server(&r);
    T_EQ_INT(injected(C_SEND), 1);
    T_EQ_INT(r.stats.accepted, 2);
    T_EQ_INT(r.stats.errors, 1);
}

TEST_TIMEOUT(enobufs_loop_server, 60)
{
    enobufs_server(SK_MODEL_LOOP);
}

TEST_TIMEOUT(enobufs_thread_server, 60)
{
    enobufs_server(SK_MODEL_THREAD);
}

/* A datagram server whose reply fails with ENOBUFS drops that reply, logs it, and answers
 * the next datagram. */
static void enobufs_udp_server(sk_model_t model)
{
    install(F_ENOBUFS);
    struct running r;
    start_echo(&r, model, SOCK_DGRAM, 0);
    int u = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    T_GE_INT(u, 0);
    T_EQ_INT(connect(u, (const struct sockaddr *)&r.addr.ss, r.addr.len), 0);
    atomic_store(&enobufs_sendto, 1);
    T_EQ_INT(send(u, "first", 5, 0), 5);
    T_EQ_INT(send(u, "second", 6, 0), 6);
    /* Replies come back in order on loopback: "second" first means "first" was dropped. */
    T_ASSERT(wait_raw(u, POLLIN, t_now() + STALL_S) & POLLIN);
    char d[16];
    T_EQ_INT(recv(u, d, sizeof d, 0), 6);
    T_EQ_MEM(d, "second", 6);
    char want[64];
    snprintf(want, sizeof want, "sendto 127.0.0.1:%d: ", local_port(u));
    log_wait(&r.log, want, "No buffer space available");
    T_EQ_INT(injected(C_SENDTO), 1);
    close(u);
    stop_server(&r);
    T_EQ_INT(r.stats.datagrams, 2);
}

TEST_TIMEOUT(enobufs_udp_loop_server, 60)
{
    enobufs_udp_server(SK_MODEL_LOOP);
}

TEST_TIMEOUT(enobufs_udp_thread_server, 60)
{
    enobufs_udp_server(SK_MODEL_THREAD);
}
