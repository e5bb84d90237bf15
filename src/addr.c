/* addr.c: address text <-> socket addresses (sockit/addr.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "base.h"
#include "sockit/addr.h"
#include "sockit/error.h"

/* Longest piece of user text quoted in an error message. */

const char *sk__quote(const char *s, char out[SK__QUOTE_MAX + 4])
{
    size_t i = 0;
    for (; s[i] && i < SK__QUOTE_MAX; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
    if (s[i])
        memcpy(out + i, "...", 4);
    else
        out[i] = '\0';
    return out;
}

void sk__set_err(char *err, const char *fmt, ...)
{
    if (!err)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, SK_ERRLEN, fmt, ap);
    va_end(ap);
}

/* Report malformed text: "WHAT 'TEXT'" with an optional hint after a colon. */
static int bad(char *err, int code, const char *what, const char *text, const char *hint)
{
    char q[SK__QUOTE_MAX + 4];
    sk__set_err(err, "%s '%s'%s%s", what, sk__quote(text, q), hint ? ": " : "", hint ? hint : "");
    return code;
}

/* Host names: letters, digits, '-', '.', '_' and UTF-8 bytes (for IDN); nothing else. */
static int valid_hostname(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n >= SK_HOSTMAX)
        return 0;
    for (const unsigned char *p = (const unsigned char *)h; *p; p++)
        if (!isalnum(*p) && *p != '-' && *p != '.' && *p != '_' && *p < 0x80)
            return 0;
    return 1;
}

/* An IPv6 literal, optionally followed by %scope (an interface name or number). */
static int valid_ipv6(const char *h)
{
    char tmp[INET6_ADDRSTRLEN + IF_NAMESIZE + 2];
    struct in6_addr a;
    size_t n = strcspn(h, "%");
    if (n >= sizeof tmp || strlen(h) >= sizeof tmp)
        return 0;
    memcpy(tmp, h, n);
    tmp[n] = '\0';
    if (h[n] == '%') {
        /* A scope is what an interface name may be: 1 to IF_NAMESIZE - 1 bytes, none of
         * them blank, a control character, '/' or ':' (Linux's dev_valid_name), nor the
         * '%', '[' and ']' that would make the text ambiguous. */
        const char *s = h + n + 1;
        size_t sn = strlen(s);
        if (sn == 0 || sn >= IF_NAMESIZE)
            return 0;
        for (; *s; s++)
            if ((unsigned char)*s <= ' ' || *s == 0x7f || strchr("/:%[]", *s))
                return 0;
    }
    return inet_pton(AF_INET6, tmp, &a) == 1;
}

int sk_port_parse(const char *text, uint16_t *port, char *err)
{
    if (!text || !*text) {
        sk__set_err(err, "missing port");
        return SK_EBADPORT;
    }
    if (isdigit((unsigned char)text[0])) {
        unsigned long v = 0;
        const char *p = text;
        for (; isdigit((unsigned char)*p); p++) {
            v = v * 10 + (unsigned long)(*p - '0');
            if (v > 65535)
                break;
        }
        if (*p || v > 65535)
            return bad(err, SK_EBADPORT, "invalid port", text, NULL);
        *port = (uint16_t)v;
        return 0;
    }
    struct servent se, *res = NULL;
    char sbuf[1024];
    if (strlen(text) < 64 && getservbyname_r(text, NULL, &se, sbuf, sizeof sbuf, &res) == 0 &&
        res) {
        *port = ntohs((uint16_t)res->s_port);
        return 0;
    }
    return bad(err, SK_EBADPORT, "invalid port", text, NULL);
}

static int parse_unix(sk_endpoint_t *ep, const char *rest, const char *text, char *err)
{
    ep->family = AF_UNIX;
    if (rest[0] == '@') {
        ep->abstract = 1;
        rest++;
    }
    size_t n = strlen(rest);
    if (n == 0)
        return bad(err, SK_EBADADDR, "invalid address", text,
                   ep->abstract ? "empty abstract socket name" : "empty Unix socket path");
    if (n > SK_UNIXPATHMAX) /* a path needs its NUL; an abstract name its leading NUL */
        return bad(err, SK_EBADADDR, "invalid address", text,
                   ep->abstract ? "abstract socket name longer than 107 bytes"
                                : "Unix socket path longer than 107 bytes");
    memcpy(ep->path, rest, n + 1);
    return 0;
}

