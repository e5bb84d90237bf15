/* escape.c: control bytes and malformed UTF-8 spelled out for printing (sockit/escape.h). */
#include <string.h>

#include "sockit/escape.h"

/*
 * The length of the well-formed, printable UTF-8 sequence at p[0..n) (2 to 4 bytes), or 0
 * when p does not start one: a stray continuation byte, a truncated or overlong
 * sequence, a surrogate, a code point past U+10FFFF, or a C1 control (U+0080..U+009F).
 */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    unsigned cp, min;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2, cp = c & 0x1f, min = 0xa0; /* U+0080..U+009F are the C1 controls */
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, cp = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

/* The escape for byte c, or NULL when it prints as itself. buf holds "\xHH". */
static const char *escape_byte(unsigned char c, char buf[5])
{
    static const char hex[] = "0123456789abcdef";
    if (c >= 0x20 && c < 0x7f)
        return NULL;
    if (c == '\n')
        return "\\n";
    if (c == '\r')
        return "\\r";
    if (c == '\t')
        return "\\t";
    buf[0] = '\\';
    buf[1] = 'x';
    buf[2] = hex[c >> 4];
    buf[3] = hex[c & 15];
    buf[4] = '\0';
    return buf;
}

/* Escape s[0..n) into dst[0..cap) and return the length; dst NULL: only count. */
static size_t escape_into(char *dst, size_t cap, const unsigned char *s, size_t n)
{
    size_t o = 0, i = 0;
    while (i < n) {
        char ebuf[5];
        const char *piece;
        size_t plen;
        size_t seq = s[i] >= 0x80 ? utf8_seq(s + i, n - i) : 0;
        if (seq) {
            piece = (const char *)s + i;
            plen = seq;
        } else if ((piece = escape_byte(s[i], ebuf)) != NULL) {
            plen = strlen(piece);
            seq = 1;
        } else {
            piece = (const char *)s + i;
            plen = seq = 1;
        }
        if (dst) {
            if (o + plen >= cap)
                break;
            memcpy(dst + o, piece, plen);
        }
        o += plen;
        i += seq;
    }
    if (dst)
        dst[o] = '\0';
    return o;
}

size_t sk_escape(char *dst, size_t cap, const void *src, size_t n)
{
    if (cap == 0)
        return 0;
    return escape_into(dst, cap, src, n);
}

size_t sk_escape_len(const void *src, size_t n)
{
    return escape_into(NULL, 0, src, n);
}

int sk_escape_clean(const void *src, size_t n)
{
    return sk_escape_len(src, n) == n; /* every escape is longer than its byte */
}
