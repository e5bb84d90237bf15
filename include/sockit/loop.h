/*
 * sockit/loop.h: an event loop in the shape of redis's ae: file events, timers, a
 * before-sleep hook, wake-ups from other threads, and signals delivered into the loop.
 *
 *   sk_loop_new(&l, 1024);
 *   sk_loop_add(l, fd, SK_READABLE, on_io, conn);       // one callback per fd
 *   sk_loop_timer(l, 5000, on_timeout, conn);           // one-shot, in ms
 *   sk_loop_run(l);                                     // until sk_loop_stop()
 *
 * File events are level-triggered: a callback runs on every iteration while its fd is
 * ready for a requested event. The callback receives the ready events (SK_READABLE,
 * SK_WRITABLE); an error or hang-up on the fd is reported as every requested event, so
 * the next read or write reports it. Callbacks may add or delete any fd, including the
 * one being served: events already collected for a deleted fd are dropped, so a callback
 * never runs for an fd after sk_loop_del() removed it (free a connection after del).
 *
 * Timers run on the monotonic clock, in ms, one-shot; a callback re-arms by adding a new
 * timer. Add and cancel are O(log n) (a binary heap), so a timer per connection is fine.
 * A timer id is never reused within a loop's lifetime; cancelling a fired, cancelled or
 * unknown id is a no-op.
 *
 * One iteration: the before-sleep hook, one wait for events (no longer than until the
 * nearest timer; without blocking once stop was requested), the clock update, the file
 * events (and the wake and signal callbacks) in the order the kernel reported them, then
 * timers due at that clock reading, earliest deadline first, equal deadlines in the order
 * they were added. A timer added while the timers run (even with 0 ms) waits for a later
 * iteration, so a timer re-arming itself at 0 ms cannot starve file events.
 *
 * Threads: a loop belongs to the thread that runs it; every function except
 * sk_loop_wake() must be called from that thread (or before run() starts).
 * sk_loop_wake() is thread-safe and async-signal-safe: it makes the running loop call its
 * wake callback once soon (several wakes may coalesce into one call).
 *
 * Signals: sk_loop_signal() installs a handler for signo that forwards it into this loop
 * (an eventfd used as a self-pipe); the callback then runs in the loop thread like any
 * event. Several deliveries of one signal may coalesce into one call. A signal belongs to
 * one loop at a time.
 *
 * The backend (epoll) lives in src/loop_epoll.c; the interface is backend-neutral.
 * Errors follow sockit/error.h.
 */
#ifndef SOCKIT_LOOP_H
#define SOCKIT_LOOP_H

#include "sockit/export.h"

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_loop sk_loop_t;

/* Event masks. SK_EXCLUSIVE (with SK_READABLE, for a listener shared by several loops)
 * asks that one readiness wakes only one of the loops waiting on the fd
 * (EPOLLEXCLUSIVE); it applies when the fd is first added. */
#define SK_READABLE 0x1
#define SK_WRITABLE 0x2
#define SK_EXCLUSIVE 0x4

typedef void sk_io_fn(sk_loop_t *l, int fd, void *arg, int ready);
typedef void sk_timer_fn(sk_loop_t *l, int64_t id, void *arg);
typedef void sk_hook_fn(sk_loop_t *l, void *arg);
typedef void sk_signal_fn(sk_loop_t *l, int signo, void *arg);

/* Create a loop for fds below setsize (1..1<<24). Returns 0 and sets *out, or -errno
 * (-EINVAL for a setsize out of range). */
SK_EXPORT int sk_loop_new(sk_loop_t **out, int setsize);

/* Free a loop that is not running. Does not close the fds it watched; restores the
 * signal dispositions sk_loop_signal() changed. */
SK_EXPORT void sk_loop_free(sk_loop_t *l);

/*
 * Watch fd for the events in mask, added to those already watched; fn and arg replace
 * the fd's previous callback. Returns 0, SK_EBADARG (fd outside the set, mask without
 * SK_READABLE or SK_WRITABLE or with unknown bits, fn NULL) or -errno from the backend.
 * SK_EXCLUSIVE: the kernel cannot modify an exclusive registration, so an exclusive fd is
 * watched for SK_READABLE only; SK_WRITABLE with it, or SK_EXCLUSIVE on an fd already
 * watched without it, is SK_EBADARG. Adding SK_READABLE again (with or without the flag)
 * only replaces the callback.
 */
SK_EXPORT int sk_loop_add(sk_loop_t *l, int fd, int mask, sk_io_fn *fn, void *arg);

/* Stop watching fd for the events in mask; with none left the fd is forgotten (and
 * SK_EXCLUSIVE with it; SK_EXCLUSIVE alone in mask changes nothing). */
SK_EXPORT void sk_loop_del(sk_loop_t *l, int fd, int mask);

/* The events fd is watched for, SK_EXCLUSIVE included (0: not watched). */
SK_EXPORT int sk_loop_mask(const sk_loop_t *l, int fd);

/* Run fn(l, id, arg) once, ms milliseconds from now (>= 0; measured from the call, not
 * from sk_loop_now(), so it never fires early). Returns the timer's id (> 0), -ENOMEM
 * (more than 1<<24 timers) or SK_EBADARG (ms < 0, fn NULL). */
SK_EXPORT int64_t sk_loop_timer(sk_loop_t *l, int64_t ms, sk_timer_fn *fn, void *arg);

/* Cancel a timer that has not fired. */
SK_EXPORT void sk_loop_timer_cancel(sk_loop_t *l, int64_t id);

/* Call fn(l, arg) before every wait for events (NULL: none), as ae's beforesleep. */
SK_EXPORT void sk_loop_before_sleep(sk_loop_t *l, sk_hook_fn *fn, void *arg);

/* Call fn(l, arg) in the loop thread after sk_loop_wake() (NULL: wakes only interrupt). */
SK_EXPORT void sk_loop_on_wake(sk_loop_t *l, sk_hook_fn *fn, void *arg);

/* Wake the loop from any thread or a signal handler. Never blocks. */
SK_EXPORT void sk_loop_wake(sk_loop_t *l);

/* Deliver signo into the loop: fn(l, signo, arg) runs in the loop thread. The process's
 * handler for signo is replaced until sk_loop_free(). Returns 0 or -errno: -EINVAL (signo
 * out of range or not catchable, fn NULL), -EBUSY (another loop owns signo). Calling it
 * again for a signal the loop owns replaces the callback. */
SK_EXPORT int sk_loop_signal(sk_loop_t *l, int signo, sk_signal_fn *fn, void *arg);

/* Process events until sk_loop_stop(). Returns 0, or -errno if waiting failed (-EBUSY when
 * called from inside run()). A stop requested before run() is forgotten. */
SK_EXPORT int sk_loop_run(sk_loop_t *l);

/* Make run() return after the current iteration. Loop thread only; from elsewhere, wake
 * the loop and stop it in the wake callback. */
SK_EXPORT void sk_loop_stop(sk_loop_t *l);

/* The loop's clock: monotonic milliseconds, updated once per iteration. */
SK_EXPORT int64_t sk_loop_now(const sk_loop_t *l);

#ifdef __cplusplus
}
#endif
#endif
