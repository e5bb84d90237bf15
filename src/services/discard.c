/* discard.c: RFC 863, read everything and answer nothing. */
#include "sockit/service.h"

static int discard_data(sk_session_t *s, const void *data, size_t len)
{
    (void)s, (void)data, (void)len;
    return 0;
}

const sk_service_t sk_service_discard = {
    .name = "discard",
    .summary = "read and drop everything (RFC 863)",
    .on_data = discard_data,
};
