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

#include <arpa/inet.h>
#include <netinet/in.h>

#include "sockit/error.h"
#include "sockit/service.h"
#include "t.h"

/* A capture's bytes equal the string s. */
#define T_EQ_STR_LEN(cap, s)                                                                       \
    do {                                                                                           \
        T_EQ_INT((cap).len, strlen(s));                                                            \
        T_EQ_MEM((cap).data, (s), strlen(s));                                                      \
    } while (0)

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
        {"chat", &sk_service_chat},
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

TEST(services_lists_all_seven)
{
    static const char *const names[] = {"echo", "discard", "chargen", "daytime",
                                        "time", "greet",   "chat"};
    const sk_service_t *const *list = sk_services();
    T_ASSERT(list != NULL);
    size_t n = 0;
    while (list[n] && n < 100)
        n++;
    T_EQ_INT(n, 7);
    for (size_t i = 0; i < 7; i++) {
        int found = 0;
        for (size_t j = 0; j < n; j++)
            found += strcmp(list[j]->name, names[i]) == 0;
        if (found != 1) T_FAIL("service \"%s\" is listed %d times", names[i], found);
        /* Every service can run: something to call on input or on open. */
        T_ASSERT(list[i]->on_open || list[i]->on_data);
    }
}

/* ---- framed sessions (serve --frame) ---- */

static sk_framing_t framing(const char *text, size_t max)
{
    sk_framing_t f;
    char err[SK_ERRLEN] = "";
    if (sk_framing_parse(&f, text, max, err) < 0) T_FAIL("sk_framing_parse(%s): %s", text, err);
    return f;
}

/* Feed `in` to a framed echo session in pieces of `step` bytes (0: all at once), then EOF.
 * Returns the first error (0 if none); the output lands in *c. */
static int framed_echo(const char *ftext, size_t max, const void *in, size_t len, size_t step,
                       struct capture *c, char *why, size_t whylen)
{
    sk_framing_t f = framing(ftext, max);
    sk_service_conf_t conf = {.framing = &f};
    sk_session_t *s = open_session(&sk_service_echo, &conf, c);
    const char *p = in;
    int r = 0;
    for (size_t off = 0; off < len && r == 0;) {
        size_t n = step && step < len - off ? step : len - off;
        r = sk_session_feed(s, p + off, n);
        off += n;
    }
    if (r == 0) r = sk_session_eof(s);
    snprintf(why, whylen, "%s", sk_session_error(s));
    sk_session_free(s);
    return r;
}

TEST(framed_echo_is_split_proof)
{
    static const char len32[] = "\0\0\0\3abc\0\0\0\0\0\0\0\2\0\xff";
    struct {
        const char *framing;
        const char *in;
        size_t len;
    } cases[] = {
        {"line", "one\ntwo\n\nthree\n", 15},
        {"crlf", "a\rb\r\nc\nd\r\n\r\n", 12},
        {"fixed:3", "abcdefghi", 9},
        {"len16", "\0\2hi\0\0\0\5hello", 13},
        {"len32", len32, sizeof len32 - 1},
        {"eof", "all of it\n", 10},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct capture whole = {0};
        char why[128];
        T_EQ_INT(framed_echo(cases[i].framing, 0, cases[i].in, cases[i].len, 0, &whole, why,
                             sizeof why), 0);
        T_EQ_INT(whole.len, cases[i].len); /* echo re-encodes every frame the same way */
        T_EQ_MEM(whole.data, cases[i].in, cases[i].len);
        for (size_t step = 1; step <= 4; step++) {
            struct capture split = {0};
            T_EQ_INT(framed_echo(cases[i].framing, 0, cases[i].in, cases[i].len, step, &split,
                                 why, sizeof why), 0);
            T_EQ_INT(split.len, whole.len);
            T_EQ_MEM(split.data, whole.data, whole.len);
            capture_free(&split);
        }
        capture_free(&whole);
    }
}

TEST(framed_echo_answers_only_complete_frames)
{
    sk_framing_t f = framing("len16", 0);
    sk_service_conf_t conf = {.framing = &f};
    struct capture c = {0};
    sk_session_t *s = open_session(&sk_service_echo, &conf, &c);
    T_EQ_INT(sk_session_feed(s, "\0\5hel", 5), 0);
    T_EQ_INT(c.len, 0);
    T_EQ_INT(sk_session_feed(s, "lo\0", 3), 0);
    T_EQ_INT(c.len, 7);
    T_EQ_MEM(c.data, "\0\5hello", 7);
    T_EQ_INT(c.calls, 1); /* one write per frame */
    sk_session_free(s);
    capture_free(&c);
}

