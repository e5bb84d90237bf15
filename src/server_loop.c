/*
 * server_loop.c: the event-loop model (SK_MODEL_LOOP). Each of N worker threads runs its
 * own loop (sockit/loop.h); every listener is in every loop with SK_EXCLUSIVE, so one
 * readiness wakes one worker. A connection lives on the worker that accepted it, never
 * moves, and is touched by no other thread.
 *
 * A connection is non-blocking with one bounded output queue. Writes go straight to the
 * socket; only what the kernel does not take is queued, and only then is writability
 * armed. Backpressure: while more than HIGH_WATER bytes wait to go out, the client's
 * input is not read (resumed below LOW_WATER), so a client that sends and never reads
 * costs at most HIGH_WATER plus one read of queue. A queue past max_output drops the
 * connection. Per wake-up a connection gets at most READS_PER_WAKE reads and
 * WRITE_PER_WAKE bytes of output, and a listener ACCEPT_PER_WAKE accepts, so no client
 * starves the others. A connection is freed only after it has left the loop.
 *
 * The caller of run() waits for sk_server_stop(), then shuts the listeners down (new
 * connects are refused at once), wakes every worker, and joins them; each worker ends its
 * connections and stops when it has none.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "server_internal.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "sockit/sock.h"
#include "sys.h"

#define READ_CHUNK 16384
#define READS_PER_WAKE 4
#define WRITE_PER_WAKE (256 * 1024)
#define HIGH_WATER (64 * 1024)
#define LOW_WATER (16 * 1024)
#define ACCEPT_PER_WAKE 32
#define ACCEPT_BACKOFF_MS 100
/* Producer services (chargen): on_writable calls per wake-up. */
#define PRODUCE_PER_WAKE 16
/* Ending a session ourselves: FIN, then read and drop the peer's input this long (and at
 * most this much) so that closing does not become a reset that destroys our last bytes. */
#define LINGER_MS 2000
/* While the server stops, a closed connection lingers only this long: exit waits for it. */
#define STOP_LINGER_MS 250
#define LINGER_BYTES (256 * 1024)
/* A pause's timer looks again after this long at most (a pause may be "until resumed"). */
#define PAUSE_TIMER_MAX_MS ((int64_t)3600 * 1000)
/* Most worker threads, and most fds a worker's loop can watch. */
#define MAX_WORKERS 256
#define MAX_SETSIZE (1 << 20)

struct worker;

struct conn {
    struct worker *w;
    int fd;
    sk_session_t *s;
    sk_buf_t out;       /* output the kernel has not taken yet */
    int reading;        /* READABLE armed (off while backpressure applies) */
    int input_open;     /* the peer has not sent EOF */
    int ending;         /* the session is over: flush, then close */
    int lingering;      /* FIN sent: drain input until EOF, LINGER_BYTES or the timer */
    size_t drained;
    int64_t timer;      /* the linger timer, 0 if none */
    int64_t watchdog;   /* the idle / frame deadline timer, 0 if none */
    int64_t pause_timer; /* the end of the session's pause (sk_session_pause), 0 if none */
    int held;           /* the session paused its input: feed what it kept once it ends */
    int wants_room;     /* the handler found no room to write: notify it once drained */
    int64_t last_io;    /* monotonic ns of the last byte either way */
    struct sk__conn_stats st;
    const char *reason; /* why it ended, when not normally */
    char why[96];       /* the text reason points to when it names an error */
    sk_addr_t peer;
    int notified;       /* in the worker's notify list (guarded by w->nmu) */
    int session_over;   /* on_close has run */
    struct conn *prev, *next;
    struct conn *nprev, *nnext; /* the notify list */
};

struct worker {
    sk_server_t *srv;
    sk_loop_t *loop;
    pthread_t th;
    int started;
    struct conn *conns;
    size_t nconns;
    int stopping;
    int64_t drain_timer;
    pthread_mutex_t nmu;  /* guards the notify list: other threads add to it */
    struct conn *notify;  /* sessions whose on_notify is due */
    int index, nworkers;
    char *dgram_in, *dgram_out; /* datagram servers only */
    char rbuf[READ_CHUNK];
};

