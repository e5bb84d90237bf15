/*
 * bench.c: `sockit bench`, a load generator for echo-style servers over TCP, UDP and
 * Unix sockets: requests/s, MiB/s and latency percentiles, with every byte verified.
 *
 * Shape. ADDR is resolved once. The main thread makes the first connection of every
 * stream with a Happy Eyeballs connector each (sk_connector_*, driven from one poll()
 * as probe does), keeps the winning address for reconnects, and hands the connections
 * to T worker threads (connection i to thread i % T). Each worker owns one epoll
 * instance (level-triggered), its connections, a receive scratch buffer and a latency
 * histogram; nothing is shared between workers while they run but read-only settings
 * and a few relaxed counters the progress line reads. The main thread only waits,
 * prints the progress line (when stderr is a terminal), merges and reports.
 *
 * Requests (echo and connect modes). Every connection owns a ring of `pipeline` request
 * slots, each a copy of one encoded request (sk_frame_encode), filled once at start;
 * issuing request k rewrites only its 12-byte stamp (connection id and k, as letters
 * a-p so that a line payload never holds '\n') in slot k % pipeline and records its
 * timestamp in the matching ring of times. The unsent requests are a contiguous range
 * of the ring, so any number of them goes out in one sendmsg() of at most two iovecs.
 * Responses are verified as they stream in, against the slot they answer: raw ends
 * after `size` bytes, line at '\n', len32 after its prefix's length; a response whose
 * bytes or length differ is a mismatch. Verification streams from the worker's scratch
 * buffer, so no response is ever buffered whole and nothing is allocated per request.
 *
 * Time. Latency is completion minus the request's timestamp: its send time in a closed
 * loop; with --rate, its intended send time on the worker's schedule (one request every
 * T/rate seconds), so a stalled server delays the schedule's requests and their latency
 * counts the wait (coordinated omission corrected, as wrk2 does). A request counts
 * when its timestamp falls after the warmup and its response verified (a response that
 * differs is a mismatch, an error). The run ends at the duration (or when -n requests
 * were issued); what is in flight then gets one grace, min(GRACE_NS, timeout) after a
 * duration and the timeout after -n, and whatever is still in flight after that counts
 * as timed out (UDP: lost; bulk: the bytes not echoed back, a short_read). A UDP
 * datagram unanswered within the timeout is lost, and its slot sends again.
 *
 * Errors never stop a stream for good: the connection is closed, its in-flight
 * requests count as failed (bulk: its unechoed bytes as lost), the error is counted by
 * kind, and the stream reconnects to the winning address (after RETRY_NS if the connect
 * itself failed), from its --source address (stream i from source i mod n), with all its
 * verification state (bulk offsets included) starting again from zero. A worker that
 * completes nothing for twice the timeout gives up.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"
#include "sockit/hist.h"

#define CONNS_DEFAULT 50
#define CONNS_MAX 100000
#define SIZE_DEFAULT 64
#define SIZE_LIMIT ((size_t)16 << 20)
#define UDP_SIZE_LIMIT 65507 /* the largest IPv4 UDP payload */
#define PIPELINE_MAX 4096
#define THREADS_MAX 256
#define RING_MAX ((size_t)64 << 20)  /* request ring bytes per connection */
#define TOTAL_MAX ((size_t)1 << 30)  /* request ring bytes in all */
#define STAMP_LEN 12                 /* 16-bit connection id + 32-bit sequence, 4 bits a byte */
#define SCRATCH_LEN ((size_t)256 << 10)
#define READS_PER_WAKE 4
#define WRITE_BUDGET ((size_t)256 << 10) /* bulk bytes written per connection per wake-up */
#define UDP_BATCH 64
#define EVENTS_MAX 256
#define TICK_NS 100000000LL  /* housekeeping: timeouts, retries, give-up */
#define RETRY_NS 100000000LL /* a failed connect is retried this much later */
#define FRAME_LIMIT (SIZE_LIMIT + 16) /* a response longer than this is a protocol error */
#define PERIOD 65521 /* bulk: the stream is a pseudo-random pattern of this period (prime) */
#define HIST_HIGHEST 100000000000LL /* 100 s in ns */
#define HIST_SIGFIGS 3
#define FD_HEADROOM 32
#define PROGRESS_NS 500000000LL
#define GRACE_NS 1000000000LL /* after the duration, requests in flight get min(this, -w) */
#define SOURCES_MAX 64        /* --source given this many times at most */
#define INTERVAL_MIN 0.1      /* --interval's smallest value, in seconds */

enum mode { MODE_ECHO, MODE_BULK, MODE_CONNECT };
static const char *const mode_names[] = {"echo", "bulk", "connect"};

/* Errors by kind; names as reported (text and JSON). */
enum err_kind {
    E_REFUSED,         /* connect refused (or ICMP port unreachable over UDP) */
    E_CONNECT_TIMEOUT, /* connect took longer than the timeout */
    E_CONNECT,         /* any other connect failure */
    E_RESET,           /* reset by the peer (ECONNRESET, EPIPE) */
    E_CLOSED,          /* the peer closed with nothing in flight */
    E_SHORT,           /* the peer closed in the middle of a response; bulk: bytes never
                          echoed back by the end of the run and its grace */
    E_TIMEOUT,         /* no byte for a request in flight within the timeout */
    E_PROTO,           /* bytes nobody asked for, or a response frame over the limit */
    E_IO,              /* any other socket error */
    E_COUNT
};
static const char *const err_names[E_COUNT] = {
    "refused", "connect_timeout", "connect", "reset", "closed",
    "short_read", "timeout", "protocol", "io",
};

struct opts {
    const char *addr;
    enum mode mode;
    int udp, json, verify;
    sk_framing_t frame;
    long conns, pipeline, threads;
    size_t size;
    double duration, rate, warmup, timeout;
    int has_duration, has_timeout;
    uint64_t requests; /* 0: no limit */
    const char *histfile; /* "-": stdout */
    double interval;      /* --interval: seconds between interval lines (0: none) */
    const char *sources[SOURCES_MAX]; /* --source, in order */
    size_t nsources;
    int source_port;      /* --source-port (0: any) */
};

/* Shared by every worker, read-only once they start. */
struct bench {
    struct opts o;
    size_t depth;          /* slots per connection: pipeline (1 in connect mode) */
    sk_addr_t peer;        /* where (re)connects go */
    int socktype;
    unsigned char *tmpl;   /* one encoded request, o.size bytes */
    size_t stamp_off, stamp_len;
    unsigned char *pattern; /* bulk: 2 * PERIOD bytes */
    int64_t t_begin, t_measure, t_end; /* monotonic ns; t_end INT64_MAX: no duration */
    int64_t timeout_ns;
    sk_source_t *srcs;     /* one per --source (or one for --source-port alone); NULL: none */
    size_t nsrcs;
};

enum conn_state { C_IDLE, C_CONNECTING, C_OPEN };
enum udp_slot { U_FREE, U_PENDING, U_ANSWERED };

struct conn {
    int fd;
    uint32_t id, gen;
    unsigned char state, out_armed, bad;
    unsigned char dirty, listed; /* requests to send; on the worker's dirty list */
    uint64_t issued, done, sent_seq; /* requests on this connection since it connected */
    size_t sent_off;                 /* bytes of request sent_seq already sent */
    size_t roff, rlen;               /* bytes of the current response seen; its length */
    unsigned char hdr[4];
    uint64_t stamp_seq;              /* never reset: every request's stamp is distinct */
    int64_t active_at, retry_at;
    unsigned char *ring;             /* depth * size bytes */
    int64_t *ts;                     /* depth timestamps */
    /* UDP */
    unsigned char *ustate;
    uint64_t *useq;
    uint64_t low, max_answered;
    uint32_t pending;
    int answered_any;
    /* bulk */
    uint64_t tx, rx;
};

struct stats {
    uint64_t ok, mismatch, failed, timeouts_at_end; /* ok: verified (or --no-verify) */
    uint64_t err[E_COUNT];
    uint64_t bytes_out, bytes_in; /* bulk, within the measured window */
    uint64_t bytes_lost;          /* bulk, verifying: sent, never echoed (whole run) */
    uint64_t lost, reordered, duplicated, late;
    int64_t last_done; /* last counted completion */
};

struct worker {
    pthread_t tid;
    int idx, ep;
    const struct bench *b;
    struct conn *conns;
    size_t nconns, nopen, rr;
    size_t *dirty;
    size_t ndirty;
    unsigned char *scratch;
    sk_hist_t *hist;
    struct stats st;
    int has_quota, ending;
    uint64_t quota;           /* requests (bulk: bytes) still to issue in the window */
    int64_t interval_ns;      /* open loop: time between scheduled requests */
    int64_t sched_next;       /* open loop: intended time of the next request */
    int64_t next_tick, end_at, hard_end, last_progress, finished_at; /* end_at: ending began */
    uint64_t live_done;       /* verified completions, read by the progress line */
    uint64_t live_errors;     /* errors so far (mismatches included), for --interval */
    uint64_t live_out, live_in, live_lost; /* bulk bytes / UDP datagrams lost so far */
    int finished;             /* read by the main thread */
    char first_err[SK_ERRLEN];
};

/* Set by SIGINT/SIGTERM, read by every worker: an int accessed only with __atomic
 * builtins (lock-free, so the handler may store it), not a volatile sig_atomic_t, which
 * orders nothing between threads. */
static int g_stop;

static void on_stop_signal(int sig)
{
    (void)sig;
    __atomic_store_n(&g_stop, 1, __ATOMIC_RELAXED);
}

static int stopping(void)
{
    return __atomic_load_n(&g_stop, __ATOMIC_RELAXED);
}

