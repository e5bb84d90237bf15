/* test_loop.c: the event loop (sockit/loop.h, src/loop.c, src/loop_epoll.c). Every test
 * arms a guard timer that stops its loop and fails, so a bug ends a test quickly, not at
 * the deadline. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "sockit/error.h"
#include "sockit/loop.h"
#include "t.h"

/* ---- helpers ---- */

static sk_loop_t *new_loop(int setsize)
{
    sk_loop_t *l = NULL;
    T_EQ_INT(sk_loop_new(&l, setsize), 0);
    T_ASSERT(l != NULL);
    return l;
}

static void guard_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l;
    (void)id;
    T_FAIL("guard timer fired: the loop did not finish within %s ms", (const char *)arg);
}

/* Fail the test if the loop is still running after ms; returns the timer id. */
#define GUARD(l, ms) sk_loop_timer((l), (ms), guard_cb, (void *)#ms)

static void stop_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)id;
    (void)arg;
    sk_loop_stop(l);
}

static void make_pair(int sv[2])
{
    T_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static void make_pipe(int p[2])
{
    T_EQ_INT(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
}

static void put_byte(int fd)
{
    T_EQ_INT(write(fd, "x", 1), 1);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Iterations, counted by the before-sleep hook (once per iteration). */
static int iterations;
static void count_iteration(sk_loop_t *l, void *arg)
{
    (void)l;
    (void)arg;
    iterations++;
}

/* ---- creation and argument checks ---- */

TEST(loop_new_rejects_bad_setsize)
{
    sk_loop_t *l = (sk_loop_t *)&l;
    T_EQ_INT(sk_loop_new(&l, 0), -EINVAL);
    T_ASSERT(l == NULL);
    T_EQ_INT(sk_loop_new(&l, -1), -EINVAL);
    T_EQ_INT(sk_loop_new(&l, (1 << 24) + 1), -EINVAL);
    l = new_loop(1);
    sk_loop_free(l);
    sk_loop_free(NULL);
}

static void never_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    (void)l;
    (void)arg;
    T_FAIL("callback ran for fd %d (ready %d)", fd, ready);
}

TEST(add_rejects_bad_arguments)
{
    sk_loop_t *l = new_loop(64);
    int sv[2];
    make_pair(sv);
    T_LT_INT(sv[0], 64); /* so the checks below are about the other arguments */
    T_EQ_INT(sk_loop_add(l, -1, SK_READABLE, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, 64, SK_READABLE, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, 1000, SK_READABLE, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sv[0], 0, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_EXCLUSIVE, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sv[0], 0x10 | SK_READABLE, never_io, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, NULL, NULL), SK_EBADARG);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    T_EQ_INT(sk_loop_mask(l, -1), 0);
    T_EQ_INT(sk_loop_mask(l, 64), 0);
    sk_loop_del(l, -1, SK_READABLE); /* out of range or unwatched: nothing happens */
    sk_loop_del(l, 64, SK_READABLE);
    sk_loop_del(l, sv[0], SK_READABLE | SK_WRITABLE);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    sk_loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

TEST(add_of_a_regular_file_reports_the_backend_error)
{
    char path[] = "/tmp/sk_loop_XXXXXX";
    int fd = mkstemp(path);
    T_ASSERT(fd >= 0);
    unlink(path);
    sk_loop_t *l = new_loop(64);
    T_EQ_INT(sk_loop_add(l, fd, SK_READABLE, never_io, NULL), -EPERM);
    T_EQ_INT(sk_loop_mask(l, fd), 0);
    sk_loop_free(l);
    close(fd);
}

/* ---- file events ---- */

struct io_rec {
    int calls;
    int last_ready;
    int last_fd;
    int stop_after;
};

static void rec_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct io_rec *r = arg;
    r->calls++;
    r->last_fd = fd;
    r->last_ready = ready;
    if (r->calls >= r->stop_after) sk_loop_stop(l);
}

TEST(readable_and_writable_callbacks_get_only_requested_events)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int sv[2];
    make_pair(sv);
    put_byte(sv[1]); /* sv[0] is now readable, and writable all along */

    struct io_rec r = {.stop_after = 1};
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 1);
    T_EQ_INT(r.last_fd, sv[0]);
    T_EQ_INT(r.last_ready, SK_READABLE);

    T_EQ_INT(sk_loop_add(l, sv[0], SK_WRITABLE, rec_io, &r), 0);
    r.stop_after = 2;
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.last_ready, SK_READABLE | SK_WRITABLE);

    sk_loop_del(l, sv[0], SK_READABLE);
    r.stop_after = 3;
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.last_ready, SK_WRITABLE);

    /* Writable only, on the other end: sv[1] has nothing to read. */
    struct io_rec w = {.stop_after = 1};
    sk_loop_del(l, sv[0], SK_WRITABLE);
    T_EQ_INT(sk_loop_add(l, sv[1], SK_READABLE | SK_WRITABLE, rec_io, &w), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(w.last_fd, sv[1]);
    T_EQ_INT(w.last_ready, SK_WRITABLE);
    T_EQ_INT(r.calls, 3);
    sk_loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

TEST(mask_accumulates_and_del_removes_one_event)
{
    sk_loop_t *l = new_loop(64);
    int sv[2];
    make_pair(sv);
    struct io_rec r = {0};
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_WRITABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_WRITABLE);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, rec_io, &r), 0); /* again: no change */
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_WRITABLE);
    sk_loop_del(l, sv[0], SK_READABLE);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_WRITABLE);
    sk_loop_del(l, sv[0], SK_READABLE); /* not watched for it: nothing happens */
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_WRITABLE);
    sk_loop_del(l, sv[0], SK_WRITABLE);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    /* Forgotten: can be added again from scratch. */
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE | SK_WRITABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_WRITABLE);
    sk_loop_del(l, sv[0], SK_READABLE | SK_WRITABLE);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    T_EQ_INT(r.calls, 0);
    sk_loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