/* Validate and store a host that came without brackets. */
static int set_host(sk_endpoint_t *ep, const char *host, size_t n, const char *text,
                    char *err)
{
    char h[SK_HOSTMAX];
    if (n >= sizeof h)
        return bad(err, SK_EBADADDR, "invalid address", text, "host name too long");
    memcpy(h, host, n);
    h[n] = '\0';
    if (strcmp(h, "*") == 0)
        h[0] = '\0';
    if (h[0] && !valid_hostname(h)) {
        if (strchr(h, ':') && valid_ipv6(h)) {
            ep->family = AF_INET6;
        } else {
            char q[SK__QUOTE_MAX + 4];
            sk__set_err(err, "invalid host name '%s'", sk__quote(h, q));
            return SK_EBADADDR;
        }
    }
    memcpy(ep->host, h, strlen(h) + 1);
    return 0;
}

int sk_endpoint_parse(sk_endpoint_t *ep, const char *text, char *err)
{
    memset(ep, 0, sizeof *ep);
    if (!text || !*text) {
        sk__set_err(err, "empty address");
        return SK_EBADADDR;
    }
    if (strncmp(text, "unix:", 5) == 0)
        return parse_unix(ep, text + 5, text, err);

    const char *port;
    if (text[0] == '[') {
        const char *close = strchr(text, ']');
        if (!close)
            return bad(err, SK_EBADADDR, "missing ']' in", text, NULL);
        size_t n = (size_t)(close - text - 1);
        if (n >= sizeof ep->host)
            return bad(err, SK_EBADADDR, "invalid address", text, "host too long");
        memcpy(ep->host, text + 1, n);
        ep->host[n] = '\0';
        if (!valid_ipv6(ep->host)) {
            char q[SK__QUOTE_MAX + 4];
            sk__set_err(err, "invalid IPv6 address '%s'", sk__quote(ep->host, q));
            return SK_EBADADDR;
        }
        ep->family = AF_INET6;
        if (close[1] == '\0')
            return bad(err, SK_EBADADDR, "missing port in", text, NULL);
        if (close[1] != ':')
            return bad(err, SK_EBADADDR, "invalid address", text, "expected ':' after ']'");
        port = close + 2;
        if (!*port)
            return bad(err, SK_EBADADDR, "missing port in", text, NULL);
    } else {
        const char *colon = strchr(text, ':');
        if (!colon) {
            /* A bare port; a bare name is more likely a host missing its port. */
            uint16_t p;
            if (sk_port_parse(text, &p, NULL) == 0) {
                memcpy(ep->host, "localhost", sizeof "localhost");
                ep->family = AF_UNSPEC;
                ep->port = p;
                return 0;
            }
            if (strspn(text, "0123456789") == strlen(text))
                return sk_port_parse(text, &p, err); /* "99999": a port, out of range */
            return bad(err, SK_EBADADDR, "missing port in", text, "expected HOST:PORT");
        }
        if (strchr(colon + 1, ':'))
            return bad(err, SK_EBADADDR, "invalid address", text,
                       "put an IPv6 address in brackets, as in [::1]:5000");
        int r = set_host(ep, text, (size_t)(colon - text), text, err);
        if (r < 0)
            return r;
        port = colon + 1;
        if (!*port)
            return bad(err, SK_EBADADDR, "missing port in", text, NULL);
    }
    return sk_port_parse(port, &ep->port, err);
}

int sk_endpoint_from_hostport(sk_endpoint_t *ep, const char *host, const char *port,
                              char *err)
{
    memset(ep, 0, sizeof *ep);
    if (!host)
        host = "";
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        host++;
        n -= 2;
    }
    int r = set_host(ep, host, n, host, err);
    if (r < 0)
        return r;
    return sk_port_parse(port, &ep->port, err);
}

