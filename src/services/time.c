/*
 * time.c: RFC 868, the time as 4 bytes: seconds since 1900-01-01 00:00 UTC, big-endian,
 * modulo 2^32 (the counter wraps in 2036), then close.
 */
#include <stdint.h>
#include <time.h>

#include "sockit/service.h"

/* Seconds from 1900-01-01 to 1970-01-01. */
#define EPOCH_1900 2208988800u

static int time_open(sk_session_t *s)
{
    uint32_t t = (uint32_t)((uint64_t)time(NULL) + EPOCH_1900);
    unsigned char be[4] = {(unsigned char)(t >> 24), (unsigned char)(t >> 16),
                           (unsigned char)(t >> 8), (unsigned char)t};
    int r = sk_session_write(s, be, sizeof be);
    sk_session_close(s);
    return r;
}

const sk_service_t sk_service_time = {
    .name = "time",
    .summary = "4 bytes: seconds since 1900, big-endian, then close (RFC 868)",
    .on_open = time_open,
};
