/* listen.c: `sockit listen [-k] ADDR`: nc -l. Accept a client and copy stdin/stdout to
 * it with connect's EOF rules; -k accepts the next client when one leaves. */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "sockit.h"

/* The Unix socket file we created, removed on every way out (a signal included). */
static char unix_path[SK_UNIXPATHMAX + 1];
static dev_t unix_dev;
static ino_t unix_ino;

static void remove_unix_file(void)
{
    struct stat st; /* only if the file at the path is still the one we made */
    if (unix_path[0] && stat(unix_path, &st) == 0 && st.st_dev == unix_dev &&
        st.st_ino == unix_ino)
        unlink(unix_path);
    unix_path[0] = 0;
}

/* A session is in progress: 1 while it holds bytes a stop would lose, 2 while only its
 * client's side is open (the pump keeps it; see pump_opts.busy), on session_fd. */
static volatile sig_atomic_t in_session;
static volatile sig_atomic_t session_fd = -1;

/* 1 when the session's client has finished (its EOF is the next thing to read) and no
 * byte is held: a signal that comes before the pump saw that EOF loses nothing. recv is
 * async-signal-safe. */
static int session_finished(void)
{
    char c;
    return in_session == 2 && session_fd >= 0 &&
           recv(session_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* Stopped while waiting for a client, or with a session whose client has closed and whose
 * bytes are all delivered: exit 0. Stopped in the middle of a transfer: what was on its
 * way is lost, so exit 1 and say so (no byte is lost with status 0). */
static void on_stop_signal(int sig)
{
    (void)sig;
    remove_unix_file(); /* stat and unlink are async-signal-safe */
    if (in_session && !session_finished()) {
        static const char msg[] = "sockit: listen: stopped in the middle of a session\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(1);
    }
    _exit(0);
}

static void remember_unix_file(int fd)
{
    sk_addr_t a;
    struct stat st;
    if (sk_getsockname(fd, &a) < 0 || sk_addr_family(&a) != AF_UNIX ||
        sk_addr_host(&a, unix_path, sizeof unix_path) < 0 || unix_path[0] == '@' ||
        stat(unix_path, &st) < 0) {
        unix_path[0] = 0;
        return;
    }
    unix_dev = st.st_dev;
    unix_ino = st.st_ino;
}

static void listen_help(void)
{
    printf("Usage: sockit listen [OPTIONS] ADDR\n\n"
           "Listen on ADDR (see 'sockit --help'; a bare PORT is localhost:PORT, :PORT is\n"
           "every interface), accept one client and copy stdin to it and its data to\n"
           "stdout, like nc -l, with connect's EOF rules: stdin is copied until its EOF\n"
           "however long it pauses, then the write side is shut down, and the session ends\n"
           "when the client closes. Without -k the listener closes as soon as the client is\n"
           "accepted. Stop with SIGINT or SIGTERM: exit 0 while waiting for a client, once\n"
           "the client has closed and every byte is delivered, and for --udp; 1 in the\n"
           "middle of a transfer, which it cuts short. A Unix socket file is removed on the\n"
           "way out.\n\n"
           "With --udp the first datagram's sender is the peer (nc -u -l): datagrams are\n"
           "printed as they come, each stdin line goes back to the peer as one datagram\n"
           "(-k: to whoever sent the latest); after stdin EOF it runs until stopped or -q.\n\n"
           "Options (nc's letter where nc has one):\n"
           "  -k, --keep-open   accept the next client when one leaves, until stopped (nc -k)\n"
           "  -w, --timeout SEC  exit 1 if no client (--udp: no datagram) comes within SEC\n"
           "                    seconds\n"
           "  -q, --quit SEC    after stdin EOF, end the session SEC seconds later even if\n"
           "                    the client has not closed (nc -q)\n"
           "  -i, --idle-timeout SEC  end a session (exit 1) after SEC seconds in which no\n"
           "                    byte moved (socket, stdin or stdout) (ncat -i)\n"
           "      --no-half-close  do not shut down the write side on stdin EOF\n"
           "  -C, --crlf        send each line's \\n as \\r\\n (nc -C)\n"
           "      --keepalive[=IDLE,INTVL,CNT]  TCP keepalive probes on the client's\n"
           "                    connection (as for connect)\n"
           "      --hex-dump FILE  write every byte each way to FILE (- for stderr) in\n"
           "                    hexdump -C layout (ncat --hex-dump)\n"
           "  -u, --udp         listen for datagrams (nc -u -l)\n"
           "  -v, --verbose     print 'Listening on ADDR' and 'Connection received on ADDR'\n"
           "                    on stderr\n"
           "  -h, --help        show this help\n\n"
           "Examples:\n"
           "  sockit listen 5000 > upload.bin           # receive one file\n"
           "  sockit listen -k -v unix:/tmp/s.sock       # a debug peer for a Unix client\n"
           "  sockit listen -u -v 127.0.0.1:5353         # print the datagrams sent there\n");
}

/* Wait for and accept one client on any of the listeners, at most `wait` seconds
 * (SK_TIMEOUT_NONE: for ever). Returns the fd, or -1 after reporting. */
static int accept_one(const int *fds, int n, double wait, sk_addr_t *peer)
{
    struct pollfd p[SK_LISTEN_MAX];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    int64_t t0 = cli_now_ns();
    for (;;) {
        int timeout = -1;
        if (wait > 0) {
            double left = wait - (double)(cli_now_ns() - t0) / 1e9;
            if (left <= 0) {
                cli_error("listen: no client within %g s (-w)", wait);
                return -1;
            }
            timeout = (int)(left * 1000) + 1;
        }
        int r = poll(p, (nfds_t)n, timeout);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n && r > 0; i++) {
            if (!p[i].revents)
                continue;
            int fd = sk_accept(fds[i], peer);
            if (fd >= 0) {
                char as[SK_ADDRSTRLEN];
                if (sk_addr_family(peer) == AF_UNIX && sk_addr_host(peer, as, sizeof as) == 0 &&
                    !as[0])
                    sk_getsockname(fds[i], peer); /* unnamed client: name the listener */
                return fd;
            }
            if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM ||
                fd == -EBADF || fd == -EINVAL) {
                cli_error("accept: %s", sk_strerror(fd));
                return -1;
            } /* else the one client's connection failed (reset, network down): wait on */
        }
    }
}

