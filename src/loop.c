/*
 * loop.c: sockit/loop.h over a readiness backend (loop_backend.h; loop_epoll.c on Linux).
 * This file owns what every backend shares: the fd table and its generations, the timer
 * heap, wake-ups, signals and the order of an iteration; the backend only watches fds and
 * waits.
 *
 * Design, in the order a loop iteration runs:
 *
 *   1. the before-sleep hook;
 *   2. the backend's wait, level-triggered, for at most LOOP_MAX_EVENTS events, with a timeout
 *      of 0 when stop was requested, else the time to the nearest timer rounded up to the
 *      ms (never early), else -1 (EINTR counts as "no events");
 *   3. the loop clock (sk_loop_now) is read once;
 *   4. the collected file events are dispatched, in the order the backend gave them;
 *   5. the timers due at that clock reading run, earliest deadline first (equal deadlines
 *      in the order they were added). Only timers that existed when this pass began run in
 *      it, so a timer that adds a 0 ms timer cannot hold the loop in the pass: the new one
 *      runs in the next iteration, after the next wait (with a zero timeout).
 *
 * File events. Per fd (below setsize) the loop keeps the mask, the callback and a
 * generation. The token the backend carries is fd | generation << 32; the generation changes each time the
 * fd is forgotten (its last event deleted). Before a collected event is dispatched, the fd
 * must still be watched under the same generation and for one of the ready events, so an
 * event collected before a callback deleted the fd (or deleted it and added it again,
 * perhaps with another callback) is dropped; the next wait reports the fd afresh if
 * it is still ready. The backend reports an error or hang-up as every requested event.
 * SK_EXCLUSIVE asks the backend for exclusive wake-ups (EPOLLEXCLUSIVE); epoll refuses to
 * modify such an fd, so an exclusive fd is watched for SK_READABLE only (other masks:
 * SK_EBADARG).
 *
 * Timers. A binary min-heap of (deadline_ns, seq, slot) and a slot table holding each
 * timer's callback and its position in the heap, so cancel is O(log n). A timer id is
 * gen << 24 | slot: a slot's generation goes up each time the slot is freed, and a slot
 * whose generation is exhausted (2^39 uses) is retired rather than reused, so ids are
 * never reused within a loop. Deadlines come from a fresh clock reading at add time.
 * At most LOOP_MAX_TIMERS timers (live or retired slots); beyond that, -ENOMEM.
 *
 * Wake-ups. An eventfd watched by the loop; sk_loop_wake() writes 1 to it (one write(2):
 * thread- and async-signal-safe). The loop reads it (which resets the counter, so many
 * wakes coalesce) and calls the wake hook once.
 *
 * Signals. A process has one handler per signal, which cannot know the loop, so a static
 * table maps signo to the owning loop's signal eventfd (+1; 0: none) and holds a pending
 * flag per signo. The handler sets the flag, then writes the eventfd; it touches only
 * lock-free atomics and write(2), and keeps errno. The loop reads the eventfd, then takes
 * each of its signals' flags (in that order, so no signal is lost) and calls the callback.
 * Registration and sk_loop_free() run under a mutex; free restores the old disposition,
 * clears the table entry and waits until no handler is between reading the table and its
 * write before it closes the eventfd, so a late handler never writes into a reused fd.
 *
 * Every fd is CLOEXEC; every allocation is bounded (setsize <= 1<<24, timers <= 1<<24).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base.h"
#include "loop_backend.h"
#include "sockit/error.h"
#include "sockit/loop.h"

#define LOOP_MAX_SETSIZE (1 << 24)
/* Events collected per backend wait. */
#define LOOP_MAX_EVENTS 256

/* Tokens of the loop's own eventfds; user fds are fd | gen << 32 with fd < 1<<24. */
#define TOKEN_WAKE UINT64_MAX
#define TOKEN_SIGNAL (UINT64_MAX - 1)

#define MASK_RW (SK_READABLE | SK_WRITABLE)
#define MASK_ALL (SK_READABLE | SK_WRITABLE | SK_EXCLUSIVE)

/* Timer ids: gen << TIMER_SLOT_BITS | slot, gen in 1..TIMER_MAX_GEN, so 0 < id < 2^63. */
#define TIMER_SLOT_BITS 24
#define LOOP_MAX_TIMERS (1u << TIMER_SLOT_BITS)
#define TIMER_MAX_GEN ((UINT64_C(1) << (63 - TIMER_SLOT_BITS)) - 1)
#define TIMER_FIRST_CAP 64u
/* heap_pos of a slot that holds no timer; next_free at the end of the free list. */
#define NO_INDEX UINT32_MAX