TEST(level_triggered_repeats_and_before_sleep_runs_once_per_iteration)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int p[2];
    make_pipe(p);
    put_byte(p[1]); /* never read: ready on every iteration */
    struct io_rec r = {.stop_after = 5};
    iterations = 0;
    sk_loop_before_sleep(l, count_iteration, NULL);
    T_EQ_INT(sk_loop_add(l, p[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 5);
    T_EQ_INT(iterations, 5);

    /* Unset: no more calls. */
    sk_loop_before_sleep(l, NULL, NULL);
    r.stop_after = 7;
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 7);
    T_EQ_INT(iterations, 5);
    sk_loop_free(l);
    close(p[0]);
    close(p[1]);
}

TEST(del_stops_callbacks)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int p[2];
    make_pipe(p);
    put_byte(p[1]);
    struct io_rec r = {.stop_after = 1};
    T_EQ_INT(sk_loop_add(l, p[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 1);
    sk_loop_del(l, p[0], SK_READABLE);
    sk_loop_timer(l, 50, stop_cb, NULL); /* still readable, but no longer watched */
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 1);
    sk_loop_free(l);
    close(p[0]);
    close(p[1]);
}

struct conn {
    int fd;
    int *calls;
};

/* Deletes its own fd (both events) and frees its state: ASan sees any later use. */
static void self_delete_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct conn *c = arg;
    T_EQ_INT(ready, SK_READABLE | SK_WRITABLE);
    (*c->calls)++;
    sk_loop_del(l, fd, SK_READABLE | SK_WRITABLE);
    free(c);
}

TEST(callback_deletes_its_own_fd_and_frees_its_state)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int sv[2];
    make_pair(sv);
    put_byte(sv[1]);
    int calls = 0;
    struct conn *c = malloc(sizeof *c);
    T_ASSERT(c != NULL);
    c->fd = sv[0];
    c->calls = &calls;
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE | SK_WRITABLE, self_delete_io, c), 0);
    sk_loop_timer(l, 50, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(calls, 1);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    sk_loop_free(l);
    close(sv[0]);
    close(sv[1]);
}

/* Two fds ready before run(): both events come back from the first epoll_wait. Whichever
 * callback runs first changes the other fd; the other's collected event is then stale. */
struct race {
    int fds[2];
    int calls[2];   /* old callback, per fd */
    int first_iter; /* iteration of the first callback */
    int victim;     /* index of the fd the first callback changed */
    int readd;      /* re-add the victim with new_io instead of only deleting it */
    int new_calls;
};

static void new_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct race *r = arg;
    T_EQ_INT(fd, r->fds[r->victim]);
    T_EQ_INT(ready, SK_READABLE);
    /* A stale event would arrive in the iteration of the re-add. */
    T_GT_INT(iterations, r->first_iter);
    if (++r->new_calls == 3) sk_loop_stop(l);
}

static void race_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct race *r = arg;
    (void)ready;
    int me = fd == r->fds[0] ? 0 : 1;
    r->calls[me]++;
    if (r->first_iter == 0) {
        r->first_iter = iterations;
        r->victim = 1 - me;
        sk_loop_del(l, r->fds[r->victim], SK_READABLE);
        if (r->readd) T_EQ_INT(sk_loop_add(l, r->fds[r->victim], SK_READABLE, new_io, r), 0);
        return;
    }
    T_NE_INT(me, r->victim); /* the victim's old callback never runs again */
    if (!r->readd && r->calls[me] == 3) sk_loop_stop(l);
}

static void run_race(int readd)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int a[2], b[2];
    make_pipe(a);
    make_pipe(b);
    put_byte(a[1]);
    put_byte(b[1]);
    struct race r = {.fds = {a[0], b[0]}, .readd = readd};
    iterations = 0;
    sk_loop_before_sleep(l, count_iteration, NULL);
    T_EQ_INT(sk_loop_add(l, a[0], SK_READABLE, race_io, &r), 0);
    T_EQ_INT(sk_loop_add(l, b[0], SK_READABLE, race_io, &r), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.first_iter, 1);
    T_EQ_INT(r.calls[r.victim], 0);
    T_EQ_INT(r.calls[1 - r.victim], readd ? 4 : 3); /* with readd: stops on new_io's 3rd */
    T_EQ_INT(r.new_calls, readd ? 3 : 0);
    T_EQ_INT(sk_loop_mask(l, r.fds[r.victim]), readd ? SK_READABLE : 0);
    sk_loop_free(l);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

TEST(event_of_an_fd_deleted_in_the_same_batch_is_dropped)
{
    run_race(0);
}

TEST(delete_and_readd_in_the_same_batch_does_not_get_the_stale_event)
{
    run_race(1);
}

/* Both fds readable and writable in one batch; the first callback stops watching the
 * other for WRITABLE, so the other's collected event must arrive as READABLE only. */
struct narrow {
    int fds[2];
    int first;
    int victim_ready;
};

static void narrow_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct narrow *n = arg;
    int me = fd == n->fds[0] ? 0 : 1;
    if (n->first < 0) {
        T_EQ_INT(ready, SK_READABLE | SK_WRITABLE);
        n->first = me;
        sk_loop_del(l, n->fds[1 - me], SK_WRITABLE);
        return;
    }
    T_NE_INT(me, n->first); /* stopped before the first callback's next iteration */
    n->victim_ready = ready;
    sk_loop_stop(l);
}

