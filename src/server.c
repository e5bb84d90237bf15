/*
 * server.c: listeners, the accept loop and the three blocking models (sockit/server.h).
 *
 * One thread (the caller of sk_server_run) polls the listeners and a wake-up pipe. The
 * pipe is written by sk_server_stop() (from a signal handler or another thread), by
 * finishing sessions (so the iterative model resumes accepting) and, in the fork model,
 * by the SIGCHLD handler (so children are reaped at once).
 *
 * Thread and iterative sessions run on detached threads registered in a list under a
 * mutex; stopping shuts every registered socket down, which wakes any blocked recv or
 * send, and waits for the list to empty. A session unregisters before it closes its fd,
 * so a shutdown never reaches a reused descriptor. Iterative is the thread model with at
 * most one session, the listeners left unpolled while it runs (clients wait in the
 * backlog, as in the seeds). Fork children are tracked by pid: SIGTERM is passed on to
 * each, and each is reaped with waitpid(pid), never waitpid(-1), so the embedding
 * program's other children are left alone. Children also ask for SIGTERM when the
 * server dies (PR_SET_PDEATHSIG), so even a SIGKILLed server leaves no sessions behind.
 * Unix socket files a server creates are removed by sk_server_free(), if still its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "server_internal.h"
#include "sockit/error.h"
#include "sockit/escape.h"
#include "sockit/server.h"
#include "sockit/sock.h"
#include "sys.h"

/* Datagrams read from one socket per wake-up. */
#define DGRAM_BATCH 64
/* Connections accepted from one listener per wake-up, so no listener starves another. */
#define ACCEPT_BATCH 32
/* After EMFILE and friends: pause accepting this long instead of spinning. */
#define ACCEPT_BACKOFF_MS 100
/* Stack of a session thread: the 16 KiB receive buffer plus ample headroom. */
#define SESSION_STACK (256 * 1024)
/* How long stopping waits for sessions and children before giving up (threads) or
 * sending SIGKILL (children). */
#define STOP_GRACE_NS (10 * (int64_t)1000000000)
/* Fork model: how long a child has to end by itself once the drain period is over. */
#define FORK_GRACE_NS (1 * (int64_t)1000000000)

static const char *const model_names[] = {"iterative", "thread", "fork", "loop"};

int sk_model_parse(const char *name, sk_model_t *model)
{
    for (size_t i = 0; i < sizeof model_names / sizeof *model_names; i++) {
        if (strcmp(name, model_names[i]) == 0) {
            *model = (sk_model_t)i;
            return 0;
        }
    }
    return SK_EBADARG;
}

const char *sk_model_name(sk_model_t model)
{
    return (unsigned)model < sizeof model_names / sizeof *model_names ? model_names[model]
                                                                      : "unknown";
}

/* Every log line passes through here, and through sk_escape(): a peer chooses some of
 * its text (a Unix client's bound name), and must not forge lines ("\n"), rewrite them
 * ("\r") or drive the operator's terminal (ESC, CSI). */
static void log_line(sk_server_t *s, const char *fmt, va_list ap)
{
    char line[512], safe[SK_ESCAPE_MAX(sizeof line)];
    int n = vsnprintf(line, sizeof line, fmt, ap);
    if (n < 0) return;
    size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
    sk_escape(safe, sizeof safe, line, len);
    s->o.log(s->o.log_ctx, safe);
}

void sk__server_log(sk_server_t *s, const char *fmt, ...)
{
    if (!s->o.log || s->o.log_quiet) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(s, fmt, ap);
    va_end(ap);
}

void sk__server_notice(sk_server_t *s, const char *fmt, ...)
{
    if (!s->o.log) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(s, fmt, ap);
    va_end(ap);
}

static void wake(sk_server_t *s)
{
    int saved = errno;
    ssize_t n = write(s->wake[1], "", 1); /* a full pipe already wakes the reader */
    (void)n;
    errno = saved;
}

/* Fill in what 0 means in the options, so that the models read 0 as "none". */
static void resolve_defaults(sk_server_opts_t *o)
{
    static const int conns[] = {
        [SK_MODEL_ITERATIVE] = 0, /* one at a time: its backlog is its bound */
        [SK_MODEL_THREAD] = SK_MAX_CONNS_THREAD,
        [SK_MODEL_FORK] = SK_MAX_CONNS_FORK,
        [SK_MODEL_LOOP] = SK_MAX_CONNS_LOOP,
    };
    if (o->max_conns == 0 && (unsigned)o->model < sizeof conns / sizeof *conns)
        o->max_conns = conns[o->model];
    else if (o->max_conns < 0)
        o->max_conns = 0;
    const sk_framing_t *f = o->conf.framing;
    int framed = (f && f->kind != SK_FRAME_RAW) || (o->service->flags & SK_SERVICE_LINES);
    if (o->frame_timeout == 0 && framed) /* a LINES service (chat) reads lines anyway */
        o->frame_timeout = SK_FRAME_TIMEOUT_DEFAULT;
    else if (o->frame_timeout < 0)
        o->frame_timeout = 0;
    if (o->max_buffered == 0) o->max_buffered = SK_MAX_BUFFERED_DEFAULT;
    if (o->reply_rate == 0) o->reply_rate = SK_REPLY_RATE_DEFAULT; /* loopback exempt */
    if (o->reply_burst <= 0)
        o->reply_burst = o->reply_rate > SK_REPLY_BURST_DEFAULT ? o->reply_rate
                                                                : SK_REPLY_BURST_DEFAULT;
    if (o->reply_burst < 1) o->reply_burst = 1;
}