#define NS_PER_MS INT64_C(1000000)

struct fd_state {
    sk_io_fn *fn;
    void *arg;
    uint32_t gen;
    int mask; /* SK_READABLE | SK_WRITABLE | SK_EXCLUSIVE; 0: not watched */
};

struct timer_slot {
    sk_timer_fn *fn;
    void *arg;
    uint64_t gen;
    uint32_t heap_pos;  /* NO_INDEX: free (or retired) */
    uint32_t next_free; /* free list link while free */
};

struct heap_entry {
    int64_t deadline_ns;
    uint64_t seq; /* add order: ties run first-added first */
    uint32_t slot;
};

struct signal_reg {
    sk_signal_fn *fn; /* NULL: this loop does not own the signal */
    void *arg;
    struct sigaction old;
};

struct sk_loop {
    struct sk__poller *poller;
    int wakefd;
    int sigfd; /* -1 until the first sk_loop_signal() */
    int setsize;
    struct fd_state *fds;
    struct sk__poll_event *events;
    int max_events;

    struct timer_slot *slots;
    struct heap_entry *heap;
    uint32_t nslots, nheap, tcap, free_head;
    uint64_t next_seq;

    int64_t now_ns, now_ms;
    sk_hook_fn *before_sleep_fn;
    void *before_sleep_arg;
    sk_hook_fn *wake_fn;
    void *wake_arg;
    struct signal_reg *sigs; /* NSIG entries, allocated by the first sk_loop_signal() */

    bool stop;
    bool running;
};

/* ---- process-wide signal plumbing ---- */

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "the signal handler needs lock-free atomics");

static atomic_int sig_wfd1[NSIG];    /* owner's signal eventfd + 1; 0: none */
static atomic_int sig_pending[NSIG]; /* set by the handler, taken by the owner */
static atomic_int sig_in_handler;    /* handlers between reading sig_wfd1 and writing */
static pthread_mutex_t sig_lock = PTHREAD_MUTEX_INITIALIZER;
static sk_loop_t *sig_owner[NSIG]; /* under sig_lock */

static void on_signal(int signo)
{
    int saved = errno;
    atomic_fetch_add(&sig_in_handler, 1);
    int wfd1 = atomic_load(&sig_wfd1[signo]);
    if (wfd1 > 0) {
        atomic_store(&sig_pending[signo], 1);
        uint64_t one = 1;
        ssize_t r = write(wfd1 - 1, &one, sizeof one);
        (void)r; /* EAGAIN: the counter is already non-zero, the loop will look */
    }
    atomic_fetch_sub(&sig_in_handler, 1);
    errno = saved;
}

/* Give back every signal l owns; then no handler can still write to l->sigfd. */
static void signals_release(sk_loop_t *l)
{
    if (!l->sigs) return;
    pthread_mutex_lock(&sig_lock);
    for (int s = 1; s < NSIG; s++) {
        if (!l->sigs[s].fn) continue;
        sigaction(s, &l->sigs[s].old, NULL);
        atomic_store(&sig_wfd1[s], 0);
        atomic_store(&sig_pending[s], 0);
        sig_owner[s] = NULL;
        l->sigs[s].fn = NULL;
    }
    pthread_mutex_unlock(&sig_lock);
    while (atomic_load(&sig_in_handler) > 0)
        sched_yield();
}

/* ---- the timer heap ---- */

static bool heap_less(const struct heap_entry *a, const struct heap_entry *b)
{
    return a->deadline_ns < b->deadline_ns || (a->deadline_ns == b->deadline_ns && a->seq < b->seq);
}

static void heap_place(sk_loop_t *l, uint32_t i, struct heap_entry e)
{
    l->heap[i] = e;
    l->slots[e.slot].heap_pos = i;
}

static void heap_sift_up(sk_loop_t *l, uint32_t i)
{
    struct heap_entry e = l->heap[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!heap_less(&e, &l->heap[parent])) break;
        heap_place(l, i, l->heap[parent]);
        i = parent;
    }
    heap_place(l, i, e);
}

static void heap_sift_down(sk_loop_t *l, uint32_t i)
{
    struct heap_entry e = l->heap[i];
    for (;;) {
        uint32_t child = 2 * i + 1; /* no overflow: nheap <= 1<<24 */
        if (child >= l->nheap) break;
        if (child + 1 < l->nheap && heap_less(&l->heap[child + 1], &l->heap[child])) child++;
        if (!heap_less(&l->heap[child], &e)) break;
        heap_place(l, i, l->heap[child]);
        i = child;
    }
    heap_place(l, i, e);
}

