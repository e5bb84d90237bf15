/*
 * messages.c: the client loops that work in messages rather than bytes, for
 * `sockit connect --udp` and `sockit connect --frame F`.
 *
 * Both read stdin as lines. UDP sends each line (with its newline, as nc -u does) as one
 * datagram and writes every reply to stdout as it is; after stdin EOF it waits until
 * --linger seconds pass without a reply. The framed pump encodes each line (without its
 * newline) as one frame and prints each frame it receives on a line of its own; after
 * stdin EOF it half-closes and runs until the peer closes, as the byte pump does.
 * Every queue is bounded: stdin is read only while the socket keeps up, and the socket
 * only while stdout does.
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

/* Bytes read per read()/recv(), and how full a queue may get before its producer waits. */
#define CHUNK 65536
/* Most a framing can grow what it encodes: len32 turns an empty line (1 byte) into 4. */
#define MAX_GROWTH 4
/* After the peer's EOF: how long stdin may stay silent before we stop waiting for it
 * (as cli_pump). */
#define PEER_GONE_IDLE_MS 1000

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- UDP ---- */

/* Report a failed datagram call. ECONNREFUSED is an ICMP port unreachable from the peer. */
static int udp_fail(const char *op, const char *peer, ssize_t code)
{
    cli_error("%s %s: %s%s", op, peer, sk_strerror((int)code),
              code == -ECONNREFUSED ? " (nothing listens on that port?)" : "");
    return 1;
}

/* Copy the replies waiting on sock to stdout. Returns 0, or 1 after reporting. */
static int udp_replies(int sock, const char *peer, char *buf, size_t cap, int *got)
{
    for (;;) {
        ssize_t n = recv(sock, buf, cap, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return 0;
        if (n < 0)
            return udp_fail("recv", peer, -errno);
        if (cli_write_stdout(buf, (size_t)n) < 0)
            return 1;
        *got = 1;
    }
}

/* Send one datagram; while the socket's queue is full, wait, taking replies meanwhile. */
static int udp_send(int sock, const char *peer, const char *p, size_t n, char *buf, size_t cap)
{
    for (;;) {
        ssize_t w = sk_sendto(sock, p, n, NULL);
        int got;
        if (w >= 0) /* take replies as they come, before our receive buffer overflows */
            return udp_replies(sock, peer, buf, cap, &got);
        if (w != -EAGAIN)
            return udp_fail("send", peer, w);
        struct pollfd pf = {.fd = sock, .events = POLLIN | POLLOUT};
        if (poll(&pf, 1, -1) < 0 && errno != EINTR) {
            cli_error("poll: %s", strerror(errno));
            return 1;
        }
        if ((pf.revents & POLLIN) && udp_replies(sock, peer, buf, cap, &got))
            return 1;
    }
}

int cli_udp_client(int sock, const char *peer, double linger)
{
    static char line[SK_DGRAM_MAX + 1], in[SK_DGRAM_MAX + 1];
    size_t len = 0;
    int stdin_open = 1;
    int64_t quiet_at = -1; /* after stdin EOF: when lingering ends */
    for (;;) {
        if (!stdin_open && quiet_at < 0)
            quiet_at = now_ms() + (int64_t)(linger * 1000);
        int timeout = -1;
        if (quiet_at >= 0) {
            int64_t left = quiet_at - now_ms();
            if (left <= 0)
                return 0;
            timeout = (int)left;
        }
        struct pollfd p[2] = {{.fd = stdin_open ? 0 : -1, .events = POLLIN},
                              {.fd = sock, .events = POLLIN}};
        if (poll(p, 2, timeout) < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return 1;
        }
        if (p[1].revents) {
            int got = 0;
            if (udp_replies(sock, peer, in, sizeof in, &got))
                return 1;
            if (got && quiet_at >= 0)
                quiet_at = now_ms() + (int64_t)(linger * 1000);
        }
        if (!p[0].revents)
            continue;
        ssize_t n = read(0, line + len, sizeof line - len);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0) {
            cli_error("read stdin: %s", strerror(errno));
            return 1;
        }
        if (n == 0)
            stdin_open = 0;
        len += (size_t)n;
        /* Send every complete line; at EOF, the unterminated rest too. */
        char *start = line, *nl;
        while ((nl = memchr(start, '\n', len - (size_t)(start - line))) ||
               (!stdin_open && start < line + len)) {
            size_t dlen = nl ? (size_t)(nl - start) + 1 : len - (size_t)(start - line);
            if (dlen > SK_DGRAM_MAX)
                break;
            if (udp_send(sock, peer, start, dlen, in, sizeof in))
                return 1;
            start += dlen;
        }
        len -= (size_t)(start - line);
        memmove(line, start, len);
        if (len == sizeof line) {
            cli_error("a line of more than %d bytes (newline included) does not fit in one "
                      "datagram", SK_DGRAM_MAX);
            return 1;
        }
    }
}

