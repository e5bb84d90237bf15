/*
 * echo_torture.c: drive an echo server with randomized traffic and check every byte.
 *
 *   echo_torture [-c CONNS] [-n BYTES] [-s SEED] [-w MAXWRITE] [-t SEC] [-q] ADDR
 *
 * Opens CONNS connections (default 8) to ADDR (HOST:PORT, [V6]:PORT, unix:/PATH or
 * unix:@NAME; sockit/addr.h) and sends BYTES in total (default 1G; K, M, G suffixes),
 * split evenly between them. Each connection sends its own deterministic pseudo-random
 * stream (seeded from SEED and its index; every byte value, NULs included) in writes of
 * random size, 1 to MAXWRITE bytes (default 64K; log-uniform, so tiny writes are as common
 * as large ones), and reads the echo back with reads of random size. All connections are
 * non-blocking and served by one poll() loop that always reads, so writes and reads
 * interleave and neither side can deadlock the other however the server schedules them
 * (an iterative server that serves one connection at a time included: the others wait).
 * After its last byte a connection shuts its write side down, then reads until EOF.
 *
 * Checks: the echo is compared byte by byte with the stream regenerated from the seed
 * (the first difference is reported with its connection and offset), exactly as many
 * bytes must come back as were sent, and a 64-bit checksum of everything sent is compared
 * with one of everything received, per connection and in total. Prints the totals and
 * the throughput (MiB/s of payload echoed); exits 0 only when everything matches, 1 on a
 * mismatch, an I/O error or when the run outlasts -t SEC (default 300), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <sockit.h>

#define PROG "echo_torture"
#define MAX_CONNS 1024
#define BUF_MAX (1 << 20)

/* A deterministic byte stream: splitmix64 words, taken byte by byte in order. */
struct stream {
    uint64_t state;
    uint64_t word;
    unsigned used; /* bytes of word already handed out (8: none left) */
};

/* Fletcher-style 64-bit checksum of a byte stream: order-sensitive, split-proof. */
struct sum {
    uint64_t a, b;
};

struct conn {
    int fd;
    int index;
    uint64_t total; /* bytes this connection sends */
    uint64_t sent, recvd;
    int write_open;     /* the write side is not shut down yet */
    int done;           /* EOF seen */
    struct stream tx;   /* the bytes to send */
    struct stream rx;   /* the same stream again, to check the echo */
    uint64_t sizes;     /* RNG for write and read sizes */
    unsigned char *out; /* the current write chunk */
    size_t out_len, out_off;
    struct sum sum_tx, sum_rx;
};

static size_t g_max_write = 64 * 1024;
static int g_quiet;

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static void stream_init(struct stream *s, uint64_t seed)
{
    s->state = seed;
    s->word = 0;
    s->used = 8;
}

/* The next n bytes of the stream into buf. */
static void stream_fill(struct stream *s, unsigned char *buf, size_t n)
{
    while (n > 0 && s->used < 8) {
        *buf++ = (unsigned char)(s->word >> (8 * s->used++));
        n--;
    }
    while (n >= 8) {
        uint64_t w = splitmix64(&s->state);
        for (int i = 0; i < 8; i++)
            buf[i] = (unsigned char)(w >> (8 * i));
        buf += 8;
        n -= 8;
    }
    if (n > 0) {
        s->word = splitmix64(&s->state);
        s->used = 0;
        while (n-- > 0)
            *buf++ = (unsigned char)(s->word >> (8 * s->used++));
    }
}

static void sum_add(struct sum *s, const unsigned char *p, size_t n)
{
    uint64_t a = s->a, b = s->b;
    for (size_t i = 0; i < n; i++) {
        a += p[i];
        b += a;
    }
    s->a = a;
    s->b = b;
}

static uint64_t sum_value(const struct sum *s)
{
    return s->b ^ (s->a << 32 | s->a >> 32);
}

/* A random size in 1..max, log-uniform: as many tiny sizes as large ones. */
static size_t random_size(uint64_t *rng, size_t max)
{
    uint64_t r = splitmix64(rng);
    unsigned bits = (unsigned)(r % 17); /* 2^0 .. 2^16 */
    size_t span = (size_t)1 << bits;
    size_t n = 1 + (size_t)((r >> 8) % span); /* 1 .. 2^bits */
    return n > max ? 1 + (size_t)((r >> 32) % max) : n;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parse a byte count with an optional K, M or G suffix (powers of 1024). */
static int parse_bytes(const char *text, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || text[0] == '-') return -1;
    uint64_t mul = 1;
    if (*end == 'K' || *end == 'k')
        mul = 1ULL << 10;
    else if (*end == 'M' || *end == 'm')
        mul = 1ULL << 20;
    else if (*end == 'G' || *end == 'g')
        mul = 1ULL << 30;
    if (mul != 1) end++;
    if (*end || v > UINT64_MAX / mul) return -1;
    *out = v * mul;
    return 0;
}