int sk_server_new(sk_server_t **out, const sk_server_opts_t *opts)
{
    if (!opts || !opts->service) return SK_EBADARG;
    int dgram = opts->socktype == SOCK_DGRAM;
    if (opts->socktype != 0 && opts->socktype != SOCK_STREAM && !dgram) return SK_EBADARG;
    if (dgram && !opts->service->on_datagram) return SK_EBADARG;
    const sk_framing_t *f = opts->conf.framing;
    unsigned flags = opts->service->flags;
    int lines_ok =
        (flags & SK_SERVICE_LINES) && f && (f->kind == SK_FRAME_LINE || f->kind == SK_FRAME_CRLF);
    if (f && f->kind != SK_FRAME_RAW && (dgram || !((flags & SK_SERVICE_FRAMES) || lines_ok)))
        return SK_EBADARG;
    if ((flags & SK_SERVICE_ONE_PROCESS) &&
        (opts->model == SK_MODEL_FORK || opts->model == SK_MODEL_ITERATIVE))
        return SK_EBADARG;
    sk_server_t *s = calloc(1, sizeof *s);
    if (!s) return -ENOMEM;
    s->o = *opts;
    s->o.socktype = dgram ? SOCK_DGRAM : SOCK_STREAM;
    if (!s->o.conf.max_output)
        s->o.conf.max_output = s->o.max_output ? s->o.max_output : SK_MAX_OUTPUT_DEFAULT;
    s->rate_loopback = opts->reply_rate != 0; /* the default spares loopback sources */
    resolve_defaults(&s->o);
    if (opts->service->shared_new && !(s->o.conf.shared = opts->service->shared_new(&s->o.conf))) {
        free(s);
        return -ENOMEM;
    }
    if (dgram &&
        (!(s->dgram_in = malloc(SK__DGRAM_BUF)) || !(s->dgram_out = malloc(SK__DGRAM_BUF)))) {
        free(s->dgram_in);
        if (opts->service->shared_free) opts->service->shared_free(s->o.conf.shared);
        free(s);
        return -ENOMEM;
    }
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        int e = -errno;
        if (opts->service->shared_free) opts->service->shared_free(s->o.conf.shared);
        free(s->dgram_in);
        free(s->dgram_out);
        free(s);
        return e;
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->idle, NULL);
    sk__budget_init(&s->budget, s->o.max_buffered);
    s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    *out = s;
    return 0;
}

/* Note the file behind a Unix listener, so that free() removes it, and only it. */
static void remember_unix_file(sk_server_t *s, int fd)
{
    sk_addr_t a;
    struct stat st;
    char path[SK_ADDRSTRLEN];
    if (sk_getsockname(fd, &a) < 0 || sk_addr_family(&a) != AF_UNIX ||
        sk_addr_host(&a, path, sizeof path) <= 0 || path[0] == '@' ||
        strlen(path) > SK_UNIXPATHMAX || stat(path, &st) < 0)
        return;
    struct unix_file *f = &s->files[s->nfiles++];
    memcpy(f->path, path, strlen(path) + 1);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
}

static int datagram_setup(sk_server_t *s, int fd, size_t index, char *err);

int sk_server_listen(sk_server_t *s, const char *address, char *err)
{
    int fds[SK_LISTEN_MAX];
    size_t room = SK__MAX_LISTENERS - s->nl;
    sk_endpoint_t ep;
    int n = sk_endpoint_parse(&ep, address, err);
    if (n < 0) return n;
    n = sk_listen_endpoint(&ep, s->o.socktype, s->o.backlog, fds,
                           room < SK_LISTEN_MAX ? room : SK_LISTEN_MAX, err);
    struct stat st;
    if (n == -EADDRINUSE && ep.family == AF_UNIX && !ep.abstract && lstat(ep.path, &st) == 0 &&
        !S_ISSOCK(st.st_mode)) /* a file, a directory...: never removed, and not "in use" */
        sk__set_err(err, "bind unix:%s: not a socket (a file of another kind is in the way; "
                         "it is left alone)", ep.path);
    if (n < 0) return n;
    for (int i = 0; i < n; i++) {
        sk_settimeout(fds[i], 0); /* polled: accept and recvfrom must never block */
        int r = s->o.socktype == SOCK_DGRAM ? datagram_setup(s, fds[i], s->nl, err) : 0;
        if (r < 0) {
            for (int j = i; j < n; j++)
                sk_close(fds[j]);
            return r;
        }
        sk_getsockname(fds[i], &s->laddr[s->nl]);
        s->lfd[s->nl++] = fds[i];
        remember_unix_file(s, fds[i]);
    }
    return n;
}

int sk_server_join(sk_server_t *s, const char *group, char *err)
{
    char text[SK_ADDRSTRLEN], q[SK__QUOTE_MAX + 4];
    if (!group || strlen(group) >= sizeof text) {
        sk__set_err(err, "join %s: not a multicast group", sk__quote(group ? group : "", q));
        return SK_EBADADDR;
    }
    memcpy(text, group, strlen(group) + 1);
    char *iface = strrchr(text, '@'), *host = text;
    if (iface) *iface++ = '\0';
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
        host[hl - 1] = '\0';
        host++;
    }
    struct in_addr g4;
    struct in6_addr g6;
    int family = inet_pton(AF_INET, host, &g4) == 1    ? AF_INET
                 : inet_pton(AF_INET6, host, &g6) == 1 ? AF_INET6
                                                       : 0;
    if ((family == AF_INET && !IN_MULTICAST(ntohl(g4.s_addr))) ||
        (family == AF_INET6 && !IN6_IS_ADDR_MULTICAST(&g6)) || family == 0) {
        sk__set_err(err, "join %s: not a multicast group (IPv4 224.0.0.0/4, IPv6 ff00::/8)",
                    sk__quote(group, q));
        return SK_EBADADDR;
    }
    unsigned ifindex = 0;
    if (iface) {
        char *end;
        unsigned long v = strtoul(iface, &end, 10);
        ifindex = *iface && !*end ? (unsigned)v : if_nametoindex(iface);
        if (ifindex == 0) {
            sk__set_err(err, "join %s: no interface '%s'", sk__quote(group, q), iface);
            return SK_EBADARG;
        }
    }
    int joined = 0;
    for (size_t i = 0; i < s->nl && s->o.socktype == SOCK_DGRAM; i++) {
        if (sk_addr_family(&s->laddr[i]) != family) continue;
        int r;
        if (family == AF_INET) {
            struct ip_mreqn m = {.imr_multiaddr = g4, .imr_ifindex = (int)ifindex};
            r = setsockopt(s->lfd[i], IPPROTO_IP, IP_ADD_MEMBERSHIP, &m, sizeof m);
        } else {
            struct ipv6_mreq m = {.ipv6mr_multiaddr = g6, .ipv6mr_interface = ifindex};
            r = setsockopt(s->lfd[i], IPPROTO_IPV6, IPV6_JOIN_GROUP, &m, sizeof m);
        }
        if (r < 0) {
            int e = -errno;
            sk__set_err(err, "join %s: %s", sk__quote(group, q), sk_strerror(e));
            return e;
        }
        joined++;
    }
    if (joined == 0) {
        sk__set_err(err, "join %s: no %s datagram listener to join it on", sk__quote(group, q),
                    family == AF_INET ? "IPv4" : "IPv6");
        return SK_EBADARG;
    }
    return joined;
}

