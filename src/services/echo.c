/* echo.c: RFC 862, every byte back to its sender. */
#include "sockit/service.h"

static int echo_data(sk_session_t *s, const void *data, size_t len)
{
    return sk_session_write(s, data, len);
}

const sk_service_t sk_service_echo = {
    .name = "echo",
    .summary = "send every byte back (RFC 862)",
    .on_data = echo_data,
};
