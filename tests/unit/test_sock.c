/*
 * test_sock.c: the blocking socket calls and their guarantees (sockit/sock.h): short
 * reads and writes, EINTR under a signal storm, end of stream, Python's timeouts, no
 * SIGPIPE, close-on-exec, create_server and create_connection. Loopback only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/service.h"
#include "sockit/sock.h"
#include "t.h"

#define MiB (1024 * 1024)

/* ---- helpers ---- */

/* A signal storm: SIGALRM every `usec` microseconds, handler installed WITHOUT SA_RESTART,
 * so that every blocking call in its way fails with EINTR unless libsockit resumes it. */
static atomic_long storm_count; /* lock-free: safe in a handler and across threads */

static void storm_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&storm_count, 1);
}

static void storm_start(long usec)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = storm_handler;
    sa.sa_flags = 0; /* no SA_RESTART: the point of the storm */
    sigemptyset(&sa.sa_mask);
    T_EQ_INT(sigaction(SIGALRM, &sa, NULL), 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    T_EQ_INT(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    atomic_store(&storm_count, 0);
    struct itimerval it = {{0, usec}, {0, usec}};
    T_EQ_INT(setitimer(ITIMER_REAL, &it, NULL), 0);
}

static void storm_disarm(void)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
}

/* Disarm the timer; returns how many times the handler ran. */
static long storm_stop(void)
{
    storm_disarm();
    return atomic_load(&storm_count);
}

static void set_tiny_buffers(int fd)
{
    T_OK(sk_setsockopt_int(fd, SOL_SOCKET, SO_SNDBUF, 4096));
    T_OK(sk_setsockopt_int(fd, SOL_SOCKET, SO_RCVBUF, 4096));
}

/* A connected AF_UNIX stream pair with tiny buffers. */
static void tiny_pair(int fds[2])
{
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    set_tiny_buffers(fds[0]);
    set_tiny_buffers(fds[1]);
}

/* Send without waiting until the socket takes no more. Returns the bytes sent; fills
 * the stream with pattern `seed` from offset 0. */
static size_t fill_socket(int fd, uint64_t seed)
{
    unsigned char chunk[4096];
    size_t total = 0;
    for (int i = 0; i < 100000; i++) {
        t_pattern(chunk, sizeof chunk, seed, total);
        ssize_t n = send(fd, chunk, sizeof chunk, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            T_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
            return total;
        }
        total += (size_t)n;
    }
    T_FAIL("socket %d never filled up", fd);
}

/* Read everything available without waiting; check it is pattern `seed` from offset 0.
 * Returns the number of bytes. */
static size_t drain_check(int fd, uint64_t seed)
{
    unsigned char got[8192], want[8192];
    size_t total = 0;
    for (;;) {
        ssize_t n = recv(fd, got, sizeof got, MSG_DONTWAIT);
        if (n < 0) {
            T_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
            return total;
        }
        if (n == 0) return total;
        t_pattern(want, (size_t)n, seed, total);
        T_EQ_MEM(got, want, (size_t)n);
        total += (size_t)n;
    }
}

/* A listening TCP socket on 127.0.0.1, any port, with a raw listen(2) backlog (sk_listen
 * would turn 0 into SOMAXCONN). */
static int raw_listener(int backlog, sk_addr_t *addr)
{
    int fd = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(fd);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sk_addr_t a;
    T_OK(sk_addr_set(&a, (struct sockaddr *)&sin, sizeof sin));
    T_OK(sk_bind(fd, &a));
    T_EQ_INT(listen(fd, backlog), 0);
    T_OK(sk_getsockname(fd, addr));
    return fd;
}

/* sk_create_server() on text that must give exactly one socket; its address in *addr. */
static int one_server(const char *text, sk_addr_t *addr)
{
    int fds[SK_LISTEN_MAX];
    char err[SK_ERRLEN] = "";
    int n = sk_create_server(text, 0, fds, 1, err);
    if (n != 1) T_FAIL("sk_create_server(\"%s\") = %d: %s", text, n, err);
    T_OK(sk_getsockname(fds[0], addr));
    return fds[0];
}

/* A TCP port on 127.0.0.1 where nothing listens (bound once, then closed). */
static int closed_port(void)
{
    sk_addr_t a;
    int fd = one_server("127.0.0.1:0", &a);
    sk_close(fd);
    return sk_addr_port(&a);
}

static void check_cloexec(int fd, const char *what)
{
    int fl = fcntl(fd, F_GETFD);
    T_GE_INT(fl, 0);
    if (!(fl & FD_CLOEXEC)) T_FAIL("%s: fd %d is not close-on-exec", what, fd);
}

static int is_nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    T_GE_INT(fl, 0);
    return (fl & O_NONBLOCK) != 0;
}

static double timeout_of(int fd)
{
    double t = -123;
    T_OK(sk_gettimeout(fd, &t));
    return t;
}

static int sockopt_int(int fd, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    T_EQ_INT(getsockopt(fd, level, name, &v, &len), 0);
    return v;
}

/* A loopback TCP connection: *c the client, *s the server end. */
static void tcp_pair(int *c, int *s)
{
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    *c = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(*c);
    T_OK(sk_connect(*c, &a));
    *s = sk_accept(l, NULL);
    T_OK(*s);
    sk_close(l);
}

/* ---- a sender thread ---- */

struct sender {
    int fd;
    const unsigned char *buf;
    size_t len;
    ssize_t rc;
    size_t sent;
    double timeout; /* < 0: leave the socket alone */
};

static void *sender_main(void *arg)
{
    struct sender *s = arg;
    s->sent = (size_t)-1;
    s->rc = sk_sendall(s->fd, s->buf, s->len, &s->sent);
    return NULL;
}

/* ---- sendall / recv under short writes and reads ---- */

static void transfer_small_chunks(int use_recv_exact)
{
    const size_t total = 4 * MiB;
    unsigned char *src = malloc(total), *dst = malloc(total);
    T_ASSERT(src && dst);
    t_pattern(src, total, 21, 0);
    int fds[2];
    tiny_pair(fds);

    struct sender s = {.fd = fds[0], .buf = src, .len = total};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, sender_main, &s), 0);
    uint64_t rng = 99;
    size_t got = 0;
    long calls = 0;
    while (got < total) {
        size_t want = 1 + (size_t)(t_rand(&rng) % 3000);
        if (want > total - got) want = total - got;
        if (use_recv_exact) {
            size_t g = 0;
            ssize_t n = sk_recv_exact(fds[1], dst + got, want, &g);
            T_EQ_INT(n, want);
            T_EQ_INT(g, want);
            got += want;
        } else {
            ssize_t n = sk_recv(fds[1], dst + got, want);
            T_GT_INT(n, 0);
            T_LE_INT(n, want);
            got += (size_t)n;
        }
        calls++;
    }
    T_EQ_INT(pthread_join(th, NULL), 0);
    T_EQ_INT(s.rc, total);
    T_EQ_INT(s.sent, total);
    T_EQ_MEM(dst, src, total);
    T_GT_INT(calls, 1000); /* the reads really were small */
    /* Nothing more than was sent. */
    T_OK(sk_shutdown(fds[0], SHUT_WR));
    char extra;
    T_EQ_INT(sk_recv(fds[1], &extra, 1), 0);
    sk_close(fds[0]);
    sk_close(fds[1]);
    free(src);
    free(dst);
}

TEST(sendall_recv_small_random_chunks)
{
    transfer_small_chunks(0);
}

TEST(sendall_recv_exact_small_random_chunks)
{
    transfer_small_chunks(1);
}

/* ---- the signal storm ---- */

struct storm_result {
    ssize_t rc;   /* the first failed sendall, or 0 */
    size_t sent;  /* bytes sent in all */
    long signals; /* handler runs in the sender */
    int rounds;   /* 8 MiB rounds sent */
};

/* Signals each side must have taken before the sender stops sending more rounds. */
#define STORM_SIGNALS 100
#define STORM_MAX_ROUNDS 40

