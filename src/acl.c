/* acl.c: allow/deny rules by CIDR block and the per-peer decision (sockit/acl.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "base.h"
#include "sockit/acl.h"
#include "sockit/error.h"

/* Longest address part copied for inet_pton(); every numeric address is shorter. */
#define ACL_ADDRMAX 64

/* Bytes of an address of family fam (AF_INET or AF_INET6). */
static size_t addr_bytes(int fam)
{
    return fam == AF_INET ? 4 : 16;
}

/* Byte i of the netmask of a /prefix: 0xff, 0 or the leading bits of the boundary byte. */
static unsigned mask_byte(unsigned prefix, size_t i)
{
    int bits = (int)prefix - 8 * (int)i;
    if (bits >= 8) return 0xff;
    if (bits <= 0) return 0;
    return (0xff00u >> bits) & 0xffu;
}

/* "invalid CIDR 'TEXT': reason". Returns SK_EBADARG. */
__attribute__((format(printf, 3, 4))) static int bad_cidr(char *err, const char *text,
                                                          const char *fmt, ...)
{
    if (!err) return SK_EBADARG;
    char reason[SK_ERRLEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    char q[SK__QUOTE_MAX + 4];
    sk__set_err(err, "invalid CIDR '%s': %s", sk__quote(text, q), reason);
    return SK_EBADARG;
}

/* Room for `need` more rules, else SK_ETOOBIG with a message. */
static int check_room(const sk_acl_t *acl, size_t need, char *err)
{
    if (acl->n > SK_ACL_MAX || SK_ACL_MAX - acl->n < need) {
        sk__set_err(err, "too many address rules (at most %d)", SK_ACL_MAX);
        return SK_ETOOBIG;
    }
    return 0;
}

static void append(sk_acl_t *acl, int allow, int fam, unsigned prefix, const unsigned char *a)
{
    sk_acl_rule_t *r = &acl->rule[acl->n++];
    memset(r, 0, sizeof *r);
    r->allow = allow ? 1 : 0;
    r->family = (unsigned char)fam;
    r->prefix = (unsigned char)prefix;
    memcpy(r->addr, a, addr_bytes(fam));
    acl->nallow += r->allow;
}

/*
 * Parse the prefix text after '/' for family fam into *prefix. Returns 0 or SK_EBADARG.
 * Decimal digits only, no sign, no leading zero, at most max: checked on the text before
 * any arithmetic, so no length overflows.
 */
static int parse_prefix(const char *text, const char *p, unsigned max, unsigned *prefix, char *err)
{
    char q[SK__QUOTE_MAX + 4];
    if (*p == '\0') return bad_cidr(err, text, "missing prefix length after '/'");
    size_t n = 0;
    for (; p[n]; n++)
        if (p[n] < '0' || p[n] > '9')
            return bad_cidr(err, text, "prefix length '%s' is not a decimal number",
                            sk__quote(p, q));
    if (n > 1 && p[0] == '0')
        return bad_cidr(err, text, "prefix length '%s' has a leading zero", sk__quote(p, q));
    unsigned v = 0;
    if (n <= 3)
        for (size_t i = 0; i < n; i++)
            v = v * 10 + (unsigned)(p[i] - '0');
    if (n > 3 || v > max)
        return bad_cidr(err, text, "prefix length '%s' is over %u", sk__quote(p, q), max);
    *prefix = v;
    return 0;
}

void sk_acl_init(sk_acl_t *acl)
{
    acl->n = 0;
    acl->nallow = 0;
}

int sk_acl_add(sk_acl_t *acl, int allow, const char *cidr, char *err)
{
    const char *text = cidr ? cidr : "";
    static const unsigned char zero[16];

    if (strcmp(text, "all") == 0 || strcmp(text, "any") == 0) {
        int r = check_room(acl, 2, err);
        if (r < 0) return r;
        append(acl, allow, AF_INET, 0, zero);
        append(acl, allow, AF_INET6, 0, zero);
        return 0;
    }

    /* Split into the address and the prefix text (NULL when there is no '/'). */
    const char *a = text, *slash;
    size_t alen;
    int bracketed = text[0] == '[';
    if (bracketed) {
        const char *close = strchr(text, ']');
        if (!close) return bad_cidr(err, text, "missing ']'");
        a = text + 1;
        alen = (size_t)(close - a);
        slash = close[1] == '/' ? close + 1 : NULL;
        if (close[1] != '\0' && !slash) return bad_cidr(err, text, "unexpected text after ']'");
    } else {
        slash = strchr(text, '/');
        alen = slash ? (size_t)(slash - text) : strlen(text);
    }
    if (alen == 0) return bad_cidr(err, text, "empty address");

    char abuf[ACL_ADDRMAX];
    unsigned char addr[16];
    memset(addr, 0, sizeof addr);
    int fam = 0;
    if (alen < sizeof abuf) {
        memcpy(abuf, a, alen);
        abuf[alen] = '\0';
        if (memchr(abuf, '%', alen)) return bad_cidr(err, text, "zone index not allowed");
        if (inet_pton(AF_INET, abuf, addr) == 1)
            fam = AF_INET;
        else if (inet_pton(AF_INET6, abuf, addr) == 1)
            fam = AF_INET6;
    }
    if (fam == AF_INET && bracketed)
        return bad_cidr(err, text, "brackets are only for IPv6 addresses");
    if (fam == 0) return bad_cidr(err, text, "not a numeric IPv4 or IPv6 address");

    unsigned max = fam == AF_INET ? 32 : 128, prefix = max;
    if (slash) {
        int r = parse_prefix(text, slash + 1, max, &prefix, err);
        if (r < 0) return r;
    }

    /* Host bits beyond the prefix are a mistake worth naming, not masking away. */
    unsigned char net[16];
    int host_bits = 0;
    for (size_t i = 0; i < sizeof net; i++) {
        net[i] = (unsigned char)(addr[i] & mask_byte(prefix, i));
        host_bits |= net[i] != addr[i];
    }
    if (host_bits) {
        char ntext[INET6_ADDRSTRLEN];
        inet_ntop(fam, net, ntext, sizeof ntext);
        return bad_cidr(err, text, "host bits set beyond /%u (did you mean %s/%u?)", prefix, ntext,
                        prefix);
    }

    /* ::ffff:a.b.c.d/96+ is an IPv4 block: store it as one, as peers are matched. */
    static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (fam == AF_INET6 && prefix >= 96 && memcmp(addr, v4mapped, sizeof v4mapped) == 0) {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        fam = AF_INET;
        prefix -= 96;
    }

    int r = check_room(acl, 1, err);
    if (r < 0) return r;
    append(acl, allow, fam, prefix, addr);
    return 0;
}

/* 1 when the rule covers address a of family fam. The same work for every rule of a
 * family: all its bytes are compared under the mask, without early exit. */
static int rule_match(const sk_acl_rule_t *r, int fam, const unsigned char *a)
{
    if (r->family != fam) return 0;
    unsigned diff = 0;
    size_t nb = addr_bytes(fam);
    for (size_t i = 0; i < nb; i++)
        diff |= (unsigned)(a[i] ^ r->addr[i]) & mask_byte(r->prefix, i);
    return diff == 0;
}

int sk_acl_check(const sk_acl_t *acl, const sk_addr_t *peer)
{
    if (!acl || acl->n == 0) return 1;
    if (!peer || peer->len == 0) return 0;

    unsigned char a[16];
    int fam = peer->ss.ss_family;
    if (fam == AF_INET) {
        if (peer->len < (socklen_t)sizeof(struct sockaddr_in)) return 0;
        const struct sockaddr_in *sin = (const struct sockaddr_in *)&peer->ss;
        memcpy(a, &sin->sin_addr, 4);
    } else if (fam == AF_INET6) {
        if (peer->len < (socklen_t)sizeof(struct sockaddr_in6)) return 0;
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&peer->ss;
        memcpy(a, &s6->sin6_addr, 16);
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
            memmove(a, a + 12, 4);
            fam = AF_INET;
        }
    } else {
        return 1; /* Unix-domain and every other non-IP family */
    }

    size_t n = acl->n < SK_ACL_MAX ? acl->n : SK_ACL_MAX;
    for (size_t i = 0; i < n; i++)
        if (rule_match(&acl->rule[i], fam, a)) return acl->rule[i].allow ? 1 : 0;
    return acl->nallow == 0;
}

const char *sk_acl_rule_str(const sk_acl_t *acl, size_t i, char *buf, size_t len)
{
    if (!buf || len == 0) return buf;
    buf[0] = '\0';
    if (!acl || i >= acl->n || i >= SK_ACL_MAX) return buf;
    const sk_acl_rule_t *r = &acl->rule[i];
    char ntext[INET6_ADDRSTRLEN];
    int fam = r->family == AF_INET ? AF_INET : AF_INET6;
    if (!inet_ntop(fam, r->addr, ntext, sizeof ntext)) ntext[0] = '\0';
    snprintf(buf, len, "%s %s/%u", r->allow ? "allow" : "deny", ntext, (unsigned)r->prefix);
    return buf;
}