/* ---- framed streams ---- */

struct framed {
    int sock;
    const char *peer;
    const sk_framing_t *f;
    sk_decoder_t dec;
    sk_buf_t line; /* stdin: the current line, up to f->max + 1 */
    sk_buf_t up;   /* encoded frames on their way to the socket */
    sk_buf_t in;   /* socket bytes not yet decoded */
    sk_buf_t down; /* decoded messages on their way to stdout */
    unsigned long lineno;
};

/* Encode one stdin line as a frame. Returns 0, or 1 after reporting a fatal error. */
static int send_line(struct framed *m, const char *p, size_t n)
{
    m->lineno++;
    int r = sk_frame_encode(m->f, p, n, &m->up);
    if (r == SK_EBADARG && m->f->kind == SK_FRAME_FIXED) {
        cli_error("stdin line %lu is %zu bytes; fixed:%zu frames need exactly %zu: not sent",
                  m->lineno, n, m->f->size, m->f->size);
        return 0; /* a typo should not end the conversation */
    }
    if (r < 0) {
        cli_error("stdin line %lu (%zu bytes): %s", m->lineno, n,
                  r == SK_ETOOBIG ? "over the maximum frame (--max-frame)" : sk_strerror(r));
        return 1;
    }
    return 0;
}

/* Split stdin bytes into lines and encode them; eof sends the unterminated rest. */
static int take_stdin(struct framed *m, const char *p, size_t n, int eof)
{
    if (m->f->kind == SK_FRAME_EOF) { /* the whole of stdin is the one message */
        if (sk_buf_append(&m->up, p, n) == 0)
            return 0;
        cli_error("out of memory");
        return 1;
    }
    while (n > 0 || (eof && sk_buf_len(&m->line) > 0)) {
        const char *nl = memchr(p, '\n', n);
        size_t seg = nl ? (size_t)(nl - p) : n;
        if (sk_buf_append(&m->line, p, seg) < 0) {
            cli_error("stdin line %lu: over the maximum frame (--max-frame)", m->lineno + 1);
            return 1;
        }
        p += seg + (nl != NULL);
        n -= seg + (nl != NULL);
        if (!nl && !eof)
            break;
        if (send_line(m, sk_buf_data(&m->line), sk_buf_len(&m->line)))
            return 1;
        sk_buf_clear(&m->line);
        if (!nl)
            break;
    }
    return 0;
}

/* Decode what the socket sent into lines for stdout. Returns 0 or 1 after reporting. */
static int take_socket(struct framed *m, int eof)
{
    sk_frame_t fr;
    int r;
    size_t used = 0;
    while ((r = sk_decoder_next(&m->dec, sk_buf_data(&m->in) + used, sk_buf_len(&m->in) - used,
                                eof, &fr)) == 1) {
        used += fr.consumed;
        if (sk_buf_append(&m->down, fr.data, fr.len) < 0 || sk_buf_append(&m->down, "\n", 1)) {
            cli_error("out of memory for stdout");
            return 1;
        }
    }
    sk_buf_consume(&m->in, used);
    if (r < 0) {
        cli_error("recv %s: %s", m->peer,
                  r == SK_ETOOBIG ? "a frame over the maximum (--max-frame)"
                                  : "the connection ended inside a frame");
        return 1;
    }
    return 0;
}

/* The byte pump's loop (pump.c) with a codec on each side, and its EOF rules: the peer's
 * EOF lets stdin flow on until it goes quiet for PEER_GONE_IDLE_MS (at once from a
 * terminal); a refused send after the peer's EOF ends the conversation, not in error. */
