/*
 * test_services.c: every built-in service driven by hand, without sockets, through
 * sk_session_new() with a write function that captures the output (sockit/service.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sockit/error.h"
#include "sockit/service.h"
#include "t.h"

/* Seconds from 1900-01-01 to 1970-01-01 (RFC 868). */
#define RFC868_OFFSET 2208988800ULL

/* What a session wrote, in order, and how many write calls it took. */
struct capture {
    unsigned char *data;
    size_t len, cap;
    int calls;
    int fail_with; /* when non-zero, every write fails with this code */
};

static int capture_write(void *ctx, const void *data, size_t len)
{
    struct capture *c = ctx;
    c->calls++;
    if (c->fail_with) return c->fail_with;
    if (c->len + len > c->cap) {
        size_t cap = c->cap ? c->cap : 1024;
        while (cap < c->len + len)
            cap *= 2;
        unsigned char *p = realloc(c->data, cap);
        T_ASSERT(p != NULL);
        c->data = p;
        c->cap = cap;
    }
    memcpy(c->data + c->len, data, len);
    c->len += len;
    return 0;
}

static void capture_free(struct capture *c)
{
    free(c->data);
    memset(c, 0, sizeof *c);
}

/* A session of svc writing into c; on_open already called (when the service has one). */
static sk_session_t *open_session(const sk_service_t *svc, const sk_service_conf_t *conf,
                                  struct capture *c)
{
    sk_session_t *s = sk_session_new(svc, conf, NULL, capture_write, c);
    T_ASSERT(s != NULL);
    if (svc->on_open) T_EQ_INT(svc->on_open(s), 0);
    return s;
}

static void close_session(const sk_service_t *svc, sk_session_t *s)
{
    if (svc->on_close) svc->on_close(s);
    sk_session_free(s);
}

/* ---- echo, discard ---- */

TEST(echo_returns_every_byte)
{
    const sk_service_t *svc = &sk_service_echo;
    struct capture c = {0};
    sk_session_t *s = open_session(svc, NULL, &c);
    T_EQ_INT(c.len, 0); /* says nothing first */
    T_ASSERT(svc->on_data != NULL);
    T_ASSERT(svc->on_writable == NULL);

    enum { TOTAL = 200000 };
    unsigned char *in = malloc(TOTAL);
    T_ASSERT(in != NULL);
    t_pattern(in, TOTAL, 11, 0);
    uint64_t rng = 5;
    size_t off = 0;
    while (off < TOTAL) {
        size_t n = 1 + (size_t)(t_rand(&rng) % 5000);
        if (n > TOTAL - off) n = TOTAL - off;
        T_EQ_INT(svc->on_data(s, in + off, n), 0);
        off += n;
        T_EQ_INT(c.len, off); /* answered at once, not held back */
    }
    T_EQ_MEM(c.data, in, TOTAL);
    /* Every byte value, including NUL, CR and LF, goes back unchanged. */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    T_EQ_INT(svc->on_data(s, all, sizeof all), 0);
    T_EQ_MEM(c.data + TOTAL, all, sizeof all);
    T_EQ_INT(sk_session_closing(s), 0);
    close_session(svc, s);
    capture_free(&c);
    free(in);
}

TEST(echo_reports_write_errors)
{
    const sk_service_t *svc = &sk_service_echo;
    struct capture c = {0};
    sk_session_t *s = open_session(svc, NULL, &c);
    c.fail_with = -EPIPE;
    T_EQ_INT(svc->on_data(s, "x", 1), -EPIPE);
    close_session(svc, s);
    capture_free(&c);
}

