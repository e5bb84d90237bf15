/*
 * get.c: `sockit get URL`: the browser of seed 002 as a command. One HTTP/1.1 GET over
 * plain http://, the body streamed to stdout.
 *
 * The request always says "Connection: close", so the reply ends at the latest when the
 * server closes. The reply is read through one fixed GET_BUF buffer and never held
 * whole: the status line and headers (with any 1xx interim replies and the trailers of a
 * chunked body) may take HEADERS_MAX bytes in all; the body is framed, in RFC 9112's
 * order, by Transfer-Encoding: chunked, then Content-Length, then the end of the stream.
 * Chunk sizes and Content-Length are bounded by BODY_LIMIT before any arithmetic, and
 * nothing is ever allocated from them.
 *
 * Exit status: 0 for a 2xx reply delivered in full; 1 for any other status (reported on
 * stderr, redirects with their Location but not followed), a broken reply, a network
 * error or a closed stdout (quietly, as a program killed by SIGPIPE); 2 for bad usage.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"

#define GET_BUF (64 * 1024)            /* the receive buffer */
#define HEADERS_MAX (64 * 1024)        /* status lines, headers and trailers, all together */
#define CHUNK_LINE_MAX 4096            /* one chunk-size line with its extensions */
#define BODY_LIMIT ((uint64_t)1 << 62) /* largest chunk or Content-Length accepted */
#define UNTIL_EOF UINT64_MAX           /* copy_body(): no length, read until the peer closes */
#define TARGET_MAX 8192                /* the request target once percent-encoded, NUL included */
#define QUOTE_BUF(n) (4 * (n) + 8)     /* quote() output for n input bytes */
#define STATUS_QUOTE 200               /* status line bytes kept for messages */
#define LOCATION_QUOTE 512             /* Location bytes kept for messages */
#define LINE_QUOTE 64                  /* bytes of a bad line quoted in an error */

/* A parsed http:// URL. */
struct url {
    char host[SK_HOSTMAX + 2]; /* as written, brackets kept for IPv6: the Host header */
    char port[8];              /* decimal digits */
    unsigned port_num;
    char target[TARGET_MAX]; /* path and query, percent-encoded where needed */
};

/* The head of the final reply. */
struct head {
    int code;
    char status[QUOTE_BUF(STATUS_QUOTE)]; /* the status line, printable */
    int chunked;                          /* the last transfer coding is chunked */
    int has_length;
    uint64_t length;
    int has_location;
    char location[QUOTE_BUF(LOCATION_QUOTE)];
};

/* One transfer: the connection and its receive buffer. */
struct get {
    int fd;
    char peer[SK_ADDRSTRLEN];
    int include;         /* -i: headers to stdout too */
    int verbose;         /* -v: the conversation on stderr */
    double timeout;      /* -w, for messages */
    size_t pos, len;     /* unread bytes are buf[pos, len) */
    size_t header_bytes; /* head and trailer bytes read so far, against HEADERS_MAX */
    uint64_t body_bytes; /* body bytes delivered */
    char buf[GET_BUF];
};

static void get_help(void)
{
    printf("Usage: sockit get [OPTIONS] URL\n\n"
           "Fetch an http:// URL with one HTTP/1.1 GET (Connection: close) and write the\n"
           "body to stdout, byte for byte. Chunked replies are decoded. URL is\n"
           "http://HOST[:PORT][/PATH][?QUERY]; HOST is a name, an IPv4 address or an IPv6\n"
           "address in brackets; the port defaults to 80; a #fragment is dropped; spaces,\n"
           "control and non-ASCII bytes in the path are sent percent-encoded.\n\n"
           "A 2xx reply exits 0. Any other status exits 1 with the status line on stderr\n"
           "and the body discarded (unless -i); redirects are reported with their target,\n"
           "not followed. https:// is not supported.\n\n"
           "Options:\n"
           "  -i, --include        write the status line and headers, as received, before\n"
           "                       the body (whatever the status)\n"
           "  -v, --verbose        print 'Connected to ADDR', the request ('> ') and the\n"
           "                       reply headers ('< ') on stderr\n"
           "  -w, --timeout SEC    give up when connecting, or any wait for data, takes\n"
           "                       longer than SEC seconds (default: no limit)\n"
           "  -h, --help           show this help\n\n"
           "Examples:\n"
           "  sockit get http://127.0.0.1:8000/index.html\n"
           "  sockit get -i 'http://[::1]:8000/a file.txt'\n"
           "  sockit get -w 5 http://example.com/ > page.html\n");
}

