/*
 * time.c: RFC 868, the time as 4 bytes: seconds since 1900-01-01 00:00 UTC, big-endian,
 * modulo 2^32 (the counter wraps in 2036), then close.
 */
#include <stdint.h>
#include <time.h>

#include "sockit/service.h"

/* Seconds from 1900-01-01 to 1970-01-01. */
#define EPOCH_1900 2208988800u

/* The 4 bytes for now. */
static void time_bytes(unsigned char be[4])
{
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);
    be[0] = (unsigned char)(t >> 24);
    be[1] = (unsigned char)(t >> 16);
    be[2] = (unsigned char)(t >> 8);
    be[3] = (unsigned char)t;
}

static int time_open(sk_session_t *s)
{
    unsigned char be[4];
    time_bytes(be);
    int r = sk_session_write(s, be, sizeof be);
    sk_session_close(s);
    return r;
}

static long time_datagram(const sk_service_conf_t *conf, const void *in, size_t len, void *out,
                          size_t cap)
{
    (void)conf, (void)in, (void)len;
    if (cap < 4)
        return -1;
    time_bytes(out);
    return 4;
}

const sk_service_t sk_service_time = {
    .name = "time",
    .summary = "4 bytes: seconds since 1900, big-endian, then close (RFC 868)",
    .on_open = time_open,
    .on_datagram = time_datagram,
};
