/*
 * sockit/acl.h: admit or refuse peers by address, as `sockit serve --allow/--deny CIDR`.
 *
 * An access list is an ordered table of at most SK_ACL_MAX rules, each "allow" or "deny"
 * for one CIDR block. Rule text accepted by sk_acl_add():
 *
 *   10.0.0.0/8, 192.168.1.7        IPv4; no prefix means /32
 *   2001:db8::/32, ::1, [::1]/128  IPv6; no prefix means /128; brackets are optional
 *   ::ffff:10.0.0.0/104            IPv4-mapped with a prefix of 96 or more: stored (and
 *                                  shown) as the IPv4 rule it means, here 10.0.0.0/8
 *   all, any                       every address: two rules, 0.0.0.0/0 and ::/0
 *
 * Parsing is strict and numeric: inet_pton() only (no names, no DNS, no %zone), a prefix
 * of decimal digits without sign or leading zero, at most 32 (IPv4) or 128 (IPv6), and no
 * host bits set beyond the prefix ("10.0.0.1/8" is refused with "did you mean
 * 10.0.0.0/8?", as `ip route` refuses it). Bad text is SK_EBADARG with
 * "invalid CIDR 'TEXT': reason" in err; a full table is SK_ETOOBIG.
 *
 * Decision (sk_acl_check): rules are tried in the order they were added and the first
 * that matches decides. When none matches, the peer is refused if the list has any allow
 * rule, else admitted: --deny alone blocks only what it names, --allow alone admits only
 * what it names, no rules admit everyone. An IPv4-mapped IPv6 peer (::ffff:a.b.c.d, from a
 * dual-stack socket) is an IPv4 client and is matched against IPv4 rules only; IPv6 rules,
 * ::/0 included, never match it. Unix-domain and other non-IP peers are always admitted.
 *
 * No allocation and no I/O. An sk_acl_t is plain data (about 5 KiB) owned by the caller;
 * build it first, then any number of threads may call sk_acl_check() on it at once as long
 * as nobody adds rules meanwhile. A check costs a fixed handful of byte operations per rule.
 */
#ifndef SOCKIT_ACL_H
#define SOCKIT_ACL_H

#include "sockit/export.h"

#include <stddef.h>

#include "sockit/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Most rules one access list holds ("all" takes two). */
#define SK_ACL_MAX 256

/* One rule: the first `prefix` bits of addr (network byte order; IPv4 uses addr[0..3],
 * the rest is zero) for family AF_INET or AF_INET6. Host bits are always zero. */
typedef struct sk_acl_rule {
    unsigned char allow;  /* 1 allow, 0 deny */
    unsigned char family; /* AF_INET or AF_INET6 */
    unsigned char prefix; /* 0-32 or 0-128 */
    unsigned char addr[16];
} sk_acl_rule_t;

/* An ordered access list. */
typedef struct sk_acl {
    size_t n;      /* rules in use */
    size_t nallow; /* how many of them are allow rules */
    sk_acl_rule_t rule[SK_ACL_MAX];
} sk_acl_t;

/* Empty the list: no rules, so every peer is admitted. */
SK_EXPORT void sk_acl_init(sk_acl_t *acl);

/*
 * Append a rule: allow (nonzero) or deny (0) the addresses of `cidr` (forms above).
 * Returns 0; SK_EBADARG with "invalid CIDR 'TEXT': reason" in err (SK_ERRLEN bytes, may be
 * NULL); or SK_ETOOBIG with "too many address rules (at most 256)" when the rule (both
 * rules, for "all") would not fit. On failure the list is unchanged.
 */
SK_EXPORT int sk_acl_add(sk_acl_t *acl, int allow, const char *cidr, char *err);

/*
 * Decide for a peer by the rules above. Returns 1 admitted, 0 refused. A NULL or empty
 * list admits every peer. Otherwise a peer of unknown address (NULL, or len 0) and an
 * AF_INET/AF_INET6 peer whose len is too short to hold its address are refused: the
 * check fails closed. Never fails, allocates or blocks.
 */
SK_EXPORT int sk_acl_check(const sk_acl_t *acl, const sk_addr_t *peer);

/*
 * Format rule i as "allow 10.0.0.0/8" or "deny 2001:db8::/32" (always with a prefix; the
 * text after the word parses back to the same rule) into buf, truncated to len - 1 bytes;
 * "" when i is out of range. 64 bytes always fit. Returns buf.
 */
SK_EXPORT const char *sk_acl_rule_str(const sk_acl_t *acl, size_t i, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
