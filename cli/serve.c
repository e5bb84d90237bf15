/* serve.c: `sockit serve SERVICE`: run a built-in service until SIGTERM or SIGINT. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "cli.h"
#include "sockit.h"

/* Most -l options, and most --join options. */
#define MAX_LISTEN_ARGS 32
#define MAX_JOIN_ARGS 32
/* A second stop signal this soon after the first is the same stop: GNU timeout signals
 * the process and then its whole process group, so serve gets SIGTERM twice at once. */
#define SAME_STOP_MS 500
/* --max-buffered's largest value: 1 TiB. */
#define MAX_BUFFERED_LIMIT ((size_t)1 << 40)

/*
 * Signals. SIGTERM, SIGINT and SIGUSR1 stay blocked in every thread and are taken by one
 * thread of their own with sigwaitinfo(), not by a handler: nothing runs in signal
 * context, and a signal sent the instant "Listening on" appears waits, blocked, until
 * that thread takes it. (An asynchronous handler was lost, 1 run in about 700 under
 * TSan: the signal was consumed and the handler never ran.)
 *   first SIGTERM/SIGINT: stop cleanly (drain, exit 0); another within SAME_STOP_MS:
 *   the same stop; a later one: leave at once (exit 1), removing the Unix socket files
 *   the server created first; SIGUSR1: log the totals.
 */
static struct {
    sigset_t set;   /* the signals the thread takes */
    sigset_t saved; /* the caller's mask, restored when serve returns */
    sk_server_t *srv;
    atomic_int quit; /* set by serve before it wakes the thread for the last time */
    pthread_t th;
} sig;

static void *signal_main(void *arg)
{
    (void)arg;
    int64_t first = -1; /* when the first stop signal came */
    for (;;) {
        siginfo_t si;
        int n = sigwaitinfo(&sig.set, &si);
        if (atomic_load(&sig.quit))
            return NULL;
        if (n == SIGUSR1) {
            sk_server_report(sig.srv);
        } else if (n == SIGTERM || n == SIGINT) {
            int64_t now = cli_now_ms();
            if (first < 0) {
                first = now;
                sk_server_stop(sig.srv);
            } else if (now - first >= SAME_STOP_MS) {
                /* Leave now, but not the socket files behind: a later server could not
                 * tell them from a live one's. (The server is not freed before this
                 * thread is joined, so srv is still valid.) */
                sk_server_remove_files(sig.srv);
                _exit(1);
            }
        }
    }
}

/* Block the stop and report signals in this thread (every thread started later inherits
 * the mask). Before any thread exists, so that no thread can take them. */
static void signals_block(void)
{
    sigemptyset(&sig.set);
    sigaddset(&sig.set, SIGTERM);
    sigaddset(&sig.set, SIGINT);
    sigaddset(&sig.set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &sig.set, &sig.saved);
}

/* Start the thread that takes the signals for srv. Returns 0 or -errno. */
static int signals_start(sk_server_t *srv)
{
    sig.srv = srv;
    atomic_store(&sig.quit, 0);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&sig.th, NULL, signal_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return -e;
}

/* Stop the signal thread (when started) and give the caller its mask back. A signal that
 * came after the server stopped is taken and dropped here: the server is gone, and serve
 * is returning anyway. */
static void signals_end(int started)
{
    if (started) {
        atomic_store(&sig.quit, 1);
        pthread_kill(sig.th, SIGUSR1);
        pthread_join(sig.th, NULL);
    }
    struct timespec now = {0, 0};
    while (sigtimedwait(&sig.set, NULL, &now) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &sig.saved, NULL);
}

/* Raise the soft fd limit to the hard one: a server's clients are its fds. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/*
 * The -v log is written by a thread of its own from a bounded queue, so a stderr nobody
 * reads (a full pipe) costs dropped log lines, counted and reported, never a stalled
 * server: the event loops only ever append to memory.
 */
