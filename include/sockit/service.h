/*
 * sockit/service.h: a service is written once, as a handler, and run by every model.
 *
 * A handler sees bytes and a session to write to; it never knows whether a thread, a
 * forked process or an event loop carries the session. The model calls:
 *
 *   on_open(s)             once, after the connection is accepted;
 *   on_data(s, p, n)       for every chunk of bytes received (chunk sizes are arbitrary);
 *                          the peer's EOF ends a session without on_writable;
 *   on_writable(s)         (optional) whenever the session can take more output, for
 *                          services that produce output on their own, like chargen; such
 *                          a session outlives the peer's EOF (a FIN closes only its
 *                          direction) and ends when the peer closes or resets;
 *   on_close(s)            once, last, whatever the reason (peer closed, error, stop).
 *
 * on_open, on_data and on_writable return 0 to go on, or a negative code to drop the
 * connection at once. A handler ends a session gracefully with sk_session_close(): output
 * already written is delivered, then the connection closes. Handlers keep per-connection
 * data in sk_session_state(): state_size zeroed bytes that live from on_open to on_close.
 *
 * sk_session_write() may block (blocking models) or queue (event loop); either way it
 * returns 0 once the bytes are the session's responsibility, or a negative code when the
 * connection is broken, after which the handler should return that code.
 *
 * Framing (serve --frame): a service flagged SK_SERVICE_FRAMES can run with a framing in
 * its conf. Its on_data then receives exactly one whole frame's payload per call, and
 * each sk_session_write() sends one frame, encoded the same way (echo echoes frame by
 * frame). A frame over the maximum, or a stream cut inside a frame, is a protocol error:
 * the model drops that connection and sk_session_error() says why. Models feed bytes
 * through sk_session_feed() and the peer's EOF through sk_session_eof(), which apply the
 * framing (or call on_data directly when there is none).
 *
 * Sessions that talk to each other (chat): a service with shared_new gets one shared
 * object per server (conf->shared), created before the first session and freed after the
 * last. Another thread may call sk_session_notify(s) on a session it knows to be alive
 * (typically under the shared object's lock, with the session still registered there);
 * the model then calls on_notify(s) soon, in the session's own thread, where the handler
 * may write. Such a service needs every session in one process, at the same time: it
 * sets SK_SERVICE_ONE_PROCESS, and the server refuses the fork and iterative models.
 *
 * Flow control between sessions (chat): a handler may pause its own session's input with
 * sk_session_pause() (the model stops reading the socket, and sk_session_feed() keeps the
 * frames not yet delivered) until another thread calls sk_session_resume() or the pause
 * times out; and a handler that writes on its own behalf, from on_notify, writes at most
 * sk_session_write_room() bytes and is notified again when its output has drained.
 *
 * Datagrams (serve --udp): on_datagram answers one datagram with at most one reply; no
 * session exists. It must be reentrant (several threads may call it at once).
 *
 * A session is used by one thread at a time. Services are immutable and thread-safe.
 */
#ifndef SOCKIT_SERVICE_H
#define SOCKIT_SERVICE_H

#include "sockit/export.h"

#include <stddef.h>
#include <stdint.h>

#include "sockit/addr.h"
#include "sockit/frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_session sk_session_t;

/* Options a service may use; zero-initialise and set what applies. */
typedef struct sk_service_conf {
    const char *message;         /* greet: the text sent to each client (NULL: the default) */
    const sk_framing_t *framing; /* SK_SERVICE_FRAMES services: NULL or raw is a byte stream;
                                    SK_SERVICE_LINES services: line or crlf, and its max */
    size_t max_output;           /* chat: a member's queue limit (0: 1 MiB) */
    void *shared;                /* set by the server: what svc->shared_new() returned */
} sk_service_conf_t;

/* sk_service_t.flags: on_data and writes work in whole frames when a framing is set. */
#define SK_SERVICE_FRAMES 0x1
/* on_data receives whole lines (without the "\n"; line framing unless conf->framing says
 * crlf), while writes go out as they are. */
#define SK_SERVICE_LINES 0x2
/* Sessions share state (shared_new) and must all live in one process at once. */
#define SK_SERVICE_ONE_PROCESS 0x4
/* The longest line an SK_SERVICE_LINES service accepts without a --max-frame. */
#define SK_LINE_MAX_DEFAULT 65536
/* Largest datagram payload a UDP service receives or sends (IPv4's limit). */
#define SK_DGRAM_MAX 65507
/* The most bytes a model hands to one sk_session_feed() call (the built-in models read
 * 16 KiB at a time): a paused session keeps up to this much beyond a frame's maximum. */