/* ---- small text helpers (ASCII only, whatever the locale) ---- */

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static int is_alnum(int c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 tchar: the characters of a header name. */
static int is_tchar(int c)
{
    return is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* A byte a request target may carry as is (RFC 3986 pchar, '/' and '?', minus '%'). */
static int is_target_char(int c)
{
    return is_alnum(c) || (c && strchr("-._~!$&'()*+,;=:@/?", c));
}

static int is_ows(int c)
{
    return c == ' ' || c == '\t';
}

/* Control characters other than HTAB, which no header value or status line may hold. */
static int has_ctl(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return 1;
    }
    return 0;
}

/* Printable form of up to `max` bytes of p[0..n) for messages: other bytes as \xHH, "..."
 * when cut. out holds QUOTE_BUF(max) bytes. Returns out. */
static const char *quote(const char *p, size_t n, size_t max, char *out)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < n && i < max; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 0x20 && c < 0x7f) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (n > max) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

/* The length of a line without its LF and the CR before it. */
static size_t chomp(const char *line, size_t n)
{
    if (n && line[n - 1] == '\n') n--;
    if (n && line[n - 1] == '\r') n--;
    return n;
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
        int keep = is_target_char(c) ||
                   (c == '%' && i + 2 < n && hex_value(p[i + 1]) >= 0 && hex_value(p[i + 2]) >= 0);
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
    int scheme_ok = slen > 0 && is_alnum(text[0]) && !is_digit(text[0]);
    for (size_t i = 1; scheme_ok && i < slen; i++)
        scheme_ok = is_alnum(text[i]) || text[i] == '+' || text[i] == '-' || text[i] == '.';
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
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_') {
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
            ok = is_digit(p[i]);
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

/* ---- I/O ---- */

/* Print "malformed reply from PEER: MESSAGE". Returns -1. */
static int malformed(const struct get *g, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int malformed(const struct get *g, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cli_error("malformed reply from %s: %s", g->peer, msg);
    return -1;
}

/* Receive more bytes after the unread ones (moved to the front). Returns the count, 0 at
 * the end of the stream, or -1 after reporting the error. */
static ssize_t fill(struct get *g)
{
    if (g->pos > 0) {
        memmove(g->buf, g->buf + g->pos, g->len - g->pos);
        g->len -= g->pos;
        g->pos = 0;
    }
    if (g->len == sizeof g->buf) { /* callers never ask with a full buffer */
        cli_error("recv %s: internal error: receive buffer full", g->peer);
        return -1;
    }
    ssize_t n = sk_recv(g->fd, g->buf + g->len, sizeof g->buf - g->len);
    if (n == -ETIMEDOUT || n == -EAGAIN) {
        cli_error("recv %s: timed out (no data for %g s)", g->peer, g->timeout);
        return -1;
    }
    if (n < 0) {
        cli_error("recv %s: %s", g->peer, sk_strerror((int)n));
        return -1;
    }
    g->len += (size_t)n;
    return n;
}

/* Unread bytes, receiving if there are none. Returns how many, 0 at the end of the
 * stream, -1 after an error. */
static ssize_t available(struct get *g)
{
    if (g->pos < g->len) return (ssize_t)(g->len - g->pos);
    g->pos = g->len = 0;
    return fill(g);
}

/*
 * Take one line of at most max bytes (max <= GET_BUF), LF included. Returns 1 with the
 * line in *line, *n (valid until the next read; consumed), 0 at the end of the stream
 * before a whole line (*n: the bytes of the partial line), -1 after an error, -2 when the
 * line is longer than max.
 */
static int read_line(struct get *g, size_t max, char **line, size_t *n)
{
    size_t scanned = 0;
    for (;;) {
        char *start = g->buf + g->pos;
        size_t have = g->len - g->pos;
        char *lf = memchr(start + scanned, '\n', have - scanned);
        if (lf) {
            *n = (size_t)(lf - start) + 1;
            if (*n > max) return -2;
            *line = start;
            g->pos += *n;
            return 1;
        }
        if (have >= max) return -2;
        scanned = have;
        ssize_t r = fill(g);
        if (r <= 0) {
            *n = have;
            return (int)r;
        }
    }
}

/* Take one line of the head or trailers, counted against HEADERS_MAX; `where` names the
 * place for "connection closed WHERE". Returns 0 or -1 after reporting. */
static int header_line(struct get *g, const char *where, char **line, size_t *n)
{
    int r = read_line(g, HEADERS_MAX - g->header_bytes, line, n);
    if (r == -2) {
        cli_error("response headers exceed %d bytes", HEADERS_MAX);
        return -1;
    }
    if (r == 0 && g->header_bytes == 0 && *n == 0) {
        cli_error("empty reply from %s: connection closed before the status line", g->peer);
        return -1;
    }
    if (r == 0) return malformed(g, "connection closed %s", where);
    if (r < 0) return -1;
    g->header_bytes += *n;
    return 0;
}

/* Copy n body bytes to stdout (UNTIL_EOF: until the peer closes). Returns 0, 1 if the
 * stream ended first, -1 after an error. */
static int copy_body(struct get *g, uint64_t n)
{
    while (n > 0) {
        ssize_t a = available(g);
        if (a < 0) return -1;
        if (a == 0) return n == UNTIL_EOF ? 0 : 1;
        size_t k = (uint64_t)a < n ? (size_t)a : (size_t)n;
        if (cli_write_stdout(g->buf + g->pos, k) < 0) return -1;
        g->pos += k;
        g->body_bytes += k;
        if (n != UNTIL_EOF) n -= k;
    }
    return 0;
}

/* ---- the reply's head ---- */

/* Parse a Content-Length value: digits, or a list of equal ones ("5, 5", RFC 9110 8.6).
 * Returns 0 with *out, or -1. */
static int parse_length(const char *v, size_t n, uint64_t *out)
{
    int seen = 0;
    size_t i = 0;
    for (;;) {
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n || !is_digit(v[i])) return -1;
        uint64_t x = 0;
        for (; i < n && is_digit(v[i]); i++) {
            if (x > BODY_LIMIT / 10) return -1;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (x > BODY_LIMIT || (seen && x != *out)) return -1;
        *out = x;
        seen = 1;
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n) return 0;
        if (v[i++] != ',') return -1;
    }
}

/* Whether the last coding of a Transfer-Encoding list is "chunked". */
static int last_coding_chunked(const char *v, size_t n)
{
    int chunked = 0;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t s = start, e = i;
        while (s < e && is_ows(v[s]))
            s++;
        while (e > s && is_ows(v[e - 1]))
            e--;
        if (e > s) chunked = e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0;
        i++;
    }
    return chunked;
}