static void bench_help(void)
{
    printf(
        "Usage: sockit bench [OPTIONS] ADDR\n\n"
        "Load-test an echo-style server at ADDR (PORT, HOST:PORT, [V6]:PORT, unix:/PATH,\n"
        "unix:@NAME) and report requests/s, MiB/s and latency percentiles. Every byte that\n"
        "comes back is checked against what was sent.\n\n"
        "Modes (--mode):\n"
        "  echo     (default) request/response: each connection keeps up to -p requests of\n"
        "           -s bytes in flight; a response must equal its request byte for byte\n"
        "           (each request carries a distinct stamp, so reordering shows too)\n"
        "  bulk     each connection writes a pseudo-random stream and reads at the same\n"
        "           time: MiB/s each way. Echoed bytes are verified; bytes never echoed\n"
        "           back (by the end and its grace) are an error, short_read\n"
        "           (--no-verify for discard or chargen)\n"
        "  connect  connect, one round trip, close with a reset (SO_LINGER 0, so no\n"
        "           TIME_WAIT eats the local ports): connections per second\n"
        "A request counts when its response verified; one that differs is a mismatch, an\n"
        "error. With --udp (echo mode only) every request is one datagram; a datagram not\n"
        "answered within the timeout is lost, counted, and its slot sends the next one (so\n"
        "a lossy server slows a closed loop, never stops it); reordered and duplicated\n"
        "datagrams are counted. Lost datagrams are reported but are not errors.\n"
        "\n"
        "Options:\n"
        "  -c, --conns N        connections (UDP sockets) (default %d)\n"
        "  -s, --size BYTES     request size on the wire, framing included (default %d;\n"
        "                       K and M suffixes; bulk: bytes per counted chunk)\n"
        "  -p, --pipeline N     requests in flight per connection (default 1)\n"
        "  -d, --duration SEC   measure for SEC seconds (default 10); what is in flight\n"
        "                       then gets one grace of 1 s (-w if shorter), no more\n"
        "  -n, --requests N     stop after N requests (with -d: whichever comes first)\n"
        "  -r, --rate N         open loop: N requests/s in all, on a fixed schedule;\n"
        "                       latency counts from each request's intended send time\n"
        "  -t, --threads N      worker threads, one epoll loop each (default: online CPUs)\n"
        "      --frame F        how a response ends: raw (after -s bytes; default), line\n"
        "                       (requests are -s - 1 bytes and '\\n') or len32 (a 4-byte\n"
        "                       big-endian length, then -s - 4 bytes)\n"
        "      --warmup SEC     run SEC seconds before measuring (default 0)\n"
        "  -w, --timeout SEC    connect timeout, and the longest wait for a request in\n"
        "                       flight (no reply: a timeout error); a datagram unanswered\n"
        "                       this long is lost (default 5; 1 with --udp)\n"
        "  -u, --udp            UDP (or Unix datagram) echo\n"
        "      --mode M         echo, bulk or connect\n"
        "      --no-verify      do not check the bytes that come back\n"
        "      --source ADDR    connect from local address ADDR (nc -s); give it several\n"
        "                       times to spread the connections over them in turn, each\n"
        "                       address with its own 64 K ports\n"
        "      --source-port PORT\n"
        "                       connect from local port PORT (nc -p); one connection per\n"
        "                       source address (-c 1, or -c up to the number of --source)\n"
        "      --interval SEC   print a line every SEC seconds: requests/s (bulk: MiB/s\n"
        "                       each way) and errors so far (stderr with --json)\n"
        "      --json           print one JSON object instead of the report\n"
        "      --histogram FILE write the latency distribution (us) in HdrHistogram's\n"
        "                       percentile text format (opened before the run; - for\n"
        "                       stdout, after the report)\n"
        "  -h, --help           show this help\n"
        "\n"
        "Output: the header (what runs) on stdout at the start, a progress line on\n"
        "stderr while running (only on a terminal, without --interval), then the report\n"
        "on stdout: measured time, requests, requests/s, MiB/s, latency\n"
        "min/p50/p90/p99/p99.9/max (\"-\" when nothing verified) and errors by kind\n"
        "(refused, connect_timeout, connect, reset, closed, short_read, timeout,\n"
        "protocol, io) with the mismatches. --json keys:\n"
        "mode, address, transport, conns, threads, size, pipeline, frame, rate, warmup_s,\n"
        "duration_s, requests, rps, mib_per_s, bits_per_s, latency_us {min, p50, p90, p99,\n"
        "p999, max} (null when nothing verified), errors (mismatches included),\n"
        "errors_by_kind (the kinds and mismatch), lost (requests lost with failed\n"
        "connections or timed out; UDP: datagrams too), mismatches; bulk adds\n"
        "mib_per_s_out, mib_per_s_in, bits_per_s_out, bits_per_s_in, bytes_out, bytes_in,\n"
        "bytes_lost; connect adds cps; UDP adds reordered, duplicated, late.\n"
        "\n"
        "Exit status: 0 when every request (or byte) was answered and verified; 1 when\n"
        "nothing was, or on any error: a mismatch, (bulk, verifying) a byte sent and not\n"
        "echoed back, a connection that failed, was reset or timed out, or a runtime\n"
        "error; 2 on a usage error. Lost UDP datagrams are reported but do not change it.\n\n"
        "Examples:\n"
        "  $ sockit serve echo -l 127.0.0.1:5000 &\n"
        "  $ sockit bench -c 50 -d 5 127.0.0.1:5000\n"
        "  $ sockit bench -d 60 --interval 1 127.0.0.1:5000 | tee run.log\n"
        "  $ sockit bench -c 2000 --source 127.0.0.2 --source 127.0.0.3 127.0.0.1:5000\n"
        "  $ sockit bench -p 16 --frame line -n 100000 --json 127.0.0.1:5000\n"
        "  $ sockit bench -r 20000 -c 20 -d 10 --histogram lat.hgrm 127.0.0.1:5000\n"
        "  $ sockit bench --mode bulk -c 4 -s 64K -d 5 unix:/tmp/echo.sock\n"
        "  $ sockit bench --mode connect -c 20 -d 5 127.0.0.1:5000\n"
        "  $ sockit bench --udp -r 10000 -c 10 -d 5 127.0.0.1:5000\n",
        CONNS_DEFAULT, SIZE_DEFAULT);
}

/* ---- request contents ---- */

/* The stamp: 16 bits of connection id above 32 bits of sequence, low nibble first, one
 * letter a-p per nibble (never '\n'); cut to len bytes. */
static void stamp_write(unsigned char *p, size_t len, uint32_t id, uint64_t seq)
{
    uint64_t v = ((uint64_t)(id & 0xffff) << 32) | (seq & 0xffffffffu);
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)('a' + ((v >> (4 * i)) & 0xf));
}

/* Decode a full stamp. Returns 0 and *v, or -1 if a byte is not a-p. */
static int stamp_read(const unsigned char *p, uint64_t *v)
{
    uint64_t x = 0;
    for (size_t i = 0; i < STAMP_LEN; i++) {
        if (p[i] < 'a' || p[i] > 'p')
            return -1;
        x |= (uint64_t)(p[i] - 'a') << (4 * i);
    }
    *v = x;
    return 0;
}

/* Build the request template: a stamp placeholder then a pattern (printable for line,
 * every byte value otherwise), encoded with the framing. Returns 0 or -1 (message). */
static int build_template(struct bench *b)
{
    const struct opts *o = &b->o;
    size_t hdr = o->frame.kind == SK_FRAME_LEN32 ? 4 : 0;
    size_t trailer = o->frame.kind == SK_FRAME_LINE ? 1 : 0;
    size_t plen = o->size - hdr - trailer;
    unsigned char *payload = malloc(plen ? plen : 1);
    b->tmpl = malloc(o->size);
    if (!payload || !b->tmpl) {
        free(payload);
        cli_error("bench: %s", strerror(ENOMEM));
        return -1;
    }
    for (size_t j = 0; j < plen; j++)
        payload[j] = o->frame.kind == SK_FRAME_LINE ? (unsigned char)(' ' + (j * 7 + 3) % 95)
                                                    : (unsigned char)(j * 131 + 17);
    b->stamp_off = hdr;
    b->stamp_len = plen < STAMP_LEN ? plen : STAMP_LEN;
    stamp_write(payload, b->stamp_len, 0, 0);
    sk_buf_t buf;
    sk_buf_init(&buf, o->size);
    sk_framing_t f = o->frame;
    f.max = plen ? plen : 1;
    int r = sk_frame_encode(&f, payload, plen, &buf);
    free(payload);
    if (r < 0 || sk_buf_len(&buf) != o->size) {
        cli_error("bench: encode request: %s", sk_strerror(r < 0 ? r : SK_EBADARG));
        sk_buf_free(&buf);
        return -1;
    }
    memcpy(b->tmpl, sk_buf_data(&buf), o->size);
    sk_buf_free(&buf);
    return 0;
}

/* The bulk stream: byte i is pattern[i % PERIOD]; stored twice so that any piece of at
 * most PERIOD bytes is contiguous. */
static int build_pattern(struct bench *b)
{
    b->pattern = malloc(2 * PERIOD);
    if (!b->pattern) {
        cli_error("bench: %s", strerror(ENOMEM));
        return -1;
    }
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < PERIOD; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b->pattern[i] = b->pattern[i + PERIOD] = (unsigned char)(x >> 24);
    }
    return 0;
}

/* ---- worker: connections ---- */

static enum err_kind io_kind(int e)
{
    if (e == ECONNRESET || e == EPIPE)
        return E_RESET;
    if (e == ECONNREFUSED)
        return E_REFUSED;
    if (e == ETIMEDOUT)
        return E_TIMEOUT;
    return E_IO;
}

static enum err_kind connect_kind(int e)
{
    return e == ECONNREFUSED ? E_REFUSED : e == ETIMEDOUT ? E_CONNECT_TIMEOUT : E_CONNECT;
}

