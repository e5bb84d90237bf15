/*
 * test_budget.c: the server-wide budget for buffered input (src/budget.h) alone, and
 * sessions charged to it (sockit/service.h with the internal sk__session_set_budget):
 * the oldest partial frame is evicted when a charge would pass the maximum, a session's
 * storage is given back once its frame completes, and an evicted session fails every
 * feed with the reason.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "internal.h"
#include "sockit/error.h"
#include "sockit/frame.h"
#include "sockit/service.h"
#include "t.h"

/* ---- the budget alone ---- */

struct holder {
    sk__budget_entry_t e; /* first: the callback gets &e */
    int evictions;
};

static void count_eviction(sk__budget_entry_t *e)
{
    ((struct holder *)(void *)e)->evictions++;
}

static void holder_init(struct holder *h)
{
    memset(h, 0, sizeof *h);
    h->e.evict = count_eviction;
}

TEST(oldest_partial_frame_is_evicted)
{
    sk__budget_t b;
    sk__budget_init(&b, 1000);
    struct holder a, c, d;
    holder_init(&a);
    holder_init(&c);
    holder_init(&d);
    sk__budget_list(&b, &a.e);
    T_OK(sk__budget_charge(&b, &a.e, 400));
    sk__budget_list(&b, &c.e);
    T_OK(sk__budget_charge(&b, &c.e, 400));
    T_EQ_INT(sk__budget_used(&b), 800);
    sk__budget_list(&b, &d.e);
    T_OK(sk__budget_charge(&b, &d.e, 400)); /* 1200 > 1000: a, the oldest, goes */
    T_EQ_INT(a.evictions, 1);
    T_EQ_INT(c.evictions, 0);
    T_EQ_INT(d.evictions, 0);
    T_EQ_INT(sk__budget_used(&b), 800);
    T_EQ_INT(a.e.charged, 0);
    T_ASSERT(a.e.evicted && !a.e.listed);
    T_EQ_INT(sk__budget_charge(&b, &a.e, 1), -ENOBUFS); /* an evicted entry gets nothing */
    sk__budget_uncharge(&b, &a.e, 400); /* what eviction forgot is not given back twice */
    T_EQ_INT(sk__budget_used(&b), 800);
    sk__budget_unlist(&b, &c.e);
    sk__budget_uncharge(&b, &c.e, 400);
    T_EQ_INT(sk__budget_used(&b), 400);
    T_EQ_INT(b.evictions, 1);
    sk__budget_destroy(&b);
}

TEST(the_oldest_charging_fails_itself)
{
    sk__budget_t b;
    sk__budget_init(&b, 1000);
    struct holder a, c;
    holder_init(&a);
    holder_init(&c);
    sk__budget_list(&b, &a.e);
    T_OK(sk__budget_charge(&b, &a.e, 600));
    sk__budget_list(&b, &c.e);
    T_OK(sk__budget_charge(&b, &c.e, 300));
    /* a is the oldest: its own growth cannot evict anyone younger. */
    T_EQ_INT(sk__budget_charge(&b, &a.e, 200), -ENOBUFS);
    T_EQ_INT(sk__budget_used(&b), 900);
    T_EQ_INT(c.evictions, 0);
    T_EQ_INT(a.e.charged, 600);
    /* A chat queue (no entry) evicts the oldest partial frames until it fits. */
    T_OK(sk__budget_charge(&b, NULL, 500));
    T_EQ_INT(a.evictions, 1);
    T_EQ_INT(c.evictions, 0);
    T_EQ_INT(sk__budget_used(&b), 800);
    T_EQ_INT(sk__budget_charge(&b, NULL, 300), 0); /* c goes too */
    T_EQ_INT(c.evictions, 1);
    T_EQ_INT(sk__budget_charge(&b, NULL, 300), -ENOBUFS); /* nobody left to evict */
    T_EQ_INT(sk__budget_used(&b), 800);
    sk__budget_destroy(&b);
}

TEST(no_budget_never_evicts)
{
    sk__budget_t b;
    sk__budget_init(&b, SIZE_MAX);
    struct holder a;
    holder_init(&a);
    sk__budget_list(&b, &a.e);
    T_OK(sk__budget_charge(&b, &a.e, (size_t)1 << 40));
    T_OK(sk__budget_charge(&b, NULL, (size_t)1 << 40));
    T_EQ_INT(a.evictions, 0);
    sk__budget_destroy(&b);
}

/* ---- sessions charged to a budget ---- */

struct conn {
    sk_session_t *s;
    int aborted;
    size_t echoed;
};

static int count_write(void *ctx, const void *data, size_t len)
{
    (void)data;
    ((struct conn *)ctx)->echoed += len;
    return 0;
}

static void mark_aborted(void *ctx)
{
    ((struct conn *)ctx)->aborted++;
}

static void conn_open(struct conn *c, const sk_service_conf_t *conf, sk__budget_t *b)
{
    memset(c, 0, sizeof *c);
    c->s = sk_session_new(&sk_service_echo, conf, NULL, count_write, c);
    T_ASSERT(c->s != NULL);
    sk_session_set_abort(c->s, mark_aborted, c);
    sk__session_set_budget(c->s, b);
}

