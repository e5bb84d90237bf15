/*
 * probe.c: `sockit probe`: which TCP ports of a host accept connections, like nc -z, many
 * ports at once.
 *
 * HOST is resolved once. Each port in flight owns a slot: a Happy Eyeballs connector
 * (sk_connector_*) over every address of HOST with that port, and a deadline (-w). One
 * poll() loop drives every slot; a slot is stepped when one of its sockets is ready, its
 * connector has timed work due, or its deadline has passed. Results are kept per port and
 * printed in ascending port order as soon as every lower port is decided, so a long scan
 * shows its progress. Everything is bounded: at most PORT_MAX ports, at most `limit`
 * slots, at most `per` sockets per slot, all sized before the loop starts.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "sockit.h"

#define PORT_MAX 65535
#define CONC_DEFAULT 100
#define CONC_MAX 1000
/* Descriptors kept out of the budget for stdio, the resolver and inherited fds. */
#define FD_HEADROOM 16
/* Longest port list item quoted back in an error message. */
#define ITEM_QUOTE_MAX 40
/* Output is written in batches of at most OUT_MAX bytes; a line never exceeds
 * OUT_LINE_MAX (a host of SK_HOSTMAX bytes, a port, a state and a short reason). */
#define OUT_MAX 16384
#define OUT_LINE_MAX 512

enum port_state { PENDING, OPEN, CLOSED, TIMED_OUT };

/* result.code of a port "open" only to itself: with -p P, probing port P of a local
 * address connects the socket to itself (TCP simultaneous open), and nothing listens. */
#define SELF_CONNECTED 1

/* One port's outcome; code is the connector's error (or SELF_CONNECTED) for CLOSED. */
struct result {
    unsigned char state;
    int code;
};

/* A port in flight. */
struct slot {
    sk_connector_t *c; /* NULL: the slot is free */
    size_t idx;        /* into probe.ports */
    int64_t deadline;  /* monotonic ns */
    size_t pfd_off, pfd_n;
};

struct probe {
    const char *host; /* as printed: the HOST argument without brackets */
    sk_addr_t addrs[SK_ADDRLIST_MAX];
    size_t naddrs;
    int64_t timeout_ns;
    int only_open;
    sk_source_t src; /* -s / -p: where every connection comes from */
    int has_src;

    uint16_t *ports; /* ascending, no duplicates */
    struct result *res;
    size_t nports, next, emitted;
    size_t *retry; /* ports put back after EMFILE; at most `conc` of them */
    size_t nretry;

    struct slot *slots;
    size_t conc, limit, inflight; /* slots allocated, usable now, in use */
    struct pollfd *pfds;
    size_t per; /* most sockets one slot holds at once */

    size_t nopen, nclosed, ntimedout;
};

static void probe_help(void)
{
    printf("Usage: sockit probe [OPTIONS] HOST PORTS...\n\n"
           "Report which TCP ports of HOST accept connections, as nc -z does, probing many\n"
           "ports at once. HOST is resolved once; each port is tried on every address HOST\n"
           "has, racing IPv6 and IPv4 (Happy Eyeballs), and a connection is closed as soon\n"
           "as it is made; nothing is sent.\n\n"
           "PORTS is a comma-separated list of ports (1-65535), ranges A-B and service\n"
           "names, e.g. 20-30,80,https; several lists may be given. Each port is probed\n"
           "once, however often it is listed.\n\n"
           "Output: one line per port on stdout, in ascending port order, as soon as it and\n"
           "every lower port are decided:\n"
           "  HOST PORT/tcp STATE [(REASON)]\n"
           "STATE is 'open' (a connection was made), 'closed' (refused, or another error\n"
           "in REASON, e.g. '(No route to host)') or 'timed-out' (no answer within -w).\n"
           "Fields are separated by spaces: awk '$3 == \"open\"' selects the open ports.\n\n"
           "Options:\n"
           "  -w, --timeout SEC       give up on a port after SEC seconds (default 1)\n"
           "  -c, --concurrency N     probe at most N ports at once (default %d, at most\n"
           "                          %d, and fewer if the open-file limit is low)\n"
           "  -s, --source ADDR       connect from local address ADDR, as nc -s; HOST's\n"
           "                          addresses of another family are not tried\n"
           "  -p, --source-port PORT  connect from local port PORT, as nc -p. Ports are\n"
           "                          still probed many at once (each connection has its\n"
           "                          own remote port); a HOST:PORT reached from PORT\n"
           "                          less than a minute ago (TIME_WAIT) may show as\n"
           "                          'closed (Cannot assign requested address)'\n"
           "      --open              print only the open ports\n"
           "  -v, --verbose           print a summary line on stderr at the end\n"
           "  -h, --help              show this help\n\n"
           "Exit status: 0 if any port is open, 1 if none is (or on a runtime error), 2 on\n"
           "a usage error.\n\n"
           "Examples:\n"
           "  $ sockit probe localhost http,4999-5001\n"
           "  localhost 80/tcp    closed\n"
           "  localhost 4999/tcp  closed\n"
           "  localhost 5000/tcp  open\n"
           "  localhost 5001/tcp  closed\n"
           "  $ sockit probe --open -w 0.5 -v example.com 1-1024\n"
           "  $ sockit probe -s 127.0.0.2 -p 40000 127.0.0.1 5000\n",
           CONC_DEFAULT, CONC_MAX);
}

