/*
 * serve_blocking.c: drive a service handler over one blocking socket; the engine of the
 * iterative, thread and fork models. Output goes straight out with sendall (the handler
 * blocks until the peer takes it: backpressure without buffering); input is read in
 * chunks of RECV_CHUNK. Services with on_writable (chargen) are driven with poll() so
 * that input is still drained while output flows.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "server_internal.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/sock.h"
#include "sys.h"

/* Bytes read per recv(). */
#define RECV_CHUNK 16384
/* After the server ends a session: how long, and how many bytes, to drain the peer's
 * input so that closing does not turn into a reset that destroys our last bytes. */
#define LINGER_NS (2 * (int64_t)1000000000)
/* While the server stops, a closed connection lingers only this long: exit waits for it. */
#define STOP_LINGER_NS (250 * (int64_t)1000000)
#define LINGER_BYTES (256 * 1024)

struct blocking_conn {
    sk_server_t *srv;
    const sk_addr_t *peer;
    int fd;
    int broken; /* first write error, or 0 */
    unsigned long long sent;
    int64_t last_out; /* monotonic ns of the last byte sent */
};

static int blocking_write(void *ctx, const void *data, size_t len)
{
    struct blocking_conn *c = ctx;
    if (c->broken)
        return c->broken;
    size_t sent = 0;
    ssize_t r = sk_sendall(c->fd, data, len, &sent);
    sk__tap(c->srv, c->peer, 1, c->sent, data, sent);
    c->sent += sent;
    if (sent)
        c->last_out = sk__now_ns();
    if (r < 0)
        c->broken = (int)r;
    return r < 0 ? (int)r : 0;
}

