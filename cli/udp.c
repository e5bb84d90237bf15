/*
 * udp.c: datagrams between stdin/stdout and sockets, for `sockit connect --udp` (nc -u)
 * and `sockit listen --udp` (nc -u -l).
 *
 * Each stdin line, newline included (-C: as "\r\n"), is one datagram, as nc -u sends what
 * a terminal gives it; a line that cannot be one datagram is an error. Every datagram
 * received is written to stdout as it is. Queues are bounded: stdin is read only once
 * what was read before has gone out, and a full socket send queue is waited on (taking
 * datagrams meanwhile, so that the peer's answers do not overflow ours).
 *
 * Destinations: a connected socket (connect, unicast); an unconnected one with a fixed
 * destination (connect --broadcast or a multicast group: answers come from other
 * addresses); or, for listen, whoever sent the first datagram (-k: the latest), stdin
 * waiting until there is someone to send to.
 *
 * Ends: connect exits 0 once --linger seconds pass after stdin's EOF without a datagram;
 * listen runs on after stdin's EOF until a signal, or -q SEC; -w SEC without a first
 * datagram exits 1. -i SEC without a datagram either way exits 1. ICMP port unreachable on a connected socket exits 1 ("nothing
 * listens on that port?").
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"

/* The largest datagram taken whole: IPv6's largest UDP payload is 65527; a Unix datagram
 * may be larger, and one that does not fit is an error, never cut short silently. */
#define UDP_IN_MAX 65536
/* Datagrams taken from one socket per wake-up, so that a flood cannot keep stdin (or
 * another socket) waiting. */
#define UDP_BATCH 64

struct udp {
    const int *socks;
    size_t n;
    const struct udp_opts *o;
    int connected; /* socks[0] is connect()ed to the peer */
    sk_addr_t peer, last_from; /* listen: whom we answer; who sent the last datagram */
    size_t peer_sock;
    int have_peer;
    char peer_str[SK_ADDRSTRLEN];
    char line[SK_DGRAM_MAX + 2]; /* stdin bytes not yet sent, and room for -C's "\r" */
    size_t len;
    char in[UDP_IN_MAX];
    unsigned long long sent, received; /* hex dump offsets */
    int64_t active_at;                 /* the last datagram either way */
};

/* Report a failed datagram call; ECONNREFUSED is an ICMP port unreachable from the peer,
 * EACCES a broadcast address without SO_BROADCAST. Returns 1. */
static int udp_fail(const char *op, const char *peer, int code)
{
    cli_error("%s %s: %s%s", op, peer, sk_strerror(code),
              code == -ECONNREFUSED ? " (nothing listens on that port?)"
              : code == -EACCES     ? " (a broadcast address needs --broadcast)"
                                    : "");
    return 1;
}

/* Take one datagram from socks[i], if any. Returns 1 when one was taken, 0 when none was
 * waiting, -1 after reporting a fatal error. */
