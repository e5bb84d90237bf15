/*
 * loop_epoll.c: the loop's readiness backend on Linux epoll (loop_backend.h). Each wait
 * collects at most the caller's max events into a buffer of that size, grown on demand
 * and never beyond LOOP_EPOLL_MAX_EVENTS. SK_EXCLUSIVE becomes EPOLLEXCLUSIVE.
 */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop_backend.h"
#include "sockit/loop.h"

/* The most events one epoll_wait collects (loop.c asks for at most 256). */
#define LOOP_EPOLL_MAX_EVENTS 4096

struct sk__poller {
    int epfd;
    int cap;
    struct epoll_event *events;
};

int sk__poller_open(struct sk__poller **out)
{
    struct sk__poller *p = calloc(1, sizeof *p);
    if (!p) return -ENOMEM;
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0) {
        int err = -errno;
        free(p);
        return err;
    }
    *out = p;
    return 0;
}

void sk__poller_close(struct sk__poller *p)
{
    if (!p) return;
    close(p->epfd);
    free(p->events);
    free(p);
}

static uint32_t to_epoll(int mask)
{
    uint32_t ev = 0;
    if (mask & SK_READABLE) ev |= EPOLLIN;
    if (mask & SK_WRITABLE) ev |= EPOLLOUT;
    if (mask & SK_EXCLUSIVE) ev |= EPOLLEXCLUSIVE;
    return ev;
}

int sk__poller_set(struct sk__poller *p, int fd, int old_mask, int new_mask, uint64_t token)
{
    if (new_mask == 0)
        return epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
    struct epoll_event ev = {.events = to_epoll(new_mask), .data.u64 = token};
    int r = epoll_ctl(p->epfd, old_mask ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev);
    if (r < 0 && old_mask && errno == ENOENT) /* closed and reopened without a forget */
        r = epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev);
    return r < 0 ? -errno : 0;
}

int sk__poller_wait(struct sk__poller *p, struct sk__poll_event *ev, int max, int timeout_ms)
{
    if (max > LOOP_EPOLL_MAX_EVENTS) max = LOOP_EPOLL_MAX_EVENTS;
    if (max < 1) return -EINVAL;
    if (max > p->cap) {
        struct epoll_event *e = realloc(p->events, (size_t)max * sizeof *e);
        if (!e) return -ENOMEM;
        p->events = e;
        p->cap = max;
    }
    int n = epoll_wait(p->epfd, p->events, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        uint32_t e = p->events[i].events;
        int ready = 0;
        if (e & EPOLLIN) ready |= SK_READABLE;
        if (e & EPOLLOUT) ready |= SK_WRITABLE;
        if (e & (EPOLLERR | EPOLLHUP)) ready |= SK_READABLE | SK_WRITABLE;
        ev[i] = (struct sk__poll_event){.token = p->events[i].data.u64, .ready = ready};
    }
    return n;
}

const char *sk__poller_name(void)
{
    return "epoll";
}
