/* service.c: the session handle handlers write to, and the registry of built-in services. */
#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "sockit/error.h"
#include "sockit/service.h"

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
    sk_decoder_t dec;
    sk_buf_t in;     /* framed: the stream's unconsumed bytes (a partial frame) */
    sk_buf_t out;    /* framed: one encoded frame on its way out */
    char error[96];  /* the last protocol error, for the model's log */
    int64_t partial_since; /* framed: when the partial frame in `in` began, or 0 */
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
        sk_buf_init(&s->in, sk_frame_bufmax(f));
        sk_buf_init(&s->out, sk_frame_bufmax(f));
    }
    return s;
}

void sk_session_free(sk_session_t *s)
{
    if (s && s->framed) {
        sk_buf_free(&s->in);
        sk_buf_free(&s->out);
    }
    free(s);
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
    return code;
}

/* Decode and deliver the frames at the start of p[0..n); *used gets the bytes they took. */
static int deliver(sk_session_t *s, const char *p, size_t n, int eof, size_t *used)
{
    sk_frame_t f;
    int r = 0;
    *used = 0;
    while (!s->closing && (r = sk_decoder_next(&s->dec, p + *used, n - *used, eof, &f)) == 1) {
        *used += f.consumed;
        int h = s->svc->on_data ? s->svc->on_data(s, f.data, f.len) : 0;
        if (h < 0)
            return h;
    }
    return s->closing || r >= 0 ? 0 : protocol_error(s, r);
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

int sk_session_feed(sk_session_t *s, const void *data, size_t len)
{
    if (!s->framed)
        return s->svc->on_data ? s->svc->on_data(s, data, len) : 0;
    int r = feed_frames(s, data, len);
    if (sk_buf_len(&s->in) == 0)
        s->partial_since = 0;
    else if (s->partial_since == 0)
        s->partial_since = sk__now_ns();
    return r;
}

static int feed_frames(sk_session_t *s, const void *data, size_t len)
{
    const char *p = data;
    size_t used;
    int r;
    while (!s->closing) {
        if (sk_buf_len(&s->in) == 0) {
            /* Nothing pending: decode straight from the caller's bytes, keep the rest. */
            if ((r = deliver(s, p, len, 0, &used)) < 0)
                return r;
            if (used == len || s->closing)
                return 0;
            r = sk_buf_append(&s->in, p + used, len - used);
            return r < 0 ? protocol_error(s, r) : 0;
        }
        size_t take = len < sk_buf_room(&s->in) ? len : sk_buf_room(&s->in);
        if ((r = sk_buf_append(&s->in, p, take)) < 0)
            return protocol_error(s, r);
        p += take;
        len -= take;
        r = deliver(s, sk_buf_data(&s->in), sk_buf_len(&s->in), 0, &used);
        sk_buf_consume(&s->in, used);
        if (r < 0 || len == 0)
            return r;
        if (take == 0 && used == 0) /* a full buffer and no frame: the decoder's job */
            return protocol_error(s, SK_ETOOBIG);
    }
    return 0;
}

int sk_session_eof(sk_session_t *s)
{
    if (!s->framed || s->closing)
        return 0;
    size_t used;
    int r = deliver(s, sk_buf_data(&s->in), sk_buf_len(&s->in), 1, &used);
    sk_buf_consume(&s->in, used);
    return r;
}

const char *sk_session_error(const sk_session_t *s)
{
    return s->error;
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
