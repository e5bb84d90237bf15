/*
 * pump.c: full duplex between stdin/stdout and a connected stream socket, in one poll
 * loop (nc's readwrite), for `sockit connect` and `sockit listen`.
 *
 * Each direction has a bounded queue: stdin is read only while the socket keeps up, the
 * socket only while stdout does, so a slow consumer slows its producer instead of growing
 * memory. A full send queue is backpressure, never idleness. What goes up may be
 * transformed on the way (-C: a bare "\n" becomes "\r\n"; --frame: each stdin line
 * becomes one frame), and with --frame what comes down is decoded, one line per frame.
 *
 * The rules for the ends, which exist so that no byte is lost with exit status 0:
 *   - stdin is copied to the socket until stdin's EOF, however long it pauses, also after
 *     the peer's EOF (a peer that half-closed, as `nc -N` or `sockit listen </dev/null`,
 *     is still reading). Only a peer that really closed (EPIPE or ECONNRESET on send)
 *     ends it, with exit 1 and "send ADDR: peer closed the connection (N bytes of stdin
 *     not sent)". A terminal's user whose peer has gone is done at once (telnet's rule).
 *   - stdin's EOF shuts the write side down (unless --no-half-close); output goes on until
 *     the peer closes. -q SEC ends the session SEC after stdin's EOF whatever the peer
 *     does (nc -q), exit 0.
 *   - before exit 0, bytes the peer's kernel has not yet acknowledged are waited for while
 *     they make progress: a peer that closed answers them with a reset (exit 1), which
 *     would otherwise go unseen.
 *   - -i SEC: no byte moved at all for SEC (read from stdin or the socket, written to the
 *     socket or stdout) ends it, exit 1 (ncat -i, socat -T). Without it there is no idle
 *     limit.
 *   - a closed stdout (EPIPE) ends quietly with 1, as a program killed by SIGPIPE would.
 *   - a sockit server's refusal (SK_BUSY_LINE as the first thing received) is exit 1,
 *     said on stderr, not data on stdout.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"

/* Bytes per read()/recv(), and how full a queue may get before its producer waits. */
#define CHUNK 65536
/* Most a transformation can grow CHUNK stdin bytes: len32 turns an empty line (1 byte)
 * into 4, -C turns "\n" into "\r\n". */
#define MAX_GROWTH 4
/* The delivery check before exit 0: how long unacknowledged bytes may make no progress. */
#define DELIVERY_STALL_MS 1000

struct pump {
    int sock;
    const struct pump_opts *o;
    int framed; /* a framing other than raw */
    /* stdin -> socket */
    sk_buf_t up;          /* bytes ready for the socket */
    sk_buf_t line;        /* framed: the stdin line being collected (up to max + 1) */
    int line_over;        /* framed: the current line passed --max-frame; skip to its end */
    unsigned long lineno; /* framed: stdin lines seen */
    unsigned long skipped; /* framed: stdin lines that could not be frames */
    size_t eof_bytes;      /* --frame eof: the bytes of the one message so far */
    int last_cr;          /* -C: the last stdin byte was '\r' */
    unsigned long long sent;
    /* socket -> stdout */
    sk_buf_t in; /* framed: socket bytes not yet decoded */
    sk_decoder_t dec;
    sk_buf_t down; /* bytes for stdout */
    unsigned long long received;
};

/* ---- stdin, transformed on its way up ---- */

/* -C: append p[0..n) with every "\n" not after "\r" sent as "\r\n". */
static int put_crlf(struct pump *m, const char *p, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (seg && sk_buf_append(&m->up, p, seg) < 0)
            return -1;
        if (seg)
            m->last_cr = p[seg - 1] == '\r';
        if (!nl)
            break;
        if (!m->last_cr && sk_buf_append(&m->up, "\r", 1) < 0)
            return -1;
        if (sk_buf_append(&m->up, "\n", 1) < 0)
            return -1;
        m->last_cr = 0;
        p += seg + 1;
        n -= seg + 1;
    }
    return 0;
}

/* framed: the line in m->line is complete; encode it, or report and skip it. Returns 0, or
 * -1 after reporting a fatal error. */
static int send_line(struct pump *m)
{
    const sk_framing_t *f = m->o->framing;
    size_t n = sk_buf_len(&m->line);
    int r = m->line_over ? SK_ETOOBIG : sk_frame_encode(f, sk_buf_data(&m->line), n, &m->up);
    if (r == SK_EBADARG && f->kind == SK_FRAME_FIXED)
        cli_error("stdin line %lu is %zu bytes; fixed:%zu frames need exactly %zu: not sent",
                  m->lineno, n, f->size, f->size);
    else if (r == SK_ETOOBIG)
        cli_error("stdin line %lu is over the %zu-byte maximum frame (--max-frame): not sent",
                  m->lineno, f->max);
    else if (r < 0) {
        cli_error("stdin line %lu (%zu bytes): %s", m->lineno, n, sk_strerror(r));
        return -1;
    }
    if (r < 0)
        m->skipped++;
    sk_buf_clear(&m->line);
    m->line_over = 0;
    return 0; /* a bad line is that line's problem: the conversation goes on */
}

