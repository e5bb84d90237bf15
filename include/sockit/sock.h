/*
 * sockit/sock.h: blocking socket calls with the guarantees of Python's socket object.
 *
 * Every function takes a plain file descriptor, so it mixes freely with raw POSIX calls.
 * The guarantees:
 *   - every descriptor libsockit creates is close-on-exec (SOCK_CLOEXEC, accept4);
 *   - nothing here raises SIGPIPE: sends use MSG_NOSIGNAL and report -EPIPE;
 *   - EINTR never escapes: an interrupted call is resumed, and an interrupted connect()
 *     is finished by waiting for writability, never retried;
 *   - timeouts follow Python's settimeout(): a socket is blocking (SK_TIMEOUT_NONE),
 *     non-blocking (0: calls that would wait return -EAGAIN) or timed (> 0 seconds: calls
 *     that would wait longer return -ETIMEDOUT). The timeout lives in the socket itself
 *     (O_NONBLOCK, SO_RCVTIMEO, SO_SNDTIMEO), so it survives being passed around, and a
 *     signal storm cannot stretch it: after an interruption the remaining time is used.
 *     sendall and recv_exact apply it to the whole call, as Python 3.5+ does.
 *
 * Return values follow sockit/error.h: an fd, a count or 0 on success, a negative code on
 * failure. Functions are thread-safe to the extent the underlying syscalls are.
 */
#ifndef SOCKIT_SOCK_H
#define SOCKIT_SOCK_H

#include "sockit/export.h"

#include <poll.h>
#include <stddef.h>
#include <sys/types.h>

#include "sockit/addr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* sk_settimeout() value for a blocking socket with no timeout. */
#define SK_TIMEOUT_NONE (-1.0)
/* Most listening sockets sk_create_server() makes for one address text. */
#define SK_LISTEN_MAX 16

/* Create a socket; SOCK_CLOEXEC is always added. Returns the fd or -errno. */
SK_EXPORT int sk_socket(int family, int type, int protocol);

/* Create a connected pair (AF_UNIX), both close-on-exec. Returns 0 or -errno. */
SK_EXPORT int sk_socketpair(int type, int fds[2]);

/* Close an fd. EINTR counts as closed (Linux has released the fd). Returns 0 or -errno. */
SK_EXPORT int sk_close(int fd);

/* Bind to an address. Returns 0 or -errno. */
SK_EXPORT int sk_bind(int fd, const sk_addr_t *addr);

/* Start listening; backlog < 1 means SOMAXCONN. Returns 0 or -errno. */
SK_EXPORT int sk_listen(int fd, int backlog);

/*
 * Accept a connection, honouring the listener's timeout. The new socket is close-on-exec
 * and blocking with no timeout. *peer (may be NULL) receives the client's address.
 * Returns the new fd or a negative code (-EAGAIN, -ETIMEDOUT, -EMFILE, ...).
 */
SK_EXPORT int sk_accept(int fd, sk_addr_t *peer);

/*
 * Connect, honouring the socket's timeout. On a non-blocking socket returns -EINPROGRESS
 * as connect(2) does. Returns 0 or a negative code (-ECONNREFUSED, -ETIMEDOUT, ...).
 */
SK_EXPORT int sk_connect(int fd, const sk_addr_t *addr);

/* One send() with MSG_NOSIGNAL: returns the bytes sent (possibly fewer than len) or a
 * negative code. Waits per the socket's timeout when the buffer is full. */
SK_EXPORT ssize_t sk_send(int fd, const void *buf, size_t len);

/*
 * Send all `len` bytes, looping over short writes. Returns len, or a negative code
 * (-EPIPE, -ECONNRESET, -ETIMEDOUT, -EAGAIN on a non-blocking socket). *sent (may be NULL)
 * always receives the number of bytes actually sent.
 */
SK_EXPORT ssize_t sk_sendall(int fd, const void *buf, size_t len, size_t *sent);

