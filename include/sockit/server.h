/*
 * sockit/server.h: run a service on one or more listeners under a concurrency model.
 *
 * Models (the seeds' three ways to run an accept loop):
 *   SK_MODEL_ITERATIVE  one client at a time, served to completion before the next is
 *                       accepted (on a helper thread, so that a stop never waits for it);
 *   SK_MODEL_THREAD     a thread per connection;
 *   SK_MODEL_FORK       a child process per connection; the parent reaps every child;
 *   SK_MODEL_LOOP       event loops (sockit/loop.h) on `threads` threads, every listener
 *                       shared by all of them; connections are non-blocking, with
 *                       bounded output (max_output) and backpressure: a client's input
 *                       is not read while its unsent output is above a high-water mark.
 *
 * Life cycle: sk_server_new(), sk_server_listen() once per address, sk_server_run() (blocks),
 * sk_server_free(). sk_server_stop() is async-signal-safe and thread-safe: call it from a
 * SIGTERM handler or another thread; run() then closes the listeners, ends every session
 * (thread: shuts the sockets down and joins the threads; fork: passes SIGTERM to the
 * children and reaps them) and returns 0.
 *
 * Threads the server creates (loop workers, session threads) block every signal, so
 * signals sent to the process are handled by the thread that called run() (or another of
 * the application's threads), never in the middle of a session.
 *
 * While the fork model runs it owns SIGCHLD (its handler is restored when run() returns),
 * and only one fork-model server may run per process. Children reset SIGTERM, SIGINT and
 * SIGCHLD to their defaults, get SIGTERM if the server dies, and inherit every fd the
 * process has open (fork without exec: CLOEXEC does not apply), so an embedding program
 * with other sockets open should close them in its own atfork handler or avoid this
 * model.
 *
 * Datagram servers (socktype SOCK_DGRAM, services with on_datagram): run() itself reads
 * every datagram and sends each reply, under every model (a datagram is a whole request:
 * there is no connection to hand to a thread or child). Replies cannot loop between
 * servers (a spoofed source address makes two UDP services answer each other, each reply
 * a new request): like inetd, no reply goes to a source port below 1024 (the classic
 * services' ports); none goes to one of the server's own listening addresses (the loop
 * with itself); and replies to any one source address (any port) are rate-limited per
 * listening socket with a token bucket (reply_rate, reply_burst: 1000 a second, bursts of
 * 2000, by default), so a loop with another server ends as soon as the bucket runs dry:
 * the first reply dropped breaks the chain. With the default rate, loopback sources are
 * exempt (the kernel drops a 127/8 or ::1 source arriving from a network, so only this
 * host's root can spoof one); a rate set explicitly applies to them too. The bucket
 * table is bounded (256 sources per socket; a new source takes the place of the one idle
 * longest). Nor does a reply go to
 * an unnamed Unix socket, which cannot receive one.
 *
 * Bounds without options: max_conns defaults per model (SK_MAX_CONNS_LOOP, _THREAD,
 * _FORK; iterative serves one client at a time and its backlog is its bound), a framed
 * connection (and a line service's, chat's) must complete a frame once begun within
 * SK_FRAME_TIMEOUT_DEFAULT, and every
 * byte buffered for partial frames and for chat queues counts against max_buffered
 * (SK_MAX_BUFFERED_DEFAULT): when it is full, the connection holding the oldest partial
 * frame is closed (logged with the reason). The budget is server-wide for the loop and
 * thread models and per process under fork (each child holds one connection, so there
 * max_conns times the frame maximum bounds the total).
 *
 * Errors follow sockit/error.h. The log callback (may be NULL) receives one line at a time,
 * without a newline, from the thread that accepts (and, for protocol errors that drop a
 * connection, from the session's thread or process); it must be thread-safe.
 */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include "sockit/export.h"

#include <stddef.h>

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/service.h"
#include "sockit/sock.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sk_model {
    SK_MODEL_ITERATIVE,
    SK_MODEL_THREAD,
    SK_MODEL_FORK,
    SK_MODEL_LOOP,
} sk_model_t;

/* Seconds active connections may take to finish after a stop, by default. */
#define SK_DRAIN_DEFAULT 10.0

/* Per-connection output cap when max_output is 0: 1 MiB. */
#define SK_MAX_OUTPUT_DEFAULT ((size_t)1 << 20)

