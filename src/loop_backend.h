/*
 * loop_backend.h: what the event loop (loop.c) needs from a readiness backend. A backend
 * watches fds for SK_READABLE / SK_WRITABLE (level-triggered) and waits for them; the fd
 * table, generations, timers, wake-ups and signals stay in loop.c, so a new backend
 * (io_uring poll, kqueue) is one small file implementing these five functions.
 * loop_epoll.c is the Linux one.
 */
#ifndef SOCKIT_LOOP_BACKEND_H
#define SOCKIT_LOOP_BACKEND_H

#include <stdint.h>

struct sk__poller;

/* One ready fd: the token it was watched with and what it is ready for (SK_READABLE,
 * SK_WRITABLE; an error or hang-up is reported as both). */
struct sk__poll_event {
    uint64_t token;
    int ready;
};

/* Open a backend instance (every fd it holds is CLOEXEC). Returns 0 and sets *out, or
 * -errno (*out untouched). */
int sk__poller_open(struct sk__poller **out);

/* Close p and everything it holds; NULL is a no-op. */
void sk__poller_close(struct sk__poller *p);

/*
 * Change what fd is watched for from old_mask to new_mask (SK_READABLE | SK_WRITABLE |
 * SK_EXCLUSIVE), reporting events with token. old_mask 0 adds the fd; new_mask 0 forgets
 * it (token unused). An fd closed and reopened without being forgotten is added afresh.
 * Returns 0 or -errno; on error the watch is as before, except that a failed forget
 * means the kernel had already dropped the fd.
 */
int sk__poller_set(struct sk__poller *p, int fd, int old_mask, int new_mask, uint64_t token);

/*
 * Wait up to timeout_ms (-1: forever, 0: poll) for ready fds and store at most max of
 * them in ev. Returns how many (0 on timeout or when a signal interrupted the wait), or
 * -errno on failure.
 */
int sk__poller_wait(struct sk__poller *p, struct sk__poll_event *ev, int max, int timeout_ms);

/* The backend's name ("epoll"), for logs and benchmarks. */
const char *sk__poller_name(void);

#endif