/* ---- PORTS ---- */

/* Digits only, 0-65535 (with leading zeros). Returns the value, or -1. */
static long parse_number(const char *s, size_t n)
{
    if (n == 0)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
        if (v > PORT_MAX)
            v = PORT_MAX + 1; /* stays out of range, never overflows */
    }
    return v;
}

/* Report a bad port as "invalid port 'TEXT'" (TEXT cut to ITEM_QUOTE_MAX bytes). */
static int bad_port(const char *what, const char *s, size_t n)
{
    cli_error("invalid %s '%.*s%s'", what, (int)(n > ITEM_QUOTE_MAX ? ITEM_QUOTE_MAX : n), s,
              n > ITEM_QUOTE_MAX ? "..." : "");
    return -1;
}

/* One item of a list: N, A-B or a service name. Marks its ports in set[]. */
static int parse_item(const char *s, size_t n, unsigned char *set)
{
    const char *dash = memchr(s, '-', n);
    size_t numeric = 0; /* digits and '-' only: a number or a range */
    while (numeric < n && ((s[numeric] >= '0' && s[numeric] <= '9') || s[numeric] == '-'))
        numeric++;
    long lo, hi;
    if (numeric == n && dash) {
        size_t a = (size_t)(dash - s);
        lo = parse_number(s, a);
        hi = parse_number(dash + 1, n - a - 1);
        if (lo < 0 || hi < 0)
            return bad_port("port range", s, n);
        if (lo < 1 || lo > PORT_MAX)
            return bad_port("port", s, a);
        if (hi < 1 || hi > PORT_MAX)
            return bad_port("port", dash + 1, n - a - 1);
        if (lo > hi)
            return bad_port("port range", s, n);
    } else if (numeric == n) {
        lo = hi = parse_number(s, n);
        if (lo < 1 || lo > PORT_MAX)
            return bad_port("port", s, n);
    } else {
        /* A service name, which may itself contain '-' (netbios-ns). */
        char name[64];
        uint16_t p;
        if (n == 0 || n >= sizeof name)
            return bad_port("port", s, n);
        memcpy(name, s, n);
        name[n] = '\0';
        if (sk_port_parse(name, &p, NULL) < 0 || p == 0)
            return bad_port("port", s, n);
        lo = hi = p;
    }
    for (long p = lo; p <= hi; p++)
        set[p / 8] |= (unsigned char)(1u << (p % 8));
    return 0;
}

/* Parse one comma-separated list into set[]. Returns 0, or -1 after the message. */
static int parse_list(const char *text, unsigned char *set)
{
    if (!*text) {
        cli_error("empty port list");
        return -1;
    }
    for (const char *s = text;;) {
        size_t n = strcspn(s, ",");
        if (n == 0) {
            cli_error("empty item in port list '%.*s%s'", ITEM_QUOTE_MAX, text,
                      strlen(text) > ITEM_QUOTE_MAX ? "..." : "");
            return -1;
        }
        if (parse_item(s, n, set) < 0)
            return -1;
        if (!s[n])
            return 0;
        s += n + 1;
    }
}