TEST(framed_protocol_errors)
{
    struct capture c = {0};
    char why[128];
    /* A length over the maximum is refused from the header alone. */
    T_EQ_INT(framed_echo("len32", 1000, "\xff\xff\xff\xff", 4, 0, &c, why, sizeof why),
             SK_ETOOBIG);
    T_EQ_STR(why, "frame over the 1000-byte maximum");
    T_EQ_INT(c.len, 0);
    /* A line without its newline past the maximum, however it is split. */
    char line[1002];
    memset(line, 'x', sizeof line);
    T_EQ_INT(framed_echo("line", 1000, line, sizeof line, 7, &c, why, sizeof why), SK_ETOOBIG);
    /* Exactly max is fine. */
    line[1000] = '\n';
    T_EQ_INT(framed_echo("line", 1000, line, 1001, 3, &c, why, sizeof why), 0);
    T_EQ_INT(c.len, 1001);
    capture_free(&c);
    /* A header cut by EOF. */
    T_EQ_INT(framed_echo("len32", 0, "\0\0\0", 3, 1, &c, why, sizeof why), SK_EEOF);
    T_EQ_STR(why, "stream ended inside a frame");
    T_EQ_INT(c.len, 0);
    capture_free(&c);
}

TEST(unframed_service_ignores_framing)
{
    /* chargen has no SK_SERVICE_FRAMES: a framing in its conf changes nothing. */
    sk_framing_t f = framing("len32", 0);
    sk_service_conf_t conf = {.framing = &f};
    struct capture c = {0};
    sk_session_t *s = open_session(&sk_service_chargen, &conf, &c);
    T_EQ_INT(sk_session_feed(s, "\xff\xff\xff\xff", 4), 0);
    T_EQ_STR(sk_session_error(s), "");
    sk_session_free(s);
    capture_free(&c);
}

/* ---- datagrams (serve --udp) ---- */

TEST(datagram_answers)
{
    static char out[SK_DGRAM_MAX];
    sk_service_conf_t conf = {0};
    T_EQ_INT(sk_service_echo.on_datagram(&conf, "ping", 4, out, sizeof out), 4);
    T_EQ_MEM(out, "ping", 4);
    T_EQ_INT(sk_service_echo.on_datagram(&conf, "", 0, out, sizeof out), 0);
    T_EQ_INT(sk_service_discard.on_datagram(&conf, "x", 1, out, sizeof out), -1);
    T_EQ_INT(sk_service_time.on_datagram(&conf, "", 0, out, sizeof out), 4);
    long n = sk_service_daytime.on_datagram(&conf, "", 0, out, sizeof out);
    T_GT_INT(n, 20);
    T_EQ_MEM(out + n - 2, "\r\n", 2);
    conf.message = "hi there";
    T_EQ_INT(sk_service_greet.on_datagram(&conf, "", 0, out, sizeof out), 8);
    T_EQ_MEM(out, "hi there", 8);
}

TEST(chargen_datagrams_rfc864)
{
    static char out[SK_DGRAM_MAX];
    sk_service_conf_t conf = {0};
    long min = 1000, max = -1;
    for (int i = 0; i < 2000; i++) {
        long n = sk_service_chargen.on_datagram(&conf, "", 0, out, sizeof out);
        T_GE_INT(n, 0);
        T_LE_INT(n, 512);
        for (long j = 0; j < n; j++) {
            /* printable, or the CR LF that ends a 72-character line */
            unsigned char ch = (unsigned char)out[j];
            if (!((ch >= 32 && ch <= 126) || ch == '\r' || ch == '\n'))
                T_FAIL("datagram %d byte %ld is %u", i, j, ch);
            if (j > 0 && ch >= 32 && out[j - 1] >= 32 && out[j - 1] != 126)
                T_EQ_INT(ch, (unsigned char)out[j - 1] + 1); /* the ring, in order */
        }
        min = n < min ? n : min;
        max = n > max ? n : max;
    }
    T_LT_INT(min, 50); /* random lengths cover the range */
    T_GT_INT(max, 460);
}

/* ---- chat: sessions that talk to each other through the room ---- */

struct chat_member {
    struct capture out;
    int notified;
    sk_session_t *s;
};

static void mark_notified(void *ctx)
{
    ((struct chat_member *)ctx)->notified++;
}

static sk_addr_t v4_peer(int port)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sk_addr_t a;
    T_OK(sk_addr_set(&a, (struct sockaddr *)&sin, sizeof sin));
    return a;
}

static void chat_join(struct chat_member *m, const sk_service_conf_t *conf, int port)
{
    sk_addr_t peer = v4_peer(port);
    m->s = sk_session_new(&sk_service_chat, conf, &peer, capture_write, &m->out);
    T_ASSERT(m->s != NULL);
    sk_session_set_notify(m->s, mark_notified, m);
    T_EQ_INT(sk_service_chat.on_open(m->s), 0);
}

