/*
 * accept_strategies.c: how should N event-loop workers share one listening port?
 *
 *   exclusive  one listener on 127.0.0.1:0, in every worker's epoll with
 *              EPOLLIN | EPOLLEXCLUSIVE (what src/server_loop.c does via SK_EXCLUSIVE);
 *   reuseport  one SO_REUSEPORT listener per worker, all bound to the same 127.0.0.1
 *              port; the kernel picks the listener from a hash of the 4-tuple.
 *
 *   accept_strategies [exclusive|reuseport|both] [-w WORKERS] [-d SECONDS]
 *                     [-c CLIENT_THREADS] [-n CONNECTIONS]
 *
 * The server is a minimal hand-written epoll echo server, the same for both modes, shaped
 * like sockit's loop model so that only the listener sharing differs: level-triggered,
 * one epoll per worker thread, accept4(SOCK_NONBLOCK | SOCK_CLOEXEC) up to ACCEPT_PER_WAKE
 * per wake-up, at most READS_PER_WAKE reads per connection per wake-up, output written
 * first and EPOLLOUT armed only when bytes remain (input not read meanwhile).
 *
 * The load runs in this process, on the same 2 cores as the server. Each mode gets a fresh
 * server and two tests, each measured over SECONDS after a WARMUP_MS ramp:
 *   accept  C blocking client threads loop connect, send 1 byte, recv 1 byte, close;
 *           completed cycles per second;
 *   rtt     N persistent connections (default 50) spread over C client threads, each
 *           thread one level-triggered epoll; each connection ping-pongs 64 bytes;
 *           round trips per second.
 * For each test it prints how the accepted connections (and, for rtt, the echoes) split
 * across workers, and the server's CPU time: the sum over worker threads of their thread
 * CPU clocks (pthread_getcpuclockid, the same clock as getrusage RUSAGE_THREAD), read at
 * the start and end of the window. Rates are also given per server CPU-second, since the
 * clients compete with the server for the 2 cores.
 *
 * TIME_WAIT: the client closes with SO_LINGER {1, 0}, which sends RST and frees the
 * 4-tuple at once, so neither side keeps a TIME_WAIT socket and the accept test cannot
 * run out of ephemeral ports whatever tcp_tw_reuse says. The server's read then reports
 * ECONNRESET (or EOF) and it closes its side.
 *
 * Every loop is bounded in time (a hard deadline) and count (MAX_CYCLES per client,
 * ACCEPT_PER_WAKE per wake-up); all traffic is on 127.0.0.1. A final line per test,
 * starting "RESULT", is meant for scripts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, EPOLLEXCLUSIVE; the CMake build defines it already */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "accept_strategies"
#define MAX_WORKERS 64
#define MAX_CLIENTS 64
#define MAX_CONNS 1000
#define MAX_SECONDS 60
#define ACCEPT_PER_WAKE 32
#define READS_PER_WAKE 4
#define CONN_BUF 4096
#define MAX_EVENTS 256
#define RTT_MSG 64
#define WARMUP_MS 500
#define POLL_MS 100         /* longest epoll_wait, so stop flags are seen */
#define IO_TIMEOUT_MS 2000  /* SO_SNDTIMEO / SO_RCVTIMEO of blocking clients */
#define MAX_CYCLES 100000000UL
#define BACKLOG 4096

enum mode { MODE_EXCLUSIVE, MODE_REUSEPORT };
static const char *const mode_name[] = { "exclusive", "reuseport" };

/* ---- time ---- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(clockid_t clk)
{
    struct timespec ts;
    if (clock_gettime(clk, &ts) < 0)
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* ---- the server ---- */

struct conn {
    int fd;
    size_t off, len;  /* output not yet taken by the kernel: buf[off, len) */
    struct conn *prev, *next;
    char buf[CONN_BUF];
};

