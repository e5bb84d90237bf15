/*
 * chat.c: a chat room. Each line a client sends goes to every other client as
 * "[ADDR] line"; joins and leaves are announced as "* [ADDR] joined" / "* [ADDR] left".
 * Control bytes in a line and in a name (a Unix client chooses its own) are spelled out
 * (sk_escape: "\r", "\x1b"; UTF-8 passes), so no member can rewrite another's tag or
 * drive the others' terminals.
 *
 * The room (the server's shared state) is a list of members under one mutex. A sender
 * never writes to another client's socket: it appends the message to each member's
 * queue, under the lock, and notifies the member, whose own thread (a loop worker or a
 * session thread) then writes its queue out, as fast as its connection takes it
 * (sk_session_write_room).
 *
 * Flow control: a member makes progress while its connection takes bytes from its queue.
 * While the queue of a member making progress holds more than HIGH (a quarter of
 * max_output), or the server's budget for buffered input is over half full, whoever sends
 * a line is paused (sk_session_pause: its input is not read) until the queues drain below
 * LOW; so a fast sender runs at the pace of the slowest reader, and no reader that keeps
 * reading is dropped. A member whose queue has not moved for STALL_NS (5 s) is not
 * reading: the room stops waiting for it, and it is dropped once its queue passes
 * max_output (or the budget is tight). A reader's queue may pass max_output by the lines
 * in flight from several senders at once, up to twice it; past that it is dropped too.
 * Queues are charged to the server's budget; a charge the budget refuses drops that
 * member.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../budget.h"
#include "../internal.h"
#include "sockit/buf.h"
#include "sockit/error.h"
#include "sockit/escape.h"
#include "sockit/service.h"

/* A member's queue limit when conf->max_output is 0. */
#define QUEUE_DEFAULT ((size_t)1 << 20)
/* How long a member's queue may sit unmoved before the member counts as not reading. */
#define STALL_NS (5 * (int64_t)1000000000)
/* Bytes a member's thread takes from its queue per write. */
#define CHUNK 16384
/* An empty queue keeps this much storage (no budget: under one, all of it is freed). */
#define QUEUE_KEEP_CAP 16384
/* A member's name, "[ADDR]", escaped. */
#define NAME_MAX_LEN SK_ESCAPE_MAX(SK_ADDRSTRLEN + 2)

struct member;

struct room {
    pthread_mutex_t mu;
    struct member *members;
    size_t count;
    size_t npaused; /* members whose input is paused */
};

struct member {
    struct room *room;
    sk_session_t *s;
    sk__budget_t *budget; /* the server's, or NULL */
    size_t max, high, low; /* max_output, and the flow-control marks */
    sk_buf_t queue;       /* messages for this member, not yet written (under room->mu) */
    int64_t moved;        /* when its queue last shrank, or began to fill (monotonic ns) */
    int dropped;          /* why its session must end (SK_ETOOBIG, SK__EBUDGET), or 0 */
    int paused;           /* its input is paused for the room */
    int joined;           /* in the room's list */
    char name[NAME_MAX_LEN]; /* "[127.0.0.1:52617]" */
    struct member *prev, *next;
};

static void *room_new(const sk_service_conf_t *conf)
{
    (void)conf;
    struct room *r = calloc(1, sizeof *r);
    if (r)
        pthread_mutex_init(&r->mu, NULL);
    return r;
}