/* Connections at once when max_conns is 0. The loop model's is redis's maxclients (an
 * idle connection costs it a few hundred bytes and one fd); a thread costs a stack and a
 * process far more, so those models stop at a thousand. */
#define SK_MAX_CONNS_LOOP 10000
#define SK_MAX_CONNS_THREAD 1000
#define SK_MAX_CONNS_FORK 1000

/* Seconds a frame once begun may take to complete, when a framing is on and frame_timeout
 * is 0 (a slowloris client trickling a frame ties up its buffer for no longer). */
#define SK_FRAME_TIMEOUT_DEFAULT 30.0

/* The server's budget for buffered input when max_buffered is 0: 64 MiB. */
#define SK_MAX_BUFFERED_DEFAULT ((size_t)64 << 20)

/* Datagram replies to one source, by default: per second, and the burst allowed. */
#define SK_REPLY_RATE_DEFAULT 1000.0
#define SK_REPLY_BURST_DEFAULT 2000.0

/* The one line a client turned away by max_conns receives, before a clean close (FIN).
 * Clients may test for it: the text is part of the interface. */
#define SK_BUSY_LINE "sockit: server busy (too many connections), try again later\r\n"

/* Parse "iterative", "thread", "fork" or "loop". Returns 0 or SK_EBADARG. */
SK_EXPORT int sk_model_parse(const char *name, sk_model_t *model);

/* The model's name as sk_model_parse() accepts it. */
SK_EXPORT const char *sk_model_name(sk_model_t model);

typedef void sk_log_fn(void *ctx, const char *line);

/* A tap on the traffic (serve --hex-dump): called with every chunk a connection receives
 * (sent 0) or sends (sent 1), offset being where the chunk starts in that direction's
 * stream; a datagram and its reply are chunks at offset 0. Called from the thread (or
 * process) serving the connection: it must be thread-safe. */
typedef void sk_tap_fn(void *ctx, const sk_addr_t *peer, int sent, unsigned long long offset,
                       const void *data, size_t len);

typedef struct sk_server_opts {
    const sk_service_t *service; /* required */
    sk_service_conf_t conf;      /* service options */
    sk_model_t model;
    int backlog;                     /* < 1: SOMAXCONN */
    int socktype;                    /* SOCK_STREAM (0 means it too) or SOCK_DGRAM */
    int threads;                     /* SK_MODEL_LOOP: event loops (< 1: online CPUs) */
    size_t max_output;               /* SK_MODEL_LOOP: queued output per connection before it
                                        is dropped (0: SK_MAX_OUTPUT_DEFAULT) */
    int max_conns;                   /* beyond it a client gets SK_BUSY_LINE and is closed
                                        (0: the model's default, SK_MAX_CONNS_*; iterative has
                                        none; < 0: no limit) */
    const sk_acl_t *acl;             /* who may connect (NULL: everyone; a client refused is
                                        reset); must outlive run() */
    double idle_timeout;             /* close a connection after this many seconds without a
                                        byte either way (0: never) */
    double frame_timeout;            /* with a framing: a frame once begun must be complete
                                        within this many seconds (0: SK_FRAME_TIMEOUT_DEFAULT
                                        when conf.framing is set and not raw, or the service
                                        reads lines (SK_SERVICE_LINES); < 0: no limit) */
    double drain_timeout;            /* on stop: how long active connections may finish
                                        (< 0: SK_DRAIN_DEFAULT; 0: none) */
    size_t max_buffered;             /* budget for partial frames and chat queues, see above
                                        (0: SK_MAX_BUFFERED_DEFAULT; SIZE_MAX: none) */
    const sk_keepalive_t *keepalive; /* TCP keepalive on every accepted TCP connection
                                    (sk_set_keepalive(); NULL: off); must outlive run() */
    int ttl;                         /* datagram servers: the replies' hop limit, unicast and
                                        multicast (IP_TTL and IP_MULTICAST_TTL, or the IPv6
                                        hop limits); 0: the system's */
    double reply_rate;               /* datagram replies to one source address per second (0:
                                        SK_REPLY_RATE_DEFAULT, loopback sources exempt; < 0:
                                        no limit) */
    double reply_burst;              /* ... and the burst (0: SK_REPLY_BURST_DEFAULT, or the
                                        rate when it is above that) */
    sk_tap_fn *tap;                  /* every chunk each way (NULL: none) */
    void *tap_ctx;
    sk_log_fn *log; /* "Connection received on ADDR" etc.; NULL: silent */
    void *log_ctx;
    int log_quiet; /* 1: only notices reach log (the "Stopping: ..." line),
                      not the lines per connection or datagram */
} sk_server_opts_t;