static void conn_io(sk_loop_t *l, int fd, void *arg, int ready);
static void conn_notified(struct conn *c);

/* ---- connections ---- */

/* The session is over (once): on_close. After it no other thread can notify c (chat),
 * and a chat member has left the room even while its connection still lingers. */
static void end_session(struct conn *c)
{
    const sk_service_t *svc = c->w->srv->o.service;
    if (!c->session_over && svc->on_close)
        svc->on_close(c->s);
    c->session_over = 1;
}

static void conn_free(struct conn *c)
{
    struct worker *w = c->w;
    end_session(c);
    /* No other thread may notify c from here on: chat has let go of it (on_close), and
     * the budget cannot evict it once its input is gone. */
    sk__session_drop_input(c->s);
    pthread_mutex_lock(&w->nmu);
    if (c->notified) {
        if (c->nprev)
            c->nprev->nnext = c->nnext;
        else
            w->notify = c->nnext;
        if (c->nnext)
            c->nnext->nprev = c->nprev;
        c->notified = 0;
    }
    pthread_mutex_unlock(&w->nmu);
    sk_loop_del(w->loop, c->fd, SK_READABLE | SK_WRITABLE);
    if (c->timer)
        sk_loop_timer_cancel(w->loop, c->timer);
    if (c->watchdog)
        sk_loop_timer_cancel(w->loop, c->watchdog);
    if (c->pause_timer)
        sk_loop_timer_cancel(w->loop, c->pause_timer);
    sk__conn_closed(w->srv, &c->peer, &c->st, c->reason);
    sk_session_free(c->s);
    sk_buf_free(&c->out);
    sk_close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        w->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    w->nconns--;
    free(c);
    if (w->stopping && w->nconns == 0)
        sk_loop_stop(w->loop);
}

