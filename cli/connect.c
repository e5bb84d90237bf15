/* connect.c: `sockit connect`: a netcat-style client; stdin to the socket, the socket to
 * stdout (pump.c for streams, udp.c for datagrams). */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "sockit.h"

static void connect_help(void)
{
    printf("Usage: sockit connect [OPTIONS] ADDR\n"
           "       sockit connect [OPTIONS] HOST PORT\n\n"
           "Connect over TCP (or to unix:/PATH) and copy stdin to the socket and the socket\n"
           "to stdout, both at once. stdin is copied until its EOF however long it pauses;\n"
           "then the write side is shut down (the peer sees EOF, as with nc -N) and output\n"
           "goes on until the peer closes: exit 0. A peer that closes before taking all of\n"
           "stdin is an error (exit 1: 'peer closed the connection (N bytes of stdin not\n"
           "sent)'), so a transfer that exits 0 delivered every byte.\n"
           "HOST's addresses are raced, IPv6 and IPv4 alternating, a new attempt every\n"
           "250 ms (Happy Eyeballs, RFC 8305): the first to connect wins.\n\n"
           "With --udp each stdin line (newline included) is sent as one datagram and\n"
           "every reply is written to stdout as it arrives; after stdin EOF, replies are\n"
           "awaited until --linger seconds pass without one. With --frame each stdin line\n"
           "is sent as one message and each message received is printed on its own line.\n\n"
           "Options (nc's letter where nc has one):\n"
           "  -w, --timeout SEC    give up connecting after SEC seconds (default: the\n"
           "                       system's own TCP timeout) (nc -w)\n"
           "  -q, --quit SEC       after stdin EOF, exit SEC seconds later even if the\n"
           "                       peer has not closed (nc -q)\n"
           "  -i, --idle-timeout SEC  exit 1 after SEC seconds in which no byte moved\n"
           "                       (socket, stdin or stdout) (ncat -i, socat -T;\n"
           "                       default: no limit)\n"
           "      --no-half-close  do not shut down the write side on stdin EOF, for\n"
           "                       servers that close on FIN; stop with Ctrl-C or -q\n"
           "                       (the opposite of nc -N)\n"
           "  -C, --crlf           send each line's \\n as \\r\\n (nc -C)\n"
           "  -s, --source ADDR    connect from this local address (nc -s)\n"
           "  -p, --source-port PORT  connect from this local port (nc -p)\n"
           "      --keepalive[=IDLE,INTVL,CNT]  TCP keepalive probes: first after IDLE s\n"
           "                       quiet, then every INTVL s, reset after CNT unanswered\n"
           "                       (each omitted or 0: the system's value)\n"
           "      --hex-dump FILE  write every byte each way to FILE (- for stderr) in\n"
           "                       hexdump -C layout (ncat --hex-dump, socat -x)\n"
           "  -u, --udp            send datagrams (UDP, or a Unix datagram socket) (nc -u)\n"
           "      --linger SEC     --udp: after stdin EOF, wait for replies until SEC\n"
           "                       seconds pass without one (default 1)\n"
           "  -b, --broadcast      --udp: allow a broadcast destination (SO_BROADCAST);\n"
           "                       replies from any address are printed (nc -b)\n"
           "      --ttl N          --udp: hop limit of the datagrams sent, multicast or\n"
           "                       not (nc -M)\n"
           "      --frame F        frame messages as F: line, crlf, fixed:N, len16,\n"
           "                       len32, eof (stdin is one message, ended by EOF) or raw\n"
           "      --max-frame N    largest message sent or received (default 1M); a\n"
           "                       longer stdin line is reported and skipped\n"
           "  -v, --verbose        print 'Connected to ADDR' on stderr (nc -v)\n"
           "  -h, --help           show this help\n\n"
           "Examples:\n"
           "  printf 'hello\\n' | sockit connect 127.0.0.1 5000\n"
           "  sockit connect localhost:daytime\n"
           "  sockit connect -w 2 [::1]:5000 < request.bin > reply.bin\n"
           "  printf 'HEAD / HTTP/1.0\\n\\n' | sockit connect -C example.com 80\n"
           "  echo hello | sockit connect --udp 127.0.0.1:5000\n"
           "  echo who | sockit connect --udp --broadcast 255.255.255.255:5000\n"
           "  printf 'a\\nb\\n' | sockit connect --frame len32 5000\n");
}

/* --udp: the socket, connected unless the destination is a group or a broadcast, with
 * --source, --broadcast and --ttl applied. Returns the fd or -1 after reporting; *dest
 * gets the destination, *connected whether the socket is connected to it. */