static void heap_remove(sk_loop_t *l, uint32_t i)
{
    l->slots[l->heap[i].slot].heap_pos = NO_INDEX;
    l->nheap--;
    if (i == l->nheap) return;
    heap_place(l, i, l->heap[l->nheap]);
    if (i > 0 && heap_less(&l->heap[i], &l->heap[(i - 1) / 2]))
        heap_sift_up(l, i);
    else
        heap_sift_down(l, i);
}

/* Make room for one more slot. The heap never holds more entries than there are slots,
 * so both arrays share one capacity. */
static int timers_grow(sk_loop_t *l)
{
    if (l->tcap >= LOOP_MAX_TIMERS) return -ENOMEM;
    uint32_t cap = l->tcap ? l->tcap * 2 : TIMER_FIRST_CAP;
    if (cap > LOOP_MAX_TIMERS) cap = LOOP_MAX_TIMERS;
    struct timer_slot *slots = realloc(l->slots, cap * sizeof *slots);
    if (!slots) return -ENOMEM;
    l->slots = slots;
    struct heap_entry *heap = realloc(l->heap, cap * sizeof *heap);
    if (!heap) return -ENOMEM; /* the larger slot table is kept; tcap is unchanged */
    l->heap = heap;
    l->tcap = cap;
    return 0;
}

/* A free slot's index, or -ENOMEM. */
static int64_t slot_alloc(sk_loop_t *l)
{
    if (l->free_head != NO_INDEX) {
        uint32_t s = l->free_head;
        l->free_head = l->slots[s].next_free;
        return s;
    }
    if (l->nslots == l->tcap) {
        int r = timers_grow(l);
        if (r < 0) return r;
    }
    uint32_t s = l->nslots++;
    l->slots[s].gen = 1;
    return s;
}

/* The slot no longer holds a timer: its id stops matching. A slot whose generations
 * are used up is retired, never reused, so no id comes back. */
static void slot_free(sk_loop_t *l, uint32_t s)
{
    struct timer_slot *t = &l->slots[s];
    t->fn = NULL;
    t->arg = NULL;
    t->heap_pos = NO_INDEX;
    if (t->gen == TIMER_MAX_GEN) return;
    t->gen++;
    t->next_free = l->free_head;
    l->free_head = s;
}

static int64_t timer_id(const sk_loop_t *l, uint32_t s)
{
    return (int64_t)(l->slots[s].gen << TIMER_SLOT_BITS | s);
}

/* Run the timers due at the iteration's clock reading that existed when the pass began. */
static void run_timers(sk_loop_t *l)
{
    uint64_t seq_end = l->next_seq;
    while (l->nheap > 0 && l->heap[0].deadline_ns <= l->now_ns && l->heap[0].seq < seq_end) {
        uint32_t s = l->heap[0].slot;
        sk_timer_fn *fn = l->slots[s].fn;
        void *arg = l->slots[s].arg;
        int64_t id = timer_id(l, s);
        heap_remove(l, 0);
        slot_free(l, s);
        fn(l, id, arg);
    }
}

/* ---- file events ---- */

static uint64_t fd_token(const sk_loop_t *l, int fd)
{
    return (uint64_t)(uint32_t)fd | (uint64_t)l->fds[fd].gen << 32;
}

static void dispatch_fd(sk_loop_t *l, uint64_t token, int ready)
{
    int fd = (int)(uint32_t)token;
    struct fd_state *st = &l->fds[fd];
    if (st->gen != (uint32_t)(token >> 32)) return; /* deleted since it was collected */
    ready &= st->mask;
    if (ready) st->fn(l, fd, st->arg, ready);
}

static void drain(int fd)
{
    uint64_t count;
    ssize_t r = read(fd, &count, sizeof count);
    (void)r; /* EAGAIN: already drained */
}

static void dispatch_signals(sk_loop_t *l)
{
    drain(l->sigfd); /* before taking the flags: a signal after this re-arms the fd */
    for (int s = 1; s < NSIG; s++) {
        if (l->sigs[s].fn && atomic_exchange(&sig_pending[s], 0)) {
            l->sigs[s].fn(l, s, l->sigs[s].arg);
        }
    }
}

