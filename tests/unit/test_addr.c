/* test_addr.c: address text in both directions, resolution and sk_strerror (addr.h, error.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sockit/addr.h"
#include "sockit/error.h"
#include "sockit/sock.h"
#include "t.h"

/* ---- helpers ---- */

/* Parse text that must be good; return the endpoint. */
static sk_endpoint_t parse_ok(const char *text)
{
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    int r = sk_endpoint_parse(&ep, text, err);
    if (r != 0) T_FAIL("sk_endpoint_parse(\"%s\") = %d (%s): %s", text, r, sk_strerror(r), err);
    return ep;
}

/* Parse text that must be rejected with `code` and exactly `msg` in err. */
static void parse_bad(const char *text, int code, const char *msg)
{
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_endpoint_parse(&ep, text, err), code);
    T_EQ_STR(err, msg);
    /* err is optional */
    T_EQ_INT(sk_endpoint_parse(&ep, text, NULL), code);
}

static sk_addr_t make_v4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    T_EQ_INT(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    sk_addr_t a;
    T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&sin, sizeof sin), 0);
    return a;
}

static sk_addr_t make_v6(const char *ip, uint16_t port, uint32_t scope)
{
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_port = htons(port);
    s6.sin6_scope_id = scope;
    T_EQ_INT(inet_pton(AF_INET6, ip, &s6.sin6_addr), 1);
    sk_addr_t a;
    T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&s6, sizeof s6), 0);
    return a;
}

/* A Unix address: name of n bytes (abstract names start with '\0'), no trailing NUL
 * counted unless include_nul. */
static sk_addr_t make_unix(const char *name, size_t n, int include_nul)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, name, n);
    sk_addr_t a;
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + !!include_nul);
    T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&un, len), 0);
    return a;
}

static void check_format(const sk_addr_t *a, const char *text, const char *host, int port)
{
    char buf[SK_ADDRSTRLEN], hbuf[SK_ADDRSTRLEN];
    T_EQ_INT(sk_addr_format(a, buf, sizeof buf), (long long)strlen(text));
    T_EQ_STR(buf, text);
    char sbuf[SK_ADDRSTRLEN];
    T_EQ_STR(sk_addr_str(a, sbuf), text);
    T_EQ_INT(sk_addr_host(a, hbuf, sizeof hbuf), (long long)strlen(host));
    T_EQ_STR(hbuf, host);
    T_EQ_INT(sk_addr_port(a), port);
}

/* No two entries of a list are the same (address, socket type, protocol). */
static void check_no_duplicates(const sk_addrlist_t *l)
{
    for (size_t i = 0; i < l->n; i++)
        for (size_t j = i + 1; j < l->n; j++) {
            int same = l->v[i].socktype == l->v[j].socktype &&
                       l->v[i].protocol == l->v[j].protocol &&
                       l->v[i].addr.len == l->v[j].addr.len &&
                       memcmp(&l->v[i].addr.ss, &l->v[j].addr.ss, l->v[i].addr.len) == 0;
            if (same) {
                char as[SK_ADDRSTRLEN];
                T_FAIL("entries %zu and %zu are both %s (socktype %d)", i, j,
                       sk_addr_str(&l->v[i].addr, as), l->v[i].socktype);
            }
        }
}

static int is_loopback(const sk_addr_t *a)
{
    if (sk_addr_family(a) == AF_INET)
        return (ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr) >> 24) == 127;
    if (sk_addr_family(a) == AF_INET6)
        return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
    return 0;
}

static int is_wildcard(const sk_addr_t *a)
{
    if (sk_addr_family(a) == AF_INET)
        return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
    if (sk_addr_family(a) == AF_INET6)
        return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
    return 0;
}

/* ---- sk_endpoint_parse: good text ---- */

TEST(endpoint_parse_bare_port_is_localhost)
{
    sk_endpoint_t ep = parse_ok("5000");
    T_EQ_STR(ep.host, "localhost");
    T_EQ_INT(ep.port, 5000);
    T_EQ_INT(ep.family, AF_UNSPEC);
    ep = parse_ok("http"); /* a bare service name is a port too */
    T_EQ_STR(ep.host, "localhost");
    T_EQ_INT(ep.port, 80);
}