TEST(event_removed_in_the_same_batch_is_not_reported)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int a[2], b[2];
    make_pair(a);
    make_pair(b);
    put_byte(a[1]);
    put_byte(b[1]);
    struct narrow n = {.fds = {a[0], b[0]}, .first = -1};
    T_EQ_INT(sk_loop_add(l, a[0], SK_READABLE | SK_WRITABLE, narrow_io, &n), 0);
    T_EQ_INT(sk_loop_add(l, b[0], SK_READABLE | SK_WRITABLE, narrow_io, &n), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(n.victim_ready, SK_READABLE);
    T_EQ_INT(sk_loop_mask(l, n.fds[1 - n.first]), SK_READABLE);
    sk_loop_free(l);
    close(a[0]);
    close(a[1]);
    close(b[0]);
    close(b[1]);
}

static void expect_eof_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct io_rec *r = arg;
    char c;
    r->calls++;
    r->last_ready = ready;
    if (ready & SK_READABLE) T_EQ_INT(read(fd, &c, 1), 0);
    sk_loop_del(l, fd, SK_READABLE | SK_WRITABLE);
    sk_loop_stop(l);
}

TEST(hangup_and_error_are_reported_as_every_requested_event)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);

    /* A pipe's empty read end after the writer closed: EPOLLHUP alone. */
    int p[2];
    make_pipe(p);
    struct io_rec r = {0};
    T_EQ_INT(sk_loop_add(l, p[0], SK_READABLE, expect_eof_io, &r), 0);
    close(p[1]);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.calls, 1);
    T_EQ_INT(r.last_ready, SK_READABLE);
    close(p[0]);

    /* A full pipe's write end after the reader closed: EPOLLERR alone (no EPOLLOUT). It
     * is reported as both requested events, READABLE included. */
    make_pipe(p);
    char chunk[4096];
    memset(chunk, 'x', sizeof chunk);
    while (write(p[1], chunk, sizeof chunk) > 0) {
    }
    T_EQ_INT(errno, EAGAIN);
    struct io_rec w = {0};
    T_EQ_INT(sk_loop_add(l, p[1], SK_WRITABLE, rec_io, &w), 0);
    w.stop_after = 1;
    sk_loop_timer(l, 30, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(w.calls, 0); /* full: not writable yet */
    T_EQ_INT(sk_loop_add(l, p[1], SK_READABLE, rec_io, &w), 0);
    close(p[0]);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(w.calls, 1);
    T_EQ_INT(w.last_ready, SK_READABLE | SK_WRITABLE);
    sk_loop_del(l, p[1], SK_READABLE | SK_WRITABLE);
    close(p[1]);

    /* A stream socket whose peer closed: readable, and the read says EOF. */
    int sv[2];
    make_pair(sv);
    struct io_rec s = {0};
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, expect_eof_io, &s), 0);
    close(sv[1]);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(s.calls, 1);
    T_EQ_INT(s.last_ready, SK_READABLE);
    close(sv[0]);
    sk_loop_free(l);
}

TEST(exclusive_fds_are_readable_only)
{
    sk_loop_t *l = new_loop(64);
    int sv[2], sw[2];
    make_pair(sv);
    make_pair(sw);
    struct io_rec r = {0};
    int e = sk_loop_add(l, sv[0], SK_READABLE | SK_EXCLUSIVE, rec_io, &r);
    if (e == -EINVAL) T_SKIP("EPOLLEXCLUSIVE not supported by this kernel");
    T_EQ_INT(e, 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_EXCLUSIVE);
    /* The kernel cannot modify an exclusive registration. */
    T_EQ_INT(sk_loop_add(l, sv[0], SK_WRITABLE, rec_io, &r), SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_WRITABLE | SK_EXCLUSIVE, rec_io, &r), SK_EBADARG);
    /* Same events, new callback: fine, with or without the flag. */
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE | SK_EXCLUSIVE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_EXCLUSIVE);
    /* Exclusive applies only at the first add, and never with WRITABLE. */
    T_EQ_INT(sk_loop_add(l, sw[0], SK_READABLE | SK_WRITABLE | SK_EXCLUSIVE, rec_io, &r),
             SK_EBADARG);
    T_EQ_INT(sk_loop_add(l, sw[0], SK_READABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_add(l, sw[0], SK_READABLE | SK_EXCLUSIVE, rec_io, &r), SK_EBADARG);
    T_EQ_INT(sk_loop_mask(l, sw[0]), SK_READABLE);
    /* Deleting READABLE forgets it; it can come back plain. */
    sk_loop_del(l, sv[0], SK_EXCLUSIVE); /* no event named: nothing happens */
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_EXCLUSIVE);
    sk_loop_del(l, sv[0], SK_READABLE);
    T_EQ_INT(sk_loop_mask(l, sv[0]), 0);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE | SK_WRITABLE, rec_io, &r), 0);
    T_EQ_INT(sk_loop_mask(l, sv[0]), SK_READABLE | SK_WRITABLE);

    /* An exclusive fd's events are delivered. */
    sk_loop_del(l, sv[0], SK_READABLE | SK_WRITABLE);
    T_EQ_INT(sk_loop_add(l, sv[0], SK_READABLE | SK_EXCLUSIVE, rec_io, &r), 0);
    put_byte(sv[1]);
    r.stop_after = 1;
    GUARD(l, 3000);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r.last_fd, sv[0]);
    T_EQ_INT(r.last_ready, SK_READABLE);
    sk_loop_free(l);
    close(sv[0]);
    close(sv[1]);
    close(sw[0]);
    close(sw[1]);
}