static int conn_write(void *ctx, const void *data, size_t len)
{
    struct conn *c = ctx;
    size_t done = 0;
    if (sk_buf_len(&c->out) == 0) {
        ssize_t n = SK_SYS(send)(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -errno;
        if (n > 0) {
            done = (size_t)n;
            sk__tap(c->w->srv, &c->peer, 1, c->st.out, data, done);
            c->st.out += (unsigned long long)n;
            c->last_io = sk_loop_now(c->w->loop) * 1000000;
        }
    }
    if (done < len)
        return sk_buf_append(&c->out, (const char *)data + done, len - done);
    return 0;
}

/* sk_session_write_room(): what fits below the high-water mark. None: the handler is
 * notified again once the output has drained (conn_io). */
static size_t conn_room(void *ctx)
{
    struct conn *c = ctx;
    size_t queued = sk_buf_len(&c->out);
    if (queued < HIGH_WATER)
        return HIGH_WATER - queued;
    c->wants_room = 1;
    return 0;
}

/* Send queued output, at most WRITE_PER_WAKE bytes. Returns 0 or -errno. */
static int flush(struct conn *c)
{
    size_t sent = 0;
    while (sk_buf_len(&c->out) > 0 && sent < WRITE_PER_WAKE) {
        ssize_t n = SK_SYS(send)(c->fd, sk_buf_data(&c->out), sk_buf_len(&c->out),
                                 MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return errno == EAGAIN ? 0 : -errno;
        sk__tap(c->w->srv, &c->peer, 1, c->st.out, sk_buf_data(&c->out), (size_t)n);
        sk_buf_consume(&c->out, (size_t)n);
        sent += (size_t)n;
        c->st.out += (unsigned long long)n;
        c->last_io = sk_loop_now(c->w->loop) * 1000000;
    }
    return 0;
}

static void linger_timeout(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l, (void)id;
    struct conn *c = arg;
    c->timer = 0;
    conn_free(c);
}

/* Everything is sent: close. When we end the conversation (the peer has not), half-close
 * and drain first. */
static void finish(struct conn *c)
{
    end_session(c);
    if (!c->input_open || SK_SYS(shutdown)(c->fd, SHUT_WR) < 0) {
        conn_free(c);
        return;
    }
    c->lingering = 1;
    sk_loop_del(c->w->loop, c->fd, SK_WRITABLE);
    if (sk_loop_add(c->w->loop, c->fd, SK_READABLE, conn_io, c) < 0 ||
        (c->timer = sk_loop_timer(c->w->loop, c->w->stopping ? STOP_LINGER_MS : LINGER_MS,
                                  linger_timeout, c)) < 0) {
        c->timer = 0;
        conn_free(c);
    }
}

static void linger_read(struct conn *c)
{
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t n = SK_SYS(recv)(c->fd, c->w->rbuf, sizeof c->w->rbuf, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0 || (c->drained += (size_t)n) >= LINGER_BYTES) {
            conn_free(c);
            return;
        }
    }
}

/* "op: error" for the "Closed" line, kept in c: a send or recv failed with code. */
static const char *io_failure(struct conn *c, const char *op, int code)
{
    snprintf(c->why, sizeof c->why, "%s: %s", op, sk_strerror(code));
    return c->why;
}

/* The handler or the framing failed with code: log why, and end the connection. Returns
 * 1 when c is gone, 0 when it is ending gracefully (call update()). */
static int conn_error(struct conn *c, int code)
{
    sk_server_t *s = c->w->srv;
    char as[SK_ADDRSTRLEN];
    const char *why = sk_session_error(c->s);
    if (*why) { /* a bad frame: answered frames still go out, then FIN */
        end_session(c); /* out at once (a chat member leaves the room), then the log line */
        sk__server_log(s, "Closing %s: %s", sk_addr_str(&c->peer, as), why);
        c->reason = why;
        c->ending = 1;
        c->reading = 0;
        return 0;
    }
    if (code == SK_ETOOBIG) {
        sk__server_log(s, "Closing %s: output over the %zu-byte maximum (--max-output)",
                       sk_addr_str(&c->peer, as), c->out.max);
        c->reason = "output over the maximum (--max-output)";
    } else if (code == SK__EBUDGET) { /* a chat queue the budget refused */
        c->reason = "output over the server's budget (--max-buffered)";
        sk__server_log(s, "Closing %s: %s", sk_addr_str(&c->peer, as), c->reason);
    } else {
        c->reason = io_failure(c, "send", code);
    }
    conn_free(c);
    return 1;
}

/* A framed connection between frames, with nothing left to send: safe to close when
 * draining. A raw stream is active until its peer closes. */
static int conn_idle(const struct conn *c)
{
    return sk_session_framed(c->s) && !sk_session_partial_since(c->s) &&
           sk_buf_len(&c->out) == 0 && !sk__unread(c->fd); /* bytes not yet read: active */
}

static void watchdog_fired(sk_loop_t *l, int64_t id, void *arg);

/* Arm the idle / frame deadline timer for whichever comes first. */
static void arm_watchdog(struct conn *c)
{
    sk_server_t *s = c->w->srv;
    int64_t due = -1;
    if (s->o.idle_timeout > 0)
        due = c->last_io + (int64_t)(s->o.idle_timeout * 1e9);
    /* A paused session's partial frame has no deadline: the pause is the server's doing. */
    int64_t since = sk_session_paused_until(c->s) ? 0 : sk_session_partial_since(c->s);
    if (s->o.frame_timeout > 0 && since) {
        int64_t f = since + (int64_t)(s->o.frame_timeout * 1e9);
        due = due < 0 || f < due ? f : due;
    }
    if (due < 0)
        return;
    int64_t ms = (due - sk__now_ns() + 999999) / 1000000;
    c->watchdog = sk_loop_timer(c->w->loop, ms < 0 ? 0 : ms, watchdog_fired, c);
    if (c->watchdog < 0)
        c->watchdog = 0;
}

static void watchdog_fired(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l, (void)id;
    struct conn *c = arg;
    sk_server_t *s = c->w->srv;
    c->watchdog = 0;
    if (c->lingering)
        return;
    int64_t now = sk__now_ns();
    int64_t since = sk_session_paused_until(c->s) ? 0 : sk_session_partial_since(c->s);
    const char *why = NULL;
    if (s->o.idle_timeout > 0 && now - c->last_io >= (int64_t)(s->o.idle_timeout * 1e9))
        why = "idle timeout (--idle-timeout)";
    else if (s->o.frame_timeout > 0 && since &&
             now - since >= (int64_t)(s->o.frame_timeout * 1e9))
        why = "frame not completed in time (--frame-timeout)";
    if (!why) {
        arm_watchdog(c); /* activity moved the deadline: look again then */
        return;
    }
    c->reason = why; /* the "Closed" line says it */
    conn_free(c);
}

static void pause_over(sk_loop_t *l, int64_t id, void *arg);

/* Arm exactly the events the connection needs now; close it if it is done. */
static void update(struct conn *c)
{
    const sk_service_t *svc = c->w->srv->o.service;
    size_t queued = sk_buf_len(&c->out);
    if (c->ending && queued == 0) {
        finish(c);
        return;
    }
    if (c->reading && queued > HIGH_WATER)
        c->reading = 0;
    else if (!c->reading && queued <= LOW_WATER)
        c->reading = 1;
    int64_t paused = sk_session_paused_until(c->s);
    if (paused && !c->ending) { /* not a byte is read until the pause ends */
        c->held = 1;
        if (!c->pause_timer) {
            int64_t left = paused - sk__now_ns(); /* INT64_MAX: until resumed */
            int64_t ms = left > PAUSE_TIMER_MAX_MS * 1000000 ? PAUSE_TIMER_MAX_MS
                                                             : (left + 999999) / 1000000;
            c->pause_timer = sk_loop_timer(c->w->loop, ms < 1 ? 1 : ms, pause_over, c);
            if (c->pause_timer < 0)
                c->pause_timer = 0;
        }
    }
    int want = 0;
    if (c->input_open && !c->ending && c->reading && !paused)
        want |= SK_READABLE;
    if (queued > 0 || (svc->on_writable && !c->ending))
        want |= SK_WRITABLE;
    int have = sk_loop_mask(c->w->loop, c->fd);
    if (have & ~want)
        sk_loop_del(c->w->loop, c->fd, have & ~want);
    if ((want & ~have) && sk_loop_add(c->w->loop, c->fd, want & ~have, conn_io, c) < 0)
        conn_free(c);
}

static void conn_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    (void)l, (void)fd;
    struct conn *c = arg;
    const sk_service_t *svc = c->w->srv->o.service;
    if (c->lingering) {
        linger_read(c);
        return;
    }
    int r = 0;
    if (ready & SK_WRITABLE) {
        if ((r = flush(c)) < 0) {
            c->reason = io_failure(c, "send", r);
            conn_free(c);
            return;
        }
        if (c->wants_room && sk_buf_len(&c->out) <= LOW_WATER) {
            c->wants_room = 0; /* drained: the handler may write again (chat) */
            conn_notified(c);
            return; /* level-triggered: any input is still there next time */
        }
        for (int i = 0; svc->on_writable && !c->ending && i < PRODUCE_PER_WAKE &&
                        sk_buf_len(&c->out) < LOW_WATER;
             i++)
            if ((r = svc->on_writable(c->s)) < 0) {
                if (conn_error(c, r) == 0)
                    update(c);
                return;
            }
    }
    for (int i = 0; (ready & SK_READABLE) && c->input_open && !c->ending && i < READS_PER_WAKE;
         i++) {
        ssize_t n = SK_SYS(recv)(c->fd, c->w->rbuf, sizeof c->w->rbuf, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) { /* reset: nothing more to say */
            c->reason = errno == ECONNRESET ? "connection reset by peer"
                                            : io_failure(c, "recv", -errno);
            conn_free(c);
            return;
        }
        if (n == 0) {
            c->input_open = 0;
            r = sk_session_eof(c->s); /* the end may complete a frame: answer it */
            if (!svc->on_writable)
                c->ending = 1; /* chargen streams on after a FIN (RFC 864) */
        } else {
            sk__tap(c->w->srv, &c->peer, 0, c->st.in, c->w->rbuf, (size_t)n);
            c->st.in += (unsigned long long)n;
            c->last_io = sk_loop_now(c->w->loop) * 1000000;
            r = sk_session_feed(c->s, c->w->rbuf, (size_t)n);
        }
        if (r < 0) {
            if (conn_error(c, r))
                return;
            break;
        }
        if (sk_buf_len(&c->out) > HIGH_WATER || sk_session_paused_until(c->s))
            break;
        if (n > 0 && (size_t)n < sizeof c->w->rbuf)
            break; /* a short read drained the socket: skip the recv that says EAGAIN */
    }
    if (sk_session_closing(c->s) || (c->w->stopping && conn_idle(c)))
        c->ending = 1;
    if (!c->watchdog && !c->ending)
        arm_watchdog(c); /* a frame has begun: its deadline starts now */
    update(c);
}