/* The receiver failed: let the sender finish and say what it saw, for the report. */
static void storm_explain(int sock, int resfd)
{
    storm_stop();
    sk_close(sock); /* a sender blocked on a full socket now gets -EPIPE */
    struct pollfd p = {.fd = resfd, .events = POLLIN};
    struct storm_result r;
    if (poll(&p, 1, 2000) == 1 && read(resfd, &r, sizeof r) == (ssize_t)sizeof r)
        t_note("sender: rc %zd (%s) after %zu bytes, %ld signals", r.rc, sk_strerror((int)r.rc),
               r.sent, r.signals);
}

/*
 * Rounds of 8 MiB from a child process (sendall in pieces of random size, then the rest
 * of the round in one call) to this one (recv and recv_exact in random small pieces),
 * each process under its own 1 ms SIGALRM storm without SA_RESTART. The sender goes on
 * with more rounds until it has been hit STORM_SIGNALS times (a fast machine moves
 * 8 MiB in a few milliseconds), then closes. `timeout` < 0 leaves the sockets blocking;
 * otherwise it bounds each call, the whole of it.
 */
static void storm_transfer(double timeout)
{
    /* Under valgrind a handler can take 1 ms: a 1 ms storm would be a livelock. */
    const long period = t_under_valgrind() ? 3000 : 1000;
    const size_t round = 8 * MiB;
    unsigned char *src = malloc(round), *dst = malloc(8192), *want = malloc(8192);
    T_ASSERT(src && dst && want);
    t_pattern(src, round, 31, 0);
    int fds[2], res[2];
    tiny_pair(fds);
    if (timeout >= 0) {
        T_OK(sk_settimeout(fds[0], timeout));
        T_OK(sk_settimeout(fds[1], timeout));
    }
    T_EQ_INT(pipe(res), 0);

    pid_t pid = fork();
    T_GE_INT(pid, 0);
    if (pid == 0) {
        close(res[0]);
        sk_close(fds[1]);
        struct storm_result r;
        memset(&r, 0, sizeof r); /* the padding too: all of it goes down the pipe */
        storm_start(period);
        uint64_t rng = 3;
        while (r.rc == 0 && r.rounds < STORM_MAX_ROUNDS &&
               (r.rounds == 0 || atomic_load(&storm_count) <= STORM_SIGNALS)) {
            size_t off = 0;
            while (off < round) {
                size_t n = 1 + (size_t)(t_rand(&rng) % 100000);
                if (off >= round / 2 || n > round - off)
                    n = round - off; /* the second half of each round in one call */
                size_t sent = 0;
                ssize_t rc = sk_sendall(fds[0], src + off, n, &sent);
                off += sent;
                r.sent += sent;
                if (rc != (ssize_t)n || sent != n) {
                    r.rc = rc == (ssize_t)n ? -EIO : rc;
                    break;
                }
            }
            r.rounds++;
        }
        r.signals = storm_stop();
        ssize_t w = write(res[1], &r, sizeof r);
        free(src);
        free(dst);
        free(want);
        _exit(w == (ssize_t)sizeof r ? 0 : 3);
    }
    close(res[1]);
    sk_close(fds[0]);

    storm_start(period);
    uint64_t rng = 17;
    size_t got = 0;
    double t0 = t_now();
    for (;;) {
        size_t in_round = got % round;
        size_t n = 1 + (size_t)(t_rand(&rng) % 8192);
        if (n > round - in_round)
            n = round - in_round; /* never across a round: the check is per round */
        ssize_t r;
        size_t g = 0;
        if (t_rand(&rng) & 1) {
            r = sk_recv_exact(fds[1], dst, n, &g);
            if (r == SK_EEOF && g == 0 && in_round == 0)
                break; /* the sender closed, between rounds */
            if (r != (ssize_t)n) {
                storm_explain(fds[1], res[0]);
                T_FAIL("recv_exact(%zu) at offset %zu = %zd (%s), got %zu", n, got, r,
                       sk_strerror((int)r), g);
            }
        } else {
            r = sk_recv(fds[1], dst, n);
            if (r == 0 && in_round == 0) break;
            if (r <= 0) {
                storm_explain(fds[1], res[0]);
                T_FAIL("recv(%zu) at offset %zu = %zd (%s)", n, got, r,
                       r ? sk_strerror((int)r) : "end of stream");
            }
        }
        t_pattern(want, (size_t)r, 31, in_round);
        if (memcmp(dst, want, (size_t)r) != 0) {
            t_note("data differs in the chunk at stream offset %zu", got);
            T_EQ_MEM(dst, want, (size_t)r);
        }
        got += (size_t)r;
        T_LT_INT(t_now() - t0, 30); /* bounded, whatever happens */
    }
    long mine = storm_stop();
    double dt = t_now() - t0;

    struct storm_result r;
    T_EQ_INT(read(res[0], &r, sizeof r), sizeof r);
    int status = 0;
    T_EQ_INT(waitpid(pid, &status, 0), pid);
    T_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    t_note("%d round(s) of 8 MiB in %.2f s; signals: sender %ld, receiver %ld", r.rounds, dt,
           r.signals, mine);
    if (r.rc != 0)
        T_FAIL("sender: sendall = %zd (%s) after %zu bytes", r.rc, sk_strerror((int)r.rc), r.sent);
    T_EQ_INT(r.sent, (size_t)r.rounds * round);
    T_EQ_INT(got, r.sent); /* nothing lost, nothing duplicated */
    T_GT_INT(r.signals, 50);
    T_GT_INT(mine, 50);
    sk_close(fds[1]);
    close(res[0]);
    free(src);
    free(dst);
    free(want);
}

TEST_TIMEOUT(signal_storm_sendall_recv_exact, 40)
{
    storm_transfer(-1);
}

TEST_TIMEOUT(signal_storm_with_timeout, 40)
{
    storm_transfer(t_under_valgrind() ? 50.0 : 5.0); /* slow readers under valgrind */
}

TEST(signal_storm_cannot_stretch_a_timeout)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    T_OK(sk_settimeout(fds[1], 0.3));
    char c;
    storm_start(1000);
    double t0 = t_now();
    ssize_t r = sk_recv(fds[1], &c, 1);
    double dt = t_now() - t0;
    long n = storm_stop();
    T_EQ_INT(r, -ETIMEDOUT);
    T_GT_INT(n, 50);
    T_GE_INT(dt * 1000, 280);
    T_LT_INT(dt * 1000, 1500);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

/* After `delay` seconds, end the storm (setitimer is per process), so that a call the
 * storm keeps alive gets to finish and the test can report how long it took. */
struct storm_stopper {
    double delay;
};

