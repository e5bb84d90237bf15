/*
 * test_server.c: the library server in-process (sockit/server.h). For every model:
 * sk_server_run() on 127.0.0.1:0 in a thread, 50 concurrent clients doing byte-exact echo,
 * sk_server_stop() from another thread, and what stopping must do to idle sessions and to
 * new clients. The fork model forks from the test's own process, which the runner has
 * already isolated (and whose process group it kills afterwards).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockit/error.h"
#include "sockit/server.h"
#include "sockit/sock.h"
#include "t.h"

#define NCLIENTS 50
#define ECHO_BYTES (64 * 1024)
#define CHUNK 8192
/* How long run() may take to return after a stop. */
#define STOP_MAX_S 5.0

/* ---- a server running in a thread ---- */

struct running {
    sk_server_t *srv;
    pthread_t th;
    int rc;
    sk_addr_t addr;
    char text[64]; /* "127.0.0.1:PORT" */
};

static void *run_main(void *arg)
{
    struct running *r = arg;
    r->rc = sk_server_run(r->srv);
    return NULL;
}

static void start_server_opts(struct running *r, const sk_server_opts_t *o)
{
    memset(r, 0, sizeof *r);
    r->rc = -12345;
    T_OK(sk_server_new(&r->srv, o));
    char err[SK_ERRLEN] = "";
    int n = sk_server_listen(r->srv, "127.0.0.1:0", err);
    if (n != 1) T_FAIL("sk_server_listen(\"127.0.0.1:0\") = %d: %s", n, err);
    T_EQ_INT(sk_server_listener_count(r->srv), 1);
    T_OK(sk_server_listener_addr(r->srv, 0, &r->addr));
    T_GT_INT(sk_addr_port(&r->addr), 0);
    snprintf(r->text, sizeof r->text, "127.0.0.1:%d", sk_addr_port(&r->addr));
    T_EQ_INT(pthread_create(&r->th, NULL, run_main, r), 0);
}

static void start_server(struct running *r, sk_model_t model, const sk_service_t *svc)
{
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = svc;
    o.model = model;
    start_server_opts(r, &o);
}

/* Join the run() thread within max_s seconds; fail if it does not return. */
static void join_run(struct running *r, double max_s)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)max_s;
    until.tv_nsec += (long)((max_s - (double)(time_t)max_s) * 1e9);
    if (until.tv_nsec >= 1000000000) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000;
    }
    int e = pthread_timedjoin_np(r->th, NULL, &until);
    if (e == ETIMEDOUT)
        T_FAIL("sk_server_run() did not return within %g s of sk_server_stop()", max_s);
    T_EQ_INT(e, 0);
}

/* Stop from this thread (not the one in run()), check run() returns 0 promptly and that
 * the port then refuses connections, and free the server. */
/* Whether this process still has a listening socket on TCP port `port`. */
static int has_listener_on(int port)
{
    for (int fd = 3; fd < 1024; fd++) {
        int on = 0;
        socklen_t len = sizeof on;
        sk_addr_t a;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) == 0 && on &&
            sk_getsockname(fd, &a) == 0 && sk_addr_port(&a) == port)
            return 1;
    }
    return 0;
}

static void stop_server(struct running *r)
{
    double t0 = t_now();
    sk_server_stop(r->srv);
    join_run(r, STOP_MAX_S);
    double dt = t_now() - t0;
    T_EQ_INT(r->rc, 0);
    T_LT_INT(dt * 1000, STOP_MAX_S * 1000);
    char err[SK_ERRLEN] = "";
    int c = sk_create_connection(r->text, 2.0, NULL, err);
    if (c >= 0) {
        /* Linux may pick the closed port itself as the ephemeral source port: a TCP
         * simultaneous open connects the socket to itself. That is not a listener. */
        sk_addr_t me, peer;
        T_OK(sk_getsockname(c, &me));
        T_OK(sk_getpeername(c, &peer));
        sk_close(c);
        c = sk_addr_equal(&me, &peer) ? -ECONNREFUSED : c;
        /* Another test running in parallel may have been given the freed port for its
         * own listener: what matters is that no listener of ours is left. */
        if (c >= 0 && !has_listener_on(sk_addr_port(&peer))) c = -ECONNREFUSED;
    }
    if (c != -ECONNREFUSED)
        T_FAIL("connect to %s after stop: %d (%s), want -ECONNREFUSED", r->text, c, err);
    sk_server_free(r->srv);
}