TEST(endpoint_parse_host_port)
{
    sk_endpoint_t ep = parse_ok("host:80");
    T_EQ_STR(ep.host, "host");
    T_EQ_INT(ep.port, 80);
    T_EQ_INT(ep.family, AF_UNSPEC);
    ep = parse_ok("127.0.0.1:65535");
    T_EQ_STR(ep.host, "127.0.0.1");
    T_EQ_INT(ep.port, 65535);
    ep = parse_ok("my-host_1.example.com:0");
    T_EQ_STR(ep.host, "my-host_1.example.com");
    T_EQ_INT(ep.port, 0);
}

TEST(endpoint_parse_v6)
{
    sk_endpoint_t ep = parse_ok("[::1]:5000");
    T_EQ_STR(ep.host, "::1");
    T_EQ_INT(ep.port, 5000);
    T_EQ_INT(ep.family, AF_INET6);
    ep = parse_ok("[2001:db8::42]:443");
    T_EQ_STR(ep.host, "2001:db8::42");
    T_EQ_INT(ep.port, 443);
    T_EQ_INT(ep.family, AF_INET6);
}

TEST(endpoint_parse_v6_scope)
{
    sk_endpoint_t ep = parse_ok("[fe80::1%lo]:22");
    T_EQ_STR(ep.host, "fe80::1%lo");
    T_EQ_INT(ep.port, 22);
    T_EQ_INT(ep.family, AF_INET6);
}

TEST(endpoint_parse_any_host)
{
    sk_endpoint_t ep = parse_ok(":5000");
    T_EQ_STR(ep.host, "");
    T_EQ_INT(ep.port, 5000);
    ep = parse_ok("*:5000");
    T_EQ_STR(ep.host, "");
    T_EQ_INT(ep.port, 5000);
    T_EQ_INT(ep.family, AF_UNSPEC);
}

TEST(endpoint_parse_service_name)
{
    sk_endpoint_t ep = parse_ok("localhost:http");
    T_EQ_STR(ep.host, "localhost");
    T_EQ_INT(ep.port, 80);
    ep = parse_ok("[::1]:ssh");
    T_EQ_INT(ep.port, 22);
}

TEST(endpoint_parse_unix)
{
    sk_endpoint_t ep = parse_ok("unix:/tmp/x");
    T_EQ_INT(ep.family, AF_UNIX);
    T_EQ_STR(ep.path, "/tmp/x");
    T_EQ_INT(ep.abstract, 0);
    ep = parse_ok("unix:relative/sock");
    T_EQ_STR(ep.path, "relative/sock");
    T_EQ_INT(ep.abstract, 0);
}

TEST(endpoint_parse_unix_abstract)
{
    sk_endpoint_t ep = parse_ok("unix:@name");
    T_EQ_INT(ep.family, AF_UNIX);
    T_EQ_STR(ep.path, "name");
    T_EQ_INT(ep.abstract, 1);
}

TEST(endpoint_parse_unix_path_max_107)
{
    char text[5 + 200];
    memcpy(text, "unix:", 5);
    memset(text + 5, 'p', 107);
    text[5] = '/';
    text[5 + 107] = '\0';
    sk_endpoint_t ep = parse_ok(text);
    T_EQ_INT(strlen(ep.path), 107);
    T_EQ_STR(ep.path, text + 5);
}

/* Linux abstract names may use every byte of sun_path after the leading NUL: 107. */
TEST(endpoint_parse_unix_abstract_max_107)
{
    char text[6 + 200];
    memcpy(text, "unix:@", 6);
    memset(text + 6, 'a', 107);
    text[6 + 107] = '\0';
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    int r = sk_endpoint_parse(&ep, text, err);
    if (r != 0)
        T_FAIL("a 107-byte abstract name fits sun_path (1 + 107 = 108 bytes) but was "
               "rejected: %d, \"%s\"",
               r, err);
    T_EQ_INT(strlen(ep.path), 107);
    /* ... and it really is usable: bind one. */
    sk_addrlist_t l;
    T_EQ_INT(sk_resolve(&l, &ep, SOCK_STREAM, 0, NULL), 1);
    int fd = sk_socket(AF_UNIX, SOCK_STREAM, 0);
    T_OK(fd);
    T_OK(sk_bind(fd, &l.v[0].addr));
    sk_addrlist_free(&l);
    sk_close(fd);
}