#define LOG_QUEUE (1 << 20)

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf, *spare; /* LOG_QUEUE bytes each: filled by the server, written by the thread */
    size_t len;
    unsigned long dropped;
    int done, started;
    int direct; /* a fork model child: no log thread there, write at once */
    pthread_t th;
} logq = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* In a forked child the log thread does not exist (and the lock may have been held by
 * it at the fork): log directly. */
static void log_in_child(void)
{
    pthread_mutex_init(&logq.mu, NULL);
    logq.direct = 1;
    logq.started = 0;
    logq.len = 0;
}

/* The "Stopping:" line says what a second signal does (the library's line does not know
 * about terminals). */
static const char stop_hint[] = "; a second Ctrl-C (or SIGTERM) exits at once";

static void log_stderr(void *ctx, const char *line)
{
    (void)ctx;
    char with_hint[1024];
    if (strncmp(line, "Stopping:", 9) == 0 &&
        (size_t)snprintf(with_hint, sizeof with_hint, "%s%s", line, stop_hint) <
            sizeof with_hint)
        line = with_hint;
    if (logq.direct) {
        fprintf(stderr, "%s\n", line);
        return;
    }
    size_t n = strlen(line);
    pthread_mutex_lock(&logq.mu);
    if (logq.len + n + 1 > LOG_QUEUE) {
        logq.dropped++;
    } else {
        memcpy(logq.buf + logq.len, line, n);
        logq.buf[logq.len + n] = '\n';
        logq.len += n + 1;
        pthread_cond_signal(&logq.cv);
    }
    pthread_mutex_unlock(&logq.mu);
}

static void *log_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&logq.mu);
        while (logq.len == 0 && !logq.done)
            pthread_cond_wait(&logq.cv, &logq.mu);
        if (logq.len == 0 && logq.done) {
            pthread_mutex_unlock(&logq.mu);
            return NULL;
        }
        char *out = logq.buf; /* swap: the server fills the other buffer meanwhile */
        size_t len = logq.len;
        unsigned long dropped = logq.dropped;
        logq.buf = logq.spare;
        logq.spare = out;
        logq.len = 0;
        logq.dropped = 0;
        pthread_mutex_unlock(&logq.mu);
        if (dropped)
            fprintf(stderr, "(%lu log lines dropped: stderr did not keep up)\n", dropped);
        fwrite(out, 1, len, stderr);
        fflush(stderr);
    }
}

