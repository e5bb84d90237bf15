/*
 * get.c: `sockit get URL`: the browser of seed 002 as a command. One HTTP/1.1 GET over
 * plain http://, the body streamed to stdout.
 *
 * The request always says "Connection: close", so the reply ends at the latest when the
 * server closes. The reply is parsed by http.c, which reads it through the socket
 * callback here (with its -w timeout) and hands the body to stdout and, for -i and -v,
 * the head lines to stdout and stderr.
 *
 * Exit status: 0 for a 2xx reply delivered in full; 1 for any other status (reported on
 * stderr, redirects with their Location but not followed), a broken reply, a network
 * error or a closed stdout (quietly, as a program killed by SIGPIPE); 2 for bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "sockit.h"

#define TARGET_MAX 8192 /* the request target once percent-encoded, NUL included */

/* A parsed http:// URL. */
struct url {
    char host[SK_HOSTMAX + 2]; /* as written, brackets kept for IPv6: the Host header */
    char port[8];              /* decimal digits */
    unsigned port_num;
    char target[TARGET_MAX]; /* path and query, percent-encoded where needed */
};

/* One transfer: the connection and the reply's reader. */
struct get {
    int fd;
    char peer[SK_ADDRSTRLEN];
    int include;    /* -i: headers to stdout too */
    int verbose;    /* -v: the conversation on stderr */
    double timeout; /* -w, for messages */
    struct http_reader reader;
    char shown[SK_ESCAPE_MAX(HTTP_HEADERS_MAX)]; /* a head line as -v prints it */
};

static void get_help(void)
{
    printf("Usage: sockit get [OPTIONS] URL\n\n"
           "Fetch an http:// URL with one HTTP/1.1 GET (Connection: close) and write the\n"
           "body to stdout, byte for byte. Chunked replies are decoded; any other transfer\n"
           "coding (gzip, ...) is refused with exit 1, never written still encoded. URL is\n"
           "http://HOST[:PORT][/PATH][?QUERY]; HOST is a name, an IPv4 address or an IPv6\n"
           "address in brackets; the port defaults to 80; a #fragment is dropped; spaces,\n"
           "control and non-ASCII bytes in the path are sent percent-encoded.\n\n"
           "A 2xx reply exits 0. Any other status exits 1 with the status line on stderr\n"
           "and the body discarded (unless -i); redirects are reported with their target,\n"
           "not followed. https:// is not supported.\n\n"
           "Options:\n"
           "  -i, --include        write the status line and headers, byte for byte as\n"
           "                       received, before the body (whatever the status)\n"
           "  -v, --verbose        print 'Connected to ADDR', the request ('> ') and the\n"
           "                       reply headers ('< ') on stderr, control bytes escaped\n"
           "  -w, --timeout SEC    give up when connecting, or any wait for data, takes\n"
           "                       longer than SEC seconds (default: no limit)\n"
           "  -h, --help           show this help\n\n"
           "Examples:\n"
           "  sockit get http://127.0.0.1:8000/index.html\n"
           "  sockit get -i 'http://[::1]:8000/a file.txt'\n"
           "  sockit get -w 5 http://example.com/ > page.html\n");
}

/* ---- small text helpers (ASCII only, whatever the locale) ---- */

/* A byte a request target may carry as is (RFC 3986 pchar, '/' and '?', minus '%'). */
static int is_target_char(int c)
{
    return http_is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?", c));
}

/* ---- the URL ---- */

/* Print "invalid URL 'TEXT': WHY" and return EXIT_USAGE. */
static int bad_url(const char *text, const char *why)
{
    cli_error("invalid URL '%s': %s", text, why);
    return EXIT_USAGE;
}

/* Percent-encode p[0..n) into u->target after `used` bytes; a '%' that starts a valid
 * %XX escape is kept. Returns the new length, or -1 if it would not fit. */
static int encode_target(struct url *u, size_t used, const char *p, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        int keep = is_target_char(c) || (c == '%' && i + 2 < n && http_hex_value(p[i + 1]) >= 0 &&
                                         http_hex_value(p[i + 2]) >= 0);
        if (used + (keep ? 1 : 3) >= sizeof u->target) return -1;
        if (keep) {
            u->target[used++] = (char)c;
        } else {
            u->target[used++] = '%';
            u->target[used++] = hex[c >> 4];
            u->target[used++] = hex[c & 15];
        }
    }
    u->target[used] = '\0';
    return (int)used;
}

/* Parse http://HOST[:PORT][/PATH][?QUERY][#FRAGMENT]. Returns 0, or EXIT_USAGE after
 * printing why not. */