static void *storm_stopper_main(void *arg)
{
    const struct storm_stopper *st = arg;
    struct timespec ts = {(time_t)st->delay, (long)((st->delay - (double)(time_t)st->delay) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
    storm_disarm();
    return NULL;
}

/* A thread that cannot take SIGALRM, so the storm hits the caller. */
static pthread_t start_storm_stopper(struct storm_stopper *st)
{
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, storm_stopper_main, st), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return th;
}

TEST(signal_storm_cannot_stretch_an_accept_timeout)
{
    /* sk_accept honours the listener's timeout; sock.h: "a signal storm cannot stretch it:
     * after an interruption the remaining time is used". */
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    T_OK(sk_settimeout(l, 0.3));
    struct storm_stopper st = {2.0};
    storm_start(1000);
    pthread_t th = start_storm_stopper(&st);
    double t0 = t_now();
    int r = sk_accept(l, NULL);
    double dt = t_now() - t0;
    long n = storm_stop();
    T_EQ_INT(pthread_join(th, NULL), 0);
    T_EQ_INT(r, -ETIMEDOUT);
    T_GT_INT(n, 50);
    if (dt > 1.5)
        T_FAIL("sk_accept with a 0.3 s timeout returned after %.2f s: the storm (%ld "
               "signals) stretched it until the storm was stopped at %.1f s",
               dt, n, st.delay);
    T_GE_INT(dt * 1000, 280);
    sk_close(l);
}

TEST(signal_storm_cannot_stretch_a_unix_connect_timeout)
{
    /* A Unix listener whose backlog is full makes connect() wait, bounded by the socket's
     * timeout; the storm must not stretch that wait either. */
    int l = sk_socket(AF_UNIX, SOCK_STREAM, 0);
    T_OK(l);
    sk_endpoint_t ep;
    char name[64];
    snprintf(name, sizeof name, "unix:@sockit-test-%ld", (long)getpid());
    T_OK(sk_endpoint_parse(&ep, name, NULL));
    sk_addrlist_t list;
    T_EQ_INT(sk_resolve(&list, &ep, SOCK_STREAM, 0, NULL), 1);
    T_OK(sk_bind(l, &list.v[0].addr));
    T_EQ_INT(listen(l, 0), 0);
    int cl[8], ncl = 0, full = 0;
    while (ncl < 8 && !full) {
        cl[ncl] = sk_socket(AF_UNIX, SOCK_STREAM, 0);
        T_OK(cl[ncl]);
        T_OK(sk_settimeout(cl[ncl], 0));
        int r = sk_connect(cl[ncl], &list.v[0].addr);
        ncl++;
        if (r == -EAGAIN)
            full = 1;
        else
            T_EQ_INT(r, 0);
    }
    if (!full) T_SKIP("a backlog-0 Unix listener took 8 connections");

    int c = sk_socket(AF_UNIX, SOCK_STREAM, 0);
    T_OK(c);
    T_OK(sk_settimeout(c, 0.3));
    double t0 = t_now();
    int r = sk_connect(c, &list.v[0].addr); /* no storm: the plain timeout */
    double dt = t_now() - t0;
    T_EQ_INT(r, -ETIMEDOUT);
    T_GE_INT(dt * 1000, 280);
    T_LT_INT(dt * 1000, 1500);

    struct storm_stopper st = {2.0};
    storm_start(1000);
    pthread_t th = start_storm_stopper(&st);
    t0 = t_now();
    r = sk_connect(c, &list.v[0].addr);
    dt = t_now() - t0;
    long n = storm_stop();
    T_EQ_INT(pthread_join(th, NULL), 0);
    T_EQ_INT(r, -ETIMEDOUT);
    T_GT_INT(n, 50);
    if (dt > 1.5)
        T_FAIL("Unix connect with a 0.3 s timeout returned after %.2f s: the storm (%ld "
               "signals) stretched it until the storm was stopped at %.1f s",
               dt, n, st.delay);
    for (int i = 0; i < ncl; i++)
        sk_close(cl[i]);
    sk_close(c);
    sk_close(l);
    sk_addrlist_free(&list);
}

/* ---- end of stream ---- */

TEST(recv_exact_eof_reports_partial)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    unsigned char ten[10], buf[20];
    t_pattern(ten, sizeof ten, 41, 0);
    T_EQ_INT(sk_sendall(fds[0], ten, sizeof ten, NULL), 10);
    T_OK(sk_shutdown(fds[0], SHUT_WR));
    size_t got = 99;
    T_EQ_INT(sk_recv_exact(fds[1], buf, 20, &got), SK_EEOF);
    T_EQ_INT(got, 10);
    T_EQ_MEM(buf, ten, 10);
    /* Again: nothing at all is left. */
    got = 99;
    T_EQ_INT(sk_recv_exact(fds[1], buf, 1, &got), SK_EEOF);
    T_EQ_INT(got, 0);
    T_EQ_INT(sk_recv(fds[1], buf, sizeof buf), 0);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(recv_exact_zero_bytes)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    size_t got = 99;
    char c;
    T_EQ_INT(sk_recv_exact(fds[1], &c, 0, &got), 0); /* returns at once */
    T_EQ_INT(got, 0);
    size_t sent = 99;
    T_EQ_INT(sk_sendall(fds[0], "", 0, &sent), 0);
    T_EQ_INT(sent, 0);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

/* ---- timeouts ---- */

TEST(timeout_roundtrip)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    int fd = fds[0];
    T_NEAR_DBL(timeout_of(fd), SK_TIMEOUT_NONE, 0); /* a new socket blocks */

    T_OK(sk_settimeout(fd, SK_TIMEOUT_NONE));
    T_NEAR_DBL(timeout_of(fd), SK_TIMEOUT_NONE, 0);
    T_ASSERT(!is_nonblocking(fd));

    T_OK(sk_settimeout(fd, 0));
    T_NEAR_DBL(timeout_of(fd), 0, 0);
    T_ASSERT(is_nonblocking(fd));

    /* Python: s.settimeout(0.25); s.gettimeout() == 0.25. The kernel keeps the timeout in
     * clock ticks, and sock.h promises the value it really applies: rounded UP to a tick
     * (at most 10 ms at HZ=100), never down. */
    T_OK(sk_settimeout(fd, 0.25));
    T_ASSERT(!is_nonblocking(fd));
    T_ASSERT(timeout_of(fd) >= 0.25 - 1e-9);
    T_ASSERT(timeout_of(fd) <= 0.25 + 0.010 + 1e-9);

    T_OK(sk_settimeout(fd, SK_TIMEOUT_NONE));
    T_NEAR_DBL(timeout_of(fd), SK_TIMEOUT_NONE, 0);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(timeout_whole_seconds_and_modes)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    int fd = fds[0];
    T_OK(sk_settimeout(fd, 2.0));
    T_NEAR_DBL(timeout_of(fd), 2.0, 1e-6);
    T_ASSERT(!is_nonblocking(fd));
    /* The timeout lives in the socket: another descriptor of it sees it. */
    int d = dup(fd);
    T_GE_INT(d, 0);
    T_NEAR_DBL(timeout_of(d), 2.0, 1e-6);
    close(d);

    T_OK(sk_setblocking(fd, 0));
    T_NEAR_DBL(timeout_of(fd), 0, 0);
    T_ASSERT(is_nonblocking(fd));
    T_OK(sk_setblocking(fd, 1));
    T_NEAR_DBL(timeout_of(fd), SK_TIMEOUT_NONE, 0);
    T_ASSERT(!is_nonblocking(fd));

    T_OK(sk_settimeout(fd, -5)); /* any negative value blocks */
    T_NEAR_DBL(timeout_of(fd), SK_TIMEOUT_NONE, 0);

    /* Out of range: refused, and the timeout is left as it was. */
    T_OK(sk_settimeout(fd, 3.0));
    T_EQ_INT(sk_settimeout(fd, NAN), SK_EBADARG);
    T_EQ_INT(sk_settimeout(fd, 1e18), SK_EBADARG);
    T_EQ_INT(sk_settimeout(fd, INFINITY), SK_EBADARG);
    T_NEAR_DBL(timeout_of(fd), 3.0, 1e-6);

    /* Not a socket, not a descriptor. */
    T_EQ_INT(sk_settimeout(-1, 1.0), -EBADF);
    double t;
    T_EQ_INT(sk_gettimeout(-1, &t), -EBADF);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(recv_timeout_on_silent_socket)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    T_OK(sk_settimeout(fds[1], 0.2));
    char buf[16];
    double t0 = t_now();
    T_EQ_INT(sk_recv(fds[1], buf, sizeof buf), -ETIMEDOUT);
    double dt = t_now() - t0;
    T_GE_INT(dt * 1000, 180);
    T_LT_INT(dt * 1000, 3000);

    /* recv_exact too, reporting what it got. */
    T_EQ_INT(sk_sendall(fds[0], "abc", 3, NULL), 3);
    size_t got = 99;
    t0 = t_now();
    T_EQ_INT(sk_recv_exact(fds[1], buf, 10, &got), -ETIMEDOUT);
    dt = t_now() - t0;
    T_EQ_INT(got, 3);
    T_EQ_MEM(buf, "abc", 3);
    T_GE_INT(dt * 1000, 180);
    T_LT_INT(dt * 1000, 3000);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

/* A peer that trickles one byte every 50 ms. */
struct trickle {
    int fd;
    int bytes;
};

static void *trickle_main(void *arg)
{
    struct trickle *t = arg;
    for (int i = 0; i < t->bytes; i++) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL); /* the pace is the point: nothing to wait for */
        if (sk_sendall(t->fd, "x", 1, NULL) != 1) break;
    }
    return NULL;
}