/* One recv(): returns the bytes received (0 at end of stream) or a negative code. */
SK_EXPORT ssize_t sk_recv(int fd, void *buf, size_t len);

/*
 * Receive exactly `len` bytes, looping over short reads. Returns len; SK_EEOF if the peer
 * closed first; or another negative code. *got (may be NULL) always receives the number
 * of bytes stored in buf.
 */
SK_EXPORT ssize_t sk_recv_exact(int fd, void *buf, size_t len, size_t *got);

/*
 * One datagram out with MSG_NOSIGNAL, to `to` (NULL on a connected socket), waiting per
 * the socket's timeout for buffer room. Returns len (a datagram is never cut) or a
 * negative code (-EMSGSIZE, -ETIMEDOUT, -ECONNREFUSED for an earlier datagram's ICMP
 * port unreachable on a connected socket, ...).
 */
SK_EXPORT ssize_t sk_sendto(int fd, const void *buf, size_t len, const sk_addr_t *to);

/*
 * One datagram in, waiting per the socket's timeout. Returns its length (0 for an empty
 * datagram), storing at most cap bytes (a longer datagram is cut and its length is still
 * reported, so len > cap means truncated), or a negative code. *from (may be NULL)
 * receives the sender's address; an unbound Unix sender has a zero-length path.
 */
SK_EXPORT ssize_t sk_recvfrom(int fd, void *buf, size_t cap, sk_addr_t *from);

/* shutdown(2): how is SHUT_RD, SHUT_WR or SHUT_RDWR. Returns 0 or -errno. */
SK_EXPORT int sk_shutdown(int fd, int how);

/*
 * Python's settimeout(): seconds < 0 (SK_TIMEOUT_NONE) blocks forever, 0 makes the socket
 * non-blocking, > 0 makes each call fail with -ETIMEDOUT after that long. Returns 0 or
 * -errno (SK_EBADARG for a timeout too large to represent).
 */
SK_EXPORT int sk_settimeout(int fd, double seconds);

/* Read back the timeout into *seconds (SK_TIMEOUT_NONE, 0 or > 0), as the kernel keeps it:
 * rounded up to its clock tick (4 ms at HZ=250: 0.25 reads back as 0.252).
 * Returns 0 or -errno. */
SK_EXPORT int sk_gettimeout(int fd, double *seconds);

/* Python's setblocking(): 1 is settimeout(None), 0 is settimeout(0). Returns 0 or -errno. */
SK_EXPORT int sk_setblocking(int fd, int blocking);

/* The local / remote address of a socket. Returns 0 or -errno. */
SK_EXPORT int sk_getsockname(int fd, sk_addr_t *addr);
SK_EXPORT int sk_getpeername(int fd, sk_addr_t *addr);

/* setsockopt() with an int value. Returns 0 or -errno. */
SK_EXPORT int sk_setsockopt_int(int fd, int level, int name, int value);

/* TCP keepalive probes (nc -k has none; ncat --keep-alive, socat keepalive). A zero field
 * keeps the system's value (net.ipv4.tcp_keepalive_time, _intvl, _probes). */
typedef struct sk_keepalive {
    int idle;     /* seconds without traffic before the first probe (TCP_KEEPIDLE) */
    int interval; /* seconds between probes (TCP_KEEPINTVL) */
    int count;    /* unanswered probes before the connection is reset (TCP_KEEPCNT) */
} sk_keepalive_t;

/* Turn SO_KEEPALIVE on for a TCP socket and set the non-zero fields of *ka (NULL: only
 * SO_KEEPALIVE; Linux takes idle and interval up to 32767, count up to 127). Returns 0,
 * or -errno with nothing changed: -EOPNOTSUPP on a socket that is not TCP, -EINVAL for a
 * value the kernel refuses. */
SK_EXPORT int sk_set_keepalive(int fd, const sk_keepalive_t *ka);

/* Most addresses a source host may resolve to that are kept. */
#define SK_SOURCE_MAX 16

