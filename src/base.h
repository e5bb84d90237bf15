/*
 * base.h: the bottom layer's helpers (sk__ prefix): error text, quoting, the monotonic
 * clock and waiting on one fd. Shared by every module of libsockit and by nobody else;
 * it sees no header above sockit/error.h, so addr, frame, acl, sock, connector and the
 * loop depend only downwards. Not installed.
 */
#ifndef SOCKIT_BASE_H
#define SOCKIT_BASE_H

#include <stdint.h>
#include <time.h>

/* printf into a caller's SK_ERRLEN buffer; does nothing when err is NULL. */
void sk__set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Longest piece of user text an error message quotes. */
#define SK__QUOTE_MAX 64

/* Copy user text into out for an error message: at most SK__QUOTE_MAX bytes (then "..."),
 * control bytes as '?'. Returns out. */
const char *sk__quote(const char *s, char out[SK__QUOTE_MAX + 4]);

/* Bytes waiting to be read on a socket (0 on error). */
int sk__unread(int fd);

/* Monotonic clock in nanoseconds. */
static inline int64_t sk__now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * Wait until fd is ready for `events` (POLLIN / POLLOUT) or until deadline_ns (monotonic;
 * < 0: no deadline). EINTR resumes with the time left. Returns 0 when ready (including
 * error and hang-up conditions, which the next I/O call reports), -ETIMEDOUT or -errno.
 */
int sk__wait_fd(int fd, short events, int64_t deadline_ns);

#endif
