/*
 * frame.c: message framing codecs (sockit/frame.h).
 *
 * Each framing is a small pure function of the buffered bytes buf[0..len): it finds the
 * first frame, needs more bytes, or sees a protocol error, and it decides from the bytes
 * alone, never from how they were split, which is what makes decoding split-proof. The only
 * state is d->scanned (how far line and crlf have searched, so a long line fed a byte at a
 * time costs O(n) in total) and d->done (eof's one frame went out). No length takes part in
 * arithmetic before it is compared with f.max: a search looks at most max + delimiter bytes
 * far, a length prefix is read into a uint32_t and compared with max first, and max itself
 * is at most SK_FRAME_MAX_LIMIT (1 GiB), so max + SK_FRAME_OVERHEAD cannot overflow even a
 * 32-bit size_t. A framing sk_framing_parse() could not have produced is refused with
 * SK_EBADARG rather than trusted. Encoding reserves header, payload and trailer in one
 * sk_buf_reserve(), so a failed encode leaves the buffer as it was.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base.h"
#include "sockit/error.h"
#include "sockit/frame.h"

/* The largest payload a 2-byte prefix can announce. */
#define LEN16_MAX 65535

static const char *const kind_names[] = {
    [SK_FRAME_RAW] = "raw",     [SK_FRAME_LINE] = "line",   [SK_FRAME_CRLF] = "crlf",
    [SK_FRAME_FIXED] = "fixed", [SK_FRAME_LEN16] = "len16", [SK_FRAME_LEN32] = "len32",
    [SK_FRAME_EOF] = "eof",
};
#define KIND_COUNT (sizeof kind_names / sizeof kind_names[0])


/* True when *f is a framing sk_framing_parse() could return. */
static int framing_valid(const sk_framing_t *f)
{
    if ((unsigned)f->kind >= KIND_COUNT || f->max < 1 || f->max > SK_FRAME_MAX_LIMIT)
        return 0;
    if (f->kind == SK_FRAME_LEN16 && f->max > LEN16_MAX)
        return 0;
    if (f->kind == SK_FRAME_FIXED && (f->size < 1 || f->size > f->max))
        return 0;
    return 1;
}

/*
 * The N of fixed:N: decimal digits only (no sign, no space). Returns 0 for "0", and
 * (size_t)-1 when the text is not such a number; a value above SK_FRAME_MAX_LIMIT is
 * returned as SK_FRAME_MAX_LIMIT + 1, so nothing overflows however many digits there are.
 */
static size_t parse_size(const char *s)
{
    size_t n = 0;
    if (!*s)
        return (size_t)-1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return (size_t)-1;
        if (n <= SK_FRAME_MAX_LIMIT)
            n = n * 10 + (size_t)(*s - '0');
    }
    return n > SK_FRAME_MAX_LIMIT ? SK_FRAME_MAX_LIMIT + 1 : n;
}

int sk_framing_parse(sk_framing_t *f, const char *text, size_t max, char *err)
{
    char q[SK__QUOTE_MAX + 4];
    if (!text)
        text = "";
    int max_given = max != 0;
    if (max == 0)
        max = SK_FRAME_MAX_DEFAULT;
    if (max > SK_FRAME_MAX_LIMIT) {
        sk__set_err(err, "max frame %zu out of range 1-%zu", max, (size_t)SK_FRAME_MAX_LIMIT);
        return SK_EBADARG;
    }
    sk_framing_t g = {.kind = SK_FRAME_RAW, .size = 0, .max = max};
    if (strncmp(text, "fixed:", 6) == 0) {
        size_t n = parse_size(text + 6);
        if (n == (size_t)-1) {
            sk__set_err(err, "fixed:%s: N is not a number (expected fixed:N, N 1 to %zu)",
                        sk__quote(text + 6, q), max);
            return SK_EBADARG;
        }
        if (n < 1 || n > max) {
            sk__set_err(err, "fixed:%s: N must be 1 to %zu%s", sk__quote(text + 6, q), max,
                        n > max ? ", the maximum frame size" : "");
            return SK_EBADARG;
        }
        g.kind = SK_FRAME_FIXED;
        g.size = n;
    } else if (strcmp(text, "fixed") == 0) {
        sk__set_err(err, "fixed needs a size: fixed:N with N 1 to %zu", max);
        return SK_EBADARG;
    } else {
        size_t k = 0;
        while (k < KIND_COUNT && (k == SK_FRAME_FIXED || strcmp(text, kind_names[k]) != 0))
            k++;
        if (k == KIND_COUNT) {
            sk__set_err(err,
                        "unknown framing '%s': expected raw, line, crlf, fixed:N, len16, len32 "
                        "or eof",
                        sk__quote(text, q));
            return SK_EBADARG;
        }
        g.kind = (sk_frame_kind_t)k;
        if (g.kind == SK_FRAME_LEN16 && g.max > LEN16_MAX && max_given) {
            sk__set_err(err, "len16: max frame %zu is over %d, the most a 2-byte length can "
                             "say (use len32)", max, LEN16_MAX);
            return SK_EBADARG;
        }
        if (g.kind == SK_FRAME_LEN16 && g.max > LEN16_MAX)
            g.max = LEN16_MAX; /* the default maximum, lowered */
    }
    *f = g;
    return 0;
}