size_t sk_server_listener_count(const sk_server_t *s)
{
    return s->nl;
}

int sk_server_listener_addr(const sk_server_t *s, size_t i, sk_addr_t *addr)
{
    if (i >= s->nl) return SK_EBADARG;
    return sk_getsockname(s->lfd[i], addr);
}

void sk_server_stop(sk_server_t *s)
{
    s->stopping = 1;
    wake(s);
}

void sk_server_report(sk_server_t *s)
{
    s->report = 1;
    wake(s);
}

void sk_server_stats(const sk_server_t *s, sk_server_stats_t *out)
{
    out->accepted = s->accepted;
    out->refused = s->refused;
    out->active = s->active;
    out->closed = s->closed;
    out->errors = s->errors;
    out->bytes_in = s->bytes_in;
    out->bytes_out = s->bytes_out;
    out->datagrams = s->datagrams;
    if (s->kidtot) {
        out->errors += s->kidtot->errors;
        out->bytes_in += s->kidtot->bytes_in;
        out->bytes_out += s->kidtot->bytes_out;
    }
}

void sk__log_stopping(sk_server_t *s)
{
    double d = s->o.drain_timeout < 0 ? SK_DRAIN_DEFAULT : s->o.drain_timeout;
    sk__server_notice(s, "Stopping: listeners closed; %llu connection(s) open, %g s to finish",
                      (unsigned long long)s->active, d);
}

void sk__maybe_report(sk_server_t *s)
{
    if (atomic_exchange(&s->report, 0)) sk_server_log_stats(s);
}

void sk_server_log_stats(sk_server_t *s)
{
    sk_server_stats_t st;
    sk_server_stats(s, &st);
    sk__server_log(s,
                   "Stats: %llu connections (%llu active, %llu refused, %llu errors), "
                   "%llu bytes in, %llu bytes out, %llu datagrams",
                   st.accepted, st.active, st.refused, st.errors, st.bytes_in, st.bytes_out,
                   st.datagrams);
}

/* Input a refused client sent before we closed, read and dropped, at most: a close with
 * unread input would reset the connection and could destroy the busy line. */
#define REFUSED_DRAIN (64 * 1024)

/* Turn away a client over max_conns: the busy line, FIN, its waiting input dropped, close.
 * Never waits: what the client sends after the close may still draw a reset, but after
 * our FIN, so the client has read the line and EOF first. */
