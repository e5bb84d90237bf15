/*
 * connector.c: Happy Eyeballs (RFC 8305) as a non-blocking state machine.
 *
 * The addresses are reordered so that families alternate, starting with the family the
 * resolver put first (RFC 8305 section 4, "First Address Family Count" 1). Each step()
 * first collects attempts that finished (poll with timeout 0, then SO_ERROR), then starts
 * the next attempt when it is due: `delay` after the previous one started, or at once
 * when nothing is in flight. A failure therefore moves the race on immediately, and a
 * silent address costs only the delay, never a full timeout. sk_connect_addrs() is the
 * blocking driver every client uses; probe and bench drive many connectors from one poll.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base.h"
#include "sockit/error.h"
#include "sockit/sock.h"
#include "sys.h"

struct sk_connector {
    sk_addr_t addrs[SK_ADDRLIST_MAX];
    int fds[SK_ADDRLIST_MAX];        /* -1: not started, or finished */
    int64_t started[SK_ADDRLIST_MAX]; /* monotonic ns */
    size_t n, next, active;
    int64_t delay_ns, timeout_ns;   /* timeout_ns < 0: none */
    int64_t next_due;               /* when addrs[next] may start */
    int last_err;
    size_t last_idx;
    const sk_source_t *src; /* bind each attempt here first (NULL: no bind) */
};

static int64_t seconds_ns(double s)
{
    if (s < 0 || isnan(s))
        return -1;
    if (s > 1e9)
        s = 1e9;
    return (int64_t)(s * 1e9);
}

/* Families alternate, the first address's family first; order within a family kept. */
static void interleave(sk_addr_t *out, const sk_addr_t *in, size_t n)
{
    int first = sk_addr_family(&in[0]);
    size_t a = 0, b = 0, k = 0;
    while (k < n) {
        while (a < n && sk_addr_family(&in[a]) != first)
            a++;
        if (a < n)
            out[k++] = in[a++];
        while (b < n && sk_addr_family(&in[b]) == first)
            b++;
        if (b < n)
            out[k++] = in[b++];
    }
}

sk_connector_t *sk_connector_new(const sk_addr_t *addrs, size_t n, double delay,
                                 double timeout)
{
    if (n == 0)
        return NULL;
    sk_connector_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n = n < SK_ADDRLIST_MAX ? n : SK_ADDRLIST_MAX;
    interleave(c->addrs, addrs, c->n);
    for (size_t i = 0; i < SK_ADDRLIST_MAX; i++)
        c->fds[i] = -1;
    c->delay_ns = seconds_ns(delay) < 0 ? 0 : seconds_ns(delay);
    c->timeout_ns = timeout > 0 ? seconds_ns(timeout) : -1;
    c->last_err = -ECONNREFUSED;
    return c;
}

void sk_connector_set_source(sk_connector_t *c, const sk_source_t *src)
{
    c->src = src;
}

/* Attempt i failed with `code`: close it; the next attempt is due at once (RFC 8305). */
static void finish(sk_connector_t *c, size_t i, int code, int64_t now)
{
    sk_close(c->fds[i]);
    c->fds[i] = -1;
    c->active--;
    c->last_err = code;
    c->last_idx = i;
    c->next_due = now;
}

/* A winner: close every other attempt and hand its fd over. */
static int win(sk_connector_t *c, size_t i, sk_addr_t *peer)
{
    int fd = c->fds[i];
    c->fds[i] = -1;
    c->active--;
    for (size_t j = 0; j < c->next; j++)
        if (c->fds[j] >= 0) {
            sk_close(c->fds[j]);
            c->fds[j] = -1;
            c->active--;
        }
    c->next = c->n; /* nothing more starts */
    if (fd == 0) { /* 0 means "in progress" to step()'s caller: move it */
        int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        c->last_err = moved < 0 ? -errno : 0;
        c->last_idx = i;
        sk_close(fd);
        if (moved < 0)
            return c->last_err;
        fd = moved;
    }
    if (peer)
        *peer = c->addrs[i];
    return fd;
}

/* Start addrs[next]. Returns 1 with *won set when it connected at once (or the win
 * failed), else 0 (in flight, or failed and recorded). */