TEST(discard_writes_nothing)
{
    const sk_service_t *svc = &sk_service_discard;
    struct capture c = {0};
    sk_session_t *s = open_session(svc, NULL, &c);
    unsigned char in[4096];
    t_pattern(in, sizeof in, 12, 0);
    for (int i = 0; i < 100; i++)
        T_EQ_INT(svc->on_data(s, in, sizeof in), 0);
    T_EQ_INT(c.len, 0);
    T_EQ_INT(c.calls, 0);
    T_EQ_INT(sk_session_closing(s), 0);
    T_ASSERT(svc->on_writable == NULL);
    close_session(svc, s);
    capture_free(&c);
}

/* ---- chargen (RFC 864) ---- */

TEST(chargen_rfc864_pattern)
{
    const sk_service_t *svc = &sk_service_chargen;
    struct capture c = {0};
    sk_session_t *s = open_session(svc, NULL, &c);
    T_ASSERT(svc->on_writable != NULL);
    enum { LINE = 72, WANT_LINES = 300 };
    int calls = 0;
    while (c.len < (size_t)WANT_LINES * (LINE + 2)) {
        T_EQ_INT(svc->on_writable(s), 0);
        T_LT_INT(++calls, 10000);
        /* Input is read and dropped, never answered, between output batches. */
        size_t before = c.len;
        if (svc->on_data) T_EQ_INT(svc->on_data(s, "ignored\r\n", 9), 0);
        T_EQ_INT(c.len, before);
    }
    T_EQ_INT(c.len % (LINE + 2), 0); /* whole lines only */
    size_t lines = c.len / (LINE + 2);
    T_GE_INT(lines, 200);
    char want[LINE + 2];
    for (size_t n = 0; n < lines; n++) {
        /* Line N: the 72 characters of the ring 32..126 starting at 32 + N mod 95. */
        for (size_t j = 0; j < LINE; j++)
            want[j] = (char)(32 + (n + j) % 95);
        want[LINE] = '\r';
        want[LINE + 1] = '\n';
        const unsigned char *got = c.data + n * (LINE + 2);
        if (memcmp(got, want, sizeof want) != 0) {
            t_note("line %zu differs", n);
            T_EQ_MEM(got, want, sizeof want);
        }
    }
    /* The first line, spelled out, and the wrap: line 95 equals line 0. */
    T_EQ_MEM(c.data,
             " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefg\r\n", 74);
    T_EQ_MEM(c.data + 95 * (LINE + 2), c.data, LINE + 2);
    T_EQ_INT(sk_session_closing(s), 0); /* endless */
    close_session(svc, s);
    capture_free(&c);
}

TEST(chargen_sessions_are_independent)
{
    /* Per-session state: a second session starts again at line 0. */
    const sk_service_t *svc = &sk_service_chargen;
    struct capture a = {0}, b = {0};
    sk_session_t *sa = open_session(svc, NULL, &a);
    T_ASSERT(sk_session_state(sa) != NULL);
    T_EQ_INT(svc->on_writable(sa), 0);
    T_EQ_INT(svc->on_writable(sa), 0);
    sk_session_t *sb = open_session(svc, NULL, &b);
    T_EQ_INT(svc->on_writable(sb), 0);
    T_GT_INT(b.len, 0);
    T_LE_INT(b.len, a.len);
    T_EQ_MEM(b.data, a.data, b.len);
    close_session(svc, sa);
    close_session(svc, sb);
    capture_free(&a);
    capture_free(&b);
}

/* ---- daytime (RFC 867) ---- */

