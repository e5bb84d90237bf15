/*
 * daytime.c: RFC 867, one line of local time, then close. The format follows the RFC's
 * suggestion, "Weekday, Month Day, Year HH:MM:SS-Zone", in the C locale, ending CR LF.
 */
#include <time.h>

#include "sockit/service.h"

static int daytime_open(sk_session_t *s)
{
    char line[128];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(line, sizeof line, "%A, %B %-d, %Y %H:%M:%S-%Z\r\n", &tm);
    int r = sk_session_write(s, line, n);
    sk_session_close(s);
    return r;
}

const sk_service_t sk_service_daytime = {
    .name = "daytime",
    .summary = "one line with the date and time, then close (RFC 867)",
    .on_open = daytime_open,
};