int sk_endpoint_format(const sk_endpoint_t *ep, char *buf, size_t len)
{
    int n;
    if (ep->family == AF_UNIX)
        n = snprintf(buf, len, "unix:%s%s", ep->abstract ? "@" : "", ep->path);
    else if (strchr(ep->host, ':'))
        n = snprintf(buf, len, "[%s]:%u", ep->host, ep->port);
    else
        n = snprintf(buf, len, "%s:%u", ep->host, ep->port);
    return n < 0 ? SK_EBADARG : (n >= (int)len ? (int)len - 1 : n);
}

/* RFC 6761 section 6.4: names under ".invalid" never resolve, and resolvers say so at once. */
static int is_invalid_tld(const char *host)
{
    size_t n = strlen(host);
    if (n && host[n - 1] == '.')
        n--;
    if (n < 7)
        return 0;
    return strncasecmp(host + n - 7, "invalid", 7) == 0 && (n == 7 || host[n - 8] == '.');
}

static int unix_addr(sk_addr_t *a, const sk_endpoint_t *ep)
{
    struct sockaddr_un *un = (struct sockaddr_un *)&a->ss;
    size_t n = strlen(ep->path);
    memset(a, 0, sizeof *a);
    un->sun_family = AF_UNIX;
    if (ep->abstract) {
        memcpy(un->sun_path + 1, ep->path, n); /* sun_path[0] stays '\0' */
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
    } else {
        memcpy(un->sun_path, ep->path, n + 1);
        a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
    }
    return 0;
}

/* Turn a getaddrinfo() failure into a code and "resolve HOST: reason". */
static int gai_fail(int gai, const char *host, char *err)
{
    int code = gai == EAI_SYSTEM ? (errno ? -errno : -EIO) : sk_eai(gai);
    char q[SK__QUOTE_MAX + 4];
    sk__set_err(err, "resolve %s: %s", sk__quote(host, q), sk_strerror(code));
    return code;
}

int sk_getaddrinfo(sk_addrlist_t *out, const char *host, const char *service, int family,
                   int socktype, int flags, char *err)
{
    out->n = 0;
    out->v = NULL;
    if (!host)
        host = "";
    if (host[0] && is_invalid_tld(host))
        return gai_fail(EAI_NONAME, host, err);

    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    if (flags & SK_RESOLVE_PASSIVE)
        hints.ai_flags |= AI_PASSIVE;
    if (flags & SK_RESOLVE_NUMERIC)
        hints.ai_flags |= AI_NUMERICHOST;
    if (service && service[0] && strspn(service, "0123456789") == strlen(service))
        hints.ai_flags |= AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : NULL, service && service[0] ? service : NULL, &hints,
                          &res);
    if (gai != 0)
        return gai_fail(gai, host, err);

    size_t cap = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
        cap++;
    if (cap > SK_ADDRLIST_MAX)
        cap = SK_ADDRLIST_MAX;
    out->v = calloc(cap ? cap : 1, sizeof *out->v);
    if (!out->v) {
        freeaddrinfo(res);
        return -ENOMEM;
    }
    for (struct addrinfo *ai = res; ai && out->n < cap; ai = ai->ai_next) {
        sk_resolved_t r;
        memset(&r, 0, sizeof r);
        if (sk_addr_set(&r.addr, ai->ai_addr, ai->ai_addrlen) < 0)
            continue;
        r.socktype = ai->ai_socktype;
        r.protocol = ai->ai_protocol;
        int dup = 0;
        for (size_t i = 0; i < out->n && !dup; i++)
            dup = out->v[i].socktype == r.socktype && out->v[i].protocol == r.protocol &&
                  sk_addr_equal(&out->v[i].addr, &r.addr);
        if (!dup)
            out->v[out->n++] = r;
    }
    freeaddrinfo(res);
    if (out->n == 0) {
        sk_addrlist_free(out);
        char q[SK__QUOTE_MAX + 4];
        sk__set_err(err, "resolve %s: %s", sk__quote(host, q), sk_strerror(SK_ENOADDR));
        return SK_ENOADDR;
    }
    return (int)out->n;
}

