/*
 * t.c: the unit-test runner (see t.h): registration, one forked process per test in its
 * own process group, a parent-side deadline (sigtimedwait on SIGCHLD, then SIGKILL to the
 * whole group), TAP-like output, and the assertion back ends.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockit/error.h"
#include "t.h"

#define MAX_TESTS 256
#define SKIP_REASON_MAX 256
/* Exit status of a test child that skipped. */
#define EXIT_SKIP 77

struct test {
    const char *name;
    t_test_fn *fn;
    unsigned timeout_s;
};

static struct test tests[MAX_TESTS];
static size_t ntests;
static int too_many;

/* Shared with the child: why it skipped. */
static char *skip_reason;

/* The process group of the running test, for the runner's SIGINT/SIGTERM handler. */
static volatile sig_atomic_t running_pgid;

void t_register(const char *name, t_test_fn *fn, unsigned timeout_s)
{
    if (ntests == MAX_TESTS) {
        too_many = 1;
        return;
    }
    tests[ntests].name = name;
    tests[ntests].fn = fn;
    tests[ntests].timeout_s = timeout_s ? timeout_s : T_DEFAULT_TIMEOUT;
    ntests++;
}

/* ---- assertion back ends: they run in the test child ---- */

__attribute__((noreturn)) static void end_failed(void)
{
    fflush(stdout);
    fflush(stderr);
    _exit(1);
}

__attribute__((format(printf, 1, 0))) static void vdiag(const char *fmt, va_list ap)
{
    char line[1024];
    vsnprintf(line, sizeof line, fmt, ap);
    fprintf(stderr, "# %s\n", line);
}

__attribute__((format(printf, 1, 2))) static void diag(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(fmt, ap);
    va_end(ap);
}

void t_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vdiag(fmt, ap);
    va_end(ap);
}

void t_fail(const char *file, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    diag("%s:%d: %s", file, line, msg);
    end_failed();
}

void t_fail_int(const char *file, int line, const char *ea, const char *op, const char *eb,
                long long a, long long b)
{
    int w = (int)(strlen(ea) > strlen(eb) ? strlen(ea) : strlen(eb));
    if (w > 60) w = 60;
    diag("%s:%d: assertion failed: %s %s %s", file, line, ea, op, eb);
    diag("  %-*s = %lld", w, ea, a);
    diag("  %-*s = %lld", w, eb, b);
    end_failed();
}

/* Print s as a C string literal, at most `max` bytes of it. */
static void quote(char *out, size_t outlen, const char *s, size_t max)
{
    size_t o = 0;
    if (!s) {
        snprintf(out, outlen, "(null)");
        return;
    }
    out[o++] = '"';
    for (size_t i = 0; s[i] && o + 8 < outlen; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == max) {
            o += (size_t)snprintf(out + o, outlen - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(out + o, outlen - o, "\\%c", c);
        else if (c == '\r')
            o += (size_t)snprintf(out + o, outlen - o, "\\r");
        else if (c == '\n')
            o += (size_t)snprintf(out + o, outlen - o, "\\n");
        else if (c < 0x20 || c >= 0x7f)
            o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    if (o + 2 <= outlen) {
        out[o++] = '"';
        out[o] = '\0';
    } else {
        out[outlen - 1] = '\0';
    }
}

int t_str_eq(const char *a, const char *b)
{
    if (!a || !b) return a == b;
    return strcmp(a, b) == 0;
}

void t_fail_str(const char *file, int line, const char *ea, const char *eb, const char *a,
                const char *b)
{
    char qa[1100], qb[1100];
    quote(qa, sizeof qa, a, 256);
    quote(qb, sizeof qb, b, 256);
    diag("%s:%d: assertion failed: %s == %s (strings)", file, line, ea, eb);
    diag("  %s = %s", ea, qa);
    diag("  %s = %s", eb, qb);
    end_failed();
}

size_t t_mem_diff(const void *a, const void *b, size_t n)
{
    const unsigned char *pa = a, *pb = b;
    size_t i = 0;
    while (i < n && pa[i] == pb[i])
        i++;
    return i;
}

/* Hex of up to 16 bytes of p starting at `from`, "[xx]" marking offset `mark`. */
static void hexdump(char *out, size_t outlen, const unsigned char *p, size_t n, size_t from,
                    size_t mark)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = from; i < n && i < from + 16 && o + 6 < outlen; i++)
        o += (size_t)snprintf(out + o, outlen - o, i == mark ? "[%02x] " : "%02x ", p[i]);
}

