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

static void on_stop_signal(int sig)
{
    (void)sig;
    remove_unix_file(); /* stat and unlink are async-signal-safe */
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
           "stdout, like nc -l, with connect's EOF rules: stdin EOF shuts the write side\n"
           "down, and the session ends when the client closes. Without -k the listener\n"
           "closes as soon as the client is accepted. Stop with SIGINT or SIGTERM (exit 0);\n"
           "a Unix socket file is removed on the way out.\n\n"
           "Options:\n"
           "  -k, --keep-open   accept the next client when one leaves, until stopped\n"
           "  -v, --verbose     print 'Listening on ADDR' and 'Connection received on ADDR'\n"
           "                    on stderr\n"
           "  -h, --help        show this help\n\n"
           "Examples:\n"
           "  sockit listen 5000 > upload.bin           # receive one file\n"
           "  sockit listen -k -v unix:/tmp/s.sock       # a debug peer for a Unix client\n");
}

/* Wait for and accept one client on any of the listeners. Returns the fd or -1. */
static int accept_one(const int *fds, int n, sk_addr_t *peer)
{
    struct pollfd p[SK_LISTEN_MAX];
    for (int i = 0; i < n; i++)
        p[i] = (struct pollfd){.fd = fds[i], .events = POLLIN};
    for (;;) {
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            cli_error("poll: %s", strerror(errno));
            return -1;
        }
        for (int i = 0; i < n; i++) {
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

int cmd_listen(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"keep-open", no_argument, NULL, 'k'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int keep = 0, verbose = 0, c;
    cli_getopt_reset();
    while ((c = getopt_long(argc, argv, ":kvh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k':
            keep = 1;
            break;
        case 'v':
            verbose = 1;
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
    sk_endpoint_t ep;
    char err[SK_ERRLEN];
    int fds[SK_LISTEN_MAX];
    int n = sk_endpoint_parse(&ep, argv[optind], err);
    if (n < 0) {
        cli_error("%s", err);
        return EXIT_USAGE;
    }
    if (cli_parse_only) return 0;

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

    n = sk_listen_endpoint(&ep, SOCK_STREAM, 0, fds, SK_LISTEN_MAX, err);
    if (n < 0) {
        cli_error("%s", err);
        return 1;
    }
    for (int i = 0; i < n; i++) {
        sk_settimeout(fds[i], 0);
        if (ep.family == AF_UNIX)
            remember_unix_file(fds[i]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n && verbose; i++) {
        sk_addr_t a;
        char as[SK_ADDRSTRLEN];
        if (sk_getsockname(fds[i], &a) == 0)
            fprintf(stderr, "Listening on %s\n", sk_addr_str(&a, as));
    }
    int r = 0;
    do {
        sk_addr_t peer;
        char as[SK_ADDRSTRLEN];
        int fd = accept_one(fds, n, &peer);
        if (fd < 0) {
            r = 1;
            break;
        }
        if (!keep) { /* nc -l: one client; later ones are refused (before we say so) */
            for (int i = 0; i < n; i++)
                sk_close(fds[i]);
            n = 0;
            remove_unix_file();
        }
        sk_addr_str(&peer, as);
        if (verbose)
            fprintf(stderr, "Connection received on %s\n", as);
        struct pump_opts po = {.half_close = 1, .quit_after = -1, .peer = as};
        r = sk_settimeout(fd, 0) == 0 ? cli_pump(fd, &po) : 1;
        sk_close(fd);
        if (keep && r != 0 && !stdout_broken())
            r = 0; /* one client's reset is that client's problem: take the next */
    } while (keep && r == 0);
    for (int i = 0; i < n; i++)
        sk_close(fds[i]);
    remove_unix_file();
    return r;
}