/* sk_session_notify() for a loop connection, from any thread: queue it for the worker's
 * next wake-up. */
static void conn_notify(void *ctx)
{
    struct conn *c = ctx;
    struct worker *w = c->w;
    pthread_mutex_lock(&w->nmu);
    if (!c->notified) {
        c->notified = 1;
        c->nprev = NULL;
        c->nnext = w->notify;
        if (w->notify)
            w->notify->nprev = c;
        w->notify = c;
    }
    pthread_mutex_unlock(&w->nmu);
    sk_loop_wake(w->loop);
}

/* The session's pause is over (or was ended): deliver what it kept and read again.
 * Returns the feed's code. */
static int resume_input(struct conn *c)
{
    if (!c->held || sk_session_paused_until(c->s))
        return 0;
    c->held = 0;
    return sk_session_feed(c->s, NULL, 0);
}

static void pause_over(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l, (void)id;
    struct conn *c = arg;
    c->pause_timer = 0;
    if (c->lingering || c->ending)
        return;
    int r = resume_input(c);
    if (r < 0 && conn_error(c, r))
        return;
    if (sk_session_closing(c->s))
        c->ending = 1;
    update(c); /* still paused (it was extended): a new timer */
}

/* The session was notified (by another thread, or its output drained for a handler that
 * waited for room): the budget's eviction, on_notify, and the end of a pause. */