/* Half-close and read until the peer closes too, within `ns` and LINGER_BYTES. */
static void linger_close(int fd, int64_t ns)
{
    char buf[4096];
    size_t total = 0;
    int64_t deadline = sk__now_ns() + ns;
    if (SK_SYS(shutdown)(fd, SHUT_WR) < 0)
        return;
    while (total < LINGER_BYTES && sk__wait_fd(fd, POLLIN, deadline) == 0) {
        ssize_t n = SK_SYS(recv)(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        if (n > 0)
            total += (size_t)n;
    }
}

/* A protocol error ends the connection: say so in the server's log. */
static void log_protocol_error(sk_server_t *srv, sk_session_t *s)
{
    char as[SK_ADDRSTRLEN];
    sk__server_log(srv, "Closing %s: %s", sk_addr_str(sk_session_peer(s), as),
                   sk_session_error(s));
}

/* What ended a session, for the log and the error count (NULL: a normal end). */
struct outcome {
    const char *reason;
    char buf[160];
};

/* The nearest deadline (monotonic ns; -1: none) and what passing it means (NULL: the end
 * of a pause, paused_until). A paused session's partial frame has no deadline: the pause
 * is the server's doing. */
static int64_t next_deadline(const sk_server_t *srv, const sk_session_t *s, int64_t last_io,
                             int64_t paused_until, const char **why)
{
    int64_t d = -1;
    if (srv->o.idle_timeout > 0) {
        d = last_io + (int64_t)(srv->o.idle_timeout * 1e9);
        *why = "idle timeout (--idle-timeout)";
    }
    if (paused_until) {
        if (d < 0 || paused_until < d) {
            d = paused_until;
            *why = NULL;
        }
        return d;
    }
    int64_t since = sk_session_partial_since(s);
    if (srv->o.frame_timeout > 0 && since) {
        int64_t f = since + (int64_t)(srv->o.frame_timeout * 1e9);
        if (d < 0 || f < d) {
            d = f;
            *why = "frame not completed in time (--frame-timeout)";
        }
    }
    return d;
}

/*
 * Wait for input (until the peer's EOF), room to write (services that produce output),
 * a wake-up on wakefd, or the nearest deadline. Returns 0, -ETIMEDOUT, or -errno.
 */
static int wait_io(const sk_service_t *svc, int fd, int wakefd, int input_open,
                   int64_t deadline, int *readable, int *writable, int *woken)
{
    struct pollfd p[2] = {
        {.fd = fd, .events = (short)((input_open ? POLLIN : 0) | (svc->on_writable ? POLLOUT : 0))},
        {.fd = wakefd, .events = POLLIN},
    };
    for (;;) {
        int timeout = -1;
        if (deadline >= 0) {
            int64_t left = deadline - sk__now_ns();
            if (left <= 0)
                return -ETIMEDOUT;
            int64_t ms = (left + 999999) / 1000000;
            timeout = ms > INT_MAX ? INT_MAX : (int)ms; /* a pause until resumed: INT64_MAX */
        }
        int n = SK_SYS(poll)(p, 2, timeout);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
    /* Errors and hang-ups go to whichever call will report them: the next recv while
     * input is open, else the next write (which then fails and ends the session). */
    short fail = p[0].revents & (POLLERR | POLLHUP | POLLNVAL);
    *readable = input_open && ((p[0].revents & POLLIN) || fail);
    *writable = svc->on_writable && ((p[0].revents & POLLOUT) || fail);
    *woken = p[1].revents != 0;
    if (*woken) {
        uint64_t v[16]; /* 8 bytes from an eventfd, 128 from a signalfd */
        ssize_t r = read(wakefd, v, sizeof v);
        (void)r;
    }
    return 0;
}

/* A blocking session's wake-up fd and socket, for other threads. */
struct wake {
    int wakefd, fd;
};

/* sk_session_notify() for a blocking session: wake its poll. */
static void notify_wakefd(void *ctx)
{
    uint64_t one = 1;
    ssize_t n = write(((struct wake *)ctx)->wakefd, &one, sizeof one);
    (void)n;
}

/* sk_session_abort(): shut the socket down, which also ends a blocked send. */
static void abort_session(void *ctx)
{
    SK_SYS(shutdown)(((struct wake *)ctx)->fd, SHUT_RDWR);
    notify_wakefd(ctx);
}

void sk__serve_blocking(sk_server_t *srv, int fd, int wakefd, const sk_addr_t *peer)
{
    const sk_service_t *svc = srv->o.service;
    struct blocking_conn c = {.srv = srv, .peer = peer, .fd = fd, .broken = 0};
    struct sk__conn_stats st = {.t0 = sk__now_ns()};
    struct outcome out = {.reason = NULL};
    sk_session_t *s = sk_session_new(svc, &srv->o.conf, peer, blocking_write, &c);
    if (!s) {
        out.reason = "out of memory";
        sk__conn_closed(srv, peer, &st, out.reason);
        return;
    }
    sk__session_set_budget(s, &srv->budget);
    struct wake wake = {.wakefd = wakefd, .fd = fd};
    if (wakefd >= 0) {
        sk_session_set_notify(s, notify_wakefd, &wake);
        sk_session_set_abort(s, abort_session, &wake);
    }
    if (srv->o.idle_timeout > 0) /* a peer that stops reading cannot hold a send forever */
        sk_settimeout(fd, srv->o.idle_timeout);
    char buf[RECV_CHUNK];
    int peer_done = 0, input_open = 1, graceful = 0;
    int64_t last_io = st.t0;
    int r = svc->on_open ? svc->on_open(s) : 0;
    while (r == 0 && !c.broken && !sk_session_closing(s)) {
        if (srv->stopping && sk_session_framed(s) && !sk_session_partial_since(s) &&
            !sk__unread(fd)) {
            graceful = 1; /* draining: a framed session between frames is idle */
            break;
        }
        const char *why = NULL;
        int64_t paused = sk_session_paused_until(s);
        int64_t deadline = next_deadline(srv, s, last_io > c.last_out ? last_io : c.last_out,
                                         paused, &why);
        int readable = 0, writable = 0, woken = 0;
        r = wait_io(svc, fd, wakefd, input_open && !paused, deadline, &readable, &writable,
                    &woken);
        if (r == -ETIMEDOUT && paused && !why)
            r = 0; /* the pause is over: deliver what it kept, read again */
        if (woken && srv->stop_on_wake) {
            srv->stopping = 1; /* a fork child: the wake-up was the parent's SIGTERM */
            if (srv->kidtot && atomic_load(&srv->kidtot->drain_over)) {
                srv->drain_over = 1; /* its second SIGTERM: the drain period is over */
                SK_SYS(shutdown)(fd, SHUT_RDWR);
            }
        }
        if (r == -ETIMEDOUT) {
            out.reason = why;
            break;
        }
        if (r < 0)
            break;
        if (woken && svc->on_notify && (r = svc->on_notify(s)) < 0)
            break;
        if (writable && (r = svc->on_writable(s)) < 0)
            break;
        if (sk__session_evicted(s)) { /* the budget's doing, from another thread */
            r = sk_session_feed(s, NULL, 0);
            break;
        }
        if (paused && !sk_session_paused_until(s) && (r = sk_session_feed(s, NULL, 0)) < 0)
            break; /* resumed: the frames the pause kept */
        if (!readable || sk_session_paused_until(s))
            continue;
        ssize_t n = sk_recv(fd, buf, sizeof buf);
        if (n == 0 && svc->on_writable) {
            input_open = 0; /* a FIN closes one direction: chargen streams on (RFC 864) */
            continue;
        }
        if (n == 0)
            r = sk_session_eof(s); /* the end may complete a frame: answer it first */
        if (n <= 0) {
            peer_done = 1; /* end of stream, or reset: nothing more to say */
            if (n == -ECONNRESET) {
                out.reason = "connection reset by peer";
            } else if (n < 0) {
                snprintf(out.buf, sizeof out.buf, "recv: %s", sk_strerror((int)n));
                out.reason = out.buf;
            }
            break;
        }
        sk__tap(srv, peer, 0, st.in, buf, (size_t)n);
        st.in += (unsigned long long)n;
        last_io = sk__now_ns();
        r = sk_session_feed(s, buf, (size_t)n);
    }
    int protocol_error = r < 0 && *sk_session_error(s);
    if (protocol_error) {
        snprintf(out.buf, sizeof out.buf, "%s", sk_session_error(s));
        out.reason = out.buf;
    } else if (srv->drain_over && !out.reason) {
        out.reason = "still active when the drain period ended (--drain-timeout)";
    } else if (r == SK_ETOOBIG && !out.reason) {
        out.reason = "output over the maximum (--max-output)";
    } else if (r == SK__EBUDGET && !out.reason) { /* a chat queue the budget refused */
        out.reason = "output over the server's budget (--max-buffered)";
    } else if (c.broken && !out.reason) {
        snprintf(out.buf, sizeof out.buf, "send: %s", sk_strerror(c.broken));
        out.reason = out.buf;
    }
    st.out = c.sent;
    if (svc->on_close)
        svc->on_close(s);
    if (protocol_error) /* after on_close: once the log says so, the session is gone (chat) */
        log_protocol_error(srv, s);
    /* A bad frame ends the session like a graceful close: frames answered before it must
     * not be destroyed by the reset that closing on unread input would send. */
    if (!c.broken && !peer_done && (r == 0 || protocol_error || graceful) &&
        (!out.reason || protocol_error))
        linger_close(fd, srv->stopping ? STOP_LINGER_NS : LINGER_NS);
    sk_session_free(s);
    sk__conn_closed(srv, peer, &st, out.reason);
}