static void room_free(void *shared)
{
    struct room *r = shared;
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Free a member's queue and its charge. Room locked (or the member alone). */
static void queue_release(struct member *m)
{
    if (m->budget)
        sk__budget_uncharge(m->budget, NULL, m->queue.cap);
    sk_buf_free(&m->queue);
}

/* Append p[0..n) to m's queue, charging what its storage grows by. Returns 0, SK_ETOOBIG
 * (over its hard limit) or SK__EBUDGET (the budget is full). Room locked. */
static int queue_append(struct member *m, const void *p, size_t n)
{
    size_t cap = m->queue.cap;
    int r = sk_buf_append(&m->queue, p, n);
    if (r == 0 && m->budget && m->queue.cap > cap &&
        sk__budget_charge(m->budget, NULL, m->queue.cap - cap) < 0) {
        sk__budget_uncharge(m->budget, NULL, cap);
        sk_buf_free(&m->queue);
        return SK__EBUDGET;
    }
    return r == -ENOMEM ? SK__EBUDGET : r;
}

/* The budget is over half full: pause senders, drop members not reading. */
static int budget_tight(sk__budget_t *b)
{
    return b && b->max != SIZE_MAX && sk__budget_used(b) > b->max / 2;
}

/* 1 while m makes progress: its queue is empty or moved within STALL_NS. Room locked. */
static int progressing(const struct member *m, int64_t now)
{
    return sk_buf_len(&m->queue) == 0 || now - m->moved < STALL_NS;
}

/* End m's session for `why`: its queue goes at once, its thread is woken (it may be
 * stuck writing to it) and its next notification fails. Room locked. */
static void drop(struct member *m, int why)
{
    m->dropped = why;
    queue_release(m);
    sk_session_abort(m->s);
}

/*
 * Queue head + body + "\n" for every member but `from`, and notify them. Returns when
 * the sender should resume if the room cannot take more now (the soonest a member it
 * waits for would count as not reading), or 0. Room locked.
 */
static int64_t broadcast(struct room *r, const struct member *from, const char *head,
                         const void *body, size_t len, int64_t now)
{
    size_t hl = strlen(head), add = hl + len + 1;
    int64_t until = 0;
    for (struct member *m = r->members; m; m = m->next) {
        if (m == from || m->dropped)
            continue;
        size_t before = sk_buf_len(&m->queue);
        int moving = progressing(m, now);
        if (!moving && (before + add > m->max || budget_tight(m->budget))) {
            drop(m, SK_ETOOBIG); /* it stopped reading: its session ends */
            continue;
        }
        int e = queue_append(m, head, hl);
        if (e == 0)
            e = queue_append(m, body, len);
        if (e == 0)
            e = queue_append(m, "\n", 1);
        if (e < 0) {
            drop(m, e);
            continue;
        }
        if (before == 0) {
            m->moved = now; /* the clock for "not reading" starts with its first byte */
            sk_session_notify(m->s);
        }
        if (moving && sk_buf_len(&m->queue) > m->high) {
            int64_t t = m->moved + STALL_NS;
            until = until == 0 || t < until ? t : until;
        }
    }
    if (budget_tight(from ? from->budget : NULL) && until == 0)
        until = now + STALL_NS;
    return until;
}

/* 1 when a member making progress still holds more than its high-water mark, or the
 * budget is tight. Room locked. */
static int congested(struct room *r, int64_t now)
{
    for (struct member *m = r->members; m; m = m->next)
        if (!m->dropped && sk_buf_len(&m->queue) > m->high && progressing(m, now))
            return 1;
    return r->members && budget_tight(r->members->budget);
}

/* The room may take lines again: resume every paused member. Room locked. */
static void maybe_resume(struct room *r, int64_t now)
{
    if (r->npaused == 0 || congested(r, now))
        return;
    for (struct member *m = r->members; m; m = m->next)
        if (m->paused) {
            m->paused = 0;
            sk_session_resume(m->s);
        }
    r->npaused = 0;
}

static int chat_open(sk_session_t *s)
{
    struct member *m = sk_session_state(s);
    const sk_service_conf_t *conf = sk_session_conf(s);
    char as[SK_ADDRSTRLEN], raw[SK_ADDRSTRLEN + 2];
    m->room = conf->shared;
    m->s = s;
    m->budget = sk__session_budget(s);
    m->max = conf->max_output ? conf->max_output : QUEUE_DEFAULT;
    m->high = m->max / 4;
    m->low = m->high / 2;
    sk_buf_init(&m->queue, 2 * m->max);
    int n = snprintf(raw, sizeof raw, "[%s]", sk_addr_str(sk_session_peer(s), as));
    sk_escape(m->name, sizeof m->name, raw, n < 0 ? 0 : (size_t)n < sizeof raw ? (size_t)n
                                                                              : sizeof raw - 1);
    if (!m->room)
        return SK_EBADARG;
    char notice[sizeof m->name + 32];
    pthread_mutex_lock(&m->room->mu);
    m->next = m->room->members;
    if (m->next)
        m->next->prev = m;
    m->room->members = m;
    m->room->count++;
    m->joined = 1;
    snprintf(notice, sizeof notice, "%s joined (%zu online)", m->name, m->room->count);
    broadcast(m->room, m, "* ", notice, strlen(notice), sk__now_ns());
    pthread_mutex_unlock(&m->room->mu);
    return 0;
}

static int chat_data(sk_session_t *s, const void *data, size_t len)
{
    struct member *m = sk_session_state(s);
    const char *line = data;
    if (len > 0 && line[len - 1] == '\r') /* telnet and friends end lines with CR LF */
        len--;
    char *esc = NULL;
    if (!sk_escape_clean(line, len)) { /* a "\r" or ESC must not reach the others raw */
        size_t cap = SK_ESCAPE_MAX(len);
        if (!(esc = malloc(cap)))
            return -ENOMEM;
        len = sk_escape(esc, cap, line, len);
        line = esc;
    }
    char head[NAME_MAX_LEN + 2];
    snprintf(head, sizeof head, "%s ", m->name);
    int64_t now = sk__now_ns();
    pthread_mutex_lock(&m->room->mu);
    int64_t until = broadcast(m->room, m, head, line, len, now);
    if (until) { /* the room is full: take no more lines from this member for now */
        if (!m->paused) {
            m->paused = 1;
            m->room->npaused++;
        }
        sk_session_pause(s, until);
    } else if (m->paused) {
        m->paused = 0; /* its pause ran out, and the room takes lines again */
        m->room->npaused--;
    }
    pthread_mutex_unlock(&m->room->mu);
    free(esc);
    return 0;
}

/* Write out what others queued for this member (outside the lock: a write may block), as
 * much as its connection takes now; the model calls again once it has drained. */
static int chat_notify(sk_session_t *s)
{
    struct member *m = sk_session_state(s);
    for (;;) {
        char chunk[CHUNK];
        size_t room = sk_session_write_room(s);
        pthread_mutex_lock(&m->room->mu);
        int dropped = m->dropped;
        if (room == 0 && !dropped) { /* the model calls again once its output drained */
            pthread_mutex_unlock(&m->room->mu);
            return 0;
        }
        size_t had = sk_buf_len(&m->queue), n = had;
        n = n < sizeof chunk ? n : sizeof chunk;
        n = n < room ? n : room;
        memcpy(chunk, sk_buf_data(&m->queue), n);
        sk_buf_consume(&m->queue, n);
        int64_t now = sk__now_ns();
        if (n > 0)
            m->moved = now;
        size_t left = sk_buf_len(&m->queue);
        if (left == 0 && (m->queue.cap > QUEUE_KEEP_CAP || m->budget))
            queue_release(m); /* a backlog once drained costs nothing */
        if (had > m->low && left <= m->low)
            maybe_resume(m->room, now); /* it drained: the room may take lines again */
        pthread_mutex_unlock(&m->room->mu);
        if (dropped)
            return dropped; /* the model logs it: output over the maximum, or the budget */
        if (n == 0)
            return 0;
        int r = sk_session_write(s, chunk, n);
        if (r < 0) {
            pthread_mutex_lock(&m->room->mu);
            dropped = m->dropped; /* aborted for not reading: say why */
            pthread_mutex_unlock(&m->room->mu);
            return dropped ? dropped : r;
        }
    }
}

static void chat_close(sk_session_t *s)
{
    struct member *m = sk_session_state(s);
    if (m->room && m->joined) {
        pthread_mutex_lock(&m->room->mu);
        if (m->prev)
            m->prev->next = m->next;
        else
            m->room->members = m->next;
        if (m->next)
            m->next->prev = m->prev;
        m->room->count--;
        if (m->paused)
            m->room->npaused--;
        queue_release(m);
        char notice[sizeof m->name + 32];
        snprintf(notice, sizeof notice, "%s left (%zu online)", m->name, m->room->count);
        int64_t now = sk__now_ns();
        broadcast(m->room, m, "* ", notice, strlen(notice), now);
        maybe_resume(m->room, now); /* it may have been the one the room waited for */
        pthread_mutex_unlock(&m->room->mu);
    } else {
        queue_release(m);
    }
}

const sk_service_t sk_service_chat = {
    .name = "chat",
    .summary = "a chat room: each line to every other client, as \"[ADDR] line\"",
    .state_size = sizeof(struct member),
    .on_open = chat_open,
    .on_data = chat_data,
    .on_close = chat_close,
    .flags = SK_SERVICE_LINES | SK_SERVICE_ONE_PROCESS,
    .on_notify = chat_notify,
    .shared_new = room_new,
    .shared_free = room_free,
};