static int connect_to(const struct running *r, double timeout)
{
    char err[SK_ERRLEN] = "";
    int c = sk_create_connection(r->text, timeout, NULL, err);
    if (c < 0) T_FAIL("connect %s: %d: %s", r->text, c, err);
    return c;
}

/* One echo round trip of n bytes of stream `seed` at offset off. */
static void echo_round(int c, size_t n, uint64_t seed, uint64_t off, int id)
{
    unsigned char out[CHUNK], in[CHUNK];
    T_LE_INT(n, CHUNK);
    t_pattern(out, n, seed, off);
    ssize_t r = sk_sendall(c, out, n, NULL);
    if (r != (ssize_t)n)
        T_FAIL("client %d: sendall at %llu: %zd (%s)", id, (unsigned long long)off, r,
               sk_strerror((int)r));
    size_t got = 0;
    r = sk_recv_exact(c, in, n, &got);
    if (r != (ssize_t)n)
        T_FAIL("client %d: recv_exact at %llu: %zd (%s), got %zu of %zu", id,
               (unsigned long long)off, r, sk_strerror((int)r), got, n);
    T_EQ_MEM(in, out, n);
}

/* ---- 50 concurrent echo clients ---- */

struct client {
    int id;
    const struct running *srv;
    pthread_barrier_t *all_connected;
    size_t echoed;
};

static void *client_main(void *arg)
{
    struct client *cl = arg;
    int c = connect_to(cl->srv, 20.0);
    /* Every client is connected before any sends: 50 sessions at once (or queued). */
    pthread_barrier_wait(cl->all_connected);
    size_t total = ECHO_BYTES + (size_t)cl->id * 13; /* not all the same length */
    uint64_t seed = 1000 + (uint64_t)cl->id;
    for (size_t off = 0; off < total;) {
        size_t n = total - off < CHUNK ? total - off : CHUNK;
        echo_round(c, n, seed, off, cl->id);
        off += n;
    }
    /* End the session: our FIN, then the server's. Nothing extra arrives. */
    T_OK(sk_shutdown(c, SHUT_WR));
    char extra;
    ssize_t r = sk_recv(c, &extra, 1);
    if (r != 0)
        T_FAIL("client %d: after the echo: %zd (%s), want end of stream", cl->id, r,
               r < 0 ? sk_strerror((int)r) : "a stray byte");
    sk_close(c);
    cl->echoed = total;
    return NULL;
}

static void echo_many(sk_model_t model)
{
    struct running r;
    start_server(&r, model, &sk_service_echo);
    pthread_barrier_t bar;
    T_EQ_INT(pthread_barrier_init(&bar, NULL, NCLIENTS), 0);
    struct client cl[NCLIENTS];
    pthread_t th[NCLIENTS];
    double t0 = t_now();
    for (int i = 0; i < NCLIENTS; i++) {
        cl[i] = (struct client){.id = i, .srv = &r, .all_connected = &bar, .echoed = 0};
        T_EQ_INT(pthread_create(&th[i], NULL, client_main, &cl[i]), 0);
    }
    for (int i = 0; i < NCLIENTS; i++)
        T_EQ_INT(pthread_join(th[i], NULL), 0);
    for (int i = 0; i < NCLIENTS; i++)
        T_EQ_INT(cl[i].echoed, ECHO_BYTES + (size_t)i * 13);
    t_note("%s: %d clients echoed in %.2f s", sk_model_name(model), NCLIENTS, t_now() - t0);
    pthread_barrier_destroy(&bar);
    stop_server(&r);
}

TEST_TIMEOUT(iterative_echo_50_clients_then_stop, 30)
{
    echo_many(SK_MODEL_ITERATIVE);
}

TEST_TIMEOUT(thread_echo_50_clients_then_stop, 30)
{
    echo_many(SK_MODEL_THREAD);
}

TEST_TIMEOUT(fork_echo_50_clients_then_stop, 30)
{
    echo_many(SK_MODEL_FORK);
}

/* ---- stopping with an idle client ---- */