/* ---- timers ---- */

struct fired {
    int64_t ids[64];
    int args[64];
    int64_t at_ns[64];
    int n;
    int stop_at;
};

/* Timers carry &ctx->tags[i]; the tag's value is i. One context per test. */
struct timer_ctx {
    struct fired f;
    int tags[64];
};
static struct timer_ctx *tctx;

static void fired_cb(sk_loop_t *l, int64_t id, void *arg)
{
    struct timer_ctx *c = tctx;
    T_LT_INT(c->f.n, 64);
    c->f.ids[c->f.n] = id;
    c->f.args[c->f.n] = *(int *)arg;
    c->f.at_ns[c->f.n] = sk__now_ns();
    if (++c->f.n == c->f.stop_at) sk_loop_stop(l);
}

static struct timer_ctx *new_timer_ctx(int stop_at)
{
    struct timer_ctx *c = calloc(1, sizeof *c);
    T_ASSERT(c != NULL);
    for (int i = 0; i < 64; i++)
        c->tags[i] = i;
    c->f.stop_at = stop_at;
    tctx = c;
    return c;
}

TEST(timers_fire_in_deadline_order_and_never_early)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    static const int ms[] = {50, 10, 30, 0, 20, 40, 5};
    enum { N = sizeof ms / sizeof ms[0] };
    struct timer_ctx *c = new_timer_ctx(N);
    int64_t added_ns[N], ids[N];
    for (int i = 0; i < N; i++) {
        added_ns[i] = sk__now_ns();
        ids[i] = sk_loop_timer(l, ms[i], fired_cb, &c->tags[i]);
        T_GT_INT(ids[i], 0);
    }
    T_EQ_INT(sk_loop_run(l), 0);
    static const int want[] = {3, 6, 1, 4, 2, 5, 0};
    T_EQ_INT(c->f.n, N);
    for (int k = 0; k < N; k++) {
        int i = c->f.args[k];
        T_EQ_INT(i, want[k]);
        T_EQ_INT(c->f.ids[k], ids[i]);
        T_GE_INT(c->f.at_ns[k] - added_ns[i], (int64_t)ms[i] * 1000000);
    }
    free(c);
    sk_loop_free(l);
}

TEST(timers_with_equal_deadlines_run_in_the_order_added)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    struct timer_ctx *c = new_timer_ctx(20);
    for (int i = 0; i < 20; i++)
        T_GT_INT(sk_loop_timer(l, 0, fired_cb, &c->tags[i]), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c->f.n, 20);
    for (int k = 0; k < 20; k++)
        T_EQ_INT(c->f.args[k], k);
    free(c);
    sk_loop_free(l);
}

TEST(timer_rejects_bad_arguments)
{
    sk_loop_t *l = new_loop(64);
    int x = 0;
    T_EQ_INT(sk_loop_timer(l, -1, stop_cb, &x), SK_EBADARG);
    T_EQ_INT(sk_loop_timer(l, INT64_MIN, stop_cb, &x), SK_EBADARG);
    T_EQ_INT(sk_loop_timer(l, 10, NULL, &x), SK_EBADARG);
    /* A far deadline does not overflow into the past. */
    int64_t far = sk_loop_timer(l, INT64_MAX, guard_cb, (void *)"INT64_MAX");
    T_GT_INT(far, 0);
    sk_loop_timer(l, 20, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    sk_loop_timer_cancel(l, far);
    sk_loop_free(l);
}

/* Cancels the timer whose id is in *arg. */
static int64_t victim_id;
static void cancel_victim_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)arg;
    sk_loop_timer_cancel(l, id); /* itself, while running: a no-op */
    sk_loop_timer_cancel(l, victim_id);
}

TEST(timer_cancel)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    struct timer_ctx *c = new_timer_ctx(0);

    /* Before run. */
    int64_t a = sk_loop_timer(l, 5, fired_cb, &c->tags[0]);
    int64_t b = sk_loop_timer(l, 5, fired_cb, &c->tags[1]);
    sk_loop_timer_cancel(l, a);
    sk_loop_timer_cancel(l, a); /* twice: no-op */

    /* From inside another timer due in the same pass (both 0 ms, canceller first). */
    sk_loop_timer(l, 0, cancel_victim_cb, NULL);
    victim_id = sk_loop_timer(l, 0, fired_cb, &c->tags[2]);

    /* Unknown ids: no-ops. */
    sk_loop_timer_cancel(l, 0);
    sk_loop_timer_cancel(l, -5);
    sk_loop_timer_cancel(l, INT64_MAX);
    sk_loop_timer_cancel(l, victim_id + ((int64_t)1 << 30));

    sk_loop_timer(l, 40, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c->f.n, 1);
    T_EQ_INT(c->f.args[0], 1);
    T_EQ_INT(c->f.ids[0], b);

    /* A fired id: no-op, and it does not cancel the timer now in its slot. */
    int64_t d = sk_loop_timer(l, 0, fired_cb, &c->tags[3]);
    T_NE_INT(d, b);
    sk_loop_timer_cancel(l, b);
    sk_loop_timer_cancel(l, a);
    sk_loop_timer(l, 20, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c->f.n, 2);
    T_EQ_INT(c->f.args[1], 3);
    free(c);
    sk_loop_free(l);
}

/* A timer that re-arms itself at 0 ms: each run must be in its own iteration, and a file
 * event that becomes ready meanwhile is served. */
struct chain {
    int runs;
    int last_iter;
    int wfd;
    int served;
};

