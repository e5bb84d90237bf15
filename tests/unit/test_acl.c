/* test_acl.c: allow/deny rules by CIDR block and the per-peer decision (acl.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/error.h"
#include "t.h"

/* ---- helpers ---- */

/* A peer address from numeric text: IPv6 if it has a ':', else IPv4. */
static sk_addr_t peer(const char *ip)
{
    sk_addr_t a;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 s6;
        memset(&s6, 0, sizeof s6);
        s6.sin6_family = AF_INET6;
        s6.sin6_port = htons(40000);
        T_EQ_INT(inet_pton(AF_INET6, ip, &s6.sin6_addr), 1);
        T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&s6, sizeof s6), 0);
    } else {
        struct sockaddr_in sin;
        memset(&sin, 0, sizeof sin);
        sin.sin_family = AF_INET;
        sin.sin_port = htons(40000);
        T_EQ_INT(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
        T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&sin, sizeof sin), 0);
    }
    return a;
}

/* A Unix-domain peer with a name of n bytes (abstract names start with '\0'). */
static sk_addr_t unix_peer(const char *name, size_t n)
{
    struct sockaddr_un un;
    memset(&un, 0, sizeof un);
    un.sun_family = AF_UNIX;
    memcpy(un.sun_path, name, n);
    sk_addr_t a;
    T_EQ_INT(sk_addr_set(&a, (struct sockaddr *)&un,
                         (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)),
             0);
    return a;
}

/* sk_acl_check() for numeric text. */
static int check(const sk_acl_t *acl, const char *ip)
{
    sk_addr_t a = peer(ip);
    return sk_acl_check(acl, &a);
}

/* Add a rule that must be accepted. */
static void add_ok(sk_acl_t *acl, int allow, const char *text)
{
    char err[SK_ERRLEN] = "";
    int r = sk_acl_add(acl, allow, text, err);
    if (r != 0) T_FAIL("sk_acl_add(%d, \"%s\") = %d (%s): %s", allow, text, r, sk_strerror(r), err);
    T_EQ_STR(err, "");
}

/* Add a rule that must be rejected with `code` and exactly `msg`, changing nothing. */
static void add_bad(const char *text, int code, const char *msg)
{
    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, 1, "192.0.2.0/24");
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_acl_add(&acl, 0, text, err), code);
    T_EQ_STR(err, msg);
    T_EQ_INT(acl.n, 1);
    T_EQ_INT(acl.nallow, 1);
    /* err is optional */
    T_EQ_INT(sk_acl_add(&acl, 1, text, NULL), code);
    T_EQ_INT(acl.n, 1);
    T_EQ_INT(acl.nallow, 1);
}

/* Rule i formats as `text`. */
static void expect_rule(const sk_acl_t *acl, size_t i, const char *text)
{
    char buf[64];
    T_EQ_STR(sk_acl_rule_str(acl, i, buf, sizeof buf), text);
}

/* A one-rule list from `text` must format as `shown`. */
static void parses_as(int allow, const char *text, const char *shown)
{
    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, allow, text);
    T_EQ_INT(acl.n, 1);
    T_EQ_INT(acl.nallow, allow ? 1 : 0);
    expect_rule(&acl, 0, shown);
}

/* A list that allows only `cidr`: each address in `in` is admitted, each in `out` refused. */
static void bounds(const char *cidr, const char *const *in, const char *const *out)
{
    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, 1, cidr);
    for (const char *const *p = in; *p; p++)
        if (check(&acl, *p) != 1) T_FAIL("%s refused by allow %s, expected admitted", *p, cidr);
    for (const char *const *p = out; *p; p++)
        if (check(&acl, *p) != 0) T_FAIL("%s admitted by allow %s, expected refused", *p, cidr);
    /* The same block as the only deny rule gives the opposite answers. */
    sk_acl_init(&acl);
    add_ok(&acl, 0, cidr);
    for (const char *const *p = in; *p; p++)
        if (check(&acl, *p) != 0) T_FAIL("%s admitted by deny %s, expected refused", *p, cidr);
    for (const char *const *p = out; *p; p++)
        if (check(&acl, *p) != 1) T_FAIL("%s refused by deny %s, expected admitted", *p, cidr);
}

/* ---- parsing ---- */