static void stop_ends_idle_session(sk_model_t model)
{
    struct running r;
    start_server(&r, model, &sk_service_echo);
    int c = connect_to(&r, 10.0);
    echo_round(c, 1, 7, 0, 0); /* the session is running */
    double t0 = t_now();
    sk_server_stop(r.srv);
    char buf[8];
    ssize_t n = sk_recv(c, buf, sizeof buf);
    if (n != 0)
        T_FAIL("%s: idle client after stop: %zd (%s), want end of stream", sk_model_name(model), n,
               n < 0 ? sk_strerror((int)n) : "data");
    T_LT_INT((t_now() - t0) * 1000, STOP_MAX_S * 1000);
    join_run(&r, STOP_MAX_S);
    T_EQ_INT(r.rc, 0);
    sk_close(c);
    sk_server_free(r.srv);
}

TEST_TIMEOUT(iterative_stop_ends_idle_session, 20)
{
    stop_ends_idle_session(SK_MODEL_ITERATIVE);
}

TEST_TIMEOUT(thread_stop_ends_idle_session, 20)
{
    stop_ends_idle_session(SK_MODEL_THREAD);
}

TEST_TIMEOUT(fork_stop_ends_idle_session, 20)
{
    stop_ends_idle_session(SK_MODEL_FORK);
}

/* ---- the models' other promises ---- */

TEST_TIMEOUT(iterative_serves_one_client_at_a_time, 20)
{
    struct running r;
    start_server(&r, SK_MODEL_ITERATIVE, &sk_service_echo);
    int a = connect_to(&r, 10.0);
    echo_round(a, 100, 1, 0, 1);
    int b = connect_to(&r, 0.3); /* connected: it waits in the backlog */
    T_EQ_INT(sk_sendall(b, "b", 1, NULL), 1);
    char c;
    T_EQ_INT(sk_recv(b, &c, 1), -ETIMEDOUT); /* not served while a is */
    echo_round(a, 100, 1, 100, 1);
    sk_close(a); /* now b's turn */
    T_OK(sk_settimeout(b, 5.0));
    T_EQ_INT(sk_recv(b, &c, 1), 1);
    T_EQ_INT(c, 'b');
    sk_close(b);
    stop_server(&r);
}

/* A service that tells the client which process serves it. */
static int pid_open(sk_session_t *s)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%ld\n", (long)getpid());
    int r = sk_session_write(s, line, (size_t)n);
    sk_session_close(s);
    return r;
}

static const sk_service_t pid_service = {
    .name = "pid",
    .summary = "the server process id",
    .on_open = pid_open,
};