/* One more error for the --interval lines (the worker is the only writer). */
static void live_error(struct worker *w)
{
    __atomic_store_n(&w->live_errors, __atomic_load_n(&w->live_errors, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
}

static void count_mismatch(struct worker *w)
{
    w->st.mismatch++;
    live_error(w);
}

/* Count an error of kind k; the first one with a code (0: none) gives the message. */
static void note_error(struct worker *w, enum err_kind k, int code)
{
    w->st.err[k]++;
    live_error(w);
    if (!w->first_err[0] && code) {
        char a[SK_ADDRSTRLEN];
        snprintf(w->first_err, sizeof w->first_err, "%s %s: %s",
                 k == E_REFUSED || k == E_CONNECT || k == E_CONNECT_TIMEOUT ? "connect" : "bench",
                 sk_addr_str(&w->b->peer, a), sk_strerror(code));
    }
}

static uint64_t epoll_key(const struct worker *w, const struct conn *c)
{
    return ((uint64_t)c->gen << 32) | (uint64_t)(c - w->conns);
}

static void set_events(struct worker *w, struct conn *c, uint32_t ev, int op)
{
    struct epoll_event e = {.events = ev, .data.u64 = epoll_key(w, c)};
    epoll_ctl(w->ep, op, c->fd, &e);
}

static void arm_out(struct worker *w, struct conn *c, int on)
{
    if (c->out_armed == on)
        return;
    c->out_armed = (unsigned char)on;
    set_events(w, c, EPOLLIN | (on ? EPOLLOUT : 0), EPOLL_CTL_MOD);
}

/* Requests in flight that count (timestamp in the measured window). */
static uint64_t counted_inflight(const struct worker *w, const struct conn *c)
{
    uint64_t n = 0;
    for (uint64_t k = c->done; k < c->issued; k++)
        n += c->ts[k % w->b->depth] >= w->b->t_measure;
    return n;
}

/* Close c (with a reset if rst); in-flight requests count as failed, and in bulk mode
 * (verifying) the bytes sent and never echoed are lost. Everything a connection verifies
 * against (the bulk offsets included) starts again from 0 on the next one. */
static void conn_close(struct worker *w, struct conn *c, int rst)
{
    if (c->fd < 0)
        return;
    w->st.failed += counted_inflight(w, c);
    if (w->b->o.mode == MODE_BULK && w->b->o.verify && c->tx > c->rx) {
        w->st.bytes_lost += c->tx - c->rx;
        __atomic_store_n(&w->live_lost, w->st.bytes_lost, __ATOMIC_RELAXED);
    }
    c->tx = c->rx = 0;
    if (rst) {
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    sk_close(c->fd);
    c->fd = -1;
    if (c->state == C_OPEN)
        w->nopen--;
    c->state = C_IDLE;
    c->out_armed = 0;
    c->issued = c->done = c->sent_seq = 0;
    c->sent_off = c->roff = 0;
    c->bad = 0;
}

static void conn_start(struct worker *w, struct conn *c, int64_t now);

/* An established connection failed: count it, close, and reconnect at once (connect
 * mode: the next cycle starts from the scheduler). Returns -1 for `return conn_fail()`. */
static int conn_fail(struct worker *w, struct conn *c, enum err_kind k, int code, int64_t now)
{
    note_error(w, k, code);
    conn_close(w, c, 1);
    c->retry_at = now;
    if (w->b->o.mode != MODE_CONNECT && !w->ending)
        conn_start(w, c, now);
    return -1;
}

/* May a request with timestamp ts be issued? */
static int may_issue(const struct worker *w, int64_t ts)
{
    if (w->ending || ts >= w->b->t_end)
        return 0;
    return !w->has_quota || ts < w->b->t_measure || w->quota > 0;
}

/* Remember that c has requests to send at the end of this iteration. */
static void mark_dirty(struct worker *w, struct conn *c)
{
    c->dirty = 1;
    if (!c->listed) { /* at most once: the list holds nconns entries */
        c->listed = 1;
        w->dirty[w->ndirty++] = (size_t)(c - w->conns);
    }
}

/* Issue the next request on c with timestamp ts (written into its slot, sent at the
 * next flush). */
static void issue(struct worker *w, struct conn *c, int64_t ts, int64_t now)
{
    const struct bench *b = w->b;
    size_t slot = c->issued % b->depth;
    uint64_t seq = c->stamp_seq++;
    stamp_write(c->ring + slot * b->o.size + b->stamp_off, b->stamp_len, c->id, seq);
    c->ts[slot] = ts;
    if (c->issued == c->done)
        c->active_at = now;
    c->issued++;
    if (w->has_quota && ts >= b->t_measure)
        w->quota--;
    if (b->o.udp) { /* a UDP socket never reconnects: seq == issued - 1 */
        c->ustate[slot] = U_PENDING;
        c->useq[slot] = seq;
        c->pending++;
    }
}

/* Room for one more request on c? (Both the unanswered and the unsent requests must
 * fit in the ring.) */
static int conn_has_room(const struct worker *w, const struct conn *c)
{
    if (c->state != C_OPEN)
        return 0;
    if (w->b->o.udp)
        return c->issued - c->low < w->b->depth;
    uint64_t oldest = c->done < c->sent_seq ? c->done : c->sent_seq;
    return c->issued - oldest < w->b->depth;
}

/* Send the unsent requests of a stream connection, as few sendmsg() calls as the
 * kernel allows. Returns 0, or -1 when the connection failed (and was closed). */
static int flush_stream(struct worker *w, struct conn *c, int64_t now)
{
    const struct bench *b = w->b;
    size_t s = b->o.size, ringlen = b->depth * s;
    while (c->sent_seq < c->issued) {
        size_t start = (size_t)(c->sent_seq % b->depth) * s + c->sent_off;
        size_t left = (size_t)(c->issued - c->sent_seq) * s - c->sent_off;
        size_t first = left < ringlen - start ? left : ringlen - start;
        struct iovec iov[2] = {{.iov_base = c->ring + start, .iov_len = first},
                               {.iov_base = c->ring, .iov_len = left - first}};
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = left > first ? 2 : 1};
        ssize_t r = sendmsg(c->fd, &m, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm_out(w, c, 1);
                return 0;
            }
            return conn_fail(w, c, io_kind(errno), -errno, now);
        }
        c->sent_off += (size_t)r;
        c->sent_seq += c->sent_off / s;
        c->sent_off %= s;
    }
    arm_out(w, c, 0);
    return 0;
}

/* Send the unsent datagrams, UDP_BATCH per sendmmsg(). Returns 0. */
static int flush_udp(struct worker *w, struct conn *c, int64_t now)
{
    const struct bench *b = w->b;
    while (c->sent_seq < c->issued) {
        struct mmsghdr mm[UDP_BATCH];
        struct iovec iov[UDP_BATCH];
        unsigned n = 0;
        for (uint64_t k = c->sent_seq; k < c->issued && n < UDP_BATCH; k++, n++) {
            iov[n].iov_base = c->ring + (size_t)(k % b->depth) * b->o.size;
            iov[n].iov_len = b->o.size;
            memset(&mm[n], 0, sizeof mm[n]);
            mm[n].msg_hdr.msg_iov = &iov[n];
            mm[n].msg_hdr.msg_iovlen = 1;
        }
        int r = sendmmsg(c->fd, mm, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                arm_out(w, c, 1);
                return 0;
            }
            /* An earlier datagram's ICMP error, or a send error: this datagram is
             * not sent and will be counted lost. */
            note_error(w, io_kind(errno), -errno);
            c->sent_seq++;
            (void)now;
            continue;
        }
        c->sent_seq += (uint64_t)r;
    }
    arm_out(w, c, 0);
    return 0;
}

static int flush(struct worker *w, struct conn *c, int64_t now)
{
    c->dirty = 0; /* a stale entry in w->dirty then finds nothing to send */
    if (c->fd < 0 || c->state != C_OPEN)
        return 0;
    return w->b->o.udp ? flush_udp(w, c, now) : flush_stream(w, c, now);
}

/* Closed loop: fill c's free slots. */
static void refill(struct worker *w, struct conn *c, int64_t now)
{
    if (w->b->o.rate > 0 || w->b->o.mode == MODE_CONNECT)
        return;
    int any = 0;
    while (conn_has_room(w, c) && may_issue(w, now)) {
        issue(w, c, now, now);
        any = 1;
    }
    if (any)
        mark_dirty(w, c);
}

static void flush_dirty(struct worker *w, int64_t now)
{
    for (size_t i = 0; i < w->ndirty; i++) {
        struct conn *c = &w->conns[w->dirty[i]];
        c->listed = 0;
        if (c->dirty)
            flush(w, c, now);
    }
    w->ndirty = 0;
}

/* The connection is up. */
static void on_connected(struct worker *w, struct conn *c, int64_t now)
{
    c->state = C_OPEN;
    w->nopen++;
    c->active_at = now;
    if (sk_addr_family(&w->b->peer) != AF_UNIX && !w->b->o.udp)
        sk_setsockopt_int(c->fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_events(w, c, EPOLLIN | (w->b->o.mode == MODE_BULK ? EPOLLOUT : 0), EPOLL_CTL_MOD);
    c->out_armed = w->b->o.mode == MODE_BULK;
    if (w->b->o.mode == MODE_CONNECT) {
        flush(w, c, now); /* the cycle's request, issued when the connect started */
        return;
    }
    refill(w, c, now);
}

/* Where connection c binds before connecting: the --source addresses in turn
 * (connection i from source i mod n); NULL without --source or --source-port. */
static const sk_source_t *conn_source(const struct bench *b, const struct conn *c)
{
    return b->nsrcs ? &b->srcs[c->id % b->nsrcs] : NULL;
}

/* Start a non-blocking connect to the winning address (from c's source). A failure is
 * counted and retried RETRY_NS later. */
static void conn_start(struct worker *w, struct conn *c, int64_t now)
{
    const sk_addr_t *a = &w->b->peer;
    c->gen++;
    c->retry_at = now + RETRY_NS;
    int fd = sk_socket(sk_addr_family(a), SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        note_error(w, E_CONNECT, fd);
        w->st.failed += counted_inflight(w, c);
        c->issued = c->done = 0;
        return;
    }
    c->fd = fd;
    c->state = C_CONNECTING;
    c->active_at = now;
    const sk_source_t *src = conn_source(w->b, c);
    int r = sk_source_bind(src, fd, sk_addr_family(a));
    if (r < 0) {
        if (!w->first_err[0]) {
            char as[SK_ADDRSTRLEN], ss[SK_ADDRSTRLEN];
            snprintf(w->first_err, sizeof w->first_err, "connect %s from %s: %s",
                     sk_addr_str(a, as), sk_source_str(src, ss),
                     r == SK_ENOADDR ? "no source address of this family" : sk_strerror(r));
        }
        note_error(w, E_CONNECT, 0);
        conn_close(w, c, 0);
        return;
    }
    r = connect(fd, (const struct sockaddr *)&a->ss, a->len) == 0 ? 0 : -errno;
    if (r == 0 || r == -EINPROGRESS) {
        set_events(w, c, EPOLLOUT, EPOLL_CTL_ADD);
        if (r == 0)
            on_connected(w, c, now);
        return;
    }
    note_error(w, connect_kind(-r), r);
    conn_close(w, c, 0);
}

/* A response is complete: a request done when it verified (or --no-verify), an error
 * (a mismatch) when it did not. */
static void complete(struct worker *w, struct conn *c, int64_t now)
{
    const struct bench *b = w->b;
    int64_t ts = c->ts[c->done % b->depth];
    if (ts >= b->t_measure) {
        if (c->bad) {
            count_mismatch(w);
        } else {
            w->st.ok++;
            sk_hist_record(w->hist, now - ts);
            __atomic_store_n(&w->live_done, w->st.ok, __ATOMIC_RELAXED);
        }
        w->st.last_done = now;
    }
    c->done++;
    c->roff = 0;
    c->bad = 0;
    w->last_progress = now;
}

/* Verify stream bytes p[0..len) as the responses they are. Returns 0, or -1 when the
 * connection failed (and was closed). */
static int consume(struct worker *w, struct conn *c, const unsigned char *p, size_t len,
                   int64_t now)
{
    const struct bench *b = w->b;
    size_t s = b->o.size;
    while (len > 0) {
        if (c->done >= c->issued)
            return conn_fail(w, c, E_PROTO, SK_EPROTO, now); /* nothing was asked */
        const unsigned char *want = c->ring + (size_t)(c->done % b->depth) * s;
        size_t n;
        int end;
        switch (b->o.frame.kind) {
        case SK_FRAME_LINE: {
            const unsigned char *nl = memchr(p, '\n', len);
            n = nl ? (size_t)(nl - p) + 1 : len;
            end = nl != NULL;
            if (!end && c->roff + n > FRAME_LIMIT)
                return conn_fail(w, c, E_PROTO, SK_ETOOBIG, now);
            break;
        }
        case SK_FRAME_LEN32:
            if (c->roff < 4) {
                n = len < 4 - c->roff ? len : 4 - c->roff;
                memcpy(c->hdr + c->roff, p, n);
                end = 0;
                if (c->roff + n == 4) {
                    uint32_t l = (uint32_t)c->hdr[0] << 24 | (uint32_t)c->hdr[1] << 16 |
                                 (uint32_t)c->hdr[2] << 8 | c->hdr[3];
                    if (l > FRAME_LIMIT)
                        return conn_fail(w, c, E_PROTO, SK_ETOOBIG, now);
                    c->rlen = 4 + (size_t)l;
                    end = c->rlen == 4;
                }
            } else {
                n = len < c->rlen - c->roff ? len : c->rlen - c->roff;
                end = c->roff + n == c->rlen;
            }
            break;
        default: /* raw: the next s bytes, which cannot come before they were sent */
            n = len < s - c->roff ? len : s - c->roff;
            end = c->roff + n == s;
            if (c->done == c->sent_seq && c->roff + n > c->sent_off)
                return conn_fail(w, c, E_PROTO, SK_EPROTO, now);
            break;
        }
        if (b->o.verify && !c->bad) {
            if (c->roff >= s) {
                c->bad = 1;
            } else {
                size_t m = n < s - c->roff ? n : s - c->roff;
                if (m < n || memcmp(p, want + c->roff, m) != 0)
                    c->bad = 1;
            }
        }
        c->roff += n;
        p += n;
        len -= n;
        if (end) {
            if (c->roff != s)
                c->bad = 1;
            complete(w, c, now);
            if (b->o.mode == MODE_CONNECT) {
                conn_close(w, c, 1); /* one round trip per connection */
                c->retry_at = now;
                return -1;
            }
        }
    }
    c->active_at = now;
    return 0;
}

/* Readable stream connection (echo, connect). */
static void on_readable(struct worker *w, struct conn *c)
{
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t r = recv(c->fd, w->scratch, SCRATCH_LEN, 0);
        int64_t now = cli_now_ns();
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_fail(w, c, io_kind(errno), -errno, now);
            return;
        }
        if (r == 0) { /* the peer closed: mid-response, or with nothing asked */
            int mid = c->done < c->issued;
            conn_fail(w, c, mid ? E_SHORT : E_CLOSED, SK_EEOF, now);
            return;
        }
        if (consume(w, c, w->scratch, (size_t)r, now) < 0)
            return;
        refill(w, c, now);
        if ((size_t)r < SCRATCH_LEN)
            return;
    }
}

