/* ncopts.c: the options `sockit connect` and `sockit listen` share (cli.h, struct nc_opts). */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "sockit.h"

void cli_nc_init(struct nc_opts *o)
{
    memset(o, 0, sizeof *o);
    o->po.half_close = 1;
    o->po.quit_after = -1;
    o->wait = SK_TIMEOUT_NONE;
}

int cli_nc_option(struct nc_opts *o, int c, const char *arg)
{
    switch (c) {
    case 'w':
        return cli_parse_seconds("timeout", arg, 0.001, 1e6, &o->wait) < 0 ? -1 : 1;
    case 'q':
        return cli_parse_seconds("quit delay", arg, 0, 1e6, &o->po.quit_after) < 0 ? -1 : 1;
    case 'i':
        return cli_parse_seconds("idle timeout", arg, 0.001, 1e6, &o->po.idle_timeout) < 0
                   ? -1
                   : 1;
    case 'H':
        o->po.half_close = 0;
        return 1;
    case 'C':
        o->po.crlf = 1;
        return 1;
    case 'u':
        o->udp = 1;
        return 1;
    case 'v':
        o->verbose = 1;
        return 1;
    case 'x' + 256:
        o->hexdump = arg;
        return 1;
    case 'K' + 256:
        o->keepalive = 1;
        return cli_parse_keepalive(arg, &o->ka) < 0 ? -1 : 1;
    default:
        return 0;
    }
}

int cli_nc_check(const char *cmd, const struct nc_opts *o)
{
    if (o->udp && !o->po.half_close)
        return cli_usage(cmd, "--no-half-close applies to streams: a datagram has no "
                              "write side to shut down");
    if (o->udp && o->keepalive)
        return cli_usage(cmd, "--keepalive applies to TCP: a datagram socket has no "
                              "connection to keep alive");
    if (o->po.crlf && o->po.framing && o->po.framing->kind != SK_FRAME_RAW)
        return cli_usage(cmd, "-C applies to byte streams: with --frame, use --frame crlf");
    return 0;
}

int cli_nc_start(const struct nc_opts *o)
{
    return o->hexdump ? cli_hexdump_open(o->hexdump) : 0;
}

int cli_nc_socket(const struct nc_opts *o, int fd, const char *peer)
{
    if (!o->keepalive)
        return 0;
    sk_addr_t a;
    if (sk_getsockname(fd, &a) < 0 ||
        (sk_addr_family(&a) != AF_INET && sk_addr_family(&a) != AF_INET6)) {
        cli_error("--keepalive applies to TCP, not %s", peer);
        return 1;
    }
    int r = sk_set_keepalive(fd, &o->ka);
    if (r < 0) {
        cli_error("setsockopt %s: keepalive: %s", peer, sk_strerror(r));
        return 1;
    }
    return 0;
}