TEST(parse_good_forms)
{
    parses_as(1, "10.0.0.0/8", "allow 10.0.0.0/8");
    parses_as(0, "10.0.0.0/8", "deny 10.0.0.0/8");
    parses_as(1, "192.168.1.7", "allow 192.168.1.7/32");
    parses_as(1, "192.168.1.7/32", "allow 192.168.1.7/32");
    parses_as(1, "0.0.0.0/0", "allow 0.0.0.0/0");
    parses_as(1, "10.8.0.0/13", "allow 10.8.0.0/13");
    parses_as(1, "::1", "allow ::1/128");
    parses_as(1, "::", "allow ::/128");
    parses_as(1, "::/0", "allow ::/0");
    parses_as(0, "2001:db8::/32", "deny 2001:db8::/32");
    parses_as(1, "2001:DB8:0:0:0:0:0:0/32", "allow 2001:db8::/32");
    parses_as(1, "[::1]", "allow ::1/128");
    parses_as(1, "[::1]/128", "allow ::1/128");
    parses_as(1, "[2001:db8::]/48", "allow 2001:db8::/48");
    parses_as(1, "fe80::/10", "allow fe80::/10");
    /* IPv4-mapped blocks of /96 or more are the IPv4 blocks they mean */
    parses_as(1, "::ffff:10.0.0.0/104", "allow 10.0.0.0/8");
    parses_as(1, "::ffff:1.2.3.4", "allow 1.2.3.4/32");
    parses_as(0, "::ffff:0:0/96", "deny 0.0.0.0/0");
    parses_as(1, "::ffff:a00:0/104", "allow 10.0.0.0/8");
    /* ... while a shorter prefix stays an IPv6 block, and ::a.b.c.d is not mapped */
    parses_as(1, "::/80", "allow ::/80");
    parses_as(1, "::10.1.2.3", "allow ::10.1.2.3/128");

    /* The stored fields, exactly. */
    sk_acl_t acl;
    sk_acl_init(&acl);
    T_EQ_INT(acl.n, 0);
    T_EQ_INT(acl.nallow, 0);
    add_ok(&acl, 1, "10.8.0.0/13");
    add_ok(&acl, 0, "2001:db8::/32");
    add_ok(&acl, 7, "::ffff:192.168.0.0/112");
    T_EQ_INT(acl.n, 3);
    T_EQ_INT(acl.nallow, 2);
    static const unsigned char r0[16] = {10, 8};
    T_EQ_INT(acl.rule[0].allow, 1);
    T_EQ_INT(acl.rule[0].family, AF_INET);
    T_EQ_INT(acl.rule[0].prefix, 13);
    T_EQ_MEM(acl.rule[0].addr, r0, 16);
    static const unsigned char r1[16] = {0x20, 0x01, 0x0d, 0xb8};
    T_EQ_INT(acl.rule[1].allow, 0);
    T_EQ_INT(acl.rule[1].family, AF_INET6);
    T_EQ_INT(acl.rule[1].prefix, 32);
    T_EQ_MEM(acl.rule[1].addr, r1, 16);
    static const unsigned char r2[16] = {192, 168};
    T_EQ_INT(acl.rule[2].allow, 1); /* any nonzero allow is stored as 1 */
    T_EQ_INT(acl.rule[2].family, AF_INET);
    T_EQ_INT(acl.rule[2].prefix, 16);
    T_EQ_MEM(acl.rule[2].addr, r2, 16);
}