static void conn_notified(struct conn *c)
{
    const sk_service_t *svc = c->w->srv->o.service;
    if (c->session_over || c->lingering || c->ending)
        return;
    int r = 0;
    if (sk__session_evicted(c->s))
        r = sk_session_feed(c->s, NULL, 0); /* -ENOBUFS, its partial frame freed */
    else if (svc->on_notify)
        r = svc->on_notify(c->s);
    if (r == 0)
        r = resume_input(c);
    if (r < 0 && conn_error(c, r))
        return;
    if (sk_session_closing(c->s))
        c->ending = 1;
    update(c);
}

/* In the worker: handle every queued notification. */
static void run_notifications(struct worker *w)
{
    for (;;) {
        pthread_mutex_lock(&w->nmu);
        struct conn *c = w->notify;
        if (c) {
            w->notify = c->nnext;
            if (w->notify)
                w->notify->nprev = NULL;
            c->notified = 0;
        }
        pthread_mutex_unlock(&w->nmu);
        if (!c)
            return;
        conn_notified(c);
    }
}

static void conn_start(struct worker *w, int fd, const sk_addr_t *peer)
{
    sk_server_t *s = w->srv;
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        struct sk__conn_stats st = {.t0 = sk__now_ns()};
        sk_close(fd);
        sk__conn_closed(s, peer, &st, "out of memory");
        return;
    }
    c->w = w;
    c->fd = fd;
    c->peer = *peer;
    c->st.t0 = c->last_io = sk__now_ns();
    c->input_open = c->reading = 1;
    sk_buf_init(&c->out, s->o.max_output ? s->o.max_output : SK_MAX_OUTPUT_DEFAULT);
    c->s = sk_session_new(s->o.service, &s->o.conf, peer, conn_write, c);
    if (!c->s) {
        sk_close(fd);
        sk__conn_closed(s, peer, &c->st, "out of memory");
        free(c);
        return;
    }
    sk_session_set_notify(c->s, conn_notify, c);
    sk_session_set_room(c->s, conn_room, c);
    sk__session_set_budget(c->s, &s->budget);
    c->next = w->conns;
    if (w->conns)
        w->conns->prev = c;
    w->conns = c;
    w->nconns++;
    const sk_service_t *svc = s->o.service;
    int r = svc->on_open ? svc->on_open(c->s) : 0;
    if (r < 0 && conn_error(c, r))
        return;
    if (sk_session_closing(c->s))
        c->ending = 1;
    arm_watchdog(c);
    update(c);
}