TEST(recv_exact_timeout_covers_the_whole_call)
{
    /* Python 3.5+: the timeout bounds the whole call, not each recv. A peer sending a
     * byte every 50 ms must not keep a 0.3 s recv_exact(100) alive for 5 s. */
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    T_OK(sk_settimeout(fds[1], 0.3));
    struct trickle tr = {fds[0], 40};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, trickle_main, &tr), 0);
    char buf[100];
    size_t got = 0;
    double t0 = t_now();
    ssize_t r = sk_recv_exact(fds[1], buf, sizeof buf, &got);
    double dt = t_now() - t0;
    T_EQ_INT(r, -ETIMEDOUT);
    T_GE_INT(got, 1);
    T_LT_INT(got, 20);
    T_GE_INT(dt * 1000, 280);
    T_LT_INT(dt * 1000, 1200);
    sk_shutdown(fds[1], SHUT_RDWR);
    T_EQ_INT(pthread_join(th, NULL), 0);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(nonblocking_recv_is_eagain)
{
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    T_OK(sk_settimeout(fds[1], 0));
    char buf[8];
    double t0 = t_now();
    T_EQ_INT(sk_recv(fds[1], buf, sizeof buf), -EAGAIN);
    size_t got = 99;
    T_EQ_INT(sk_recv_exact(fds[1], buf, sizeof buf, &got), -EAGAIN);
    T_EQ_INT(got, 0);
    /* Partial data, then would-block: -EAGAIN with what arrived. */
    T_EQ_INT(sk_sendall(fds[0], "ab", 2, NULL), 2);
    T_EQ_INT(sk_recv_exact(fds[1], buf, sizeof buf, &got), -EAGAIN);
    T_EQ_INT(got, 2);
    T_EQ_MEM(buf, "ab", 2);
    T_LT_INT((t_now() - t0) * 1000, 500); /* nothing waited */
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(sendall_timeout_on_full_socket)
{
    int fds[2];
    tiny_pair(fds);
    T_OK(sk_settimeout(fds[0], 0.2));
    const size_t len = 1 * MiB;
    unsigned char *src = malloc(len);
    T_ASSERT(src != NULL);
    t_pattern(src, len, 51, 0);
    size_t sent = (size_t)-1;
    double t0 = t_now();
    ssize_t r = sk_sendall(fds[0], src, len, &sent);
    double dt = t_now() - t0;
    T_EQ_INT(r, -ETIMEDOUT);
    T_GT_INT(sent, 0);
    T_LT_INT(sent, len);
    T_GE_INT(dt * 1000, 180);
    T_LT_INT(dt * 1000, 3000);
    /* *sent is exactly what the peer can read. */
    T_EQ_INT(drain_check(fds[1], 51), sent);

    /* A single send on a full timed socket times out as well. */
    fill_socket(fds[0], 52);
    t0 = t_now();
    T_EQ_INT(sk_send(fds[0], src, 1000), -ETIMEDOUT);
    T_GE_INT((t_now() - t0) * 1000, 180);
    sk_close(fds[0]);
    sk_close(fds[1]);
    free(src);
}

TEST(sendall_nonblocking_full_socket_is_eagain)
{
    int fds[2];
    tiny_pair(fds);
    T_OK(sk_setblocking(fds[0], 0));
    const size_t len = 1 * MiB;
    unsigned char *src = malloc(len);
    T_ASSERT(src != NULL);
    t_pattern(src, len, 61, 0);
    size_t sent = (size_t)-1;
    double t0 = t_now();
    T_EQ_INT(sk_sendall(fds[0], src, len, &sent), -EAGAIN);
    T_GT_INT(sent, 0); /* partial */
    T_LT_INT(sent, len);
    T_LT_INT((t_now() - t0) * 1000, 500);
    T_EQ_INT(drain_check(fds[1], 61), sent);
    /* Full again: nothing at all goes, still -EAGAIN, *sent 0. */
    fill_socket(fds[0], 62);
    T_EQ_INT(sk_sendall(fds[0], src, len, &sent), -EAGAIN);
    T_EQ_INT(sent, 0);
    T_EQ_INT(sk_send(fds[0], src, 10), -EAGAIN);
    sk_close(fds[0]);
    sk_close(fds[1]);
    free(src);
}

TEST(accept_timeout_and_nonblocking)
{
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    T_OK(sk_settimeout(l, 0.2));
    double t0 = t_now();
    T_EQ_INT(sk_accept(l, NULL), -ETIMEDOUT);
    double dt = t_now() - t0;
    T_GE_INT(dt * 1000, 180);
    T_LT_INT(dt * 1000, 3000);
    T_OK(sk_settimeout(l, 0));
    T_EQ_INT(sk_accept(l, NULL), -EAGAIN);
    sk_close(l);
}

TEST(accepted_socket_is_blocking_without_timeout)
{
    /* sock.h: "The new socket is close-on-exec and blocking with no timeout", whatever
     * the listener's own timeout. */
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    static const double listener_timeouts[] = {5.0, 0, SK_TIMEOUT_NONE};
    for (size_t i = 0; i < 3; i++) {
        T_OK(sk_settimeout(l, listener_timeouts[i]));
        int c = sk_socket(AF_INET, SOCK_STREAM, 0);
        T_OK(c);
        T_OK(sk_connect(c, &a));
        struct pollfd p = {.fd = l, .events = POLLIN};
        T_EQ_INT(poll(&p, 1, 5000), 1);
        sk_addr_t peer;
        int s = sk_accept(l, &peer);
        T_OK(s);
        double t = timeout_of(s);
        if (t != SK_TIMEOUT_NONE)
            T_FAIL("listener timeout %g: accepted socket has timeout %g, want none (-1)",
                   listener_timeouts[i], t);
        T_ASSERT(!is_nonblocking(s));
        sk_addr_t local;
        T_OK(sk_getsockname(c, &local));
        T_EQ_INT(sk_addr_equal(&peer, &local), 1);
        sk_close(s);
        sk_close(c);
    }
    sk_close(l);
}

/* ---- no SIGPIPE ---- */

static void default_sigpipe(void)
{
    signal(SIGPIPE, SIG_DFL);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    T_EQ_INT(sigprocmask(SIG_UNBLOCK, &set, NULL), 0);
}

TEST(no_sigpipe_unix)
{
    default_sigpipe();
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    sk_close(fds[1]);
    T_EQ_INT(sk_send(fds[0], "x", 1), -EPIPE);
    size_t sent = 99;
    T_EQ_INT(sk_sendall(fds[0], "hello", 5, &sent), -EPIPE);
    T_EQ_INT(sent, 0);
    /* Still alive, SIGPIPE still at its default. */
    struct sigaction sa;
    T_EQ_INT(sigaction(SIGPIPE, NULL, &sa), 0);
    T_ASSERT(sa.sa_handler == SIG_DFL);
    sk_close(fds[0]);
}

TEST(no_sigpipe_tcp)
{
    default_sigpipe();
    int c, s;
    tcp_pair(&c, &s);
    sk_close(s);
    char buf[1024];
    memset(buf, 'z', sizeof buf);
    ssize_t r = 0;
    for (int i = 0; i < 100 && r >= 0; i++) {
        r = sk_send(c, buf, sizeof buf);
        if (r >= 0) { /* the first send may go out before the RST comes back */
            struct pollfd p = {.fd = c, .events = POLLIN};
            poll(&p, 1, 10);
        }
    }
    if (r != -EPIPE && r != -ECONNRESET)
        T_FAIL("send to a closed TCP peer: %zd (%s), want -EPIPE or -ECONNRESET", r,
               sk_strerror((int)r));
    r = sk_sendall(c, buf, sizeof buf, NULL);
    if (r != -EPIPE && r != -ECONNRESET)
        T_FAIL("sendall to a closed TCP peer: %zd (%s)", r, sk_strerror((int)r));
    sk_close(c);
}

/* ---- close-on-exec ---- */

TEST(every_fd_is_cloexec)
{
    int fd = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(fd);
    check_cloexec(fd, "sk_socket");
    sk_close(fd);
    fd = sk_socket(AF_UNIX, SOCK_DGRAM, 0);
    T_OK(fd);
    check_cloexec(fd, "sk_socket(AF_UNIX, SOCK_DGRAM)");
    sk_close(fd);

    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    check_cloexec(fds[0], "sk_socketpair[0]");
    check_cloexec(fds[1], "sk_socketpair[1]");
    sk_close(fds[0]);
    sk_close(fds[1]);

    int ls[SK_LISTEN_MAX];
    char err[SK_ERRLEN] = "";
    int n = sk_create_server(":0", 0, ls, SK_LISTEN_MAX, err);
    if (n < 1) T_FAIL("sk_create_server(\":0\") = %d: %s", n, err);
    for (int i = 0; i < n; i++)
        check_cloexec(ls[i], "sk_create_server");
    sk_addr_t a;
    T_OK(sk_getsockname(ls[0], &a));
    char text[64];
    snprintf(text, sizeof text, "127.0.0.1:%d", sk_addr_port(&a));
    int c = sk_create_connection(text, 5.0, NULL, err);
    if (c < 0) T_FAIL("sk_create_connection(\"%s\") = %d: %s", text, c, err);
    check_cloexec(c, "sk_create_connection");
    /* The IPv4 listener (0.0.0.0) has it; the IPv6 one is IPV6_V6ONLY. */
    int s = -1;
    for (int i = 0; i < n && s < 0; i++) {
        sk_addr_t la;
        T_OK(sk_getsockname(ls[i], &la));
        if (sk_addr_family(&la) != AF_INET) continue;
        T_OK(sk_settimeout(ls[i], 5.0));
        s = sk_accept(ls[i], NULL);
    }
    T_OK(s);
    check_cloexec(s, "sk_accept");
    sk_close(s);
    sk_close(c);
    for (int i = 0; i < n; i++)
        sk_close(ls[i]);
}

/* ---- sk_create_server ---- */

TEST(create_server_loopback_port0)
{
    int fds[SK_LISTEN_MAX];
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_create_server("127.0.0.1:0", 0, fds, SK_LISTEN_MAX, err), 1);
    int l = fds[0];
    sk_addr_t a;
    T_OK(sk_getsockname(l, &a));
    T_EQ_INT(sk_addr_family(&a), AF_INET);
    char host[64];
    T_OK(sk_addr_host(&a, host, sizeof host));
    T_EQ_STR(host, "127.0.0.1");
    T_GT_INT(sk_addr_port(&a), 0);
    T_ASSERT(!is_nonblocking(l));
    T_NEAR_DBL(timeout_of(l), SK_TIMEOUT_NONE, 0);
    T_EQ_INT(sockopt_int(l, SOL_SOCKET, SO_ACCEPTCONN), 1);
    T_NE_INT(sockopt_int(l, SOL_SOCKET, SO_REUSEADDR), 0);
    T_EQ_INT(sockopt_int(l, SOL_SOCKET, SO_TYPE), SOCK_STREAM);
    /* And it takes a connection. */
    int c = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(c);
    T_OK(sk_connect(c, &a));
    int s = sk_accept(l, NULL);
    T_OK(s);
    T_EQ_INT(sk_sendall(s, "hi", 2, NULL), 2);
    char buf[2];
    T_EQ_INT(sk_recv_exact(c, buf, 2, NULL), 2);
    T_EQ_MEM(buf, "hi", 2);
    sk_close(s);
    sk_close(c);
    sk_close(l);
}