/* ---- sk_endpoint_parse: bad text, exact messages ---- */

TEST(endpoint_parse_bad_port)
{
    parse_bad("localhost:99999", SK_EBADPORT, "invalid port '99999'");
    parse_bad("99999", SK_EBADPORT, "invalid port '99999'");
    parse_bad("host:65536", SK_EBADPORT, "invalid port '65536'");
    parse_bad("host:-1", SK_EBADPORT, "invalid port '-1'");
    parse_bad("host:80x", SK_EBADPORT, "invalid port '80x'");
    parse_bad("host:nosuchservice", SK_EBADPORT, "invalid port 'nosuchservice'");
}

TEST(endpoint_parse_bad_brackets)
{
    parse_bad("[::1:5000", SK_EBADADDR, "missing ']' in '[::1:5000'");
    parse_bad("[::1]", SK_EBADADDR, "missing port in '[::1]'");
    parse_bad("[::1]5000", SK_EBADADDR, "invalid address '[::1]5000': expected ':' after ']'");
    parse_bad("[nothex]:1", SK_EBADADDR, "invalid IPv6 address 'nothex'");
    parse_bad("[127.0.0.1]:1", SK_EBADADDR, "invalid IPv6 address '127.0.0.1'");
    parse_bad("[fe80::1%]:1", SK_EBADADDR, "invalid IPv6 address 'fe80::1%'");
}

/* A scope is an interface name or number: no blank, '/', ':', '%', brackets, nor more
 * than IF_NAMESIZE - 1 bytes (fuzz/corpus/addr/found-hostport-v6-scope-with-bracket). */
TEST(endpoint_parse_bad_scope)
{
    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    parse_bad("[fe80::1%a b]:1", SK_EBADADDR, "invalid IPv6 address 'fe80::1%a b'");
    parse_bad("[fe80::1%a/b]:1", SK_EBADADDR, "invalid IPv6 address 'fe80::1%a/b'");
    parse_bad("[fe80::1%1%2]:1", SK_EBADADDR, "invalid IPv6 address 'fe80::1%1%2'");
    parse_bad("[fe80::1%0123456789abcdef]:1", SK_EBADADDR,
              "invalid IPv6 address 'fe80::1%0123456789abcdef'");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "::%]", "2", err), SK_EBADADDR);
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "fe80::1%lo]", "22", err), SK_EBADADDR);
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "fe80::1%[lo", "22", err), SK_EBADADDR);
    ep = parse_ok("[fe80::1%0123456789abcde]:1"); /* 15 bytes: the longest name */
    T_EQ_STR(ep.host, "fe80::1%0123456789abcde");
}

TEST(endpoint_parse_v6_needs_brackets)
{
    parse_bad("::1:5000", SK_EBADADDR,
              "invalid address '::1:5000': put an IPv6 address in brackets, as in [::1]:5000");
    parse_bad("fe80::1:22", SK_EBADADDR,
              "invalid address 'fe80::1:22': put an IPv6 address in brackets, as in "
              "[::1]:5000");
}

TEST(endpoint_parse_missing_port)
{
    parse_bad("host:", SK_EBADADDR, "missing port in 'host:'");
    parse_bad("example.com", SK_EBADADDR, "missing port in 'example.com': expected HOST:PORT");
    /* A bracketed host with an empty port is as bad as "host:". */
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    T_ASSERT(sk_endpoint_parse(&ep, "[::1]:", err) < 0);
    T_ASSERT(strncmp(err, "missing port", 12) == 0);
}

TEST(endpoint_parse_empty)
{
    parse_bad("", SK_EBADADDR, "empty address");
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_endpoint_parse(&ep, NULL, err), SK_EBADADDR);
    T_EQ_STR(err, "empty address");
    parse_bad("unix:", SK_EBADADDR, "invalid address 'unix:': empty Unix socket path");
    parse_bad("unix:@", SK_EBADADDR, "invalid address 'unix:@': empty abstract socket name");
}

TEST(endpoint_parse_bad_host_chars)
{
    parse_bad("bad host:80", SK_EBADADDR, "invalid host name 'bad host'");
    parse_bad("a/b:80", SK_EBADADDR, "invalid host name 'a/b'");
    parse_bad("x;rm:80", SK_EBADADDR, "invalid host name 'x;rm'");
    /* Control bytes are not echoed raw into the message. */
    parse_bad("a\nb:80", SK_EBADADDR, "invalid host name 'a?b'");
}