/* Turn the set into the ascending array p->ports. Returns 0 or -1 (no memory). */
static int collect_ports(struct probe *p, const unsigned char *set)
{
    size_t n = 0;
    for (long port = 1; port <= PORT_MAX; port++)
        n += (set[port / 8] >> (port % 8)) & 1;
    p->ports = calloc(n, sizeof *p->ports);
    p->res = calloc(n, sizeof *p->res);
    if (!p->ports || !p->res)
        return -1;
    for (long port = 1; port <= PORT_MAX; port++)
        if ((set[port / 8] >> (port % 8)) & 1)
            p->ports[p->nports++] = (uint16_t)port;
    return 0;
}

/* ---- descriptors ---- */

/*
 * How many ports may be in flight when each holds up to `per` sockets: `want`, within
 * RLIMIT_NOFILE less FD_HEADROOM. A soft limit below what `want` needs is first raised
 * toward the hard limit. Never less than 1 (EMFILE is then handled as it comes).
 */
static size_t fd_budget(size_t want, size_t per)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    rlim_t need = (rlim_t)(want * per + FD_HEADROOM);
    if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need) {
        rlim_t to = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need ? rl.rlim_max : need;
        struct rlimit raised = {.rlim_cur = to, .rlim_max = rl.rlim_max};
        if (to > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &raised) == 0)
            rl.rlim_cur = to;
    }
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
        return want;
    size_t cap = rl.rlim_cur > FD_HEADROOM ? (size_t)(rl.rlim_cur - FD_HEADROOM) / per : 0;
    return cap < 1 ? 1 : cap;
}

/* ---- the loop ---- */

/* Whether connected socket fd is connected to itself (its local address is its peer's). */
static int self_connected(int fd)
{
    struct sockaddr_storage a, b;
    socklen_t la = sizeof a, lb = sizeof b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (getsockname(fd, (struct sockaddr *)&a, &la) < 0 ||
        getpeername(fd, (struct sockaddr *)&b, &lb) < 0)
        return 0;
    return la == lb && memcmp(&a, &b, la) == 0;
}

/* Record port idx's outcome from a connector result (fd, or a negative code). */
static void decide(struct probe *p, size_t idx, int r)
{
    struct result *res = &p->res[idx];
    if (r > 0 && p->src.port && self_connected(r)) {
        sk_close(r);
        res->state = CLOSED;
        res->code = SELF_CONNECTED;
        p->nclosed++;
    } else if (r > 0) {
        sk_close(r);
        res->state = OPEN;
        p->nopen++;
    } else if (r == -ETIMEDOUT) {
        res->state = TIMED_OUT;
        p->ntimedout++;
    } else {
        res->state = CLOSED;
        res->code = r;
        p->nclosed++;
    }
}

/* Free slot s; if r is EMFILE/ENFILE and other ports are in flight, put its port back and
 * use fewer slots. Returns 0, or -1 when no descriptor can be had at all. */
static int release(struct probe *p, struct slot *s, int r)
{
    sk_connector_free(s->c);
    s->c = NULL;
    p->inflight--;
    if (r == -EMFILE || r == -ENFILE) {
        if (p->inflight == 0) {
            cli_error("socket: %s", sk_strerror(r));
            return -1;
        }
        p->retry[p->nretry++] = s->idx;
        p->limit = p->inflight;
        return 0;
    }
    decide(p, s->idx, r);
    return 0;
}

/* Step slot s; on a result, release it. Returns 0, or -1 on a fatal error. */
static int step(struct probe *p, struct slot *s, int64_t now)
{
    int r = sk_connector_step(s->c, NULL, NULL);
    if (r == 0 && now >= s->deadline)
        r = -ETIMEDOUT;
    return r == 0 ? 0 : release(p, s, r);
}

/* Start ports in free slots, up to p->limit; a slot whose port is decided at once takes
 * the next port. Returns 0, or -1 on a fatal error. */