TEST(create_server_address_in_use)
{
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    int port = sk_addr_port(&a);
    char text[64], want[SK_ERRLEN], err[SK_ERRLEN] = "";
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    snprintf(want, sizeof want, "bind 127.0.0.1:%d: Address already in use", port);
    int before = t_count_fds();
    int fds[SK_LISTEN_MAX];
    T_EQ_INT(sk_create_server(text, 0, fds, SK_LISTEN_MAX, err), -EADDRINUSE);
    T_EQ_STR(err, want);
    T_EQ_INT(t_count_fds(), before); /* nothing stays open */
    T_EQ_INT(sk_create_server(text, 0, fds, SK_LISTEN_MAX, NULL), -EADDRINUSE);
    sk_close(l);
}

/* Every address of `text` (resolved passively) is bound, in resolver order, on one port. */
static void check_binds_every_address(const char *text, size_t maxfds)
{
    sk_endpoint_t ep;
    sk_addrlist_t list;
    char err[SK_ERRLEN] = "";
    T_OK(sk_endpoint_parse(&ep, text, err));
    T_OK(sk_resolve(&list, &ep, SOCK_STREAM, SK_RESOLVE_PASSIVE, err));
    size_t want = list.n < maxfds ? list.n : maxfds;
    int fds[SK_LISTEN_MAX];
    int n = sk_create_server(text, 0, fds, maxfds, err);
    if (n < 0) T_FAIL("sk_create_server(\"%s\") = %d: %s", text, n, err);
    T_EQ_INT(n, want);
    int port = -1;
    for (int i = 0; i < n; i++) {
        sk_addr_t bound, expect = list.v[i].addr;
        T_OK(sk_getsockname(fds[i], &bound));
        if (port < 0) port = sk_addr_port(&bound);
        T_GT_INT(sk_addr_port(&bound), 0);
        T_EQ_INT(sk_addr_port(&bound), port); /* the SAME port everywhere */
        sk_addr_set_port(&expect, (uint16_t)port);
        char as[SK_ADDRSTRLEN], es[SK_ADDRSTRLEN];
        sk_addr_str(&bound, as);
        sk_addr_str(&expect, es);
        T_EQ_STR(as, es);
        T_EQ_INT(sockopt_int(fds[i], SOL_SOCKET, SO_ACCEPTCONN), 1);
        if (sk_addr_family(&bound) == AF_INET6)
            T_EQ_INT(sockopt_int(fds[i], IPPROTO_IPV6, IPV6_V6ONLY), 1);
    }
    t_note("%s: %d socket(s) on port %d", text, n, port);
    for (int i = 0; i < n; i++)
        sk_close(fds[i]);
    sk_addrlist_free(&list);
}

TEST(create_server_localhost_binds_every_address)
{
    check_binds_every_address("localhost:0", SK_LISTEN_MAX);
}

TEST(create_server_wildcard_binds_every_address)
{
    check_binds_every_address(":0", SK_LISTEN_MAX);
}

TEST(create_server_maxfds_1_binds_only_the_first)
{
    check_binds_every_address(":0", 1);
    check_binds_every_address("localhost:0", 1);
}

TEST(create_server_errors)
{
    int fds[SK_LISTEN_MAX];
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_create_server("127.0.0.1:99999", 0, fds, SK_LISTEN_MAX, err), SK_EBADPORT);
    T_EQ_STR(err, "invalid port '99999'");
    int r = sk_create_server("no.such.host.invalid:0", 0, fds, SK_LISTEN_MAX, err);
    T_ASSERT(SK_IS_EAI(r));
    T_EQ_STR(err, "resolve no.such.host.invalid: Name or service not known");
    /* An address that is not this host's (TEST-NET-3): nothing else to fall back on. */
    int before = t_count_fds();
    T_EQ_INT(sk_create_server("203.0.113.1:0", 0, fds, SK_LISTEN_MAX, err), -EADDRNOTAVAIL);
    T_EQ_STR(err, "bind 203.0.113.1:0: Cannot assign requested address");
    T_EQ_INT(t_count_fds(), before);
}