/* framed: split stdin bytes into lines and encode each; at eof the unterminated rest too. */
static int put_lines(struct pump *m, const char *p, size_t n, int eof)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (!m->line_over && sk_buf_append(&m->line, p, seg) < 0) {
            m->line_over = 1; /* over max + 1: it cannot be a frame; drop it as it comes */
            sk_buf_clear(&m->line);
        }
        p += seg + (nl != NULL);
        n -= seg + (nl != NULL);
        if (!nl)
            break;
        m->lineno++;
        if (send_line(m) < 0)
            return -1;
    }
    if (eof && (sk_buf_len(&m->line) > 0 || m->line_over)) {
        m->lineno++;
        return send_line(m);
    }
    return 0;
}

/* Take n bytes read from stdin (n 0: stdin's EOF). Returns 0, or 1 after reporting. */
static int take_stdin(struct pump *m, const char *p, size_t n)
{
    const sk_framing_t *f = m->o->framing;
    if (m->framed && f->kind != SK_FRAME_EOF)
        return put_lines(m, p, n, n == 0) < 0;
    if (m->framed && (m->eof_bytes += n) > f->max) { /* eof: stdin is the one message */
        cli_error("stdin is over the %zu-byte maximum frame (--max-frame): the one message "
                  "of --frame eof cannot be sent", f->max);
        /* A reset, not the FIN that would end the message: the peer must not take what
         * it got for all of it. */
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(m->sock, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        return 1;
    }
    int r = m->o->crlf ? put_crlf(m, p, n) : sk_buf_append(&m->up, p, n);
    if (r < 0) /* the queues are sized so that only ENOMEM can get here */
        cli_error("stdin: %s", sk_strerror(r));
    return r < 0;
}

/* ---- the socket, decoded on its way down ---- */

/* framed: decode what the socket sent into lines for stdout. Returns 0 or 1 after
 * reporting. */
static int take_frames(struct pump *m, int eof)
{
    sk_frame_t fr;
    int r;
    size_t used = 0;
    while ((r = sk_decoder_next(&m->dec, sk_buf_data(&m->in) + used, sk_buf_len(&m->in) - used,
                                eof, &fr)) == 1) {
        used += fr.consumed;
        if (sk_buf_append(&m->down, fr.data, fr.len) < 0 || sk_buf_append(&m->down, "\n", 1)) {
            cli_error("recv %s: stdout queue full", m->o->peer);
            return 1;
        }
    }
    sk_buf_consume(&m->in, used);
    if (r < 0) {
        cli_error("recv %s: %s", m->o->peer,
                  r == SK_ETOOBIG ? "a frame over the maximum (--max-frame)"
                                  : "the connection ended inside a frame");
        return 1;
    }
    return 0;
}

/* One recv() into the right queue. Returns the byte count, 0 at EOF or -errno. */
static ssize_t recv_some(struct pump *m)
{
    sk_buf_t *b = m->framed ? &m->in : &m->down;
    char *tail;
    size_t room = sk_buf_room(b) < CHUNK ? sk_buf_room(b) : CHUNK;
    if (room == 0 || sk_buf_reserve(b, room, &tail) < 0)
        return -ENOBUFS; /* the decoder's maximum rules this out */
    ssize_t n;
    do
        n = recv(m->sock, tail, room, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n > 0) {
        cli_hexdump(0, m->o->peer, m->received, tail, (size_t)n);
        if (m->received == 0 && (size_t)n == sizeof SK_BUSY_LINE - 1 &&
            memcmp(tail, SK_BUSY_LINE, (size_t)n) == 0)
            return -EBUSY; /* a sockit server's --max-conns refusal, not data */
        m->received += (unsigned long long)n;
        sk_buf_commit(b, (size_t)n);
    }
    return n;
}

/* ---- the ends ---- */

/* The "N bytes of stdin not sent" of a peer that closed: what is queued, and (stdin not at
 * its EOF) what a regular file still holds; *more is set when more may follow unseen. */
static unsigned long long unsent(const struct pump *m, int stdin_open, int *more)
{
    unsigned long long n = sk_buf_len(&m->up) + sk_buf_len(&m->line);
    struct stat st;
    *more = 0;
    if (stdin_open && fstat(0, &st) == 0 && S_ISREG(st.st_mode)) {
        off_t pos = lseek(0, 0, SEEK_CUR);
        if (pos >= 0 && st.st_size > pos)
            n += (unsigned long long)(st.st_size - pos);
    } else if (stdin_open) {
        *more = 1;
    }
    return n;
}

static int peer_closed(const struct pump *m, int stdin_open)
{
    int more;
    unsigned long long n = unsent(m, stdin_open, &more);
    cli_error("send %s: peer closed the connection (%llu bytes of stdin not sent%s)",
              m->o->peer, n, more ? ", and what stdin had left" : "");
    return 1;
}

/* Bytes still in the kernel's send queue, unacknowledged by the peer (0 on error). */
static int outq(int sock)
{
    int n = 0;
    return ioctl(sock, SIOCOUTQ, &n) == 0 ? n : 0;
}

/*
 * Before exit 0: wait while the peer's kernel acknowledges what we sent. A peer that has
 * closed (not just shut its write side down) answers our last bytes with a reset, which
 * this sees (exit 1); a live peer that is merely slow is left to the kernel once its
 * acknowledgements stall for DELIVERY_STALL_MS (the bytes are still delivered after we
 * exit). There is no readiness event for an acknowledgement, so this polls the queue
 * with short sleeps; it costs nothing when everything was acknowledged, the usual case.
 */
static int confirm_delivery(const struct pump *m)
{
    sk_addr_t a;
    if (sk_getsockname(m->sock, &a) < 0 ||
        (sk_addr_family(&a) != AF_INET && sk_addr_family(&a) != AF_INET6))
        return 0;
    int left = outq(m->sock), stall_ms = 0, nap_ms = 1;
    for (;;) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(m->sock, SOL_SOCKET, SO_ERROR, &e, &len) == 0 && e) {
            cli_error("send %s: peer closed the connection (%d bytes sent were not "
                      "delivered: %s)", m->o->peer, left, strerror(e));
            return 1;
        }
        if (left == 0 || stall_ms >= DELIVERY_STALL_MS)
            return 0;
        struct timespec ts = {0, nap_ms * 1000000L};
        nanosleep(&ts, NULL);
        int now = outq(m->sock);
        stall_ms = now < left ? 0 : stall_ms + nap_ms;
        left = now;
        nap_ms = nap_ms < 16 ? nap_ms * 2 : 16;
    }
}