struct worker {
    int index;
    int epfd;
    int stopfd;       /* eventfd: the main thread's "stop now" */
    int lfd;          /* the listener this worker watches */
    double deadline;  /* hard limit on the worker's life */
    pthread_t th;
    int started;
    clockid_t cpu;
    struct conn *conns;
    _Atomic unsigned long accepted;    /* connections accepted */
    _Atomic unsigned long wakes;       /* listener readiness reports */
    _Atomic unsigned long empty_wakes; /* ... where the first accept found nothing */
    _Atomic unsigned long echoes;      /* reads echoed */
};

/* epoll tags that are not connections */
static char tag_listener, tag_stop;

static void counter_add(_Atomic unsigned long *c, unsigned long n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long counter_get(_Atomic unsigned long *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

static void conn_close(struct worker *w, struct conn *c)
{
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static int conn_watch(struct worker *w, struct conn *c, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = c };
    return epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

/* Send what is queued. Returns 1 when all is sent, 0 when some remains, -1 on error. */
static int conn_flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -1;
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 1;
}

/* Readable (or error/hang-up): echo up to READS_PER_WAKE reads. */
static void conn_readable(struct worker *w, struct conn *c)
{
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            conn_close(w, c); /* EOF, or ECONNRESET from the client's abortive close */
            return;
        }
        counter_add(&w->echoes, 1);
        c->off = 0;
        c->len = (size_t)n;
        int r = conn_flush(c);
        if (r < 0) {
            conn_close(w, c);
            return;
        }
        if (r == 0) { /* backpressure: stop reading until the output is gone */
            if (conn_watch(w, c, EPOLLOUT) < 0)
                conn_close(w, c);
            return;
        }
    }
}

static void conn_writable(struct worker *w, struct conn *c)
{
    int r = conn_flush(c);
    if (r < 0 || (r == 1 && conn_watch(w, c, EPOLLIN) < 0))
        conn_close(w, c);
}

static void conn_start(struct worker *w, int fd)
{
    struct conn *c = malloc(sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->off = c->len = 0;
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        free(c);
        return;
    }
    c->prev = NULL;
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
}

/* The listener is readable: accept at most ACCEPT_PER_WAKE connections. */
static void listener_readable(struct worker *w)
{
    counter_add(&w->wakes, 1);
    for (int i = 0; i < ACCEPT_PER_WAKE; i++) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN) {
                if (i == 0)
                    counter_add(&w->empty_wakes, 1);
                return;
            }
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
            sleep_ms(10); /* EMFILE and the like: back off rather than spin */
            return;
        }
        counter_add(&w->accepted, 1);
        conn_start(w, fd);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        if (now_s() > w->deadline) {
            fprintf(stderr, PROG ": worker %d: hard deadline passed\n", w->index);
            break;
        }
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, POLL_MS);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
            break;
        }
        int stop = 0;
        for (int i = 0; i < n; i++) {
            void *p = evs[i].data.ptr;
            if (p == &tag_stop) {
                stop = 1;
            } else if (p == &tag_listener) {
                listener_readable(w);
            } else {
                /* Level-triggered: a connection freed here cannot appear later in evs,
                 * since each fd is reported at most once per epoll_wait. */
                struct conn *c = p;
                if (c->len > c->off)
                    conn_writable(w, c);
                else
                    conn_readable(w, c);
            }
        }
        if (stop)
            break;
    }
    while (w->conns)
        conn_close(w, w->conns);
    return NULL;
}