TEST(endpoint_parse_unix_path_too_long)
{
    char text[5 + 200], want[SK_ERRLEN];
    memcpy(text, "unix:", 5);
    memset(text + 5, 'p', 108);
    text[5] = '/';
    text[5 + 108] = '\0';
    /* The message quotes at most 64 bytes of the text, then "...". */
    snprintf(want, sizeof want,
             "invalid address '%.64s...': Unix socket path longer than 107 bytes", text);
    parse_bad(text, SK_EBADADDR, want);
}

TEST(endpoint_parse_long_text_is_quoted_short)
{
    char text[600], want[SK_ERRLEN];
    memset(text, 'h', 300);
    memcpy(text + 300, ":80", 4);
    snprintf(want, sizeof want, "invalid address '%.64s...': host name too long", text);
    parse_bad(text, SK_EBADADDR, want);
}

/* ---- sk_endpoint_from_hostport ---- */

TEST(endpoint_from_hostport)
{
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "example.com", "80", err), 0);
    T_EQ_STR(ep.host, "example.com");
    T_EQ_INT(ep.port, 80);
    T_EQ_INT(ep.family, AF_UNSPEC);

    T_EQ_INT(sk_endpoint_from_hostport(&ep, "::1", "5000", err), 0); /* bare IPv6 */
    T_EQ_STR(ep.host, "::1");
    T_EQ_INT(ep.port, 5000);
    T_EQ_INT(ep.family, AF_INET6);

    T_EQ_INT(sk_endpoint_from_hostport(&ep, "[fe80::1%lo]", "22", err), 0);
    T_EQ_STR(ep.host, "fe80::1%lo");
    T_EQ_INT(ep.family, AF_INET6);

    T_EQ_INT(sk_endpoint_from_hostport(&ep, "127.0.0.1", "http", err), 0);
    T_EQ_STR(ep.host, "127.0.0.1");
    T_EQ_INT(ep.port, 80);

    T_EQ_INT(sk_endpoint_from_hostport(&ep, "", "7", err), 0);
    T_EQ_STR(ep.host, "");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, NULL, "7", err), 0);
    T_EQ_STR(ep.host, "");
}

TEST(endpoint_from_hostport_bad)
{
    sk_endpoint_t ep;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "bad host", "80", err), SK_EBADADDR);
    T_EQ_STR(err, "invalid host name 'bad host'");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "::zz", "80", err), SK_EBADADDR);
    T_EQ_STR(err, "invalid host name '::zz'");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "h", "99999", err), SK_EBADPORT);
    T_EQ_STR(err, "invalid port '99999'");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "h", "", err), SK_EBADPORT);
    T_EQ_STR(err, "missing port");
    T_EQ_INT(sk_endpoint_from_hostport(&ep, "h", NULL, err), SK_EBADPORT);
    T_EQ_STR(err, "missing port");
}

/* ---- sk_endpoint_format ---- */

TEST(endpoint_format_round_trip)
{
    static const char *const texts[] = {"localhost:5000",  "[::1]:80",    "10.1.2.3:0",
                                        "[fe80::1%lo]:22", "unix:/tmp/s", "unix:@name"};
    for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
        sk_endpoint_t ep = parse_ok(texts[i]);
        char buf[SK_ADDRSTRLEN + 16];
        T_EQ_INT(sk_endpoint_format(&ep, buf, sizeof buf), (long long)strlen(texts[i]));
        T_EQ_STR(buf, texts[i]);
    }
    /* Truncation: length len - 1, NUL-terminated. */
    sk_endpoint_t ep = parse_ok("localhost:5000");
    char small[6];
    T_EQ_INT(sk_endpoint_format(&ep, small, sizeof small), 5);
    T_EQ_STR(small, "local");
}

/* ---- sk_port_parse ---- */