static void update_clock(sk_loop_t *l)
{
    l->now_ns = sk__now_ns();
    l->now_ms = l->now_ns / NS_PER_MS;
}

/* The wait's timeout: until the nearest timer, rounded up to the ms. */
static int wait_timeout(const sk_loop_t *l)
{
    if (l->stop) return 0;
    if (l->nheap == 0) return -1;
    int64_t left = l->heap[0].deadline_ns - sk__now_ns();
    if (left <= 0) return 0;
    int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS;
    return ms > INT_MAX ? INT_MAX : (int)ms;
}

static int loop_iterate(sk_loop_t *l)
{
    if (l->before_sleep_fn) l->before_sleep_fn(l, l->before_sleep_arg);
    int n = sk__poller_wait(l->poller, l->events, l->max_events, wait_timeout(l));
    if (n < 0) return n;
    update_clock(l);
    for (int i = 0; i < n; i++) {
        uint64_t token = l->events[i].token;
        if (token == TOKEN_WAKE) {
            drain(l->wakefd);
            if (l->wake_fn) l->wake_fn(l, l->wake_arg);
        } else if (token == TOKEN_SIGNAL) {
            dispatch_signals(l);
        } else {
            dispatch_fd(l, token, l->events[i].ready);
        }
    }
    run_timers(l);
    return 0;
}

/* ---- the API ---- */

static int watch_internal(sk_loop_t *l, int fd, uint64_t token)
{
    return sk__poller_set(l->poller, fd, 0, SK_READABLE, token);
}

int sk_loop_new(sk_loop_t **out, int setsize)
{
    *out = NULL;
    if (setsize < 1 || setsize > LOOP_MAX_SETSIZE) return -EINVAL;
    sk_loop_t *l = calloc(1, sizeof *l);
    if (!l) return -ENOMEM;
    l->wakefd = l->sigfd = -1;
    l->setsize = setsize;
    l->max_events = setsize + 2 < LOOP_MAX_EVENTS ? setsize + 2 : LOOP_MAX_EVENTS;
    l->free_head = NO_INDEX;
    l->fds = calloc((size_t)setsize, sizeof *l->fds);
    l->events = calloc((size_t)l->max_events, sizeof *l->events);
    int err = -ENOMEM;
    if (!l->fds || !l->events) goto fail;
    err = sk__poller_open(&l->poller);
    if (err < 0) goto fail;
    l->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (l->wakefd < 0) {
        err = -errno;
        goto fail;
    }
    err = watch_internal(l, l->wakefd, TOKEN_WAKE);
    if (err < 0) goto fail;
    update_clock(l);
    *out = l;
    return 0;
fail:
    sk_loop_free(l);
    return err;
}

void sk_loop_free(sk_loop_t *l)
{
    if (!l) return;
    signals_release(l);
    if (l->sigfd >= 0) close(l->sigfd);
    if (l->wakefd >= 0) close(l->wakefd);
    sk__poller_close(l->poller);
    free(l->sigs);
    free(l->heap);
    free(l->slots);
    free(l->events);
    free(l->fds);
    free(l);
}

int sk_loop_add(sk_loop_t *l, int fd, int mask, sk_io_fn *fn, void *arg)
{
    if (fd < 0 || fd >= l->setsize || !fn) return SK_EBADARG;
    if ((mask & ~MASK_ALL) || !(mask & MASK_RW)) return SK_EBADARG;
    struct fd_state *st = &l->fds[fd];
    int old = st->mask;
    bool exclusive = (old | mask) & SK_EXCLUSIVE;
    /* Exclusive: READABLE only, and only from the first add (no later modify). */
    if (exclusive && ((mask & SK_WRITABLE) || (old && !(old & SK_EXCLUSIVE)))) return SK_EBADARG;
    int now = old | mask;
    if (now != old) {
        int r = sk__poller_set(l->poller, fd, old, now, fd_token(l, fd));
        if (r < 0) return r;
        st->mask = now;
    }
    st->fn = fn;
    st->arg = arg;
    return 0;
}

void sk_loop_del(sk_loop_t *l, int fd, int mask)
{
    if (fd < 0 || fd >= l->setsize) return;
    struct fd_state *st = &l->fds[fd];
    int rw = st->mask & MASK_RW, left = rw & ~mask;
    if (left == rw) return;
    if (left == 0) {
        /* Errors mean the fd is already gone from the set (closed): nothing to undo. */
        (void)sk__poller_set(l->poller, fd, st->mask, 0, 0);
        st->mask = 0;
        st->fn = NULL;
        st->arg = NULL;
        st->gen++; /* events collected before now are stale */
        return;
    }
    /* Not exclusive (an exclusive fd has READABLE only, so nothing is left). A failure
     * leaves the kernel watching too much; dispatch filters by st->mask. */
    (void)sk__poller_set(l->poller, fd, st->mask, left, fd_token(l, fd));
    st->mask = left;
}