/* The earliest of two deadlines (< 0: none). */
static int64_t earliest(int64_t a, int64_t b)
{
    return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

static int run(struct pump *m)
{
    const struct pump_opts *o = m->o;
    int stdin_open = 1, sock_rd_open = 1, sock_wr_open = 1;
    int interactive = isatty(0);
    int64_t quit_at = -1, active_at = cli_now_ms();
    int64_t idle_ms = o->idle_timeout > 0 ? (int64_t)(o->idle_timeout * 1000) : -1;
    static char buf[CHUNK];

    for (;;) {
        if (!stdin_open && sk_buf_len(&m->up) == 0 && sock_wr_open) {
            sock_wr_open = 0;
            if (o->half_close)
                shutdown(m->sock, SHUT_WR);
            if (o->quit_after >= 0)
                quit_at = cli_now_ms() + (int64_t)(o->quit_after * 1000);
        }
        if (!sock_rd_open && sk_buf_len(&m->down) == 0 && !sock_wr_open)
            return confirm_delivery(m);
        if (o->busy)
            *o->busy = sk_buf_len(&m->up) || sk_buf_len(&m->line) || sk_buf_len(&m->down)
                           ? 1
                           : sock_rd_open ? 2 : 0;

        int64_t idle_at = idle_ms >= 0 ? active_at + idle_ms : -1;
        int64_t until = earliest(quit_at, idle_at), now = cli_now_ms();
        if (until >= 0 && now >= until) {
            if (quit_at >= 0 && now >= quit_at) /* -q: asked for; what came is written */
                return cli_write_stdout(sk_buf_data(&m->down), sk_buf_len(&m->down)) < 0;
            cli_error("%s: no data either way for %g s (--idle-timeout): giving up", o->peer,
                      o->idle_timeout);
            return 1;
        }
        /* An fd with nothing wanted from it is left out (-1): poll() reports POLLHUP and
         * POLLERR even for events 0, and a dead socket would spin the loop. */
        short sev = (short)((sock_rd_open && sk_buf_len(&m->down) < CHUNK ? POLLIN : 0) |
                            (sk_buf_len(&m->up) ? POLLOUT : 0));
        struct pollfd p[3] = {
            {.fd = stdin_open && sk_buf_len(&m->up) < CHUNK ? 0 : -1, .events = POLLIN},
            {.fd = sev ? m->sock : -1, .events = sev},
            {.fd = sk_buf_len(&m->down) ? 1 : -1, .events = POLLOUT},
        };
        int64_t wait = until >= 0 ? until - now : -1;
        if (poll(p, 3, wait > 1000000000 ? 1000000000 : (int)wait) < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return 1;
        }

        int fresh_up = 0, fresh_down = 0;
        if (p[0].revents) {
            /* Bytes that go up as they are are read straight into the queue. */
            char *tail = buf;
            int direct = !m->framed && !o->crlf && sk_buf_reserve(&m->up, CHUNK, &tail) == 0;
            ssize_t n = p[0].revents & POLLNVAL ? 0 : read(0, tail, CHUNK);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                cli_error("read stdin: %s", strerror(errno));
                return 1;
            }
            if (n == 0)
                stdin_open = 0;
            if (direct && n > 0)
                sk_buf_commit(&m->up, (size_t)n);
            else if (n >= 0 && take_stdin(m, buf, (size_t)n))
                return 1;
            fresh_up = n > 0;
            if (n > 0)
                active_at = cli_now_ms();
        }
        /* Write first: new bytes go out at once, and POLLOUT is asked for only while the
         * kernel does not take them (one poll per chunk, not two). */
        if (((p[1].revents & (POLLOUT | POLLERR | POLLHUP)) || fresh_up) && sk_buf_len(&m->up)) {
            ssize_t n;
            do
                n = send(m->sock, sk_buf_data(&m->up), sk_buf_len(&m->up),
                         MSG_NOSIGNAL | MSG_DONTWAIT);
            while (n < 0 && errno == EINTR);
            if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
                return peer_closed(m, stdin_open);
            if (n < 0 && errno != EAGAIN) {
                cli_error("send %s: %s", o->peer, strerror(errno));
                return 1;
            }
            if (n > 0) {
                cli_hexdump(1, o->peer, m->sent, sk_buf_data(&m->up), (size_t)n);
                m->sent += (unsigned long long)n;
                sk_buf_consume(&m->up, (size_t)n);
                active_at = cli_now_ms();
            }
        }
        if ((p[1].revents & (POLLIN | POLLERR | POLLHUP)) && sock_rd_open) {
            ssize_t n = recv_some(m);
            if (n == -EBUSY) {
                cli_error("connect %s: refused: the server is busy (too many connections, "
                          "its --max-conns); try again later", o->peer);
                return 1;
            }
            if (n < 0 && n != -EAGAIN) {
                cli_error("recv %s: %s", o->peer, strerror((int)-n));
                return 1;
            }
            if (n > 0)
                active_at = cli_now_ms();
            if (n == 0) {
                sock_rd_open = 0;
                if (interactive) { /* a person whose peer has left is done */
                    stdin_open = 0;
                    sk_buf_clear(&m->up);
                }
            }
            if (n >= 0 && m->framed && take_frames(m, n == 0))
                return 1;
            fresh_down = n > 0;
        }
        if ((p[2].revents || fresh_down) && sk_buf_len(&m->down)) {
            ssize_t n = write(1, sk_buf_data(&m->down), sk_buf_len(&m->down));
            if (n < 0 && errno == EPIPE)
                return 1;
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                cli_error("write stdout: %s", strerror(errno));
                return 1;
            }
            if (n > 0) {
                sk_buf_consume(&m->down, (size_t)n);
                active_at = cli_now_ms();
            }
        }
    }
}