static void chain_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)id;
    struct chain *c = arg;
    T_GT_INT(iterations, c->last_iter); /* never twice in one pass */
    c->last_iter = iterations;
    if (++c->runs == 1) put_byte(c->wfd);
    T_LT_INT(c->runs, 1000);
    if (!c->served) T_GT_INT(sk_loop_timer(l, 0, chain_cb, c), 0);
}

static void chain_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    struct chain *c = arg;
    char ch;
    (void)ready;
    T_EQ_INT(read(fd, &ch, 1), 1);
    c->served = 1;
    sk_loop_stop(l);
}

TEST(zero_ms_timer_added_by_a_timer_runs_in_a_later_iteration)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int p[2];
    make_pipe(p);
    struct chain c = {.wfd = p[1]};
    iterations = 0;
    sk_loop_before_sleep(l, count_iteration, NULL);
    T_EQ_INT(sk_loop_add(l, p[0], SK_READABLE, chain_io, &c), 0);
    T_GT_INT(sk_loop_timer(l, 0, chain_cb, &c), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c.served, 1);
    T_GE_INT(c.runs, 1);
    T_LE_INT(c.runs, 3); /* the byte is read in the iteration after it was written */
    sk_loop_free(l);
    close(p[0]);
    close(p[1]);
}

/* 10000 timers with random deadlines, every 7th cancelled. */
enum { MANY = 10000 };
struct many {
    int64_t before_ns[MANY], after_ns[MANY], ms[MANY], ids[MANY];
    int order[MANY];
    int64_t fired_ns[MANY];
    int times_fired[MANY];
    int idx[MANY];
    int n, expect;
};
static struct many *many_ctx;

static void many_cb(sk_loop_t *l, int64_t id, void *arg)
{
    struct many *m = many_ctx;
    int i = *(int *)arg;
    T_EQ_INT(id, m->ids[i]);
    m->times_fired[i]++;
    m->fired_ns[i] = sk__now_ns();
    m->order[m->n++] = i;
    if (m->n == m->expect) sk_loop_stop(l);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

TEST_TIMEOUT(ten_thousand_random_timers_fire_in_order, 30)
{
    struct many *m = calloc(1, sizeof *m);
    T_ASSERT(m != NULL);
    many_ctx = m;
    sk_loop_t *l = new_loop(64);
    GUARD(l, 20000);
    uint64_t rng = 12345;
    for (int i = 0; i < MANY; i++) {
        m->idx[i] = i;
        m->ms[i] = (int64_t)(t_rand(&rng) % 300);
        m->before_ns[i] = sk__now_ns();
        m->ids[i] = sk_loop_timer(l, m->ms[i], many_cb, &m->idx[i]);
        m->after_ns[i] = sk__now_ns();
        T_GT_INT(m->ids[i], 0);
    }
    m->expect = MANY;
    for (int i = 0; i < MANY; i += 7) {
        sk_loop_timer_cancel(l, m->ids[i]);
        m->expect--;
    }
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(m->n, m->expect);
    for (int i = 0; i < MANY; i++) {
        T_EQ_INT(m->times_fired[i], i % 7 == 0 ? 0 : 1);
        if (i % 7) T_GE_INT(m->fired_ns[i] - m->before_ns[i], m->ms[i] * 1000000);
    }
    /* a fired before b means deadline(a) <= deadline(b), and each deadline lies in
     * [before + ms, after + ms]. */
    for (int k = 1; k < m->n; k++) {
        int a = m->order[k - 1], b = m->order[k];
        T_LE_INT(m->before_ns[a] + m->ms[a] * 1000000, m->after_ns[b] + m->ms[b] * 1000000);
        if (b < a) T_LT_INT(m->ms[a], m->ms[b]); /* b added first but fired later */
    }
    qsort(m->ids, MANY, sizeof m->ids[0], cmp_i64);
    for (int i = 1; i < MANY; i++)
        T_NE_INT(m->ids[i - 1], m->ids[i]);
    sk_loop_free(l);
    free(m);
}

TEST(timer_ids_are_never_reused)
{
    enum { N = 100000 };
    int64_t *ids = malloc(N * sizeof *ids);
    T_ASSERT(ids != NULL);
    sk_loop_t *l = new_loop(64);
    int x = 0;
    /* Add and cancel: the same slot over and over. */
    for (int i = 0; i < N / 2; i++) {
        ids[i] = sk_loop_timer(l, 1000, stop_cb, &x);
        T_GT_INT(ids[i], 0);
        sk_loop_timer_cancel(l, ids[i]);
    }
    /* Add many, then fire them all. */
    for (int i = N / 2; i < N; i++) {
        ids[i] = sk_loop_timer(l, 0, stop_cb, &x);
        T_GT_INT(ids[i], 0);
    }
    T_EQ_INT(sk_loop_run(l), 0);
    T_GT_INT(sk_loop_timer(l, 0, stop_cb, &x), 0);
    qsort(ids, N, sizeof ids[0], cmp_i64);
    for (int i = 1; i < N; i++)
        T_NE_INT(ids[i - 1], ids[i]);
    sk_loop_free(l);
    free(ids);
}

/* ---- wake-ups ---- */

static pthread_t loop_thread;
static atomic_int wake_calls;

static void on_wake_count(sk_loop_t *l, void *arg)
{
    (void)l;
    (void)arg;
    T_ASSERT(pthread_equal(pthread_self(), loop_thread));
    atomic_fetch_add(&wake_calls, 1);
}

static void on_wake_stop(sk_loop_t *l, void *arg)
{
    on_wake_count(l, arg);
    sk_loop_stop(l);
}

static void *wake_later(void *arg)
{
    sleep_ms(30);
    sk_loop_wake(arg);
    return NULL;
}

TEST(wake_from_another_thread)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    loop_thread = pthread_self();
    sk_loop_on_wake(l, on_wake_stop, NULL);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, wake_later, l), 0);
    double t0 = t_now();
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(atomic_load(&wake_calls), 1);
    T_LT_INT((int)((t_now() - t0) * 1000), 2000);
    pthread_join(th, NULL);
    sk_loop_free(l);
}

