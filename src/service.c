/*
 * service.c: the session handle handlers write to, and the registry of built-in services.
 *
 * A framed session keeps the stream's unconsumed bytes in `in`: a partial frame, and,
 * while the handler has paused its input (sk_session_pause), the rest of the chunk being
 * fed, which is why `in` may hold SK_SESSION_FEED_MAX bytes beyond a frame's maximum. The
 * storage of `in` is charged to the server's budget (budget.h) when a model set one; the
 * session is listed there while it holds a partial frame, ordered by when that frame
 * began. Under a budget the storage is given back as soon as `in` is empty, so a frame
 * once parked costs nothing after it completes, and every charged byte belongs to a
 * listed session the budget can evict; without one, up to IN_KEEP_CAP is kept for the
 * next frame.
 */
#include <errno.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "budget.h"
#include "internal.h"
#include "sockit/error.h"
#include "sockit/service.h"

/* Storage of an empty input buffer kept for the next frame (no budget); more is freed. */
#define IN_KEEP_CAP 16384

struct sk_session {
    const sk_service_t *svc;
    const sk_service_conf_t *conf;
    sk_addr_t peer;
    sk_session_write_fn *write_fn;
    void *ctx;
    int closing;
    int framed;      /* a framing applies: feed decodes, write encodes */
    int raw_out;     /* SK_SERVICE_LINES: writes go out unencoded */
    sk_session_notify_fn *notify_fn, *abort_fn;
    void *notify_ctx, *abort_ctx;
    sk_session_room_fn *room_fn;
    void *room_ctx;
    sk_decoder_t dec;
    size_t in_frame_max; /* what `in` may hold without a pause: sk_frame_bufmax() */
    sk_buf_t in;     /* framed: the stream's unconsumed bytes (a partial frame) */
    sk_buf_t out;    /* framed: one encoded frame on its way out */
    char error[96];  /* the last protocol error, for the model's log */
    int64_t partial_since; /* framed: when the partial frame in `in` began, or 0 */
    _Atomic int64_t paused_until; /* sk_session_pause(): 0, or until when (monotonic ns) */
    sk__budget_t *budget;         /* NULL: none */
    sk__budget_entry_t bentry;    /* this session in the budget */
    atomic_int evicted;           /* the budget closed this session's oldest partial frame */
    void *state;
    alignas(max_align_t) unsigned char storage[]; /* state_size bytes for the handler */
};

static const sk_service_conf_t default_conf;
static const sk_framing_t default_lines = {SK_FRAME_LINE, 0, SK_LINE_MAX_DEFAULT};

sk_session_t *sk_session_new(const sk_service_t *svc, const sk_service_conf_t *conf,
                             const sk_addr_t *peer, sk_session_write_fn *write_fn, void *ctx)
{
    sk_session_t *s = calloc(1, sizeof *s + svc->state_size);
    if (!s)
        return NULL;
    s->svc = svc;
    s->conf = conf ? conf : &default_conf;
    if (peer)
        s->peer = *peer;
    s->write_fn = write_fn;
    s->ctx = ctx;
    s->state = svc->state_size ? s->storage : NULL;
    const sk_framing_t *f = s->conf->framing;
    if (svc->flags & SK_SERVICE_LINES) {
        if (!f || (f->kind != SK_FRAME_LINE && f->kind != SK_FRAME_CRLF))
            f = &default_lines;
        s->raw_out = 1;
    }
    if ((svc->flags & (SK_SERVICE_FRAMES | SK_SERVICE_LINES)) && f && f->kind != SK_FRAME_RAW) {
        s->framed = 1;
        sk_decoder_init(&s->dec, f);
        s->in_frame_max = sk_frame_bufmax(f);
        sk_buf_init(&s->in, s->in_frame_max + SK_SESSION_FEED_MAX);
        sk_buf_init(&s->out, sk_frame_bufmax(f));
    }
    return s;
}

/* Give the input buffer's storage back (and its charge), keeping its maximum. */
static void in_release(sk_session_t *s)
{
    if (s->budget) {
        sk__budget_unlist(s->budget, &s->bentry);
        sk__budget_uncharge(s->budget, &s->bentry, s->in.cap);
    }
    sk_buf_free(&s->in);
}

void sk__session_drop_input(sk_session_t *s)
{
    if (s->framed)
        in_release(s);
}

void sk_session_free(sk_session_t *s)
{
    if (s && s->framed) {
        in_release(s);
        sk_buf_free(&s->out);
    }
    free(s);
}

/* The budget closes this session (budget.h, with the budget locked): say so and wake its
 * model, which drops the connection. */
static void session_evict(sk__budget_entry_t *e)
{
    sk_session_t *s = (sk_session_t *)((char *)e - offsetof(sk_session_t, bentry));
    atomic_store(&s->evicted, 1);
    sk_session_abort(s);
}