int sk_resolve(sk_addrlist_t *out, const sk_endpoint_t *ep, int socktype, int flags,
               char *err)
{
    out->n = 0;
    out->v = NULL;
    if (ep->family == AF_UNIX) {
        out->v = calloc(1, sizeof *out->v);
        if (!out->v)
            return -ENOMEM;
        unix_addr(&out->v[0].addr, ep);
        out->v[0].socktype = socktype ? socktype : SOCK_STREAM;
        out->n = 1;
        return 1;
    }
    char port[8];
    snprintf(port, sizeof port, "%u", ep->port);
    return sk_getaddrinfo(out, ep->host, port, ep->family == AF_INET6 ? AF_INET6 : AF_UNSPEC,
                          socktype, flags, err);
}

void sk_addrlist_free(sk_addrlist_t *list)
{
    free(list->v);
    list->v = NULL;
    list->n = 0;
}

int sk_addr_set(sk_addr_t *a, const struct sockaddr *sa, socklen_t len)
{
    memset(a, 0, sizeof *a);
    if (len > sizeof a->ss)
        return SK_EBADARG;
    memcpy(&a->ss, sa, len);
    a->len = len;
    return 0;
}

int sk_addr_family(const sk_addr_t *a)
{
    return a->len ? a->ss.ss_family : AF_UNSPEC;
}

int sk_addr_port(const sk_addr_t *a)
{
    switch (sk_addr_family(a)) {
    case AF_INET:
        return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
    case AF_INET6:
        return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
    }
    return -1;
}