/* ---- bulk ---- */

static void bulk_write(struct worker *w, struct conn *c, int64_t now)
{
    const struct bench *b = w->b;
    size_t budget = WRITE_BUDGET;
    while (budget > 0) {
        int measuring = now >= b->t_measure;
        if (!may_issue(w, now)) {
            arm_out(w, c, 0);
            return;
        }
        size_t off = (size_t)(c->tx % PERIOD);
        size_t n = PERIOD < budget ? PERIOD : budget;
        if (w->has_quota && measuring && n > w->quota)
            n = (size_t)w->quota;
        ssize_t r = send(c->fd, b->pattern + off, n, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_fail(w, c, io_kind(errno), -errno, now);
            return;
        }
        c->tx += (uint64_t)r;
        budget -= (size_t)r;
        if (measuring && now < b->t_end) {
            w->st.bytes_out += (uint64_t)r;
            __atomic_store_n(&w->live_out, w->st.bytes_out, __ATOMIC_RELAXED);
            if (w->has_quota)
                w->quota -= (uint64_t)r;
        }
        w->last_progress = now;
    }
}

static void bulk_read(struct worker *w, struct conn *c)
{
    const struct bench *b = w->b;
    for (int i = 0; i < READS_PER_WAKE; i++) {
        ssize_t r = recv(c->fd, w->scratch, SCRATCH_LEN, 0);
        int64_t now = cli_now_ns();
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                conn_fail(w, c, io_kind(errno), -errno, now);
            return;
        }
        if (r == 0) { /* a FIN, not a reset */
            conn_fail(w, c, E_CLOSED, SK_EEOF, now);
            return;
        }
        size_t len = (size_t)r;
        if (b->o.verify) {
            if (c->rx + len > c->tx) {
                conn_fail(w, c, E_PROTO, SK_EPROTO, now); /* more than was sent */
                return;
            }
            int bad = 0;
            for (size_t done = 0; done < len && !bad;) {
                size_t off = (size_t)((c->rx + done) % PERIOD);
                size_t n = len - done < PERIOD ? len - done : PERIOD;
                bad = memcmp(w->scratch + done, b->pattern + off, n) != 0;
                done += n;
            }
            if (bad && now >= b->t_measure)
                count_mismatch(w);
        }
        c->rx += len;
        if (now >= b->t_measure && now < b->t_end) {
            w->st.bytes_in += len;
            __atomic_store_n(&w->live_in, w->st.bytes_in, __ATOMIC_RELAXED);
        }
        c->active_at = now;
        w->last_progress = now;
        if (len < SCRATCH_LEN)
            return;
    }
}

/* ---- UDP ---- */

/* Advance c->low past the slots that are no longer pending. */
static void udp_advance(const struct worker *w, struct conn *c)
{
    while (c->low < c->issued && c->ustate[c->low % w->b->depth] != U_PENDING)
        c->low++;
}

static void udp_datagram(struct worker *w, struct conn *c, const unsigned char *p, size_t n,
                         int64_t now)
{
    const struct bench *b = w->b;
    int counting = now >= b->t_measure;
    uint64_t v;
    if (n < b->stamp_off + STAMP_LEN || stamp_read(p + b->stamp_off, &v) < 0 ||
        (v >> 32) != (c->id & 0xffff)) {
        if (counting)
            count_mismatch(w); /* not one of ours: a corrupted or foreign stamp */
        return;
    }
    uint32_t seq32 = (uint32_t)v;
    size_t slot = seq32 % b->depth;
    if ((uint32_t)c->useq[slot] != seq32 || c->ustate[slot] == U_FREE) {
        /* Answered after it was declared lost (or after its slot was reused); a
         * sequence never sent is a corrupted stamp. */
        if (counting && seq32 >= (uint32_t)c->issued)
            count_mismatch(w);
        else if (counting)
            w->st.late++;
        return;
    }
    if (c->ustate[slot] == U_ANSWERED) {
        if (counting)
            w->st.duplicated++;
        return;
    }
    uint64_t seq = c->useq[slot];
    int64_t ts = c->ts[slot];
    c->ustate[slot] = U_ANSWERED;
    c->pending--;
    if (ts >= b->t_measure) {
        int bad = b->o.verify &&
                  (n != b->o.size || memcmp(p, c->ring + slot * b->o.size, b->o.size) != 0);
        if (bad) {
            count_mismatch(w);
        } else {
            w->st.ok++;
            sk_hist_record(w->hist, now - ts);
            __atomic_store_n(&w->live_done, w->st.ok, __ATOMIC_RELAXED);
        }
        if (c->answered_any && seq < c->max_answered)
            w->st.reordered++;
        w->st.last_done = now;
    }
    if (!c->answered_any || seq > c->max_answered)
        c->max_answered = seq;
    c->answered_any = 1;
    c->active_at = now;
    w->last_progress = now;
    udp_advance(w, c);
}

static void udp_read(struct worker *w, struct conn *c)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        ssize_t r = recv(c->fd, w->scratch, SCRATCH_LEN, 0);
        int64_t now = cli_now_ns();
        if (r < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                break;
            note_error(w, io_kind(errno), -errno); /* ICMP: refused; the socket goes on */
            continue;
        }
        udp_datagram(w, c, w->scratch, (size_t)r, now);
    }
    refill(w, c, cli_now_ns());
}

/* Datagrams unanswered for the timeout are lost. */
static void udp_expire(struct worker *w, struct conn *c, int64_t now)
{
    const struct bench *b = w->b;
    while (c->low < c->issued) {
        size_t slot = c->low % b->depth;
        if (c->ustate[slot] == U_PENDING) {
            if (now - c->ts[slot] < b->timeout_ns || c->low >= c->sent_seq)
                break;
            c->ustate[slot] = U_FREE;
            c->pending--;
            if (c->ts[slot] >= b->t_measure) {
                w->st.lost++;
                __atomic_store_n(&w->live_lost, w->st.lost, __ATOMIC_RELAXED);
            }
        }
        c->low++;
    }
}

/* ---- worker: the loop ---- */

static void on_event(struct worker *w, struct conn *c, uint32_t ev)
{
    int64_t now = cli_now_ns();
    if (c->state == C_CONNECTING) {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0)
            e = errno;
        if (e) {
            note_error(w, connect_kind(e), -e);
            conn_close(w, c, 0);
            return;
        }
        if (ev & EPOLLOUT)
            on_connected(w, c, now);
        return;
    }
    if (c->state != C_OPEN)
        return;
    if (w->b->o.udp) {
        if (ev & (EPOLLIN | EPOLLERR))
            udp_read(w, c);
        if (ev & EPOLLOUT)
            flush(w, c, now);
        return;
    }
    if (w->b->o.mode == MODE_BULK) {
        if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
            bulk_read(w, c);
        if (c->state == C_OPEN && (ev & EPOLLOUT))
            bulk_write(w, c, now);
        return;
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
        on_readable(w, c);
    /* The requests the responses made room for go out now, in one send: waiting for
     * the rest of the batch would only idle the server. */
    if (c->state == C_OPEN && (c->dirty || (ev & EPOLLOUT)))
        flush(w, c, now);
}

/* Open loop: hand every request that is due to a connection with room. Returns 1 when
 * a due request found every connection busy (it then waits for a completion), else 0. */
static int schedule(struct worker *w, int64_t now)
{
    const struct bench *b = w->b;
    while (w->sched_next <= now && may_issue(w, w->sched_next)) {
        struct conn *c = NULL;
        for (size_t k = 0; k < w->nconns; k++) {
            struct conn *x = &w->conns[(w->rr + k) % w->nconns];
            int ok = b->o.mode == MODE_CONNECT ? x->state == C_IDLE && x->retry_at <= now
                                               : conn_has_room(w, x);
            if (ok) {
                c = x;
                w->rr = (w->rr + k + 1) % w->nconns;
                break;
            }
        }
        if (!c)
            return 1; /* every connection is busy: the due requests wait, and it counts */
        int64_t ts = w->sched_next;
        w->sched_next += w->interval_ns;
        issue(w, c, ts, now);
        if (b->o.mode == MODE_CONNECT)
            conn_start(w, c, now);
        else
            mark_dirty(w, c);
    }
    return 0;
}

/* Closed-loop connect mode: start a cycle on every idle connection whose retry time
 * has come. */
static void connect_cycles(struct worker *w, int64_t now)
{
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_IDLE && c->retry_at <= now && may_issue(w, now)) {
            issue(w, c, now, now);
            conn_start(w, c, now);
        }
    }
}

/* The first error's message for requests that got no reply within sec seconds. */
static void no_reply(struct worker *w, double sec)
{
    char a[SK_ADDRSTRLEN];
    if (!w->first_err[0])
        snprintf(w->first_err, sizeof w->first_err, "bench %s: no reply within %g s",
                 sk_addr_str(&w->b->peer, a), sec);
}

/* Housekeeping: stalled requests and connects, retries, UDP losses. */
static void tick(struct worker *w, int64_t now)
{
    const struct bench *b = w->b;
    w->next_tick = now + TICK_NS;
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (b->o.udp) {
            if (c->state == C_OPEN) {
                udp_expire(w, c, now);
                refill(w, c, now); /* closed loop: a lost datagram's slot sends again */
            }
            continue;
        }
        if (c->state == C_CONNECTING && now - c->active_at >= b->timeout_ns) {
            note_error(w, E_CONNECT_TIMEOUT, -ETIMEDOUT);
            conn_close(w, c, 1);
        } else if (c->state == C_OPEN && c->done < c->issued &&
                   now - c->active_at >= b->timeout_ns) {
            /* Connected, but the server answers nothing: not a connect error. */
            no_reply(w, b->o.timeout);
            conn_fail(w, c, E_TIMEOUT, 0, now);
        } else if (c->state == C_IDLE && b->o.mode != MODE_CONNECT && !w->ending &&
                   c->retry_at <= now) {
            conn_start(w, c, now);
        }
    }
    if (!w->ending && now - w->last_progress >= 2 * b->timeout_ns) {
        /* Nothing completed (bulk: no byte moved) for twice the timeout: the server is
         * dead or answers nothing. Give up rather than retry forever. */
        w->ending = 1;
        w->end_at = w->hard_end = now;
        if (!w->first_err[0])
            snprintf(w->first_err, sizeof w->first_err,
                     "bench: no response for %.1f s; giving up", 2 * b->o.timeout);
    }
}