static int64_t sleep_ns[8];
static void record_sleep(sk_loop_t *l, void *arg)
{
    (void)l;
    (void)arg;
    if (iterations < 8) sleep_ns[iterations] = sk__now_ns();
    iterations++;
}

TEST(wake_without_a_callback_only_interrupts_the_wait)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    iterations = 0;
    sk_loop_before_sleep(l, record_sleep, NULL);
    sk_loop_timer(l, 500, stop_cb, NULL);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, wake_later, l), 0); /* at 30 ms */
    T_EQ_INT(sk_loop_run(l), 0);
    pthread_join(th, NULL);
    /* Waits: until the wake, then until the timer. */
    T_EQ_INT(iterations, 2);
    T_LT_INT(sleep_ns[1] - sleep_ns[0], 400 * INT64_C(1000000));
    sk_loop_free(l);
}

struct burst {
    sk_loop_t *l;
    atomic_int done;
};

static void *wake_burst(void *arg)
{
    struct burst *b = arg;
    for (int i = 0; i < 1000; i++)
        sk_loop_wake(b->l);
    atomic_store(&b->done, 1);
    sk_loop_wake(b->l);
    return NULL;
}

static void stop_when_burst_done(sk_loop_t *l, void *arg)
{
    struct burst *b = arg;
    on_wake_count(l, NULL);
    if (atomic_load(&b->done)) sk_loop_stop(l);
}

TEST(wakes_coalesce)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    loop_thread = pthread_self();
    sk_loop_on_wake(l, on_wake_count, NULL);
    for (int i = 0; i < 10; i++)
        sk_loop_wake(l);
    sk_loop_timer(l, 50, stop_cb, NULL);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(atomic_load(&wake_calls), 1);

    /* A burst from another thread while the loop runs. */
    atomic_store(&wake_calls, 0);
    struct burst b = {.l = l};
    sk_loop_on_wake(l, stop_when_burst_done, &b);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, wake_burst, &b), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    pthread_join(th, NULL);
    T_GE_INT(atomic_load(&wake_calls), 1);
    T_LE_INT(atomic_load(&wake_calls), 1001);
    sk_loop_free(l);
}

static sk_loop_t *sig_loop;
static atomic_int errno_kept = -1;

static void wake_from_handler(int signo)
{
    (void)signo;
    int saved = errno;
    errno = EDOM;
    sk_loop_wake(sig_loop);
    atomic_store(&errno_kept, errno == EDOM);
    errno = saved;
}

static void *signal_loop_later(void *arg)
{
    (void)arg;
    sleep_ms(30);
    pthread_kill(loop_thread, SIGUSR2);
    return NULL;
}

TEST(wake_from_a_signal_handler_keeps_errno)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    sig_loop = l;
    loop_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = wake_from_handler; /* no SA_RESTART: epoll_wait fails with EINTR */
    sigemptyset(&sa.sa_mask);
    T_EQ_INT(sigaction(SIGUSR2, &sa, NULL), 0);
    sk_loop_on_wake(l, on_wake_stop, NULL);
    pthread_t th;
    T_EQ_INT(pthread_create(&th, NULL, signal_loop_later, NULL), 0);
    T_EQ_INT(sk_loop_run(l), 0); /* the EINTR is not an error */
    pthread_join(th, NULL);
    T_EQ_INT(atomic_load(&wake_calls), 1);
    T_EQ_INT(atomic_load(&errno_kept), 1);
    sk_loop_free(l);
}

/* ---- signals ---- */

static atomic_int sig_calls;

static void *raise_then_kill(void *arg)
{
    (void)arg;
    raise(SIGUSR1); /* this thread runs the handler */
    for (int i = 0; i < 3000 && atomic_load(&sig_calls) < 2; i++)
        sleep_ms(1);
    kill(getpid(), SIGUSR1); /* any thread may */
    return NULL;
}

static pthread_t helper;
static int helper_started;

static void on_sigusr1(sk_loop_t *l, int signo, void *arg)
{
    T_EQ_INT(signo, SIGUSR1);
    T_ASSERT(pthread_equal(pthread_self(), loop_thread));
    T_EQ_INT(*(int *)arg, 42);
    int n = atomic_fetch_add(&sig_calls, 1) + 1;
    if (n == 1) {
        T_EQ_INT(pthread_create(&helper, NULL, raise_then_kill, NULL), 0);
        helper_started = 1;
    }
    if (n == 3) sk_loop_stop(l);
}

static void raise_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)l;
    (void)id;
    raise(*(int *)arg);
}

TEST(signal_is_delivered_into_the_loop_thread)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 5000);
    loop_thread = pthread_self();
    int tag = 42, signo = SIGUSR1;
    T_EQ_INT(sk_loop_signal(l, SIGUSR1, on_sigusr1, &tag), 0);
    sk_loop_timer(l, 10, raise_cb, &signo);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(atomic_load(&sig_calls), 3);
    T_ASSERT(helper_started);
    pthread_join(helper, NULL);
    sk_loop_free(l);
}

static atomic_int prev_calls;
static void prev_handler(int signo)
{
    (void)signo;
    atomic_fetch_add(&prev_calls, 1);
}

static void count_signal(sk_loop_t *l, int signo, void *arg)
{
    (void)l;
    (void)signo;
    (*(int *)arg)++;
    sk_loop_stop(l);
}

