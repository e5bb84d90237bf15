/* util.c: error reporting and option values for every subcommand (cli.h). */
#include <ctype.h>
#include <poll.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/addr.h"
#include "sockit/error.h"

int64_t cli_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t cli_now_ms(void)
{
    return cli_now_ns() / 1000000;
}

void cli_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "sockit: %s\n", msg);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const struct cli_cmd *c = cmd ? cli_find(cmd) : NULL;
    fprintf(stderr, "sockit: %s\n", msg);
    if (c)
        fprintf(stderr, "Usage: sockit %s%s%s\nTry 'sockit %s --help' for more information.\n",
                c->name, c->synopsis[0] ? " " : "", c->synopsis, c->name);
    else
        fprintf(stderr, "Usage: sockit COMMAND [OPTIONS] [ARGS]\n"
                        "Try 'sockit --help' for more information.\n");
    return EXIT_USAGE;
}

void cli_getopt_reset(void)
{
    opterr = 0;
    optind = 0;
}

/* What nc, ncat and socat users type that sockit spells another way: the hint printed
 * after "unknown option". cmd NULL matches every command. */
static const struct nc_hint {
    const char *cmd, *opt, *hint;
} nc_hints[] = {
    {"connect", "-l", "to listen, use 'sockit listen ADDR' (nc -l)"},
    {"connect", "-z", "to scan ports, use 'sockit probe HOST PORTS' (nc -z)"},
    {"connect", "-N", "connect shuts its write side down at stdin EOF by default, as nc -N "
                      "does (--no-half-close turns that off)"},
    {"connect", "-k", "-k keeps a listener open: 'sockit listen -k ADDR'"},
    {"connect", "-M", "the hop limit is --ttl N (with --udp)"},
    {"listen", "-p", "listen takes the address as its argument: 'sockit listen :PORT' "
                     "(nc -l -p PORT)"},
    {"listen", "-s", "listen takes the address as its argument: 'sockit listen ADDR:PORT'"},
    {"listen", "--chat", "for a chat room use 'sockit serve chat -l ADDR'"},
    {"listen", "--broker", "for a chat room use 'sockit serve chat -l ADDR'"},
    {"listen", "--allow", "access rules belong to 'sockit serve SERVICE --allow CIDR'"},
    {"listen", "--deny", "access rules belong to 'sockit serve SERVICE --deny CIDR'"},
    {"listen", "-m", "limits belong to 'sockit serve SERVICE --max-conns N'"},
    {"listen", "--max-conns", "limits belong to 'sockit serve SERVICE --max-conns N'"},
    {NULL, "-U", "a Unix socket is an address: unix:/PATH (nc -U PATH)"},
    {NULL, "-4", "give the address in that family: 127.0.0.1:PORT (or a name)"},
    {NULL, "-6", "give the address in that family: [::1]:PORT (or a name)"},
    {NULL, "-o", "--hex-dump FILE records every byte each way (ncat -o writes raw data)"},
    {NULL, "--output", "--hex-dump FILE records every byte each way"},
    {NULL, "-x", "ncat's -x (a hex dump) is --hex-dump FILE; nc's -x (a proxy) has no sockit "
                 "form yet"},
    {NULL, "-d", "to send nothing, give stdin /dev/null: '< /dev/null' (nc -d)"},
    {NULL, "--recv-only", "to send nothing, give stdin /dev/null: '< /dev/null'"},
    {NULL, "--send-only", "to keep nothing, send stdout to /dev/null: '> /dev/null'"},
    {"probe", "-z", "probe only ever connects, as nc -z does: drop the -z"},
};