/* What the member's thread would do on the notification. */
static void chat_deliver(struct chat_member *m)
{
    T_GT_INT(m->notified, 0);
    m->notified = 0;
    T_EQ_INT(sk_service_chat.on_notify(m->s), 0);
}

TEST(chat_room)
{
    sk_service_conf_t conf = {0};
    conf.shared = sk_service_chat.shared_new(&conf);
    T_ASSERT(conf.shared != NULL);
    struct chat_member a = {0}, b = {0}, c = {0};
    chat_join(&a, &conf, 1111);
    T_EQ_INT(a.notified, 0); /* nobody else to tell */
    chat_join(&b, &conf, 2222);
    chat_deliver(&a);
    T_EQ_STR_LEN(a.out, "* [127.0.0.1:2222] joined (2 online)\n");
    chat_join(&c, &conf, 3333);
    b.notified = 0; /* b heard c join; what follows must not come back to b */
    /* A line (CR LF from telnet), split across reads, reaches the others once whole. */
    T_EQ_INT(sk_session_feed(b.s, "hel", 3), 0);
    T_EQ_INT(sk_session_feed(b.s, "lo\r\n", 4), 0);
    T_EQ_INT(b.notified, 0); /* never to the sender */
    a.out.len = 0;
    chat_deliver(&a);
    T_EQ_STR_LEN(a.out, "* [127.0.0.1:3333] joined (3 online)\n[127.0.0.1:2222] hello\n");
    chat_deliver(&c);
    T_EQ_STR_LEN(c.out, "[127.0.0.1:2222] hello\n");
    /* Leaving is announced. */
    sk_service_chat.on_close(b.s);
    sk_session_free(b.s);
    c.out.len = 0;
    chat_deliver(&c);
    T_EQ_STR_LEN(c.out, "* [127.0.0.1:2222] left (2 online)\n");
    sk_service_chat.on_close(a.s);
    sk_session_free(a.s);
    sk_service_chat.on_close(c.s);
    sk_session_free(c.s);
    capture_free(&a.out);
    capture_free(&b.out);
    capture_free(&c.out);
    sk_service_chat.shared_free(conf.shared);
}

/* The talker's 101-byte lines as a reader receives them, "[127.0.0.1:2222] " + 100 x. */
static void chat_lines(char *buf, int n)
{
    char *p = buf;
    for (int i = 0; i < n; i++) {
        p += sprintf(p, "[127.0.0.1:2222] ");
        memset(p, 'x', 100);
        p += 100;
        *p++ = '\n';
    }
    *p = '\0';
}

/* Deliver what the talker's pause kept, letting `reader` read each time the room is full,
 * until the talker's input is all through or it stays paused. Returns the rounds. */
static int chat_flow(struct chat_member *talker, struct chat_member *reader)
{
    int rounds = 0;
    for (; rounds < 100; rounds++) {
        if (reader->notified)
            chat_deliver(reader);
        if (sk_session_paused_until(talker->s))
            break; /* the room still waits for someone else */
        T_EQ_INT(sk_session_feed(talker->s, NULL, 0), 0);
        if (!sk_session_paused_until(talker->s) && !sk_session_partial_since(talker->s))
            break; /* everything delivered */
    }
    if (reader->notified)
        chat_deliver(reader);
    return rounds;
}

TEST(chat_pauses_a_fast_sender_while_a_reader_drains)
{
    /* max_output 1000: the room takes a member's queue to 250 bytes (a quarter), then
     * pauses the sender until that queue has drained to 125. */
    sk_service_conf_t conf = {.max_output = 1000};
    conf.shared = sk_service_chat.shared_new(&conf);
    struct chat_member reader = {0}, talker = {0};
    chat_join(&reader, &conf, 1111);
    chat_join(&talker, &conf, 2222);
    chat_deliver(&reader); /* the talker's join notice */
    reader.out.len = 0;
    char line[101], many[20 * 101], want[20 * 118 + 1];
    memset(line, 'x', 100);
    line[100] = '\n';
    for (int i = 0; i < 20; i++)
        memcpy(many + 101 * i, line, sizeof line);
    T_EQ_INT(sk_session_feed(talker.s, many, sizeof many), 0); /* 2 KB in one read */
    /* Three lines (357 bytes) pass 250: the rest waits in the talker's session. */
    T_GT_INT(sk_session_paused_until(talker.s), 0);
    T_EQ_INT(reader.out.len, 0);
    chat_deliver(&reader);
    T_EQ_INT(reader.out.len, 3 * 118);
    T_EQ_INT(sk_session_paused_until(talker.s), 0); /* resumed: the reader drained */
    T_GT_INT(talker.notified, 0);                    /* and its model was told */
    T_GT_INT(chat_flow(&talker, &reader), 3);
    chat_lines(want, 20);
    T_EQ_STR_LEN(reader.out, want); /* every line, in order, nobody dropped */
    T_EQ_INT(talker.out.len, 0);
    sk_service_chat.on_close(talker.s);
    sk_session_free(talker.s);
    sk_service_chat.on_close(reader.s);
    sk_session_free(reader.s);
    capture_free(&reader.out);
    capture_free(&talker.out);
    sk_service_chat.shared_free(conf.shared);
}