static int listener_open(int reuseport, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if ((reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, BACKLOG) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static uint16_t listener_port(int fd)
{
    struct sockaddr_in sin;
    socklen_t len = sizeof sin;
    if (getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
        return 0;
    return ntohs(sin.sin_port);
}

struct server {
    enum mode mode;
    int nworkers;
    int nlfd;
    int lfd[MAX_WORKERS];
    uint16_t port;
    struct worker w[MAX_WORKERS];
};

static void server_stop(struct server *s)
{
    for (int i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->w[i];
        if (w->started) {
            uint64_t one = 1;
            if (write(w->stopfd, &one, sizeof one) < 0)
                fprintf(stderr, PROG ": eventfd write: %s\n", strerror(errno));
            pthread_join(w->th, NULL);
        }
        if (w->stopfd >= 0)
            close(w->stopfd);
        if (w->epfd >= 0)
            close(w->epfd);
    }
    for (int i = 0; i < s->nlfd; i++)
        close(s->lfd[i]);
}

/* Open the listener(s) and start the workers. Returns 0, or -1 with a message printed. */
static int server_start(struct server *s, enum mode mode, int nworkers, double deadline)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->nworkers = nworkers;
    for (int i = 0; i < nworkers; i++)
        s->w[i].epfd = s->w[i].stopfd = -1;

    s->nlfd = mode == MODE_REUSEPORT ? nworkers : 1;
    for (int i = 0; i < s->nlfd; i++) {
        s->lfd[i] = listener_open(mode == MODE_REUSEPORT, s->port);
        if (s->lfd[i] < 0) {
            fprintf(stderr, PROG ": listen 127.0.0.1:%u: %s\n", s->port, strerror(errno));
            s->nlfd = i;
            server_stop(s);
            return -1;
        }
        if (i == 0)
            s->port = listener_port(s->lfd[0]);
    }

    for (int i = 0; i < nworkers; i++) {
        struct worker *w = &s->w[i];
        w->index = i;
        w->deadline = deadline;
        w->lfd = s->lfd[mode == MODE_REUSEPORT ? i : 0];
        w->epfd = epoll_create1(EPOLL_CLOEXEC);
        w->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event lev = { .events = EPOLLIN, .data.ptr = &tag_listener };
        struct epoll_event sev = { .events = EPOLLIN, .data.ptr = &tag_stop };
        if (mode == MODE_EXCLUSIVE)
            lev.events |= EPOLLEXCLUSIVE;
        if (w->epfd < 0 || w->stopfd < 0 ||
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &lev) < 0 ||
            epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->stopfd, &sev) < 0) {
            fprintf(stderr, PROG ": worker %d setup: %s\n", i, strerror(errno));
            server_stop(s);
            return -1;
        }
        int r = pthread_create(&w->th, NULL, worker_main, w);
        if (r != 0) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
            server_stop(s);
            return -1;
        }
        w->started = 1;
        pthread_getcpuclockid(w->th, &w->cpu);
    }
    return 0;
}

/* A snapshot of the server's counters and CPU time. */
struct snap {
    double wall, proc_cpu, srv_cpu;
    unsigned long clients; /* completed cycles or round trips, all client threads */
    unsigned long accepted[MAX_WORKERS], echoes[MAX_WORKERS];
    unsigned long wakes[MAX_WORKERS], empty[MAX_WORKERS];
};

/* ---- clients ---- */

struct client {
    int index;
    uint16_t port;
    int nconns;          /* rtt test: connections this thread owns */
    double deadline;
    _Atomic int *stop;
    pthread_t th;
    int started;
    _Atomic unsigned long done;   /* completed cycles / round trips */
    _Atomic unsigned long errors;
};

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    return sin;
}

/* Close abortively: RST, no TIME_WAIT on either side. */
static void close_rst(int fd)
{
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* A blocking socket connected to 127.0.0.1:port, with IO_TIMEOUT_MS send/receive (and so
 * connect) timeouts; or -1. */
static int client_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { IO_TIMEOUT_MS / 1000, (IO_TIMEOUT_MS % 1000) * 1000 };
    struct sockaddr_in sin = loopback(port);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sin, sizeof sin) < 0) {
        int e = errno;
        close_rst(fd);
        errno = e;
        return -1;
    }
    return fd;
}