int cli_pump(int sock, const struct pump_opts *o)
{
    struct pump m;
    memset(&m, 0, sizeof m);
    m.sock = sock;
    m.o = o;
    m.framed = o->framing && o->framing->kind != SK_FRAME_RAW;
    size_t bufmax = m.framed ? sk_frame_bufmax(o->framing) : 0;
    /* up: what is left of a read, plus CHUNK stdin bytes at their most grown, plus a line
     * of up to max bytes finished by that read. down: a read's worth beyond CHUNK, or the
     * lines a read of frames decodes into. */
    sk_buf_init(&m.up, CHUNK + MAX_GROWTH * CHUNK + bufmax + SK_FRAME_OVERHEAD);
    sk_buf_init(&m.line, m.framed ? o->framing->max + 1 : 0);
    sk_buf_init(&m.in, bufmax);
    sk_buf_init(&m.down, 3 * CHUNK + 2 * bufmax);
    if (m.framed)
        sk_decoder_init(&m.dec, o->framing);
    int r = run(&m);
    if (r == 0 && m.skipped) { /* everything else went, but not all of stdin did */
        cli_error("%lu stdin line%s not sent (see above)", m.skipped, m.skipped == 1 ? "" : "s");
        r = 1;
    }
    sk_buf_free(&m.up);
    sk_buf_free(&m.line);
    sk_buf_free(&m.in);
    sk_buf_free(&m.down);
    return r;
}
