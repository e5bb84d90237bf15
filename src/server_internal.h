/*
 * server_internal.h: the server object, shared by the blocking models (server.c) and the
 * event-loop model (server_loop.c). Not installed.
 */
#ifndef SOCKIT_SERVER_INTERNAL_H
#define SOCKIT_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "budget.h"
#include "sockit/server.h"

/* Most listening sockets per server. */
#define SK__MAX_LISTENERS 64
/* Datagram buffers: any datagram a service may get (larger ones are dropped). */
#define SK__DGRAM_BUF 65536

/* A session of the thread and iterative models. */
struct session {
    sk_server_t *srv;
    int fd;
    int wakefd; /* eventfd: written to make the session look at the stopping flag */
    sk_addr_t peer;
    struct session *prev, *next;
};

struct sk__rate_table; /* server.c: per-source token buckets of one datagram socket */

struct sk_server {
    sk_server_opts_t o; /* with the defaults filled in (max_conns 0 then means none) */
    int lfd[SK__MAX_LISTENERS];
    sk_addr_t laddr[SK__MAX_LISTENERS];          /* each listener's bound address */
    struct sk__rate_table *rates[SK__MAX_LISTENERS]; /* datagram listeners: reply limits */
    int rate_loopback; /* the reply limit applies to loopback sources too (set explicitly) */
    size_t nl;
    struct unix_file { /* Unix socket files this server created, removed by free() */
        char path[SK_UNIXPATHMAX + 1];
        dev_t dev;
        ino_t ino;
    } files[SK__MAX_LISTENERS];
    size_t nfiles;
    int wake[2];           /* non-blocking pipe: [0] polled by run(), [1] written to wake it */
    atomic_int stopping;   /* lock-free: safe from signal handlers and other threads */
    atomic_int drain_over; /* the drain period ended: sessions left are cut off */
    int stop_on_wake;      /* a fork child: its session's wake-up is the parent's SIGTERM */

    pthread_mutex_t mu; /* guards sessions and nsessions */
    pthread_cond_t idle;
    struct session *sessions;
    size_t nsessions;

    struct kid { /* fork model: a live child and the client it serves */
        pid_t pid;
        sk_addr_t peer;
        int64_t t0;
    } * kids;
    size_t nkids, capkids;
    /* Fork model: what the children count (their bytes and errors), in memory shared with
     * them, added to the totals by sk_server_stats(); NULL in the other models. */
    struct sk__kid_totals {
        atomic_ullong bytes_in, bytes_out, errors;
        atomic_int drain_over; /* set by the parent when the drain period ends */
    } * kidtot;
    int is_child; /* this process is a fork-model child */

    char *dgram_in, *dgram_out; /* datagram servers: SK__DGRAM_BUF bytes each */
    sk__budget_t budget;        /* buffered input and chat queues (o.max_buffered) */

    /* Totals (sk_server_stats); lock-free, updated from every thread. */
    atomic_ullong accepted, refused, active, closed, errors, bytes_in, bytes_out, datagrams;
    atomic_int report; /* sk_server_report() asked for a "Stats:" line */
    int reserve_fd;    /* kept open to accept-and-close one client when out of fds */
};

/* How one connection went, for the -v "Closed" line and the totals. */
struct sk__conn_stats {
    unsigned long long in, out;
    int64_t t0; /* accepted, monotonic ns */
};

/* One line to the server's log (printf-style), escaped (sk_escape): nothing when there is
 * no log, or when the log is quiet (o.log_quiet). */
void sk__server_log(sk_server_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The same for a notice, which a quiet log gets too ("Stopping: ..."). */
void sk__server_notice(sk_server_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report a chunk to the tap (o.tap), if any. */
static inline void sk__tap(sk_server_t *s, const sk_addr_t *peer, int sent,
                           unsigned long long offset, const void *data, size_t len)
{
    if (s->o.tap && len > 0)
        s->o.tap(s->o.tap_ctx, peer, sent, offset, data, len);
}

/* Answer the datagrams waiting on fd (a bounded batch), with SK__DGRAM_BUF-byte buffers
 * in and out owned by the calling thread. */
void sk__serve_datagrams(sk_server_t *s, int fd, char *in, char *out);

/*
 * Admission for a freshly accepted fd: --allow/--deny, then --max-conns. A client refused
 * by the ACL is reset (SO_LINGER 0); one over max_conns gets SK_BUSY_LINE best-effort,
 * then FIN, its waiting input read and dropped (never waiting for more), then the close:
 * so the line is not destroyed by a reset. Returns 1 when admitted (the caller then owns
 * fd and must call sk__conn_closed() at its end); an admitted TCP connection gets
 * TCP_NODELAY (a service's replies go out at once) and o.keepalive.
 */
int sk__admit(sk_server_t *s, int fd, const sk_addr_t *peer);

/* Account for a connection that ended; under -v log "Closed ADDR: ..." with the bytes,
 * the duration and, for an error, why (reason NULL for a normal end). */
void sk__conn_closed(sk_server_t *s, const sk_addr_t *peer, const struct sk__conn_stats *st,
                     const char *reason);

/* Out of fds on accept: give up the reserve fd, accept and close one waiting client (so
 * it is told rather than left hanging), and take the reserve back. */
void sk__shed_one(sk_server_t *s, int lfd);

/* Log "Stopping: ..." once the listeners are closed. */
void sk__log_stopping(sk_server_t *s);

/* Log the totals if sk_server_report() asked for them. */
void sk__maybe_report(sk_server_t *s);

/* Run the event-loop model (server_loop.c) until stopped. Same contract as run(). */
int sk__run_loop_model(sk_server_t *s);

#endif
