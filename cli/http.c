/*
 * http.c: an HTTP/1.1 response read through callbacks (http.h), for `sockit get`.
 *
 * All text handling is ASCII only, whatever the locale. Every error message is composed
 * into r->err; callbacks report their own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "sockit/escape.h"

#define UNTIL_EOF UINT64_MAX /* copy_body(): no length, read until the stream ends */
#define LINE_QUOTE 64        /* bytes of a bad line quoted in an error */
#define DETAIL_MAX 512       /* what follows "malformed reply from PEER: " */

/* ---- small text helpers ---- */

int http_is_digit(int c)
{
    return c >= '0' && c <= '9';
}

int http_hex_value(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int http_is_alnum(int c)
{
    return http_is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* RFC 9110 tchar: the characters of a header name. */
static int is_tchar(int c)
{
    return http_is_alnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
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

/* Printable form of up to `max` bytes of p[0..n) for messages and display: sk_escape()
 * (control bytes, C1 and malformed UTF-8 as \r, \n, \t, \xHH), "..." when cut. out
 * holds HTTP_QUOTE_BUF(max) bytes. Returns out. */
static const char *quote(const char *p, size_t n, size_t max, char *out)
{
    size_t o = sk_escape(out, SK_ESCAPE_MAX(max), p, n < max ? n : max);
    if (n > max) memcpy(out + o, "...", 4);
    return out;
}

size_t http_chomp(const char *line, size_t n)
{
    if (n && line[n - 1] == '\n') n--;
    if (n && line[n - 1] == '\r') n--;
    return n;
}

/* ---- errors ---- */

/* Set r->err from a format. Returns -1. */
static int fail(struct http_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct http_reader *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->err, sizeof r->err, fmt, ap);
    va_end(ap);
    return -1;
}

/* Set r->err to "malformed reply from PEER: MESSAGE". Returns -1. */
static int malformed(struct http_reader *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int malformed(struct http_reader *r, const char *fmt, ...)
{
    char msg[DETAIL_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(r, "malformed reply from %s: %s", r->peer, msg);
}

/* ---- I/O ---- */

void http_reader_init(struct http_reader *r, http_read_cb read, http_take_cb on_body,
                      http_take_cb on_head_line, void *ctx, const char *peer)
{
    r->read = read;
    r->on_body = on_body;
    r->on_head_line = on_head_line;
    r->ctx = ctx;
    r->peer = peer;
    r->err[0] = '\0';
    r->pos = r->len = 0;
    r->header_bytes = 0;
    r->body_bytes = 0;
}

/* Read more bytes after the unread ones (moved to the front). Returns the count, 0 at the
 * end of the stream, or -1 (reported). */
static ssize_t fill(struct http_reader *r)
{
    if (r->pos > 0) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->len -= r->pos;
        r->pos = 0;
    }
    if (r->len == sizeof r->buf) /* callers never ask with a full buffer */
        return fail(r, "recv %s: internal error: receive buffer full", r->peer);
    ssize_t n = r->read(r->ctx, r->buf + r->len, sizeof r->buf - r->len);
    if (n < 0) return -1;
    if ((size_t)n > sizeof r->buf - r->len)
        return fail(r, "recv %s: internal error: read more than asked", r->peer);
    r->len += (size_t)n;
    return n;
}

/* Unread bytes, reading if there are none. Returns how many, 0 at the end of the stream,
 * -1 after an error. */
static ssize_t available(struct http_reader *r)
{
    if (r->pos < r->len) return (ssize_t)(r->len - r->pos);
    r->pos = r->len = 0;
    return fill(r);
}

/*
 * Take one line of at most max bytes (max <= HTTP_BUF), LF included. Returns 1 with the
 * line in *line, *n (valid until the next read; consumed), 0 at the end of the stream
 * before a whole line (*n: the bytes of the partial line), -1 after an error, -2 when the
 * line is longer than max.
 */
static int read_line(struct http_reader *r, size_t max, char **line, size_t *n)
{
    size_t scanned = 0;
    for (;;) {
        char *start = r->buf + r->pos;
        size_t have = r->len - r->pos;
        char *lf = memchr(start + scanned, '\n', have - scanned);
        if (lf) {
            *n = (size_t)(lf - start) + 1;
            if (*n > max) return -2;
            *line = start;
            r->pos += *n;
            return 1;
        }
        if (have >= max) return -2;
        scanned = have;
        ssize_t got = fill(r);
        if (got <= 0) {
            *n = have;
            return (int)got;
        }
    }
}

/* Take one line of the head or trailers, counted against HTTP_HEADERS_MAX; `where` names
 * the place for "connection closed WHERE". Returns 0 or -1. */
static int header_line(struct http_reader *r, const char *where, char **line, size_t *n)
{
    int got = read_line(r, HTTP_HEADERS_MAX - r->header_bytes, line, n);
    if (got == -2) return fail(r, "response headers exceed %d bytes", HTTP_HEADERS_MAX);
    if (got == 0 && r->header_bytes == 0 && *n == 0)
        return fail(r, "empty reply from %s: connection closed before the status line", r->peer);
    if (got == 0) return malformed(r, "connection closed %s", where);
    if (got < 0) return -1;
    r->header_bytes += *n;
    return 0;
}

/* Hand n body bytes on (UNTIL_EOF: until the stream ends). Returns 0, 1 if the stream
 * ended first, -1 after an error. */
static int copy_body(struct http_reader *r, uint64_t n)
{
    while (n > 0) {
        ssize_t a = available(r);
        if (a < 0) return -1;
        if (a == 0) return n == UNTIL_EOF ? 0 : 1;
        size_t k = (uint64_t)a < n ? (size_t)a : (size_t)n;
        if (r->on_body(r->ctx, r->buf + r->pos, k) < 0) return -1;
        r->pos += k;
        r->body_bytes += k;
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
        if (i == n || !http_is_digit(v[i])) return -1;
        uint64_t x = 0;
        for (; i < n && http_is_digit(v[i]); i++) {
            if (x > HTTP_BODY_LIMIT / 10) return -1;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (x > HTTP_BODY_LIMIT || (seen && x != *out)) return -1;
        *out = x;
        seen = 1;
        while (i < n && is_ows(v[i]))
            i++;
        if (i == n) return 0;
        if (v[i++] != ',') return -1;
    }
}

/* Add the codings of one Transfer-Encoding value (a list, RFC 9112 6.1) to h: count
 * them, keep the first one other than "chunked" for the message, and set h->chunked when
 * the codings so far are exactly one "chunked". Empty list elements are skipped. */
static void add_codings(struct http_head *h, const char *v, size_t n)
{
    size_t i = 0;
    h->transfer_coded = 1;
    while (i <= n) {
        size_t start = i;
        while (i < n && v[i] != ',')
            i++;
        size_t s = start, e = i;
        while (s < e && is_ows(v[s]))
            s++;
        while (e > s && is_ows(v[e - 1]))
            e--;
        if (e > s) {
            h->codings++;
            int chunked = e - s == 7 && strncasecmp(v + s, "chunked", 7) == 0;
            if (!chunked && !h->coding[0]) quote(v + s, e - s, HTTP_CODING_QUOTE, h->coding);
        }
        i++;
    }
    h->chunked = h->codings == 1 && !h->coding[0];
}

/* Parse "HTTP/1.x NNN [reason]" (without its CRLF) into h. Returns 0 or -1. */
static int parse_status(struct http_reader *r, const char *line, size_t n, struct http_head *h)
{
    char q[HTTP_QUOTE_BUF(LINE_QUOTE)];
    if (n >= 5 && memcmp(line, "HTTP/", 5) == 0 && (n < 7 || memcmp(line, "HTTP/1.", 7) != 0))
        return malformed(r, "unsupported HTTP version in '%s'", quote(line, n, LINE_QUOTE, q));
    if (n < 12 || memcmp(line, "HTTP/1.", 7) != 0 || !http_is_digit(line[7]) || line[8] != ' ' ||
        !http_is_digit(line[9]) || !http_is_digit(line[10]) || !http_is_digit(line[11]) ||
        (n > 12 && line[12] != ' ') || line[9] < '1' || line[9] > '5' || has_ctl(line, n))
        return malformed(r, "bad status line '%s'", quote(line, n, LINE_QUOTE, q));
    h->code = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    quote(line, n, HTTP_STATUS_QUOTE, h->status);
    return 0;
}

/* Parse one header line (without its CRLF) into h. Returns 0 or -1. */
static int parse_header(struct http_reader *r, const char *line, size_t n, struct http_head *h)
{
    char q[HTTP_QUOTE_BUF(LINE_QUOTE)];
    const char *colon = memchr(line, ':', n);
    size_t nlen = colon ? (size_t)(colon - line) : 0;
    int ok = nlen > 0;
    for (size_t i = 0; ok && i < nlen; i++)
        ok = is_tchar((unsigned char)line[i]);
    if (!ok || has_ctl(line, n))
        return malformed(r, "bad header line '%s'", quote(line, n, LINE_QUOTE, q));
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
            return malformed(r, "bad Content-Length '%s'", quote(v, vlen, LINE_QUOTE, q));
        if (h->has_length && len != h->length)
            return malformed(r, "conflicting Content-Length values %llu and %llu",
                             (unsigned long long)h->length, (unsigned long long)len);
        h->has_length = 1;
        h->length = len;
    } else if (nlen == 17 && strncasecmp(line, "Transfer-Encoding", nlen) == 0) {
        add_codings(h, v, vlen); /* a later header's codings come after the earlier ones' */
    } else if (nlen == 8 && strncasecmp(line, "Location", nlen) == 0) {
        h->has_location = 1;
        quote(v, vlen, HTTP_LOCATION_QUOTE, h->location);
    }
    return 0;
}

/* Show a head line that parsed. Returns 0 or -1 (the callback failed). */
static int show_line(struct http_reader *r, const char *line, size_t n)
{
    return r->on_head_line ? r->on_head_line(r->ctx, line, n) : 0;
}

int http_read_head(struct http_reader *r, struct http_head *h)
{
    char *line;
    size_t n;
    r->err[0] = '\0';
    for (;;) {
        memset(h, 0, sizeof *h);
        if (header_line(r, "in the status line", &line, &n) < 0 ||
            parse_status(r, line, http_chomp(line, n), h) < 0 || show_line(r, line, n) < 0)
            return -1;
        for (;;) {
            if (header_line(r, "in the headers", &line, &n) < 0) return -1;
            size_t len = http_chomp(line, n);
            if (len > 0 && parse_header(r, line, len, h) < 0) return -1;
            if (show_line(r, line, n) < 0) return -1;
            if (len == 0) break;
        }
        if (h->code == 101)
            return malformed(r, "'%s' to a request that asked for no upgrade", h->status);
        if (h->code >= 200) return 0;
    }
}

/* ---- the body ---- */

/* Parse a chunk-size line (without its CRLF): hex digits, then optional extensions.
 * Returns 0 with *size, or -1. */
static int parse_chunk_size(struct http_reader *r, const char *line, size_t n, uint64_t *size)
{
    char q[HTTP_QUOTE_BUF(LINE_QUOTE)];
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && http_hex_value(line[i]) >= 0; i++) {
        if (v > (HTTP_BODY_LIMIT >> 4))
            return malformed(r, "chunk size '%s' too large", quote(line, n, LINE_QUOTE, q));
        v = v << 4 | (uint64_t)http_hex_value(line[i]);
    }
    if (v > HTTP_BODY_LIMIT)
        return malformed(r, "chunk size '%s' too large", quote(line, n, LINE_QUOTE, q));
    size_t digits = i;
    while (i < n && is_ows(line[i]))
        i++;
    if (digits == 0 || (i < n && line[i] != ';') || has_ctl(line, n))
        return malformed(r, "bad chunk size line '%s'", quote(line, n, LINE_QUOTE, q));
    *size = v;
    return 0;
}

/* Report a stream that ended inside a chunked body. Returns -1. */
static int chunked_closed(struct http_reader *r)
{
    return fail(r, "connection closed before the last chunk (after %llu body bytes)",
                (unsigned long long)r->body_bytes);
}

/* Hand a chunked body on; read and drop the trailers. Returns 0 or -1. */
static int copy_chunked(struct http_reader *r)
{
    char *line;
    size_t n;
    for (;;) {
        int got = read_line(r, HTTP_CHUNK_LINE_MAX, &line, &n);
        if (got == -2)
            return malformed(r, "chunk size line longer than %d bytes", HTTP_CHUNK_LINE_MAX);
        if (got < 0) return -1;
        if (got == 0) return chunked_closed(r);
        uint64_t size = 0;
        if (parse_chunk_size(r, line, http_chomp(line, n), &size) < 0) return -1;
        if (size == 0) break;
        got = copy_body(r, size);
        if (got < 0) return -1;
        if (got > 0) return chunked_closed(r);
        /* The chunk's data ends with CRLF (a bare LF is tolerated). */
        ssize_t a = available(r);
        if (a > 0 && r->buf[r->pos] == '\r') {
            r->pos++;
            a = available(r);
        }
        if (a < 0) return -1;
        if (a == 0) return chunked_closed(r);
        if (r->buf[r->pos++] != '\n') return malformed(r, "chunk data not followed by CRLF");
    }
    for (;;) { /* trailers, up to the empty line */
        if (header_line(r, "in the trailers", &line, &n) < 0) return -1;
        if (http_chomp(line, n) == 0) return 0;
    }
}

int http_read_body(struct http_reader *r, const struct http_head *h)
{
    r->err[0] = '\0';
    if (h->code == 204 || h->code == 304) return 0;
    /* Transfer-Encoding frames the body whatever Content-Length says (RFC 9112 6.3 rule
     * 3). A coding other than chunked would leave the body encoded, and with chunked not
     * last the body would run until the close: both are refused, never passed on. */
    if (h->transfer_coded && h->coding[0])
        return fail(r, "unsupported transfer coding '%s' in the reply from %s (sockit get "
                    "decodes only chunked)", h->coding, r->peer);
    if (h->transfer_coded && h->codings == 0) return malformed(r, "empty Transfer-Encoding");
    if (h->transfer_coded && !h->chunked)
        return malformed(r, "chunked applied more than once in Transfer-Encoding");
    if (h->chunked) return copy_chunked(r);
    if (!h->has_length) return copy_body(r, UNTIL_EOF);
    int got = copy_body(r, h->length);
    if (got > 0)
        return fail(r, "connection closed after %llu of %llu body bytes",
                    (unsigned long long)r->body_bytes, (unsigned long long)h->length);
    return got;
}