static int list_fds(int *fds, int max)
{
    DIR *d = opendir("/proc/self/fd");
    T_ASSERT(d != NULL);
    int n = 0, dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != dfd && n < max) fds[n++] = fd;
    }
    closedir(d);
    return n;
}

static int fd_in(int fd, const int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] == fd) return 1;
    return 0;
}

TEST(free_restores_dispositions_and_closes_every_fd)
{
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = prev_handler;
    sigemptyset(&sa.sa_mask);
    T_EQ_INT(sigaction(SIGUSR1, &sa, NULL), 0);
    signal(SIGUSR2, SIG_IGN);

    int before[256], after[256];
    int nb = list_fds(before, 256);
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int got1 = 0, got2 = 0;
    T_EQ_INT(sk_loop_signal(l, SIGUSR1, count_signal, &got1), 0);
    T_EQ_INT(sk_loop_signal(l, SIGUSR2, count_signal, &got2), 0);

    /* The loop's fds (epoll, wake, signal) are all close-on-exec. */
    int na = list_fds(after, 256);
    T_EQ_INT(na, nb + 3);
    for (int i = 0; i < na; i++)
        if (!fd_in(after[i], before, nb)) T_ASSERT(fcntl(after[i], F_GETFD) & FD_CLOEXEC);

    T_EQ_INT(sigaction(SIGUSR1, NULL, &cur), 0);
    T_ASSERT(cur.sa_handler != prev_handler);
    raise(SIGUSR1);
    T_EQ_INT(atomic_load(&prev_calls), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(got1, 1);
    raise(SIGUSR2);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(got2, 1);

    raise(SIGUSR1); /* pending in the loop when it is freed: dropped */
    sk_loop_free(l);
    T_EQ_INT(list_fds(after, 256), nb);
    T_EQ_INT(sigaction(SIGUSR1, NULL, &cur), 0);
    T_ASSERT(cur.sa_handler == prev_handler);
    T_EQ_INT(sigaction(SIGUSR2, NULL, &cur), 0);
    T_ASSERT(cur.sa_handler == SIG_IGN);
    raise(SIGUSR1);
    T_EQ_INT(atomic_load(&prev_calls), 1);
    T_EQ_INT(got1, 1);
}

static void other_signal_cb(sk_loop_t *l, int signo, void *arg)
{
    (void)signo;
    (*(int *)arg) += 100;
    sk_loop_stop(l);
}

TEST(a_signal_belongs_to_one_loop_at_a_time)
{
    sk_loop_t *a = new_loop(64), *b = new_loop(64);
    int got = 0;
    T_EQ_INT(sk_loop_signal(a, 0, count_signal, &got), -EINVAL);
    T_EQ_INT(sk_loop_signal(a, NSIG, count_signal, &got), -EINVAL);
    T_EQ_INT(sk_loop_signal(a, SIGKILL, count_signal, &got), -EINVAL);
    T_EQ_INT(sk_loop_signal(a, SIGUSR1, NULL, &got), -EINVAL);
    T_EQ_INT(sk_loop_signal(a, SIGUSR1, count_signal, &got), 0);
    T_EQ_INT(sk_loop_signal(b, SIGUSR1, count_signal, &got), -EBUSY);
    /* Again on the owner: the callback is replaced. */
    T_EQ_INT(sk_loop_signal(a, SIGUSR1, other_signal_cb, &got), 0);
    GUARD(a, 3000);
    raise(SIGUSR1);
    T_EQ_INT(sk_loop_run(a), 0);
    T_EQ_INT(got, 100);
    sk_loop_free(a);
    /* Freed: the signal can move. */
    T_EQ_INT(sk_loop_signal(b, SIGUSR1, count_signal, &got), 0);
    GUARD(b, 3000);
    raise(SIGUSR1);
    T_EQ_INT(sk_loop_run(b), 0);
    T_EQ_INT(got, 101);
    sk_loop_free(b);
}

/* ---- run, stop, the clock ---- */

TEST(stop_from_a_callback_and_run_again)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    struct timer_ctx *c = new_timer_ctx(0);
    sk_loop_timer(l, 10, stop_cb, NULL);
    sk_loop_timer(l, 10, fired_cb, &c->tags[0]); /* same pass: the iteration finishes */
    sk_loop_timer(l, 60, fired_cb, &c->tags[1]);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c->f.n, 1);
    sk_loop_stop(l); /* before run: run starts afresh */
    c->f.stop_at = 2;
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(c->f.n, 2);
    T_EQ_INT(c->f.args[1], 1);
    free(c);
    sk_loop_free(l);
}

static void stop_at_once(sk_loop_t *l, void *arg)
{
    (void)arg;
    iterations++;
    sk_loop_stop(l);
}

static void *wake_after_2s(void *arg)
{
    sleep_ms(2000);
    sk_loop_wake(arg);
    return NULL;
}

TEST(stop_in_before_sleep_does_not_block)
{
    sk_loop_t *l = new_loop(64);
    iterations = 0;
    sk_loop_before_sleep(l, stop_at_once, NULL);
    pthread_t th; /* rescues a loop that blocks despite the stop */
    T_EQ_INT(pthread_create(&th, NULL, wake_after_2s, l), 0);
    double t0 = t_now();
    /* No fds, no timers: without the stop, the wait would have no timeout. */
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(sk_loop_run(l), 0);
    T_LT_INT((int)((t_now() - t0) * 1000), 1000);
    T_EQ_INT(iterations, 2);
    pthread_cancel(th); /* asleep in nanosleep, a cancellation point */
    pthread_join(th, NULL);
    sk_loop_free(l);
}

