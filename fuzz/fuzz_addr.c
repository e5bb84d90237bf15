/*
 * fuzz_addr.c: a libFuzzer target for address text (sockit/addr.h) and access-list rules
 * (sockit/acl.h).
 *
 * Input layout (1 header byte, then text):
 *   [0]    bits 0-1, the parser:
 *            0: sk_endpoint_parse(TEXT)
 *            1: sk_endpoint_from_hostport(HOST, PORT), TEXT split at its first NUL into
 *               HOST and PORT (no NUL: PORT is NULL)
 *            2: sk_port_parse(TEXT)
 *            3: sk_acl_add(TEXT), as an allow rule (bit 3 set) or a deny rule
 *          bit 2: resolve with SK_RESOLVE_PASSIVE
 *   TEXT   ends at the first NUL (mode 1: the second), or with the input
 * Invariants, any failure abort()s:
 *   - a failure returns the parser's own codes with a message: non-empty, NUL-terminated
 *     inside SK_ERRLEN, no control characters; an access list is left unchanged;
 *   - a parsed endpoint is well formed, and sk_endpoint_format() gives text that parses
 *     back to the same endpoint (except a host named "unix" with a port: "unix:80" is
 *     the Unix socket path "80", and no text form says otherwise);
 *   - the endpoint resolved numerically (SK_RESOLVE_NUMERIC: never a DNS query), each
 *     address formats with sk_addr_format() to text that parses and resolves back to the
 *     same address (sk_addr_equal);
 *   - a port formats back to the same port;
 *   - an access-list rule formats (sk_acl_rule_str) to text that parses back to the same
 *     rule, and a list of that rule alone decides its own network address as the rule
 *     says.
 * No name is ever looked up: a name with SK_RESOLVE_NUMERIC fails at once. Port names
 * are looked up in /etc/services (getservbyname_r), a local file.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/error.h"

#include "fuzz.h"

/* Room for any formatted endpoint: a 253-byte host and ":65535". */
#define TEXT_MAX 512