#define SK_SESSION_FEED_MAX 65536

/* The greet service's text when no message is configured (seeds 003/004). */
#define SK_GREET_DEFAULT "Thank you for connecting"

typedef struct sk_service {
    const char *name;    /* "echo" */
    const char *summary; /* one line for --help */
    size_t state_size;   /* bytes of per-session state, zeroed before on_open */
    int (*on_open)(sk_session_t *s);
    int (*on_data)(sk_session_t *s, const void *data, size_t len);
    int (*on_writable)(sk_session_t *s);
    void (*on_close)(sk_session_t *s);
    unsigned flags; /* SK_SERVICE_FRAMES */
    /* UDP: answer the datagram in[0..len) by writing at most cap bytes to out. Returns the
     * reply's length (0: an empty datagram) or -1 for no reply. NULL: no UDP service. */
    long (*on_datagram)(const sk_service_conf_t *conf, const void *in, size_t len, void *out,
                        size_t cap);
    /* After sk_session_notify(), in the session's thread. Returns 0 or a negative code
     * (the connection is dropped). */
    int (*on_notify)(sk_session_t *s);
    /* Per-server shared state (NULL: none): created by sk_server_new(), freed by
     * sk_server_free(). shared_new returns NULL on failure. */
    void *(*shared_new)(const sk_service_conf_t *conf);
    void (*shared_free)(void *shared);
} sk_service_t;

/* The built-in services. */
SK_EXPORT extern const sk_service_t sk_service_echo;    /* every byte back to its sender */
SK_EXPORT extern const sk_service_t sk_service_discard; /* RFC 863: reads and drops everything */
SK_EXPORT extern const sk_service_t sk_service_chargen; /* RFC 864: an endless rotating pattern */
SK_EXPORT extern const sk_service_t sk_service_daytime; /* RFC 867: one human-readable time line */
SK_EXPORT extern const sk_service_t sk_service_time;    /* RFC 868: 4 bytes, seconds since 1900 */
SK_EXPORT extern const sk_service_t sk_service_greet;   /* the seeds' "Thank you for connecting" */
SK_EXPORT extern const sk_service_t sk_service_chat;    /* every line to every other client */

/* Find a built-in service by name; NULL if there is none. */
SK_EXPORT const sk_service_t *sk_service_find(const char *name);

/* The built-in services, NULL-terminated, in the order --help lists them. */
SK_EXPORT const sk_service_t *const *sk_services(void);

/* Queue or send bytes to the peer. Returns 0 or a negative code (connection broken). */
SK_EXPORT int sk_session_write(sk_session_t *s, const void *data, size_t len);

/* Close the session once everything written so far has been delivered. */
SK_EXPORT void sk_session_close(sk_session_t *s);

/* The per-session state (state_size bytes), or NULL when state_size is 0. */
SK_EXPORT void *sk_session_state(sk_session_t *s);

/* The peer's address. */
SK_EXPORT const sk_addr_t *sk_session_peer(const sk_session_t *s);

/* The service options the server was started with (never NULL). */
SK_EXPORT const sk_service_conf_t *sk_session_conf(const sk_session_t *s);

/*
 * Construction for tests and embedders: run a service by hand. A custom model fills an
 * sk_session_t through these instead of reaching into it.
 */
typedef int sk_session_write_fn(void *ctx, const void *data, size_t len);

/* Create a session for `svc` whose writes go to write_fn(ctx, ...). With a framing in conf
 * (ignored unless svc has SK_SERVICE_FRAMES) the session keeps an input buffer of at most
 * sk_frame_bufmax() bytes (plus SK_SESSION_FEED_MAX while paused), allocated as frames
 * arrive and freed once empty. Returns NULL on ENOMEM. */
SK_EXPORT sk_session_t *sk_session_new(const sk_service_t *svc, const sk_service_conf_t *conf,
                                       const sk_addr_t *peer, sk_session_write_fn *write_fn,
                                       void *ctx);

