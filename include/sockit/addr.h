/*
 * sockit/addr.h: addresses as text, in both directions.
 *
 * Text forms accepted by sk_endpoint_parse():
 *
 *   PORT            "5000", "http"      localhost, port 5000 (every address localhost has)
 *   HOST:PORT       "example.com:80"    a name or an IPv4 literal
 *   [V6]:PORT       "[::1]:5000"        an IPv6 literal, optionally with a %scope
 *   :PORT, *:PORT   ":5000"             every interface (bind) / this host (connect)
 *   unix:/path      "unix:/tmp/s"       a Unix domain socket path (at most 107 bytes)
 *   unix:@name      "unix:@sockit"      a Linux abstract Unix socket
 *
 * A port is a number 0-65535 or a service name from /etc/services ("http"). Bad text is
 * rejected with SK_EBADADDR or SK_EBADPORT and, when `err` is given, a precise message that
 * quotes the offending part: "invalid port '99999'", "missing ']' in '[::1:5000'".
 *
 * sk_resolve() turns an endpoint into a list of socket addresses with getaddrinfo(); names
 * under the special-use TLD ".invalid" fail at once, as RFC 6761 asks. Formatting is numeric
 * and never blocks: "127.0.0.1:5000", "[::1]:5000", "unix:/path", "unix:@name".
 *
 * Errors follow sockit/error.h. Every function here is thread-safe. No function keeps a
 * pointer to its arguments; an sk_addrlist_t owns its array until sk_addrlist_free().
 */
#ifndef SOCKIT_ADDR_H
#define SOCKIT_ADDR_H

#include "sockit/export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Enough for any formatted address: "unix:" + 107 path bytes, or "[v6%scope]:65535". */
#define SK_ADDRSTRLEN 128
/* Longest host name accepted in address text (RFC 1035: 253 characters). */
#define SK_HOSTMAX 254
/* Longest Unix socket path, excluding the terminating NUL (sizeof sun_path - 1). */
#define SK_UNIXPATHMAX 107
/* Most addresses kept from one resolution; the rest are dropped. */
#define SK_ADDRLIST_MAX 64

/* A socket address of any family. len == 0 means "no address". */
typedef struct sk_addr {
    struct sockaddr_storage ss;
    socklen_t len;
} sk_addr_t;

/* Parsed, unresolved address text. */
typedef struct sk_endpoint {
    int family;            /* AF_UNIX, AF_INET6 (bracketed literal) or AF_UNSPEC */
    char host[SK_HOSTMAX]; /* "" means every interface (bind) or this host (connect) */
    uint16_t port;
    char path[SK_UNIXPATHMAX + 1]; /* AF_UNIX: the path, or the abstract name without '@' */
    int abstract;                  /* AF_UNIX: 1 for a Linux abstract name */
} sk_endpoint_t;

/* One resolved address with the socket type and protocol getaddrinfo paired it with. */
typedef struct sk_resolved {
    sk_addr_t addr;
    int socktype;
    int protocol;
} sk_resolved_t;

/* A list of resolved addresses, in resolver order, without duplicates. */
typedef struct sk_addrlist {
    size_t n;
    sk_resolved_t *v;
} sk_addrlist_t;

/* sk_resolve() flags. */
#define SK_RESOLVE_PASSIVE 0x1 /* addresses to bind: an empty host means every interface */
#define SK_RESOLVE_NUMERIC 0x2 /* the host must be a literal; never query DNS */

/*
 * Parse address text (forms above) into *ep. Returns 0, or SK_EBADADDR / SK_EBADPORT with a
 * message in err (SK_ERRLEN bytes, may be NULL). Does no I/O except reading /etc/services
 * for a port name.
 */
SK_EXPORT int sk_endpoint_parse(sk_endpoint_t *ep, const char *text, char *err);

/*
 * Build an endpoint from a separate host and port, as in "sockit connect HOST PORT". The
 * host may be a name, an IPv4 literal or a bare IPv6 literal ("::1"); "" means this host.
 * Returns 0 or a negative code with a message in err.
 */
SK_EXPORT int sk_endpoint_from_hostport(sk_endpoint_t *ep, const char *host, const char *port,
                                        char *err);

/* Format an endpoint back to text ("localhost:5000", "[::1]:80", "unix:/p"). Returns the
 * length written (truncated to len - 1), or a negative code. */
SK_EXPORT int sk_endpoint_format(const sk_endpoint_t *ep, char *buf, size_t len);