TEST(parse_bad_address)
{
    add_bad("", SK_EBADARG, "invalid CIDR '': empty address");
    add_bad(NULL, SK_EBADARG, "invalid CIDR '': empty address");
    add_bad("/8", SK_EBADARG, "invalid CIDR '/8': empty address");
    add_bad("[]", SK_EBADARG, "invalid CIDR '[]': empty address");
    add_bad("[]/8", SK_EBADARG, "invalid CIDR '[]/8': empty address");
    add_bad("localhost", SK_EBADARG,
            "invalid CIDR 'localhost': not a numeric IPv4 or IPv6 address");
    add_bad("example.com/24", SK_EBADARG,
            "invalid CIDR 'example.com/24': not a numeric IPv4 or IPv6 address");
    add_bad("10.0.0.256", SK_EBADARG,
            "invalid CIDR '10.0.0.256': not a numeric IPv4 or IPv6 address");
    add_bad("10.0.0/24", SK_EBADARG,
            "invalid CIDR '10.0.0/24': not a numeric IPv4 or IPv6 address");
    add_bad("10", SK_EBADARG, "invalid CIDR '10': not a numeric IPv4 or IPv6 address");
    add_bad("010.0.0.1", SK_EBADARG,
            "invalid CIDR '010.0.0.1': not a numeric IPv4 or IPv6 address");
    add_bad(" 10.0.0.0/8", SK_EBADARG,
            "invalid CIDR ' 10.0.0.0/8': not a numeric IPv4 or IPv6 address");
    add_bad("10.0.0.0\n", SK_EBADARG,
            "invalid CIDR '10.0.0.0?': not a numeric IPv4 or IPv6 address");
    add_bad("2001:db8:::/32", SK_EBADARG,
            "invalid CIDR '2001:db8:::/32': not a numeric IPv4 or IPv6 address");
    add_bad("ALL", SK_EBADARG, "invalid CIDR 'ALL': not a numeric IPv4 or IPv6 address");
    add_bad("all/0", SK_EBADARG, "invalid CIDR 'all/0': not a numeric IPv4 or IPv6 address");
    add_bad("fe80::1%eth0", SK_EBADARG, "invalid CIDR 'fe80::1%eth0': zone index not allowed");
    add_bad("[fe80::%1]/64", SK_EBADARG, "invalid CIDR '[fe80::%1]/64': zone index not allowed");
    add_bad("[::1", SK_EBADARG, "invalid CIDR '[::1': missing ']'");
    add_bad("[::1]x", SK_EBADARG, "invalid CIDR '[::1]x': unexpected text after ']'");
    add_bad("[::1]:80", SK_EBADARG, "invalid CIDR '[::1]:80': unexpected text after ']'");
    add_bad("[10.0.0.1]", SK_EBADARG,
            "invalid CIDR '[10.0.0.1]': brackets are only for IPv6 addresses");
    add_bad("[localhost]", SK_EBADARG,
            "invalid CIDR '[localhost]': not a numeric IPv4 or IPv6 address");

    /* Long text: quoted to 64 bytes then "...", and never copied past the buffer. */
    char lng[200];
    memset(lng, '1', sizeof lng - 1);
    lng[sizeof lng - 1] = '\0';
    char want[SK_ERRLEN];
    snprintf(want, sizeof want, "invalid CIDR '%.64s...': not a numeric IPv4 or IPv6 address", lng);
    add_bad(lng, SK_EBADARG, want);
    lng[4] = '/';
    snprintf(want, sizeof want, "invalid CIDR '%.64s...': not a numeric IPv4 or IPv6 address", lng);
    add_bad(lng, SK_EBADARG, want);
}

TEST(parse_bad_prefix)
{
    add_bad("10.0.0.0/", SK_EBADARG, "invalid CIDR '10.0.0.0/': missing prefix length after '/'");
    add_bad("[::]/", SK_EBADARG, "invalid CIDR '[::]/': missing prefix length after '/'");
    add_bad("10.0.0.0/+8", SK_EBADARG,
            "invalid CIDR '10.0.0.0/+8': prefix length '+8' is not a decimal number");
    add_bad("10.0.0.0/-1", SK_EBADARG,
            "invalid CIDR '10.0.0.0/-1': prefix length '-1' is not a decimal number");
    add_bad("10.0.0.0/ 8", SK_EBADARG,
            "invalid CIDR '10.0.0.0/ 8': prefix length ' 8' is not a decimal number");
    add_bad("10.0.0.0/8 ", SK_EBADARG,
            "invalid CIDR '10.0.0.0/8 ': prefix length '8 ' is not a decimal number");
    add_bad("10.0.0.0/0x8", SK_EBADARG,
            "invalid CIDR '10.0.0.0/0x8': prefix length '0x8' is not a decimal number");
    add_bad("10.0.0.0/8/8", SK_EBADARG,
            "invalid CIDR '10.0.0.0/8/8': prefix length '8/8' is not a decimal number");
    add_bad("10.0.0.0/255.0.0.0", SK_EBADARG,
            "invalid CIDR '10.0.0.0/255.0.0.0': prefix length '255.0.0.0' is not a decimal "
            "number");
    add_bad("10.0.0.0/08", SK_EBADARG,
            "invalid CIDR '10.0.0.0/08': prefix length '08' has a leading zero");
    add_bad("::/00", SK_EBADARG, "invalid CIDR '::/00': prefix length '00' has a leading zero");
    add_bad("10.0.0.0/33", SK_EBADARG, "invalid CIDR '10.0.0.0/33': prefix length '33' is over 32");
    add_bad("10.0.0.0/128", SK_EBADARG,
            "invalid CIDR '10.0.0.0/128': prefix length '128' is over 32");
    add_bad("::/129", SK_EBADARG, "invalid CIDR '::/129': prefix length '129' is over 128");
    add_bad("[::]/999", SK_EBADARG, "invalid CIDR '[::]/999': prefix length '999' is over 128");
    /* 2^32 + 24 and 2^64 + 8 would wrap to valid prefixes in a careless parser */
    add_bad("10.0.0.0/4294967320", SK_EBADARG,
            "invalid CIDR '10.0.0.0/4294967320': prefix length '4294967320' is over 32");
    add_bad("::/18446744073709551624", SK_EBADARG,
            "invalid CIDR '::/18446744073709551624': prefix length '18446744073709551624' is "
            "over 128");
    /* A mapped address is checked against the IPv6 maximum, before it becomes IPv4. */
    add_bad("::ffff:10.0.0.0/129", SK_EBADARG,
            "invalid CIDR '::ffff:10.0.0.0/129': prefix length '129' is over 128");
}