const char *sk_framing_name(const sk_framing_t *f, char *buf, size_t size)
{
    if (size == 0)
        return buf;
    if ((unsigned)f->kind >= KIND_COUNT)
        snprintf(buf, size, "invalid");
    else if (f->kind == SK_FRAME_FIXED)
        snprintf(buf, size, "fixed:%zu", f->size);
    else
        snprintf(buf, size, "%s", kind_names[f->kind]);
    return buf;
}

size_t sk_frame_bufmax(const sk_framing_t *f)
{
    if (!framing_valid(f))
        return 0;
    switch (f->kind) {
    case SK_FRAME_LINE:
        return f->max + 1; /* "\n" */
    case SK_FRAME_CRLF:
    case SK_FRAME_LEN16:
        return f->max + 2; /* "\r\n" or the 2-byte prefix */
    case SK_FRAME_LEN32:
        return f->max + 4;
    case SK_FRAME_FIXED:
        return f->size;
    case SK_FRAME_EOF:
        return f->max + 1; /* one byte past max shows the stream is too long */
    case SK_FRAME_RAW:
        break;
    }
    return f->max;
}

void sk_decoder_init(sk_decoder_t *d, const sk_framing_t *f)
{
    d->f = *f;
    d->scanned = 0;
    d->done = 0;
}

/* Hand out a frame: payload p[0..n), consumed stream bytes. The caller drops them, so the
 * delimiter search starts afresh. */
static int emit(sk_decoder_t *d, sk_frame_t *out, const unsigned char *p, size_t n, size_t consumed)
{
    out->data = p;
    out->len = n;
    out->consumed = consumed;
    d->scanned = 0;
    return 1;
}

static int next_raw(sk_decoder_t *d, const unsigned char *p, size_t len, sk_frame_t *out)
{
    if (len == 0)
        return 0;
    size_t n = len < d->f.max ? len : d->f.max;
    return emit(d, out, p, n, n);
}

/* line: the first "\n" at index <= max ends the frame; none there is a frame too big. */
static int next_line(sk_decoder_t *d, const unsigned char *p, size_t len, int eof, sk_frame_t *out)
{
    size_t max = d->f.max;
    size_t window = len < max + 1 ? len : max + 1;
    if (d->scanned < window) {
        const unsigned char *nl = memchr(p + d->scanned, '\n', window - d->scanned);
        if (nl)
            return emit(d, out, p, (size_t)(nl - p), (size_t)(nl - p) + 1);
        d->scanned = window;
    }
    if (len > max)
        return SK_ETOOBIG;
    if (eof && len > 0)
        return emit(d, out, p, len, len); /* the last line, unterminated */
    return 0;
}

/*
 * crlf: the first "\r\n" whose "\r" is at index <= max ends the frame. The search looks for
 * the "\n" and then at the byte before it, so a "\r" that arrived last pairs with a "\n"
 * that arrives next without rescanning anything: scanned is the first index whose "\n" has
 * not been looked at (index 0 never ends a CRLF: nothing of this frame precedes it).
 */
static int next_crlf(sk_decoder_t *d, const unsigned char *p, size_t len, int eof, sk_frame_t *out)
{
    size_t max = d->f.max;
    size_t window = len < max + 2 ? len : max + 2;
    size_t from = d->scanned > 0 ? d->scanned : 1;
    while (from < window) {
        const unsigned char *nl = memchr(p + from, '\n', window - from);
        if (!nl)
            break;
        size_t at = (size_t)(nl - p);
        if (p[at - 1] == '\r')
            return emit(d, out, p, at - 1, at + 1);
        from = at + 1;
    }
    d->scanned = window;
    /* Past max bytes only a "\r" at index max, completed by the next byte, can still end
     * the frame in time; at eof nothing can. */
    if (len > max && (eof || len > max + 1 || p[max] != '\r'))
        return SK_ETOOBIG;
    if (eof && len > 0)
        return emit(d, out, p, len, len); /* the last line, unterminated */
    return 0;
}