TEST(port_parse_bounds)
{
    uint16_t port = 1234;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_port_parse("0", &port, err), 0);
    T_EQ_INT(port, 0);
    T_EQ_INT(sk_port_parse("65535", &port, err), 0);
    T_EQ_INT(port, 65535);
    T_EQ_INT(sk_port_parse("00080", &port, err), 0);
    T_EQ_INT(port, 80);

    static const char *const bad[] = {
        "65536", "-1", "+5", "5x", " 5", "5 ", "1e3", "0x50", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char want[SK_ERRLEN];
        port = 1234;
        snprintf(want, sizeof want, "invalid port '%s'", bad[i]);
        T_EQ_INT(sk_port_parse(bad[i], &port, err), SK_EBADPORT);
        T_EQ_STR(err, want);
        T_EQ_INT(port, 1234); /* untouched on failure */
    }
    T_EQ_INT(sk_port_parse("", &port, err), SK_EBADPORT);
    T_EQ_STR(err, "missing port");
    T_EQ_INT(sk_port_parse(NULL, &port, err), SK_EBADPORT);
    T_EQ_INT(sk_port_parse("65536", &port, NULL), SK_EBADPORT);
}

TEST(port_parse_service_names)
{
    uint16_t port = 0;
    struct servent *se = getservbyname("http", "tcp");
    T_ASSERT(se != NULL); /* /etc/services is part of the test environment */
    T_EQ_INT(sk_port_parse("http", &port, NULL), 0);
    T_EQ_INT(port, ntohs((uint16_t)se->s_port));
    T_EQ_INT(port, 80);
    T_EQ_INT(sk_port_parse("ssh", &port, NULL), 0);
    T_EQ_INT(port, 22);
}

/* ---- formatting socket addresses ---- */

TEST(addr_format_v4)
{
    sk_addr_t a = make_v4("127.0.0.1", 5000);
    check_format(&a, "127.0.0.1:5000", "127.0.0.1", 5000);
    T_EQ_INT(sk_addr_family(&a), AF_INET);
    a = make_v4("255.255.255.255", 65535);
    check_format(&a, "255.255.255.255:65535", "255.255.255.255", 65535);
    a = make_v4("0.0.0.0", 0);
    check_format(&a, "0.0.0.0:0", "0.0.0.0", 0);
}

TEST(addr_format_v6)
{
    sk_addr_t a = make_v6("::1", 5000, 0);
    check_format(&a, "[::1]:5000", "::1", 5000);
    T_EQ_INT(sk_addr_family(&a), AF_INET6);
    a = make_v6("2001:db8:0:0:0:0:0:42", 80, 0); /* numeric and compressed */
    check_format(&a, "[2001:db8::42]:80", "2001:db8::42", 80);
    a = make_v6("::ffff:127.0.0.1", 1, 0);
    check_format(&a, "[::ffff:127.0.0.1]:1", "::ffff:127.0.0.1", 1);
}

TEST(addr_format_v6_scope)
{
    unsigned lo = if_nametoindex("lo");
    T_GT_INT(lo, 0);
    sk_addr_t a = make_v6("fe80::1", 22, lo);
    check_format(&a, "[fe80::1%lo]:22", "fe80::1%lo", 22);
    /* A scope with no interface name: shown as a number. */
    char name[IF_NAMESIZE];
    unsigned idx = 4242;
    T_ASSERT(if_indextoname(idx, name) == NULL);
    a = make_v6("fe80::1", 22, idx);
    check_format(&a, "[fe80::1%4242]:22", "fe80::1%4242", 22);
    /* Outside link-local scopes getaddrinfo() takes only a number back, so that is what
     * is shown even when the interface has a name (fuzz/corpus/addr/
     * seed-parse-v6-global-scope). */
    a = make_v6("2001:db8::1", 80, lo);
    char text[64], host[64];
    snprintf(text, sizeof text, "[2001:db8::1%%%u]:80", lo);
    snprintf(host, sizeof host, "2001:db8::1%%%u", lo);
    check_format(&a, text, host, 80);
    sk_endpoint_t ep = parse_ok(text);
    sk_addrlist_t l;
    char err[SK_ERRLEN];
    T_EQ_INT(sk_resolve(&l, &ep, SOCK_STREAM, SK_RESOLVE_NUMERIC, err), 1);
    T_ASSERT(sk_addr_equal(&l.v[0].addr, &a));
    sk_addrlist_free(&l);
}