static long served_by(const struct running *r)
{
    int c = connect_to(r, 5.0);
    char buf[32];
    size_t got = 0;
    while (got < sizeof buf - 1) {
        ssize_t n = sk_recv(c, buf + got, sizeof buf - 1 - got);
        T_GE_INT(n, 0);
        if (n == 0) break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    sk_close(c);
    T_ASSERT(got > 1 && buf[got - 1] == '\n');
    return strtol(buf, NULL, 10);
}

TEST_TIMEOUT(models_serve_in_the_right_process, 20)
{
    static const sk_model_t models[] = {SK_MODEL_ITERATIVE, SK_MODEL_THREAD, SK_MODEL_FORK};
    for (size_t i = 0; i < 3; i++) {
        struct running r;
        start_server(&r, models[i], &pid_service);
        long p1 = served_by(&r), p2 = served_by(&r);
        if (models[i] == SK_MODEL_FORK) {
            T_NE_INT(p1, getpid());
            T_NE_INT(p2, getpid());
            T_NE_INT(p1, p2); /* a child per connection */
        } else {
            T_EQ_INT(p1, getpid());
            T_EQ_INT(p2, getpid());
        }
        stop_server(&r);
    }
}

static volatile sig_atomic_t my_sigchld;
static void my_sigchld_handler(int sig)
{
    (void)sig;
    my_sigchld++;
}

TEST_TIMEOUT(fork_model_leaves_other_children_and_sigchld_alone, 20)
{
    /* Our own SIGCHLD handler, and a child of our own that exits while the server runs:
     * the server must reap only its children and give SIGCHLD back. */
    struct sigaction sa, cur;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = my_sigchld_handler;
    sigemptyset(&sa.sa_mask);
    T_EQ_INT(sigaction(SIGCHLD, &sa, NULL), 0);

    struct running r;
    start_server(&r, SK_MODEL_FORK, &sk_service_echo);
    int c = connect_to(&r, 5.0);
    echo_round(c, 10, 3, 0, 0); /* run() is up and has forked once */
    pid_t mine = fork();
    T_GE_INT(mine, 0);
    if (mine == 0) _exit(7);
    echo_round(c, 10, 3, 10, 0);
    sk_close(c);
    for (int i = 0; i < 3; i++) { /* more server children come and go */
        int d = connect_to(&r, 5.0);
        echo_round(d, 10, 4, 0, i);
        sk_close(d);
    }
    stop_server(&r);

    int status = 0;
    pid_t w = waitpid(mine, &status, 0);
    if (w != mine)
        T_FAIL("waitpid(our child %ld) = %ld (%s): the server reaped a child not its own",
               (long)mine, (long)w, strerror(errno));
    T_ASSERT(WIFEXITED(status));
    T_EQ_INT(WEXITSTATUS(status), 7);
    T_EQ_INT(sigaction(SIGCHLD, NULL, &cur), 0);
    T_ASSERT(cur.sa_handler == my_sigchld_handler);
}

/* ---- a session that outlives run() ---- */

/* The descriptor in this process that is the server end of client socket c, or -1. */
static int server_end_of(int c)
{
    sk_addr_t me;
    T_OK(sk_getsockname(c, &me));
    for (int fd = 3; fd < 1024; fd++) {
        sk_addr_t peer;
        if (fd != c && sk_getpeername(fd, &peer) == 0 && sk_addr_equal(&peer, &me)) return fd;
    }
    return -1;
}

/* The write end of the one non-blocking pipe of this process (the server's wake-up pipe,
 * made with O_NONBLOCK by sk_server_new), or -1. */
static int wake_pipe_write_end(void)
{
    int found = -1;
    for (int fd = 3; fd < 1024; fd++) {
        char link[64], path[32];
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        ssize_t n = readlink(path, link, sizeof link - 1);
        if (n <= 0) continue;
        link[n] = '\0';
        int fl = fcntl(fd, F_GETFL);
        if (strncmp(link, "pipe:", 5) == 0 && fl >= 0 && (fl & O_NONBLOCK) &&
            (fl & O_ACCMODE) == O_WRONLY) {
            T_EQ_INT(found, -1);
            found = fd;
        }
    }
    return found;
}

/*
 * server.h: after stop, run() "ends every session (thread: shuts the sockets down and joins
 * the threads ...) and returns 0", and then the caller may sk_server_free(). So no session
 * thread may touch the server after run() has returned. Here the last step of a session,
 * close(2), is made slow on purpose (SO_LINGER on a socket whose peer's window is full: a
 * chargen session to a client that never reads), to see what the thread does after it.
 * Afterwards the old number of the server's wake-up pipe is given to a pipe of ours: any
 * byte arriving there was written through the freed server.
 */
TEST_TIMEOUT(thread_session_does_not_touch_the_server_after_run_returns, 20)
{
    struct running r;
    start_server(&r, SK_MODEL_THREAD, &sk_service_chargen);
    int c = sk_socket(AF_INET, SOCK_STREAM, 0);
    T_OK(c);
    T_OK(sk_setsockopt_int(c, SOL_SOCKET, SO_RCVBUF, 4096)); /* fills fast, no autotuning */
    T_OK(sk_connect(c, &r.addr));

    /* Wait (bounded) until the client's window is full: the amount queued stops growing. */
    int queued = -1, stable = 0;
    double t0 = t_now();
    while (stable < 5 && t_now() - t0 < 5) {
        int q = 0;
        T_EQ_INT(ioctl(c, FIONREAD, &q), 0);
        stable = q > 0 && q == queued ? stable + 1 : 0;
        queued = q;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL); /* watching for the absence of change: no event to wait on */
    }
    T_EQ_INT(stable, 5);
    int s = server_end_of(c);
    T_GE_INT(s, 0);
    struct linger lg = {1, 1}; /* close() on the session socket now takes ~1 s */
    T_EQ_INT(setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    int wfd = wake_pipe_write_end();
    T_GE_INT(wfd, 0);

    sk_server_stop(r.srv);
    join_run(&r, STOP_MAX_S);
    T_EQ_INT(r.rc, 0);
    sk_server_free(r.srv);
    /* The freed server's wake-up descriptor number now belongs to us. */
    int p[2];
    T_EQ_INT(pipe(p), 0);
    T_EQ_INT(dup2(p[1], wfd), wfd);
    struct pollfd pf = {.fd = p[0], .events = POLLIN};
    int ready = poll(&pf, 1, 1500);
    if (ready == 1)
        T_FAIL("a session thread wrote to fd %d (the server's wake-up pipe) after "
               "sk_server_run() had returned and sk_server_free() had freed the server: "
               "session_main() calls wake(s) after unregistering",
               wfd);
    T_EQ_INT(ready, 0);
    sk_close(c);
}

/* ---- life cycle and arguments ---- */

TEST(stop_before_run_returns_at_once)
{
    struct running r;
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = SK_MODEL_THREAD;
    T_OK(sk_server_new(&r.srv, &o));
    T_EQ_INT(sk_server_listen(r.srv, "127.0.0.1:0", NULL), 1);
    sk_server_stop(r.srv);
    double t0 = t_now();
    T_EQ_INT(sk_server_run(r.srv), 0);
    T_LT_INT((t_now() - t0) * 1000, 2000);
    sk_server_free(r.srv);
}

TEST(server_arguments)
{
    sk_server_t *srv = NULL;
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    T_EQ_INT(sk_server_new(&srv, &o), SK_EBADARG); /* no service */
    T_EQ_INT(sk_server_new(&srv, NULL), SK_EBADARG);
    o.service = &sk_service_echo;
    T_OK(sk_server_new(&srv, &o));
    T_EQ_INT(sk_server_run(srv), SK_EBADARG); /* no listeners */
    sk_addr_t a;
    T_EQ_INT(sk_server_listener_addr(srv, 0, &a), SK_EBADARG);
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_server_listen(srv, "127.0.0.1:99999", err), SK_EBADPORT);
    T_EQ_STR(err, "invalid port '99999'");
    T_EQ_INT(sk_server_listener_count(srv), 0);
    sk_server_free(srv);
    sk_server_free(NULL);
}