/* ---- sk_create_connection ---- */

TEST(create_connection_refused)
{
    int port = closed_port();
    char text[64], want[SK_ERRLEN], err[SK_ERRLEN] = "";
    snprintf(text, sizeof text, "127.0.0.1:%d", port);
    snprintf(want, sizeof want, "connect 127.0.0.1:%d: Connection refused", port);
    int before = t_count_fds();
    T_EQ_INT(sk_create_connection(text, SK_TIMEOUT_NONE, NULL, err), -ECONNREFUSED);
    T_EQ_STR(err, want);
    T_EQ_INT(sk_create_connection(text, 2.0, NULL, err), -ECONNREFUSED);
    T_EQ_STR(err, want);
    T_EQ_INT(t_count_fds(), before);
}

TEST(create_connection_invalid_name)
{
    char err[SK_ERRLEN] = "";
    sk_addr_t peer;
    int r = sk_create_connection("no.such.host.invalid:80", 1.0, &peer, err);
    T_ASSERT(SK_IS_EAI(r));
    T_EQ_STR(err, "resolve no.such.host.invalid: Name or service not known");
    r = sk_create_connection("bad host:80", 1.0, &peer, err);
    T_EQ_INT(r, SK_EBADADDR);
    T_EQ_STR(err, "invalid host name 'bad host'");
}

static void check_connection(const char *listen_text, const char *host, double timeout)
{
    sk_addr_t a;
    int l = one_server(listen_text, &a);
    char text[96], err[SK_ERRLEN] = "";
    if (strchr(host, ':'))
        snprintf(text, sizeof text, "[%s]:%d", host, sk_addr_port(&a));
    else
        snprintf(text, sizeof text, "%s:%d", host, sk_addr_port(&a));
    sk_addr_t peer;
    memset(&peer, 0, sizeof peer);
    int c = sk_create_connection(text, timeout, &peer, err);
    if (c < 0) T_FAIL("sk_create_connection(\"%s\") = %d: %s", text, c, err);
    T_EQ_INT(sk_addr_equal(&peer, &a), 1);
    sk_addr_t p2;
    T_OK(sk_getpeername(c, &p2));
    T_EQ_INT(sk_addr_equal(&p2, &a), 1);
    if (timeout < 0) {
        T_NEAR_DBL(timeout_of(c), SK_TIMEOUT_NONE, 0);
        T_ASSERT(!is_nonblocking(c));
    } else {
        T_NEAR_DBL(timeout_of(c), timeout, 1e-6);
    }
    check_cloexec(c, "sk_create_connection");
    int s = sk_accept(l, NULL);
    T_OK(s);
    T_EQ_INT(sk_sendall(c, "ping", 4, NULL), 4);
    char buf[4];
    T_EQ_INT(sk_recv_exact(s, buf, 4, NULL), 4);
    T_EQ_MEM(buf, "ping", 4);
    sk_close(s);
    sk_close(c);
    sk_close(l);
}

TEST(create_connection_success)
{
    check_connection("127.0.0.1:0", "127.0.0.1", SK_TIMEOUT_NONE);
    check_connection("127.0.0.1:0", "127.0.0.1", 2.0);
    check_connection("127.0.0.1:0", "127.0.0.1", 1.5);
}

TEST(create_connection_ipv6)
{
    int fds[1];
    char err[SK_ERRLEN] = "";
    int n = sk_create_server("[::1]:0", 0, fds, 1, err);
    if (n < 0) T_SKIP("no IPv6 loopback here: %s", err);
    sk_close(fds[0]);
    check_connection("[::1]:0", "::1", 3.0);
}

/* Fill the accept queue of a backlog-0 listener so that the kernel drops further SYNs.
 * Returns the number of clients it took (kept in cl[]), or -1 if every one connected. */
static int fill_accept_queue(const sk_addr_t *a, int *cl, int max)
{
    for (int i = 0; i < max; i++) {
        cl[i] = sk_socket(AF_INET, SOCK_STREAM, 0);
        T_OK(cl[i]);
        T_OK(sk_settimeout(cl[i], 0));
        int r = sk_connect(cl[i], a);
        T_ASSERT(r == 0 || r == -EINPROGRESS);
        struct pollfd p = {.fd = cl[i], .events = POLLOUT};
        if (r == -EINPROGRESS && poll(&p, 1, 300) == 0)
            return i + 1; /* this one hangs: the queue is full */
    }
    return -1;
}

TEST(create_connection_timeout)
{
    sk_addr_t a;
    int l = raw_listener(0, &a);
    int cl[8];
    int n = fill_accept_queue(&a, cl, 8);
    if (n < 0) T_SKIP("the kernel accepted 8 connections on a backlog-0 listener: no silent peer");
    char text[64], want[SK_ERRLEN], err[SK_ERRLEN] = "";
    snprintf(text, sizeof text, "127.0.0.1:%d", sk_addr_port(&a));
    snprintf(want, sizeof want, "connect %s: Connection timed out", text);
    double t0 = t_now();
    int r = sk_create_connection(text, 0.5, NULL, err);
    double dt = t_now() - t0;
    if (r >= 0) T_SKIP("connect to a full accept queue succeeded: the kernel does not drop SYNs");
    T_EQ_INT(r, -ETIMEDOUT);
    T_EQ_STR(err, want);
    T_GE_INT(dt * 1000, 400);
    T_LT_INT(dt * 1000, 5000);
    for (int i = 0; i < n; i++)
        sk_close(cl[i]);
    sk_close(l);
}

/* An IPv4 or IPv6 loopback address with a port. */
static sk_addr_t loop_addr(int family, int port)
{
    sk_addr_t a;
    char err[SK_ERRLEN] = "";
    sk_addrlist_t list;
    sk_endpoint_t ep;
    T_OK(sk_endpoint_from_hostport(&ep, family == AF_INET ? "127.0.0.1" : "::1", "0", err));
    T_OK(sk_resolve(&list, &ep, SOCK_STREAM, SK_RESOLVE_NUMERIC, err));
    a = list.v[0].addr;
    sk_addrlist_free(&list);
    sk_addr_set_port(&a, port);
    return a;
}

/* RFC 8305: an address that never answers costs the 250 ms delay, not a timeout. */
TEST(happy_eyeballs_skips_a_silent_address)
{
    sk_addr_t silent, good, peer;
    int l = raw_listener(0, &silent);
    int cl[8];
    int n = fill_accept_queue(&silent, cl, 8);
    if (n < 0) T_SKIP("the kernel accepted 8 connections on a backlog-0 listener: no silent peer");
    int g = raw_listener(16, &good);
    sk_addr_t addrs[2] = {silent, good};
    char err[SK_ERRLEN] = "";
    double t0 = t_now();
    int fd = sk_connect_addrs(addrs, 2, 10.0, &peer, err);
    double dt = t_now() - t0;
    if (fd < 0) T_FAIL("sk_connect_addrs: %d %s", fd, err);
    T_ASSERT(sk_addr_equal(&peer, &good));
    T_GE_INT(dt * 1000, 200); /* the silent address was tried first, for its delay */
    T_LT_INT(dt * 1000, 2000); /* and not for the 10 s timeout */
    T_NEAR_DBL(timeout_of(fd), 10.0, 0.01); /* the winner keeps the caller's timeout */
    T_ASSERT(!is_nonblocking(fd));
    check_cloexec(fd, "happy eyeballs winner");
    sk_close(fd);
    for (int i = 0; i < n; i++)
        sk_close(cl[i]);
    sk_close(g);
    sk_close(l);
}