void t_fail_mem(const char *file, int line, const char *ea, const char *eb, const void *a,
                const void *b, size_t n, size_t at)
{
    char ha[128], hb[128];
    size_t from = at > 4 ? at - 4 : 0;
    hexdump(ha, sizeof ha, a, n, from, at);
    hexdump(hb, sizeof hb, b, n, from, at);
    diag("%s:%d: assertion failed: %s == %s (%zu bytes): first difference at offset %zu", file,
         line, ea, eb, n, at);
    diag("  %s [%zu..]: %s", ea, from, ha);
    diag("  %s [%zu..]: %s", eb, from, hb);
    end_failed();
}

void t_fail_ok(const char *file, int line, const char *e, long long code)
{
    diag("%s:%d: %s failed: %lld (%s)", file, line, e, code,
         code >= -2147483647LL ? sk_strerror((int)code) : "out of range");
    end_failed();
}

void t_fail_dbl(const char *file, int line, const char *ea, const char *eb, double a, double b,
                double eps)
{
    diag("%s:%d: assertion failed: |%s - %s| <= %g", file, line, ea, eb, eps);
    diag("  %s = %.9g", ea, a);
    diag("  %s = %.9g", eb, b);
    end_failed();
}

void t_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (skip_reason) vsnprintf(skip_reason, SKIP_REASON_MAX, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fflush(stderr);
    _exit(EXIT_SKIP);
}

/* ---- utilities ---- */

int t_under_valgrind(void)
{
    const char *s = getenv("SOCKIT_VALGRIND");
    return s && *s;
}

double t_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* splitmix64: a good 64-bit mix, so the pattern has no short period. */
static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

void t_pattern(void *buf, size_t n, uint64_t seed, uint64_t off)
{
    unsigned char *p = buf;
    uint64_t word = 0, wi = UINT64_MAX;
    for (size_t i = 0; i < n; i++) {
        uint64_t pos = off + i;
        if (pos / 8 != wi) {
            wi = pos / 8;
            word = mix64(seed * 0x100000001b3ULL ^ mix64(wi));
        }
        p[i] = (unsigned char)(word >> (8 * (pos % 8)));
    }
}

uint64_t t_rand(uint64_t *state)
{
    uint64_t x = *state ? *state : 0x2545f4914f6cdd1dULL;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

int t_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory's own fd */
}

/* ---- the runner ---- */

static void on_stop_signal(int sig)
{
    if (running_pgid > 0) kill(-(pid_t)running_pgid, SIGKILL);
    signal(sig, SIG_DFL);
    raise(sig);
}

static double timeout_scale(void)
{
    const char *s = getenv("SK_TEST_TIMEOUT_SCALE");
    if (!s || !*s) return 1.0;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' && v >= 1.0 && v <= 100.0 ? v : 1.0;
}

enum outcome { PASSED, FAILED, SKIPPED };