static int udp_socket(const sk_endpoint_t *ep, const sk_source_t *src, int broadcast, int ttl,
                      sk_addr_t *dest, int *connected, char *as)
{
    char err[SK_ERRLEN];
    sk_addrlist_t list;
    int r = sk_resolve(&list, ep, SOCK_DGRAM, 0, err);
    if (r < 0) {
        cli_error("%s", err);
        return -1;
    }
    *dest = list.v[0].addr;
    sk_addrlist_free(&list);
    sk_addr_str(dest, as);
    int family = sk_addr_family(dest);
    const struct sockaddr_in *s4 = (const struct sockaddr_in *)&dest->ss;
    const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&dest->ss;
    int group = (family == AF_INET && IN_MULTICAST(ntohl(s4->sin_addr.s_addr))) ||
                (family == AF_INET6 && IN6_IS_ADDR_MULTICAST(&s6->sin6_addr));
    *connected = !(group || broadcast);
    if (*connected && !broadcast && ttl < 0) { /* the plain case: the library's own */
        int fd = sk_connect_endpoint_from(ep, SOCK_DGRAM, SK_TIMEOUT_NONE, src, dest, err);
        if (fd < 0)
            cli_error("%s%s", err, fd == -EACCES ? " (a broadcast address needs --broadcast)"
                                                 : "");
        if (fd >= 0)
            sk_addr_str(dest, as);
        return fd;
    }
    int fd = sk_socket(family, SOCK_DGRAM, 0);
    const char *op = "socket";
    if (fd >= 0) {
        op = "setsockopt";
        r = broadcast ? sk_setsockopt_int(fd, SOL_SOCKET, SO_BROADCAST, 1) : 0;
        if (r == 0 && ttl >= 0 && family == AF_INET)
            r = sk_setsockopt_int(fd, IPPROTO_IP, group ? IP_MULTICAST_TTL : IP_TTL, ttl);
        if (r == 0 && ttl >= 0 && family == AF_INET6)
            r = sk_setsockopt_int(fd, IPPROTO_IPV6,
                                  group ? IPV6_MULTICAST_HOPS : IPV6_UNICAST_HOPS, ttl);
        if (r == 0 && (r = sk_source_bind(src, fd, family)) < 0)
            op = "bind";
        if (r == 0 && *connected && (r = sk_connect(fd, dest)) < 0)
            op = "connect";
    }
    if (fd < 0 || r < 0) {
        int code = fd < 0 ? fd : r;
        cli_error("%s %s: %s%s", op, as,
                  code == SK_ENOADDR ? "no source address of this family" : sk_strerror(code),
                  code == -EACCES ? " (a broadcast address needs --broadcast)" : "");
        if (fd >= 0)
            sk_close(fd);
        return -1;
    }
    return fd;
}