TEST(addr_format_unix)
{
    sk_addr_t a = make_unix("/tmp/x", 6, 1);
    check_format(&a, "unix:/tmp/x", "/tmp/x", -1);
    T_EQ_INT(sk_addr_family(&a), AF_UNIX);
    a = make_unix("/tmp/x", 6, 0); /* length without the NUL, as some callers pass it */
    check_format(&a, "unix:/tmp/x", "/tmp/x", -1);
    /* A full 108-byte sun_path with no NUL at all. */
    char path[108];
    memset(path, 'q', sizeof path);
    path[0] = '/';
    a = make_unix(path, sizeof path, 0);
    char want[5 + 109];
    snprintf(want, sizeof want, "unix:%.108s", path);
    char buf[SK_ADDRSTRLEN];
    T_EQ_INT(sk_addr_format(&a, buf, sizeof buf), 5 + 108);
    T_EQ_STR(buf, want);
}

TEST(addr_format_unix_abstract)
{
    sk_addr_t a = make_unix("\0name", 5, 0);
    check_format(&a, "unix:@name", "@name", -1);
}

TEST(addr_format_unix_unnamed)
{
    sk_addr_t a = make_unix("", 0, 0);
    check_format(&a, "unix:", "", -1);
    /* The same from a real unnamed socket. */
    int fds[2];
    T_OK(sk_socketpair(SOCK_STREAM, fds));
    T_OK(sk_getsockname(fds[0], &a));
    check_format(&a, "unix:", "", -1);
    sk_close(fds[0]);
    sk_close(fds[1]);
}

TEST(addr_format_empty)
{
    sk_addr_t a;
    memset(&a, 0, sizeof a);
    check_format(&a, "-", "-", -1);
    T_EQ_INT(sk_addr_family(&a), AF_UNSPEC);
}

TEST(addr_format_truncates)
{
    sk_addr_t a = make_v4("127.0.0.1", 5000);
    char buf[5];
    T_EQ_INT(sk_addr_format(&a, buf, sizeof buf), 4);
    T_EQ_STR(buf, "127.");
    a = make_v6("::1", 5000, 0);
    T_EQ_INT(sk_addr_format(&a, buf, sizeof buf), 4);
    T_EQ_STR(buf, "[::1");
}

TEST(addr_set_port_equal_family)
{
    sk_addr_t a = make_v4("127.0.0.1", 1), b = make_v4("127.0.0.1", 2);
    T_EQ_INT(sk_addr_equal(&a, &b), 0);
    sk_addr_set_port(&a, 2);
    T_EQ_INT(sk_addr_port(&a), 2);
    T_EQ_INT(sk_addr_equal(&a, &b), 1);
    sk_addr_t c = make_v6("::1", 9, 0);
    sk_addr_set_port(&c, 65535);
    check_format(&c, "[::1]:65535", "::1", 65535);
    sk_addr_t u = make_unix("/p", 2, 1), u2 = u;
    sk_addr_set_port(&u, 80); /* other families are left alone */
    T_EQ_INT(sk_addr_equal(&u, &u2), 1);
    T_EQ_INT(sk_addr_equal(&a, &c), 0);

    struct sockaddr_storage big[2];
    memset(big, 0, sizeof big);
    T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)big, sizeof big), SK_EBADARG);
}

/* ---- sk_resolve ---- */

TEST(resolve_ipv4_literal)
{
    sk_endpoint_t ep = parse_ok("127.0.0.1:5000");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    int n = sk_resolve(&l, &ep, SOCK_STREAM, 0, err);
    T_EQ_INT(n, 1);
    T_EQ_INT(l.n, 1);
    check_format(&l.v[0].addr, "127.0.0.1:5000", "127.0.0.1", 5000);
    T_EQ_INT(l.v[0].socktype, SOCK_STREAM);
    sk_addrlist_free(&l);
    T_EQ_INT(l.n, 0);
    T_ASSERT(l.v == NULL);
    sk_addrlist_free(&l); /* safe on a freed list */

    /* Socket type 0: one entry per type, still no duplicates. */
    n = sk_resolve(&l, &ep, 0, SK_RESOLVE_NUMERIC, err);
    T_GE_INT(n, 1);
    for (size_t i = 0; i < l.n; i++)
        check_format(&l.v[i].addr, "127.0.0.1:5000", "127.0.0.1", 5000);
    check_no_duplicates(&l);
    sk_addrlist_free(&l);
}