static void *accept_client_main(void *arg)
{
    struct client *cl = arg;
    unsigned long cycles = 0;
    while (!atomic_load(cl->stop) && cycles < MAX_CYCLES && now_s() < cl->deadline) {
        cycles++;
        char b = 'x';
        int fd = client_connect(cl->port);
        if (fd < 0) {
            counter_add(&cl->errors, 1);
            continue;
        }
        if (send(fd, &b, 1, MSG_NOSIGNAL) == 1 && recv(fd, &b, 1, 0) == 1)
            counter_add(&cl->done, 1);
        else
            counter_add(&cl->errors, 1);
        close_rst(fd);
    }
    return NULL;
}

struct rtt_conn {
    int fd;
    size_t got; /* bytes of the current response received */
};

static int rtt_send(struct rtt_conn *c, const char *msg)
{
    ssize_t n;
    do
        n = send(c->fd, msg, RTT_MSG, MSG_NOSIGNAL | MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    /* At most RTT_MSG bytes are ever in flight, so the send buffer always takes them. */
    return n == RTT_MSG ? 0 : -1;
}

static void *rtt_client_main(void *arg)
{
    struct client *cl = arg;
    struct rtt_conn conns[MAX_CONNS];
    struct epoll_event evs[MAX_EVENTS];
    char msg[RTT_MSG], in[RTT_MSG];
    memset(msg, 'p', sizeof msg);
    int n = 0, live = 0;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) {
        counter_add(&cl->errors, 1);
        return NULL;
    }
    for (; n < cl->nconns; n++) {
        int one = 1;
        conns[n].fd = client_connect(cl->port);
        conns[n].got = 0;
        if (conns[n].fd < 0) {
            fprintf(stderr, PROG ": connect: %s\n", strerror(errno));
            counter_add(&cl->errors, 1);
            continue;
        }
        setsockopt(conns[n].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[n] };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, conns[n].fd, &ev) < 0 || rtt_send(&conns[n], msg) < 0) {
            counter_add(&cl->errors, 1);
            close_rst(conns[n].fd);
            conns[n].fd = -1;
            continue;
        }
        live++;
    }
    while (live > 0 && !atomic_load(cl->stop) && now_s() < cl->deadline) {
        int k = epoll_wait(ep, evs, MAX_EVENTS, POLL_MS);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            break;
        for (int i = 0; i < k; i++) {
            struct rtt_conn *c = evs[i].data.ptr;
            ssize_t r = recv(c->fd, in, RTT_MSG - c->got, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r > 0) {
                c->got += (size_t)r;
                if (c->got < RTT_MSG)
                    continue;
                c->got = 0;
                counter_add(&cl->done, 1);
                if (rtt_send(c, msg) == 0)
                    continue;
            }
            counter_add(&cl->errors, 1);
            epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
            close_rst(c->fd);
            c->fd = -1;
            live--;
        }
    }
    for (int i = 0; i < n; i++)
        if (conns[i].fd >= 0)
            close_rst(conns[i].fd);
    close(ep);
    return NULL;
}

/* ---- one test ---- */

static void take_snap(struct snap *sn, struct server *s, struct client *cl, int nclients)
{
    sn->wall = now_s();
    sn->proc_cpu = process_cpu_s();
    sn->srv_cpu = 0;
    for (int i = 0; i < s->nworkers; i++) {
        struct worker *w = &s->w[i];
        sn->srv_cpu += cpu_s(w->cpu);
        sn->accepted[i] = counter_get(&w->accepted);
        sn->echoes[i] = counter_get(&w->echoes);
        sn->wakes[i] = counter_get(&w->wakes);
        sn->empty[i] = counter_get(&w->empty_wakes);
    }
    sn->clients = 0;
    for (int i = 0; i < nclients; i++)
        sn->clients += counter_get(&cl[i].done);
}

/* Print the per-worker split of one counter between two snapshots as "a/b/..." with the
 * shares; returns the total. */