TEST_TIMEOUT(chat_drops_a_member_that_stops_reading, 20)
{
    sk_service_conf_t conf = {.max_output = 1000};
    conf.shared = sk_service_chat.shared_new(&conf);
    struct chat_member slow = {0}, reader = {0}, talker = {0};
    chat_join(&slow, &conf, 1111);
    chat_join(&reader, &conf, 3333);
    chat_join(&talker, &conf, 2222);
    chat_deliver(&reader); /* the talker's join notice */
    reader.out.len = 0;
    char many[20 * 101], want[20 * 118 + 64];
    for (int i = 0; i < 20; i++) {
        memset(many + 101 * i, 'x', 100);
        many[101 * i + 100] = '\n';
    }
    T_EQ_INT(sk_session_feed(talker.s, many, sizeof many), 0);
    /* slow never reads, but it is not yet known not to: the room waits for it, however
     * well the reader keeps up. */
    chat_flow(&talker, &reader);
    int64_t until = sk_session_paused_until(talker.s);
    T_GT_INT(until, 0);
    T_EQ_INT(reader.out.len, 2 * 118); /* slow's queue: two join notices, two lines */
    double t0 = t_now();
    /* 5 s without its queue moving: slow is not reading. (Time is the condition here.) */
    while (sk_session_paused_until(talker.s) && t_now() - t0 < 8) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    T_EQ_INT(sk_session_paused_until(talker.s), 0);
    T_GT_INT(t_now() - t0, 3.0);
    chat_flow(&talker, &reader); /* the room goes on without waiting for slow */
    T_EQ_INT(sk_session_paused_until(talker.s), 0);
    T_EQ_INT(sk_service_chat.on_notify(slow.s), SK_ETOOBIG); /* its queue passed 1000 */
    sk_service_chat.on_close(slow.s);
    sk_session_free(slow.s);
    chat_flow(&talker, &reader);
    chat_lines(want, 20);
    strcat(want, "* [127.0.0.1:1111] left (2 online)\n");
    T_EQ_STR_LEN(reader.out, want); /* the reader lost nothing */
    T_GT_INT(talker.notified, 0);
    chat_deliver(&talker);
    T_EQ_STR_LEN(talker.out, "* [127.0.0.1:1111] left (2 online)\n");
    sk_service_chat.on_close(talker.s);
    sk_session_free(talker.s);
    sk_service_chat.on_close(reader.s);
    sk_session_free(reader.s);
    capture_free(&slow.out);
    capture_free(&reader.out);
    capture_free(&talker.out);
    sk_service_chat.shared_free(conf.shared);
}

TEST(chat_escapes_control_bytes_in_lines)
{
    sk_service_conf_t conf = {0};
    conf.shared = sk_service_chat.shared_new(&conf);
    struct chat_member a = {0}, b = {0};
    chat_join(&a, &conf, 1111);
    chat_join(&b, &conf, 2222);
    chat_deliver(&a);
    a.out.len = 0;
    /* A CR mid-line would return the cursor and print over the sender's tag; ESC [2J
     * would clear the screen; C1 CSI (0xc2 0x9b) too. UTF-8 text passes as written. */
    static const char sent[] = "fake\r[127.0.0.1:9] hi\x1b[2J \xc2\x9b h\xc3\xa9 \x00!\r\n";
    T_EQ_INT(sk_session_feed(b.s, sent, sizeof sent - 1), 0);
    chat_deliver(&a);
    T_EQ_STR_LEN(a.out, "[127.0.0.1:2222] fake\\r[127.0.0.1:9] hi\\x1b[2J \\xc2\\x9b "
                        "h\xc3\xa9 \\x00!\n");
    sk_service_chat.on_close(a.s);
    sk_session_free(a.s);
    sk_service_chat.on_close(b.s);
    sk_session_free(b.s);
    capture_free(&a.out);
    capture_free(&b.out);
    sk_service_chat.shared_free(conf.shared);
}