static void usage(void)
{
    fprintf(stderr,
            "usage: " PROG " [-c CONNS] [-n BYTES] [-s SEED] [-w MAXWRITE] [-t SEC] [-q] ADDR\n"
            "  -c, --conns N      connections (1-%d, default 8)\n"
            "  -n, --bytes N      bytes to send in total (K/M/G suffixes, default 1G)\n"
            "  -s, --seed N       seed of the streams and sizes (default 1)\n"
            "  -w, --max-write N  largest write and read (1-1M, default 64K)\n"
            "  -t, --timeout SEC  bound on the whole run (default 300)\n"
            "  -q, --quiet        print only the summary line\n",
            MAX_CONNS);
    exit(2);
}

/* Refill c's write chunk from its stream when the last one is gone. */
static void next_chunk(struct conn *c)
{
    if (c->out_off < c->out_len || c->sent == c->total) return;
    size_t n = random_size(&c->sizes, g_max_write);
    if (n > c->total - c->sent) n = (size_t)(c->total - c->sent);
    stream_fill(&c->tx, c->out, n);
    c->out_len = n;
    c->out_off = 0;
}

/* Write what the socket takes. Returns 0, or -1 after reporting an error. */
static int conn_write(struct conn *c)
{
    while (c->write_open) {
        next_chunk(c);
        if (c->sent == c->total) {
            int r = sk_shutdown(c->fd, SHUT_WR);
            if (r < 0) {
                fprintf(stderr, PROG ": connection %d: shutdown: %s\n", c->index, sk_strerror(r));
                return -1;
            }
            c->write_open = 0;
            break;
        }
        ssize_t n = sk_send(c->fd, c->out + c->out_off, c->out_len - c->out_off);
        if (n == -EAGAIN) break;
        if (n < 0) {
            fprintf(stderr, PROG ": connection %d: send after %" PRIu64 " bytes: %s\n", c->index,
                    c->sent, sk_strerror((int)n));
            return -1;
        }
        sum_add(&c->sum_tx, c->out + c->out_off, (size_t)n);
        c->out_off += (size_t)n;
        c->sent += (uint64_t)n;
        if (c->out_off < c->out_len) break; /* the kernel took part of it: wait for room */
    }
    return 0;
}