/* A refused attempt starts the next at once: no delay is spent on it. */
TEST(happy_eyeballs_moves_on_at_once_after_a_refusal)
{
    sk_addr_t good, peer;
    int g = raw_listener(16, &good);
    sk_addr_t addrs[3] = {loop_addr(AF_INET, closed_port()), loop_addr(AF_INET, closed_port()),
                          good};
    char err[SK_ERRLEN] = "";
    double t0 = t_now();
    int fd = sk_connect_addrs(addrs, 3, SK_TIMEOUT_NONE, &peer, err);
    double dt = t_now() - t0;
    if (fd < 0) T_FAIL("sk_connect_addrs: %d %s", fd, err);
    T_ASSERT(sk_addr_equal(&peer, &good));
    T_LT_INT(dt * 1000, 200); /* two refusals, no 250 ms delay spent */
    sk_close(fd);
    sk_close(g);
}

/* Families alternate, the first one first: [v6 a, v6 b, v4 c] is tried a, c, b, so the
 * last error names b. Every address is refused, so the order is deterministic. */
TEST(happy_eyeballs_interleaves_families)
{
    int fd6 = sk_socket(AF_INET6, SOCK_STREAM, 0);
    T_OK(fd6);
    sk_addr_t any6 = loop_addr(AF_INET6, 0);
    int r6 = sk_bind(fd6, &any6);
    sk_close(fd6);
    if (r6 < 0) T_SKIP("no IPv6 loopback here");
    int p1 = closed_port(), p2 = closed_port(), p3 = closed_port();
    sk_addr_t addrs[3] = {loop_addr(AF_INET6, p1), loop_addr(AF_INET6, p2),
                          loop_addr(AF_INET, p3)};
    char err[SK_ERRLEN] = "", want[SK_ERRLEN];
    int fd = sk_connect_addrs(addrs, 3, 5.0, NULL, err);
    T_EQ_INT(fd, -ECONNREFUSED);
    snprintf(want, sizeof want, "connect [::1]:%d: Connection refused", p2);
    T_EQ_STR(err, want);
}

/* Each attempt is bounded by the timeout; when every one has timed out, so has the call. */
TEST(happy_eyeballs_all_silent_times_out)
{
    sk_addr_t silent;
    int l = raw_listener(0, &silent);
    int cl[8];
    int n = fill_accept_queue(&silent, cl, 8);
    if (n < 0) T_SKIP("the kernel accepted 8 connections on a backlog-0 listener: no silent peer");
    sk_addr_t addrs[2] = {silent, silent};
    char err[SK_ERRLEN] = "";
    double t0 = t_now();
    int fd = sk_connect_addrs(addrs, 2, 0.4, NULL, err);
    double dt = t_now() - t0;
    T_EQ_INT(fd, -ETIMEDOUT);
    T_ASSERT(strstr(err, "Connection timed out") != NULL);
    T_GE_INT(dt * 1000, 600); /* the second starts 250 ms in and waits its own 400 ms */
    T_LT_INT(dt * 1000, 5000);
    for (int i = 0; i < n; i++)
        sk_close(cl[i]);
    sk_close(l);
}

/* RFC 8305: a failure while another attempt is pending starts the next at once, not a
 * delay later. With a 1 s delay: silent at 0, refused at 1, good at 1 (not 2). */
TEST(happy_eyeballs_failure_starts_the_next_at_once)
{
    sk_addr_t silent, good, peer;
    int l = raw_listener(0, &silent);
    int cl[8];
    int n = fill_accept_queue(&silent, cl, 8);
    if (n < 0) T_SKIP("the kernel accepted 8 connections on a backlog-0 listener: no silent peer");
    int g = raw_listener(16, &good);
    sk_addr_t addrs[3] = {silent, loop_addr(AF_INET, closed_port()), good};
    sk_connector_t *c = sk_connector_new(addrs, 3, 1.0, -1);
    T_ASSERT(c != NULL);
    double t0 = t_now();
    int fd, steps = 0;
    while ((fd = sk_connector_step(c, &peer, NULL)) == 0 && steps++ < 1000) {
        struct pollfd p[4];
        size_t k = sk_connector_pollfds(c, p, 4);
        poll(p, k, sk_connector_timeout_ms(c));
    }
    double dt = t_now() - t0;
    sk_connector_free(c);
    T_GT_INT(fd, 0);
    T_ASSERT(sk_addr_equal(&peer, &good));
    T_GE_INT(dt * 1000, 900);
    T_LT_INT(dt * 1000, 1800);
    sk_close(fd);
    for (int i = 0; i < n; i++)
        sk_close(cl[i]);
    sk_close(g);
    sk_close(l);
}

/* The state machine by hand: nothing blocks, the winner is handed over once. */
TEST(connector_state_machine)
{
    sk_addr_t good, peer;
    int g = raw_listener(16, &good);
    sk_connector_t *c = sk_connector_new(&good, 1, SK_HE_DELAY, -1);
    T_ASSERT(c != NULL);
    T_EQ_INT(sk_connector_timeout_ms(c), -1); /* nothing started, nothing due */
    int fd, steps = 0;
    while ((fd = sk_connector_step(c, &peer, NULL)) == 0 && steps++ < 100) {
        struct pollfd p[4];
        size_t k = sk_connector_pollfds(c, p, 4);
        T_EQ_INT(k, 1);
        T_EQ_INT(p[0].events, POLLOUT);
        T_ASSERT(poll(p, k, 2000) == 1);
    }
    T_GT_INT(fd, 0);
    T_ASSERT(sk_addr_equal(&peer, &good));
    check_cloexec(fd, "connector winner");
    sk_connector_free(c); /* must not close the winner */
    T_EQ_INT(sk_send(fd, "x", 1), 1);
    sk_close(fd);
    T_ASSERT(sk_connector_new(&good, 0, SK_HE_DELAY, -1) == NULL);
    sk_close(g);
}

/* ---- datagrams ---- */

static int udp_socket(sk_addr_t *bound)
{
    sk_endpoint_t ep;
    int fds[1];
    char err[SK_ERRLEN] = "";
    T_OK(sk_endpoint_parse(&ep, "127.0.0.1:0", err));
    if (sk_listen_endpoint(&ep, SOCK_DGRAM, 0, fds, 1, err) != 1) T_FAIL("udp bind: %s", err);
    T_OK(sk_getsockname(fds[0], bound));
    return fds[0];
}

TEST(sendto_recvfrom_datagrams)
{
    sk_addr_t a, b, from;
    int x = udp_socket(&a), y = udp_socket(&b);
    check_cloexec(x, "udp socket");
    static char big[SK_DGRAM_MAX], got[SK_DGRAM_MAX + 1];
    memset(big, 'z', sizeof big);
    T_EQ_INT(sk_sendto(x, "hello", 5, &b), 5);
    T_EQ_INT(sk_sendto(x, "", 0, &b), 0);
    T_EQ_INT(sk_sendto(x, big, sizeof big, &b), SK_DGRAM_MAX);
    T_OK(sk_settimeout(y, 2.0));
    T_EQ_INT(sk_recvfrom(y, got, sizeof got, &from), 5);
    T_EQ_MEM(got, "hello", 5);
    T_ASSERT(sk_addr_equal(&from, &a));
    T_EQ_INT(sk_recvfrom(y, got, sizeof got, NULL), 0); /* an empty datagram is a datagram */
    /* A datagram longer than the buffer: cut, with its real length reported. */
    T_EQ_INT(sk_recvfrom(y, got, 100, NULL), SK_DGRAM_MAX);
    sk_close(x);
    sk_close(y);
}

TEST(recvfrom_timeout_and_nonblocking)
{
    sk_addr_t a;
    int x = udp_socket(&a);
    char buf[16];
    T_OK(sk_settimeout(x, 0.2));
    double t0 = t_now();
    T_EQ_INT(sk_recvfrom(x, buf, sizeof buf, NULL), -ETIMEDOUT);
    T_GE_INT((t_now() - t0) * 1000, 150);
    T_OK(sk_settimeout(x, 0));
    T_EQ_INT(sk_recvfrom(x, buf, sizeof buf, NULL), -EAGAIN);
    sk_close(x);
}