static int framed_loop(struct framed *m, const struct pump_opts *o)
{
    int stdin_open = 1, sock_rd_open = 1, sock_wr_open = 1;
    int64_t quit_at = -1, idle_at = -1;
    int interactive = isatty(0);
    char buf[CHUNK];
    for (;;) {
        if (!stdin_open && sk_buf_len(&m->up) == 0 && sock_wr_open) {
            sock_wr_open = 0;
            if (o->half_close)
                shutdown(m->sock, SHUT_WR);
            if (o->quit_after >= 0)
                quit_at = now_ms() + (int64_t)(o->quit_after * 1000);
        }
        if (!sock_rd_open && sk_buf_len(&m->down) == 0 && !sock_wr_open)
            return 0;
        int timeout = -1;
        int64_t until = quit_at >= 0 && (idle_at < 0 || quit_at < idle_at) ? quit_at : idle_at;
        if (until >= 0) {
            int64_t left = until - now_ms();
            if (left <= 0)
                return 0;
            timeout = (int)left;
        }
        short sev = (short)((sock_rd_open && sk_buf_len(&m->down) < CHUNK ? POLLIN : 0) |
                            (sk_buf_len(&m->up) ? POLLOUT : 0));
        struct pollfd p[3] = {
            {.fd = stdin_open && sk_buf_len(&m->up) < CHUNK ? 0 : -1, .events = POLLIN},
            {.fd = sev ? m->sock : -1, .events = sev},
            {.fd = sk_buf_len(&m->down) ? 1 : -1, .events = POLLOUT},
        };
        if (poll(p, 3, timeout) < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return 1;
        }
        if (p[0].revents) {
            ssize_t n = read(0, buf, sizeof buf);
            if (n < 0 && errno != EINTR && errno != EAGAIN) {
                cli_error("read stdin: %s", strerror(errno));
                return 1;
            }
            if (n == 0)
                stdin_open = 0;
            if (n > 0 && idle_at >= 0)
                idle_at = now_ms() + PEER_GONE_IDLE_MS;
            if (n >= 0 && take_stdin(m, buf, (size_t)n, n == 0))
                return 1;
        }
        if ((p[1].revents & (POLLOUT | POLLERR | POLLHUP)) && sk_buf_len(&m->up)) {
            ssize_t n = send(m->sock, sk_buf_data(&m->up), sk_buf_len(&m->up),
                             MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && !sock_rd_open && (errno == EPIPE || errno == ECONNRESET)) {
                stdin_open = sock_wr_open = 0; /* the peer said goodbye */
                sk_buf_clear(&m->up);
                continue;
            }
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                cli_error("send %s: %s", m->peer, strerror(errno));
                return 1;
            }
            if (n > 0)
                sk_buf_consume(&m->up, (size_t)n);
        }
        if ((p[1].revents & (POLLIN | POLLERR | POLLHUP)) && sock_rd_open) {
            char *tail;
            if (sk_buf_reserve(&m->in, 1, &tail) < 0) { /* the decoder rules this out */
                cli_error("recv %s: a frame over the maximum (--max-frame)", m->peer);
                return 1;
            }
            size_t room = sk_buf_room(&m->in) < CHUNK ? sk_buf_room(&m->in) : CHUNK;
            if (sk_buf_reserve(&m->in, room, &tail) < 0) {
                cli_error("out of memory");
                return 1;
            }
            ssize_t n = recv(m->sock, tail, room, MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                cli_error("recv %s: %s", m->peer, strerror(errno));
                return 1;
            }
            if (n == 0) {
                sock_rd_open = 0;
                if (interactive) { /* a person whose peer has left is done */
                    stdin_open = 0;
                    sk_buf_clear(&m->up);
                } else {
                    idle_at = now_ms() + PEER_GONE_IDLE_MS;
                }
            }
            if (n > 0)
                sk_buf_commit(&m->in, (size_t)n);
            if (n >= 0 && take_socket(m, n == 0))
                return 1;
        }
        if (p[2].revents && sk_buf_len(&m->down)) {
            ssize_t n = write(1, sk_buf_data(&m->down), sk_buf_len(&m->down));
            if (n < 0 && errno == EPIPE)
                return 1;
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                cli_error("write stdout: %s", strerror(errno));
                return 1;
            }
            if (n > 0)
                sk_buf_consume(&m->down, (size_t)n);
        }
    }
}

int cli_frame_pump(int sock, const sk_framing_t *f, const struct pump_opts *o)
{
    struct framed m = {.sock = sock, .peer = o->peer, .f = f};
    size_t bufmax = sk_frame_bufmax(f);
    sk_decoder_init(&m.dec, f);
    sk_buf_init(&m.line, f->max + 1);
    sk_buf_init(&m.up, (1 + MAX_GROWTH) * CHUNK + bufmax);
    sk_buf_init(&m.in, bufmax);
    sk_buf_init(&m.down, 3 * CHUNK + 2 * bufmax);
    int r = framed_loop(&m, o);
    sk_buf_free(&m.line);
    sk_buf_free(&m.up);
    sk_buf_free(&m.in);
    sk_buf_free(&m.down);
    return r;
}