/* Read and check what has come back. Returns 0, or -1 after reporting a mismatch. */
static int conn_read(struct conn *c, unsigned char *in, unsigned char *want)
{
    for (int rounds = 0; rounds < 4 && !c->done; rounds++) {
        size_t cap = random_size(&c->sizes, g_max_write);
        ssize_t n = sk_recv(c->fd, in, cap);
        if (n == -EAGAIN) break;
        if (n < 0) {
            fprintf(stderr, PROG ": connection %d: recv after %" PRIu64 " bytes: %s\n", c->index,
                    c->recvd, sk_strerror((int)n));
            return -1;
        }
        if (n == 0) {
            c->done = 1;
            if (c->recvd != c->sent || c->write_open) {
                fprintf(stderr,
                        PROG ": connection %d: EOF after %" PRIu64 " bytes echoed of %" PRIu64
                             " sent (%" PRIu64 " to send)\n",
                        c->index, c->recvd, c->sent, c->total);
                return -1;
            }
            break;
        }
        if (c->recvd + (uint64_t)n > c->sent) {
            fprintf(stderr,
                    PROG ": connection %d: %" PRIu64 " bytes received, only %" PRIu64 " sent\n",
                    c->index, c->recvd + (uint64_t)n, c->sent);
            return -1;
        }
        stream_fill(&c->rx, want, (size_t)n);
        if (memcmp(in, want, (size_t)n) != 0) {
            size_t i = 0;
            while (in[i] == want[i])
                i++;
            fprintf(stderr,
                    PROG ": connection %d: echo differs at stream offset %" PRIu64
                         ": got 0x%02x, want 0x%02x (read of %zd bytes at offset %" PRIu64 ")\n",
                    c->index, c->recvd + i, in[i], want[i], n, c->recvd);
            return -1;
        }
        sum_add(&c->sum_rx, in, (size_t)n);
        c->recvd += (uint64_t)n;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"conns", required_argument, NULL, 'c'},   {"bytes", required_argument, NULL, 'n'},
        {"seed", required_argument, NULL, 's'},    {"max-write", required_argument, NULL, 'w'},
        {"timeout", required_argument, NULL, 't'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    uint64_t total = 1ULL << 30, seed = 1, v;
    int nconns = 8;
    double timeout = 300;
    char *end;
    int opt;
    while ((opt = getopt_long(argc, argv, "c:n:s:w:t:qh", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            if (parse_bytes(optarg, &v) < 0 || v < 1 || v > MAX_CONNS) usage();
            nconns = (int)v;
            break;
        case 'n':
            if (parse_bytes(optarg, &total) < 0) usage();
            break;
        case 's':
            if (parse_bytes(optarg, &seed) < 0) usage();
            break;
        case 'w':
            if (parse_bytes(optarg, &v) < 0 || v < 1 || v > BUF_MAX) usage();
            g_max_write = (size_t)v;
            break;
        case 't':
            errno = 0;
            timeout = strtod(optarg, &end);
            if (errno || *end || !(timeout > 0 && timeout < 1e6)) usage();
            break;
        case 'q':
            g_quiet = 1;
            break;
        default:
            usage();
        }
    }
    if (optind != argc - 1) usage();
    const char *addr = argv[optind];

    struct conn *conns = calloc((size_t)nconns, sizeof *conns);
    struct pollfd *pfds = calloc((size_t)nconns, sizeof *pfds);
    unsigned char *in = malloc(g_max_write), *want = malloc(g_max_write);
    if (!conns || !pfds || !in || !want) {
        fprintf(stderr, PROG ": out of memory\n");
        return 1;
    }
    double t0 = now_s(), deadline = t0 + timeout;
    int status = 1;
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        char err[SK_ERRLEN];
        c->index = i;
        c->fd = -1;
        c->total = total / (uint64_t)nconns + ((uint64_t)i < total % (uint64_t)nconns);
        c->write_open = 1;
        uint64_t k = seed * 0x100000001B3ULL + (uint64_t)i;
        stream_init(&c->tx, splitmix64(&k));
        c->rx = c->tx;
        c->sizes = splitmix64(&k);
        c->out = malloc(g_max_write);
        if (!c->out) {
            fprintf(stderr, PROG ": out of memory\n");
            goto out;
        }
        c->fd = sk_create_connection(addr, 10.0, NULL, err);
        if (c->fd < 0) {
            fprintf(stderr, PROG ": connection %d: %s\n", i, err);
            goto out;
        }
        int r = sk_settimeout(c->fd, 0);
        if (r < 0) {
            fprintf(stderr, PROG ": connection %d: non-blocking: %s\n", i, sk_strerror(r));
            goto out;
        }
    }

    int left = nconns;
    while (left > 0) {
        double wait = deadline - now_s();
        if (wait <= 0) {
            fprintf(stderr, PROG ": timed out after %.1f s; per connection (sent/echoed/to send):",
                    timeout);
            for (int i = 0; i < nconns; i++)
                fprintf(stderr, " %" PRIu64 "/%" PRIu64 "/%" PRIu64, conns[i].sent, conns[i].recvd,
                        conns[i].total);
            fprintf(stderr, "\n");
            goto out;
        }
        int n = 0;
        for (int i = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (c->done) continue;
            pfds[n].fd = c->fd;
            pfds[n].events = (short)(POLLIN | (c->write_open ? POLLOUT : 0));
            pfds[n].revents = 0;
            n++;
        }
        int ms = wait > 1.0 ? 1000 : (int)(wait * 1000) + 1;
        int r = poll(pfds, (nfds_t)n, ms);
        if (r < 0 && errno != EINTR) {
            perror(PROG ": poll");
            goto out;
        }
        if (r <= 0) continue;
        for (int i = 0, j = 0; i < nconns; i++) {
            struct conn *c = &conns[i];
            if (c->done) continue;
            short ev = pfds[j++].revents;
            if (ev & (POLLIN | POLLERR | POLLHUP))
                if (conn_read(c, in, want) < 0) goto out;
            if (c->write_open && (ev & (POLLOUT | POLLERR)))
                if (conn_write(c) < 0) goto out;
            if (c->done) left--;
        }
    }

    double secs = now_s() - t0;
    uint64_t sent = 0, recvd = 0;
    struct sum all_tx = {0, 0}, all_rx = {0, 0};
    status = 0;
    for (int i = 0; i < nconns; i++) {
        struct conn *c = &conns[i];
        uint64_t st = sum_value(&c->sum_tx), sr = sum_value(&c->sum_rx);
        sent += c->sent;
        recvd += c->recvd;
        all_tx.a += st;
        all_tx.b = all_tx.b * 31 + st;
        all_rx.a += sr;
        all_rx.b = all_rx.b * 31 + sr;
        if (!g_quiet)
            printf("connection %d: %" PRIu64 " bytes sent, %" PRIu64 " echoed, checksum %016" PRIx64
                   " sent, %016" PRIx64 " received\n",
                   i, c->sent, c->recvd, st, sr);
        if (c->sent != c->total || c->recvd != c->sent || st != sr) {
            fprintf(stderr, PROG ": connection %d: mismatch\n", i);
            status = 1;
        }
    }
    printf("%s: %d connections to %s: %" PRIu64 " bytes sent, %" PRIu64
           " echoed and verified, checksum %016" PRIx64 " sent, %016" PRIx64
           " received, %.2f s, %.1f MiB/s\n",
           status == 0 ? "ok" : "FAILED", nconns, addr, sent, recvd, all_tx.b ^ all_tx.a,
           all_rx.b ^ all_rx.a, secs, secs > 0 ? (double)recvd / (1 << 20) / secs : 0.0);
out:
    for (int i = 0; i < nconns; i++) {
        if (conns[i].fd >= 0) sk_close(conns[i].fd);
        free(conns[i].out);
    }
    free(conns);
    free(pfds);
    free(in);
    free(want);
    return status;
}
