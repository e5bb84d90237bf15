/* echo.c: RFC 862, every byte back to its sender; with a framing, every frame; over UDP,
 * every datagram. */
#include <string.h>

#include "sockit/service.h"

static int echo_data(sk_session_t *s, const void *data, size_t len)
{
    return sk_session_write(s, data, len);
}

static long echo_datagram(const sk_service_conf_t *conf, const void *in, size_t len, void *out,
                          size_t cap)
{
    (void)conf;
    if (len > cap)
        return -1;
    memcpy(out, in, len);
    return (long)len;
}

const sk_service_t sk_service_echo = {
    .name = "echo",
    .summary = "send every byte back (RFC 862)",
    .on_data = echo_data,
    .flags = SK_SERVICE_FRAMES,
    .on_datagram = echo_datagram,
};
