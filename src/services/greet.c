/* greet.c: the seeds' greeting server: send the message (exact bytes, no newline added),
 * then close. */
#include <string.h>

#include "sockit/service.h"

static int greet_open(sk_session_t *s)
{
    const char *msg = sk_session_conf(s)->message;
    if (!msg)
        msg = SK_GREET_DEFAULT;
    int r = sk_session_write(s, msg, strlen(msg));
    sk_session_close(s);
    return r;
}

static long greet_datagram(const sk_service_conf_t *conf, const void *in, size_t len,
                           void *out, size_t cap)
{
    (void)in, (void)len;
    const char *msg = conf->message ? conf->message : SK_GREET_DEFAULT;
    size_t n = strlen(msg) < cap ? strlen(msg) : cap;
    memcpy(out, msg, n);
    return (long)n;
}

const sk_service_t sk_service_greet = {
    .name = "greet",
    .summary = "send a message (--message, default \"" SK_GREET_DEFAULT "\"), then close",
    .on_open = greet_open,
    .on_datagram = greet_datagram,
};
