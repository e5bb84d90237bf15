/*
 * pump.c: full duplex between stdin/stdout and a socket, in one poll loop (nc's
 * readwrite). Each direction has a fixed PUMP_BUF buffer: a side is read only while its
 * buffer has room, so a slow consumer slows its producer instead of growing memory.
 *
 * Ends: stdin EOF (once its buffer is flushed) half-closes the socket unless told not to.
 * The pump ends when both directions are done: the peer's EOF has reached stdout and
 * stdin has been sent. A peer's EOF closes only its direction (it may still be reading,
 * as after nc -N), so stdin keeps flowing after it, but no longer than stdin keeps
 * producing: PEER_GONE_IDLE_MS without input then ends the pump (socat's -t, where nc
 * would wait for stdin EOF forever). From a terminal it ends at once, as telnet does.
 * After the peer's EOF a refused send (EPIPE, reset) means the peer finished the
 * conversation: exit 0. Before it, a reset or failed write is an error (exit 1); a closed
 * stdout (EPIPE) ends quietly with 1, as a program killed by SIGPIPE would, without the
 * noise.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"

#define PUMP_BUF 65536
/* After the peer's EOF: how long stdin may stay silent before we stop waiting for it. */
#define PEER_GONE_IDLE_MS 1000

struct pipebuf {
    size_t head, len;
    char data[PUMP_BUF];
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read into the free tail of b. Returns bytes read, 0 at EOF, or -errno. */
static ssize_t fill(struct pipebuf *b, int fd, int is_sock)
{
    if (b->head && b->head + b->len == PUMP_BUF) {
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
    }
    char *tail = b->data + b->head + b->len;
    size_t room = PUMP_BUF - b->head - b->len;
    ssize_t n;
    do
        n = is_sock ? recv(fd, tail, room, MSG_DONTWAIT) : read(fd, tail, room);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EAGAIN ? -EAGAIN : -errno;
    b->len += (size_t)n;
    return n;
}

/* Write from the front of b. Returns bytes written or -errno (-EAGAIN: try later). */
static ssize_t drain(struct pipebuf *b, int fd, int is_sock)
{
    ssize_t n;
    do
        n = is_sock ? send(fd, b->data + b->head, b->len, MSG_NOSIGNAL | MSG_DONTWAIT)
                    : write(fd, b->data + b->head, b->len);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    b->head += (size_t)n;
    b->len -= (size_t)n;
    if (b->len == 0)
        b->head = 0;
    return n;
}

int cli_pump(int sock, const struct pump_opts *o)
{
    static struct pipebuf up, down; /* stdin -> sock, sock -> stdout */
    int stdin_open = 1, sock_rd_open = 1, sock_wr_open = 1;
    int64_t quit_at = -1, idle_at = -1; /* -q deadline; stdin-silence deadline */
    int interactive = isatty(0);
    up.head = up.len = down.head = down.len = 0;

    for (;;) {
        if (stdin_open == 0 && up.len == 0 && sock_wr_open) {
            sock_wr_open = 0;
            if (o->half_close)
                shutdown(sock, SHUT_WR);
            if (o->quit_after >= 0)
                quit_at = now_ms() + (int64_t)(o->quit_after * 1000);
        }
        if (!sock_rd_open && down.len == 0 && !sock_wr_open)
            return 0;

        /* An fd with nothing wanted from it is left out (-1): poll() reports POLLHUP and
         * POLLERR even for events 0, and a dead socket would spin the loop. */
        short sock_events = (short)((sock_rd_open && down.len < PUMP_BUF ? POLLIN : 0) |
                                    (up.len ? POLLOUT : 0));
        struct pollfd p[3] = {
            {.fd = stdin_open && up.len < PUMP_BUF ? 0 : -1, .events = POLLIN},
            {.fd = sock_events ? sock : -1, .events = sock_events},
            {.fd = down.len ? 1 : -1, .events = POLLOUT},
        };
        int timeout = -1;
        int64_t until = quit_at >= 0 && (idle_at < 0 || quit_at < idle_at) ? quit_at : idle_at;
        if (until >= 0) {
            int64_t left = until - now_ms();
            if (left <= 0)
                return 0;
            timeout = (int)left;
        }
        int r = poll(p, 3, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return 1;
        }

        if (p[0].revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
            ssize_t n = p[0].revents & POLLNVAL ? 0 : fill(&up, 0, 0);
            if (n > 0 && idle_at >= 0)
                idle_at = now_ms() + PEER_GONE_IDLE_MS;
            if (n == 0)
                stdin_open = 0;
            else if (n < 0 && n != -EAGAIN) {
                cli_error("read stdin: %s", strerror((int)-n));
                return 1;
            }
        }
        if (p[1].revents & (POLLOUT | POLLERR | POLLHUP) && up.len) {
            ssize_t n = drain(&up, sock, 1);
            if (n < 0 && n != -EAGAIN) {
                if (!sock_rd_open && (n == -EPIPE || n == -ECONNRESET)) {
                    stdin_open = sock_wr_open = 0; /* the peer said goodbye */
                    up.len = 0;
                    continue;
                }
                cli_error("send %s: %s", o->peer, strerror((int)-n));
                return 1;
            }
        }
        if (p[1].revents & (POLLIN | POLLHUP | POLLERR) && sock_rd_open &&
            down.len < PUMP_BUF) {
            ssize_t n = fill(&down, sock, 1);
            if (n == 0) {
                sock_rd_open = 0;
                if (interactive) { /* a person whose peer has left is done */
                    stdin_open = 0;
                    up.len = 0;
                } else {
                    idle_at = now_ms() + PEER_GONE_IDLE_MS;
                }
            } else if (n < 0 && n != -EAGAIN) {
                cli_error("recv %s: %s", o->peer, strerror((int)-n));
                return 1;
            }
        }
        if (p[2].revents & (POLLOUT | POLLERR | POLLHUP)) {
            ssize_t n = drain(&down, 1, 0);
            if (n == -EPIPE)
                return 1;
            if (n < 0 && n != -EAGAIN) {
                cli_error("write stdout: %s", strerror((int)-n));
                return 1;
            }
        }
    }
}