int cli_bad_option(const char *cmd, int c, char **argv)
{
    char opt[64];
    if (optopt > 0 && optopt < 128 && isprint(optopt))
        snprintf(opt, sizeof opt, "-%c", optopt);
    else
        snprintf(opt, sizeof opt, "%s", argv[optind - 1]);
    if (c == ':')
        return cli_usage(cmd, "option '%s' needs a value", opt);
    size_t optlen = strcspn(opt, "="); /* --output=FILE is --output */
    for (size_t i = 0; i < sizeof nc_hints / sizeof nc_hints[0]; i++) {
        const struct nc_hint *h = &nc_hints[i];
        if ((!h->cmd || (cmd && strcmp(h->cmd, cmd) == 0)) && strlen(h->opt) == optlen &&
            strncmp(h->opt, opt, optlen) == 0)
            return cli_usage(cmd, "unknown option '%s': %s", opt, h->hint);
    }
    return cli_usage(cmd, "unknown option '%s'", opt);
}

int cli_parse_seconds(const char *what, const char *text, double min, double max,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end || !isfinite(v) || v < min || v > max) {
        cli_error("invalid %s '%s' (expected seconds, %g to %g)", what, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_int(const char *what, const char *text, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        cli_error("invalid %s '%s' (expected %ld to %ld)", what, text, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_size(const char *what, const char *text, size_t min, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = isdigit((unsigned char)text[0]) ? strtoull(text, &end, 10) : 0;
    int bad = errno || !isdigit((unsigned char)text[0]);
    unsigned shift = 0;
    if (!bad && *end) {
        const char *units = "kmg";
        const char *u = strchr(units, tolower((unsigned char)*end));
        if (!u || !*u || (end[1] && strcasecmp(end + 1, "ib") != 0 && strcasecmp(end + 1, "b")))
            bad = 1;
        else
            shift = 10 * (unsigned)(u - units + 1);
    }
    if (!bad && v > (max >> shift))
        bad = 1;
    if (!bad)
        v <<= shift;
    if (bad || v < min || v > max) {
        cli_error("invalid %s '%s' (expected %zu to %zu bytes; K, M and G suffixes allowed)",
                  what, text, min, max);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int cli_framing(const char *cmd, const char *text, size_t max, sk_framing_t *f)
{
    char err[SK_ERRLEN];
    if (sk_framing_parse(f, text ? text : "raw", max, err) < 0) {
        cli_usage(cmd, "%s", err);
        return -1;
    }
    return 0;
}

int cli_write_stdout(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = write(STDOUT_FILENO, c, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) { /* a non-blocking stdout */
                struct pollfd pf = {.fd = STDOUT_FILENO, .events = POLLOUT};
                if (poll(&pf, 1, -1) >= 0 || errno == EINTR)
                    continue;
            }
            if (errno != EPIPE)
                cli_error("write stdout: %s", strerror(errno));
            return -1;
        }
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int cli_parse_keepalive(const char *text, sk_keepalive_t *ka)
{
    memset(ka, 0, sizeof *ka);
    if (!text)
        return 0;
    int *field[3] = {&ka->idle, &ka->interval, &ka->count};
    static const long most[3] = {32767, 32767, 127}; /* Linux's limits */
    const char *p = text;
    for (int i = 0; i < 3; i++) {
        const char *next = p + strcspn(p, ",");
        if (next > p) {
            char *end;
            errno = 0;
            long v = strtol(p, &end, 10);
            if (errno || end != next || v < 0 || v > most[i])
                break;
            *field[i] = (int)v;
        }
        if (!*next)
            return 0;
        p = next + 1;
    }
    cli_error("invalid --keepalive '%s' (expected IDLE,INTVL,CNT: seconds before the first "
              "probe and between probes, up to 32767, and probes, up to 127; e.g. 60,10,5)",
              text);
    return -1;
}

int cli_parse_port(const char *what, const char *text, int *port)
{
    uint16_t p;
    if (sk_port_parse(text, &p, NULL) < 0 || p == 0) {
        cli_error("invalid %s '%s' (expected 1 to 65535 or a service name)", what, text);
        return -1;
    }
    *port = p;
    return 0;
}