/* Anything still in flight? */
static int busy(const struct worker *w)
{
    for (size_t i = 0; i < w->nconns; i++) {
        const struct conn *c = &w->conns[i];
        if (w->b->o.mode == MODE_BULK) {
            if (w->b->o.verify && c->state == C_OPEN && c->rx < c->tx)
                return 1; /* echoes still to come */
        } else if (w->b->o.udp ? c->pending > 0 : (c->done < c->issued && c->state != C_IDLE)) {
            return 1;
        }
    }
    return 0;
}

/* When the run that is ending now must stop waiting for what is in flight: the timeout
 * after the last request of -n; but a run with a duration (or a stop signal) ends at
 * most one grace of min(GRACE_NS, -w) after it, whatever -w says. */
static int64_t end_deadline(const struct bench *b, int64_t now)
{
    int64_t grace = b->timeout_ns < GRACE_NS ? b->timeout_ns : GRACE_NS;
    int64_t end = now + b->timeout_ns;
    int64_t cap = stopping() ? now : b->t_end;
    if (cap != INT64_MAX) {
        cap = (cap > now ? cap : now) + grace;
        if (cap < end)
            end = cap;
    }
    return end;
}

/* The grace is over: what is still in flight is lost (UDP), timed out (requests), or
 * never echoed (bulk: one short_read per connection). */
