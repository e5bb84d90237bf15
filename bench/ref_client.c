/*
 * ref_client.c: a minimal hand-written epoll load client, the yardstick for
 * `sockit bench --mode echo` (bench/compare): can sockit bench drive at least as much
 * load as this, at the same client CPU?
 *
 *   ref_client [-c CONNS] [-s SIZE] [-p PIPELINE] [-d SECONDS] [-t THREADS] [-j] [HOST:]PORT
 *
 * Opens CONNS TCP connections to HOST:PORT (HOST must be a dotted IPv4 address; default
 * 127.0.0.1), spread over THREADS threads (default 1), each thread one edge-triggered
 * epoll. Every connection keeps PIPELINE requests of SIZE bytes in flight (default 1:
 * ping-pong): each time SIZE more bytes of echo have come back, one request is done and
 * another SIZE bytes are sent. The payload is not checked and no latency is measured:
 * this is the least work a client can do per round trip. After SECONDS (default 3) it
 * prints the requests per second, counted from the moment every connection is up, and
 * its own CPU time (getrusage, all threads, connection set-up included); -j prints the
 * same as one JSON object.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PROG "ref_client"
#define MAX_CONNS 10000
#define MAX_THREADS 64
#define MAX_SIZE (1 << 20)
#define MAX_PIPELINE 1024
#define MAX_EVENTS 256
#define IO_CHUNK 65536
#define POLL_MS 100

struct conn {
    int fd;
    uint64_t in;       /* bytes received */
    uint64_t owed;     /* bytes still to send */
};

struct thread {
    int nconns;
    struct conn *conns;
    pthread_t th;
    uint64_t done;     /* requests completed during the measured window */
    uint64_t errors;
};

static struct sockaddr_in g_addr;
static size_t g_size = 64;
static int g_pipeline = 1;
static int g_measuring, g_stop; /* set by main, read with __atomic loads */
static char g_out[IO_CHUNK]; /* the payload; only read */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double tv_s(struct timeval tv)
{
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Send what is owed. Returns 0, or -1 on error. */
static int conn_send(struct conn *c)
{
    while (c->owed > 0) {
        size_t want = c->owed < sizeof g_out ? (size_t)c->owed : sizeof g_out;
        ssize_t n = send(c->fd, g_out, want, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? 0 : -1;
        }
        c->owed -= (uint64_t)n;
    }
    return 0;
}

/* Read until EAGAIN; every SIZE bytes back completes a request and owes the next one.
 * Returns the requests completed, or -1 on error or EOF. */
static long conn_recv(struct conn *c, char *in, size_t cap)
{
    long done = 0;
    for (;;) {
        ssize_t n = recv(c->fd, in, cap, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno == EAGAIN ? done : -1;
        }
        if (n == 0)
            return -1;
        uint64_t before = c->in / g_size;
        c->in += (uint64_t)n;
        uint64_t k = c->in / g_size - before;
        c->owed += k * g_size;
        done += (long)k;
    }
}

static int conn_open(struct conn *c, int ep)
{
    c->in = 0;
    c->owed = (uint64_t)g_size * (uint64_t)g_pipeline;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    struct timeval tv = { 2, 0 };
    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* bounds connect() */
    if (connect(c->fd, (struct sockaddr *)&g_addr, sizeof g_addr) < 0) {
        fprintf(stderr, PROG ": connect: %s\n", strerror(errno));
        return -1;
    }
    struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                              .data.ptr = c };
    int fl = fcntl(c->fd, F_GETFL);
    if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        return -1;
    return 0;
}

static pthread_barrier_t g_ready;

static void *thread_main(void *arg)
{
    struct thread *t = arg;
    struct epoll_event evs[MAX_EVENTS];
    static __thread char in[IO_CHUNK];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = 0; i < t->nconns; i++) {
        t->conns[i].fd = -1;
        if (ep < 0 || conn_open(&t->conns[i], ep) < 0) {
            t->errors++;
            if (t->conns[i].fd >= 0)
                close(t->conns[i].fd);
            t->conns[i].fd = -1;
        }
    }
    pthread_barrier_wait(&g_ready);
    /* Edge-triggered: the first EPOLLOUT edge (the socket is writable from the start)
     * sends each connection's first PIPELINE requests. */
    while (!__atomic_load_n(&g_stop, __ATOMIC_RELAXED) && ep >= 0) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, POLL_MS);
        if (n < 0 && errno != EINTR)
            break;
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            long k = conn_recv(c, in, sizeof in);
            if (k < 0 || conn_send(c) < 0) {
                t->errors++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->fd = -1;
                continue;
            }
            if (__atomic_load_n(&g_measuring, __ATOMIC_RELAXED))
                __atomic_fetch_add(&t->done, (uint64_t)k, __ATOMIC_RELAXED);
        }
    }
    for (int i = 0; i < t->nconns; i++)
        if (t->conns[i].fd >= 0)
            close(t->conns[i].fd);
    if (ep >= 0)
        close(ep);
    return NULL;
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
    fprintf(stderr,
            "usage: " PROG " [-c CONNS] [-s SIZE] [-p PIPELINE] [-d SECONDS] [-t THREADS] [-j]\n"
            "                  [HOST:]PORT\n"
            "  -c  connections, 1..%d (default 1)\n"
            "  -s  request size in bytes, 1..%d (default 64)\n"
            "  -p  requests in flight per connection, 1..%d (default 1)\n"
            "  -d  seconds to run, 1..3600 (default 3)\n"
            "  -t  threads, 1..%d (default 1)\n"
            "  -j  print one JSON object\n",
            MAX_CONNS, MAX_SIZE, MAX_PIPELINE, MAX_THREADS);
    exit(2);
}