TEST(server_listen_in_use)
{
    struct running r;
    start_server(&r, SK_MODEL_THREAD, &sk_service_echo);
    sk_server_t *other;
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    T_OK(sk_server_new(&other, &o));
    char err[SK_ERRLEN] = "", want[SK_ERRLEN];
    snprintf(want, sizeof want, "bind %s: Address already in use", r.text);
    T_EQ_INT(sk_server_listen(other, r.text, err), -EADDRINUSE);
    T_EQ_STR(err, want);
    sk_server_free(other);
    stop_server(&r);
}

TEST(model_names)
{
    static const struct {
        const char *name;
        sk_model_t model;
    } m[] = {
        {"iterative", SK_MODEL_ITERATIVE}, {"thread", SK_MODEL_THREAD}, {"fork", SK_MODEL_FORK}};
    for (size_t i = 0; i < 3; i++) {
        sk_model_t got = (sk_model_t)99;
        T_EQ_INT(sk_model_parse(m[i].name, &got), 0);
        T_EQ_INT(got, m[i].model);
        T_EQ_STR(sk_model_name(m[i].model), m[i].name);
    }
    sk_model_t got = SK_MODEL_THREAD;
    T_EQ_INT(sk_model_parse("threads", &got), SK_EBADARG);
    T_EQ_INT(sk_model_parse("", &got), SK_EBADARG);
    T_EQ_INT(sk_model_parse("Fork", &got), SK_EBADARG);
    T_EQ_INT(got, SK_MODEL_THREAD);
    T_EQ_STR(sk_model_name((sk_model_t)42), "unknown");
}

/* ---- the log ---- */

struct log_capture {
    pthread_mutex_t mu;
    char lines[8][256];
    int n;
};

static void log_line(void *ctx, const char *line)
{
    struct log_capture *lc = ctx;
    pthread_mutex_lock(&lc->mu);
    if (lc->n < 8) snprintf(lc->lines[lc->n++], sizeof lc->lines[0], "%s", line);
    pthread_mutex_unlock(&lc->mu);
}