static void end_inflight(struct worker *w, int64_t now)
{
    const struct bench *b = w->b;
    uint64_t bytes = 0;
    int64_t oldest = now;
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (b->o.mode == MODE_BULK) {
            if (b->o.verify && c->state == C_OPEN && c->rx < c->tx) {
                bytes += c->tx - c->rx; /* lost at the close that follows */
                note_error(w, E_SHORT, 0);
            }
        } else if (b->o.udp) {
            w->st.lost += c->pending;
        } else {
            uint64_t k = counted_inflight(w, c);
            w->st.timeouts_at_end += k;
            if (k && c->ts[c->done % b->depth] < oldest)
                oldest = c->ts[c->done % b->depth];
        }
    }
    char a[SK_ADDRSTRLEN];
    if (bytes && !w->first_err[0])
        snprintf(w->first_err, sizeof w->first_err,
                 "bench %s: bytes sent were not echoed back within %g s of the end",
                 sk_addr_str(&b->peer, a), round((double)(now - w->end_at) / 1e6) / 1e3);
    if (w->st.timeouts_at_end) {
        w->st.err[E_TIMEOUT] += w->st.timeouts_at_end;
        no_reply(w, round((double)(now - oldest) / 1e6) / 1e3);
    }
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    const struct bench *b = w->b;
    struct epoll_event evs[EVENTS_MAX];
    int64_t now = cli_now_ns();
    w->next_tick = now + TICK_NS;
    w->last_progress = now;
    w->sched_next = b->t_begin + (w->interval_ns * w->idx) / (int64_t)(b->o.threads > 0 ? b->o.threads : 1);
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->state == C_OPEN) {
            c->state = C_CONNECTING; /* on_connected counts it open */
            set_events(w, c, EPOLLOUT, EPOLL_CTL_ADD);
            on_connected(w, c, now);
        } else if (b->o.mode != MODE_CONNECT) {
            c->retry_at = now; /* its first connect failed: retry in the loop */
        }
    }
    flush_dirty(w, now);
    for (;;) {
        now = cli_now_ns();
        if (!w->ending && (stopping() || now >= b->t_end ||
                           (w->has_quota && w->quota == 0 && now >= b->t_measure))) {
            w->ending = 1;
            w->end_at = now;
            w->hard_end = end_deadline(b, now);
        }
        if (w->ending) {
            if (!busy(w))
                break;
            if (now >= w->hard_end) {
                end_inflight(w, now);
                break;
            }
        }
        if (now >= w->next_tick)
            tick(w, now);
        int blocked = 0;
        if (b->o.rate > 0)
            blocked = schedule(w, now);
        else if (b->o.mode == MODE_CONNECT)
            connect_cycles(w, now);
        flush_dirty(w, now);

        int64_t until = w->next_tick;
        now = cli_now_ns();
        /* The next request's time (which may have come already: then no wait at all),
         * unless it waits for a busy connection: then a completion (an event) frees one. */
        if (b->o.rate > 0 && !blocked && may_issue(w, w->sched_next) && w->sched_next < until)
            until = w->sched_next;
        if (!w->ending && b->t_end < until)
            until = b->t_end;
        if (w->ending && w->hard_end < until)
            until = w->hard_end;
        if (w->has_quota && !w->ending && b->t_measure > now && b->t_measure < until)
            until = b->t_measure;
        /* Nanosecond timeouts: an open-loop schedule must not be rounded to ms. */
        int64_t wait = until <= now ? 0 : until - now;
        struct timespec tmo = {.tv_sec = wait / 1000000000, .tv_nsec = wait % 1000000000};
        int n = epoll_pwait2(w->ep, evs, EVENTS_MAX, &tmo, NULL);
        if (n < 0 && errno == ENOSYS) { /* kernels before 5.11 */
            n = epoll_wait(w->ep, evs, EVENTS_MAX, (int)((wait + 999999) / 1000000));
        }
        if (n < 0 && errno != EINTR) {
            snprintf(w->first_err, sizeof w->first_err, "epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            uint64_t key = evs[i].data.u64;
            size_t idx = (size_t)(key & 0xffffffffu);
            struct conn *c = &w->conns[idx];
            if ((uint32_t)(key >> 32) != c->gen || c->fd < 0)
                continue; /* an event for a socket closed earlier in this batch */
            on_event(w, c, evs[i].events);
        }
        flush_dirty(w, cli_now_ns());
    }
    w->finished_at = cli_now_ns();
    for (size_t i = 0; i < w->nconns; i++) {
        struct conn *c = &w->conns[i];
        if (c->fd >= 0) {
            uint64_t saved = w->st.failed;
            conn_close(w, c, b->o.mode == MODE_CONNECT);
            w->st.failed = saved; /* in-flight requests at the end were counted above */
        }
    }
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* ---- setup ---- */

/* Raise RLIMIT_NOFILE toward `need` descriptors. Returns 0, or -1 if it cannot be had. */
static int fd_budget(size_t need)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return 0;
    rlim_t want = (rlim_t)need + FD_HEADROOM;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= want)
        return 0;
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
        cli_error("bench: %zu connections need %llu descriptors; the limit is %llu",
                  need, (unsigned long long)want, (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        cli_error("bench: setrlimit: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/*
 * The first connection of each stream, raced over every address (Happy Eyeballs), all
 * from one poll() like probe. fds[i] gets the socket or -1; failures are counted in
 * errs[] and the first one's message kept in err. Returns how many connected.
 */
static size_t connect_all(struct bench *b, const sk_addr_t *addrs, size_t naddrs, int *fds,
                          size_t n, uint64_t *errs, char *err)
{
    sk_connector_t **cs = calloc(n, sizeof *cs);
    size_t per = naddrs < SK_ADDRLIST_MAX ? naddrs : SK_ADDRLIST_MAX;
    struct pollfd *pfds = calloc(n * per + 1, sizeof *pfds);
    size_t ok = 0, left = n;
    if (!cs || !pfds) {
        free(cs);
        free(pfds);
        for (size_t i = 0; i < n; i++)
            fds[i] = -1;
        errs[E_CONNECT] += n;
        snprintf(err, SK_ERRLEN, "bench: %s", strerror(ENOMEM));
        return 0;
    }
    double timeout = b->o.timeout;
    for (size_t i = 0; i < n; i++) {
        fds[i] = -1;
        cs[i] = sk_connector_new(addrs, naddrs, SK_HE_DELAY, timeout);
        if (cs[i] && b->nsrcs)
            sk_connector_set_source(cs[i], &b->srcs[i % b->nsrcs]);
    }
    /* The timeout and a grace; with a duration, no longer than the run itself would be. */
    int64_t wait = b->timeout_ns;
    if (b->o.has_duration && (b->o.warmup + b->o.duration) * 1e9 < (double)wait)
        wait = (int64_t)((b->o.warmup + b->o.duration) * 1e9);
    int64_t deadline = cli_now_ns() + wait + (b->timeout_ns < GRACE_NS ? b->timeout_ns : GRACE_NS);
    while (left > 0) {
        size_t np = 0;
        int ms = -1;
        for (size_t i = 0; i < n; i++) {
            if (!cs[i])
                continue;
            char e[SK_ERRLEN];
            sk_addr_t peer;
            int r = sk_connector_step(cs[i], &peer, e);
            if (r == 0) {
                np += sk_connector_pollfds(cs[i], pfds + np, per);
                int t = sk_connector_timeout_ms(cs[i]);
                if (t >= 0 && (ms < 0 || t < ms))
                    ms = t;
                continue;
            }
            if (r > 0) {
                fds[i] = r;
                if (ok++ == 0)
                    b->peer = peer;
            } else {
                errs[connect_kind(-r)]++;
                if (!err[0])
                    snprintf(err, SK_ERRLEN, "%s", e);
            }
            sk_connector_free(cs[i]);
            cs[i] = NULL;
            left--;
        }
        if (left == 0)
            break;
        int64_t now = cli_now_ns();
        if (now >= deadline) {
            for (size_t i = 0; i < n; i++)
                if (cs[i]) {
                    sk_connector_free(cs[i]);
                    cs[i] = NULL;
                    errs[E_CONNECT_TIMEOUT]++;
                }
            if (!err[0])
                snprintf(err, SK_ERRLEN, "connect %s: %s", b->o.addr, strerror(ETIMEDOUT));
            break;
        }
        int cap = (int)((deadline - now) / 1000000) + 1;
        if (ms < 0 || ms > cap)
            ms = cap;
        if (ms > 100)
            ms = 100;
        if (poll(pfds, np, ms) < 0 && errno != EINTR)
            break;
        if (stopping())
            deadline = now;
    }
    free(cs);
    free(pfds);
    return ok;
}

/* UDP: one connected, non-blocking datagram socket per stream. */
static size_t connect_udp(struct bench *b, const sk_endpoint_t *ep, int *fds, size_t n,
                          uint64_t *errs, char *err)
{
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        char e[SK_ERRLEN];
        sk_addr_t peer;
        const sk_source_t *src = b->nsrcs ? &b->srcs[i % b->nsrcs] : NULL;
        int r = sk_connect_endpoint_from(ep, SOCK_DGRAM, 0, src, &peer, e);
        fds[i] = r >= 0 ? r : -1;
        if (r >= 0) {
            if (ok++ == 0)
                b->peer = peer;
            continue;
        }
        errs[SK_IS_EAI(r) ? E_CONNECT : connect_kind(-r)]++;
        if (!err[0])
            snprintf(err, SK_ERRLEN, "%s", e);
        if (SK_IS_EAI(r))
            break;
    }
    return ok;
}

/* ---- report ---- */

struct report {
    struct stats st;
    sk_hist_t *hist;
    double elapsed;
    uint64_t errors;
};

/* A latency in ns as "80.1 us", "1.2 ms" or "1.50 s". */
static const char *fmt_lat(int64_t ns, char *buf, size_t len)
{
    if (ns < 1000000)
        snprintf(buf, len, "%.1f us", (double)ns / 1e3);
    else if (ns < 1000000000)
        snprintf(buf, len, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, len, "%.2f s", (double)ns / 1e9);
    return buf;
}

static const char *transport(const struct bench *b)
{
    int unix_ = sk_addr_family(&b->peer) == AF_UNIX;
    if (b->o.udp)
        return unix_ ? "unix-dgram" : "udp";
    return unix_ ? "unix" : "tcp";
}

/* What the run is, in one line: printed before it starts (to stdout, so that a piped run
 * says what it is doing at once; stderr with --json). */
static void print_header(const struct bench *b, const char *addr, FILE *f)
{
    const struct opts *o = &b->o;
    char fr[24];
    fprintf(f, "sockit bench %s: %s%s, %ld conns x %zu B", addr, mode_names[o->mode],
            o->udp ? " (udp)" : "", o->conns, o->size);
    if (o->mode == MODE_ECHO)
        fprintf(f, ", pipeline %ld", o->pipeline);
    if (o->frame.kind != SK_FRAME_RAW)
        fprintf(f, ", %s", sk_framing_name(&o->frame, fr, sizeof fr));
    if (o->rate > 0)
        fprintf(f, ", rate %g/s", o->rate);
    if (b->nsrcs == 1) {
        char sb[SK_ADDRSTRLEN];
        fprintf(f, ", from %s", sk_source_str(&b->srcs[0], sb));
    } else if (b->nsrcs > 1) {
        fprintf(f, ", from %zu source addresses", b->nsrcs);
    }
    fprintf(f, ", %ld threads, ", o->threads);
    if (o->requests)
        fprintf(f, "%" PRIu64 " %s%s", o->requests, o->mode == MODE_BULK ? "chunks" : "requests",
                o->has_duration ? " or " : "");
    if (o->has_duration)
        fprintf(f, "%g s", o->duration);
    if (o->warmup > 0)
        fprintf(f, " after %g s of warmup", o->warmup);
    fprintf(f, "\n");
    fflush(f);
}

/* The report after the header: the measured time, rates, latency, errors. */
static void print_text(const struct bench *b, const struct report *r)
{
    const struct opts *o = &b->o;
    const struct stats *st = &r->st;
    uint64_t reqs = st->ok;
    double el = r->elapsed > 0 ? r->elapsed : 1e-9;
    printf("  measured   %.3f s\n", r->elapsed);
    if (o->mode == MODE_BULK) {
        double out = (double)st->bytes_out / 1048576.0, in = (double)st->bytes_in / 1048576.0;
        printf("  bytes      out %.1f MiB (%.1f MiB/s)  in %.1f MiB (%.1f MiB/s)\n", out,
               out / el, in, in / el);
        printf("  chunks     %" PRIu64 "   %.1f/s\n", st->bytes_out / o->size,
               (double)(st->bytes_out / o->size) / el);
    } else {
        printf("  %-10s %" PRIu64 "   %.1f/s   %.1f MiB/s each way\n",
               o->mode == MODE_CONNECT ? "connects" : "requests", reqs, (double)reqs / el,
               (double)reqs * (double)o->size / 1048576.0 / el);
        char a[6][32];
        const sk_hist_t *h = r->hist;
        if (sk_hist_count(h) == 0)
            printf("  latency    - (no %s verified)\n",
                   o->mode == MODE_CONNECT ? "connect" : "request");
        else
            printf("  latency    min %s  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
                   fmt_lat(sk_hist_min(h), a[0], 32), fmt_lat(sk_hist_value_at(h, 50), a[1], 32),
                   fmt_lat(sk_hist_value_at(h, 90), a[2], 32),
                   fmt_lat(sk_hist_value_at(h, 99), a[3], 32),
                   fmt_lat(sk_hist_value_at(h, 99.9), a[4], 32),
                   fmt_lat(sk_hist_max(h), a[5], 32));
    }
    if (o->udp)
        printf("  datagrams  lost %" PRIu64 "  reordered %" PRIu64 "  duplicated %" PRIu64
               "  late %" PRIu64 "\n",
               st->lost, st->reordered, st->duplicated, st->late);
    printf("  errors     %" PRIu64 " (mismatches %" PRIu64 ")", r->errors, st->mismatch);
    const char *sep = ": ";
    for (int k = 0; k < E_COUNT; k++)
        if (st->err[k]) {
            printf("%s%s %" PRIu64, sep, err_names[k], st->err[k]);
            sep = ", ";
        }
    if (st->failed + st->timeouts_at_end)
        printf("; %" PRIu64 " requests lost with them", st->failed + st->timeouts_at_end);
    if (st->bytes_lost)
        printf("; %" PRIu64 " bytes sent were never echoed back", st->bytes_lost);
    printf("\n");
}

/* A JSON string (the address: printable ASCII expected; anything else escaped). */
static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

/* A latency in us, or null when none was measured. */
static void json_lat(const char *key, const sk_hist_t *h, double pct, int last)
{
    printf("\"%s\": ", key);
    if (sk_hist_count(h) == 0)
        printf("null");
    else
        printf("%.3f", (double)(pct < 0 ? sk_hist_min(h) : pct > 100 ? sk_hist_max(h)
                                                                      : sk_hist_value_at(h, pct)) /
                           1e3);
    printf("%s", last ? "}" : ", ");
}

static void print_json(const struct bench *b, const struct report *r, const char *addr)
{
    const struct opts *o = &b->o;
    const struct stats *st = &r->st;
    const sk_hist_t *h = r->hist;
    char fr[24];
    double el = r->elapsed > 0 ? r->elapsed : 1e-9;
    uint64_t reqs = o->mode == MODE_BULK ? st->bytes_out / o->size : st->ok;
    double bytes = o->mode == MODE_BULK ? (double)st->bytes_out : (double)reqs * (double)o->size;
    printf("{\"mode\": \"%s\", \"address\": ", mode_names[o->mode]);
    json_str(addr);
    printf(", \"transport\": \"%s\", \"conns\": %ld, \"threads\": %ld, \"size\": %zu, "
           "\"pipeline\": %ld, \"frame\": \"%s\", ",
           transport(b), o->conns, o->threads, o->size, o->pipeline,
           sk_framing_name(&o->frame, fr, sizeof fr));
    if (o->rate > 0)
        printf("\"rate\": %.3f, ", o->rate);
    else
        printf("\"rate\": null, ");
    printf("\"warmup_s\": %.3f, \"duration_s\": %.6f, \"requests\": %" PRIu64
           ", \"rps\": %.3f, \"mib_per_s\": %.3f, \"bits_per_s\": %.0f, ",
           o->warmup, r->elapsed, reqs, (double)reqs / el, bytes / 1048576.0 / el,
           bytes * 8 / el);
    printf("\"latency_us\": {");
    json_lat("min", h, -1, 0);
    json_lat("p50", h, 50, 0);
    json_lat("p90", h, 90, 0);
    json_lat("p99", h, 99, 0);
    json_lat("p999", h, 99.9, 0);
    json_lat("max", h, 101, 1);
    printf(", \"errors\": %" PRIu64 ", \"errors_by_kind\": {", r->errors);
    for (int k = 0; k < E_COUNT; k++)
        printf("\"%s\": %" PRIu64 ", ", err_names[k], st->err[k]);
    printf("\"mismatch\": %" PRIu64 "}, \"lost\": %" PRIu64 ", \"mismatches\": %" PRIu64,
           st->mismatch, st->failed + st->timeouts_at_end + st->lost, st->mismatch);
    if (o->mode == MODE_BULK)
        printf(", \"mib_per_s_out\": %.3f, \"mib_per_s_in\": %.3f, \"bits_per_s_out\": %.0f, "
               "\"bits_per_s_in\": %.0f, \"bytes_out\": %" PRIu64 ", \"bytes_in\": %" PRIu64
               ", \"bytes_lost\": %" PRIu64,
               (double)st->bytes_out / 1048576.0 / el, (double)st->bytes_in / 1048576.0 / el,
               (double)st->bytes_out * 8 / el, (double)st->bytes_in * 8 / el, st->bytes_out,
               st->bytes_in, st->bytes_lost);
    if (o->mode == MODE_CONNECT)
        printf(", \"cps\": %.3f", (double)reqs / el);
    if (o->udp)
        printf(", \"reordered\": %" PRIu64 ", \"duplicated\": %" PRIu64 ", \"late\": %" PRIu64,
               st->reordered, st->duplicated, st->late);
    printf("}\n");
}

static void merge_stats(struct stats *d, const struct stats *s)
{
    d->ok += s->ok;
    d->mismatch += s->mismatch;
    d->failed += s->failed;
    d->timeouts_at_end += s->timeouts_at_end;
    for (int k = 0; k < E_COUNT; k++)
        d->err[k] += s->err[k];
    d->bytes_out += s->bytes_out;
    d->bytes_in += s->bytes_in;
    d->bytes_lost += s->bytes_lost;
    d->lost += s->lost;
    d->reordered += s->reordered;
    d->duplicated += s->duplicated;
    d->late += s->late;
    if (s->last_done > d->last_done)
        d->last_done = s->last_done;
}

/* ---- options ---- */

/* Parse a number of `unit` in [min, max] (seconds, requests per second). Returns 0, or
 * -1 after printing "invalid WHAT 'TEXT' (expected UNIT, MIN to MAX)". */
static int parse_real(const char *what, const char *unit, const char *text, double min,
                      double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max) {
        cli_error("invalid %s '%s' (expected %s, %.15g to %.15g)", what, text, unit, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
    static const struct option longopts[] = {
        {"conns", required_argument, NULL, 'c'},     {"size", required_argument, NULL, 's'},
        {"pipeline", required_argument, NULL, 'p'},  {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},  {"rate", required_argument, NULL, 'r'},
        {"threads", required_argument, NULL, 't'},   {"timeout", required_argument, NULL, 'w'},
        {"udp", no_argument, NULL, 'u'},             {"frame", required_argument, NULL, 'F'},
        {"warmup", required_argument, NULL, 'W'},    {"mode", required_argument, NULL, 'M'},
        {"json", no_argument, NULL, 'J'},            {"histogram", required_argument, NULL, 'H'},
        {"no-verify", no_argument, NULL, 'V'},       {"help", no_argument, NULL, 'h'},
        {"interval", required_argument, NULL, 'I'},  {"source", required_argument, NULL, 'S'},
        {"source-port", required_argument, NULL, 'P'},
        {NULL, 0, NULL, 0},
    };
    const char *frame = NULL, *mode = NULL;
    long v;
    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":c:s:p:d:n:r:t:w:uh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (cli_parse_int("connection count", optarg, 1, CONNS_MAX, &o->conns) < 0)
                return EXIT_USAGE;
            break;
        case 's':
            if (cli_parse_size("size", optarg, 1, SIZE_LIMIT, &o->size) < 0)
                return EXIT_USAGE;
            break;
        case 'p':
            if (cli_parse_int("pipeline depth", optarg, 1, PIPELINE_MAX, &o->pipeline) < 0)
                return EXIT_USAGE;
            break;
        case 'd':
            if (parse_real("duration", "seconds", optarg, 0.001, 1e6, &o->duration) < 0)
                return EXIT_USAGE;
            o->has_duration = 1;
            break;
        case 'n':
            if (cli_parse_int("request count", optarg, 1, LONG_MAX, &v) < 0)
                return EXIT_USAGE;
            o->requests = (uint64_t)v;
            break;
        case 'r':
            if (parse_real("rate", "requests per second", optarg, 0.001, 1e8, &o->rate) < 0)
                return EXIT_USAGE;
            break;
        case 't':
            if (cli_parse_int("thread count", optarg, 1, THREADS_MAX, &o->threads) < 0)
                return EXIT_USAGE;
            break;
        case 'w':
            if (parse_real("timeout", "seconds", optarg, 0.001, 3600, &o->timeout) < 0)
                return EXIT_USAGE;
            o->has_timeout = 1;
            break;
        case 'u':
            o->udp = 1;
            break;
        case 'F':
            frame = optarg;
            break;
        case 'W':
            if (parse_real("warmup", "seconds", optarg, 0, 1e6, &o->warmup) < 0)
                return EXIT_USAGE;
            break;
        case 'M':
            mode = optarg;
            break;
        case 'J':
            o->json = 1;
            break;
        case 'H':
            o->histfile = optarg;
            break;
        case 'V':
            o->verify = 0;
            break;
        case 'I':
            if (parse_real("interval", "seconds", optarg, INTERVAL_MIN, 1e6, &o->interval) < 0)
                return EXIT_USAGE;
            break;
        case 'S':
            if (o->nsources == SOURCES_MAX)
                return cli_usage("bench", "--source is given more than %d times", SOURCES_MAX);
            if (!optarg[0])
                return cli_usage("bench", "--source needs an address");
            o->sources[o->nsources++] = optarg;
            break;
        case 'P':
            if (cli_parse_port("source port", optarg, &o->source_port) < 0)
                return EXIT_USAGE;
            break;
        case 'h':
            bench_help();
            return -1;
        default:
            return cli_bad_option("bench", c, argv);
        }
    }
    if (argc - optind < 1)
        return cli_usage("bench", "missing ADDR");
    if (argc - optind > 1)
        return cli_usage("bench", "unexpected argument '%s'", argv[optind + 1]);
    o->addr = argv[optind];
    if (mode) {
        if (strcmp(mode, "echo") == 0)
            o->mode = MODE_ECHO;
        else if (strcmp(mode, "bulk") == 0)
            o->mode = MODE_BULK;
        else if (strcmp(mode, "connect") == 0)
            o->mode = MODE_CONNECT;
        else
            return cli_usage("bench", "unknown mode '%s': expected echo, bulk or connect", mode);
    }
    if (cli_framing("bench", frame, SIZE_LIMIT, &o->frame) < 0)
        return EXIT_USAGE;
    if (o->frame.kind != SK_FRAME_RAW && o->frame.kind != SK_FRAME_LINE &&
        o->frame.kind != SK_FRAME_LEN32)
        return cli_usage("bench", "--frame must be raw, line or len32");
    if (o->udp && o->mode != MODE_ECHO)
        return cli_usage("bench", "--udp works in echo mode only");
    if (frame && (o->udp || o->mode == MODE_BULK))
        return cli_usage("bench", "--frame does not apply to %s",
                         o->udp ? "--udp" : "--mode bulk");
    if (o->rate > 0 && o->mode == MODE_BULK)
        return cli_usage("bench", "--rate does not apply to --mode bulk");
    if (o->frame.kind == SK_FRAME_LEN32 && o->size < 4)
        return cli_usage("bench", "--frame len32 needs a size of at least 4 bytes");
    if (o->histfile && strcmp(o->histfile, "-") == 0 && o->json)
        return cli_usage("bench", "--histogram - and --json would share stdout: give a file");
    if (o->source_port && o->conns > (long)(o->nsources ? o->nsources : 1))
        return cli_usage("bench",
                         "--source-port allows one connection per source address (-c %ld, "
                         "%zu --source)",
                         o->conns, o->nsources);
    if (o->udp && (o->size < STAMP_LEN || o->size > UDP_SIZE_LIMIT))
        return cli_usage("bench", "--udp needs a size of %d to %d bytes", STAMP_LEN,
                         UDP_SIZE_LIMIT);
    if (o->mode == MODE_CONNECT)
        o->pipeline = 1;
    size_t depth = o->mode == MODE_BULK ? 0 : (size_t)o->pipeline;
    if (depth * o->size > RING_MAX)
        return cli_usage("bench", "pipeline x size is over %zu MiB per connection",
                         RING_MAX >> 20);
    if (depth * o->size * (size_t)o->conns > TOTAL_MAX)
        return cli_usage("bench", "conns x pipeline x size is over %zu MiB",
                         TOTAL_MAX >> 20);
    if (!o->has_duration && o->requests == 0)
        o->has_duration = 1; /* the default: 10 s */
    if (!o->has_timeout)
        o->timeout = o->udp ? 1.0 : 5.0;
    if (o->threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n < 1 ? 1 : n > THREADS_MAX ? THREADS_MAX : n;
    }
    if (o->threads > o->conns)
        o->threads = o->conns;
    return 0;
}

/* ---- the command ---- */

/* Allocate worker w's connections (every i with i % T == w->idx) and buffers.
 * Returns 0 or -1 (no memory). */
static int worker_init(struct worker *w, const struct bench *b)
{
    size_t T = (size_t)b->o.threads, n = 0;
    for (size_t i = (size_t)w->idx; i < (size_t)b->o.conns; i += T)
        n++;
    w->b = b;
    w->nconns = n;
    w->conns = calloc(n, sizeof *w->conns);
    w->dirty = calloc(n, sizeof *w->dirty);
    w->scratch = malloc(SCRATCH_LEN);
    w->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!w->conns || !w->dirty || !w->scratch || w->ep < 0 ||
        sk_hist_new(&w->hist, HIST_HIGHEST, HIST_SIGFIGS) < 0)
        return -1;
    size_t ringlen = b->depth * b->o.size;
    for (size_t k = 0; k < n; k++) {
        struct conn *c = &w->conns[k];
        size_t gi = (size_t)w->idx + k * T;
        c->id = (uint32_t)gi;
        c->fd = -1; /* handed over by worker_take() once every worker is ready */
        c->state = C_IDLE;
        if (ringlen) {
            c->ring = malloc(ringlen);
            c->ts = calloc(b->depth, sizeof *c->ts);
            if (!c->ring || !c->ts)
                return -1;
            for (size_t j = 0; j < b->depth; j++)
                memcpy(c->ring + j * b->o.size, b->tmpl, b->o.size);
        }
        if (b->o.udp) {
            c->ustate = calloc(b->depth, 1);
            c->useq = malloc(b->depth * sizeof *c->useq);
            if (!c->ustate || !c->useq)
                return -1;
            for (size_t j = 0; j < b->depth; j++)
                c->useq[j] = UINT64_MAX;
        }
    }
    return 0;
}