/* A len32 header announcing n bytes, and m bytes of it. */
static void feed_partial(struct conn *c, size_t n, size_t m)
{
    unsigned char hdr[4] = {(unsigned char)(n >> 24), (unsigned char)(n >> 16),
                            (unsigned char)(n >> 8), (unsigned char)n};
    T_EQ_INT(sk_session_feed(c->s, hdr, 4), 0);
    char *p = malloc(m);
    memset(p, 'p', m);
    T_EQ_INT(sk_session_feed(c->s, p, m), 0);
    free(p);
}

TEST(sessions_evicted_oldest_first)
{
    sk_framing_t f;
    T_OK(sk_framing_parse(&f, "len32", 0, NULL));
    sk_service_conf_t conf = {.framing = &f};
    sk__budget_t b;
    sk__budget_init(&b, 300 * 1024);
    struct conn a, c, d;
    conn_open(&a, &conf, &b);
    conn_open(&c, &conf, &b);
    conn_open(&d, &conf, &b);
    feed_partial(&a, 100000, 90000); /* about 128 KiB of storage each */
    feed_partial(&c, 100000, 90000);
    T_EQ_INT(a.aborted + c.aborted, 0);
    T_GT_INT(sk_session_partial_since(a.s), 0);
    feed_partial(&d, 100000, 90000); /* over 300 KiB: a, the oldest, is evicted */
    T_EQ_INT(a.aborted, 1);
    T_EQ_INT(c.aborted + d.aborted, 0);
    T_EQ_STR(sk_session_error(a.s), SK__BUDGET_REASON);
    T_EQ_INT(sk_session_feed(a.s, "x", 1), -ENOBUFS);
    T_EQ_INT(sk_session_eof(a.s), -ENOBUFS);
    T_EQ_INT(sk_session_partial_since(a.s), 0);
    /* c and d complete their frames, are answered, and give their storage back. */
    char rest[10000];
    memset(rest, 'p', sizeof rest);
    T_EQ_INT(sk_session_feed(c.s, rest, sizeof rest), 0);
    T_EQ_INT(sk_session_feed(d.s, rest, sizeof rest), 0);
    T_EQ_INT(c.echoed, 100004);
    T_EQ_INT(d.echoed, 100004);
    T_EQ_INT(sk_session_partial_since(c.s), 0);
    T_EQ_INT(sk__budget_used(&b), 0);
    sk_session_free(a.s);
    sk_session_free(c.s);
    sk_session_free(d.s);
    T_EQ_INT(sk__budget_used(&b), 0);
    sk__budget_destroy(&b);
}

TEST(one_frame_over_the_budget_fails_itself)
{
    sk_framing_t f;
    T_OK(sk_framing_parse(&f, "len32", 0, NULL));
    sk_service_conf_t conf = {.framing = &f};
    sk__budget_t b;
    sk__budget_init(&b, 64 * 1024);
    struct conn a;
    conn_open(&a, &conf, &b);
    unsigned char hdr[4] = {0, 3, 0, 0}; /* 196608 bytes */
    T_EQ_INT(sk_session_feed(a.s, hdr, 4), 0);
    char chunk[16384];
    memset(chunk, 'q', sizeof chunk);
    int r = 0;
    for (int i = 0; i < 8 && r == 0; i++)
        r = sk_session_feed(a.s, chunk, sizeof chunk);
    T_EQ_INT(r, -ENOBUFS);
    T_EQ_STR(sk_session_error(a.s), SK__BUDGET_REASON);
    T_LE_INT(sk__budget_used(&b), 64 * 1024);
    sk_session_free(a.s);
    T_EQ_INT(sk__budget_used(&b), 0);
    sk__budget_destroy(&b);
}

/* ---- chat queues count against the budget ---- */

static void mark_notified(void *ctx)
{
    (void)ctx;
}

static sk_session_t *chat_member(const sk_service_conf_t *conf, sk__budget_t *b)
{
    sk_session_t *s = sk_session_new(&sk_service_chat, conf, NULL, count_write, NULL);
    T_ASSERT(s != NULL);
    sk_session_set_notify(s, mark_notified, NULL);
    sk__session_set_budget(s, b);
    T_EQ_INT(sk_service_chat.on_open(s), 0);
    return s;
}

TEST(chat_queue_refused_by_the_budget_drops_that_member)
{
    sk_service_conf_t conf = {.max_output = 1 << 20};
    conf.shared = sk_service_chat.shared_new(&conf);
    sk__budget_t b;
    sk__budget_init(&b, 2000);
    sk_session_t *reader = chat_member(&conf, &b);
    sk_session_t *t1 = chat_member(&conf, &b), *t2 = chat_member(&conf, &b);
    char line[701];
    memset(line, 'z', 700);
    line[700] = '\n';
    /* One line each from two talkers: the reader's queue (it never writes it out) would
     * need 2 KiB of storage, which the 2000-byte budget refuses: the reader is dropped,
     * for the budget, not for --max-output (1 MiB). */
    T_EQ_INT(sk_session_feed(t1, line, sizeof line), 0);
    T_EQ_INT(sk_session_feed(t2, line, sizeof line), 0);
    T_EQ_INT(sk_service_chat.on_notify(reader), SK__EBUDGET);
    T_LE_INT(sk__budget_used(&b), 2000);
    sk_service_chat.on_close(reader);
    sk_session_free(reader);
    sk_service_chat.on_close(t1);
    sk_session_free(t1);
    sk_service_chat.on_close(t2);
    sk_session_free(t2);
    T_EQ_INT(sk__budget_used(&b), 0); /* every queue given back */
    sk__budget_destroy(&b);
    sk_service_chat.shared_free(conf.shared);
}