static int next_fixed(sk_decoder_t *d, const unsigned char *p, size_t len, int eof, sk_frame_t *out)
{
    size_t n = d->f.size;
    if (len >= n)
        return emit(d, out, p, n, n);
    return eof && len > 0 ? SK_EEOF : 0;
}

/* len16, len32: a big-endian prefix of hdr bytes, compared with max before any use. */
static int next_prefixed(sk_decoder_t *d, const unsigned char *p, size_t len, int eof, size_t hdr,
                         sk_frame_t *out)
{
    if (len < hdr)
        return eof && len > 0 ? SK_EEOF : 0;
    uint32_t n = 0;
    for (size_t i = 0; i < hdr; i++)
        n = n << 8 | p[i];
    if (n > d->f.max)
        return SK_ETOOBIG;
    size_t need = hdr + (size_t)n; /* at most SK_FRAME_MAX_LIMIT + 4 */
    if (len < need)
        return eof ? SK_EEOF : 0;
    return emit(d, out, p + hdr, n, need);
}

static int next_eof(sk_decoder_t *d, const unsigned char *p, size_t len, int eof, sk_frame_t *out)
{
    if (d->done)
        return 0;
    if (len > d->f.max)
        return SK_ETOOBIG;
    if (!eof)
        return 0;
    d->done = 1;
    return emit(d, out, p, len, len);
}

int sk_decoder_next(sk_decoder_t *d, const void *buf, size_t len, int eof, sk_frame_t *out)
{
    if (!framing_valid(&d->f) || (!buf && len > 0))
        return SK_EBADARG;
    const unsigned char *p = buf ? buf : (const unsigned char *)"";
    /* The caller only appends or drops a returned frame (which resets scanned); a shorter
     * buffer than was searched means something else happened: search it again. */
    if (d->scanned > len)
        d->scanned = 0;
    switch (d->f.kind) {
    case SK_FRAME_RAW:
        return next_raw(d, p, len, out);
    case SK_FRAME_LINE:
        return next_line(d, p, len, eof, out);
    case SK_FRAME_CRLF:
        return next_crlf(d, p, len, eof, out);
    case SK_FRAME_FIXED:
        return next_fixed(d, p, len, eof, out);
    case SK_FRAME_LEN16:
        return next_prefixed(d, p, len, eof, 2, out);
    case SK_FRAME_LEN32:
        return next_prefixed(d, p, len, eof, 4, out);
    case SK_FRAME_EOF:
        return next_eof(d, p, len, eof, out);
    }
    return SK_EBADARG;
}

/* True when p[0..len) holds "\r\n". */
static int has_crlf(const unsigned char *p, size_t len)
{
    size_t from = 1;
    while (from < len) {
        const unsigned char *nl = memchr(p + from, '\n', len - from);
        if (!nl)
            return 0;
        if (nl[-1] == '\r')
            return 1;
        from = (size_t)(nl - p) + 1;
    }
    return 0;
}

/* payload must not point into out's storage: making room may move it. */
int sk_frame_encode(const sk_framing_t *f, const void *payload, size_t len, sk_buf_t *out)
{
    const unsigned char *p = payload;
    if (!framing_valid(f) || (!payload && len > 0))
        return SK_EBADARG;
    if (len > f->max)
        return SK_ETOOBIG;
    size_t hdr = 0, trailer = 0;
    switch (f->kind) {
    case SK_FRAME_FIXED:
        if (len != f->size)
            return SK_EBADARG;
        break;
    case SK_FRAME_LINE:
        if (len > 0 && memchr(p, '\n', len))
            return SK_EBADARG;
        trailer = 1;
        break;
    case SK_FRAME_CRLF:
        if (has_crlf(p, len))
            return SK_EBADARG;
        trailer = 2;
        break;
    case SK_FRAME_LEN16:
        hdr = 2;
        break;
    case SK_FRAME_LEN32:
        hdr = 4;
        break;
    case SK_FRAME_RAW:
    case SK_FRAME_EOF:
        break;
    }
    size_t total = hdr + len + trailer; /* at most SK_FRAME_MAX_LIMIT + 4 */
    if (total == 0)
        return 0;
    if (total > sk_buf_room(out))
        return SK_ETOOBIG;
    char *tail;
    int r = sk_buf_reserve(out, total, &tail);
    if (r < 0)
        return r;
    unsigned char *w = (unsigned char *)tail;
    for (size_t i = 0; i < hdr; i++)
        w[i] = (unsigned char)(len >> (8 * (hdr - 1 - i)));
    if (len > 0)
        memcpy(w + hdr, p, len);
    if (trailer == 2)
        w[hdr + len] = '\r';
    if (trailer > 0)
        w[hdr + len + trailer - 1] = '\n';
    sk_buf_commit(out, total);
    return 0;
}