static void refuse_busy(int fd)
{
    ssize_t n = SK_SYS(send)(fd, SK_BUSY_LINE, sizeof SK_BUSY_LINE - 1,
                             MSG_NOSIGNAL | MSG_DONTWAIT); /* best effort */
    SK_SYS(shutdown)(fd, SHUT_WR);
    char buf[4096];
    size_t got = 0;
    while (got < REFUSED_DRAIN && (n = SK_SYS(recv)(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
        got += (size_t)n;
    sk_close(fd);
}

/* Turn away a client the ACL does not allow: a reset (SO_LINGER 0), so that it sees an
 * error, not an empty conversation that looks like success; it is told nothing, and no
 * state (FIN_WAIT, TIME_WAIT) is kept for an address we do not talk to. */
static void refuse_reset(int fd)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    sk_close(fd);
}

int sk__admit(sk_server_t *s, int fd, const sk_addr_t *peer)
{
    char as[SK_ADDRSTRLEN];
    int family = sk_addr_family(peer);
    int tcp = family == AF_INET || family == AF_INET6;
    if (tcp) /* replies go out now, not after Nagle */
        sk_setsockopt_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    if (s->o.acl && !sk_acl_check(s->o.acl, peer)) {
        s->refused++;
        sk__server_log(s, "Refused %s: not allowed (--allow/--deny)", sk_addr_str(peer, as));
        refuse_reset(fd);
        return 0;
    }
    /* Check and count in one step: event loops admitting at once never pass the limit. */
    unsigned long long active = atomic_load(&s->active);
    do {
        if (s->o.max_conns > 0 && active >= (unsigned long long)s->o.max_conns) {
            s->refused++;
            /* The busy line goes out before the log line: whoever reads the log knows it
             * was sent. Best effort: the loop never blocks for it. */
            refuse_busy(fd);
            sk__server_log(s, "Refused %s: %d connections already (--max-conns)",
                           sk_addr_str(peer, as), s->o.max_conns);
            return 0;
        }
    } while (!atomic_compare_exchange_weak(&s->active, &active, active + 1));
    if (tcp && s->o.keepalive) sk_set_keepalive(fd, s->o.keepalive);
    s->accepted++;
    sk__server_log(s, "Connection received on %s", sk_addr_str(peer, as));
    return 1;
}

void sk__conn_closed(sk_server_t *s, const sk_addr_t *peer, const struct sk__conn_stats *st,
                     const char *reason)
{
    s->active--;
    s->closed++;
    if (s->is_child) { /* the parent sees only the shared totals */
        s->kidtot->bytes_in += st->in;
        s->kidtot->bytes_out += st->out;
        if (reason) s->kidtot->errors++;
    } else {
        s->bytes_in += st->in;
        s->bytes_out += st->out;
        if (reason) s->errors++;
    }
    if (!s->o.log) return;
    char as[SK_ADDRSTRLEN];
    double secs = (double)(sk__now_ns() - st->t0) / 1e9;
    sk__server_log(s, "Closed %s: %llu bytes in, %llu bytes out, %.3f s%s%s", sk_addr_str(peer, as),
                   st->in, st->out, secs, reason ? ": " : "", reason ? reason : "");
}

void sk__shed_one(sk_server_t *s, int lfd)
{
    pthread_mutex_lock(&s->mu);
    if (s->reserve_fd >= 0) {
        sk_close(s->reserve_fd);
        int fd = SK_SYS(accept4)(lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            s->refused++;
            sk_close(fd);
        }
        s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    pthread_mutex_unlock(&s->mu);
}

void sk_server_remove_files(sk_server_t *s)
{
    for (size_t i = 0; i < s->nfiles; i++) {
        struct stat st; /* remove the file only if it is still the one we made */
        if (stat(s->files[i].path, &st) == 0 && st.st_dev == s->files[i].dev &&
            st.st_ino == s->files[i].ino)
            unlink(s->files[i].path);
    }
}

void sk_server_free(sk_server_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nl; i++)
        sk_close(s->lfd[i]);
    sk_server_remove_files(s);
    sk_close(s->wake[0]);
    sk_close(s->wake[1]);
    if (s->reserve_fd >= 0) sk_close(s->reserve_fd);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->idle);
    sk__budget_destroy(&s->budget);
    for (size_t i = 0; i < SK__MAX_LISTENERS; i++)
        free(s->rates[i]);
    free(s->kids);
    if (s->kidtot) munmap(s->kidtot, sizeof *s->kidtot);
    free(s->dgram_in);
    free(s->dgram_out);
    if (s->o.service->shared_free) s->o.service->shared_free(s->o.conf.shared);
    free(s);
}

/* ---- thread and iterative models ---- */

/* An admitted connection that could not be served after all: account for it. */
static void lost_connection(sk_server_t *s, const sk_addr_t *peer, const char *why)
{
    struct sk__conn_stats st = {.t0 = sk__now_ns()};
    sk__conn_closed(s, peer, &st, why);
}

static void *session_main(void *arg)
{
    struct session *ss = arg;
    sk_server_t *s = ss->srv;
    sk__serve_blocking(s, ss->fd, ss->wakefd, &ss->peer);

    pthread_mutex_lock(&s->mu);
    if (ss->prev)
        ss->prev->next = ss->next;
    else
        s->sessions = ss->next;
    if (ss->next) ss->next->prev = ss->prev;
    if (--s->nsessions == 0) pthread_cond_broadcast(&s->idle);
    wake(s); /* the iterative model waits for this to accept the next client */
    pthread_mutex_unlock(&s->mu);
    /* From here on the server may be gone: touch only what this thread owns. */
    sk_close(ss->fd);
    sk_close(ss->wakefd);
    free(ss);
    return NULL;
}

static void start_thread(sk_server_t *s, int fd, const sk_addr_t *peer)
{
    struct session *ss = calloc(1, sizeof *ss);
    if (!ss) {
        sk__server_log(s, "session: %s", sk_strerror(-ENOMEM));
        sk_close(fd);
        lost_connection(s, peer, "out of memory");
        return;
    }
    ss->srv = s;
    ss->fd = fd;
    ss->peer = *peer;
    ss->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ss->wakefd < 0) {
        const char *why = sk_strerror(-errno);
        sk__server_log(s, "session: %s", why);
        sk_close(fd);
        free(ss);
        lost_connection(s, peer, why);
        return;
    }

    pthread_mutex_lock(&s->mu);
    ss->next = s->sessions;
    if (s->sessions) s->sessions->prev = ss;
    s->sessions = ss;
    s->nsessions++;
    pthread_mutex_unlock(&s->mu);

    pthread_attr_t attr;
    pthread_t tid;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, SESSION_STACK);
    sigset_t all, old; /* session threads take no signals: they go to run()'s thread */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int e = pthread_create(&tid, &attr, session_main, ss);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (e != 0) {
        char as[SK_ADDRSTRLEN];
        sk__server_log(s, "thread for %s: %s", sk_addr_str(peer, as), sk_strerror(-e));
        pthread_mutex_lock(&s->mu);
        if (ss->next) ss->next->prev = NULL;
        s->sessions = ss->next; /* ss is still at the head: nothing ran in between */
        s->nsessions--;
        pthread_mutex_unlock(&s->mu);
        sk_close(fd);
        sk_close(ss->wakefd);
        free(ss);
        lost_connection(s, peer, "no thread for it");
    }
}

static size_t session_count(sk_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->nsessions;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* The drain period (sk_server_opts_t.drain_timeout) in ns. */
static int64_t drain_ns(const sk_server_t *s)
{
    double d = s->o.drain_timeout < 0 ? SK_DRAIN_DEFAULT : s->o.drain_timeout;
    return (int64_t)(d * 1e9);
}

/* Wait until no session is left or the CLOCK_REALTIME deadline `until` passes. Call with
 * s->mu held. */
static void wait_sessions(sk_server_t *s, int64_t ns)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    int64_t t = (int64_t)until.tv_nsec + ns % 1000000000;
    until.tv_sec += (time_t)(ns / 1000000000 + t / 1000000000);
    until.tv_nsec = (long)(t % 1000000000);
    while (s->nsessions > 0)
        if (pthread_cond_timedwait(&s->idle, &s->mu, &until) == ETIMEDOUT) break;
}

/* Drain: tell every session to look at the stopping flag (idle framed sessions end), give
 * the active ones the drain period, then shut the rest down and wait for the threads. */
static void stop_threads(sk_server_t *s)
{
    pthread_mutex_lock(&s->mu);
    for (struct session *ss = s->sessions; ss; ss = ss->next) {
        uint64_t one = 1;
        ssize_t n = write(ss->wakefd, &one, sizeof one);
        (void)n;
    }
    wait_sessions(s, drain_ns(s));
    s->drain_over = 1;
    for (struct session *ss = s->sessions; ss; ss = ss->next)
        SK_SYS(shutdown)(ss->fd, SHUT_RDWR);
    wait_sessions(s, STOP_GRACE_NS);
    size_t left = s->nsessions;
    pthread_mutex_unlock(&s->mu);
    if (left) sk__server_notice(s, "stop: %zu session(s) did not finish", left);
}

/* ---- fork model ---- */

/* The SIGCHLD handler's target: the write end of the running fork server's wake pipe. */
static atomic_int sigchld_fd = -1;

static void on_sigchld(int sig)
{
    (void)sig;
    int saved = errno;
    if (sigchld_fd >= 0) {
        ssize_t n = write(sigchld_fd, "", 1);
        (void)n;
    }
    errno = saved;
}

/* Account for a child that has ended with wait status `status`. A child that exits 0 has
 * logged and counted its own session; one killed by a signal (SIGSEGV, an OOM kill, ...)
 * or failing (a sanitizer's exit status) could not: the parent logs and counts it. */