TEST(udp_connect_endpoint_and_refused)
{
    /* connect() on UDP only sets the destination; an ICMP port unreachable comes back as
     * ECONNREFUSED on the next call. */
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "", text[64];
    snprintf(text, sizeof text, "127.0.0.1:%d", closed_port());
    T_OK(sk_endpoint_parse(&ep, text, err));
    int fd = sk_connect_endpoint(&ep, SOCK_DGRAM, 2.0, NULL, err);
    T_OK(fd);
    T_EQ_INT(sk_sendto(fd, "x", 1, NULL), 1);
    char buf[4];
    T_EQ_INT(sk_recvfrom(fd, buf, sizeof buf, NULL), -ECONNREFUSED);
    sk_close(fd);
}

/* Accept every queued connection after a pause, so that a dropped SYN's retransmission
 * finds room: the connect in progress then completes, late. */
struct late_acceptor {
    int l;
    double delay;
    int accepted;
    int fds[16];
    atomic_int done; /* set when the connect under test has returned */
};

static void *late_accept_main(void *arg)
{
    struct late_acceptor *la = arg;
    struct timespec ts = {0, (long)(la->delay * 1e9)};
    nanosleep(&ts, NULL); /* the delay is the test: the connect must be in progress */
    T_OK(sk_settimeout(la->l, 0));
    double t0 = t_now();
    while (la->accepted < 16 && !atomic_load(&la->done) && t_now() - t0 < 5) {
        int s = sk_accept(la->l, NULL);
        if (s >= 0) {
            la->fds[la->accepted++] = s;
            continue;
        }
        T_EQ_INT(s, -EAGAIN);
        struct pollfd p = {.fd = la->l, .events = POLLIN};
        poll(&p, 1, 50);
    }
    return NULL;
}

TEST(interrupted_connect_is_finished_not_retried)
{
    sk_addr_t a;
    int l = raw_listener(0, &a);
    int cl[8];
    int n = fill_accept_queue(&a, cl, 8);
    if (n < 0) t_note("accept queue could not be filled: connect will be quick");
    /* The acceptor runs with SIGALRM blocked, so that the storm hits the connecting
     * thread. */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    struct late_acceptor la = {.l = l, .delay = 0.3, .accepted = 0};
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, late_accept_main, &la), 0);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    int c = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(c);
    storm_start(1000);
    double t0 = t_now();
    int r = sk_connect(c, &a);
    double dt = t_now() - t0;
    long sigs = storm_stop();
    atomic_store(&la.done, 1);
    t_note("connect took %.3f s under %ld signals", dt, sigs);
    T_EQ_INT(r, 0);
    sk_addr_t p;
    T_OK(sk_getpeername(c, &p));
    T_EQ_INT(sk_addr_equal(&p, &a), 1);
    T_ASSERT(!is_nonblocking(c)); /* the socket's mode is restored */
    if (n >= 0) T_GT_INT(sigs, 50);
    T_EQ_INT(pthread_join(th, NULL), 0);
    /* The connection works: it is among the accepted ones, or next in the queue. */
    T_EQ_INT(sk_sendall(c, "ok", 2, NULL), 2);
    for (int i = 0; i < la.accepted; i++)
        sk_close(la.fds[i]);
    for (int i = 0; n > 0 && i < n; i++)
        sk_close(cl[i]);
    sk_close(c);
    sk_close(l);
}

TEST(connect_with_timeout_under_signal_storm)
{
    /* Many quick connects with a timeout set, under the storm: every one is 0. */
    sk_addr_t a;
    int l = one_server("127.0.0.1:0", &a);
    storm_start(1000);
    double t0 = t_now();
    int done = 0;
    while (t_now() - t0 < 0.3 && done < 2000) {
        int c = sk_socket(AF_INET, SOCK_STREAM, 0);
        T_OK(c);
        T_OK(sk_settimeout(c, 2.0));
        int r = sk_connect(c, &a);
        if (r != 0) T_FAIL("connect %d under the storm: %d (%s)", done, r, sk_strerror(r));
        int s = sk_accept(l, NULL);
        T_OK(s);
        sk_close(s);
        sk_close(c);
        done++;
    }
    long sigs = storm_stop();
    T_GT_INT(done, 10);
    T_GT_INT(sigs, 50);
    sk_close(l);
}

TEST(keepalive_contract)
{
    /* TCP: on, with the timers; anything else: -EOPNOTSUPP and nothing changed; a value the
     * kernel refuses leaves SO_KEEPALIVE off. */
    int t = sk_socket(AF_INET, SOCK_STREAM, 0), u = sk_socket(AF_INET, SOCK_DGRAM, 0);
    T_OK(t);
    T_OK(u);
    sk_keepalive_t ka = {.idle = 7, .interval = 3, .count = 4};
    T_EQ_INT(sk_set_keepalive(t, &ka), 0);
    int v = 0;
    socklen_t len = sizeof v;
    T_EQ_INT(getsockopt(t, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    T_EQ_INT(v, 1);
    T_EQ_INT(getsockopt(t, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len), 0);
    T_EQ_INT(v, 7);
    T_EQ_INT(sk_set_keepalive(u, NULL), -EOPNOTSUPP);
    T_EQ_INT(sk_set_keepalive(u, &ka), -EOPNOTSUPP);
    int t2 = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(t2);
    sk_keepalive_t bad = {.count = 1000};
    T_EQ_INT(sk_set_keepalive(t2, &bad), -EINVAL);
    T_EQ_INT(getsockopt(t2, SOL_SOCKET, SO_KEEPALIVE, &v, &len), 0);
    T_EQ_INT(v, 0);
    sk_close(t);
    sk_close(t2);
    sk_close(u);
}

TEST(source_bind_per_family)
{
    /* A source of one family binds a socket of that family to it; another family is
     * SK_ENOADDR; a port alone binds the family's wildcard address with that port. */
    sk_source_t src;
    char err[SK_ERRLEN];
    T_EQ_INT(sk_source_init(&src, "127.0.0.2", 0, err), 0);
    int s4 = sk_socket(AF_INET, SOCK_STREAM, 0), s6 = sk_socket(AF_INET6, SOCK_STREAM, 0);
    T_OK(s4);
    T_EQ_INT(sk_source_bind(&src, s4, AF_INET), 0);
    sk_addr_t a;
    char as[SK_ADDRSTRLEN];
    T_EQ_INT(sk_getsockname(s4, &a), 0);
    T_EQ_STR(sk_addr_host(&a, as, sizeof as) > 0 ? as : "", "127.0.0.2");
    if (s6 >= 0)
        T_EQ_INT(sk_source_bind(&src, s6, AF_INET6), SK_ENOADDR);
    T_EQ_STR(sk_source_str(&src, as), "127.0.0.2");
    int probe = one_server("127.0.0.1:0", &a); /* a port nobody else holds, freed */
    int port = sk_addr_port(&a);
    sk_close(probe);
    sk_source_t port_only;
    T_EQ_INT(sk_source_init(&port_only, NULL, port, err), 0);
    char want[32];
    snprintf(want, sizeof want, "port %d", port);
    T_EQ_STR(sk_source_str(&port_only, as), want);
    int s = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(s);
    T_EQ_INT(sk_source_bind(&port_only, s, AF_INET), 0);
    T_EQ_INT(sk_getsockname(s, &a), 0);
    T_EQ_INT(sk_addr_port(&a), port);
    T_LT_INT(sk_source_init(&src, "no.such.host.invalid", 0, err), 0);
    T_ASSERT(strstr(err, "source no.such.host.invalid") != NULL);
    sk_close(s);
    sk_close(s4);
    if (s6 >= 0)
        sk_close(s6);
}