void sk_addr_set_port(sk_addr_t *a, uint16_t port)
{
    switch (sk_addr_family(a)) {
    case AF_INET:
        ((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
        break;
    case AF_INET6:
        ((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
        break;
    }
}

int sk_addr_equal(const sk_addr_t *a, const sk_addr_t *b)
{
    return a->len == b->len && memcmp(&a->ss, &b->ss, a->len) == 0;
}

/* Length of the name in a Unix address (abstract names include their leading NUL). */
static size_t unix_name_len(const sk_addr_t *a)
{
    size_t off = offsetof(struct sockaddr_un, sun_path);
    return a->len > off ? a->len - off : 0;
}

int sk_addr_host(const sk_addr_t *a, char *buf, size_t len)
{
    if (len == 0)
        return SK_EBADARG;
    buf[0] = '\0';
    switch (sk_addr_family(a)) {
    case AF_INET:
        if (!inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, buf,
                       (socklen_t)len))
            return -errno;
        break;
    case AF_INET6: {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&a->ss;
        if (!inet_ntop(AF_INET6, &s6->sin6_addr, buf, (socklen_t)len))
            return -errno;
        if (s6->sin6_scope_id) {
            /* An interface name only where getaddrinfo() takes one back (link-local
             * scopes): "[2001:db8::1%lo]" would not parse, "[2001:db8::1%1]" does. */
            char ifname[IF_NAMESIZE];
            size_t n = strlen(buf);
            int by_name = IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr) ||
                          IN6_IS_ADDR_MC_NODELOCAL(&s6->sin6_addr) ||
                          IN6_IS_ADDR_MC_LINKLOCAL(&s6->sin6_addr);
            if (by_name && if_indextoname(s6->sin6_scope_id, ifname))
                snprintf(buf + n, len - n, "%%%s", ifname);
            else
                snprintf(buf + n, len - n, "%%%u", (unsigned)s6->sin6_scope_id);
        }
        break;
    }
    case AF_UNIX: {
        const struct sockaddr_un *un = (const struct sockaddr_un *)&a->ss;
        size_t n = unix_name_len(a), o = 0;
        size_t i = 0;
        if (n > 0 && un->sun_path[0] == '\0') { /* abstract: "@name", NULs shown as '@' */
            buf[o++] = '@';
            i = 1;
        }
        for (; i < n && un->sun_path[i] && o + 1 < len; i++)
            buf[o++] = un->sun_path[i];
        buf[o] = '\0';
        break;
    }
    default:
        snprintf(buf, len, "-");
        break;
    }
    return (int)strlen(buf);
}

int sk_addr_format(const sk_addr_t *a, char *buf, size_t len)
{
    char host[SK_ADDRSTRLEN];
    int r = sk_addr_host(a, host, sizeof host);
    if (r < 0)
        return r;
    int n;
    switch (sk_addr_family(a)) {
    case AF_INET:
        n = snprintf(buf, len, "%s:%d", host, sk_addr_port(a));
        break;
    case AF_INET6:
        n = snprintf(buf, len, "[%s]:%d", host, sk_addr_port(a));
        break;
    case AF_UNIX:
        n = snprintf(buf, len, "unix:%s", host);
        break;
    default:
        n = snprintf(buf, len, "-");
        break;
    }
    return n < 0 ? SK_EBADARG : (n >= (int)len ? (int)len - 1 : n);
}

const char *sk_addr_str(const sk_addr_t *a, char buf[SK_ADDRSTRLEN])
{
    sk_addr_format(a, buf, SK_ADDRSTRLEN);
    return buf;
}

int sk_gethostname(char *buf, size_t len)
{
    if (!buf || len == 0)
        return SK_EBADARG;
    if (gethostname(buf, len) < 0)
        return -errno;
    buf[len - 1] = '\0';
    return (int)strlen(buf);
}

static int copy_name(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s", name);
    return (int)strlen(buf);
}

int sk_getfqdn(const char *name, char *buf, size_t len)
{
    char self[SK_HOSTMAX];
    if (len == 0)
        return SK_EBADARG;
    if (!name || !*name || strcmp(name, "0.0.0.0") == 0) {
        int r = sk_gethostname(self, sizeof self);
        if (r < 0)
            return r;
        name = self;
    }
    if (is_invalid_tld(name))
        return copy_name(buf, len, name);

    /* The resolver's canonical name, then the reverse name of each address: the first
     * that has a dot wins, as in Python's getfqdn(). */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_flags = AI_CANONNAME;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return copy_name(buf, len, name);
    int n = -1;
    if (res->ai_canonname && strchr(res->ai_canonname, '.'))
        n = copy_name(buf, len, res->ai_canonname);
    for (struct addrinfo *ai = res; ai && n < 0; ai = ai->ai_next) {
        char host[NI_MAXHOST];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof host, NULL, 0,
                        NI_NAMEREQD) == 0 &&
            strchr(host, '.'))
            n = copy_name(buf, len, host);
    }
    if (n < 0)
        n = copy_name(buf, len, res->ai_canonname ? res->ai_canonname : name);
    freeaddrinfo(res);
    return n;
}

int sk_gethostbyname(const char *name, char *buf, size_t len, char *err)
{
    sk_endpoint_t ep;
    memset(&ep, 0, sizeof ep);
    if (!name || strlen(name) >= sizeof ep.host) {
        sk__set_err(err, "invalid host name");
        return SK_EBADADDR;
    }
    memcpy(ep.host, name, strlen(name) + 1);
    ep.family = AF_UNSPEC;
    sk_addrlist_t list;
    int r = sk_resolve(&list, &ep, SOCK_STREAM, 0, err);
    if (r < 0)
        return r;
    r = SK_ENOADDR;
    for (size_t i = 0; i < list.n; i++) {
        if (sk_addr_family(&list.v[i].addr) == AF_INET) {
            r = sk_addr_host(&list.v[i].addr, buf, len);
            break;
        }
    }
    sk_addrlist_free(&list);
    if (r == SK_ENOADDR) {
        char q[SK__QUOTE_MAX + 4];
        sk__set_err(err, "resolve %s: no IPv4 address", sk__quote(name, q));
    }
    return r;
}
