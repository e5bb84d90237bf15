/*
 * server_internal.h: the server object, shared by the blocking models (server.c) and the
 * event-loop model (server_loop.c). Not installed.
 */
#ifndef SOCKIT_SERVER_INTERNAL_H
#define SOCKIT_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "sockit/server.h"

/* Most listening sockets per server. */
#define SK__MAX_LISTENERS 64
/* Datagram buffers: any datagram a service may get (larger ones are dropped). */
#define SK__DGRAM_BUF 65536

/* A session of the thread and iterative models. */
struct session {
    sk_server_t *srv;
    int fd;
    sk_addr_t peer;
    struct session *prev, *next;
};

struct sk_server {
    sk_server_opts_t o;
    int lfd[SK__MAX_LISTENERS];
    size_t nl;
    struct unix_file { /* Unix socket files this server created, removed by free() */
        char path[SK_UNIXPATHMAX + 1];
        dev_t dev;
        ino_t ino;
    } files[SK__MAX_LISTENERS];
    size_t nfiles;
    int wake[2]; /* non-blocking pipe: [0] polled by run(), [1] written to wake it */
    atomic_int stopping; /* lock-free: safe from signal handlers and other threads */

    pthread_mutex_t mu; /* guards sessions and nsessions */
    pthread_cond_t idle;
    struct session *sessions;
    size_t nsessions;

    pid_t *kids; /* fork model: live children */
    size_t nkids, capkids;

    char *dgram_in, *dgram_out; /* datagram servers: SK__DGRAM_BUF bytes each */
};

/* One line to the server's log (printf-style); nothing when there is no log. */
void sk__server_log(sk_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Answer the datagrams waiting on fd (a bounded batch), with SK__DGRAM_BUF-byte buffers
 * in and out owned by the calling thread. */
void sk__serve_datagrams(sk_server_t *s, int fd, char *in, char *out);

/* Run the event-loop model (server_loop.c) until stopped. Same contract as run(). */
int sk__run_loop_model(sk_server_t *s);

#endif