/* ---- listeners ---- */

static void resume_accepting(sk_loop_t *l, int64_t id, void *arg);

static void listener_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    (void)ready;
    struct worker *w = arg;
    sk_server_t *s = w->srv;
    for (int i = 0; i < ACCEPT_PER_WAKE && !w->stopping; i++) {
        sk_addr_t peer;
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd2 = SK_SYS(accept4)(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd2 < 0) {
            if (errno == EAGAIN || errno == EINTR || errno == EINVAL) /* EINVAL: shut down */
                return;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                int e = errno;
                sk__server_log(s, "accept: %s", sk_strerror(-e));
                if (e == EMFILE || e == ENFILE)
                    sk__shed_one(s, fd); /* tell one waiting client, rather than none */
                sk_loop_del(l, fd, SK_READABLE); /* back off instead of spinning */
                sk_loop_timer(l, ACCEPT_BACKOFF_MS, resume_accepting, w);
                return;
            }
            continue; /* that client's connection died in the queue */
        }
        sk_addr_set(&peer, (struct sockaddr *)&ss, len);
        char as[SK_ADDRSTRLEN];
        if (sk_addr_family(&peer) == AF_UNIX && sk_addr_host(&peer, as, sizeof as) <= 0)
            sk_getsockname(fd, &peer); /* an unnamed client: name the socket it came to */
        if (sk__admit(s, fd2, &peer))
            conn_start(w, fd2, &peer);
    }
}

static void dgram_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    (void)l, (void)ready;
    struct worker *w = arg;
    sk__serve_datagrams(w->srv, fd, w->dgram_in, w->dgram_out);
}

/* Stream listeners are shared by every worker. A datagram socket belongs to one worker
 * (socket i to worker i mod n): two threads reading one socket would answer a client's
 * datagrams out of order. */
static int watch_listeners(struct worker *w)
{
    sk_server_t *s = w->srv;
    int dgram = s->o.socktype == SOCK_DGRAM;
    for (size_t i = 0; i < s->nl; i++) {
        if (dgram && i % (size_t)w->nworkers != (size_t)w->index)
            continue;
        int r = sk_loop_add(w->loop, s->lfd[i], SK_READABLE | SK_EXCLUSIVE,
                            dgram ? dgram_io : listener_io, w);
        if (r < 0)
            return r;
    }
    return 0;
}

static void resume_accepting(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l, (void)id;
    struct worker *w = arg;
    if (!w->stopping)
        watch_listeners(w); /* an fd already watched is left as it is */
}

/* ---- workers ---- */

/* The drain period is over: end what is left. */
static void drain_over(sk_loop_t *l, int64_t id, void *arg)
{
    (void)id;
    struct worker *w = arg;
    w->drain_timer = 0;
    while (w->conns) {
        w->conns->reason = "still active when the drain period ended (--drain-timeout)";
        conn_free(w->conns);
    }
    sk_loop_stop(l);
}

/* In a worker, after sk_loop_wake(): when the server is stopping, leave the listeners,
 * close idle connections and give the active ones the drain period; the loop stops when
 * the last one is gone. */
