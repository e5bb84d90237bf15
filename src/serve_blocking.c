/*
 * serve_blocking.c: drive a service handler over one blocking socket; the engine of the
 * iterative, thread and fork models. Output goes straight out with sendall (the handler
 * blocks until the peer takes it: backpressure without buffering); input is read in
 * chunks of RECV_CHUNK. Services with on_writable (chargen) are driven with poll() so
 * that input is still drained while output flows.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>

#include "internal.h"
#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/sock.h"

/* Bytes read per recv(). */
#define RECV_CHUNK 16384
/* After the server ends a session: how long, and how many bytes, to drain the peer's
 * input so that closing does not turn into a reset that destroys our last bytes. */
#define LINGER_NS (2 * (int64_t)1000000000)
#define LINGER_BYTES (256 * 1024)

struct blocking_conn {
    int fd;
    int broken; /* first write error, or 0 */
};

static int blocking_write(void *ctx, const void *data, size_t len)
{
    struct blocking_conn *c = ctx;
    if (c->broken)
        return c->broken;
    ssize_t r = sk_sendall(c->fd, data, len, NULL);
    if (r < 0)
        c->broken = (int)r;
    return r < 0 ? (int)r : 0;
}

/* Half-close and read until the peer closes too, within LINGER_NS and LINGER_BYTES. */
static void linger_close(int fd)
{
    char buf[4096];
    size_t total = 0;
    int64_t deadline = sk__now_ns() + LINGER_NS;
    if (shutdown(fd, SHUT_WR) < 0)
        return;
    while (total < LINGER_BYTES && sk__wait_fd(fd, POLLIN, deadline) == 0) {
        ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
            break;
        if (n > 0)
            total += (size_t)n;
    }
}

/* Wait for input (until the peer's EOF) or, for services that produce output, room to
 * write. */
static int wait_io(const sk_service_t *svc, int fd, int input_open, int *readable,
                   int *writable)
{
    struct pollfd p = {.fd = fd, .events = (short)((input_open ? POLLIN : 0) | POLLOUT)};
    for (;;) {
        int n = poll(&p, 1, -1);
        if (n > 0)
            break;
        if (n < 0 && errno != EINTR)
            return -errno;
    }
    /* Errors and hang-ups go to whichever call will report them: the next recv while
     * input is open, else the next write (which then fails and ends the session). */
    short fail = p.revents & (POLLERR | POLLHUP | POLLNVAL);
    *readable = input_open && ((p.revents & POLLIN) || fail);
    *writable = svc->on_writable && ((p.revents & POLLOUT) || fail);
    return 0;
}

/* A protocol error ends the connection: say so in the server's log. */
static void log_protocol_error(const sk_server_opts_t *o, sk_session_t *s)
{
    if (!o->log || !*sk_session_error(s))
        return;
    char line[256], as[SK_ADDRSTRLEN];
    snprintf(line, sizeof line, "Closing %s: %s", sk_addr_str(sk_session_peer(s), as),
             sk_session_error(s));
    o->log(o->log_ctx, line);
}

void sk__serve_blocking(const sk_server_opts_t *o, int fd, const sk_addr_t *peer)
{
    const sk_service_t *svc = o->service;
    struct blocking_conn c = {.fd = fd, .broken = 0};
    sk_session_t *s = sk_session_new(svc, &o->conf, peer, blocking_write, &c);
    if (!s)
        return;
    char buf[RECV_CHUNK];
    int peer_done = 0, input_open = 1;
    int r = svc->on_open ? svc->on_open(s) : 0;
    while (r == 0 && !c.broken && !sk_session_closing(s)) {
        int readable = 1, writable = 0;
        if (svc->on_writable && (r = wait_io(svc, fd, input_open, &readable, &writable)) < 0)
            break;
        if (writable && (r = svc->on_writable(s)) < 0)
            break;
        if (!readable)
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
            break;
        }
        r = sk_session_feed(s, buf, (size_t)n);
    }
    int protocol_error = r < 0 && *sk_session_error(s);
    if (protocol_error)
        log_protocol_error(o, s);
    if (svc->on_close)
        svc->on_close(s);
    /* A bad frame ends the session like a graceful close: frames answered before it must
     * not be destroyed by the reset that closing on unread input would send. */
    if ((r == 0 || protocol_error) && !c.broken && !peer_done)
        linger_close(fd);
    sk_session_free(s);
}