TEST(log_names_the_client)
{
    struct log_capture lc = {.mu = PTHREAD_MUTEX_INITIALIZER, .n = 0};
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = SK_MODEL_THREAD;
    o.log = log_line;
    o.log_ctx = &lc;
    struct running r;
    start_server_opts(&r, &o);
    int c = connect_to(&r, 5.0);
    echo_round(c, 5, 9, 0, 0); /* accepted and logged by now */
    sk_addr_t me;
    T_OK(sk_getsockname(c, &me));
    char want[SK_ERRLEN], as[SK_ADDRSTRLEN];
    snprintf(want, sizeof want, "Connection received on %s", sk_addr_str(&me, as));
    sk_close(c);
    stop_server(&r);
    T_GE_INT(lc.n, 1);
    T_EQ_STR(lc.lines[0], want);
    for (int i = 0; i < lc.n; i++)
        T_ASSERT(strchr(lc.lines[i], '\n') == NULL); /* lines come without a newline */
}

/* ---- the tap (serve --hex-dump) ---- */

struct tap_capture {
    pthread_mutex_t mu;
    unsigned long long next[2]; /* the next offset expected, received / sent */
    int gaps;                   /* chunks that did not follow on */
    unsigned char sent_last;    /* the last byte sent, for a content check */
};

static void tap_chunk(void *ctx, const sk_addr_t *peer, int sent, unsigned long long offset,
                      const void *data, size_t len)
{
    struct tap_capture *tc = ctx;
    (void)peer;
    pthread_mutex_lock(&tc->mu);
    if (offset != tc->next[sent])
        tc->gaps++;
    tc->next[sent] = offset + len;
    if (sent)
        tc->sent_last = ((const unsigned char *)data)[len - 1];
    pthread_mutex_unlock(&tc->mu);
}

/* Every byte each way reaches the tap exactly once, at consecutive stream offsets. */
static void tap_sees_every_byte(sk_model_t model)
{
    struct tap_capture tc = {.mu = PTHREAD_MUTEX_INITIALIZER};
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = model;
    o.tap = tap_chunk;
    o.tap_ctx = &tc;
    struct running r;
    start_server_opts(&r, &o);
    int c = connect_to(&r, 5.0);
    for (uint64_t off = 0; off < 100000; off += CHUNK)
        echo_round(c, CHUNK, 42, off, 0);
    T_OK(sk_shutdown(c, SHUT_WR));
    char extra;
    T_EQ_INT(sk_recv(c, &extra, 1), 0);
    sk_close(c);
    stop_server(&r);
    size_t total = ((100000 + CHUNK - 1) / CHUNK) * CHUNK;
    T_EQ_INT(tc.next[0], total);
    T_EQ_INT(tc.next[1], total);
    T_EQ_INT(tc.gaps, 0);
    unsigned char want[CHUNK];
    t_pattern(want, CHUNK, 42, total - CHUNK);
    T_EQ_INT(tc.sent_last, want[CHUNK - 1]);
}

TEST(tap_loop) { tap_sees_every_byte(SK_MODEL_LOOP); }
TEST(tap_thread) { tap_sees_every_byte(SK_MODEL_THREAD); }
TEST(tap_iterative) { tap_sees_every_byte(SK_MODEL_ITERATIVE); }

TEST(quiet_log_gets_only_the_stopping_line)
{
    struct log_capture lc = {.mu = PTHREAD_MUTEX_INITIALIZER, .n = 0};
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = SK_MODEL_LOOP;
    o.log = log_line;
    o.log_ctx = &lc;
    o.log_quiet = 1;
    struct running r;
    start_server_opts(&r, &o);
    int c = connect_to(&r, 5.0);
    echo_round(c, 5, 9, 0, 0);
    sk_close(c);
    stop_server(&r);
    T_EQ_INT(lc.n, 1);
    T_ASSERT(strncmp(lc.lines[0], "Stopping: listeners closed; ", 28) == 0);
}

TEST(remove_files_while_running)
{
    char dir[] = "/tmp/sk-test-server-XXXXXX", addr[128], path[96];
    T_ASSERT(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/s.sock", dir);
    snprintf(addr, sizeof addr, "unix:%s", path);
    sk_server_opts_t o;
    memset(&o, 0, sizeof o);
    o.service = &sk_service_echo;
    o.model = SK_MODEL_LOOP;
    sk_server_t *srv;
    T_OK(sk_server_new(&srv, &o));
    char err[SK_ERRLEN] = "";
    T_EQ_INT(sk_server_listen(srv, addr, err), 1);
    T_EQ_INT(access(path, F_OK), 0);
    sk_server_remove_files(srv); /* what serve does before a second signal's _exit */
    T_EQ_INT(access(path, F_OK), -1);
    sk_server_free(srv);
    T_EQ_INT(rmdir(dir), 0);
}