/*
 * Hand received bytes to the handler: straight to on_data, or with a framing, once per
 * complete frame (partial frames are kept, up to the framing's maximum). Returns 0, the
 * handler's negative code, or a protocol error (SK_ETOOBIG; -ENOBUFS when the server's
 * budget for buffered input closed this session) after which the connection must be
 * dropped. Stops early once the handler closes the session, and, with a framing, once it
 * pauses the input: the rest is kept (up to SK_SESSION_FEED_MAX beyond a frame; more is
 * delivered regardless) and delivered by sk_session_feed(s, NULL, 0), which a model calls
 * when the pause is over. Without a framing a pause takes effect at the next read.
 */
SK_EXPORT int sk_session_feed(sk_session_t *s, const void *data, size_t len);

/* The peer's EOF. With a framing, delivers what EOF completes (an eof frame, a last
 * unterminated line, frames a pause kept: a pause no longer applies). Returns 0, the
 * handler's code, or SK_EEOF when EOF cut a frame. */
SK_EXPORT int sk_session_eof(sk_session_t *s);

/* Why the last sk_session_feed() / sk_session_eof() failed with a protocol error, e.g.
 * "frame over the 1048576-byte maximum"; "" when none did. Once the server's budget has
 * closed the session (another thread may do so at any time), the reason for that. */
SK_EXPORT const char *sk_session_error(const sk_session_t *s);

/*
 * Pause the session's input until sk_session_resume() or the monotonic time until_ns
 * (CLOCK_MONOTONIC nanoseconds; INT64_MAX: until resumed), whichever comes first. From
 * the session's own thread (its handler). The model stops reading the socket meanwhile
 * and skips the frame deadline, so a paused peer is never blamed for the pause.
 */
SK_EXPORT void sk_session_pause(sk_session_t *s, int64_t until_ns);

/* End a pause (nothing when none is on), from any thread, under the liveness rule of
 * sk_session_notify(); the session is notified so that its model reads again. */
SK_EXPORT void sk_session_resume(sk_session_t *s);

/* For models: 0 while input flows, else when the pause ends (monotonic ns). */
SK_EXPORT int64_t sk_session_paused_until(const sk_session_t *s);

/* Bytes sk_session_write() takes now without queueing past the model's high-water mark
 * (SIZE_MAX where a write simply waits: the blocking models). A handler writing on its own
 * behalf from on_notify writes at most this much; after it returned 0 the model calls
 * on_notify again once the output has drained. From the session's thread. */
SK_EXPORT size_t sk_session_write_room(sk_session_t *s);

/* For models: what sk_session_write_room() returns (fn(ctx)); without one, SIZE_MAX. */
typedef size_t sk_session_room_fn(void *ctx);
SK_EXPORT void sk_session_set_room(sk_session_t *s, sk_session_room_fn *fn, void *ctx);

/* Ask for on_notify(s) in the session's own thread, soon. Thread-safe; the caller must
 * know s is alive (see "Sessions that talk to each other"). Several notifications may
 * merge into one call. */
SK_EXPORT void sk_session_notify(sk_session_t *s);

/* Ask the model to drop the connection soon, even if its thread is blocked writing to
 * a peer that does not read (the blocking models shut the socket down). Thread-safe, with
 * the same liveness rule as sk_session_notify(); the next on_notify should then fail. */
SK_EXPORT void sk_session_abort(sk_session_t *s);

/* For models: what sk_session_notify() and sk_session_abort() call (fn(ctx)); set right
 * after sk_session_new(). Without an abort function, abort notifies. */
typedef void sk_session_notify_fn(void *ctx);
SK_EXPORT void sk_session_set_notify(sk_session_t *s, sk_session_notify_fn *fn, void *ctx);
SK_EXPORT void sk_session_set_abort(sk_session_t *s, sk_session_notify_fn *fn, void *ctx);

/* 1 when a framing applies to the session (serve --frame). */
SK_EXPORT int sk_session_framed(const sk_session_t *s);

/* When the frame now partly received began (monotonic ns), or 0 when no partial frame is
 * buffered (always 0 without a framing). Models use it for frame deadlines and to tell
 * idle connections from active ones. */
SK_EXPORT int64_t sk_session_partial_since(const sk_session_t *s);

/* 1 once the handler has called sk_session_close(). */
SK_EXPORT int sk_session_closing(const sk_session_t *s);

/* Free a session made by sk_session_new() (does not call on_close). */
SK_EXPORT void sk_session_free(sk_session_t *s);

#ifdef __cplusplus
}
#endif
#endif