static void child_ended(sk_server_t *s, const struct kid *k, int status)
{
    char why[96];
    if (WIFSIGNALED(status)) {
        const char *name = sigabbrev_np(WTERMSIG(status));
        snprintf(why, sizeof why, "session process %ld killed by SIG%s", (long)k->pid,
                 name ? name : "?");
    } else if (WIFEXITED(status) && WEXITSTATUS(status) != 0) {
        snprintf(why, sizeof why, "session process %ld exited with status %d", (long)k->pid,
                 WEXITSTATUS(status));
    } else {
        s->active--;
        s->closed++;
        return;
    }
    struct sk__conn_stats st = {.t0 = k->t0}; /* its bytes are in the shared totals */
    sk__conn_closed(s, &k->peer, &st, why);
}

/* Reap the children that have exited; never blocks. */
static void reap(sk_server_t *s)
{
    for (size_t i = 0; i < s->nkids;) {
        int status = 0;
        pid_t r = waitpid(s->kids[i].pid, &status, WNOHANG);
        if (r == s->kids[i].pid || (r < 0 && errno == ECHILD)) {
            child_ended(s, &s->kids[i], r < 0 ? 0 : status);
            s->kids[i] = s->kids[--s->nkids];
        } else {
            i++;
        }
    }
}

static void start_child(sk_server_t *s, int fd, const sk_addr_t *peer)
{
    if (s->nkids == s->capkids) {
        size_t cap = s->capkids ? s->capkids * 2 : 64;
        struct kid *k = realloc(s->kids, cap * sizeof *k);
        if (!k) {
            sk__server_log(s, "fork: %s", sk_strerror(-ENOMEM));
            sk_close(fd);
            lost_connection(s, peer, "out of memory");
            return;
        }
        s->kids = k;
        s->capkids = cap;
    }
    /* Block the stop signals across fork so that the child cannot run the parent's
     * handler before it has reset them; a pending SIGTERM then ends the child. */
    sigset_t stopset, old;
    sigemptyset(&stopset);
    sigaddset(&stopset, SIGTERM);
    sigaddset(&stopset, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stopset, &old);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* A server killed outright (SIGKILL) must not leave its sessions behind. */
        prctl(PR_SET_PDEATHSIG, SIGHUP); /* not SIGTERM: that one drains */
        if (getppid() != parent) _exit(0);
        /* The parent's SIGTERM (or a terminal's SIGINT to the whole group) means
         * "drain": both stay blocked and are read from a signalfd that the session polls
         * with its socket, like a thread session's eventfd; no handler runs in the middle
         * of a session. Without a signalfd they simply end the child, as SIGHUP (the
         * parent's death) always does, whatever mask the parent had. */
        sigset_t term, mask = old;
        sigemptyset(&term);
        sigaddset(&term, SIGTERM);
        sigaddset(&term, SIGINT);
        int sfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        signal(SIGCHLD, SIG_DFL);
        sigdelset(&mask, SIGHUP);
        if (sfd >= 0) {
            sigaddset(&mask, SIGTERM);
            sigaddset(&mask, SIGINT);
        } else {
            sigdelset(&mask, SIGTERM);
            sigdelset(&mask, SIGINT);
        }
        s->stop_on_wake = 1;
        s->is_child = 1;
        pthread_sigmask(SIG_SETMASK, &mask, NULL);
        for (size_t i = 0; i < s->nl; i++)
            close(s->lfd[i]);
        close(s->wake[0]);
        close(s->wake[1]);
        sk__serve_blocking(s, fd, sfd, peer);
        close(fd);
        _exit(0);
    }
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        sk__server_log(s, "fork: %s", sk_strerror(-e));
        lost_connection(s, peer, "fork failed");
    } else {
        s->kids[s->nkids++] = (struct kid){.pid = pid, .peer = *peer, .t0 = sk__now_ns()};
    }
    sk_close(fd);
}

/* Reap children as they exit until none is left or the monotonic deadline passes. */
static void reap_until(sk_server_t *s, int64_t deadline)
{
    for (;;) {
        reap(s);
        if (s->nkids == 0 || sk__wait_fd(s->wake[0], POLLIN, deadline) < 0) return;
        char buf[64];
        while (read(s->wake[0], buf, sizeof buf) > 0) {
        }
    }
}

/* Pass SIGTERM on to every child (each drains) and reap them all; at the end of the drain
 * period tell the rest to end (a second SIGTERM), and SIGKILL what is left a grace
 * period (FORK_GRACE_NS) later. */
static void stop_children(sk_server_t *s)
{
    for (size_t i = 0; i < s->nkids; i++)
        kill(s->kids[i].pid, SIGTERM);
    reap_until(s, sk__now_ns() + drain_ns(s));
    /* The drain period is over: as under the thread model, each child still there shuts
     * its connection down and logs its own end (its bytes are known only to it); a child
     * that is just exiting gets to exit. Only one that does neither within the grace
     * (stuck in a send: SIGTERM waits on its signalfd) is killed. */
    if (s->nkids) {
        atomic_store(&s->kidtot->drain_over, 1);
        for (size_t i = 0; i < s->nkids; i++)
            kill(s->kids[i].pid, SIGTERM);
        reap_until(s, sk__now_ns() + FORK_GRACE_NS);
    }
    for (size_t i = 0; i < s->nkids; i++) {
        kill(s->kids[i].pid, SIGKILL);
        int status = 0;
        if (waitpid(s->kids[i].pid, &status, 0) == s->kids[i].pid &&
            !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
            child_ended(s, &s->kids[i], status); /* it ended by itself meanwhile */
            continue;
        }
        /* Cut off, it could not log or count itself: the parent does (bytes unknown). */
        struct sk__conn_stats st = {.t0 = s->kids[i].t0};
        sk__conn_closed(s, &s->kids[i].peer, &st,
                        "still active when the drain period ended (--drain-timeout)");
    }
    s->nkids = 0;
}

/* ---- the accept loop ---- */

static int accept_error_is_transient(int code)
{
    /* The connection died in the queue, or a firewall said no: just go on. */
    return code == -ECONNABORTED || code == -EPROTO || code == -EPERM || code == -EINTR ||
           code == -ENETDOWN || code == -ENOPROTOOPT || code == -EHOSTDOWN || code == -ENONET ||
           code == -EHOSTUNREACH || code == -EOPNOTSUPP || code == -ENETUNREACH;
}