static int take_one(struct udp *u, size_t i)
{
    sk_addr_t from;
    memset(&from, 0, sizeof from);
    from.len = sizeof from.ss;
    ssize_t n = recvfrom(u->socks[i], u->in, sizeof u->in, MSG_DONTWAIT | MSG_TRUNC,
                         (struct sockaddr *)&from.ss, &from.len);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (n < 0)
        return -udp_fail("recv", u->have_peer ? u->peer_str : u->o->peer, -errno);
    char fs[SK_ADDRSTRLEN];
    sk_addr_str(&from, fs);
    if ((size_t)n > sizeof u->in) {
        char e[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
        sk_escape(e, sizeof e, fs, strlen(fs));
        cli_error("recv %s: a datagram of %zd bytes does not fit in %d: not cut short, "
                  "giving up", e, n, UDP_IN_MAX);
        return -1;
    }
    u->active_at = cli_now_ms();
    if (u->o->listen && (!u->have_peer || (u->o->keep && !sk_addr_equal(&from, &u->peer)))) {
        u->peer = from;
        u->peer_sock = i;
        u->have_peer = 1;
        snprintf(u->peer_str, sizeof u->peer_str, "%s", fs);
        if (u->o->verbose) {
            char e[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
            sk_escape(e, sizeof e, fs, strlen(fs));
            fprintf(stderr, "Connection received on %s (udp)\n", e);
        }
    } else if (u->o->listen && !sk_addr_equal(&from, &u->peer)) {
        if (u->o->verbose) { /* without -k the first sender is the only peer (nc -u -l) */
            char e[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
            sk_escape(e, sizeof e, fs, strlen(fs));
            fprintf(stderr, "Ignored %zd bytes from %s (answering %s only; -k follows the "
                            "latest sender)\n", n, e, u->peer_str);
        }
        return 1;
    } else if (!u->connected && u->o->verbose && !sk_addr_equal(&from, &u->last_from)) {
        char e[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
        sk_escape(e, sizeof e, fs, strlen(fs));
        fprintf(stderr, "Datagram from %s\n", e); /* broadcast, multicast: who answers */
    }
    u->last_from = from;
    cli_hexdump(0, fs, u->received, u->in, (size_t)n);
    u->received += (unsigned long long)n;
    return cli_write_stdout(u->in, (size_t)n) < 0 ? -1 : 1;
}

/* Take the datagrams waiting on every socket, at most UDP_BATCH from each. Returns 0,
 * or 1 after reporting. */
static int take_all(struct udp *u)
{
    for (size_t i = 0; i < u->n; i++) {
        int r = 1;
        for (int k = 0; k < UDP_BATCH && r == 1; k++)
            r = take_one(u, i);
        if (r < 0)
            return 1;
    }
    return 0;
}

/* Send one datagram; while the send queue is full, wait, taking datagrams meanwhile.
 * Returns 0, or 1 after reporting. */
static int send_one(struct udp *u, const char *p, size_t n)
{
    int fd = u->socks[u->o->listen ? u->peer_sock : 0];
    const sk_addr_t *to = u->o->listen ? &u->peer : u->o->dest;
    const char *name = u->o->listen ? u->peer_str : u->o->peer;
    for (;;) {
        ssize_t w = sk_sendto(fd, p, n, u->connected ? NULL : to);
        if (w >= 0) {
            cli_hexdump(1, name, u->sent, p, n);
            u->sent += n;
            u->active_at = cli_now_ms();
            return take_all(u); /* take answers now, before our receive queue overflows */
        }
        if (w != -EAGAIN)
            return udp_fail("send", name, (int)w);
        /* A full send queue: wait for room, taking datagrams meanwhile, no longer than -i
         * allows (a receiver that stopped, on a Unix datagram socket, stops us too). */
        int64_t idle_at = u->o->idle_timeout > 0
                              ? u->active_at + (int64_t)(u->o->idle_timeout * 1000) : -1;
        int64_t left = idle_at < 0 ? 1000 : idle_at - cli_now_ms();
        if (left <= 0) {
            cli_error("send %s: no room to send for %g s (--idle-timeout): giving up", name,
                      u->o->idle_timeout);
            return 1;
        }
        struct pollfd pf = {.fd = fd, .events = POLLIN | POLLOUT};
        if (poll(&pf, 1, left < 1000 ? (int)left : 1000) < 0 && errno != EINTR) {
            cli_error("poll: %s", strerror(errno));
            return 1;
        }
        if ((pf.revents & POLLIN) && take_all(u))
            return 1;
    }
}

static int too_long(void)
{
    cli_error("a line of more than %d bytes (newline included) does not fit in one "
              "datagram", SK_DGRAM_MAX);
    return 1;
}

/* Send every complete line of u->line (at eof the unterminated rest too). Returns 0, or 1
 * after reporting. */
static int send_lines(struct udp *u, int eof)
{
    char *start = u->line, *nl;
    while ((nl = memchr(start, '\n', u->len - (size_t)(start - u->line))) ||
           (eof && start < u->line + u->len)) {
        size_t dlen = nl ? (size_t)(nl - start) + 1 : u->len - (size_t)(start - u->line);
        int add_cr = u->o->crlf && nl && (dlen < 2 || nl[-1] != '\r');
        if (dlen + (size_t)add_cr > SK_DGRAM_MAX)
            return too_long();
        if (add_cr) {
            /* -C: the "\r" goes in before the "\n"; the byte after the line is saved */
            size_t at = (size_t)(nl - u->line);
            char saved = u->line[at + 1];
            memmove(nl + 1, nl, 1);
            *nl = '\r';
            int r = send_one(u, start, dlen + 1);
            nl[0] = '\n';
            nl[1] = saved;
            if (r)
                return 1;
        } else if (send_one(u, start, dlen)) {
            return 1;
        }
        start += dlen;
    }
    u->len -= (size_t)(start - u->line);
    memmove(u->line, start, u->len);
    return u->len > SK_DGRAM_MAX ? too_long() : 0;
}

int cli_udp_pump(const int *socks, size_t n, const struct udp_opts *o)
{
    static struct udp u;
    memset(&u, 0, sizeof u);
    u.socks = socks;
    u.n = n < SK_LISTEN_MAX ? n : SK_LISTEN_MAX;
    u.o = o;
    u.connected = !o->listen && !o->dest;
    u.active_at = cli_now_ms();
    int64_t start = u.active_at;
    int stdin_open = 1;
    int64_t eof_at = -1;
    int64_t idle_ms = o->idle_timeout > 0 ? (int64_t)(o->idle_timeout * 1000) : -1;
    for (;;) {
        int64_t now = cli_now_ms(), until = -1;
        if (!stdin_open && !o->listen) /* linger: quiet for that long after the last one */
            until = (u.active_at > eof_at ? u.active_at : eof_at) + (int64_t)(o->linger * 1000);
        if (!stdin_open && o->listen && o->quit_after >= 0)
            until = eof_at + (int64_t)(o->quit_after * 1000);
        if (until >= 0 && now >= until)
            return 0;
        int64_t idle_at = idle_ms >= 0 ? u.active_at + idle_ms : -1;
        if (idle_at >= 0 && now >= idle_at) {
            cli_error("%s: no datagram either way for %g s (--idle-timeout): giving up",
                      o->listen ? (u.have_peer ? u.peer_str : "listen") : o->peer,
                      o->idle_timeout);
            return 1;
        }
        if (idle_at >= 0 && (until < 0 || idle_at < until))
            until = idle_at;
        int64_t wait_at = o->listen && !u.have_peer && o->wait > 0
                              ? start + (int64_t)(o->wait * 1000) : -1;
        if (wait_at >= 0 && now >= wait_at) {
            cli_error("listen: no datagram within %g s (-w)", o->wait);
            return 1;
        }
        if (wait_at >= 0 && (until < 0 || wait_at < until))
            until = wait_at;
        struct pollfd p[SK_LISTEN_MAX + 1];
        int can_send = !o->listen || u.have_peer;
        p[0] = (struct pollfd){.fd = stdin_open && can_send ? 0 : -1, .events = POLLIN};
        for (size_t i = 0; i < u.n; i++)
            p[i + 1] = (struct pollfd){.fd = socks[i], .events = POLLIN};
        int64_t wait = until >= 0 ? until - now : -1;
        if (poll(p, u.n + 1, wait > 1000000000 ? 1000000000 : (int)wait) < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return 1;
        }
        if (take_all(&u))
            return 1;
        if (!p[0].revents)
            continue;
        ssize_t r = read(0, u.line + u.len, SK_DGRAM_MAX + 1 - u.len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r < 0) {
            cli_error("read stdin: %s", strerror(errno));
            return 1;
        }
        if (r == 0) {
            stdin_open = 0;
            eof_at = cli_now_ms();
        }
        u.len += (size_t)r;
        if (send_lines(&u, r == 0))
            return 1;
    }
}