TEST(resolve_ipv6_literal_with_scope)
{
    sk_endpoint_t ep = parse_ok("[fe80::1%lo]:22");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_resolve(&l, &ep, SOCK_STREAM, SK_RESOLVE_NUMERIC, err), 1);
    check_format(&l.v[0].addr, "[fe80::1%lo]:22", "fe80::1%lo", 22);
    sk_addrlist_free(&l);
}

TEST(resolve_numeric_refuses_names)
{
    sk_endpoint_t ep = parse_ok("localhost:80");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    int r = sk_resolve(&l, &ep, SOCK_STREAM, SK_RESOLVE_NUMERIC, err);
    T_ASSERT(SK_IS_EAI(r));
    T_EQ_INT(r, sk_eai(EAI_NONAME));
    T_EQ_INT(l.n, 0);
    char want[SK_ERRLEN];
    snprintf(want, sizeof want, "resolve localhost: %s", gai_strerror(EAI_NONAME));
    T_EQ_STR(err, want);
}

TEST(resolve_invalid_tld_fails_at_once)
{
    static const char *const names[] = {"no.such.host.invalid", "invalid", "x.INVALID.",
                                        "a.b.Invalid"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        sk_endpoint_t ep;
        char err[SK_ERRLEN] = "", want[SK_ERRLEN];
        T_EQ_INT(sk_endpoint_from_hostport(&ep, names[i], "80", err), 0);
        sk_addrlist_t l;
        l.n = 99;
        double t0 = t_now();
        int r = sk_resolve(&l, &ep, SOCK_STREAM, 0, err);
        T_ASSERT(SK_IS_EAI(r));
        T_LT_INT((t_now() - t0) * 1000, 500); /* no DNS query was waited for */
        T_EQ_INT(l.n, 0);
        T_ASSERT(l.v == NULL);
        snprintf(want, sizeof want, "resolve %s: Name or service not known", names[i]);
        T_EQ_STR(err, want);
    }
}

TEST(resolve_invalid_exact_message)
{
    sk_endpoint_t ep = parse_ok("no.such.host.invalid:80");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    int r = sk_resolve(&l, &ep, SOCK_STREAM, 0, err);
    T_ASSERT(SK_IS_EAI(r));
    T_EQ_STR(err, "resolve no.such.host.invalid: Name or service not known");
    T_EQ_STR(sk_strerror(r), "Name or service not known");
}

TEST(resolve_passive_empty_host_is_wildcard)
{
    sk_endpoint_t ep = parse_ok(":5000");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    int n = sk_resolve(&l, &ep, SOCK_STREAM, SK_RESOLVE_PASSIVE, err);
    T_GE_INT(n, 1);
    T_EQ_INT(l.n, n);
    for (size_t i = 0; i < l.n; i++) {
        char as[SK_ADDRSTRLEN];
        if (!is_wildcard(&l.v[i].addr))
            T_FAIL("passive address %zu is %s, not a wildcard", i, sk_addr_str(&l.v[i].addr, as));
        T_EQ_INT(sk_addr_port(&l.v[i].addr), 5000);
        T_EQ_INT(l.v[i].socktype, SOCK_STREAM);
    }
    check_no_duplicates(&l);
    sk_addrlist_free(&l);

    /* Not passive: the empty host is this host, the loopback addresses. */
    n = sk_resolve(&l, &ep, SOCK_STREAM, 0, err);
    T_GE_INT(n, 1);
    for (size_t i = 0; i < l.n; i++)
        T_ASSERT(is_loopback(&l.v[i].addr));
    check_no_duplicates(&l);
    sk_addrlist_free(&l);
}

TEST(resolve_localhost_no_duplicates)
{
    sk_endpoint_t ep = parse_ok("localhost:7");
    sk_addrlist_t l;
    char err[SK_ERRLEN] = "";
    for (int type = 0; type <= SOCK_DGRAM; type++) {
        int n = sk_resolve(&l, &ep, type, 0, err);
        T_GE_INT(n, 1);
        for (size_t i = 0; i < l.n; i++) {
            T_ASSERT(is_loopback(&l.v[i].addr));
            T_EQ_INT(sk_addr_port(&l.v[i].addr), 7);
            if (type) T_EQ_INT(l.v[i].socktype, type);
        }
        check_no_duplicates(&l);
        sk_addrlist_free(&l);
    }
}