static int fill(struct probe *p)
{
    sk_addr_t addrs[SK_ADDRLIST_MAX];
    size_t i = 0;
    while (i < p->conc && p->inflight < p->limit) {
        struct slot *s = &p->slots[i];
        if (s->c) {
            i++;
            continue;
        }
        if (p->nretry)
            s->idx = p->retry[--p->nretry];
        else if (p->next < p->nports)
            s->idx = p->next++;
        else
            return 0;
        for (size_t a = 0; a < p->naddrs; a++) {
            addrs[a] = p->addrs[a];
            sk_addr_set_port(&addrs[a], p->ports[s->idx]);
        }
        s->c = sk_connector_new(addrs, p->naddrs, SK_HE_DELAY, -1);
        if (!s->c) {
            cli_error("probe: %s", strerror(ENOMEM));
            return -1;
        }
        if (p->has_src)
            sk_connector_set_source(s->c, &p->src);
        int64_t now = cli_now_ns();
        s->deadline = now + p->timeout_ns;
        p->inflight++;
        if (step(p, s, now) < 0)
            return -1;
    }
    return 0;
}

/* Gather every slot's sockets into p->pfds and return how many; *ms receives the poll
 * timeout: the nearest connector's timed work or deadline (-1: none). */
static size_t gather(struct probe *p, int *ms)
{
    size_t n = 0;
    int64_t now = cli_now_ns();
    *ms = -1;
    for (size_t i = 0; i < p->conc; i++) {
        struct slot *s = &p->slots[i];
        if (!s->c)
            continue;
        s->pfd_off = n;
        s->pfd_n = sk_connector_pollfds(s->c, p->pfds + n, p->per);
        n += s->pfd_n;
        int t = sk_connector_timeout_ms(s->c);
        int64_t left = s->deadline - now;
        int d = left <= 0                       ? 0
                : left / 1000000 >= INT_MAX - 1 ? INT_MAX
                                                : (int)((left + 999999) / 1000000);
        if (t < 0 || d < t)
            t = d;
        if (*ms < 0 || t < *ms)
            *ms = t;
    }
    return n;
}

/* Step every slot that has something to do after poll(). Returns 0 or -1 (fatal). */
static int advance(struct probe *p)
{
    int64_t now = cli_now_ns();
    for (size_t i = 0; i < p->conc; i++) {
        struct slot *s = &p->slots[i];
        if (!s->c)
            continue;
        int ready = now >= s->deadline || sk_connector_timeout_ms(s->c) == 0;
        for (size_t k = 0; k < s->pfd_n && !ready; k++)
            ready = p->pfds[s->pfd_off + k].revents != 0;
        if (ready && step(p, s, now) < 0)
            return -1;
    }
    return 0;
}

/* Format port idx's line into buf[0..cap). Returns its length. */
static size_t format_line(const struct probe *p, size_t idx, char *buf, size_t cap)
{
    const struct result *r = &p->res[idx];
    char port[16];
    snprintf(port, sizeof port, "%u/tcp", p->ports[idx]);
    int n;
    if (r->state == OPEN)
        n = snprintf(buf, cap, "%s %-9s open\n", p->host, port);
    else if (r->state == TIMED_OUT)
        n = snprintf(buf, cap, "%s %-9s timed-out\n", p->host, port);
    else if (r->code == -ECONNREFUSED)
        n = snprintf(buf, cap, "%s %-9s closed\n", p->host, port);
    else if (r->code == SELF_CONNECTED)
        n = snprintf(buf, cap, "%s %-9s closed (connected to itself: the source port)\n",
                     p->host, port);
    else
        n = snprintf(buf, cap, "%s %-9s closed (%s)\n", p->host, port, sk_strerror(r->code));
    return n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
}

/* Print every decided port not printed yet that has no undecided port below it.
 * Returns 0, or -1 when stdout failed (reported unless it is a closed pipe). */
static int emit(struct probe *p)
{
    char out[OUT_MAX];
    size_t len = 0;
    for (; p->emitted < p->nports && p->res[p->emitted].state != PENDING; p->emitted++) {
        if (p->only_open && p->res[p->emitted].state != OPEN)
            continue;
        if (sizeof out - len < OUT_LINE_MAX) {
            if (cli_write_stdout(out, len) < 0)
                return -1;
            len = 0;
        }
        len += format_line(p, p->emitted, out + len, OUT_LINE_MAX);
    }
    return len ? cli_write_stdout(out, len) : 0;
}