/* A message as the parsers promise it: set, terminated, printable (UTF-8 bytes allowed). */
static void check_message(const char *err)
{
    const char *end = memchr(err, '\0', SK_ERRLEN);
    CHECK(end != NULL && end > err);
    for (const char *p = err; p < end; p++)
        CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* Fill err with a pattern, so that a message not written is caught. */
static void poison(char *err)
{
    memset(err, 0x7f, SK_ERRLEN);
}

static void check_endpoint(const sk_endpoint_t *ep)
{
    CHECK(memchr(ep->host, '\0', sizeof ep->host) != NULL);
    CHECK(memchr(ep->path, '\0', sizeof ep->path) != NULL);
    if (ep->family == AF_UNIX) {
        CHECK(ep->path[0] != '\0' && strlen(ep->path) <= SK_UNIXPATHMAX);
        CHECK(ep->abstract == 0 || ep->abstract == 1);
        CHECK(ep->host[0] == '\0' && ep->port == 0);
    } else {
        CHECK(ep->family == AF_INET6 || ep->family == AF_UNSPEC);
        CHECK(ep->path[0] == '\0' && ep->abstract == 0);
        if (ep->family == AF_INET6) CHECK(strchr(ep->host, ':') != NULL);
    }
}

static int same_endpoint(const sk_endpoint_t *a, const sk_endpoint_t *b)
{
    return a->family == b->family && strcmp(a->host, b->host) == 0 && a->port == b->port &&
           strcmp(a->path, b->path) == 0 && a->abstract == b->abstract;
}

/* Resolve numerically; on failure a message and a resolver or sockit code. */
static int resolve_numeric(sk_addrlist_t *list, const sk_endpoint_t *ep, int flags)
{
    char err[SK_ERRLEN];
    poison(err);
    int r = sk_resolve(list, ep, SOCK_STREAM, flags | SK_RESOLVE_NUMERIC, err);
    if (r < 0) {
        CHECK(r == SK_ENOADDR || SK_IS_EAI(r) || r > -4096);
        CHECK(list->n == 0 && list->v == NULL);
        check_message(err);
        return r;
    }
    CHECK(r >= 1 && (size_t)r == list->n && list->n <= SK_ADDRLIST_MAX);
    return r;
}

/* sk_addr_format() of a resolved address parses and resolves back to the same address. */
static void check_addr_round_trip(const sk_addr_t *a, int flags)
{
    char text[SK_ADDRSTRLEN], again[SK_ADDRSTRLEN], err[SK_ERRLEN];
    int n = sk_addr_format(a, text, sizeof text);
    CHECK(n >= 0 && (size_t)n == strlen(text) && (size_t)n < sizeof text);
    CHECK(strcmp(sk_addr_str(a, again), text) == 0);
    sk_endpoint_t ep;
    poison(err);
    if (sk_endpoint_parse(&ep, text, err) != 0) {
        fprintf(stderr, "fuzz_addr: '%s' does not parse: %s\n", text, err);
        abort();
    }
    check_endpoint(&ep);
    CHECK(sk_addr_port(a) < 0 || sk_addr_port(a) == ep.port);
    sk_addrlist_t list;
    if (resolve_numeric(&list, &ep, flags) < 0) {
        fprintf(stderr, "fuzz_addr: '%s' does not resolve\n", text);
        abort();
    }
    int found = 0;
    for (size_t i = 0; i < list.n; i++)
        found |= sk_addr_equal(&list.v[i].addr, a);
    if (!found) {
        fprintf(stderr, "fuzz_addr: '%s' resolves to %s\n", text,
                sk_addr_str(&list.v[0].addr, again));
        abort();
    }
    sk_addrlist_free(&list);
}

static void endpoint_mode(int mode, const char *text, const char *port, int flags)
{
    sk_endpoint_t ep, ep2;
    char err[SK_ERRLEN];
    poison(err);
    int r = mode == 0 ? sk_endpoint_parse(&ep, text, err)
                      : sk_endpoint_from_hostport(&ep, text, port, err);
    if (r != 0) {
        CHECK(r == SK_EBADADDR || r == SK_EBADPORT);
        check_message(err);
        return;
    }
    check_endpoint(&ep);

    char fmt[TEXT_MAX];
    int n = sk_endpoint_format(&ep, fmt, sizeof fmt);
    CHECK(n >= 0 && (size_t)n == strlen(fmt) && (size_t)n < sizeof fmt - 1);
    if (!(ep.family != AF_UNIX && strcmp(ep.host, "unix") == 0)) {
        poison(err);
        if (sk_endpoint_parse(&ep2, fmt, err) != 0) {
            fprintf(stderr, "fuzz_addr: formatted '%s' does not parse: %s\n", fmt, err);
            abort();
        }
        CHECK(same_endpoint(&ep, &ep2));
    }

    sk_addrlist_t list;
    if (resolve_numeric(&list, &ep, flags) < 0) return;
    for (size_t i = 0; i < list.n; i++) {
        CHECK(list.v[i].socktype == SOCK_STREAM);
        CHECK(sk_addr_family(&list.v[i].addr) == AF_INET ||
              sk_addr_family(&list.v[i].addr) == AF_INET6 ||
              sk_addr_family(&list.v[i].addr) == AF_UNIX);
        check_addr_round_trip(&list.v[i].addr, flags);
    }
    sk_addrlist_free(&list);
}

static void port_mode(const char *text)
{
    char err[SK_ERRLEN], num[8];
    uint16_t port = 1, again = 2;
    poison(err);
    int r = sk_port_parse(text, &port, err);
    if (r != 0) {
        CHECK(r == SK_EBADPORT);
        check_message(err);
        return;
    }
    snprintf(num, sizeof num, "%u", port);
    CHECK(sk_port_parse(num, &again, NULL) == 0 && again == port);
}

/* The network address of rule i as a socket address. */
static void rule_addr(const sk_acl_rule_t *rule, sk_addr_t *a)
{
    memset(a, 0, sizeof *a);
    if (rule->family == AF_INET) {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&a->ss;
        s4->sin_family = AF_INET;
        memcpy(&s4->sin_addr, rule->addr, 4);
        a->len = sizeof *s4;
    } else {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&a->ss;
        s6->sin6_family = AF_INET6;
        memcpy(&s6->sin6_addr, rule->addr, 16);
        a->len = sizeof *s6;
    }
}

static void acl_mode(const char *text, int allow)
{
    static sk_acl_t acl, before, one, again; /* about 5 KiB each */
    char err[SK_ERRLEN];
    sk_acl_init(&acl);
    sk_acl_add(&acl, 1, "10.0.0.0/8", NULL); /* not empty: a failure must leave it so */
    before = acl;
    poison(err);
    int r = sk_acl_add(&acl, allow, text, err);
    if (r != 0) {
        CHECK(r == SK_EBADARG);
        check_message(err);
        CHECK(memcmp(&acl, &before, sizeof acl) == 0);
        return;
    }
    CHECK(acl.n == 2 || acl.n == 3); /* "all" is two rules */
    for (size_t i = 1; i < acl.n; i++) {
        const sk_acl_rule_t *rule = &acl.rule[i];
        CHECK(rule->allow == (allow ? 1 : 0));
        CHECK((rule->family == AF_INET && rule->prefix <= 32) ||
              (rule->family == AF_INET6 && rule->prefix <= 128));
        char s[64];
        const char *t = sk_acl_rule_str(&acl, i, s, sizeof s);
        CHECK(strlen(t) < sizeof s - 1);
        const char *sp = strchr(t, ' ');
        CHECK(sp != NULL && strncmp(t, allow ? "allow" : "deny", (size_t)(sp - t)) == 0);
        sk_acl_init(&again);
        poison(err);
        if (sk_acl_add(&again, allow, sp + 1, err) != 0) {
            fprintf(stderr, "fuzz_addr: rule '%s' does not parse: %s\n", t, err);
            abort();
        }
        CHECK(again.n == 1 && memcmp(&again.rule[0], rule, sizeof *rule) == 0);

        /* The rule's own network address, alone in a list: decided as the rule says (an
         * IPv4-mapped IPv6 address is an IPv4 peer, which IPv6 rules never match). */
        const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (rule->family == AF_INET6 && memcmp(rule->addr, mapped, 12) == 0) continue;
        sk_acl_init(&one);
        one.rule[0] = *rule;
        one.n = 1;
        one.nallow = rule->allow;
        sk_addr_t a;
        rule_addr(rule, &a);
        CHECK(sk_acl_check(&one, &a) == rule->allow);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int mode = data[0] & 3, flags = data[0] & 4 ? SK_RESOLVE_PASSIVE : 0;
    /* The text with a NUL after it, so that it always ends inside the copy. */
    char *text = malloc(size);
    CHECK(text != NULL);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    const char *port = NULL;
    size_t first = strlen(text);
    if (first < size - 1) port = text + first + 1;

    if (mode == 0 || mode == 1)
        endpoint_mode(mode, text, port, flags);
    else if (mode == 2)
        port_mode(text);
    else
        acl_mode(text, (data[0] >> 3) & 1);
    free(text);
    return 0;
}