static void on_wake(sk_loop_t *l, void *arg)
{
    struct worker *w = arg;
    sk_server_t *s = w->srv;
    run_notifications(w);
    if (!s->stopping || w->stopping)
        return;
    w->stopping = 1;
    for (size_t i = 0; i < s->nl; i++)
        if (sk_loop_mask(l, s->lfd[i]))
            sk_loop_del(l, s->lfd[i], SK_READABLE);
    for (struct conn *c = w->conns, *next; c; c = next) {
        next = c->next;
        if (!c->lingering && conn_idle(c)) {
            c->ending = 1;
            update(c); /* FIN, then a brief drain of its input */
        }
    }
    if (w->nconns == 0) {
        sk_loop_stop(l);
        return;
    }
    double d = s->o.drain_timeout < 0 ? SK_DRAIN_DEFAULT : s->o.drain_timeout;
    w->drain_timer = sk_loop_timer(l, (int64_t)(d * 1000), drain_over, w);
    if (w->drain_timer < 0)
        drain_over(l, 0, w);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    sk_loop_run(w->loop);
    while (w->conns) /* run() failed: still free everything */
        conn_free(w->conns);
    return NULL;
}

static void worker_free(struct worker *w)
{
    if (!w)
        return;
    if (w->loop)
        sk_loop_free(w->loop);
    pthread_mutex_destroy(&w->nmu);
    free(w->dgram_in);
    free(w->dgram_out);
    free(w);
}

static struct worker *worker_new(sk_server_t *s, int setsize, int index, int nworkers)
{
    struct worker *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    w->srv = s;
    w->index = index;
    w->nworkers = nworkers;
    pthread_mutex_init(&w->nmu, NULL);
    if (s->o.socktype == SOCK_DGRAM &&
        (!(w->dgram_in = malloc(SK__DGRAM_BUF)) || !(w->dgram_out = malloc(SK__DGRAM_BUF)))) {
        worker_free(w);
        return NULL;
    }
    if (sk_loop_new(&w->loop, setsize) < 0 || watch_listeners(w) < 0) {
        worker_free(w);
        return NULL;
    }
    sk_loop_on_wake(w->loop, on_wake, w);
    return w;
}

static int worker_count(const sk_server_t *s)
{
    long n = s->o.threads > 0 ? s->o.threads : sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

static int loop_setsize(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY ||
        rl.rlim_cur > MAX_SETSIZE)
        return MAX_SETSIZE;
    return rl.rlim_cur < 1024 ? 1024 : (int)rl.rlim_cur;
}

/* Block until sk_server_stop(), logging totals when sk_server_report() asks. */
static void wait_for_stop(sk_server_t *s)
{
    while (!s->stopping) {
        sk__wait_fd(s->wake[0], POLLIN, -1);
        char buf[64];
        while (read(s->wake[0], buf, sizeof buf) > 0) {
        }
        sk__maybe_report(s);
    }
}

int sk__run_loop_model(sk_server_t *s)
{
    int n = worker_count(s), setsize = loop_setsize(), ret = 0, started = 0;
    struct worker **w = calloc((size_t)n, sizeof *w);
    if (!w)
        return -ENOMEM;
    /* Workers block every signal (they inherit the mask), so the process's signals reach
     * the thread that called run() or the application's own, never a worker. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    for (int i = 0; i < n && ret == 0; i++) {
        if (!(w[i] = worker_new(s, setsize, i, n)))
            ret = -ENOMEM;
        else if (pthread_create(&w[i]->th, NULL, worker_main, w[i]) != 0)
            ret = -EAGAIN;
        else
            w[i]->started = ++started;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (ret == 0)
        wait_for_stop(s);
    s->stopping = 1;
    /* Refuse new clients at once, before the workers have even woken up. */
    for (size_t i = 0; i < s->nl; i++)
        shutdown(s->lfd[i], SHUT_RDWR);
    sk__log_stopping(s);
    for (int i = 0; i < n; i++)
        if (w[i] && w[i]->started)
            sk_loop_wake(w[i]->loop);
    for (int i = 0; i < n; i++) {
        if (w[i] && w[i]->started)
            pthread_join(w[i]->th, NULL);
        worker_free(w[i]);
    }
    free(w);
    for (size_t i = 0; i < s->nl; i++)
        sk_close(s->lfd[i]);
    s->nl = 0;
    return ret;
}