static unsigned long print_split(const char *what, const unsigned long *a,
                                 const unsigned long *b, int n)
{
    unsigned long total = 0;
    for (int i = 0; i < n; i++)
        total += b[i] - a[i];
    printf("    %-14s", what);
    for (int i = 0; i < n; i++) {
        unsigned long d = b[i] - a[i];
        printf(" w%d=%lu (%.1f%%)", i, d, total ? 100.0 * (double)d / (double)total : 0.0);
    }
    printf("\n");
    return total;
}

enum test { TEST_ACCEPT, TEST_RTT };

/* Run one test against a running server. Returns 0, or -1 if it could not run. */
static int run_test(struct server *s, enum test test, int nclients, int nconns, int seconds)
{
    static struct client cl[MAX_CLIENTS];
    _Atomic int stop = 0;
    double deadline = now_s() + seconds + IO_TIMEOUT_MS / 1000.0 * 4 + 10;
    struct snap before, ramp, after;
    int started = 0;

    if (test == TEST_RTT && nclients > nconns)
        nclients = nconns;
    take_snap(&ramp, s, cl, 0); /* connections accepted before the test starts */
    for (int i = 0; i < nclients; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].index = i;
        cl[i].port = s->port;
        cl[i].deadline = deadline;
        cl[i].stop = &stop;
        cl[i].nconns = nconns / nclients + (i < nconns % nclients);
        int r = pthread_create(&cl[i].th, NULL,
                               test == TEST_ACCEPT ? accept_client_main : rtt_client_main, &cl[i]);
        if (r != 0) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
            break;
        }
        cl[i].started = 1;
        started++;
    }
    if (started == nclients) {
        sleep_ms(WARMUP_MS);
        take_snap(&before, s, cl, nclients);
        sleep_ms(seconds * 1000L);
        take_snap(&after, s, cl, nclients);
    }
    atomic_store(&stop, 1);
    unsigned long errors = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(cl[i].th, NULL);
        errors += counter_get(&cl[i].errors);
    }
    if (started < nclients)
        return -1;

    double wall = after.wall - before.wall;
    double srv = after.srv_cpu - before.srv_cpu;
    double proc = after.proc_cpu - before.proc_cpu;
    unsigned long done = after.clients - before.clients;
    double rate = (double)done / wall;
    const char *tname = test == TEST_ACCEPT ? "accept" : "rtt";
    int nw = s->nworkers;

    printf("  %s: %s, %d client threads\n", mode_name[s->mode],
           test == TEST_ACCEPT ? "connect/1-byte echo/close cycles" : "64-byte round trips",
           nclients);
    if (test == TEST_RTT)
        printf("    %d persistent connections\n", nconns);
    printf("    rate           %.0f /s  (%lu in %.2f s, %lu client errors)\n", rate, done,
           wall, errors);
    printf("    server cpu     %.2f s  (%.0f%% of one core), %.0f per server cpu-s\n", srv,
           100.0 * srv / wall, srv > 0 ? (double)done / srv : 0.0);
    printf("    process cpu    %.2f s  (%.0f%% of one core; clients are the rest)\n", proc,
           100.0 * proc / wall);
    char split[32 * MAX_WORKERS] = "";
    size_t off = 0;
    if (test == TEST_ACCEPT) {
        print_split("accepted", before.accepted, after.accepted, nw);
        print_split("listener wakes", before.wakes, after.wakes, nw);
        print_split("empty wakes", before.empty, after.empty, nw);
        for (int i = 0; i < nw && off < sizeof split; i++)
            off += (size_t)snprintf(split + off, sizeof split - off, "%s%lu", i ? "/" : "",
                                    after.accepted[i] - before.accepted[i]);
    } else {
        /* The persistent connections were accepted during the ramp. */
        print_split("conns accepted", ramp.accepted, before.accepted, nw);
        print_split("echo reads", before.echoes, after.echoes, nw);
        for (int i = 0; i < nw && off < sizeof split; i++)
            off += (size_t)snprintf(split + off, sizeof split - off, "%s%lu", i ? "/" : "",
                                    before.accepted[i] - ramp.accepted[i]);
    }
    printf("RESULT mode=%s test=%s workers=%d clients=%d seconds=%.2f rate=%.0f "
           "srv_cpu=%.3f per_srv_cpu_s=%.0f proc_cpu=%.3f split=%s errors=%lu\n",
           mode_name[s->mode], tname, nw, nclients, wall, rate, srv,
           srv > 0 ? (double)done / srv : 0.0, proc, split, errors);
    fflush(stdout);
    return 0;
}

