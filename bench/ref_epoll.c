/*
 * ref_epoll.c: a minimal edge-triggered epoll echo server, the reference that
 * `sockit serve echo --model loop` is measured against (bench/compare).
 *
 *   ref_epoll [-t THREADS] [-r] [-l SECONDS] [PORT]
 *
 * Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
 * "Listening on 127.0.0.1:PORT" on stderr when ready. Runs until killed, or for at most
 * SECONDS with -l (a safety bound for scripts).
 *
 * Each thread runs one epoll. Connections are registered once, edge-triggered, for
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP, and never modified: on any event the connection first
 * writes what is pending, then reads (16 KiB at a time, like sockit's loop) until EAGAIN,
 * writing each chunk back at once. Bytes the kernel does not take stay pending and reading
 * pauses until the next EPOLLOUT edge sends them. Fairness, as in sockit's loop: at most
 * READS_PER_EVENT reads per connection per turn; a connection that still has input then
 * goes on the thread's ready list and gets its next turn after the next (non-blocking)
 * epoll_wait, so a client that always has a request waiting cannot starve the others
 * (without this, a client faster than the server keeps the thread in one connection's
 * read loop forever). No timers, no TCP_NODELAY (sockit sets none either).
 *
 * With -t N (N > 1) the threads share the listener the way sockit's loop model does: one
 * listening socket, in every thread's epoll with EPOLLIN | EPOLLEXCLUSIVE, level-triggered,
 * so one readiness wakes one thread, which accepts until EAGAIN. With -r they use N
 * SO_REUSEPORT listeners on the same port instead (the kernel spreads connections by a hash
 * of the 4-tuple).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, EPOLLEXCLUSIVE; the CMake build defines it already */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "ref_epoll"
#define BUF_SIZE 16384
#define MAX_EVENTS 256
#define MAX_THREADS 64
#define READS_PER_EVENT 4

struct conn {
    int fd;
    size_t off, len;          /* pending output: buf[off, len) */
    struct conn *rprev, *rnext; /* the ready list: input may be waiting */
    int ready;
    char buf[BUF_SIZE];
};

struct worker {
    int epfd;
    int lfd;
    struct conn *ready; /* connections whose turn ended before EAGAIN */
    pthread_t th;
};

static void ready_add(struct worker *w, struct conn *c)
{
    if (c->ready)
        return;
    c->ready = 1;
    c->rprev = NULL;
    c->rnext = w->ready;
    if (w->ready)
        w->ready->rprev = c;
    w->ready = c;
}

static void ready_del(struct worker *w, struct conn *c)
{
    if (!c->ready)
        return;
    c->ready = 0;
    if (c->rprev)
        c->rprev->rnext = c->rnext;
    else
        w->ready = c->rnext;
    if (c->rnext)
        c->rnext->rprev = c->rprev;
}

static char listener_tag; /* epoll data of the listener */