void sk__session_set_budget(sk_session_t *s, struct sk__budget *b)
{
    s->budget = b;
    s->bentry.evict = session_evict;
}

struct sk__budget *sk__session_budget(const sk_session_t *s)
{
    return s->budget;
}

int sk__session_evicted(const sk_session_t *s)
{
    return atomic_load(&s->evicted);
}

void sk_session_set_room(sk_session_t *s, sk_session_room_fn *fn, void *ctx)
{
    s->room_fn = fn;
    s->room_ctx = ctx;
}

size_t sk_session_write_room(sk_session_t *s)
{
    return s->room_fn ? s->room_fn(s->room_ctx) : SIZE_MAX;
}

void sk_session_pause(sk_session_t *s, int64_t until_ns)
{
    if (until_ns > 0)
        atomic_store(&s->paused_until, until_ns);
}

void sk_session_resume(sk_session_t *s)
{
    if (atomic_exchange(&s->paused_until, 0))
        sk_session_notify(s);
}

int64_t sk_session_paused_until(const sk_session_t *s)
{
    int64_t u = atomic_load(&s->paused_until);
    return u && sk__now_ns() < u ? u : 0;
}

void sk_session_notify(sk_session_t *s)
{
    if (s->notify_fn)
        s->notify_fn(s->notify_ctx);
}

void sk_session_set_notify(sk_session_t *s, sk_session_notify_fn *fn, void *ctx)
{
    s->notify_fn = fn;
    s->notify_ctx = ctx;
}

void sk_session_abort(sk_session_t *s)
{
    if (s->abort_fn)
        s->abort_fn(s->abort_ctx);
    else
        sk_session_notify(s);
}

void sk_session_set_abort(sk_session_t *s, sk_session_notify_fn *fn, void *ctx)
{
    s->abort_fn = fn;
    s->abort_ctx = ctx;
}

int sk_session_write(sk_session_t *s, const void *data, size_t len)
{
    if (!s->framed || s->raw_out)
        return len ? s->write_fn(s->ctx, data, len) : 0;
    sk_buf_clear(&s->out);
    int r = sk_frame_encode(&s->dec.f, data, len, &s->out);
    if (r < 0)
        return r;
    return sk_buf_len(&s->out) ? s->write_fn(s->ctx, sk_buf_data(&s->out), sk_buf_len(&s->out))
                               : 0;
}

static int protocol_error(sk_session_t *s, int code)
{
    if (code == SK_ETOOBIG)
        snprintf(s->error, sizeof s->error, "frame over the %zu-byte maximum", s->dec.f.max);
    else if (code == SK_EEOF)
        snprintf(s->error, sizeof s->error, "stream ended inside a frame");
    else if (code == -ENOMEM)
        snprintf(s->error, sizeof s->error, "no memory for a frame");
    else if (code == -ENOBUFS)
        snprintf(s->error, sizeof s->error, "%s", SK__BUDGET_REASON);
    return code;
}

/* 1 while the handler holds the input back. */
static int held(const sk_session_t *s)
{
    return sk_session_paused_until(s) != 0;
}

/* Decode and deliver the frames at the start of p[0..n); *used gets the bytes they took.
 * Stops at a pause unless `force` (at EOF everything left is delivered). */
static int deliver(sk_session_t *s, const char *p, size_t n, int eof, int force, size_t *used)
{
    sk_frame_t f;
    int r = 0;
    *used = 0;
    while (!s->closing && (force || !held(s)) &&
           (r = sk_decoder_next(&s->dec, p + *used, n - *used, eof, &f)) == 1) {
        *used += f.consumed;
        s->partial_since = -1; /* a frame was delivered: a partial one left began now */
        int h = s->svc->on_data ? s->svc->on_data(s, f.data, f.len) : 0;
        if (h < 0)
            return h;
    }
    return s->closing || r >= 0 ? 0 : protocol_error(s, r);
}

/* Append to `in`, charging what its storage grows by, and list a partial frame that
 * begins. Returns 0 or a protocol error. */
static int in_append(sk_session_t *s, const void *p, size_t n)
{
    size_t cap = s->in.cap;
    int r = sk_buf_append(&s->in, p, n);
    if (r < 0)
        return protocol_error(s, r);
    if (!s->budget)
        return 0;
    sk__budget_list(s->budget, &s->bentry); /* no-op when already listed */
    if (s->in.cap > cap && sk__budget_charge(s->budget, &s->bentry, s->in.cap - cap) < 0) {
        sk__budget_uncharge(s->budget, &s->bentry, cap); /* what was charged before */
        sk__budget_unlist(s->budget, &s->bentry);
        sk_buf_free(&s->in);
        return protocol_error(s, -ENOBUFS);
    }
    return 0;
}

/* Drop n delivered bytes from the front of `in`. An empty buffer leaves the budget's
 * list and gives its storage back (under a budget, or when large); bytes left over after
 * a frame completed begin a new partial frame, listed as the newest. */