TEST(daytime_rfc867_one_line_then_close)
{
    const sk_service_t *svc = &sk_service_daytime;
    struct capture c = {0};
    time_t before = time(NULL);
    sk_session_t *s = open_session(svc, NULL, &c);
    time_t after = time(NULL);
    T_EQ_INT(sk_session_closing(s), 1);
    T_GE_INT(c.len, 20);
    T_LT_INT(c.len, 128);
    char line[256];
    memcpy(line, c.data, c.len);
    line[c.len] = '\0';
    /* One line, ending CR LF, nothing after it and no other line break. */
    T_EQ_MEM(line + c.len - 2, "\r\n", 2);
    T_EQ_INT(strcspn(line, "\r\n"), c.len - 2);

    /* It names the current year. */
    struct tm now;
    localtime_r(&after, &now);
    char year[16];
    snprintf(year, sizeof year, "%d", now.tm_year + 1900);
    if (!strstr(line, year))
        T_FAIL("daytime line \"%.*s\" does not contain the year %s", (int)c.len - 2, line, year);

    /* It parses back as "Weekday, Month Day, Year HH:MM:SS" to the current time. */
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(line, "%A, %B %d, %Y %H:%M:%S", &tm);
    if (!end)
        T_FAIL("daytime line \"%.*s\" is not \"%%A, %%B %%d, %%Y %%H:%%M:%%S...\"", (int)c.len - 2,
               line);
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    T_GE_INT(t, (long long)before - 3);
    T_LE_INT(t, (long long)after + 3);
    /* The weekday it names is the right one for that date. */
    struct tm check;
    localtime_r(&t, &check);
    char wday[32];
    strftime(wday, sizeof wday, "%A, ", &check);
    T_ASSERT(strncmp(line, wday, strlen(wday)) == 0);
    close_session(svc, s);
    capture_free(&c);
}

/* ---- time (RFC 868) ---- */

TEST(time_rfc868_four_bytes_since_1900)
{
    const sk_service_t *svc = &sk_service_time;
    struct capture c = {0};
    time_t before = time(NULL);
    sk_session_t *s = open_session(svc, NULL, &c);
    time_t after = time(NULL);
    T_EQ_INT(c.len, 4);
    T_EQ_INT(sk_session_closing(s), 1);
    uint32_t got = (uint32_t)c.data[0] << 24 | (uint32_t)c.data[1] << 16 |
                   (uint32_t)c.data[2] << 8 | (uint32_t)c.data[3];
    uint32_t lo = (uint32_t)((unsigned long long)before + RFC868_OFFSET - 2);
    uint32_t hi = (uint32_t)((unsigned long long)after + RFC868_OFFSET + 2);
    /* Within 2 s of now, modulo 2^32 (the counter wraps in 2036). */
    T_LE_INT((uint32_t)(got - lo), (uint32_t)(hi - lo));
    close_session(svc, s);
    capture_free(&c);
}

/* ---- greet ---- */

TEST(greet_default_message)
{
    const sk_service_t *svc = &sk_service_greet;
    struct capture c = {0};
    sk_session_t *s = open_session(svc, NULL, &c);
    static const char want[] = "Thank you for connecting"; /* exactly: no newline */
    T_EQ_INT(c.len, sizeof want - 1);
    T_EQ_MEM(c.data, want, sizeof want - 1);
    T_EQ_INT(sk_session_closing(s), 1);
    close_session(svc, s);
    capture_free(&c);

    /* A configuration without a message is the default too. */
    sk_service_conf_t conf;
    memset(&conf, 0, sizeof conf);
    s = open_session(svc, &conf, &c);
    T_EQ_INT(c.len, sizeof want - 1);
    T_EQ_MEM(c.data, want, sizeof want - 1);
    close_session(svc, s);
    capture_free(&c);
}

TEST(greet_custom_message)
{
    const sk_service_t *svc = &sk_service_greet;
    struct capture c = {0};
    sk_service_conf_t conf;
    memset(&conf, 0, sizeof conf);
    conf.message = "Hello,\r\n\tworld\n";
    sk_session_t *s = open_session(svc, &conf, &c);
    T_EQ_INT(c.len, strlen(conf.message));
    T_EQ_MEM(c.data, conf.message, strlen(conf.message));
    T_EQ_INT(sk_session_closing(s), 1);
    T_ASSERT(sk_session_conf(s) == &conf);
    close_session(svc, s);
    capture_free(&c);
}