/* Probe every port. Returns 0 when the loop finished, -1 on a fatal error. */
static int run(struct probe *p)
{
    while (p->emitted < p->nports) {
        if (fill(p) < 0 || emit(p) < 0)
            return -1;
        if (p->inflight == 0)
            continue; /* everything decided at once; fill() takes the next ports */
        int ms;
        size_t n = gather(p, &ms);
        if (poll(p->pfds, n, ms) < 0 && errno != EINTR) {
            cli_error("poll: %s", strerror(errno));
            return -1;
        }
        if (advance(p) < 0 || emit(p) < 0)
            return -1;
    }
    return 0;
}

/* Resolve HOST once. Returns 0, 1 (runtime error) or EXIT_USAGE, after the message. */
static int resolve_host(struct probe *p, const char *host)
{
    sk_endpoint_t ep;
    sk_addrlist_t list;
    char err[SK_ERRLEN];
    if (!*host) {
        cli_error("empty HOST");
        return EXIT_USAGE;
    }
    if (sk_endpoint_from_hostport(&ep, host, "0", err) < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (cli_parse_only) return 0;
    if (sk_resolve(&list, &ep, SOCK_STREAM, 0, err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    for (size_t i = 0; i < list.n && p->naddrs < SK_ADDRLIST_MAX; i++)
        p->addrs[p->naddrs++] = list.v[i].addr;
    sk_addrlist_free(&list);
    return 0;
}

/*
 * Set up -s / -p after HOST is resolved: the source's addresses, HOST's addresses cut to
 * the source's families, and one bind per family tried at once, so that an address that
 * is not this host's, or a source port in use, is one error rather than a "closed" line
 * per port. Returns 0 or 1 (runtime error, reported).
 */
static int set_source(struct probe *p, const char *host, int port)
{
    char err[SK_ERRLEN], sb[SK_ADDRSTRLEN];
    if (sk_source_init(&p->src, host, port, err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    p->has_src = 1;
    sk_source_str(&p->src, sb);
    if (p->src.n > 0) {
        size_t kept = 0;
        for (size_t i = 0; i < p->naddrs; i++) {
            int fam = sk_addr_family(&p->addrs[i]);
            int ok = 0;
            for (size_t k = 0; k < p->src.n && !ok; k++)
                ok = sk_addr_family(&p->src.addrs[k]) == fam;
            if (ok)
                p->addrs[kept++] = p->addrs[i];
        }
        if (kept == 0) {
            cli_error("probe %s from %s: %s has no address of the source's family", p->host,
                      sb, p->host);
            return 1;
        }
        p->naddrs = kept;
    }
    int tried[2] = {0, 0}; /* AF_INET, AF_INET6 */
    for (size_t i = 0; i < p->naddrs; i++) {
        int fam = sk_addr_family(&p->addrs[i]);
        int *t = &tried[fam == AF_INET6];
        if (*t)
            continue;
        *t = 1;
        int fd = sk_socket(fam, SOCK_STREAM, 0);
        if (fd < 0) {
            cli_error("socket: %s", sk_strerror(fd));
            return 1;
        }
        int r = sk_source_bind(&p->src, fd, fam);
        sk_close(fd);
        if (r < 0) {
            cli_error("probe %s from %s: %s%s", p->host, sb, sk_strerror(r),
                      r == -EADDRNOTAVAIL ? " (not an address of this host?)" : "");
            return 1;
        }
    }
    return 0;
}

/* Size the slots: `per` sockets a slot may hold at once (one attempt starts every
 * SK_HE_DELAY until the deadline, never more than there are addresses), then how many
 * slots RLIMIT_NOFILE allows. Returns 0 or -1 (no memory). */
static int size_slots(struct probe *p, size_t conc, double timeout)
{
    double starts = timeout / SK_HE_DELAY + 2;
    p->per = starts < (double)p->naddrs ? (size_t)starts : p->naddrs;
    if (p->per < 1)
        p->per = 1;
    p->conc = fd_budget(conc, p->per);
    if (p->conc > p->nports)
        p->conc = p->nports;
    p->limit = p->conc;
    p->slots = calloc(p->conc, sizeof *p->slots);
    p->pfds = calloc(p->conc * p->per, sizeof *p->pfds);
    p->retry = calloc(p->conc, sizeof *p->retry);
    return p->slots && p->pfds && p->retry ? 0 : -1;
}

static void probe_free(struct probe *p)
{
    for (size_t i = 0; p->slots && i < p->conc; i++)
        sk_connector_free(p->slots[i].c);
    free(p->slots);
    free(p->pfds);
    free(p->retry);
    free(p->ports);
    free(p->res);
}

int cmd_probe(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 'w'},
        {"concurrency", required_argument, NULL, 'c'},
        {"source", required_argument, NULL, 's'},
        {"source-port", required_argument, NULL, 'p'},
        {"open", no_argument, NULL, 'O'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double timeout = 1.0;
    long conc = CONC_DEFAULT;
    int only_open = 0, verbose = 0, source_port = 0;
    const char *source = NULL;

    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":w:c:s:p:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 's':
            source = optarg;
            break;
        case 'p':
            if (cli_parse_port("source port", optarg, &source_port) < 0)
                return EXIT_USAGE;
            break;
        case 'w':
            if (cli_parse_seconds("timeout", optarg, 0.001, 1e6, &timeout) < 0)
                return EXIT_USAGE;
            break;
        case 'c':
            if (cli_parse_int("concurrency", optarg, 1, CONC_MAX, &conc) < 0)
                return EXIT_USAGE;
            break;
        case 'O':
            only_open = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'h':
            probe_help();
            return 0;
        default:
            return cli_bad_option("probe", c, argv);
        }
    }
    int nargs = argc - optind;
    if (nargs < 1)
        return cli_usage("probe", "missing HOST");
    if (nargs < 2) {
        /* "probe 127.0.0.1:5000": the address form the other commands take. */
        sk_endpoint_t ep;
        const char *a = argv[optind], *colon = strrchr(a, ':');
        if (colon && colon[1] && sk_endpoint_parse(&ep, a, NULL) == 0 && ep.family != AF_UNIX &&
            ep.host[0])
            return cli_usage("probe", "probe takes HOST PORTS, not HOST:PORT: try 'sockit probe "
                                      "%s %s'", ep.host, colon + 1);
        return cli_usage("probe", "missing PORTS");
    }
    if (source) {
        sk_endpoint_t ep;
        char err[SK_ERRLEN];
        if (!*source) return cli_usage("probe", "empty --source");
        if (sk_endpoint_from_hostport(&ep, source, "0", err) < 0) {
            cli_error("--source: %s", err);
            return EXIT_USAGE;
        }
    }

    unsigned char set[(PORT_MAX + 1) / 8] = {0};
    for (int i = optind + 1; i < argc; i++)
        if (parse_list(argv[i], set) < 0)
            return EXIT_USAGE;

    int64_t t0 = cli_now_ns();
    struct probe p;
    memset(&p, 0, sizeof p);
    p.timeout_ns = (int64_t)(timeout * 1e9);
    p.only_open = only_open;
    int r = resolve_host(&p, argv[optind]);
    if (r != 0 || cli_parse_only) return r;
    /* The host as printed: without the brackets of "[::1]". */
    char host[SK_HOSTMAX];
    const char *h = argv[optind];
    size_t hn = strlen(h);
    if (hn >= 2 && h[0] == '[' && h[hn - 1] == ']') {
        h++;
        hn -= 2;
    }
    snprintf(host, sizeof host, "%.*s", (int)hn, h);
    p.host = host;
    if ((source || source_port) && (r = set_source(&p, source, source_port)) != 0)
        return r;

    if (collect_ports(&p, set) < 0 || size_slots(&p, (size_t)conc, timeout) < 0) {
        cli_error("probe: %s", strerror(ENOMEM));
        probe_free(&p);
        return 1;
    }
    r = run(&p);
    probe_free(&p);
    if (r < 0)
        return 1;
    if (verbose) {
        char sb[SK_ADDRSTRLEN] = "";
        if (p.has_src)
            sk_source_str(&p.src, sb);
        fprintf(stderr, "probe %s%s%s: %zu open, %zu closed, %zu timed out in %.2f s\n", p.host,
                p.has_src ? " from " : "", sb, p.nopen, p.nclosed, p.ntimedout,
                (double)(cli_now_ns() - t0) / 1e9);
    }
    return p.nopen > 0 ? 0 : 1;
}