static void in_consume(sk_session_t *s, size_t n)
{
    sk_buf_consume(&s->in, n);
    if (sk_buf_len(&s->in) > 0) {
        if (n > 0 && s->budget) { /* a new frame began: it is the newest partial frame */
            sk__budget_unlist(s->budget, &s->bentry);
            sk__budget_list(s->budget, &s->bentry);
        }
        return;
    }
    if (s->budget || s->in.cap > IN_KEEP_CAP)
        in_release(s);
}

int sk_session_framed(const sk_session_t *s)
{
    return s->framed;
}

int64_t sk_session_partial_since(const sk_session_t *s)
{
    return s->partial_since;
}

static int feed_frames(sk_session_t *s, const void *data, size_t len);

/* The budget evicted this session: its input is gone, and every feed fails. */
static int evicted_error(sk_session_t *s)
{
    if (s->in.data)
        in_release(s);
    s->partial_since = 0;
    return protocol_error(s, -ENOBUFS);
}

int sk_session_feed(sk_session_t *s, const void *data, size_t len)
{
    if (!s->framed)
        return len && s->svc->on_data ? s->svc->on_data(s, data, len) : 0;
    if (atomic_load(&s->evicted))
        return evicted_error(s);
    if (len == 0 && (sk_buf_len(&s->in) == 0 || held(s)))
        return 0; /* a resume with nothing kept, or still paused */
    int r = feed_frames(s, data, len);
    if (sk_buf_len(&s->in) == 0)
        s->partial_since = 0;
    else if (s->partial_since <= 0) /* none before, or a frame completed in between */
        s->partial_since = sk__now_ns();
    return r;
}

static int feed_frames(sk_session_t *s, const void *data, size_t len)
{
    const char *p = data;
    size_t used;
    int r;
    if (sk_buf_len(&s->in) == 0) {
        /* Nothing pending: decode straight from the caller's bytes, keep the rest (a
         * partial frame, or what a pause left undelivered). */
        if ((r = deliver(s, p, len, 0, 0, &used)) < 0)
            return r;
        if (used == len || s->closing)
            return 0;
        p += used;
        len -= used;
        if (len <= s->in_frame_max || (held(s) && len <= sk_buf_room(&s->in)))
            return in_append(s, p, len);
    }
    int force = 0;
    while (!s->closing) {
        /* Without a pause `in` holds at most a frame's worth, as the decoder expects;
         * a pause keeps everything (the maximum leaves room for one feed). */
        size_t cap = held(s) && !force ? sk_buf_room(&s->in)
                     : s->in_frame_max > sk_buf_len(&s->in)
                         ? s->in_frame_max - sk_buf_len(&s->in)
                         : 0;
        size_t take = len < cap ? len : cap;
        if (take && (r = in_append(s, p, take)) < 0)
            return r;
        p += take;
        len -= take;
        r = deliver(s, sk_buf_data(&s->in), sk_buf_len(&s->in), 0, force, &used);
        in_consume(s, used);
        if (r < 0 || len == 0)
            return r;
        if (take == 0 && used == 0) {
            if (!held(s) || force) /* a full buffer and no frame: the decoder's job */
                return protocol_error(s, SK_ETOOBIG);
            force = 1; /* paused with no room to keep the rest: deliver on regardless */
        }
    }
    return 0;
}

int sk_session_eof(sk_session_t *s)
{
    if (!s->framed || s->closing)
        return 0;
    if (atomic_load(&s->evicted))
        return evicted_error(s);
    size_t used;
    int r = deliver(s, sk_buf_data(&s->in), sk_buf_len(&s->in), 1, 1, &used);
    in_consume(s, used);
    s->partial_since = sk_buf_len(&s->in) ? sk__now_ns() : 0;
    return r;
}

const char *sk_session_error(const sk_session_t *s)
{
    return atomic_load(&s->evicted) ? SK__BUDGET_REASON : s->error;
}

void sk_session_close(sk_session_t *s)
{
    s->closing = 1;
}

int sk_session_closing(const sk_session_t *s)
{
    return s->closing;
}

void *sk_session_state(sk_session_t *s)
{
    return s->state;
}

const sk_addr_t *sk_session_peer(const sk_session_t *s)
{
    return &s->peer;
}

const sk_service_conf_t *sk_session_conf(const sk_session_t *s)
{
    return s->conf;
}

static const sk_service_t *const services[] = {
    &sk_service_echo,    &sk_service_discard, &sk_service_chargen, &sk_service_daytime,
    &sk_service_time,    &sk_service_greet,   &sk_service_chat,    NULL,
};

const sk_service_t *const *sk_services(void)
{
    return services;
}

const sk_service_t *sk_service_find(const char *name)
{
    for (size_t i = 0; services[i]; i++)
        if (strcmp(services[i]->name, name) == 0)
            return services[i];
    return NULL;
}