static enum outcome run_one(size_t num, const struct test *t, const sigset_t *child_mask,
                            double scale)
{
    double limit = t->timeout_s * scale;
    fflush(stdout);
    fflush(stderr);
    skip_reason[0] = '\0';
    pid_t pid = fork();
    if (pid < 0) {
        printf("not ok %zu - %s (fork: %s)\n", num, t->name, strerror(errno));
        return FAILED;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        sigprocmask(SIG_SETMASK, child_mask, NULL);
        t->fn();
        fflush(stdout);
        fflush(stderr);
        _exit(0);
    }
    setpgid(pid, pid); /* also here, so that the group exists before we might kill it */
    running_pgid = pid;

    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    double deadline = t_now() + limit;
    int status = 0, timed_out = 0;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) {
            status = -1;
            break;
        }
        double left = deadline - t_now();
        if (left <= 0) {
            timed_out = 1;
            kill(-pid, SIGKILL);
            kill(pid, SIGKILL);
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
            }
            break;
        }
        struct timespec ts = {(time_t)left, (long)((left - (double)(time_t)left) * 1e9)};
        sigtimedwait(&chld, NULL, &ts); /* SIGCHLD, EAGAIN (time) or EINTR: look again */
    }
    kill(-pid, SIGKILL); /* whatever the test left running in its group (fork servers) */
    running_pgid = 0;

    if (timed_out) {
        printf("not ok %zu - %s (timeout after %g s)\n", num, t->name, limit);
        return FAILED;
    }
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        printf("ok %zu - %s\n", num, t->name);
        return PASSED;
    }
    if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SKIP) {
        printf("ok %zu - %s # SKIP %s\n", num, t->name, skip_reason);
        return SKIPPED;
    }
    if (status != -1 && WIFSIGNALED(status))
        printf("not ok %zu - %s (signal %d: %s)\n", num, t->name, WTERMSIG(status),
               strsignal(WTERMSIG(status)));
    else if (status != -1)
        printf("not ok %zu - %s (exit %d)\n", num, t->name, WEXITSTATUS(status));
    else
        printf("not ok %zu - %s (waitpid: %s)\n", num, t->name, strerror(errno));
    return FAILED;
}

static const struct test *find_test(const char *name)
{
    for (size_t i = 0; i < ntests; i++)
        if (strcmp(tests[i].name, name) == 0) return &tests[i];
    return NULL;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--list] [NAME...]\n"
            "  runs every test (or the NAMEd ones), each in its own process with a deadline\n",
            prog);
}

int main(int argc, char **argv)
{
    if (too_many) {
        fprintf(stderr, "t.c: more than %d tests in one file\n", MAX_TESTS);
        return 2;
    }
    const struct test *sel[MAX_TESTS];
    size_t nsel = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (size_t k = 0; k < ntests; k++)
                printf("%s\n", tests[k].name);
            return 0;
        }
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout, argv[0]);
            return 0;
        }
        const struct test *t = find_test(argv[i]);
        if (!t) {
            fprintf(stderr, "%s: no test named '%s' (--list shows them)\n", argv[0], argv[i]);
            return 2;
        }
        if (nsel < MAX_TESTS) sel[nsel++] = t;
    }
    if (nsel == 0)
        for (size_t k = 0; k < ntests; k++)
            sel[nsel++] = &tests[k];

    skip_reason =
        mmap(NULL, SKIP_REASON_MAX, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (skip_reason == MAP_FAILED) {
        perror("mmap");
        return 2;
    }

    /* The child gets the mask we were started with; we block SIGCHLD to wait for it. */
    sigset_t orig, chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    signal(SIGCHLD, SIG_DFL);
    sigprocmask(SIG_BLOCK, &chld, &orig);
    sigdelset(&orig, SIGCHLD);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    double scale = timeout_scale();
    size_t passed = 0, failed = 0, skipped = 0;
    printf("1..%zu\n", nsel);
    for (size_t i = 0; i < nsel; i++) {
        switch (run_one(i + 1, sel[i], &orig, scale)) {
        case PASSED:
            passed++;
            break;
        case SKIPPED:
            skipped++;
            break;
        case FAILED:
            failed++;
            break;
        }
        fflush(stdout);
    }
    if (skipped) printf("# %zu skipped\n", skipped);
    printf("%zu passed, %zu failed\n", passed, failed);
    return failed ? 1 : 0;
}
