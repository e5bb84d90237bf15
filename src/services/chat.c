/*
 * chat.c: a chat room. Each line a client sends goes to every other client as
 * "[ADDR] line"; joins and leaves are announced as "* [ADDR] joined" / "* [ADDR] left".
 *
 * The room (the server's shared state) is a list of members under one mutex. A sender
 * never writes to another client's socket: it appends the message to each member's
 * queue, under the lock, and notifies the member, whose own thread (a loop worker or a
 * session thread) then writes its queue out. A slow member therefore slows nobody else.
 * A member whose queue passes max_output (it stopped reading) is marked dropped and its
 * next notification ends its session; the room goes on.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/error.h"
#include "sockit/service.h"

/* A member's queue limit when conf->max_output is 0. */
#define QUEUE_DEFAULT ((size_t)1 << 20)
/* The longest prefix, "* [" ADDR "] ", and notice. */
#define PREFIX_MAX (SK_ADDRSTRLEN + 32)

struct member;

struct room {
    pthread_mutex_t mu;
    struct member *members;
    size_t count;
};

struct member {
    struct room *room;
    sk_session_t *s;
    sk_buf_t queue;   /* messages for this member, not yet written (under room->mu) */
    int dropped;      /* the queue overflowed: end the session */
    int joined;       /* in the room's list */
    char name[SK_ADDRSTRLEN + 2]; /* "[127.0.0.1:52617]" */
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

/* Queue head + body + "\n" for every member but `from`, and notify them. Room locked. */
static void broadcast(struct room *r, const struct member *from, const char *head,
                      const void *body, size_t len)
{
    for (struct member *m = r->members; m; m = m->next) {
        if (m == from || m->dropped)
            continue;
        size_t before = sk_buf_len(&m->queue);
        if (sk_buf_append(&m->queue, head, strlen(head)) < 0 ||
            sk_buf_append(&m->queue, body, len) < 0 || sk_buf_append(&m->queue, "\n", 1) < 0) {
            m->dropped = 1; /* it stopped reading: its session ends on the notification */
        }
        if (m->dropped)
            sk_session_abort(m->s); /* its thread may be stuck writing to it */
        else if (before == 0)
            sk_session_notify(m->s);
    }
}

static int chat_open(sk_session_t *s)
{
    struct member *m = sk_session_state(s);
    const sk_service_conf_t *conf = sk_session_conf(s);
    char as[SK_ADDRSTRLEN];
    m->room = conf->shared;
    m->s = s;
    sk_buf_init(&m->queue, conf->max_output ? conf->max_output : QUEUE_DEFAULT);
    snprintf(m->name, sizeof m->name, "[%s]", sk_addr_str(sk_session_peer(s), as));
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
    broadcast(m->room, m, "* ", notice, strlen(notice));
    pthread_mutex_unlock(&m->room->mu);
    return 0;
}

static int chat_data(sk_session_t *s, const void *data, size_t len)
{
    struct member *m = sk_session_state(s);
    const char *line = data;
    if (len > 0 && line[len - 1] == '\r') /* telnet and friends end lines with CR LF */
        len--;
    char head[PREFIX_MAX];
    snprintf(head, sizeof head, "%s ", m->name);
    pthread_mutex_lock(&m->room->mu);
    broadcast(m->room, m, head, line, len);
    pthread_mutex_unlock(&m->room->mu);
    return 0;
}

/* Write out what others queued for this member (outside the lock: a write may block). */
static int chat_notify(sk_session_t *s)
{
    struct member *m = sk_session_state(s);
    for (;;) {
        char chunk[16384];
        pthread_mutex_lock(&m->room->mu);
        int dropped = m->dropped;
        size_t n = sk_buf_len(&m->queue) < sizeof chunk ? sk_buf_len(&m->queue) : sizeof chunk;
        memcpy(chunk, sk_buf_data(&m->queue), n);
        sk_buf_consume(&m->queue, n);
        pthread_mutex_unlock(&m->room->mu);
        if (dropped)
            return SK_ETOOBIG; /* the model logs it as output over the maximum */
        if (n == 0)
            return 0;
        int r = sk_session_write(s, chunk, n);
        if (r < 0) {
            pthread_mutex_lock(&m->room->mu);
            dropped = m->dropped; /* aborted for not reading: say why */
            pthread_mutex_unlock(&m->room->mu);
            return dropped ? SK_ETOOBIG : r;
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
        char notice[sizeof m->name + 32];
        snprintf(notice, sizeof notice, "%s left (%zu online)", m->name, m->room->count);
        broadcast(m->room, m, "* ", notice, strlen(notice));
        pthread_mutex_unlock(&m->room->mu);
    }
    sk_buf_free(&m->queue);
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
