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
 * there is no connection to hand to a thread or child). Like inetd, no reply goes to a
 * source port below 1024, so that two servers cannot bounce datagrams between them
 * forever; nor to an unnamed Unix socket, which cannot receive one.
 *
 * Errors follow sockit/error.h. The log callback (may be NULL) receives one line at a time,
 * without a newline, from the thread that accepts (and, for protocol errors that drop a
 * connection, from the session's thread or process); it must be thread-safe.
 */
#ifndef SOCKIT_SERVER_H
#define SOCKIT_SERVER_H

#include <stddef.h>

#include "sockit/acl.h"
#include "sockit/addr.h"
#include "sockit/service.h"

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

/* Parse "iterative", "thread", "fork" or "loop". Returns 0 or SK_EBADARG. */
int sk_model_parse(const char *name, sk_model_t *model);

/* The model's name as sk_model_parse() accepts it. */
const char *sk_model_name(sk_model_t model);

typedef void sk_log_fn(void *ctx, const char *line);

typedef struct sk_server_opts {
    const sk_service_t *service; /* required */
    sk_service_conf_t conf;      /* service options */
    sk_model_t model;
    int backlog;                 /* < 1: SOMAXCONN */
    int socktype;                /* SOCK_STREAM (0 means it too) or SOCK_DGRAM */
    int threads;                 /* SK_MODEL_LOOP: event loops (< 1: online CPUs) */
    size_t max_output;           /* SK_MODEL_LOOP: queued output per connection before it
                                    is dropped (0: SK_MAX_OUTPUT_DEFAULT) */
    int max_conns;               /* beyond it a client gets a one-line error and is closed
                                    (0: no limit) */
    const sk_acl_t *acl;         /* who may connect (NULL: everyone); must outlive run() */
    double idle_timeout;         /* close a connection after this many seconds without a
                                    byte either way (0: never) */
    double frame_timeout;        /* with a framing: a frame once begun must be complete
                                    within this many seconds (0: no limit) */
    double drain_timeout;        /* on stop: how long active connections may finish
                                    (< 0: SK_DRAIN_DEFAULT; 0: none) */
    sk_log_fn *log;              /* "Connection received on ADDR" etc.; NULL: silent */
    void *log_ctx;
} sk_server_opts_t;

typedef struct sk_server sk_server_t;

/* Create a server (no listeners yet). Returns 0 and sets *out, or a negative code:
 * SK_EBADARG when the service cannot run as asked (SOCK_DGRAM without on_datagram, a
 * framing for a service without SK_SERVICE_FRAMES, a framing over datagrams). */
int sk_server_new(sk_server_t **out, const sk_server_opts_t *opts);

/*
 * Listen on every address `address` resolves to (sk_create_server() rules). May be called
 * several times before run(). Returns the number of listeners added, or a negative code
 * with "bind ADDR: reason" in err (SK_ERRLEN bytes, may be NULL).
 */
int sk_server_listen(sk_server_t *srv, const char *address, char *err);

/* The number of listening sockets so far. */
size_t sk_server_listener_count(const sk_server_t *srv);

/* The bound address of listener i (with the real port when port 0 was asked for).
 * Returns 0 or SK_EBADARG. */
int sk_server_listener_addr(const sk_server_t *srv, size_t i, sk_addr_t *addr);

/*
 * Accept and serve until sk_server_stop(). Returns 0 after a stop, SK_EBADARG when there
 * is no listener, or -errno if waiting for clients failed (the sessions are ended first).
 */
int sk_server_run(sk_server_t *srv);

/* Ask run() to stop: listeners close at once (new clients are refused), idle connections
 * close, active ones get drain_timeout to finish. Async-signal-safe; may be called before
 * run() starts. */
void sk_server_stop(sk_server_t *srv);

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
void sk_server_stats(const sk_server_t *srv, sk_server_stats_t *out);

/* Ask run() to log the totals as one line ("Stats: ..."). Async-signal-safe (SIGUSR1). */
void sk_server_report(sk_server_t *srv);

/* Log the totals line now, from this thread (not async-signal-safe). */
void sk_server_log_stats(sk_server_t *srv);

/* Close the listeners, remove the Unix socket files they created (if the files are still
 * theirs) and free the server. The server must not be running. */
void sk_server_free(sk_server_t *srv);

#ifdef __cplusplus
}
#endif
#endif