TEST(resolve_unix)
{
    sk_endpoint_t ep = parse_ok("unix:/tmp/sockit-test");
    sk_addrlist_t l;
    T_EQ_INT(sk_resolve(&l, &ep, SOCK_STREAM, 0, NULL), 1);
    check_format(&l.v[0].addr, "unix:/tmp/sockit-test", "/tmp/sockit-test", -1);
    T_EQ_INT(l.v[0].socktype, SOCK_STREAM);
    sk_addrlist_free(&l);
    ep = parse_ok("unix:@abs");
    T_EQ_INT(sk_resolve(&l, &ep, SOCK_DGRAM, 0, NULL), 1);
    check_format(&l.v[0].addr, "unix:@abs", "@abs", -1);
    T_EQ_INT(l.v[0].socktype, SOCK_DGRAM);
    sk_addrlist_free(&l);
}

TEST(gethostbyname_literal_and_invalid)
{
    char buf[64], err[SK_ERRLEN] = "";
    T_EQ_INT(sk_gethostbyname("127.0.0.1", buf, sizeof buf, err), 9);
    T_EQ_STR(buf, "127.0.0.1");
    int r = sk_gethostbyname("no.such.host.invalid", buf, sizeof buf, err);
    T_ASSERT(SK_IS_EAI(r));
    T_EQ_STR(err, "resolve no.such.host.invalid: Name or service not known");
}

/* ---- sk_strerror ---- */

TEST(strerror_ranges)
{
    T_EQ_STR(sk_strerror(0), "Success");
    T_EQ_STR(sk_strerror(-ECONNREFUSED), "Connection refused");
    T_EQ_STR(sk_strerror(-ETIMEDOUT), "Connection timed out");
    T_EQ_STR(sk_strerror(sk_eai(EAI_NONAME)), gai_strerror(EAI_NONAME));
    T_EQ_STR(sk_strerror(sk_eai(EAI_AGAIN)), gai_strerror(EAI_AGAIN));
    /* Every glibc resolver code lands in the resolver range, nothing else does. */
    static const int eai[] = {EAI_BADFLAGS, EAI_NONAME,  EAI_AGAIN,  EAI_FAIL,   EAI_FAMILY,
                              EAI_SOCKTYPE, EAI_SERVICE, EAI_MEMORY, EAI_SYSTEM, EAI_OVERFLOW};
    for (size_t i = 0; i < sizeof eai / sizeof *eai; i++)
        T_ASSERT(SK_IS_EAI(sk_eai(eai[i])));
    T_ASSERT(!SK_IS_EAI(-ECONNREFUSED));
    T_ASSERT(!SK_IS_EAI(-4095));
    T_ASSERT(!SK_IS_EAI(SK_EBADADDR));
    T_ASSERT(!SK_IS_EAI(0));
    /* Never NULL, whatever the code. */
    static const int odd[] = {1,      12345,  -4095,  -4096,  -9999,      -10000,
                              -10999, -11000, -20000, -20007, -2147483647};
    for (size_t i = 0; i < sizeof odd / sizeof *odd; i++)
        T_ASSERT(sk_strerror(odd[i]) != NULL);
}

TEST(strerror_own_codes_distinct)
{
    static const int codes[] = {SK_EBADADDR, SK_EBADPORT, SK_EEOF,
                                SK_ETOOBIG,  SK_ENOADDR,  SK_EBADARG};
    const size_t n = sizeof codes / sizeof *codes;
    for (size_t i = 0; i < n; i++) {
        const char *s = sk_strerror(codes[i]);
        T_ASSERT(s != NULL);
        T_GT_INT(strlen(s), 0);
        T_ASSERT(strncmp(s, "Unknown", 7) != 0);
        /* Each own code is outside the errno and resolver ranges. */
        T_LT_INT(codes[i], -4095);
        T_ASSERT(!SK_IS_EAI(codes[i]));
        for (size_t j = 0; j < i; j++)
            if (strcmp(s, sk_strerror(codes[j])) == 0)
                T_FAIL("SK codes %d and %d share the text \"%s\"", codes[i], codes[j], s);
    }
}