typedef struct sk_server sk_server_t;

/* Create a server (no listeners yet). Returns 0 and sets *out, or a negative code:
 * SK_EBADARG when the service cannot run as asked (SOCK_DGRAM without on_datagram, a
 * framing for a service without SK_SERVICE_FRAMES, a framing over datagrams). */
SK_EXPORT int sk_server_new(sk_server_t **out, const sk_server_opts_t *opts);

/*
 * Listen on every address `address` resolves to (sk_create_server() rules). May be called
 * several times before run(). Returns the number of listeners added, or a negative code
 * with "bind ADDR: reason" in err (SK_ERRLEN bytes, may be NULL).
 */
SK_EXPORT int sk_server_listen(sk_server_t *srv, const char *address, char *err);

/* The number of listening sockets so far. */
SK_EXPORT size_t sk_server_listener_count(const sk_server_t *srv);

/* The bound address of listener i (with the real port when port 0 was asked for).
 * Returns 0 or SK_EBADARG. */
SK_EXPORT int sk_server_listener_addr(const sk_server_t *srv, size_t i, sk_addr_t *addr);

/*
 * Datagram servers: join multicast group `group` ("239.1.2.3", "ff02::1234", optionally
 * "@IFACE" after it: an interface name or index; without one the kernel picks by route)
 * on every listener of the group's family (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP). Call after
 * sk_server_listen(), before run(); a listener receives the group's datagrams when bound
 * to the wildcard address or to the group itself. Returns the number of listeners that
 * joined, or a negative code with "join GROUP: reason" in err (SK_ERRLEN, may be NULL):
 * SK_EBADADDR for text that is not a multicast address, SK_EBADARG for no datagram
 * listener of its family or an unknown interface, -errno from setsockopt.
 */
SK_EXPORT int sk_server_join(sk_server_t *srv, const char *group, char *err);

/*
 * Accept and serve until sk_server_stop(). Returns 0 after a stop, SK_EBADARG when there
 * is no listener, or -errno if waiting for clients failed (the sessions are ended first).
 */
SK_EXPORT int sk_server_run(sk_server_t *srv);

/* Ask run() to stop: listeners close at once (new clients are refused), idle connections
 * close, active ones get drain_timeout to finish. Async-signal-safe; may be called before
 * run() starts. */
SK_EXPORT void sk_server_stop(sk_server_t *srv);

/* Totals since the server was created. */
typedef struct sk_server_stats {
    unsigned long long accepted; /* connections admitted */
    unsigned long long refused;  /* turned away: --max-conns, --allow/--deny */
    unsigned long long active;   /* open now */
    unsigned long long closed;   /* finished */
    unsigned long long errors;   /* ended by an error: reset, protocol, timeout, overflow */
    unsigned long long bytes_in, bytes_out;
    unsigned long long datagrams;
} sk_server_stats_t;

/* Read the totals (thread-safe; the counters are updated as connections end, so a long
 * connection's bytes count once it closes). Under the fork model the children count their
 * bytes and errors in memory shared with the server; a child that dies of a signal or
 * exits non-zero counts as an error (and is logged: "session process PID killed by
 * SIGSEGV"). */
SK_EXPORT void sk_server_stats(const sk_server_t *srv, sk_server_stats_t *out);

/* Ask run() to log the totals as one line ("Stats: ..."). Async-signal-safe (SIGUSR1). */
SK_EXPORT void sk_server_report(sk_server_t *srv);

/* Log the totals line now, from this thread (not async-signal-safe). */
SK_EXPORT void sk_server_log_stats(sk_server_t *srv);

/* Remove the Unix socket files the listeners created, if the files are still theirs (for
 * a program about to exit without sk_server_free(): serve's second signal). Thread-safe
 * while run() runs; the listeners stay open, new clients can no longer find them. */
SK_EXPORT void sk_server_remove_files(sk_server_t *srv);

/* Close the listeners, remove the Unix socket files they created (if the files are still
 * theirs) and free the server. The server must not be running. */
SK_EXPORT void sk_server_free(sk_server_t *srv);

#ifdef __cplusplus
}
#endif
#endif