/* Accept up to ACCEPT_BATCH clients from one listener. Returns -1 to pause accepting. */
static int accept_some(sk_server_t *s, int lfd)
{
    for (int i = 0; i < ACCEPT_BATCH && !s->stopping; i++) {
        sk_addr_t peer;
        int fd = sk_accept(lfd, &peer);
        if (fd == -EAGAIN) return 0;
        if (fd < 0) {
            if (accept_error_is_transient(fd)) continue;
            sk__server_log(s, "accept: %s", sk_strerror(fd)); /* EMFILE, ENFILE, ENOBUFS, ENOMEM */
            if (fd == -EMFILE || fd == -ENFILE) sk__shed_one(s, lfd);
            return -1;
        }
        char as[SK_ADDRSTRLEN];
        if (sk_addr_family(&peer) == AF_UNIX && sk_addr_host(&peer, as, sizeof as) == 0)
            sk_getsockname(lfd, &peer); /* an unnamed client: name the socket it came to */
        if (!sk__admit(s, fd, &peer)) continue;
        switch (s->o.model) {
        case SK_MODEL_FORK:
            start_child(s, fd, &peer);
            break;
        case SK_MODEL_ITERATIVE:
            start_thread(s, fd, &peer);
            return 0; /* one client at a time */
        default:
            start_thread(s, fd, &peer);
            break;
        }
    }
    return 0;
}

/* ---- datagrams ---- */

/* The IP address bytes of a (v4 or v6) address, a v4-mapped v6 address as v4, in a:
 * returns the family (0 for neither). */
static int ip_bytes(const sk_addr_t *x, unsigned char a[16])
{
    if (x->ss.ss_family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)&x->ss)->sin_addr, 4);
        return AF_INET;
    }
    if (x->ss.ss_family == AF_INET6) {
        const struct in6_addr *v6 = &((const struct sockaddr_in6 *)&x->ss)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(v6)) {
            memcpy(a, v6->s6_addr + 12, 4);
            return AF_INET;
        }
        memcpy(a, v6->s6_addr, 16);
        return AF_INET6;
    }
    return 0;
}

static int ip_equal(int fa, const unsigned char *a, int fb, const unsigned char *b)
{
    return fa == fb && fa && memcmp(a, b, fa == AF_INET ? 4 : 16) == 0;
}

static int ip_is_any(int f, const unsigned char *a)
{
    static const unsigned char zero[16];
    return f && memcmp(a, zero, f == AF_INET ? 4 : 16) == 0;
}