static void nested_run_cb(sk_loop_t *l, int64_t id, void *arg)
{
    (void)id;
    *(int *)arg = sk_loop_run(l);
    sk_loop_stop(l);
}

TEST(nested_run_is_refused)
{
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    int r = 1;
    sk_loop_timer(l, 0, nested_run_cb, &r);
    T_EQ_INT(sk_loop_run(l), 0);
    T_EQ_INT(r, -EBUSY);
    sk_loop_free(l);
}

struct clock_rec {
    int64_t last, start;
    int64_t at_timer;
};

static void check_clock(sk_loop_t *l, void *arg)
{
    struct clock_rec *c = arg;
    T_GE_INT(sk_loop_now(l), c->last);
    c->last = sk_loop_now(l);
}

static void clock_timer(sk_loop_t *l, int64_t id, void *arg)
{
    (void)id;
    struct clock_rec *c = arg;
    c->at_timer = sk_loop_now(l);
    sk_loop_stop(l);
}

TEST(now_is_monotonic_ms_and_advances)
{
    int64_t real = sk__now_ns() / 1000000;
    sk_loop_t *l = new_loop(64);
    GUARD(l, 3000);
    struct clock_rec c = {0};
    c.start = sk_loop_now(l);
    T_GE_INT(c.start, real);
    T_LE_INT(c.start, real + 100);
    c.last = c.start;
    sk_loop_before_sleep(l, check_clock, &c);
    sk_loop_timer(l, 30, clock_timer, &c);
    T_EQ_INT(sk_loop_run(l), 0);
    T_GE_INT(c.at_timer - c.start, 30);
    T_LE_INT(c.at_timer, sk__now_ns() / 1000000);
    sk_loop_free(l);
}

/* ---- two loops sharing an exclusive listener ---- */

enum { CONNS = 200 };
static atomic_int accepted, empty_wakes, loops_ready;

struct acceptor {
    int lfd;
    sk_loop_t *l;
    int mine;
};

static void accept_io(sk_loop_t *l, int fd, void *arg, int ready)
{
    (void)l;
    struct acceptor *a = arg;
    T_EQ_INT(ready, SK_READABLE);
    int got = 0;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (c < 0) {
            T_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED);
            if (errno != ECONNABORTED) break;
            continue;
        }
        close(c);
        got++;
    }
    a->mine += got;
    atomic_fetch_add(&accepted, got);
    if (got == 0) atomic_fetch_add(&empty_wakes, 1);
}

static void stop_hook(sk_loop_t *l, void *arg)
{
    (void)arg;
    sk_loop_stop(l);
}

static void *acceptor_main(void *arg)
{
    struct acceptor *a = arg;
    T_EQ_INT(sk_loop_new(&a->l, 1024), 0);
    T_EQ_INT(sk_loop_add(a->l, a->lfd, SK_READABLE | SK_EXCLUSIVE, accept_io, a), 0);
    sk_loop_on_wake(a->l, stop_hook, NULL);
    GUARD(a->l, 10000);
    atomic_fetch_add(&loops_ready, 1);
    T_EQ_INT(sk_loop_run(a->l), 0);
    return NULL;
}

TEST_TIMEOUT(two_loops_share_an_exclusive_listener, 20)
{
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    T_ASSERT(lfd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    T_EQ_INT(bind(lfd, (struct sockaddr *)&sin, sizeof sin), 0);
    T_EQ_INT(listen(lfd, 512), 0);
    socklen_t len = sizeof sin;
    T_EQ_INT(getsockname(lfd, (struct sockaddr *)&sin, &len), 0);

    sk_loop_t *probe = new_loop(1024);
    int e = sk_loop_add(probe, lfd, SK_READABLE | SK_EXCLUSIVE, never_io, NULL);
    sk_loop_free(probe);
    if (e == -EINVAL) T_SKIP("EPOLLEXCLUSIVE not supported by this kernel");
    T_EQ_INT(e, 0);

    struct acceptor acc[2] = {{.lfd = lfd}, {.lfd = lfd}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        T_EQ_INT(pthread_create(&th[i], NULL, acceptor_main, &acc[i]), 0);
    for (int i = 0; i < 5000 && atomic_load(&loops_ready) < 2; i++)
        sleep_ms(1);
    T_EQ_INT(atomic_load(&loops_ready), 2);

    for (int i = 0; i < CONNS; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        T_ASSERT(c >= 0);
        T_EQ_INT(connect(c, (struct sockaddr *)&sin, sizeof sin), 0);
        close(c);
        if (i % 10 == 0) sleep_ms(1); /* let both loops take turns sleeping */
    }
    for (int i = 0; i < 5000 && atomic_load(&accepted) < CONNS; i++)
        sleep_ms(1);
    sleep_ms(20); /* a late wake-up that still finds something would be a double accept */
    for (int i = 0; i < 2; i++)
        sk_loop_wake(acc[i].l);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);

    T_EQ_INT(atomic_load(&accepted), CONNS);
    T_EQ_INT(acc[0].mine + acc[1].mine, CONNS);
    T_LE_INT(atomic_load(&empty_wakes), CONNS); /* no spinning on a drained listener */
    t_note("accepted %d + %d, %d empty wake-ups", acc[0].mine, acc[1].mine,
           atomic_load(&empty_wakes));
    T_EQ_INT(accept4(lfd, NULL, NULL, SOCK_CLOEXEC), -1);
    T_ASSERT(errno == EAGAIN || errno == EWOULDBLOCK);
    for (int i = 0; i < 2; i++)
        sk_loop_free(acc[i].l);
    close(lfd);
}