static int start(sk_connector_t *c, int64_t now, sk_addr_t *peer, int *won)
{
    size_t i = c->next++;
    c->next_due = now + c->delay_ns;
    int fd = sk_socket(sk_addr_family(&c->addrs[i]), SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        c->last_err = fd;
        c->last_idx = i;
        c->next_due = now; /* a failure moves the race on at once */
        return 0;
    }
    c->fds[i] = fd;
    c->started[i] = now;
    c->active++;
    int r = sk_source_bind(c->src, fd, sk_addr_family(&c->addrs[i]));
    if (r < 0) {
        finish(c, i, r, now);
        return 0;
    }
    r = SK_SYS(connect)(fd, (const struct sockaddr *)&c->addrs[i].ss, c->addrs[i].len) == 0
            ? 0
            : -errno;
    if (r == 0) {
        *won = win(c, i, peer);
        return 1;
    }
    if (r != -EINPROGRESS && r != -EINTR)
        finish(c, i, r, now);
    return 0;
}

/* Collect attempts that finished or timed out. Returns a winner's fd or 0. */
static int collect(sk_connector_t *c, int64_t now, sk_addr_t *peer)
{
    struct pollfd p[SK_ADDRLIST_MAX];
    size_t idx[SK_ADDRLIST_MAX], k = 0;
    for (size_t i = 0; i < c->next; i++)
        if (c->fds[i] >= 0) {
            p[k] = (struct pollfd){.fd = c->fds[i], .events = POLLOUT};
            idx[k++] = i;
        }
    if (k == 0 || SK_SYS(poll)(p, k, 0) < 0)
        return 0; /* EINTR: the next step looks again */
    for (size_t j = 0; j < k; j++) {
        size_t i = idx[j];
        if (p[j].revents) {
            int e = 0;
            socklen_t len = sizeof e;
            if (getsockopt(c->fds[i], SOL_SOCKET, SO_ERROR, &e, &len) < 0)
                e = errno;
            if (e == 0 && (p[j].revents & POLLOUT))
                return win(c, i, peer);
            finish(c, i, e ? -e : -ECONNREFUSED, now);
        } else if (c->timeout_ns >= 0 && now - c->started[i] >= c->timeout_ns) {
            finish(c, i, -ETIMEDOUT, now);
        }
    }
    return 0;
}

int sk_connector_step(sk_connector_t *c, sk_addr_t *peer, char *err)
{
    int64_t now = sk__now_ns();
    int fd = collect(c, now, peer);
    while (fd == 0 && c->next < c->n && (c->active == 0 || now >= c->next_due))
        if (start(c, now, peer, &fd))
            break;
    if (fd > 0)
        return fd;
    if (fd < 0 || (c->active == 0 && c->next >= c->n)) {
        char a[SK_ADDRSTRLEN], from[SK_ADDRSTRLEN + 6] = "";
        if (c->src && (c->src->n || c->src->port)) {
            char sb[SK_ADDRSTRLEN];
            snprintf(from, sizeof from, " from %s", sk_source_str(c->src, sb));
        }
        sk__set_err(err, "connect %s%s: %s%s", sk_addr_str(&c->addrs[c->last_idx], a), from,
                    c->last_err == SK_ENOADDR ? "no source address of this family"
                                              : sk_strerror(c->last_err),
                    c->last_err == -EADDRNOTAVAIL && from[0] ? " (not an address of this host?)"
                                                              : "");
        return c->last_err;
    }
    return 0;
}

size_t sk_connector_pollfds(const sk_connector_t *c, struct pollfd *p, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < c->next && k < max; i++)
        if (c->fds[i] >= 0)
            p[k++] = (struct pollfd){.fd = c->fds[i], .events = POLLOUT};
    return k;
}

int sk_connector_timeout_ms(const sk_connector_t *c)
{
    int64_t now = sk__now_ns(), due = -1;
    if (c->next < c->n && c->active > 0)
        due = c->next_due;
    for (size_t i = 0; c->timeout_ns >= 0 && i < c->next; i++)
        if (c->fds[i] >= 0 && (due < 0 || c->started[i] + c->timeout_ns < due))
            due = c->started[i] + c->timeout_ns;
    if (due < 0)
        return -1;
    if (due <= now)
        return 0;
    int64_t ms = (due - now + 999999) / 1000000;
    return ms > 1000000000 ? 1000000000 : (int)ms;
}

void sk_connector_free(sk_connector_t *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->next; i++)
        if (c->fds[i] >= 0)
            sk_close(c->fds[i]);
    free(c);
}
