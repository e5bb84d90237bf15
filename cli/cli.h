/*
 * cli.h: what the sockit subcommands share: error and usage reporting in nc's style,
 * range-checked option values, and the stdin/stdout <-> socket pump.
 *
 * Exit statuses: 0 success, 1 runtime failure, 2 usage error (EXIT_USAGE).
 */
#ifndef SOCKIT_CLI_H
#define SOCKIT_CLI_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sockit/addr.h"
#include "sockit/frame.h"
#include "sockit/sock.h"

#define EXIT_USAGE 2

/* One subcommand: its name, entry point, one-line summary and usage synopsis. */
struct cli_cmd {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
    const char *synopsis; /* after "sockit NAME " */
};

/*
 * Parse-only mode, for fuzz/fuzz_options.c (0 in the sockit tool): when set, every
 * cmd_*() and cli_main() return as soon as the options and arguments are parsed and
 * checked (addresses and URLs included, without name lookups), with 0 or the usage
 * error's status, before any socket, lookup, signal handler, thread or output other than
 * --help and error messages. Defined in cmds.c.
 */
extern int cli_parse_only;

/* Run `sockit ARGS...` (argv[0] is the program name): a subcommand, --help or --version.
 * Returns the exit status. The tool's main() is this after its process setup (cmds.c). */
int cli_main(int argc, char **argv);

/* Reset getopt_long() for a fresh parse of a new argv (optind = 0, which glibc and musl
 * take as "reinitialize", dropping any state left by an earlier parse) and silence its
 * own messages (opterr = 0: every command reports through cli_bad_option()). */
void cli_getopt_reset(void);

/* The CLI's one clock: CLOCK_MONOTONIC, in nanoseconds and in milliseconds. Every
 * deadline, timeout and rate of the commands is measured with these. */
int64_t cli_now_ns(void);
int64_t cli_now_ms(void);

/* Print "sockit: MESSAGE" to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Report a usage error for subcommand `cmd`: "sockit: MESSAGE", the synopsis, and a
 * pointer to --help, on stderr. Returns EXIT_USAGE for `return cli_usage(...)`.
 */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Report the option getopt_long() rejected; c is what it returned (':' for a missing
 * value, '?' otherwise; the optstring must start with ':'). Returns EXIT_USAGE. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Parse seconds ("1", "0.25"); min <= value <= max. Returns 0, or -1 after printing
 * "sockit: invalid WHAT 'TEXT'". */
int cli_parse_seconds(const char *what, const char *text, double min, double max,
                      double *out);

/* Parse an integer in [min, max]. Returns 0, or -1 after printing "invalid WHAT 'TEXT'". */
int cli_parse_int(const char *what, const char *text, long min, long max, long *out);

/* Write all of p[0..n) to stdout (waiting if it is non-blocking). Returns 0, or -1: a
 * closed stdout (EPIPE) quietly, as a program killed by SIGPIPE would, else reported. */
int cli_write_stdout(const void *p, size_t n);

/* Parse a byte count: digits with an optional K, M or G suffix (KiB, MiB, GiB; "KiB" and
 * "KB" spellings too); min <= value <= max. Returns 0, or -1 after printing the error. */
int cli_parse_size(const char *what, const char *text, size_t min, size_t max, size_t *out);

/* Parse --frame TEXT (NULL: raw) with --max-frame max (0: the default) for subcommand cmd.
 * Returns 0, or -1 after a usage message (exit EXIT_USAGE). */
int cli_framing(const char *cmd, const char *text, size_t max, sk_framing_t *f);

/* Options of the full-duplex pump between stdin/stdout and a connected socket. */
struct pump_opts {
    int half_close;              /* on stdin EOF: shutdown(SHUT_WR) the socket */
    double quit_after;           /* -q: exit this long after stdin EOF (< 0: never) */
    double idle_timeout;         /* -i: exit 1 after this long with no byte either way on
                                    the socket (<= 0: never) */
    int crlf;                    /* -C: a "\n" from stdin goes out as "\r\n" */
    const sk_framing_t *framing; /* NULL or raw: bytes; else each stdin line is a frame and
                                    each frame received is printed on its own line */
    const char *peer;            /* the peer's address, for messages and the hex dump */
    volatile sig_atomic_t *busy; /* NULL, or kept for a signal handler to read: 1 while a
                                    queue holds bytes, else 2 while the peer's side is
                                    open (bytes may still come: the handler can peek for
                                    an EOF already there), else 0 */
};

/*
 * Copy stdin to the socket and the socket to stdout until both are done (nc's
 * readwrite): one poll loop, bounded queues, backpressure both ways. stdin is copied until
 * its EOF however long it pauses; a peer that closed before taking it all is an error.
 * The rules in full are at the top of pump.c. Returns the exit status (0 when everything
 * was delivered both ways). Does not close sock.
 */
int cli_pump(int sock, const struct pump_opts *o);