/* Hand worker w its first connections. */
static void worker_take(struct worker *w, int *fds)
{
    size_t T = (size_t)w->b->o.threads;
    for (size_t k = 0; k < w->nconns; k++) {
        struct conn *c = &w->conns[k];
        size_t gi = (size_t)w->idx + k * T;
        c->fd = fds[gi];
        c->state = c->fd >= 0 ? C_OPEN : C_IDLE;
        fds[gi] = -1;
    }
}

static void worker_free(struct worker *w)
{
    for (size_t k = 0; w->conns && k < w->nconns; k++) {
        struct conn *c = &w->conns[k];
        if (c->fd >= 0)
            sk_close(c->fd);
        free(c->ring);
        free(c->ts);
        free(c->ustate);
        free(c->useq);
    }
    if (w->ep >= 0)
        sk_close(w->ep);
    free(w->conns);
    free(w->dirty);
    free(w->scratch);
    sk_hist_free(w->hist);
}

/* The workers' live counters, summed. */
struct live {
    uint64_t done, out, in, errors, lost;
};

static void live_sum(struct worker *ws, size_t T, struct live *l)
{
    memset(l, 0, sizeof *l);
    for (size_t i = 0; i < T; i++) {
        l->done += __atomic_load_n(&ws[i].live_done, __ATOMIC_RELAXED);
        l->out += __atomic_load_n(&ws[i].live_out, __ATOMIC_RELAXED);
        l->in += __atomic_load_n(&ws[i].live_in, __ATOMIC_RELAXED);
        l->errors += __atomic_load_n(&ws[i].live_errors, __ATOMIC_RELAXED);
        l->lost += __atomic_load_n(&ws[i].live_lost, __ATOMIC_RELAXED);
    }
}

/* The live progress line: rate so far and elapsed time. */
static void progress(const struct bench *b, struct worker *ws, size_t T, int64_t now)
{
    struct live l;
    live_sum(ws, T, &l);
    uint64_t done = b->o.mode == MODE_BULK ? l.out / b->o.size : l.done;
    double el = (double)(now - b->t_measure) / 1e9;
    if (el < 0)
        fprintf(stderr, "\r\033[Kbench: warming up, %.1f s left", -el);
    else
        fprintf(stderr, "\r\033[Kbench: %.1f s, %" PRIu64 " %s, %.1f/s", el, done,
                b->o.mode == MODE_BULK ? "chunks" : "requests", el > 0 ? (double)done / el : 0.0);
}

/* One --interval line: what happened from t0 to t1 (ns since the measuring began), from
 * the counters' difference; the errors are the total so far. */
static void interval_line(const struct bench *b, FILE *f, int64_t t0, int64_t t1,
                          const struct live *was, const struct live *is)
{
    int prec = b->o.interval < 1 ? 2 : 1;
    double el = (double)(t1 - t0) / 1e9;
    if (el <= 0)
        el = 1e-9;
    fprintf(f, "  interval   %.*f-%.*f s", prec, (double)t0 / 1e9, prec, (double)t1 / 1e9);
    if (b->o.mode == MODE_BULK) {
        fprintf(f, "   out %.1f MiB/s   in %.1f MiB/s",
                (double)(is->out - was->out) / 1048576.0 / el,
                (double)(is->in - was->in) / 1048576.0 / el);
    } else {
        uint64_t d = is->done - was->done;
        fprintf(f, "   %" PRIu64 " %s   %.1f/s", d,
                b->o.mode == MODE_CONNECT ? "connects" : "requests", (double)d / el);
    }
    fprintf(f, "   errors %" PRIu64, is->errors);
    if (b->o.udp)
        fprintf(f, "   lost %" PRIu64, is->lost);
    fprintf(f, "\n");
    fflush(f);
}

/* Run the workers and wait for them, with the progress line (stderr a terminal, no
 * --interval) or the --interval lines (stdout; stderr with --json). Returns 0 or -1. */