/* 1 when address a (family f) is one of this host's: bind() says so. */
static int ip_is_local(int f, const unsigned char *a)
{
    if ((f == AF_INET && a[0] == 127) ||
        (f == AF_INET6 && IN6_IS_ADDR_LOOPBACK((const struct in6_addr *)(const void *)a)))
        return 1;
    sk_addr_t x;
    memset(&x, 0, sizeof x);
    x.ss.ss_family = (sa_family_t)f;
    if (f == AF_INET) {
        memcpy(&((struct sockaddr_in *)&x.ss)->sin_addr, a, 4);
        x.len = sizeof(struct sockaddr_in);
    } else {
        memcpy(&((struct sockaddr_in6 *)&x.ss)->sin6_addr, a, 16);
        x.len = sizeof(struct sockaddr_in6);
    }
    int fd = socket(f, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    int local = bind(fd, (struct sockaddr *)&x.ss, x.len) == 0 || errno != EADDRNOTAVAIL;
    close(fd);
    return local;
}

/* 1 when a reply to `from` would come back to one of this server's listeners: the loop a
 * datagram spoofed with our own address as its source would start. `to` is the address
 * it arrived at (family 0 when unknown). */
static int from_ourselves(const sk_server_t *s, const sk_addr_t *from, const sk_addr_t *to)
{
    unsigned char fa[16], ta[16], la[16];
    int ff = ip_bytes(from, fa), tf = ip_bytes(to, ta);
    int port = sk_addr_port(from), local = -1;
    for (size_t i = 0; i < s->nl; i++) {
        int lf = ip_bytes(&s->laddr[i], la);
        if (lf == 0 || sk_addr_port(&s->laddr[i]) != port) continue;
        if (ip_equal(ff, fa, lf, la)) return 1;
        if (!ip_is_any(lf, la) || (lf != ff && lf != AF_INET6)) continue;
        if (ip_equal(ff, fa, tf, ta)) return 1; /* sent "from" where it arrived */
        if (local < 0) local = ip_is_local(ff, fa);
        if (local) return 1;
    }
    return 0;
}

/* A source no reply may go to, and why (NULL: none). A privileged port is another
 * server's, perhaps echo: the replies would bounce for ever (inetd's rule); our own
 * listening address is the loop with ourselves; a multicast or broadcast source is no
 * sender at all; an unnamed Unix socket cannot receive. */
static const char *no_reply_reason(const sk_server_t *s, const sk_addr_t *from,
                                   const sk_addr_t *to)
{
    int family = sk_addr_family(from);
    if (family == AF_INET || family == AF_INET6) {
        unsigned char a[16];
        int f = ip_bytes(from, a);
        if (sk_addr_port(from) < 1024) return "source port below 1024, no reply (loop guard)";
        if ((f == AF_INET && (a[0] >= 224 || ip_is_any(f, a))) || (f == AF_INET6 && a[0] == 0xff))
            return "multicast or broadcast source, no reply (loop guard)";
        if (from_ourselves(s, from, to))
            return "source is this server's own address, no reply (loop guard)";
        return NULL;
    }
    char path[SK_ADDRSTRLEN];
    if (family == AF_UNIX && sk_addr_host(from, path, sizeof path) > 0) return NULL;
    return "unnamed sender, no reply possible"; /* Linux gives an unbound socket no name */
}

/*
 * Reply limits: a token bucket per source address (any port: a reflection's victim is an
 * address, and a loop's other end one address too) of one datagram socket, in a table of
 * RATE_SLOTS. A source is looked for in RATE_PROBE slots from its hash; a new source takes
 * a free slot there or the one idle longest. Loopback sources are exempt unless the rate
 * was set explicitly: the kernel drops a 127/8 or ::1 source arriving from a network, so
 * only this host's root could spoof one, and a local benchmark should not be throttled.
 * Only the socket's serving thread touches its table (run() for the blocking models, one
 * worker for the loop).
 */
#define RATE_SLOTS 256
#define RATE_PROBE 8

struct rate_slot {
    unsigned char addr[16];
    uint8_t family; /* 0: free */
    double tokens;
    int64_t last; /* monotonic ns of the last refill */
};

struct sk__rate_table {
    struct rate_slot slot[RATE_SLOTS];
};

/* 1 when a reply to `from` is within its rate (and take a token), 0 to drop it. */
static int reply_allowed(sk_server_t *s, struct sk__rate_table *t, const sk_addr_t *from)
{
    unsigned char a[16];
    int f = ip_bytes(from, a);
    if (!t || f == 0 || s->o.reply_rate < 0) return 1;
    size_t alen = f == AF_INET ? 4 : 16;
    static const unsigned char v6_loopback[16] = {[15] = 1};
    if (!s->rate_loopback && (f == AF_INET ? a[0] == 127 : memcmp(a, v6_loopback, 16) == 0))
        return 1;
    uint32_t h = 2166136261u; /* FNV-1a of the address */
    for (size_t i = 0; i < alen; i++)
        h = (h ^ a[i]) * 16777619u;
    int64_t now = sk__now_ns();
    struct rate_slot *use = NULL, *victim = NULL; /* a free slot, else the idlest */
    for (size_t i = 0; i < RATE_PROBE && !use; i++) {
        struct rate_slot *r = &t->slot[(h + i) % RATE_SLOTS];
        if (r->family == f && memcmp(r->addr, a, alen) == 0)
            use = r;
        else if (!victim || (victim->family && (r->family == 0 || r->last < victim->last)))
            victim = r;
    }
    if (!use) { /* a new source: a full bucket */
        use = victim;
        memset(use, 0, sizeof *use);
        memcpy(use->addr, a, alen);
        use->family = (uint8_t)f;
        use->tokens = s->o.reply_burst;
        use->last = now;
    }
    use->tokens += (double)(now - use->last) * s->o.reply_rate / 1e9;
    if (use->tokens > s->o.reply_burst) use->tokens = s->o.reply_burst;
    use->last = now;
    if (use->tokens < 1) return 0;
    use->tokens -= 1;
    return 1;
}

/* The local address a datagram arrived at, carried as the control data of its reply, so
 * that the reply leaves from the address the client sent to. A listener on every address
 * would otherwise answer from the kernel's choice of source, and a client whose socket is
 * connected (sockit connect --udp, nc -u) drops a reply from any other address. */
union dgram_ctl {
    char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct cmsghdr align;
};

/* A new IP datagram listener (index `index`): the arrival address of every datagram
 * (IP_PKTINFO / IPV6_RECVPKTINFO), the replies' hop limit (o.ttl), and its table of reply
 * limits. Returns 0, or a negative code with "setsockopt ADDR: reason" in err. */
static int datagram_setup(sk_server_t *s, int fd, size_t index, char *err)
{
    sk_addr_t a;
    int on = 1, ttl = s->o.ttl, r = 0;
    if (sk_getsockname(fd, &a) < 0) return 0;
    int family = sk_addr_family(&a);
    if (family == AF_INET) {
        setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof on);
        if (ttl > 0 && (setsockopt(fd, IPPROTO_IP, IP_TTL, &ttl, sizeof ttl) < 0 ||
                        setsockopt(fd, IPPROTO_IP, IP_MULTICAST_TTL, &ttl, sizeof ttl) < 0))
            r = -errno;
    } else if (family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
        if (ttl > 0 &&
            (setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &ttl, sizeof ttl) < 0 ||
             setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &ttl, sizeof ttl) < 0))
            r = -errno;
    } else {
        return 0;
    }
    char as[SK_ADDRSTRLEN];
    if (r < 0) {
        sk__set_err(err, "setsockopt %s: TTL %d: %s", sk_addr_str(&a, as), ttl, sk_strerror(r));
        return r;
    }
    if (s->o.reply_rate >= 0 && !s->rates[index] &&
        !(s->rates[index] = calloc(1, sizeof *s->rates[index]))) {
        sk__set_err(err, "listen %s: %s", sk_addr_str(&a, as), sk_strerror(-ENOMEM));
        return -ENOMEM;
    }
    return 0;
}

/* Read one datagram without waiting: its length (the real one, MSG_TRUNC), -EAGAIN or
 * another -errno. *from gets the sender, *to the address it was sent to (family 0 when
 * unknown); ctl and *ctllen the control data for the reply (*ctllen 0: none, the kernel
 * picks the source). */
static ssize_t recv_datagram(int fd, char *in, sk_addr_t *from, sk_addr_t *to,
                             union dgram_ctl *ctl, size_t *ctllen)
{
    union dgram_ctl got;
    struct iovec iov = {.iov_base = in, .iov_len = SK__DGRAM_BUF};
    struct msghdr m = {.msg_name = &from->ss,
                       .msg_namelen = sizeof from->ss,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = got.buf,
                       .msg_controllen = sizeof got.buf};
    ssize_t n;
    do
        n = SK_SYS(recvmsg)(fd, &m, MSG_TRUNC | MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    from->len = m.msg_namelen;
    memset(to, 0, sizeof *to);
    *ctllen = 0;
    memset(ctl, 0, sizeof *ctl);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        struct cmsghdr *out = (struct cmsghdr *)ctl->buf;
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            struct sockaddr_in *t4 = (struct sockaddr_in *)&to->ss;
            t4->sin_family = AF_INET;
            t4->sin_addr = pi.ipi_addr; /* the header's destination */
            to->len = sizeof *t4;
            pi.ipi_ifindex = 0; /* ipi_spec_dst: our address for the packet; any route */
            pi.ipi_addr.s_addr = 0;
            out->cmsg_level = IPPROTO_IP;
            out->cmsg_type = IP_PKTINFO;
            out->cmsg_len = CMSG_LEN(sizeof pi);
            memcpy(CMSG_DATA(out), &pi, sizeof pi);
            *ctllen = CMSG_SPACE(sizeof pi);
        } else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo pi;
            memcpy(&pi, CMSG_DATA(c), sizeof pi);
            struct sockaddr_in6 *t6 = (struct sockaddr_in6 *)&to->ss;
            t6->sin6_family = AF_INET6;
            t6->sin6_addr = pi.ipi6_addr;
            to->len = sizeof *t6;
            if (IN6_IS_ADDR_MULTICAST(&pi.ipi6_addr))
                pi.ipi6_addr = in6addr_any; /* not a source: keep the interface only */
            out->cmsg_level = IPPROTO_IPV6;
            out->cmsg_type = IPV6_PKTINFO;
            out->cmsg_len = CMSG_LEN(sizeof pi);
            memcpy(CMSG_DATA(out), &pi, sizeof pi);
            *ctllen = CMSG_SPACE(sizeof pi);
        }
    }
    return n;
}

