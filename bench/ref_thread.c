/*
 * ref_thread.c: a minimal thread-per-connection echo server, the reference for
 * `sockit serve echo --model thread` (bench/compare).
 *
 *   ref_thread [-l SECONDS] [PORT]
 *
 * Listens on 127.0.0.1:PORT (0, the default: any free port) and prints
 * "Listening on 127.0.0.1:PORT" on stderr when ready. The main thread accepts (blocking);
 * each client gets a detached thread that reads 16 KiB at a time and writes every chunk
 * back with blocking send until the client's EOF or an error. No TCP_NODELAY. Runs until
 * killed, or for at most SECONDS with -l.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4; the CMake build defines it already */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PROG "ref_thread"
#define BUF_SIZE 16384
#define STACK_SIZE (256 * 1024)

static void *session(void *arg)
{
    int fd = (int)(intptr_t)arg;
    char buf[BUF_SIZE];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            ssize_t k = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (k < 0 && errno == EINTR)
                continue;
            if (k < 0)
                goto out;
            off += k;
        }
    }
out:
    close(fd);
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

int main(int argc, char **argv)
{
    long lifetime = 0;
    uint16_t port = 0;
    int opt, one = 1;

    while ((opt = getopt(argc, argv, "l:")) != -1) {
        if (opt != 'l') {
            fprintf(stderr, "usage: " PROG " [-l SECONDS] [PORT]\n");
            return 2;
        }
        lifetime = parse_num(optarg, 1, 86400);
    }
    if (optind < argc)
        port = (uint16_t)parse_num(argv[optind], 0, 65535);
    signal(SIGPIPE, SIG_IGN);
    if (lifetime)
        alarm((unsigned)lifetime);

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sin;
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(lfd, SOMAXCONN) < 0 ||
        getsockname(lfd, (struct sockaddr *)&sin, &len) < 0) {
        fprintf(stderr, PROG ": listen 127.0.0.1:%u: %s\n", port, strerror(errno));
        return 1;
    }
    fprintf(stderr, "Listening on 127.0.0.1:%u\n", ntohs(sin.sin_port));

    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, STACK_SIZE);
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno != EINTR && errno != ECONNABORTED) {
                fprintf(stderr, PROG ": accept: %s\n", strerror(errno));
                usleep(10000); /* EMFILE and the like: back off rather than spin */
            }
            continue;
        }
        pthread_t th;
        int r = pthread_create(&th, &attr, session, (void *)(intptr_t)fd);
        if (r != 0) {
            fprintf(stderr, PROG ": pthread_create: %s\n", strerror(r));
            close(fd);
        }
    }
}