/* Parse "HTTP/1.x NNN [reason]" (without its CRLF) into h. Returns 0 or -1 after
 * reporting. */
static int parse_status(const struct get *g, const char *line, size_t n, struct head *h)
{
    char q[QUOTE_BUF(LINE_QUOTE)];
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0 && (n < 7 || memcmp(line, "HTTP/1.", 7) != 0))
        return malformed(g, "unsupported HTTP version in '%s'", quote(line, n, LINE_QUOTE, q));
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !is_digit(line[7]) || line[8] != ' ' ||
        !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
        (n > 12 && line[12] != ' ') || line[9] < '1' || line[9] > '5' || has_ctl(line, n))
        return malformed(g, "bad status line '%s'", quote(line, n, LINE_QUOTE, q));
    h->code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    quote(line, n, STATUS_QUOTE, h->status);
    return 0;
}

/* Parse one header line (without its CRLF) into h. Returns 0 or -1 after reporting. */
static int parse_header(const struct get *g, const char *line, size_t n, struct head *h)
{
    char q[QUOTE_BUF(LINE_QUOTE)];
    const char *colon = memchr(line, ':', n);
    size_t nlen = colon ? (size_t)(colon - line) : 0;
    int ok = nlen > 0;
    for (size_t i = 0; ok && i < nlen; i++)
        ok = is_tchar((unsigned char)line[i]);
    if (!ok || has_ctl(line, n))
        return malformed(g, "bad header line '%s'", quote(line, n, LINE_QUOTE, q));
    const char *v = colon + 1;
    size_t vlen = n - nlen - 1;
    while (vlen && is_ows(v[0])) {
        v++;
        vlen--;
    }
    while (vlen && is_ows(v[vlen - 1]))
        vlen--;

    if (nlen == 14 && strncasecmp(line, "Content-Length", nlen) == 0) {
        uint64_t len = 0;
        if (parse_length(v, vlen, &len) < 0)
            return malformed(g, "bad Content-Length '%s'", quote(v, vlen, LINE_QUOTE, q));
        if (h->has_length && len != h->length)
            return malformed(g, "conflicting Content-Length values %llu and %llu",
                             (unsigned long long)h->length, (unsigned long long)len);
        h->has_length = 1;
        h->length = len;
    } else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", nlen) == 0) {
        h->chunked = last_coding_chunked(v, vlen); /* a later header's codings come last */
    } else if (nlen == 8 && strncasecmp(line, "Location", nlen) == 0) {
        h->has_location = 1;
        quote(v, vlen, LOCATION_QUOTE, h->location);
    }
    return 0;
}

/* Show a head line as -v and -i want it. Returns 0 or -1 (stdout failed). */
static int show_line(const struct get *g, const char *line, size_t n)
{
    if (g->verbose) fprintf(stderr, "< %.*s\n", (int)chomp(line, n), line);
    return g->include ? cli_write_stdout(line, n) : 0;
}