static int parse_url(const char *text, struct url *u)
{
    memset(u, 0, sizeof *u);
    const char *sep = strstr(text, "://");
    size_t slen = sep ? (size_t)(sep - text) : 0;
    int scheme_ok = slen > 0 && http_is_alnum(text[0]) && !http_is_digit(text[0]);
    for (size_t i = 1; scheme_ok && i < slen; i++)
        scheme_ok = http_is_alnum(text[i]) || text[i] == '+' || text[i] == '-' || text[i] == '.';
    if (!scheme_ok) return bad_url(text, "expected http://HOST[:PORT]/PATH");
    if (slen == 5 && strncasecmp(text, "https", 5) == 0) {
        cli_error("https is not supported: sockit get speaks plain http:// only");
        return EXIT_USAGE;
    }
    if (slen != 4 || strncasecmp(text, "http", 4) != 0) {
        cli_error("unsupported scheme '%.*s' in URL '%s': sockit get speaks plain http:// "
                  "only",
                  (int)slen, text, text);
        return EXIT_USAGE;
    }

    const char *auth = sep + 3;
    size_t alen = strcspn(auth, "/?#");
    const char *end = auth + alen, *host = auth, *colon;
    size_t hlen;
    if (memchr(auth, '@', alen)) return bad_url(text, "user info (USER@HOST) is not supported");
    if (alen == 0) return bad_url(text, "missing host");
    if (auth[0] == '[') {
        const char *close = memchr(auth, ']', alen);
        char v6[64];
        struct in6_addr a6;
        if (!close) return bad_url(text, "missing ']' after the IPv6 address");
        size_t n = (size_t)(close - auth - 1);
        if (n == 0 || n >= sizeof v6) return bad_url(text, "expected an IPv6 address in brackets");
        memcpy(v6, auth + 1, n);
        v6[n] = '\0';
        if (inet_pton(AF_INET6, v6, &a6) != 1) {
            cli_error("invalid IPv6 address '%s' in URL '%s'", v6, text);
            return EXIT_USAGE;
        }
        hlen = (size_t)(close - auth) + 1;
        colon = close + 1;
        if (colon < end && *colon != ':') return bad_url(text, "expected ':PORT' or '/' after ']'");
    } else {
        colon = memchr(auth, ':', alen);
        if (colon && memchr(colon + 1, ':', (size_t)(end - colon - 1)))
            return bad_url(text, "an IPv6 address needs brackets: http://[::1]/");
        hlen = (size_t)((colon ? colon : end) - auth);
        if (hlen == 0) return bad_url(text, "missing host");
        for (size_t i = 0; i < hlen; i++) {
            int c = (unsigned char)host[i];
            if (!http_is_alnum(c) && c != '-' && c != '.' && c != '_') {
                cli_error("invalid host '%.*s' in URL '%s'", (int)hlen, host, text);
                return EXIT_USAGE;
            }
        }
        if (hlen >= SK_HOSTMAX) return bad_url(text, "host name too long");
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';

    /* PORT: digits, 1-65535; "host:" with nothing after is the default (RFC 3986 3.2.3). */
    u->port_num = 80;
    if (colon && colon < end && colon + 1 < end) {
        const char *p = colon + 1;
        size_t n = (size_t)(end - p);
        unsigned long v = 0;
        int ok = n <= 5;
        for (size_t i = 0; ok && i < n; i++) {
            ok = http_is_digit(p[i]);
            v = v * 10 + (unsigned long)(p[i] - '0');
        }
        if (!ok || v < 1 || v > 65535) {
            cli_error("invalid port '%.*s' in URL '%s'", (int)n, p, text);
            return EXIT_USAGE;
        }
        u->port_num = (unsigned)v;
    }
    snprintf(u->port, sizeof u->port, "%u", u->port_num);

    /* The target: path and query, the fragment dropped; an empty path is "/". */
    size_t plen = strcspn(end, "#");
    int used = 0;
    if (plen == 0 || end[0] != '/') used = encode_target(u, 0, "/", 1);
    if (used >= 0) used = encode_target(u, (size_t)used, end, plen);
    if (used < 0) {
        cli_error("URL too long: the path and query exceed %d bytes once encoded", TARGET_MAX - 1);
        return EXIT_USAGE;
    }
    return 0;
}

/* ---- the reader's callbacks ---- */

/* http_read_cb: receive from the socket, reporting timeouts and errors. */
static ssize_t get_read(void *ctx, char *buf, size_t n)
{
    struct get *g = ctx;
    ssize_t r = sk_recv(g->fd, buf, n);
    if (r == -ETIMEDOUT || r == -EAGAIN) {
        cli_error("recv %s: timed out (no data for %g s)", g->peer, g->timeout);
        return -1;
    }
    if (r < 0) {
        cli_error("recv %s: %s", g->peer, sk_strerror((int)r));
        return -1;
    }
    return r;
}

/* http_take_cb for the body: to stdout. */
static int get_body(void *ctx, const char *p, size_t n)
{
    (void)ctx;
    return cli_write_stdout(p, n);
}

/* http_take_cb for head lines: as -v and -i want them. -i output is data, the head as
 * received (as curl -i writes it); -v is for a person at a terminal, so the bytes the
 * server chose are escaped (sk_escape: a raw ESC, CSI 0x9b or CR never reaches it). */
static int get_head_line(void *ctx, const char *line, size_t n)
{
    struct get *g = ctx;
    if (g->verbose) {
        sk_escape(g->shown, sizeof g->shown, line, http_chomp(line, n));
        fprintf(stderr, "< %s\n", g->shown);
    }
    return g->include ? cli_write_stdout(line, n) : 0;
}

/* Print the reader's message, if it has one (a callback reports its own). */
static void reply_failed(const struct get *g)
{
    if (g->reader.err[0]) cli_error("%s", g->reader.err);
}

/* ---- the command ---- */

/* Send the request and show it (-v). Returns 0 or -1 after reporting. */
static int send_request(const struct get *g, const struct url *u)
{
    char req[TARGET_MAX + 512];
    int port80 = u->port_num == 80;
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: sockit/%s\r\n"
                     "Accept: */*\r\nConnection: close\r\n\r\n",
                     u->target, u->host, port80 ? "" : ":", port80 ? "" : u->port, SK_VERSION);
    if (n < 0 || (size_t)n >= sizeof req) {
        cli_error("request too long");
        return -1;
    }
    ssize_t r = sk_sendall(g->fd, req, (size_t)n, NULL);
    if (r < 0) {
        cli_error("send %s: %s", g->peer, sk_strerror((int)r));
        return -1;
    }
    if (g->verbose) {
        for (const char *p = req; *p;) {
            const char *crlf = strstr(p, "\r\n");
            fprintf(stderr, "> %.*s\n", (int)(crlf - p), p);
            p = crlf + 2;
        }
    }
    return 0;
}

