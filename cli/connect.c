/* connect.c: `sockit connect`: a netcat-style client; stdin to the socket, the socket to
 * stdout. */
#include <getopt.h>
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
           "to stdout, both at once. On stdin EOF the write side is shut down (the peer\n"
           "sees EOF, as with nc -N) and output goes on until the peer closes; then exit 0.\n"
           "HOST's addresses are raced, IPv6 and IPv4 alternating, a new attempt every\n"
           "250 ms (Happy Eyeballs, RFC 8305): the first to connect wins.\n\n"
           "With --udp each stdin line (newline included) is sent as one datagram and\n"
           "every reply is written to stdout as it arrives; after stdin EOF, replies are\n"
           "awaited until --linger seconds pass without one. With --frame each stdin line\n"
           "is sent as one message and each message received is printed on its own line.\n\n"
           "Options:\n"
           "  -w, --timeout SEC    give up connecting after SEC seconds (default: the\n"
           "                       system's own TCP timeout)\n"
           "  -q, --quit SEC       after stdin EOF, exit SEC seconds later even if the\n"
           "                       peer has not closed (as nc -q)\n"
           "      --no-half-close  do not shut down the write side on stdin EOF, for\n"
           "                       servers that close on FIN; stop with Ctrl-C or -q\n"
           "  -u, --udp            send datagrams (UDP, or a Unix datagram socket)\n"
           "      --linger SEC     --udp: after stdin EOF, wait for replies until SEC\n"
           "                       seconds pass without one (default 1)\n"
           "      --frame F        frame messages as F: line, crlf, fixed:N, len16,\n"
           "                       len32, eof (stdin is one message, ended by EOF) or raw\n"
           "      --max-frame N    largest message sent or received (default 1M)\n"
           "  -v, --verbose        print 'Connected to ADDR' on stderr\n"
           "  -h, --help           show this help\n\n"
           "Examples:\n"
           "  printf 'hello\\n' | sockit connect 127.0.0.1 5000\n"
           "  sockit connect localhost:daytime\n"
           "  sockit connect -w 2 [::1]:5000 < request.bin > reply.bin\n"
           "  echo hello | sockit connect --udp 127.0.0.1:5000\n"
           "  printf 'a\\nb\\n' | sockit connect --frame len32 5000\n");
}

int cmd_connect(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"timeout", required_argument, NULL, 'w'}, {"quit", required_argument, NULL, 'q'},
        {"no-half-close", no_argument, NULL, 'H'}, {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},          {"udp", no_argument, NULL, 'u'},
        {"linger", required_argument, NULL, 'L'},  {"frame", required_argument, NULL, 'F'},
        {"max-frame", required_argument, NULL, 'X'}, {NULL, 0, NULL, 0},
    };
    double timeout = SK_TIMEOUT_NONE;
    struct pump_opts po = {.half_close = 1, .quit_after = -1, .peer = NULL};
    int verbose = 0, udp = 0, linger_set = 0;
    double linger = 1;
    const char *frame = NULL;
    size_t max_frame = 0;
    sk_framing_t framing;

    cli_getopt_reset();
    int c;
    while ((c = getopt_long(argc, argv, ":w:q:vhu", longopts, NULL)) != -1) {
        switch (c) {
        case 'w':
            if (cli_parse_seconds("timeout", optarg, 0.001, 1e6, &timeout) < 0)
                return EXIT_USAGE;
            break;
        case 'q':
            if (cli_parse_seconds("quit delay", optarg, 0, 1e6, &po.quit_after) < 0)
                return EXIT_USAGE;
            break;
        case 'H':
            po.half_close = 0;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'u':
            udp = 1;
            break;
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
    if (max_frame && !frame)
        return cli_usage("connect", "--max-frame needs --frame");
    if (cli_framing("connect", frame, max_frame, &framing) < 0)
        return EXIT_USAGE;
    if (udp && frame)
        return cli_usage("connect", "--frame does not apply to --udp: a datagram is already "
                                    "one message");
    if (udp && (po.quit_after >= 0 || !po.half_close))
        return cli_usage("connect", "-q and --no-half-close apply to streams; --udp has "
                                    "--linger");
    if (!udp && linger_set)
        return cli_usage("connect", "--linger applies only to --udp");
    if (framing.kind == SK_FRAME_EOF && !po.half_close)
        return cli_usage("connect", "--frame eof needs the half-close that ends the message");

    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    int r = nargs == 1 ? sk_endpoint_parse(&ep, argv[optind], err)
                       : sk_endpoint_from_hostport(&ep, argv[optind], argv[optind + 1], err);
    if (r < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (cli_parse_only) return 0;
    sk_addr_t peer;
    int fd = sk_connect_endpoint(&ep, udp ? SOCK_DGRAM : SOCK_STREAM, timeout, &peer, err);
    if (fd < 0) {
        cli_error("%s", err);
        return 1;
    }
    char as[SK_ADDRSTRLEN];
    sk_addr_str(&peer, as);
    if (verbose)
        fprintf(stderr, "Connected to %s\n", as);
    po.peer = as;
    if ((r = sk_settimeout(fd, 0)) < 0) {
        cli_error("fcntl %s: %s", as, sk_strerror(r));
        sk_close(fd);
        return 1;
    }
    if (udp)
        r = cli_udp_client(fd, as, linger);
    else if (framing.kind != SK_FRAME_RAW)
        r = cli_frame_pump(fd, &framing, &po);
    else
        r = cli_pump(fd, &po);
    sk_close(fd);
    return r;
}