TEST(greet_reports_write_error)
{
    const sk_service_t *svc = &sk_service_greet;
    struct capture c = {0};
    c.fail_with = -ECONNRESET;
    sk_session_t *s = sk_session_new(svc, NULL, NULL, capture_write, &c);
    T_ASSERT(s != NULL);
    T_EQ_INT(svc->on_open(s), -ECONNRESET);
    close_session(svc, s);
}

/* ---- the session object ---- */

TEST(session_accessors)
{
    struct capture c = {0};
    sk_addr_t peer;
    memset(&peer, 0, sizeof peer);
    peer.ss.ss_family = AF_UNIX;
    peer.len = 2;
    sk_session_t *s = sk_session_new(&sk_service_echo, NULL, &peer, capture_write, &c);
    T_ASSERT(s != NULL);
    T_ASSERT(sk_session_conf(s) != NULL); /* never NULL, even without one */
    T_ASSERT(sk_session_conf(s)->message == NULL);
    T_ASSERT(sk_session_state(s) == NULL); /* echo keeps no state */
    T_ASSERT(sk_session_peer(s) != &peer); /* copied, not kept */
    T_EQ_INT(sk_addr_equal(sk_session_peer(s), &peer), 1);
    T_EQ_INT(sk_session_write(s, "", 0), 0);
    T_EQ_INT(c.calls, 0); /* an empty write does not reach write_fn */
    T_EQ_INT(sk_session_write(s, "ab", 2), 0);
    T_EQ_INT(c.calls, 1);
    T_EQ_INT(sk_session_closing(s), 0);
    sk_session_close(s);
    T_EQ_INT(sk_session_closing(s), 1);
    sk_session_free(s);
    capture_free(&c);

    /* State is zeroed and aligned for any type. */
    sk_session_t *k = sk_session_new(&sk_service_chargen, NULL, NULL, capture_write, &c);
    T_ASSERT(k != NULL);
    const unsigned char *st = sk_session_state(k);
    T_ASSERT(st != NULL);
    T_EQ_INT((uintptr_t)st % _Alignof(max_align_t), 0);
    for (size_t i = 0; i < sk_service_chargen.state_size; i++)
        T_EQ_INT(st[i], 0);
    T_EQ_INT(sk_addr_family(sk_session_peer(k)), AF_UNSPEC); /* no peer given */
    sk_session_free(k);
}

/* ---- the registry ---- */

TEST(service_find_every_name)
{
    static const struct {
        const char *name;
        const sk_service_t *svc;
    } want[] = {
        {"echo", &sk_service_echo},       {"discard", &sk_service_discard},
        {"chargen", &sk_service_chargen}, {"daytime", &sk_service_daytime},
        {"time", &sk_service_time},       {"greet", &sk_service_greet},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const sk_service_t *s = sk_service_find(want[i].name);
        if (s != want[i].svc)
            T_FAIL("sk_service_find(\"%s\") = %p, want %p", want[i].name, (const void *)s,
                   (const void *)want[i].svc);
        T_EQ_STR(s->name, want[i].name);
        T_ASSERT(s->summary != NULL && s->summary[0] != '\0');
    }
    T_ASSERT(sk_service_find("nope") == NULL);
    T_ASSERT(sk_service_find("") == NULL);
    T_ASSERT(sk_service_find("Echo") == NULL);
    T_ASSERT(sk_service_find("echo ") == NULL);
}

TEST(services_lists_all_six)
{
    static const char *const names[] = {"echo", "discard", "chargen", "daytime", "time", "greet"};
    const sk_service_t *const *list = sk_services();
    T_ASSERT(list != NULL);
    size_t n = 0;
    while (list[n] && n < 100)
        n++;
    T_EQ_INT(n, 6);
    for (size_t i = 0; i < 6; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++)
            found += strcmp(list[j]->name, names[i]) == 0;
        if (found != 1) T_FAIL("service \"%s\" is listed %d times", names[i], found);
        /* Every service can run: something to call on input or on open. */
        T_ASSERT(list[i]->on_open || list[i]->on_data);
    }
}