/*
 * Where outgoing connections come from (Python's create_connection(source_address=),
 * nc -s ADDR -p PORT). Each connection attempt binds, before connecting, to the first
 * source address of its own family; an attempt whose family has no source address fails
 * at once ("no source address for IPv6"), so the race moves on. With no address (n 0)
 * only the port is fixed, on the family's wildcard address. With port 0 the kernel picks
 * the port at connect time (IP_BIND_ADDRESS_NO_PORT), so many connections from one
 * source address share its ports as far as their 4-tuples differ.
 */
typedef struct sk_source {
    sk_addr_t addrs[SK_SOURCE_MAX];
    size_t n;
    int port; /* 0: any */
} sk_source_t;

/* Fill *src from a host (an address or a name; NULL or "": any address) and a port
 * (0: any). Returns 0, or a negative code with "source HOST: reason" in err. May block
 * on DNS. */
SK_EXPORT int sk_source_init(sk_source_t *src, const char *host, int port, char *err);

/* Bind fd, a socket of `family` about to connect, as src says (SO_REUSEADDR with a fixed
 * port). Returns 0 (also when src is NULL, or names no address and no port, or family is
 * AF_UNIX with nothing to bind), SK_ENOADDR when src has addresses but none of family, or
 * -errno from bind(). */
SK_EXPORT int sk_source_bind(const sk_source_t *src, int fd, int family);

/* The text of src for messages: "127.0.0.2", "127.0.0.2 port 4000", "port 4000". */
SK_EXPORT const char *sk_source_str(const sk_source_t *src, char buf[SK_ADDRSTRLEN]);

/*
 * Python's socket.create_connection(): parse `address` (sockit/addr.h forms), resolve it,
 * and connect to the first address that answers, racing them (sk_connect_addrs). The socket is left
 * with `timeout` as its timeout (SK_TIMEOUT_NONE: blocking; 0 cannot wait for a connection and
 * fails with -EINPROGRESS, as in Python). *peer (may be NULL) receives the address that answered.
 * Returns the connected fd; on failure the error of the last address tried, with "connect ADDR:
 * reason" (or "resolve HOST: reason") in err.
 */
SK_EXPORT int sk_create_connection(const char *address, double timeout, sk_addr_t *peer, char *err);

/* The same for a parsed endpoint and a socket type. SOCK_STREAM races the addresses;
 * SOCK_DGRAM connect()s to the first (nothing answers a UDP connect). A Unix datagram
 * socket is first bound to an autobind abstract name, so that replies can reach it. */
SK_EXPORT int sk_connect_endpoint(const sk_endpoint_t *ep, int socktype, double timeout,
                                  sk_addr_t *peer, char *err);

/* sk_connect_endpoint() from a source address (NULL: as sk_connect_endpoint()). Failures
 * to bind it read "connect ADDR from SOURCE: reason". */
SK_EXPORT int sk_connect_endpoint_from(const sk_endpoint_t *ep, int socktype, double timeout,
                                       const sk_source_t *src, sk_addr_t *peer, char *err);

/* Happy Eyeballs (RFC 8305): the delay between starting one connection attempt and the
 * next, in seconds. */
#define SK_HE_DELAY 0.25

/*
 * Connect a stream socket to the first of n addresses that answers, racing them as RFC
 * 8305 says: the addresses are reordered so that families alternate (the first address's
 * family first), an attempt starts every SK_HE_DELAY seconds or as soon as the one before
 * it fails, the first connection wins and every other attempt is closed. `timeout`
 * bounds each attempt (SK_TIMEOUT_NONE: the kernel's own limit) and becomes the socket's
 * timeout. Unix addresses are tried one after another. *peer (may be NULL) receives the
 * winner. Returns the connected fd, or the error of the last attempt to fail with
 * "connect ADDR: reason" in err (may be NULL).
 */
SK_EXPORT int sk_connect_addrs(const sk_addr_t *addrs, size_t n, double timeout, sk_addr_t *peer,
                               char *err);