static void conn_close(struct worker *w, struct conn *c)
{
    ready_del(w, c);
    epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

/* Write pending output. Returns 1 when none is left, 0 when the kernel is full, -1 on error. */
static int conn_flush(struct conn *c)
{
    while (c->off < c->len) {
        ssize_t n = send(c->fd, c->buf + c->off, c->len - c->off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->off += (size_t)n;
    }
    c->off = c->len = 0;
    return 1;
}

/* Any edge, or a turn from the ready list: flush, then echo until the socket has nothing
 * more to read, at most READS_PER_EVENT reads. Returns -1 to close, 1 if input may remain,
 * 0 when the next edge will tell. */
static int conn_event(struct conn *c)
{
    for (int reads = 0;; reads++) {
        int r = conn_flush(c);
        if (r <= 0)
            return r; /* error, or wait for the EPOLLOUT edge */
        if (reads == READS_PER_EVENT)
            return 1;
        ssize_t n = recv(c->fd, c->buf, sizeof c->buf, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        if (n == 0)
            return -1; /* EOF */
        c->len = (size_t)n;
    }
}

static void accept_all(struct worker *w)
{
    for (;;) {
        int fd = accept4(w->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            if (errno != EAGAIN)
                fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
            return;
        }
        struct conn *c = malloc(sizeof *c);
        if (!c) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->off = c->len = 0;
        c->ready = 0;
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                  .data.ptr = c };
        if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct epoll_event evs[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(w->epfd, evs, MAX_EVENTS, w->ready ? 0 : -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, PROG ": epoll_wait: %s\n", strerror(errno));
            exit(1);
        }
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &listener_tag) {
                accept_all(w);
                continue;
            }
            /* Each fd appears at most once per epoll_wait, so freeing here is safe. */
            struct conn *c = evs[i].data.ptr;
            int r = conn_event(c);
            if (r < 0)
                conn_close(w, c);
            else if (r > 0)
                ready_add(w, c);
            else
                ready_del(w, c);
        }
        /* One more turn for each connection that was cut short (before this wait). */
        struct conn *c = w->ready;
        w->ready = NULL;
        for (struct conn *next; c; c = next) {
            next = c->rnext;
            c->ready = 0;
            int r = conn_event(c);
            if (r < 0) {
                conn_close(w, c);
            } else if (r > 0) {
                ready_add(w, c);
            }
        }
    }
    return NULL;
}

static int listener_open(int reuseport, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
        bind(fd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(fd, SOMAXCONN) < 0) {
        fprintf(stderr, PROG ": listen 127.0.0.1:%u: %s\n", port, strerror(errno));
        exit(1);
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

static long parse_num(const char *s, long lo, long hi)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, PROG ": %s: not a number in %ld..%ld\n", s, lo, hi);
        exit(2);
    }
    return v;
}

static void usage(void)
{
    fprintf(stderr, "usage: " PROG " [-t THREADS] [-r] [-l SECONDS] [PORT]\n"
                    "  -t  event-loop threads, 1..%d (default 1)\n"
                    "  -r  threads get SO_REUSEPORT listeners (default: one shared\n"
                    "      listener with EPOLLEXCLUSIVE, as sockit's loop model)\n"
                    "  -l  exit after SECONDS (default: run until killed)\n",
            MAX_THREADS);
    exit(2);
}

int main(int argc, char **argv)
{
    static struct worker w[MAX_THREADS];
    int nthreads = 1, reuseport = 0, opt;
    long lifetime = 0;
    uint16_t port = 0;

    while ((opt = getopt(argc, argv, "t:rl:")) != -1) {
        switch (opt) {
        case 't': nthreads = (int)parse_num(optarg, 1, MAX_THREADS); break;
        case 'r': reuseport = 1; break;
        case 'l': lifetime = parse_num(optarg, 1, 86400); break;
        default: usage();
        }
    }
    if (optind < argc - 1)
        usage();
    if (optind == argc - 1)
        port = (uint16_t)parse_num(argv[optind], 0, 65535);
    signal(SIGPIPE, SIG_IGN);
    if (lifetime)
        alarm((unsigned)lifetime); /* SIGALRM's default action ends the process */

    for (int i = 0; i < nthreads; i++) {
        if (i == 0 || reuseport) {
            w[i].lfd = listener_open(reuseport, port);
            port = listener_port(w[i].lfd);
        } else {
            w[i].lfd = w[0].lfd;
        }
        w[i].epfd = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listener_tag };
        if (nthreads > 1 && !reuseport)
            ev.events |= EPOLLEXCLUSIVE;
        if (w[i].epfd < 0 || epoll_ctl(w[i].epfd, EPOLL_CTL_ADD, w[i].lfd, &ev) < 0) {
            fprintf(stderr, PROG ": epoll: %s\n", strerror(errno));
            return 1;
        }
    }
    fprintf(stderr, "Listening on 127.0.0.1:%u\n", port);
    for (int i = 1; i < nthreads; i++) {
        int r = pthread_create(&w[i].th, NULL, worker_main, &w[i]);
        if (r != 0) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
            return 1;
        }
    }
    worker_main(&w[0]);
    return 0;
}
