/*
 * daytime.c: RFC 867, one line of local time, then close. The format follows the RFC's
 * suggestion, "Weekday, Month Day, Year HH:MM:SS-Zone", in the C locale, ending CR LF.
 */
#include <time.h>

#include "sockit/service.h"

/* The line for now into out (cap >= 128); returns its length. */
static size_t daytime_line(char *out, size_t cap)
{
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    return strftime(out, cap, "%A, %B %-d, %Y %H:%M:%S-%Z\r\n", &tm);
}

static int daytime_open(sk_session_t *s)
{
    char line[128];
    int r = sk_session_write(s, line, daytime_line(line, sizeof line));
    sk_session_close(s);
    return r;
}

static long daytime_datagram(const sk_service_conf_t *conf, const void *in, size_t len,
                             void *out, size_t cap)
{
    (void)conf, (void)in, (void)len;
    return (long)daytime_line(out, cap);
}

const sk_service_t sk_service_daytime = {
    .name = "daytime",
    .summary = "one line with the date and time, then close (RFC 867)",
    .on_open = daytime_open,
    .on_datagram = daytime_datagram,
};