int sk_loop_mask(const sk_loop_t *l, int fd)
{
    if (fd < 0 || fd >= l->setsize) return 0;
    return l->fds[fd].mask;
}

int64_t sk_loop_timer(sk_loop_t *l, int64_t ms, sk_timer_fn *fn, void *arg)
{
    if (ms < 0 || !fn) return SK_EBADARG;
    int64_t s = slot_alloc(l);
    if (s < 0) return s;
    int64_t now = sk__now_ns();
    int64_t deadline = ms > (INT64_MAX - now) / NS_PER_MS ? INT64_MAX : now + ms * NS_PER_MS;
    struct timer_slot *t = &l->slots[s];
    t->fn = fn;
    t->arg = arg;
    l->heap[l->nheap] = (struct heap_entry){deadline, l->next_seq++, (uint32_t)s};
    heap_sift_up(l, l->nheap++);
    return timer_id(l, (uint32_t)s);
}

void sk_loop_timer_cancel(sk_loop_t *l, int64_t id)
{
    if (id <= 0) return;
    uint64_t s = (uint64_t)id & (LOOP_MAX_TIMERS - 1);
    uint64_t gen = (uint64_t)id >> TIMER_SLOT_BITS;
    if (s >= l->nslots) return;
    struct timer_slot *t = &l->slots[s];
    if (t->gen != gen || t->heap_pos == NO_INDEX) return; /* fired, cancelled or unknown */
    heap_remove(l, t->heap_pos);
    slot_free(l, (uint32_t)s);
}

void sk_loop_before_sleep(sk_loop_t *l, sk_hook_fn *fn, void *arg)
{
    l->before_sleep_fn = fn;
    l->before_sleep_arg = arg;
}

void sk_loop_on_wake(sk_loop_t *l, sk_hook_fn *fn, void *arg)
{
    l->wake_fn = fn;
    l->wake_arg = arg;
}

void sk_loop_wake(sk_loop_t *l)
{
    int saved = errno;
    uint64_t one = 1;
    ssize_t r = write(l->wakefd, &one, sizeof one);
    (void)r; /* EAGAIN: the counter is saturated, a wake is pending anyway */
    errno = saved;
}

int sk_loop_signal(sk_loop_t *l, int signo, sk_signal_fn *fn, void *arg)
{
    if (signo < 1 || signo >= NSIG || !fn) return -EINVAL;
    if (!l->sigs) {
        l->sigs = calloc(NSIG, sizeof *l->sigs);
        if (!l->sigs) return -ENOMEM;
    }
    if (l->sigfd < 0) {
        int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (fd < 0) return -errno;
        int r = watch_internal(l, fd, TOKEN_SIGNAL);
        if (r < 0) {
            close(fd);
            return r;
        }
        l->sigfd = fd;
    }
    int err = 0;
    pthread_mutex_lock(&sig_lock);
    if (sig_owner[signo] == l) {
        l->sigs[signo].fn = fn; /* a new callback; the saved disposition stays */
        l->sigs[signo].arg = arg;
    } else if (sig_owner[signo]) {
        err = -EBUSY;
    } else {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        atomic_store(&sig_pending[signo], 0);
        atomic_store(&sig_wfd1[signo], l->sigfd + 1); /* before the handler can run */
        if (sigaction(signo, &sa, &l->sigs[signo].old) < 0) {
            err = -errno;
            atomic_store(&sig_wfd1[signo], 0);
        } else {
            sig_owner[signo] = l;
            l->sigs[signo].fn = fn;
            l->sigs[signo].arg = arg;
        }
    }
    pthread_mutex_unlock(&sig_lock);
    return err;
}

int sk_loop_run(sk_loop_t *l)
{
    if (l->running) return -EBUSY;
    l->running = true;
    l->stop = false;
    int r = 0;
    while (!l->stop && r == 0)
        r = loop_iterate(l);
    l->running = false;
    return r;
}

void sk_loop_stop(sk_loop_t *l)
{
    l->stop = true;
}

int64_t sk_loop_now(const sk_loop_t *l)
{
    return l->now_ms;
}