/* Connect, ask, and deliver the reply. Returns the exit status. */
static int fetch(struct get *g, const struct url *u)
{
    sk_endpoint_t ep;
    sk_addr_t peer;
    char err[SK_ERRLEN];
    if (sk_endpoint_from_hostport(&ep, u->host, u->port, err) < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (cli_parse_only) return 0;
    g->fd = sk_connect_endpoint(&ep, SOCK_STREAM, g->timeout, &peer, err);
    if (g->fd < 0) {
        cli_error("%s", err);
        return 1;
    }
    sk_addr_str(&peer, g->peer);
    if (g->verbose) fprintf(stderr, "Connected to %s\n", g->peer);

    struct http_head h;
    int rc = 1;
    http_reader_init(&g->reader, get_read, get_body, get_head_line, g, g->peer);
    if (send_request(g, u) < 0) goto out;
    if (http_read_head(&g->reader, &h) < 0) {
        reply_failed(g);
        goto out;
    }
    int success = h.code >= 200 && h.code <= 299;
    if ((success || g->include) && http_read_body(&g->reader, &h) < 0) {
        reply_failed(g);
        goto out;
    }
    if (success)
        rc = 0;
    else if (h.code >= 300 && h.code <= 399 && h.has_location)
        cli_error("%s: redirected to %s (not followed)", h.status, h.location);
    else if (h.code >= 300 && h.code <= 399)
        cli_error("%s (not followed)", h.status);
    else
        cli_error("%s", h.status);
out:
    sk_close(g->fd);
    return rc;
}

int cmd_get(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"include", no_argument, NULL, 'i'},
        {"verbose", no_argument, NULL, 'v'},
        {"timeout", required_argument, NULL, 'w'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int include = 0, verbose = 0;
    double timeout = SK_TIMEOUT_NONE;

    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":ivw:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'i':
            include = 1;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'w':
            if (cli_parse_seconds("timeout", optarg, 0.001, 1e6, &timeout) < 0) return EXIT_USAGE;
            break;
        case 'h':
            get_help();
            return 0;
        default:
            return cli_bad_option("get", c, argv);
        }
    }
    if (optind >= argc) return cli_usage("get", "missing URL");
    if (argc - optind > 1) return cli_usage("get", "unexpected argument '%s'", argv[optind + 1]);

    struct url *u = calloc(1, sizeof *u);
    struct get *g = calloc(1, sizeof *g);
    int rc = 1;
    if (!u || !g) {
        cli_error("out of memory");
        goto out;
    }
    rc = parse_url(argv[optind], u);
    if (rc != 0) goto out;
    g->include = include;
    g->verbose = verbose;
    g->timeout = timeout;
    rc = fetch(g, u);
out:
    free(u);
    free(g);
    return rc;
}