/* Start the log thread (signals blocked: they belong to the main thread). */
static int log_start(void)
{
    logq.buf = malloc(LOG_QUEUE);
    logq.spare = malloc(LOG_QUEUE);
    if (!logq.buf || !logq.spare || pthread_atfork(NULL, NULL, log_in_child) != 0)
        return -1;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    logq.started = pthread_create(&logq.th, NULL, log_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return logq.started ? 0 : -1;
}

/* Write what is queued and stop the log thread. */
static void log_stop(void)
{
    if (!logq.started)
        return;
    pthread_mutex_lock(&logq.mu);
    logq.done = 1;
    pthread_cond_signal(&logq.cv);
    pthread_mutex_unlock(&logq.mu);
    /* A stderr nobody reads must not hold the exit: wait a little, then leave the rest. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    if (pthread_timedjoin_np(logq.th, NULL, &until) != 0)
        return;
    logq.started = 0;
}

/* --hex-dump: the library's tap, into cli_hexdump(). */
static void hexdump_tap(void *ctx, const sk_addr_t *peer, int sent, unsigned long long offset,
                        const void *data, size_t len)
{
    (void)ctx;
    char as[SK_ADDRSTRLEN];
    cli_hexdump(sent, sk_addr_str(peer, as), offset, data, len);
}

/* --reply-rate N[,BURST]: replies a second to one source, and the burst (0: default). */
static int parse_reply_rate(const char *text, double *rate, double *burst)
{
    char *end;
    errno = 0;
    double r = strtod(text, &end), b = 0;
    int bad = errno || end == text || !isfinite(r) || r < 0 || r > 1e9;
    if (!bad && *end == ',') {
        const char *p = end + 1;
        b = strtod(p, &end);
        bad = errno || end == p || !isfinite(b) || b < 1 || b > 1e9;
    }
    if (bad || *end) {
        cli_error("invalid --reply-rate '%s' (expected RATE[,BURST]: replies a second to one "
                  "source, 0 for no limit, and the burst, e.g. 1000,2000)", text);
        return -1;
    }
    *rate = r == 0 ? -1 : r; /* 0 on the command line: no limit */
    *burst = b;
    return 0;
}

static void serve_help(void)
{
    printf("Usage: sockit serve SERVICE [OPTIONS]\n\n"
           "Run SERVICE until SIGTERM or SIGINT (Ctrl-C), then drain and exit 0: listeners\n"
           "close at once, idle clients are closed, active ones get --drain-timeout to\n"
           "finish; the 'Stopping:' line says so on stderr. Another signal within 0.5 s is\n"
           "the same stop (GNU timeout signals the process, then its group); a later one\n"
           "exits at once with status 1 (Unix socket files are still removed).\n"
           "chargen keeps streaming after the client's EOF (RFC 864) until it closes.\n"
           "With --udp every datagram is answered on its own (echo: the datagram back;\n"
           "chargen: 0-512 random characters; daytime, time, greet: the answer; discard:\n"
           "nothing), under any model. Replies cannot loop between servers: none goes to\n"
           "a source port below 1024 (as inetd) or to this server's own address, and at\n"
           "most --reply-rate go to any one source address, so a loop with another server\n"
           "(a spoofed datagram) stops once the burst is spent.\n"
           "chat sends each line a client types to every other client as '[ADDR] line'\n"
           "(control bytes spelled out, \\r and \\x1b), announces joins and leaves, and runs\n"
           "under the loop and thread models. A fast sender is slowed to the pace of the\n"
           "members that read (its input waits while their queues are over a quarter of\n"
           "--max-output); a member whose queue has not moved for 5 s is not reading and\n"
           "is dropped once its queue passes --max-output.\n"
           "\nServices:\n");
    for (const sk_service_t *const *s = sk_services(); *s; s++)
        printf("  %-9s %s\n", (*s)->name, (*s)->summary);
    printf("\nOptions:\n"
           "  -l, --listen ADDR   listen on ADDR; repeatable (default localhost:5000,\n"
           "                      which is 127.0.0.1 and ::1); :PORT is every interface\n"
           "  -m, --model MODEL   loop: event loops on --threads threads, non-blocking\n"
           "                      clients with bounded output (default); iterative: one\n"
           "                      client at a time (the others wait in the backlog, so\n"
           "                      one idle client holds them all up); thread: a thread\n"
           "                      per client; fork: a process per client\n"
           "  -t, --threads N     loop: how many event loops (default: online CPUs)\n"
           "      --max-output N  loop (and chat): a client whose unsent output passes N\n"
           "                      bytes is dropped (K/M/G suffixes; default 1M)\n"
           "      --max-conns N   at most N clients at once; the next gets a one-line\n"
           "                      error and is closed (default %d for loop, as redis's\n"
           "                      maxclients; %d for thread and fork, where a client\n"
           "                      costs a thread or a process; iterative serves one at\n"
           "                      a time and its backlog is its bound; 0: no limit)\n"
           "      --max-buffered SIZE  budget for bytes held for partial frames and chat\n"
           "                      queues, server-wide (fork: per process); when full,\n"
           "                      the client with the oldest partial frame is closed\n"
           "                      (K/M/G suffixes; default 64M; 0: no budget)\n"
           "      --allow CIDR    admit only matching clients (repeatable; 10.0.0.0/8,\n"
           "                      ::1, all); rules are tried in order, first match wins\n"
           "      --deny CIDR     refuse matching clients (repeatable); a refused client\n"
           "                      is reset\n"
           "      --idle-timeout SEC   close a client after SEC without a byte either way\n"
           "      --frame-timeout SEC  with --frame (and for chat's lines): a frame once\n"
           "                      begun must be complete within SEC (slowloris;\n"
           "                      default %g; 0: no limit)\n"
           "      --drain-timeout SEC  on SIGTERM/SIGINT: listeners close at once, idle\n"
           "                      clients (framed, between frames) are closed, active\n"
           "                      ones get SEC to finish (default 10); a raw stream is\n"
           "                      active until its client closes\n"
           "      --keepalive[=IDLE,INTVL,CNT]  TCP keepalive on every client: probes after\n"
           "                      IDLE s of silence, every INTVL s, CNT unanswered ones\n"
           "                      reset it (each empty or 0: the system's; ncat\n"
           "                      --keep-alive, socat keepalive)\n"
           "      --hex-dump FILE every byte each way of every client (and datagram) to\n"
           "                      FILE ('-': stderr), hexdump -C layout under a header\n"
           "                      per chunk with its direction and stream offset (ncat\n"
           "                      --hex-dump, socat -x)\n"
           "  -b, --backlog N     listen(2) backlog, 1-65535 (default SOMAXCONN)\n"
           "      --message TEXT  greet: the bytes to send (default \"%s\")\n"
           "  -u, --udp           serve datagrams (UDP, or Unix datagram sockets)\n"
           "      --join GROUP[@IFACE]  --udp: join multicast group GROUP (239.1.2.3,\n"
           "                      ff15::1; on interface IFACE, else by route) on the\n"
           "                      listeners of its family; repeatable. Listen on the\n"
           "                      wildcard address (0.0.0.0:PORT, [::]:PORT) or GROUP\n"
           "      --ttl N         --udp: hop limit of the replies, 1-255 (IP_TTL and\n"
           "                      IP_MULTICAST_TTL; IPv6 hop limits; default the system's)\n"
           "      --reply-rate RATE[,BURST]  --udp: at most RATE replies a second to one\n"
           "                      source address (any port), bursts of BURST (default\n"
           "                      %g,%g, loopback sources exempt: only this host's\n"
           "                      root can spoof one; given, it applies to them too;\n"
           "                      0: no limit)\n"
           "      --frame F       echo, discard: work in messages framed as F: line,\n"
           "                      crlf, fixed:N, len16, len32 (big-endian length prefix),\n"
           "                      eof (the message ends at the client's EOF) or raw (a\n"
           "                      byte stream, the default). echo answers each complete\n"
           "                      frame, framed the same way; a bad frame closes only\n"
           "                      that client's connection (logged with -v)\n"
           "      --max-frame N   largest message, in bytes (K/M/G suffixes; default 1M;\n"
           "                      len16 at most 65535)\n"
           "  -v, --verbose       log 'Listening on ADDR' per listener (with the real port\n"
           "                      when port 0 was asked for), 'Connection received on\n"
           "                      ADDR' and 'Closed ADDR: bytes in, out, duration' per\n"
           "                      client, and the totals at exit, to stderr (text a\n"
           "                      client chose is escaped)\n"
           "SIGUSR1 logs the totals (connections, bytes, errors, refused) at any time.\n"
           "  -h, --help          show this help\n\n"
           "Examples:\n"
           "  sockit serve echo                        # localhost:5000\n"
           "  sockit serve greet -l :12345 -v          # the seeds' greeting server\n"
           "  sockit serve echo -l 127.0.0.1:0 -v      # any free port, printed on stderr\n"
           "  sockit serve daytime -l 5013 -m fork\n"
           "  sockit serve echo --udp -l [::1]:5000      # UDP echo on IPv6 loopback\n"
           "  sockit serve echo --udp -l 0.0.0.0:5000 --join 239.1.2.3   # multicast\n"
           "  sockit serve echo --frame len32 -l unix:/tmp/echo.sock\n"
           "  sockit serve echo --hex-dump - -v        # every byte, on stderr\n",
           SK_MAX_CONNS_LOOP, SK_MAX_CONNS_THREAD, SK_FRAME_TIMEOUT_DEFAULT, SK_GREET_DEFAULT,
           SK_REPLY_RATE_DEFAULT, SK_REPLY_BURST_DEFAULT);
}

int cmd_serve(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"listen", required_argument, NULL, 'l'}, {"model", required_argument, NULL, 'm'},
        {"backlog", required_argument, NULL, 'b'}, {"message", required_argument, NULL, 'M'},
        {"verbose", no_argument, NULL, 'v'},       {"help", no_argument, NULL, 'h'},
        {"udp", no_argument, NULL, 'u'},           {"frame", required_argument, NULL, 'F'},
        {"max-frame", required_argument, NULL, 'X'}, {"threads", required_argument, NULL, 't'},
        {"max-output", required_argument, NULL, 'O'}, {"max-conns", required_argument, NULL, 'C'},
        {"allow", required_argument, NULL, 'A'},      {"deny", required_argument, NULL, 'D'},
        {"idle-timeout", required_argument, NULL, 'I'},
        {"frame-timeout", required_argument, NULL, 'T'},
        {"drain-timeout", required_argument, NULL, 'R'},
        {"max-buffered", required_argument, NULL, 'B'},
        {"keepalive", optional_argument, NULL, 'K'},
        {"hex-dump", required_argument, NULL, 'H'},
        {"join", required_argument, NULL, 'J'},
        {"ttl", required_argument, NULL, 'L'},
        {"reply-rate", required_argument, NULL, 'Q'}, {NULL, 0, NULL, 0},
    };
    const char *listen[MAX_LISTEN_ARGS], *join[MAX_JOIN_ARGS];
    size_t nlisten = 0, njoin = 0;
    const char *hexdump = NULL;
    static sk_keepalive_t keepalive;
    int verbose = 0, frame_timeout_set = 0;
    const char *frame = NULL;
    size_t max_frame = 0;
    sk_framing_t framing;
    static sk_acl_t acl; /* 256 rules: too big for the stack */
    char err[SK_ERRLEN];
    sk_acl_init(&acl);
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.model = SK_MODEL_LOOP;
    o.drain_timeout = -1;

    cli_getopt_reset();
    int c;
    long v;
    while ((c = getopt_long(argc, argv, ":l:m:b:vhut:", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            if (nlisten == MAX_LISTEN_ARGS)
                return cli_usage("serve", "too many --listen options (max %d)",
                                 MAX_LISTEN_ARGS);
            listen[nlisten++] = optarg;
            break;
        case 'm':
            if (sk_model_parse(optarg, &o.model) < 0)
                return cli_usage("serve",
                                 "unknown model '%s' (loop, iterative, thread, fork)", optarg);
            break;
        case 'b':
            if (cli_parse_int("backlog", optarg, 1, 65535, &v) < 0)
                return EXIT_USAGE;
            o.backlog = (int)v;
            break;
        case 'M':
            o.conf.message = optarg;
            break;
        case 'v':
            verbose = 1;
            break;
        case 'u':
            o.socktype = SOCK_DGRAM;
            break;
        case 't':
            if (cli_parse_int("threads", optarg, 1, 256, &v) < 0)
                return EXIT_USAGE;
            o.threads = (int)v;
            break;
        case 'O':
            if (cli_parse_size("--max-output", optarg, 1, (size_t)1 << 30, &o.max_output) < 0)
                return EXIT_USAGE;
            break;
        case 'C':
            if (cli_parse_int("max-conns", optarg, 0, 10000000, &v) < 0)
                return EXIT_USAGE;
            o.max_conns = v ? (int)v : -1; /* 0: no limit */
            break;
        case 'B':
            if (cli_parse_size("--max-buffered", optarg, 0, MAX_BUFFERED_LIMIT,
                               &o.max_buffered) < 0)
                return EXIT_USAGE;
            if (o.max_buffered == 0)
                o.max_buffered = SIZE_MAX; /* 0: no budget */
            break;
        case 'K':
            if (cli_parse_keepalive(optarg, &keepalive) < 0)
                return EXIT_USAGE;
            o.keepalive = &keepalive;
            break;
        case 'H':
            hexdump = optarg;
            break;
        case 'J':
            if (njoin == MAX_JOIN_ARGS)
                return cli_usage("serve", "too many --join options (max %d)", MAX_JOIN_ARGS);
            join[njoin++] = optarg;
            break;
        case 'L':
            if (cli_parse_int("ttl", optarg, 1, 255, &v) < 0)
                return EXIT_USAGE;
            o.ttl = (int)v;
            break;
        case 'Q':
            if (parse_reply_rate(optarg, &o.reply_rate, &o.reply_burst) < 0)
                return EXIT_USAGE;
            break;
        case 'A':
        case 'D':
            if (sk_acl_add(&acl, c == 'A', optarg, err) < 0)
                return cli_usage("serve", "%s", err);
            o.acl = &acl;
            break;
        case 'I':
            if (cli_parse_seconds("idle timeout", optarg, 0.001, 1e6, &o.idle_timeout) < 0)
                return EXIT_USAGE;
            break;
        case 'T':
            if (cli_parse_seconds("frame timeout", optarg, 0, 1e6, &o.frame_timeout) < 0)
                return EXIT_USAGE;
            if (o.frame_timeout == 0)
                o.frame_timeout = -1; /* 0: no limit */
            frame_timeout_set = 1;
            break;
        case 'R':
            if (cli_parse_seconds("drain timeout", optarg, 0, 1e6, &o.drain_timeout) < 0)
                return EXIT_USAGE;
            break;
        case 'F':
            frame = optarg;
            break;
        case 'X':
            if (cli_parse_size("--max-frame", optarg, 1, SK_FRAME_MAX_LIMIT, &max_frame) < 0)
                return EXIT_USAGE;
            break;
        case 'h':
            serve_help();
            return 0;
        default:
            return cli_bad_option("serve", c, argv);
        }
    }
    if (optind >= argc)
        return cli_usage("serve", "missing SERVICE");
    o.service = sk_service_find(argv[optind]); /* "exec PROGRAM": the service is unknown */
    if (!o.service)
        return cli_usage("serve", "unknown service '%s'", argv[optind]);
    if (optind + 1 < argc)
        return cli_usage("serve", "unexpected argument '%s'", argv[optind + 1]);
    if (o.conf.message && o.service != &sk_service_greet)
        return cli_usage("serve", "--message applies only to the greet service");
    if (max_frame && !frame)
        return cli_usage("serve", "--max-frame needs --frame");
    if ((o.service->flags & SK_SERVICE_ONE_PROCESS) &&
        (o.model == SK_MODEL_FORK || o.model == SK_MODEL_ITERATIVE))
        return cli_usage("serve", "%s needs all its clients in one process at once: use "
                                  "--model loop or thread", o.service->name);
    if (o.threads && o.model != SK_MODEL_LOOP)
        return cli_usage("serve", "--threads applies only to --model loop");
    if (o.max_output && o.model != SK_MODEL_LOOP && !(o.service->flags & SK_SERVICE_ONE_PROCESS))
        return cli_usage("serve", "--max-output applies to --model loop (and to chat)");
    if (frame_timeout_set && !frame && !(o.service->flags & SK_SERVICE_LINES))
        return cli_usage("serve", "--frame-timeout needs --frame (chat reads lines: it "
                                  "takes --frame-timeout without one)");
    if (o.socktype == SOCK_DGRAM &&
        (o.max_conns || o.idle_timeout > 0 || o.max_buffered || o.keepalive))
        return cli_usage("serve", "--max-conns, --max-buffered, --idle-timeout and "
                                  "--keepalive apply to connections, not --udp");
    if (o.socktype != SOCK_DGRAM && (njoin || o.ttl || o.reply_rate))
        return cli_usage("serve", "--join, --ttl and --reply-rate apply to --udp");
    if (frame) {
        if (cli_framing("serve", frame, max_frame, &framing) < 0)
            return EXIT_USAGE;
        if (o.socktype == SOCK_DGRAM)
            return cli_usage("serve", "--frame does not apply to --udp: a datagram is "
                                      "already one message");
        int lines = framing.kind == SK_FRAME_LINE || framing.kind == SK_FRAME_CRLF;
        if (!(o.service->flags & SK_SERVICE_FRAMES) &&
            !((o.service->flags & SK_SERVICE_LINES) && lines))
            return cli_usage("serve", "--frame applies only to echo and discard (and line or "
                                      "crlf to chat)");
        o.conf.framing = &framing;
    }
    if (o.socktype == SOCK_DGRAM && !o.service->on_datagram)
        return cli_usage("serve", "%s has no UDP form", o.service->name);
    if (nlisten == 0)
        listen[nlisten++] = "localhost:5000";
    if (cli_parse_only) { /* the addresses as sk_server_listen() parses them; no socket */
        for (size_t i = 0; i < nlisten; i++) {
            sk_endpoint_t ep;
            if (sk_endpoint_parse(&ep, listen[i], err) < 0) {
                cli_error("%s", err);
                return EXIT_USAGE;
            }
        }
        return 0;
    }
    /* Blocked before the first thread and the first listener exist: a signal sent as
     * soon as "Listening on" appears waits for the signal thread, and stops the server
     * cleanly. */
    signals_block();
    if (log_start() == 0) { /* without -v, the one "Stopping:" line */
        o.log = log_stderr;
        o.log_quiet = !verbose;
    }
    if (hexdump) {
        if (cli_hexdump_open(hexdump) < 0) {
            log_stop();
            signals_end(0);
            return 1;
        }
        o.tap = hexdump_tap;
    }

    sk_server_t *srv;
    int r = sk_server_new(&srv, &o);
    if (r < 0) {
        log_stop();
        signals_end(0);
        cli_hexdump_close();
        cli_error("serve: %s", sk_strerror(r));
        return 1;
    }
    raise_nofile();

    int status = 0;
    for (size_t i = 0; i < nlisten && !status; i++) {
        r = sk_server_listen(srv, listen[i], err);
        if (r < 0) {
            cli_error("%s", err);
            status = r == SK_EBADADDR || r == SK_EBADPORT ? EXIT_USAGE : 1;
        }
    }
    for (size_t i = 0; i < njoin && !status; i++) {
        r = sk_server_join(srv, join[i], err);
        if (r < 0) {
            cli_error("%s", err);
            status = r == SK_EBADADDR ? EXIT_USAGE : 1;
        }
    }
    if (!status && (r = signals_start(srv)) < 0) {
        cli_error("serve: signal thread: %s", sk_strerror(r));
        status = 1;
    }
    if (status) {
        sk_server_free(srv);
        log_stop();
        signals_end(0);
        cli_hexdump_close();
        return status;
    }
    if (verbose) {
        for (size_t i = 0; i < sk_server_listener_count(srv); i++) {
            sk_addr_t a;
            char as[SK_ADDRSTRLEN], safe[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
            if (sk_server_listener_addr(srv, i, &a) == 0) {
                sk_addr_str(&a, as);
                sk_escape(safe, sizeof safe, as, strlen(as));
                fprintf(stderr, "Listening on %s%s\n", safe,
                        o.socktype == SOCK_DGRAM ? " (udp)" : "");
            }
        }
    }

    r = sk_server_run(srv);
    if (verbose)
        sk_server_log_stats(srv); /* the totals, at exit */
    signals_end(1);
    log_stop();
    sk_server_free(srv);
    cli_hexdump_close();
    if (r < 0) {
        cli_error("serve: %s", sk_strerror(r));
        return 1;
    }
    return 0;
}
