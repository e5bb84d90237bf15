/* discard.c: RFC 863, read everything and answer nothing. */
#include "sockit/service.h"

static int discard_data(sk_session_t *s, const void *data, size_t len)
{
    (void)s, (void)data, (void)len;
    return 0;
}

static long discard_datagram(const sk_service_conf_t *conf, const void *in, size_t len,
                             void *out, size_t cap)
{
    (void)conf, (void)in, (void)len, (void)out, (void)cap;
    return -1;
}

const sk_service_t sk_service_discard = {
    .name = "discard",
    .summary = "read and drop everything (RFC 863)",
    .on_data = discard_data,
    .flags = SK_SERVICE_FRAMES, /* with a framing: checks the frames, drops them */
    .on_datagram = discard_datagram,
};
