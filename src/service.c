/* service.c: the session handle handlers write to, and the registry of built-in services. */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/service.h"

struct sk_session {
    const sk_service_t *svc;
    const sk_service_conf_t *conf;
    sk_addr_t peer;
    sk_session_write_fn *write_fn;
    void *ctx;
    int closing;
    void *state;
    alignas(max_align_t) unsigned char storage[]; /* state_size bytes for the handler */
};

static const sk_service_conf_t default_conf;

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
    return s;
}

void sk_session_free(sk_session_t *s)
{
    free(s);
}

int sk_session_write(sk_session_t *s, const void *data, size_t len)
{
    return len ? s->write_fn(s->ctx, data, len) : 0;
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
    &sk_service_time,    &sk_service_greet,   NULL,
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