/* Read the status line and headers of the final reply, skipping 1xx interim replies.
 * Returns 0 or -1 after reporting. */
static int read_head(struct get *g, struct head *h)
{
    char *line;
    size_t n;
    for (;;) {
        memset(h, 0, sizeof *h);
        if (header_line(g, "in the status line", &line, &n) < 0 ||
            parse_status(g, line, chomp(line, n), h) < 0 || show_line(g, line, n) < 0)
            return -1;
        for (;;) {
            if (header_line(g, "in the headers", &line, &n) < 0) return -1;
            size_t len = chomp(line, n);
            if (len > 0 && parse_header(g, line, len, h) < 0) return -1;
            if (show_line(g, line, n) < 0) return -1;
            if (len == 0) break;
        }
        if (h->code == 101)
            return malformed(g, "'%s' to a request that asked for no upgrade", h->status);
        if (h->code >= 200) return 0;
    }
}

/* ---- the body ---- */

/* Parse a chunk-size line (without its CRLF): hex digits, then optional extensions.
 * Returns 0 with *size, or -1 after reporting. */
static int parse_chunk_size(const struct get *g, const char *line, size_t n, uint64_t *size)
{
    char q[QUOTE_BUF(LINE_QUOTE)];
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && hex_value(line[i]) >= 0; i++) {
        if (v > (BODY_LIMIT >> 4))
            return malformed(g, "chunk size '%s' too large", quote(line, n, LINE_QUOTE, q));
        v = v << 4 | (uint64_t)hex_value(line[i]);
    }
    if (v > BODY_LIMIT)
        return malformed(g, "chunk size '%s' too large", quote(line, n, LINE_QUOTE, q));
    size_t digits = i;
    while (i < n && is_ows(line[i]))
        i++;
    if (digits == 0 || (i < n && line[i] != ';') || has_ctl(line, n))
        return malformed(g, "bad chunk size line '%s'", quote(line, n, LINE_QUOTE, q));
    *size = v;
    return 0;
}

/* Report a stream that ended inside a chunked body. Returns -1. */
static int chunked_closed(const struct get *g)
{
    cli_error("connection closed before the last chunk (after %llu body bytes)",
              (unsigned long long)g->body_bytes);
    return -1;
}

/* Copy a chunked body to stdout; read and drop the trailers. Returns 0 or -1. */
static int copy_chunked(struct get *g)
{
    char *line;
    size_t n;
    for (;;) {
        int r = read_line(g, CHUNK_LINE_MAX, &line, &n);
        if (r == -2) return malformed(g, "chunk size line longer than %d bytes", CHUNK_LINE_MAX);
        if (r < 0) return -1;
        if (r == 0) return chunked_closed(g);
        uint64_t size = 0;
        if (parse_chunk_size(g, line, chomp(line, n), &size) < 0) return -1;
        if (size == 0) break;
        r = copy_body(g, size);
        if (r < 0) return -1;
        if (r > 0) return chunked_closed(g);
        /* The chunk's data ends with CRLF (a bare LF is tolerated). */
        ssize_t a = available(g);
        if (a > 0 && g->buf[g->pos] == '\r') {
            g->pos++;
            a = available(g);
        }
        if (a < 0) return -1;
        if (a == 0) return chunked_closed(g);
        if (g->buf[g->pos++] != '\n') return malformed(g, "chunk data not followed by CRLF");
    }
    for (;;) { /* trailers, up to the empty line */
        if (header_line(g, "in the trailers", &line, &n) < 0) return -1;
        if (chomp(line, n) == 0) return 0;
    }
}

/* Copy the body as the head frames it. Returns 0 or -1 after reporting. */
static int copy_framed_body(struct get *g, const struct head *h)
{
    if (h->code == 204 || h->code == 304) return 0;
    if (h->chunked) return copy_chunked(g);
    if (!h->has_length) return copy_body(g, UNTIL_EOF);
    int r = copy_body(g, h->length);
    if (r > 0) {
        cli_error("connection closed after %llu of %llu body bytes",
                  (unsigned long long)g->body_bytes, (unsigned long long)h->length);
        return -1;
    }
    return r;
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
    g->fd = sk_connect_endpoint(&ep, SOCK_STREAM, g->timeout, &peer, err);
    if (g->fd < 0) {
        cli_error("%s", err);
        return 1;
    }
    sk_addr_str(&peer, g->peer);
    if (g->verbose) fprintf(stderr, "Connected to %s\n", g->peer);

    struct head h;
    int rc = 1;
    if (send_request(g, u) < 0 || read_head(g, &h) < 0) goto out;
    int success = h.code >= 200 && h.code <= 299;
    if ((success || g->include) && copy_framed_body(g, &h) < 0) goto out;
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

    opterr = 0;
    optind = 1;
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