TEST(parse_host_bits)
{
    add_bad("10.0.0.1/8", SK_EBADARG,
            "invalid CIDR '10.0.0.1/8': host bits set beyond /8 (did you mean 10.0.0.0/8?)");
    add_bad("10.0.0.0/0", SK_EBADARG,
            "invalid CIDR '10.0.0.0/0': host bits set beyond /0 (did you mean 0.0.0.0/0?)");
    add_bad("10.15.0.0/13", SK_EBADARG,
            "invalid CIDR '10.15.0.0/13': host bits set beyond /13 (did you mean 10.8.0.0/13?)");
    add_bad("192.168.1.7/31", SK_EBADARG,
            "invalid CIDR '192.168.1.7/31': host bits set beyond /31 (did you mean "
            "192.168.1.6/31?)");
    add_bad("2001:db8::1/32", SK_EBADARG,
            "invalid CIDR '2001:db8::1/32': host bits set beyond /32 (did you mean "
            "2001:db8::/32?)");
    add_bad("[2001:db8::3]/127", SK_EBADARG,
            "invalid CIDR '[2001:db8::3]/127': host bits set beyond /127 (did you mean "
            "2001:db8::2/127?)");
    add_bad("::1/0", SK_EBADARG,
            "invalid CIDR '::1/0': host bits set beyond /0 (did you mean ::/0?)");
    add_bad("::ffff:10.0.0.1/104", SK_EBADARG,
            "invalid CIDR '::ffff:10.0.0.1/104': host bits set beyond /104 (did you mean "
            "::ffff:10.0.0.0/104?)");
}

/* ---- matching at the edges of a block ---- */

TEST(ipv4_prefix_boundaries)
{
    bounds("0.0.0.0/0", (const char *[]){"0.0.0.0", "10.1.2.3", "255.255.255.255", NULL},
           (const char *[]){"::", "::1", "2001:db8::1", NULL});
    bounds("128.0.0.0/1", (const char *[]){"128.0.0.0", "200.1.1.1", "255.255.255.255", NULL},
           (const char *[]){"0.0.0.0", "127.255.255.255", NULL});
    bounds("10.8.0.0/13", (const char *[]){"10.8.0.0", "10.12.34.56", "10.15.255.255", NULL},
           (const char *[]){"10.7.255.255", "10.16.0.0", "11.8.0.0", "138.8.0.0", NULL});
    bounds("172.16.0.0/12", (const char *[]){"172.16.0.0", "172.31.255.255", NULL},
           (const char *[]){"172.15.255.255", "172.32.0.0", NULL});
    bounds("192.168.1.6/31", (const char *[]){"192.168.1.6", "192.168.1.7", NULL},
           (const char *[]){"192.168.1.5", "192.168.1.8", "192.168.0.6", NULL});
    bounds(
        "192.168.1.7/32", (const char *[]){"192.168.1.7", NULL},
        (const char *[]){"192.168.1.6", "192.168.1.8", "192.168.0.7", "::ffff:192.168.1.8", NULL});
    bounds("192.168.1.7", (const char *[]){"192.168.1.7", "::ffff:192.168.1.7", NULL},
           (const char *[]){"192.168.1.6", "192.168.1.8", "::c0a8:107", NULL});
}