static int run_mode(enum mode mode, int nworkers, int nclients, int nconns, int seconds)
{
    static struct server s;
    /* Generous: two tests, warm-ups, connect timeouts. */
    double deadline = now_s() + 2.0 * (seconds + 20) + 30;
    if (server_start(&s, mode, nworkers, deadline) < 0)
        return -1;
    printf("%s: %d worker%s, %d listener%s on 127.0.0.1:%u\n", mode_name[mode], nworkers,
           nworkers == 1 ? "" : "s", s.nlfd, s.nlfd == 1 ? "" : "s", s.port);
    int r = run_test(&s, TEST_ACCEPT, nclients, nconns, seconds);
    if (r == 0)
        r = run_test(&s, TEST_RTT, nclients, nconns, seconds);
    server_stop(&s);
    return r;
}

/* ---- main ---- */

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " [exclusive|reuseport|both] [-w WORKERS] [-d SECONDS]\n"
            "                [-c CLIENT_THREADS] [-n CONNECTIONS]\n"
            "  -w  server worker threads, 1..%d (default 2)\n"
            "  -d  seconds per test, 1..%d (default 5)\n"
            "  -c  client threads, 1..%d (default 4)\n"
            "  -n  persistent connections of the round-trip test, 1..%d (default 50)\n",
            MAX_WORKERS, MAX_SECONDS, MAX_CLIENTS, MAX_CONNS);
    exit(2);
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s: not a number in %d..%d\n", s, lo, hi);
        usage();
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int nworkers = 2, seconds = 5, nclients = 4, nconns = 50;
    int modes = 3; /* bit 0: exclusive, bit 1: reuseport */
    int opt;

    signal(SIGPIPE, SIG_IGN);
    if (argc > 1 && argv[1][0] != '-') {
        if (strcmp(argv[1], "exclusive") == 0)
            modes = 1;
        else if (strcmp(argv[1], "reuseport") == 0)
            modes = 2;
        else if (strcmp(argv[1], "both") != 0)
            usage();
        argv[1] = argv[0];
        argv++;
        argc--;
    }
    while ((opt = getopt(argc, argv, "w:d:c:n:")) != -1) {
        switch (opt) {
        case 'w': nworkers = parse_int(optarg, 1, MAX_WORKERS); break;
        case 'd': seconds = parse_int(optarg, 1, MAX_SECONDS); break;
        case 'c': nclients = parse_int(optarg, 1, MAX_CLIENTS); break;
        case 'n': nconns = parse_int(optarg, 1, MAX_CONNS); break;
        default: usage();
        }
    }
    if (optind != argc)
        usage();

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    printf("# %s: workers=%d seconds=%d client_threads=%d rtt_connections=%d cpus=%ld\n",
           PROG, nworkers, seconds, nclients, nconns, ncpu);
    int failed = 0;
    if ((modes & 1) && run_mode(MODE_EXCLUSIVE, nworkers, nclients, nconns, seconds) < 0)
        failed = 1;
    if ((modes & 2) && run_mode(MODE_REUSEPORT, nworkers, nclients, nconns, seconds) < 0)
        failed = 1;
    return failed;
}