/*
 * The same race as a state machine, for callers that run many at once (probe, bench):
 *
 *   c = sk_connector_new(addrs, n, delay, -1);   // nothing is started yet
 *   while ((fd = sk_connector_step(c, &peer, err)) == 0) {
 *       n = sk_connector_pollfds(c, pfds, max);  // the attempts in flight (POLLOUT)
 *       poll(pfds, n, sk_connector_timeout_ms(c));
 *   }
 *   sk_connector_free(c);                        // closes attempts that did not win
 *
 * step() starts attempts that are due and collects finished ones; it never blocks. It
 * returns the winner's fd (non-blocking; the caller owns it), 0 while attempts remain,
 * or the last error once every address has failed. A caller enforces its own overall
 * deadline by freeing the connector.
 */
typedef struct sk_connector sk_connector_t;

/* Start a race over n addresses (copied; at most SK_ADDRLIST_MAX are used) with `delay`
 * seconds between attempts (SK_HE_DELAY). `timeout` > 0 bounds each attempt: one still
 * pending after that long fails with -ETIMEDOUT, which starts the next at once (< 0: no
 * bound but the kernel's). Returns NULL on ENOMEM or n == 0. */
SK_EXPORT sk_connector_t *sk_connector_new(const sk_addr_t *addrs, size_t n, double delay,
                                           double timeout);

/* Bind every attempt not yet started as src says (sk_source_bind(); NULL: none). src
 * must outlive the connector. */
SK_EXPORT void sk_connector_set_source(sk_connector_t *c, const sk_source_t *src);

/* Advance the race. Returns a connected fd, 0 (in progress) or a negative code with
 * "connect ADDR: reason" in err (may be NULL). After it returns non-zero, only free(). */
SK_EXPORT int sk_connector_step(sk_connector_t *c, sk_addr_t *peer, char *err);

/* Store the attempts in flight (fd, events POLLOUT) in p[0..max). Returns how many. */
SK_EXPORT size_t sk_connector_pollfds(const sk_connector_t *c, struct pollfd *p, size_t max);

/* Milliseconds until step() has timed work to do (the next attempt is due, or one times
 * out), rounded up; -1 when there is none. */
SK_EXPORT int sk_connector_timeout_ms(const sk_connector_t *c);

/* Close every attempt still open (not a fd step() returned) and free. NULL is a no-op. */
SK_EXPORT void sk_connector_free(sk_connector_t *c);

/*
 * Python's socket.create_server(), for every address the text resolves to: "localhost"
 * binds both 127.0.0.1 and ::1, ":PORT" both 0.0.0.0 and [::] (IPv6 sockets are
 * IPV6_V6ONLY so the two can coexist). Sockets are blocking, with SO_REUSEADDR and
 * listen(backlog) (backlog < 1: SOMAXCONN). Port 0 picks one free port shared by every
 * address. At most maxfds addresses are bound, the first in resolver order (maxfds 1 is
 * Python's one-socket create_server). An address this host cannot use (no IPv6, an
 * address that is not local) is skipped when another address succeeded. A Unix socket
 * file left by a dead server (a socket that refuses connections) is replaced; any other
 * file at the path, or a live listener, is "Address already in use". Removing the file
 * when done is the caller's job (sk_server does it).
 * Returns the number of fds stored in fds[0..maxfds-1], or a negative code with
 * "bind ADDR: reason" (or listen/socket/resolve) in err; on failure nothing stays open.
 */
SK_EXPORT int sk_create_server(const char *address, int backlog, int *fds, size_t maxfds,
                               char *err);

/* The same for a parsed endpoint and a socket type (SOCK_DGRAM binds but does not listen). */
SK_EXPORT int sk_listen_endpoint(const sk_endpoint_t *ep, int socktype, int backlog, int *fds,
                                 size_t maxfds, char *err);

#ifdef __cplusplus
}
#endif
#endif