/* 1 when nobody reads stdout any more (a pipe whose reader has gone). */
static int stdout_broken(void)
{
    struct pollfd p = {.fd = 1, .events = POLLOUT};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLNVAL));
}

/* The stream listener: accept, pump, and with -k again. Returns the exit status. */
static int serve_streams(int *fds, int n, int keep, struct nc_opts *o)
{
    int r = 0;
    do {
        sk_addr_t peer;
        char as[SK_ADDRSTRLEN], shown[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
        int fd = accept_one(fds, n, o->wait, &peer);
        if (fd < 0)
            return 1;
        session_fd = fd; /* from now a stop cuts a session short (before the log line) */
        in_session = 1;
        if (!keep) { /* nc -l: one client; later ones are refused (before we say so) */
            for (int i = 0; i < n; i++)
                sk_close(fds[i]);
            n = 0;
            remove_unix_file();
        }
        sk_addr_str(&peer, as);
        if (o->verbose) /* a Unix client chose its own name: print it escaped */
            fprintf(stderr, "Connection received on %s\n",
                    (sk_escape(shown, sizeof shown, as, strlen(as)), shown));
        o->po.peer = as;
        r = sk_settimeout(fd, 0) == 0 ? cli_nc_socket(o, fd, as) : 1;
        o->po.busy = &in_session;
        if (r == 0)
            r = cli_pump(fd, &o->po);
        in_session = 0;
        session_fd = -1;
        sk_close(fd);
        if (keep && r != 0 && !stdout_broken())
            r = 0; /* one client's failure is that client's problem: take the next */
    } while (keep && r == 0);
    for (int i = 0; i < n; i++)
        sk_close(fds[i]);
    return r;
}

int cmd_listen(int argc, char **argv)
{
    static const struct option longopts[] = {
        CLI_NC_LONGOPTS,
        {"keep-open", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct nc_opts o;
    cli_nc_init(&o);
    int keep = 0, c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":" CLI_NC_SHORTOPTS "kh", longopts, NULL)) != -1) {
        int taken = cli_nc_option(&o, c, optarg);
        if (taken < 0)
            return EXIT_USAGE;
        if (taken)
            continue;
        switch (c) {
        case 'k':
            keep = 1;
            break;
        case 'h':
            listen_help();
            return 0;
        default:
            return cli_bad_option("listen", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage("listen", "missing ADDR");
    if (optind + 1 < argc)
        return cli_usage("listen", "unexpected argument '%s'", argv[optind + 1]);
    if (cli_nc_check("listen", &o))
        return EXIT_USAGE;
    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    int fds[SK_LISTEN_MAX];
    int n = sk_endpoint_parse(&ep, argv[optind], err);
    if (n < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (ep.family == AF_UNIX && o.keepalive)
        return cli_usage("listen", "--keepalive applies to TCP, not to unix: addresses");
    if (cli_parse_only)
        return 0;
    if (cli_nc_start(&o) < 0)
        return 1;

    /* The handler removes our socket file: keep it out until the file is recorded, so
     * that a signal can neither leave the file behind nor see it half written. */
    sigset_t stops, old;
    sigemptyset(&stops);
    sigaddset(&stops, SIGTERM);
    sigaddset(&stops, SIGINT);
    sigprocmask(SIG_BLOCK, &stops, &old);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    n = sk_listen_endpoint(&ep, o.udp ? SOCK_DGRAM : SOCK_STREAM, 0, fds, SK_LISTEN_MAX, err);
    if (n < 0) {
        cli_error("%s", err);
        cli_hexdump_close();
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sk_settimeout(fds[i], 0);
        if (ep.family == AF_UNIX)
            remember_unix_file(fds[i]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n && o.verbose; i++) {
        sk_addr_t a;
        char as[SK_ADDRSTRLEN];
        if (sk_getsockname(fds[i], &a) == 0)
            fprintf(stderr, "Listening on %s%s\n", sk_addr_str(&a, as), o.udp ? " (udp)" : "");
    }
    int r;
    if (o.udp) {
        struct udp_opts uo = {.peer = argv[optind], .listen = 1, .keep = keep,
                              .verbose = o.verbose, .crlf = o.po.crlf,
                              .quit_after = o.po.quit_after, .idle_timeout = o.po.idle_timeout,
                              .wait = o.wait};
        r = cli_udp_pump(fds, (size_t)n, &uo);
        for (int i = 0; i < n; i++)
            sk_close(fds[i]);
    } else {
        r = serve_streams(fds, n, keep, &o);
    }
    remove_unix_file();
    cli_hexdump_close();
    return r;
}