/* Options of the datagram pump (udp.c). */
struct udp_opts {
    const char *peer;      /* connect: the destination's address text */
    const sk_addr_t *dest; /* unconnected socket (broadcast, multicast): where datagrams go;
                              NULL: the socket is connected, or (listen) the peer is learnt */
    int listen;            /* the peer is whoever sends the first datagram */
    int keep;              /* listen -k: reply to whoever sent the latest datagram */
    int verbose;           /* name each new sender on stderr */
    int crlf;              /* -C: a line's "\n" goes out as "\r\n" */
    double linger;         /* connect: after stdin EOF, exit once this long passes without
                              a datagram */
    double quit_after;     /* listen: exit this long after stdin EOF (< 0: never) */
    double wait;           /* listen: exit 1 when no datagram comes this soon (<= 0: never) */
    double idle_timeout;   /* exit 1 after this long without a datagram either way (<= 0:
                              never) */
};

/*
 * The datagram client and listener: each stdin line (newline included) is one datagram;
 * datagrams received go to stdout as they are. socks[0..n) are the sockets to read (a
 * listener may have several; a client has one). Returns the exit status.
 */
int cli_udp_pump(const int *socks, size_t n, const struct udp_opts *o);

/*
 * --hex-dump FILE (hexdump.c): every byte each way, hexdump -C layout under a header per
 * chunk ("> PEER: N bytes sent at offset OFF"). open() takes "-" for stderr; returns 0, or
 * -1 after printing why. cli_hexdump() is thread-safe and a no-op while the dump is off;
 * `sent` is 1 for bytes to the peer, 0 for bytes from it; offset is the chunk's place in
 * that direction's stream.
 */
int cli_hexdump_open(const char *path);
int cli_hexdump_on(void);
void cli_hexdump(int sent, const char *peer, unsigned long long offset, const void *data,
                 size_t n);
void cli_hexdump_close(void);

/* Parse --keepalive's optional value: NULL (SO_KEEPALIVE with the system's timers) or
 * "IDLE[,INTVL[,CNT]]" in seconds and probes, each empty or 0 for the system's value.
 * Returns 0, or -1 after printing the error. */
int cli_parse_keepalive(const char *text, sk_keepalive_t *ka);

/* Parse a port for -p/--source-port and the like: 1-65535 or a service name. Port 0 is
 * refused everywhere a client names a port ("invalid port '0'"). Returns 0, or -1 after
 * printing the error. */
int cli_parse_port(const char *what, const char *text, int *port);

/*
 * The options connect and listen share, spelt as nc, ncat and socat users type them
 * (ncopts.c): -w SEC, -q SEC, -i SEC, --no-half-close, -C, -u, --hex-dump FILE,
 * --keepalive[=...], -v. CLI_NC_LONGOPTS goes into each command's getopt_long() table
 * and CLI_NC_SHORTOPTS into its optstring; cli_nc_option() takes what getopt_long()
 * returned.
 */
struct nc_opts {
    struct pump_opts po; /* -q, -i, --no-half-close, -C */
    double wait;         /* -w: connect: the connect timeout; listen: how long to wait for
                            a client (SK_TIMEOUT_NONE: for ever) */
    const char *hexdump; /* --hex-dump FILE */
    int keepalive;       /* --keepalive given */
    sk_keepalive_t ka;
    int udp;
    int verbose;
};

#define CLI_NC_SHORTOPTS "w:q:i:Cuv"
#define CLI_NC_LONGOPTS                                                                    \
    {"timeout", required_argument, NULL, 'w'}, {"quit", required_argument, NULL, 'q'},       \
        {"idle-timeout", required_argument, NULL, 'i'},                                      \
        {"no-half-close", no_argument, NULL, 'H'}, {"crlf", no_argument, NULL, 'C'},         \
        {"udp", no_argument, NULL, 'u'}, {"hex-dump", required_argument, NULL, 'x' + 256},  \
        {"keepalive", optional_argument, NULL, 'K' + 256}, {"verbose", no_argument, NULL, 'v'}

/* Defaults: half-close on, no -q, no -w, no idle limit. */
void cli_nc_init(struct nc_opts *o);

/* Take option c (with optarg) if it is one of the shared ones. Returns 1 when taken, 0
 * when c is not one of them, -1 after a usage error was printed (exit EXIT_USAGE). */
int cli_nc_option(struct nc_opts *o, int c, const char *arg);

/* The checks between the shared options, once all are parsed (cmd: "connect", "listen").
 * Returns 0, or EXIT_USAGE after printing why. */
int cli_nc_check(const char *cmd, const struct nc_opts *o);

/* Open the --hex-dump file, if any. Returns 0, or -1 after printing why. */
int cli_nc_start(const struct nc_opts *o);

/* Apply --keepalive to a connected TCP socket. Returns 0, or 1 after printing why. */
int cli_nc_socket(const struct nc_opts *o, int fd, const char *peer);

/* Subcommands. */
int cmd_serve(int argc, char **argv);
int cmd_connect(int argc, char **argv);
int cmd_resolve(int argc, char **argv);
int cmd_hostname(int argc, char **argv);
int cmd_listen(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_probe(int argc, char **argv);
int cmd_bench(int argc, char **argv);

/* The subcommand table, NULL-name terminated (cmds.c). */
extern const struct cli_cmd cli_cmds[];

/* Look a subcommand up by name; NULL if unknown. */
const struct cli_cmd *cli_find(const char *name);

#endif