TEST(ipv6_prefix_boundaries)
{
    bounds("::/0",
           (const char *[]){"::", "::1", "2001:db8::1", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
                            NULL},
           (const char *[]){"0.0.0.0", "10.0.0.1", "::ffff:10.0.0.1", NULL});
    bounds("8000::/1", (const char *[]){"8000::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
           (const char *[]){"::", "7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL});
    bounds("2008::/13", (const char *[]){"2008::", "200f:ffff:ffff:ffff:ffff:ffff:ffff:ffff", NULL},
           (const char *[]){"2007:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "2010::", "a008::", NULL});
    bounds("2001:db8:0:0:8000::/65",
           (const char *[]){"2001:db8::8000:0:0:0", "2001:db8::ffff:ffff:ffff:ffff", NULL},
           (const char *[]){"2001:db8::7fff:ffff:ffff:ffff", "2001:db8:0:1::", NULL});
    bounds("2001:db8::2/127", (const char *[]){"2001:db8::2", "2001:db8::3", NULL},
           (const char *[]){"2001:db8::1", "2001:db8::4", "2001:db9::2", NULL});
    bounds("2001:db8::1/128", (const char *[]){"2001:db8::1", NULL},
           (const char *[]){"2001:db8::", "2001:db8::2", "2001:db8::101", "3001:db8::1", NULL});
    bounds("::1", (const char *[]){"::1", NULL}, (const char *[]){"::", "::2", "127.0.0.1", NULL});
}

TEST(ipv4_mapped_peers)
{
    sk_acl_t acl;
    /* Mapped peers meet IPv4 rules ... */
    sk_acl_init(&acl);
    add_ok(&acl, 1, "10.0.0.0/8");
    T_EQ_INT(check(&acl, "::ffff:10.1.2.3"), 1);
    T_EQ_INT(check(&acl, "::ffff:11.0.0.1"), 0);
    T_EQ_INT(check(&acl, "::ffff:9.255.255.255"), 0);
    T_EQ_INT(check(&acl, "::10.1.2.3"), 0);        /* IPv4-compatible is not mapped */
    T_EQ_INT(check(&acl, "::fffe:10.1.2.3"), 0);   /* neither is a near miss */
    T_EQ_INT(check(&acl, "64:ff9b::10.1.2.3"), 0); /* nor NAT64 */

    sk_acl_init(&acl);
    add_ok(&acl, 0, "10.0.0.0/8");
    T_EQ_INT(check(&acl, "::ffff:10.1.2.3"), 0);
    T_EQ_INT(check(&acl, "::ffff:11.0.0.1"), 1);

    /* ... and never IPv6 rules, not even ::/0. */
    sk_acl_init(&acl);
    add_ok(&acl, 1, "::/0");
    T_EQ_INT(check(&acl, "::ffff:10.1.2.3"), 0);
    T_EQ_INT(check(&acl, "2001:db8::1"), 1);
    sk_acl_init(&acl);
    add_ok(&acl, 0, "::/0");
    T_EQ_INT(check(&acl, "::ffff:10.1.2.3"), 1);
    T_EQ_INT(check(&acl, "2001:db8::1"), 0);

    /* A rule written in mapped form matches plain and mapped IPv4 peers alike. */
    sk_acl_init(&acl);
    add_ok(&acl, 1, "::ffff:10.0.0.0/104");
    T_EQ_INT(check(&acl, "10.2.3.4"), 1);
    T_EQ_INT(check(&acl, "::ffff:10.2.3.4"), 1);
    T_EQ_INT(check(&acl, "11.2.3.4"), 0);
    T_EQ_INT(check(&acl, "::ffff:11.2.3.4"), 0);

    sk_acl_init(&acl);
    add_ok(&acl, 1, "::ffff:0:0/96");
    T_EQ_INT(check(&acl, "1.2.3.4"), 1);
    T_EQ_INT(check(&acl, "::ffff:1.2.3.4"), 1);
    T_EQ_INT(check(&acl, "::1"), 0);
}

/* ---- the decision ---- */

TEST(first_match_decides)
{
    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, 1, "10.0.0.0/8");
    add_ok(&acl, 0, "10.1.0.0/16");
    T_EQ_INT(check(&acl, "10.1.2.3"), 1); /* the allow came first */
    T_EQ_INT(check(&acl, "10.2.0.1"), 1);
    T_EQ_INT(check(&acl, "11.0.0.1"), 0); /* no match, and an allow rule exists */

    sk_acl_init(&acl);
    add_ok(&acl, 0, "10.1.0.0/16");
    add_ok(&acl, 1, "10.0.0.0/8");
    T_EQ_INT(check(&acl, "10.1.2.3"), 0); /* the deny came first */
    T_EQ_INT(check(&acl, "10.1.255.255"), 0);
    T_EQ_INT(check(&acl, "10.0.255.255"), 1);
    T_EQ_INT(check(&acl, "10.2.0.1"), 1);
    T_EQ_INT(check(&acl, "11.0.0.1"), 0);
    T_EQ_INT(check(&acl, "::1"), 0);

    /* A later duplicate never changes the answer. */
    sk_acl_init(&acl);
    add_ok(&acl, 0, "192.0.2.1");
    add_ok(&acl, 1, "192.0.2.1");
    T_EQ_INT(check(&acl, "192.0.2.1"), 0);
    T_EQ_INT(check(&acl, "192.0.2.2"), 0);
}

TEST(allow_only_deny_only_none)
{
    sk_acl_t acl;
    /* --allow alone admits only what it names */
    sk_acl_init(&acl);
    add_ok(&acl, 1, "127.0.0.1");
    add_ok(&acl, 1, "::1");
    T_EQ_INT(acl.nallow, 2);
    T_EQ_INT(check(&acl, "127.0.0.1"), 1);
    T_EQ_INT(check(&acl, "::1"), 1);
    T_EQ_INT(check(&acl, "127.0.0.2"), 0);
    T_EQ_INT(check(&acl, "::2"), 0);
    T_EQ_INT(check(&acl, "192.0.2.1"), 0);

    /* --deny alone blocks only what it names */
    sk_acl_init(&acl);
    add_ok(&acl, 0, "10.0.0.0/8");
    add_ok(&acl, 0, "2001:db8::/32");
    T_EQ_INT(acl.nallow, 0);
    T_EQ_INT(check(&acl, "10.9.8.7"), 0);
    T_EQ_INT(check(&acl, "2001:db8:1::5"), 0);
    T_EQ_INT(check(&acl, "11.0.0.1"), 1);
    T_EQ_INT(check(&acl, "2001:db9::1"), 1);
    T_EQ_INT(check(&acl, "::1"), 1);

    /* no rules: everyone */
    sk_acl_init(&acl);
    T_EQ_INT(check(&acl, "0.0.0.0"), 1);
    T_EQ_INT(check(&acl, "255.255.255.255"), 1);
    T_EQ_INT(check(&acl, "::"), 1);
    T_EQ_INT(check(&acl, "::ffff:10.0.0.1"), 1);
    sk_addr_t u = unix_peer("/tmp/s", 6);
    T_EQ_INT(sk_acl_check(&acl, &u), 1);
    sk_addr_t empty;
    memset(&empty, 0, sizeof empty);
    T_EQ_INT(sk_acl_check(&acl, &empty), 1);
    T_EQ_INT(sk_acl_check(NULL, &u), 1);
    sk_addr_t v4 = peer("192.0.2.1");
    T_EQ_INT(sk_acl_check(NULL, &v4), 1);

    /* sk_acl_init() empties a used list */
    add_ok(&acl, 1, "10.0.0.0/8");
    T_EQ_INT(check(&acl, "11.0.0.1"), 0);
    sk_acl_init(&acl);
    T_EQ_INT(acl.n, 0);
    T_EQ_INT(acl.nallow, 0);
    T_EQ_INT(check(&acl, "11.0.0.1"), 1);
}

TEST(non_ip_peers)
{
    sk_addr_t path = unix_peer("/tmp/sockit.sock", 16);
    sk_addr_t abstract = unix_peer("\0sockit", 7);
    sk_addr_t unnamed = unix_peer("", 0);
    T_EQ_INT(sk_addr_family(&unnamed), AF_UNIX);

    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, 1, "10.0.0.0/8"); /* allow-only: refuses every IP peer it does not name */
    T_EQ_INT(check(&acl, "11.0.0.1"), 0);
    T_EQ_INT(sk_acl_check(&acl, &path), 1);
    T_EQ_INT(sk_acl_check(&acl, &abstract), 1);
    T_EQ_INT(sk_acl_check(&acl, &unnamed), 1);

    sk_acl_init(&acl);
    add_ok(&acl, 0, "all");
    T_EQ_INT(sk_acl_check(&acl, &path), 1);
    T_EQ_INT(sk_acl_check(&acl, &abstract), 1);
    T_EQ_INT(sk_acl_check(&acl, &unnamed), 1);

    /* An unknown or truncated IP address fails closed once there are rules. */
    sk_addr_t empty;
    memset(&empty, 0, sizeof empty);
    T_EQ_INT(sk_acl_check(&acl, &empty), 0);
    T_EQ_INT(sk_acl_check(&acl, NULL), 0);
    sk_acl_init(&acl);
    add_ok(&acl, 0, "192.0.2.0/24");
    sk_addr_t v4 = peer("10.0.0.1");
    T_EQ_INT(sk_acl_check(&acl, &v4), 1);
    v4.len = 8;
    T_EQ_INT(sk_acl_check(&acl, &v4), 0);
    sk_addr_t v6 = peer("2001:db8::1");
    T_EQ_INT(sk_acl_check(&acl, &v6), 1);
    v6.len = 24;
    T_EQ_INT(sk_acl_check(&acl, &v6), 0);
}

TEST(all_and_any)
{
    sk_acl_t acl;
    sk_acl_init(&acl);
    add_ok(&acl, 1, "all");
    T_EQ_INT(acl.n, 2);
    T_EQ_INT(acl.nallow, 2);
    expect_rule(&acl, 0, "allow 0.0.0.0/0");
    expect_rule(&acl, 1, "allow ::/0");

    sk_acl_init(&acl);
    add_ok(&acl, 0, "any");
    T_EQ_INT(acl.n, 2);
    T_EQ_INT(acl.nallow, 0);
    expect_rule(&acl, 0, "deny 0.0.0.0/0");
    expect_rule(&acl, 1, "deny ::/0");
    add_ok(&acl, 1, "10.0.0.0/8"); /* too late: the deny matches first */
    T_EQ_INT(check(&acl, "10.0.0.1"), 0);
    T_EQ_INT(check(&acl, "::1"), 0);
    T_EQ_INT(check(&acl, "::ffff:10.0.0.1"), 0);

    /* The usual shape: carve out, then everything else. */
    sk_acl_init(&acl);
    add_ok(&acl, 0, "10.0.0.0/8");
    add_ok(&acl, 0, "2001:db8::/32");
    add_ok(&acl, 1, "all");
    T_EQ_INT(acl.n, 4);
    T_EQ_INT(check(&acl, "10.1.1.1"), 0);
    T_EQ_INT(check(&acl, "::ffff:10.1.1.1"), 0);
    T_EQ_INT(check(&acl, "2001:db8::1"), 0);
    T_EQ_INT(check(&acl, "11.1.1.1"), 1);
    T_EQ_INT(check(&acl, "::ffff:11.1.1.1"), 1);
    T_EQ_INT(check(&acl, "2001:db9::1"), 1);
    T_EQ_INT(check(&acl, "::"), 1);
}

TEST(full_table)
{
    static sk_acl_t acl;
    char text[32], err[SK_ERRLEN];
    sk_acl_init(&acl);
    for (int i = 0; i < SK_ACL_MAX; i++) {
        snprintf(text, sizeof text, "10.%d.0.0/16", i);
        add_ok(&acl, 0, text);
    }
    T_EQ_INT(acl.n, SK_ACL_MAX);
    err[0] = '\0';
    T_EQ_INT(sk_acl_add(&acl, 1, "192.0.2.0/24", err), SK_ETOOBIG);
    T_EQ_STR(err, "too many address rules (at most 256)");
    T_EQ_INT(sk_acl_add(&acl, 1, "192.0.2.0/24", NULL), SK_ETOOBIG);
    T_EQ_INT(acl.n, SK_ACL_MAX);
    T_EQ_INT(acl.nallow, 0);
    /* Bad text is still reported as bad text when the table is full. */
    T_EQ_INT(sk_acl_add(&acl, 1, "10.0.0.1/8", err), SK_EBADARG);
    /* The last rule is consulted like the first. */
    T_EQ_INT(check(&acl, "10.0.1.2"), 0);
    T_EQ_INT(check(&acl, "10.255.255.255"), 0);
    T_EQ_INT(check(&acl, "11.0.0.1"), 1);
    expect_rule(&acl, 255, "deny 10.255.0.0/16");

    /* "all" needs two rules: with one place left it fails whole, then a single fits. */
    sk_acl_init(&acl);
    for (int i = 0; i < SK_ACL_MAX - 1; i++) {
        snprintf(text, sizeof text, "2001:db8:%x::/48", i);
        add_ok(&acl, 1, text);
    }
    err[0] = '\0';
    T_EQ_INT(sk_acl_add(&acl, 0, "all", err), SK_ETOOBIG);
    T_EQ_STR(err, "too many address rules (at most 256)");
    T_EQ_INT(acl.n, SK_ACL_MAX - 1);
    T_EQ_INT(acl.nallow, SK_ACL_MAX - 1);
    add_ok(&acl, 0, "::/0");
    T_EQ_INT(acl.n, SK_ACL_MAX);
    T_EQ_INT(check(&acl, "2001:db8:fe::1"), 1);
    T_EQ_INT(check(&acl, "2001:db8:ff::1"), 0); /* the last rule, deny ::/0 */
    T_EQ_INT(check(&acl, "1.2.3.4"), 0);        /* no match, allow rules exist */
}

TEST(rule_str_round_trip)
{
    static const char *const texts[] = {
        "10.0.0.0/8",
        "192.168.1.7",
        "0.0.0.0/0",
        "10.8.0.0/13",
        "128.0.0.0/1",
        "::1",
        "::/0",
        "2001:db8::/32",
        "[::1]/128",
        "2008::/13",
        "2001:db8::2/127",
        "::ffff:10.0.0.0/104",
        "fe80::/10",
        "2001:db8:0:0:8000::/65",
        "::10.1.2.3",
        "all",
    };
    static sk_acl_t a, b;
    sk_acl_init(&a);
    sk_acl_init(&b);
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        add_ok(&a, (int)(i & 1), texts[i]);
    T_EQ_INT(a.n, sizeof texts / sizeof texts[0] + 1);

    char buf[64];
    for (size_t i = 0; i < a.n; i++) {
        const char *s = sk_acl_rule_str(&a, i, buf, sizeof buf);
        T_ASSERT(s == buf);
        const char *sp = strchr(s, ' ');
        T_ASSERT(sp != NULL);
        T_EQ_INT(strncmp(s, a.rule[i].allow ? "allow " : "deny ", (size_t)(sp - s) + 1), 0);
        add_ok(&b, a.rule[i].allow, sp + 1);
        T_EQ_INT(b.n, i + 1);
        T_EQ_MEM(&b.rule[i], &a.rule[i], sizeof(sk_acl_rule_t));
        char again[64];
        T_EQ_STR(sk_acl_rule_str(&b, i, again, sizeof again), buf);
    }
    T_EQ_INT(b.nallow, a.nallow);

    /* Exact text for a few. */
    expect_rule(&a, 0, "deny 10.0.0.0/8");
    expect_rule(&a, 1, "allow 192.168.1.7/32");
    expect_rule(&a, 11, "allow 10.0.0.0/8");
    expect_rule(&a, 13, "allow 2001:db8:0:0:8000::/65");
    expect_rule(&a, 14, "deny ::10.1.2.3/128");
    expect_rule(&a, 15, "allow 0.0.0.0/0");
    expect_rule(&a, 16, "allow ::/0");

    /* Out of range, truncation, tiny buffers. */
    memset(buf, 'x', sizeof buf);
    T_EQ_STR(sk_acl_rule_str(&a, a.n, buf, sizeof buf), "");
    T_EQ_STR(sk_acl_rule_str(&a, (size_t)-1, buf, sizeof buf), "");
    T_EQ_STR(sk_acl_rule_str(NULL, 0, buf, sizeof buf), "");
    T_EQ_STR(sk_acl_rule_str(&a, 1, buf, 8), "allow 1");
    T_EQ_STR(sk_acl_rule_str(&a, 1, buf, 1), "");
    buf[0] = 'x';
    T_ASSERT(sk_acl_rule_str(&a, 1, buf, 0) == buf);
    T_EQ_INT(buf[0], 'x');
    /* The longest rule fits in 64 bytes. */
    sk_acl_init(&a);
    add_ok(&a, 0, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
    T_EQ_STR(sk_acl_rule_str(&a, 0, buf, sizeof buf),
             "deny ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
}