/*
 * Parse a port: digits 0-65535 or a service name. Returns 0 and sets *port, or SK_EBADPORT
 * with "invalid port 'TEXT'" in err.
 */
SK_EXPORT int sk_port_parse(const char *text, uint16_t *port, char *err);

/*
 * Resolve an endpoint for sockets of `socktype` (SOCK_STREAM, SOCK_DGRAM, or 0 for every
 * type getaddrinfo knows). On success returns the number of addresses (>= 1) and fills
 * *out, which the caller frees with sk_addrlist_free(). On failure returns a resolver code
 * (SK_IS_EAI) or SK_ENOADDR, with "resolve HOST: reason" in err, and leaves *out empty.
 * May block on DNS.
 */
SK_EXPORT int sk_resolve(sk_addrlist_t *out, const sk_endpoint_t *ep, int socktype, int flags,
                         char *err);

/*
 * getaddrinfo() itself, for a host and a service given as text, as `sockit resolve` shows
 * it: host NULL or "" means this host (or every interface with SK_RESOLVE_PASSIVE);
 * service NULL means no port; a service name keeps its meaning, so "http" yields only the
 * socket types /etc/services lists it for. family is AF_UNSPEC, AF_INET or AF_INET6;
 * socktype 0 asks for every type. Returns like sk_resolve().
 */
SK_EXPORT int sk_getaddrinfo(sk_addrlist_t *out, const char *host, const char *service, int family,
                             int socktype, int flags, char *err);

/* Free a list filled by sk_resolve(); safe on an empty or already freed list. */
SK_EXPORT void sk_addrlist_free(sk_addrlist_t *list);

/*
 * Format an address as text: "127.0.0.1:5000", "[::1]:5000", "[fe80::1%eth0]:22",
 * "unix:/path", "unix:@name", "unix:" for an unnamed Unix socket, "-" for no address.
 * An IPv6 scope is an interface name only for link-local addresses, else a number, so
 * that the text parses and resolves back to the same address.
 * Returns the length (truncated to len - 1; SK_ADDRSTRLEN always fits).
 */
SK_EXPORT int sk_addr_format(const sk_addr_t *a, char *buf, size_t len);

/* Format into a caller's SK_ADDRSTRLEN buffer and return it, for use inside printf(). */
SK_EXPORT const char *sk_addr_str(const sk_addr_t *a, char buf[SK_ADDRSTRLEN]);

/* The numeric host alone, without brackets or port ("127.0.0.1", "::1"); the path for
 * Unix addresses. Returns the length, or a negative code. */
SK_EXPORT int sk_addr_host(const sk_addr_t *a, char *buf, size_t len);

/* The port of an IPv4/IPv6 address, or -1 for other families. */
SK_EXPORT int sk_addr_port(const sk_addr_t *a);

/* Set the port of an IPv4/IPv6 address; other families are left alone. */
SK_EXPORT void sk_addr_set_port(sk_addr_t *a, uint16_t port);

/* The address family (AF_INET, AF_INET6, AF_UNIX), or AF_UNSPEC for an empty address. */
SK_EXPORT int sk_addr_family(const sk_addr_t *a);

/* Copy a struct sockaddr of `len` bytes into *a. Returns 0 or SK_EBADARG if it is too big. */
SK_EXPORT int sk_addr_set(sk_addr_t *a, const struct sockaddr *sa, socklen_t len);

/* 1 when two addresses are byte-for-byte the same family, host and port, else 0. */
SK_EXPORT int sk_addr_equal(const sk_addr_t *a, const sk_addr_t *b);

/* This machine's host name (Python's socket.gethostname()). Returns its length or -errno. */
SK_EXPORT int sk_gethostname(char *buf, size_t len);

/*
 * The fully qualified name of `name` (NULL or "" means this host), as `hostname -f` finds
 * it: the resolver's canonical name if it has a dot, else the first reverse name of its
 * addresses that has one, else the canonical name or `name` itself. (Python's getfqdn()
 * looks only at reverse names, so it answers "localhost" for a name /etc/hosts maps to
 * 127.0.0.1.) Returns its length; never fails for lack of DNS.
 */
SK_EXPORT int sk_getfqdn(const char *name, char *buf, size_t len);

/*
 * The first IPv4 address of `name`, as dotted-quad text (Python's gethostbyname()).
 * Returns its length, or a resolver code with "resolve NAME: reason" in err.
 */
SK_EXPORT int sk_gethostbyname(const char *name, char *buf, size_t len, char *err);

#ifdef __cplusplus
}
#endif
#endif