/* Send one reply without waiting: the bytes sent, or -errno (-EAGAIN: no room, dropped as
 * UDP may). */
static ssize_t send_reply(int fd, char *out, size_t n, sk_addr_t *to, union dgram_ctl *ctl,
                          size_t ctllen)
{
    struct iovec iov = {.iov_base = out, .iov_len = n};
    struct msghdr m = {.msg_name = &to->ss,
                       .msg_namelen = to->len,
                       .msg_iov = &iov,
                       .msg_iovlen = 1,
                       .msg_control = ctllen ? ctl->buf : NULL,
                       .msg_controllen = ctllen};
    ssize_t w;
    do
        w = SK_SYS(sendmsg)(fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
    if (w < 0) return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    return w;
}

void sk__serve_datagrams(sk_server_t *s, int fd, char *in, char *out)
{
    struct sk__rate_table *rates = NULL;
    for (size_t i = 0; i < s->nl; i++)
        if (s->lfd[i] == fd) rates = s->rates[i];
    for (int i = 0; i < DGRAM_BATCH && !s->stopping; i++) {
        sk_addr_t from, to;
        union dgram_ctl ctl;
        size_t ctllen = 0;
        ssize_t n = recv_datagram(fd, in, &from, &to, &ctl, &ctllen);
        if (n == -EAGAIN) return;
        if (n < 0) continue; /* an ICMP error for an earlier reply: nothing to do */
        char as[SK_ADDRSTRLEN];
        const char *why = n > SK_DGRAM_MAX ? "too long, dropped" : no_reply_reason(s, &from, &to);
        if (why) {
            sk__server_log(s, "Datagram from %s (%zd bytes): %s", sk_addr_str(&from, as), n, why);
            continue;
        }
        s->datagrams++;
        s->bytes_in += (unsigned long long)n;
        sk__tap(s, &from, 0, 0, in, (size_t)n);
        long r = s->o.service->on_datagram(&s->o.conf, in, (size_t)n, out, SK_DGRAM_MAX);
        if (r >= 0 && !reply_allowed(s, rates, &from)) {
            sk__server_log(s, "Datagram from %s (%zd bytes): over %g replies a second to one "
                              "source, no reply (loop guard)", sk_addr_str(&from, as), n,
                           s->o.reply_rate);
            continue;
        }
        sk__server_log(s, "Datagram from %s (%zd bytes)", sk_addr_str(&from, as), n);
        if (r < 0) continue;
        /* Counted before it goes: a client that has its reply may ask for the totals. */
        s->bytes_out += (unsigned long long)r;
        ssize_t w = send_reply(fd, out, (size_t)r, &from, &ctl, ctllen);
        if (w >= 0) {
            sk__tap(s, &from, 1, 0, out, (size_t)w);
            continue;
        }
        s->bytes_out -= (unsigned long long)r;
        if (w != -EAGAIN) /* a full buffer drops the reply, as UDP may */
            sk__server_log(s, "sendto %s: %s", as, sk_strerror((int)w));
    }
}

int sk_server_run(sk_server_t *s)
{
    if (s->nl == 0) return SK_EBADARG;
    if (s->o.model == SK_MODEL_LOOP) return sk__run_loop_model(s);
    struct sigaction sa, oldsa;
    int fork_model = s->o.model == SK_MODEL_FORK;
    if (fork_model && !s->kidtot) {
        void *m = mmap(NULL, sizeof *s->kidtot, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                       -1, 0);
        if (m == MAP_FAILED) return -errno;
        s->kidtot = m; /* zeroed */
    }
    if (fork_model) {
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_sigchld;
        sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
        sigemptyset(&sa.sa_mask);
        sigchld_fd = s->wake[1];
        sigaction(SIGCHLD, &sa, &oldsa);
    }

    struct pollfd pfd[1 + SK__MAX_LISTENERS];
    int backoff = 0, ret = 0;
    while (!s->stopping) {
        size_t n = 0;
        pfd[n++] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
        int busy = s->o.model == SK_MODEL_ITERATIVE && session_count(s) > 0;
        if (!busy && !backoff)
            for (size_t i = 0; i < s->nl; i++)
                pfd[n++] = (struct pollfd){.fd = s->lfd[i], .events = POLLIN};
        int r = SK_SYS(poll)(pfd, n, backoff ? ACCEPT_BACKOFF_MS : -1);
        if (r < 0 && errno != EINTR) {
            ret = -errno;
            break;
        }
        backoff = 0;
        if (r <= 0) continue;
        if (pfd[0].revents) {
            char buf[64];
            while (read(s->wake[0], buf, sizeof buf) > 0) {
            }
            if (fork_model) reap(s);
            sk__maybe_report(s);
        }
        for (size_t i = 1; i < n && !s->stopping; i++)
            if (!pfd[i].revents)
                continue;
            else if (s->o.socktype == SOCK_DGRAM)
                sk__serve_datagrams(s, pfd[i].fd, s->dgram_in, s->dgram_out);
            else if (accept_some(s, pfd[i].fd) < 0)
                backoff = 1;
    }

    /* Stop: refuse new clients at once, then drain and end every session. */
    for (size_t i = 0; i < s->nl; i++)
        sk_close(s->lfd[i]);
    s->nl = 0;
    sk__log_stopping(s);
    if (fork_model) {
        stop_children(s);
        sigaction(SIGCHLD, &oldsa, NULL);
        sigchld_fd = -1;
    } else {
        stop_threads(s);
    }
    return ret;
}