int cmd_connect(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_NC_LONGOPTS,
        {"help", no_argument, NULL, 'h'},
        {"linger", required_argument, NULL, 'L'},
        {"frame", required_argument, NULL, 'F'},
        {"max-frame", required_argument, NULL, 'X'},
        {"source", required_argument, NULL, 's'},
        {"source-port", required_argument, NULL, 'p'},
        {"broadcast", no_argument, NULL, 'b'},
        {"ttl", required_argument, NULL, 'T'},
        {NULL, 0, NULL, 0},
    };
    struct nc_opts o;
    cli_nc_init(&o);
    int linger_set = 0, broadcast = 0, src_port = 0;
    long ttl = -1;
    double linger = 1;
    const char *frame = NULL, *src_host = NULL;
    size_t max_frame = 0;
    sk_framing_t framing;

    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":" CLI_NC_SHORTOPTS "hs:p:b", longopts, NULL)) != -1) {
        int taken = cli_nc_option(&o, c, optarg);
        if (taken < 0)
            return EXIT_USAGE;
        if (taken)
            continue;
        switch (c) {
        case 'L':
            if (cli_parse_seconds("linger", optarg, 0, 1e6, &linger) < 0)
                return EXIT_USAGE;
            linger_set = 1;
            break;
        case 'F':
            frame = optarg;
            break;
        case 'X':
            if (cli_parse_size("--max-frame", optarg, 1, SK_FRAME_MAX_LIMIT, &max_frame) < 0)
                return EXIT_USAGE;
            break;
        case 's':
            src_host = optarg;
            break;
        case 'p':
            if (cli_parse_port("source port", optarg, &src_port) < 0)
                return EXIT_USAGE;
            break;
        case 'b':
            broadcast = 1;
            break;
        case 'T':
            if (cli_parse_int("ttl", optarg, 0, 255, &ttl) < 0)
                return EXIT_USAGE;
            break;
        case 'h':
            connect_help();
            return 0;
        default:
            return cli_bad_option("connect", c, argv);
        }
    }
    int nargs = argc - optind;
    if (nargs < 1)
        return cli_usage("connect", "missing ADDR");
    if (nargs > 2)
        return cli_usage("connect", "unexpected argument '%s'", argv[optind + 2]);
    if (strstr(argv[optind], "://"))
        return cli_usage("connect", "'%s' is a URL: URLs go to 'sockit get URL'; connect "
                                    "takes HOST PORT or HOST:PORT", argv[optind]);
    if (max_frame && !frame)
        return cli_usage("connect", "--max-frame needs --frame%s",
                         o.udp ? " (and --frame does not apply to --udp)" : "");
    if (o.udp && (o.po.quit_after >= 0 || !o.po.half_close))
        return cli_usage("connect", "-q and --no-half-close apply to streams; --udp has "
                                    "--linger");
    if (cli_framing("connect", frame, max_frame, &framing) < 0)
        return EXIT_USAGE;
    o.po.framing = &framing;
    if (cli_nc_check("connect", &o))
        return EXIT_USAGE;
    if (o.udp && frame)
        return cli_usage("connect", "--frame does not apply to --udp: a datagram is already "
                                    "one message");
    if (!o.udp && linger_set)
        return cli_usage("connect", "--linger applies only to --udp");
    if (o.udp && o.wait >= 0)
        return cli_usage("connect", "-w bounds connecting, and --udp does not connect: "
                                    "--linger bounds the wait for replies, -i the quiet");
    if (!o.udp && (broadcast || ttl >= 0))
        return cli_usage("connect", "--broadcast and --ttl apply only to --udp");
    if (framing.kind == SK_FRAME_EOF && !o.po.half_close)
        return cli_usage("connect", "--frame eof needs the half-close that ends the message");

    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    int r = nargs == 1 ? sk_endpoint_parse(&ep, argv[optind], err)
                       : sk_endpoint_from_hostport(&ep, argv[optind], argv[optind + 1], err);
    if (r < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (ep.family != AF_UNIX && ep.port == 0) {
        cli_error("invalid port '0' (expected 1 to 65535 or a service name)");
        return EXIT_USAGE;
    }
    if (ep.family == AF_UNIX && (src_host || src_port || o.keepalive || broadcast || ttl >= 0))
        return cli_usage("connect", "--source, --source-port, --keepalive, --broadcast and "
                                    "--ttl apply to TCP and UDP, not to unix: addresses");
    if (cli_parse_only)
        return 0;
    sk_source_t src;
    if ((src_host || src_port) && sk_source_init(&src, src_host, src_port, err) < 0) {
        cli_error("%s", err);
        return 1;
    }
    const sk_source_t *srcp = src_host || src_port ? &src : NULL;
    if (cli_nc_start(&o) < 0)
        return 1;

    sk_addr_t peer;
    char as[SK_ADDRSTRLEN];
    int connected = 1, fd;
    if (o.udp)
        fd = udp_socket(&ep, srcp, broadcast, (int)ttl, &peer, &connected, as);
    else if ((fd = sk_connect_endpoint_from(&ep, SOCK_STREAM, o.wait, srcp, &peer, err)) < 0)
        cli_error("%s", err);
    if (fd < 0) {
        cli_hexdump_close();
        return 1;
    }
    sk_addr_str(&peer, as);
    if (o.verbose)
        fprintf(stderr, "Connected to %s%s\n", as, o.udp ? " (udp)" : "");
    o.po.peer = as;
    if ((r = sk_settimeout(fd, 0)) < 0) {
        cli_error("fcntl %s: %s", as, sk_strerror(r));
        r = 1;
    } else if (o.udp) {
        struct udp_opts uo = {.peer = as, .dest = connected ? NULL : &peer,
                              .verbose = o.verbose, .crlf = o.po.crlf, .linger = linger,
                              .quit_after = -1, .idle_timeout = o.po.idle_timeout};
        r = cli_udp_pump(&fd, 1, &uo);
    } else {
        r = cli_nc_socket(&o, fd, as);
        if (r == 0)
            r = cli_pump(fd, &o.po);
    }
    sk_close(fd);
    cli_hexdump_close();
    return r;
}