int main(int argc, char **argv)
{
    static struct thread th[MAX_THREADS];
    int nconns = 1, nthreads = 1, seconds = 3, json = 0, opt;

    while ((opt = getopt(argc, argv, "c:s:p:d:t:j")) != -1) {
        switch (opt) {
        case 'c': nconns = (int)parse_num(optarg, 1, MAX_CONNS); break;
        case 's': g_size = (size_t)parse_num(optarg, 1, MAX_SIZE); break;
        case 'p': g_pipeline = (int)parse_num(optarg, 1, MAX_PIPELINE); break;
        case 'd': seconds = (int)parse_num(optarg, 1, 3600); break;
        case 't': nthreads = (int)parse_num(optarg, 1, MAX_THREADS); break;
        case 'j': json = 1; break;
        default: usage();
        }
    }
    if (optind != argc - 1)
        usage();
    char host[64] = "127.0.0.1";
    const char *portstr = argv[optind], *colon = strrchr(argv[optind], ':');
    if (colon) {
        size_t hl = (size_t)(colon - argv[optind]);
        if (hl == 0 || hl >= sizeof host)
            usage();
        memcpy(host, argv[optind], hl);
        host[hl] = '\0';
        portstr = colon + 1;
    }
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons((uint16_t)parse_num(portstr, 1, 65535));
    if (inet_pton(AF_INET, host, &g_addr.sin_addr) != 1) {
        fprintf(stderr, PROG ": %s: not an IPv4 address\n", host);
        return 2;
    }
    if (nthreads > nconns)
        nthreads = nconns;
    memset(g_out, 'x', sizeof g_out);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)seconds + 30); /* hard bound: SIGALRM ends the process */

    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    if (!conns) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    pthread_barrier_init(&g_ready, NULL, (unsigned)nthreads + 1);
    for (int i = 0, next = 0; i < nthreads; i++) {
        th[i].nconns = nconns / nthreads + (i < nconns % nthreads);
        th[i].conns = conns + next;
        next += th[i].nconns;
        int r = pthread_create(&th[i].th, NULL, thread_main, &th[i]);
        if (r != 0) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
            return 1;
        }
    }
    pthread_barrier_wait(&g_ready);
    double t0 = now_s();
    __atomic_store_n(&g_measuring, 1, __ATOMIC_RELAXED);
    struct timespec ts = { seconds, 0 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    uint64_t done = 0, errors = 0;
    for (int i = 0; i < nthreads; i++)
        done += __atomic_load_n(&th[i].done, __ATOMIC_RELAXED);
    double wall = now_s() - t0;
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < nthreads; i++) {
        pthread_join(th[i].th, NULL);
        errors += th[i].errors;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double user = tv_s(ru.ru_utime), sys = tv_s(ru.ru_stime);
    double rps = (double)done / wall;
    if (json)
        printf("{\"rps\": %.1f, \"requests\": %llu, \"duration_s\": %.3f, \"cpu_user_s\": %.3f, "
               "\"cpu_sys_s\": %.3f, \"cpu_s\": %.3f, \"errors\": %llu, \"conns\": %d, "
               "\"size\": %zu, \"pipeline\": %d, \"threads\": %d}\n",
               rps, (unsigned long long)done, wall, user, sys, user + sys,
               (unsigned long long)errors, nconns, g_size, g_pipeline, nthreads);
    else
        printf("%.0f requests/s (%llu in %.2f s), %d conns x %zu B, pipeline %d, %d thread%s\n"
               "cpu: %.2f s user + %.2f s sys = %.2f s (%.0f%% of one core), %.0f requests per "
               "cpu-s, %llu errors\n",
               rps, (unsigned long long)done, wall, nconns, g_size, g_pipeline, nthreads,
               nthreads == 1 ? "" : "s", user, sys, user + sys, 100.0 * (user + sys) / wall,
               user + sys > 0 ? (double)done / (user + sys) : 0.0, (unsigned long long)errors);
    free(conns);
    return errors ? 1 : 0;
}