static int run_workers(struct bench *b, struct worker *ws, size_t T)
{
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old); /* the workers never take the signals */
    size_t started = 0;
    int rc = 0;
    for (; started < T; started++) {
        int e = pthread_create(&ws[started].tid, NULL, worker_main, &ws[started]);
        if (e) {
            cli_error("bench: pthread_create: %s", strerror(e));
            on_stop_signal(0);
            rc = -1;
            break;
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    int64_t ivl = (int64_t)(b->o.interval * 1e9);
    FILE *ivf = b->o.json ? stderr : stdout;
    int tty = isatty(STDERR_FILENO) && !b->o.json && !ivl;
    int64_t next_progress = cli_now_ns() + PROGRESS_NS;
    int64_t next_ivl = b->t_measure + ivl, last_ivl = b->t_measure;
    struct live was;
    memset(&was, 0, sizeof was);
    for (;;) {
        size_t fin = 0;
        for (size_t i = 0; i < started; i++)
            fin += (size_t)__atomic_load_n(&ws[i].finished, __ATOMIC_ACQUIRE);
        if (fin == started)
            break;
        /* Interval lines end before the duration does: the last one is printed below,
         * cut at the duration's end, once the workers are done. */
        int due = ivl && next_ivl < b->t_end;
        int64_t now = cli_now_ns(), wait = 50000000;
        if (due && next_ivl - now < wait)
            wait = next_ivl > now ? next_ivl - now : 0;
        struct timespec ts = {0, (long)wait};
        nanosleep(&ts, NULL);
        now = cli_now_ns();
        if (tty && now >= next_progress) {
            progress(b, ws, started, now);
            next_progress = now + PROGRESS_NS;
        }
        if (due && now >= next_ivl) {
            struct live is;
            live_sum(ws, started, &is);
            interval_line(b, ivf, last_ivl - b->t_measure, now - b->t_measure, &was, &is);
            was = is;
            last_ivl = now;
            while (next_ivl <= now)
                next_ivl += ivl;
        }
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    for (size_t i = 0; i < started; i++)
        pthread_join(ws[i].tid, NULL);
    if (ivl) { /* the last, partial interval (to the duration's end, or to now) */
        int64_t now = cli_now_ns(), end = now < b->t_end ? now : b->t_end;
        if (end - last_ivl >= ivl / 10) {
            struct live is;
            live_sum(ws, started, &is);
            interval_line(b, ivf, last_ivl - b->t_measure, end - b->t_measure, &was, &is);
        }
    }
    return rc;
}

/* --histogram: open (create) the file before the run, so that a bad path fails at once;
 * "-" is stdout. Returns the stream, or NULL after printing why. */
static FILE *open_histogram(const char *path)
{
    if (strcmp(path, "-") == 0)
        return stdout;
    FILE *f = fopen(path, "we");
    if (!f)
        cli_error("open %s: %s", path, strerror(errno));
    return f;
}

/* Write the latency distribution and close the stream (stdout is only flushed). */
static int write_histogram(const char *path, FILE *f, const sk_hist_t *h)
{
    int r = sk_hist_write_percentiles(h, f, 1000.0, 5);
    if ((f == stdout ? fflush(f) : fclose(f)) != 0 && r == 0)
        r = -errno;
    if (r < 0) {
        cli_error("write %s: %s", f == stdout ? "stdout" : path, sk_strerror(r));
        return -1;
    }
    return 0;
}

/* One sk_source_t per --source (the port of --source-port on each), or one for
 * --source-port alone. Returns 0 or -1 after printing why. */
static int init_sources(struct bench *b)
{
    const struct opts *o = &b->o;
    size_t n = o->nsources ? o->nsources : o->source_port ? 1 : 0;
    if (n == 0)
        return 0;
    b->srcs = calloc(n, sizeof *b->srcs);
    if (!b->srcs) {
        cli_error("bench: %s", strerror(ENOMEM));
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        char err[SK_ERRLEN];
        if (sk_source_init(&b->srcs[i], o->nsources ? o->sources[i] : NULL, o->source_port,
                           err) < 0) {
            cli_error("bench: %s", err);
            return -1;
        }
    }
    b->nsrcs = n;
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    struct bench b;
    memset(&b, 0, sizeof b);
    struct opts *o = &b.o;
    o->conns = CONNS_DEFAULT;
    o->size = SIZE_DEFAULT;
    o->pipeline = 1;
    o->duration = 10;
    o->verify = 1;
    int r = parse_opts(argc, argv, o);
    if (r != 0)
        return r < 0 ? 0 : r;
    b.depth = o->mode == MODE_BULK ? 0 : (size_t)o->pipeline;
    b.socktype = o->udp ? SOCK_DGRAM : SOCK_STREAM;
    b.timeout_ns = (int64_t)(o->timeout * 1e9);

    char err[SK_ERRLEN] = "";
    sk_endpoint_t ep;
    if (sk_endpoint_parse(&ep, o->addr, err) < 0)
        return cli_usage("bench", "%s", err);
    if (ep.family != AF_UNIX && ep.port == 0) {
        cli_error("invalid port '0' (expected 1 to 65535 or a service name)");
        return EXIT_USAGE;
    }
    if (ep.family == AF_UNIX && (o->nsources || o->source_port))
        return cli_usage("bench", "--source and --source-port do not apply to unix: addresses");
    if (cli_parse_only) return 0;
    FILE *hist = NULL;
    if (o->histfile && !(hist = open_histogram(o->histfile)))
        return 1;
    if (init_sources(&b) < 0 || fd_budget((size_t)o->conns) < 0 ||
        (b.depth && build_template(&b) < 0) || (o->mode == MODE_BULK && build_pattern(&b) < 0)) {
        if (hist && hist != stdout)
            fclose(hist);
        free(b.srcs);
        free(b.tmpl);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int, old_term;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);

    size_t n = (size_t)o->conns, T = (size_t)o->threads;
    int *fds = malloc(n * sizeof *fds);
    struct worker *ws = calloc(T, sizeof *ws);
    struct report rep;
    memset(&rep, 0, sizeof rep);
    int rc = 1;
    size_t connected = 0;
    if (!fds || !ws) {
        cli_error("bench: %s", strerror(ENOMEM));
        goto out;
    }
    for (size_t i = 0; i < T; i++)
        ws[i].ep = -1;

    /* First connections: every stream (connect mode: one, to pick the address). */
    if (o->udp) {
        connected = connect_udp(&b, &ep, fds, n, rep.st.err, err);
    } else {
        sk_addrlist_t list;
        r = sk_resolve(&list, &ep, SOCK_STREAM, 0, err);
        if (r < 0) {
            cli_error("%s", err);
            goto out;
        }
        sk_addr_t addrs[SK_ADDRLIST_MAX];
        size_t na = 0;
        for (size_t i = 0; i < list.n && na < SK_ADDRLIST_MAX; i++)
            addrs[na++] = list.v[i].addr;
        sk_addrlist_free(&list);
        size_t first = o->mode == MODE_CONNECT ? 1 : n;
        connected = connect_all(&b, addrs, na, fds, first, rep.st.err, err);
        if (o->mode == MODE_CONNECT) {
            if (connected) {
                struct linger lg = {.l_onoff = 1, .l_linger = 0};
                setsockopt(fds[0], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                sk_close(fds[0]);
            }
            for (size_t i = 0; i < n; i++)
                fds[i] = -1;
        }
    }
    char addr[SK_ADDRSTRLEN];
    if (connected)
        sk_addr_format(&b.peer, addr, sizeof addr);
    else
        snprintf(addr, sizeof addr, "%s", o->addr);
    if (err[0])
        cli_error("%s", err);
    if (!o->json)
        print_header(&b, addr, stdout);
    else if (o->interval > 0)
        print_header(&b, addr, stderr);

    if (connected > 0 && !stopping()) {
        for (size_t i = 0; i < T; i++) {
            ws[i].idx = (int)i;
            if (worker_init(&ws[i], &b) < 0) {
                cli_error("bench: %s", strerror(ENOMEM));
                goto out;
            }
        }
        for (size_t i = 0; i < T; i++)
            worker_take(&ws[i], fds);
        b.t_begin = cli_now_ns();
        b.t_measure = b.t_begin + (int64_t)(o->warmup * 1e9);
        b.t_end = o->has_duration ? b.t_measure + (int64_t)(o->duration * 1e9) : INT64_MAX;
        for (size_t i = 0; i < T; i++) {
            struct worker *w = &ws[i];
            if (o->requests) {
                uint64_t q = o->requests / T + (i < o->requests % T);
                w->has_quota = 1;
                w->quota = o->mode == MODE_BULK ? q * o->size : q;
            }
            if (o->rate > 0)
                w->interval_ns = (int64_t)(1e9 * (double)T / o->rate);
            if (w->interval_ns < 1 && o->rate > 0)
                w->interval_ns = 1;
        }
        if (run_workers(&b, ws, T) < 0)
            goto out;
        int64_t last = 0;
        for (size_t i = 0; i < T; i++) {
            merge_stats(&rep.st, &ws[i].st);
            if (i > 0)
                sk_hist_merge(ws[0].hist, ws[i].hist);
            if (ws[i].finished_at > last)
                last = ws[i].finished_at;
            if (!err[0] && ws[i].first_err[0]) {
                snprintf(err, sizeof err, "%s", ws[i].first_err);
                cli_error("%s", err);
            }
        }
        rep.hist = ws[0].hist;
        /* The measured window: to the duration's end, or to the last completion when the
         * run ended early (-n, a stop signal, giving up). */
        int64_t end = last < b.t_end ? last : b.t_end;
        if (o->mode != MODE_BULK && rep.st.last_done > 0 && (!o->has_duration || stopping()))
            end = rep.st.last_done;
        rep.elapsed = end > b.t_measure ? (double)(end - b.t_measure) / 1e9 : 0;
    } else {
        if (sk_hist_new(&rep.hist, HIST_HIGHEST, HIST_SIGFIGS) < 0) {
            cli_error("bench: %s", strerror(ENOMEM));
            goto out;
        }
    }
    rep.errors = rep.st.mismatch;
    for (int k = 0; k < E_COUNT; k++)
        rep.errors += rep.st.err[k];

    if (o->json)
        print_json(&b, &rep, addr);
    else
        print_text(&b, &rep);
    fflush(stdout);
    int hist_ok = !hist || write_histogram(o->histfile, hist, rep.hist) == 0;
    hist = NULL;
    /* Failed: nothing verified, or any error (a mismatch, a connection lost, reset or
     * timed out, bytes never echoed); lost UDP datagrams are reported only. */
    int success = o->mode == MODE_BULK ? rep.st.bytes_out > 0 : rep.st.ok > 0;
    rc = success && rep.errors == 0 && rep.st.bytes_lost == 0 && hist_ok ? 0 : 1;
    if (!connected)
        sk_hist_free(rep.hist);

out:
    if (hist && hist != stdout)
        fclose(hist);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    for (size_t i = 0; ws && i < T; i++)
        if (ws[i].conns || ws[i].ep >= 0)
            worker_free(&ws[i]);
    for (size_t i = 0; fds && i < n; i++)
        if (fds[i] >= 0)
            sk_close(fds[i]);
    free(ws);
    free(fds);
    free(b.tmpl);
    free(b.pattern);
    free(b.srcs);
    return rc;
}
