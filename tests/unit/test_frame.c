/* test_frame.c: the framing codecs (sockit/frame.h): parse, decode, encode, split-proofness. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/error.h"
#include "sockit/frame.h"
#include "t.h"

static const char *const all_names[] = {"raw", "line", "crlf", "fixed:3", "len16", "len32", "eof"};
#define NKINDS (sizeof all_names / sizeof all_names[0])

static sk_framing_t framing(const char *text, size_t max)
{
    sk_framing_t f;
    char err[SK_ERRLEN] = "";
    int r = sk_framing_parse(&f, text, max, err);
    if (r != 0) T_FAIL("sk_framing_parse(\"%s\", %zu): %d %s", text, max, r, err);
    return f;
}

/* ---- what a stream decoded to: the frames, and how the decoding ended ---- */

typedef struct rec {
    unsigned char *bytes; /* every frame's payload, concatenated */
    size_t nbytes, bytes_cap;
    size_t *lens; /* each frame's length */
    size_t nframes, lens_cap;
    int status; /* 0: ended cleanly at eof; else the error */
} rec_t;

static void rec_init(rec_t *r, size_t stream_len)
{
    r->bytes_cap = stream_len + 1;
    r->lens_cap = stream_len + 2; /* an empty frame uses at least 1 byte, except eof's */
    r->bytes = malloc(r->bytes_cap);
    r->lens = malloc(r->lens_cap * sizeof *r->lens);
    T_ASSERT(r->bytes && r->lens);
    r->nbytes = r->nframes = 0;
    r->status = 0;
}

static void rec_free(rec_t *r)
{
    free(r->bytes);
    free(r->lens);
}

static void rec_add(rec_t *r, const void *p, size_t n)
{
    T_LE_INT(n, r->bytes_cap - r->nbytes);
    T_LT_INT(r->nframes, r->lens_cap);
    if (n > 0) memcpy(r->bytes + r->nbytes, p, n);
    r->nbytes += n;
    r->lens[r->nframes++] = n;
}

/* Same frames (for raw, whose frames are whatever was buffered: same bytes) and status. */
static void rec_check_equal(const rec_t *a, const rec_t *b, int raw)
{
    T_EQ_INT(a->status, b->status);
    T_EQ_INT(a->nbytes, b->nbytes);
    T_EQ_MEM(a->bytes, b->bytes, a->nbytes);
    if (raw) return;
    T_EQ_INT(a->nframes, b->nframes);
    for (size_t i = 0; i < a->nframes; i++)
        T_EQ_INT(a->lens[i], b->lens[i]);
}

/*
 * The intended caller: a sk_buf of sk_frame_bufmax() bytes; it appends what "arrives" (a
 * chunk of at most chunk_max bytes, 0: as much as fits), calls sk_decoder_next() until 0
 * and drops each frame's consumed bytes. eof is passed once the whole stream is buffered,
 * with the last chunk or (at random) on a call of its own. Checks every frame against the
 * buffer, and that a full buffer always lets the decoder decide.
 */
static void run_caller(const sk_framing_t *f, const unsigned char *s, size_t slen, size_t chunk_max,
                       uint64_t seed, rec_t *r)
{
    sk_buf_t b;
    size_t bufmax = sk_frame_bufmax(f);
    T_GT_INT(bufmax, 0);
    sk_buf_init(&b, bufmax);
    sk_decoder_t d;
    sk_decoder_init(&d, f);
    uint64_t rng = seed | 1;
    int eof_apart = chunk_max > 0 && t_rand(&rng) % 2;
    size_t pos = 0;
    int eof = 0;
    for (int rounds = 0;; rounds++) {
        T_LE_INT(rounds, 4 * slen + 10); /* no progress would loop forever */
        size_t n = sk_buf_room(&b);
        if (chunk_max > 0) {
            size_t c = 1 + (size_t)(t_rand(&rng) % chunk_max);
            if (c < n) n = c;
        }
        if (n > slen - pos) n = slen - pos;
        T_EQ_INT(sk_buf_append(&b, s + pos, n), 0);
        pos += n;
        if (pos == slen && (!eof_apart || n == 0)) eof = 1;
        for (;;) {
            sk_frame_t fr;
            const unsigned char *data = (const unsigned char *)sk_buf_data(&b);
            size_t len = sk_buf_len(&b);
            int rc = sk_decoder_next(&d, data, len, eof, &fr);
            if (rc < 0) {
                r->status = rc;
                sk_buf_free(&b);
                return;
            }
            if (rc == 0) break;
            T_EQ_INT(rc, 1);
            T_LE_INT(fr.len, f->max);
            T_LE_INT(fr.consumed, len);
            T_ASSERT(fr.data >= data && fr.data + fr.len <= data + fr.consumed);
            if (f->kind != SK_FRAME_EOF) T_GT_INT(fr.consumed, 0);
            if (f->kind == SK_FRAME_FIXED) T_EQ_INT(fr.len, f->size);
            rec_add(r, fr.data, fr.len);
            sk_buf_consume(&b, fr.consumed);
        }
        if (eof) break;
        /* Before eof, a decoder that cannot decide must have room to get more bytes. */
        T_GT_INT(sk_buf_room(&b), 0);
    }
    r->status = 0;
    sk_buf_free(&b);
}

/* A plain reference decoder of a whole stream at once, written from the header's text. */
static void model_decode(const sk_framing_t *f, const unsigned char *s, size_t slen, rec_t *r)
{
    size_t pos = 0, max = f->max;
    r->status = 0;
    for (;;) {
        const unsigned char *p = s + pos;
        size_t rest = slen - pos, i, n, hdr = f->kind == SK_FRAME_LEN16 ? 2 : 4;
        switch (f->kind) {
        case SK_FRAME_RAW:
            if (rest == 0) return;
            n = rest < max ? rest : max;
            rec_add(r, p, n);
            pos += n;
            break;
        case SK_FRAME_LINE:
        case SK_FRAME_CRLF:
            if (rest == 0) return;
            for (i = 0; i < rest; i++) {
                if (f->kind == SK_FRAME_LINE && p[i] == '\n') break;
                if (f->kind == SK_FRAME_CRLF && p[i] == '\r' && i + 1 < rest && p[i + 1] == '\n')
                    break;
            }
            if (i > max) {
                r->status = SK_ETOOBIG;
                return;
            }
            rec_add(r, p, i);
            if (i == rest) return; /* the unterminated last line */
            pos += i + (f->kind == SK_FRAME_LINE ? 1 : 2);
            break;
        case SK_FRAME_FIXED:
            if (rest == 0) return;
            if (rest < f->size) {
                r->status = SK_EEOF;
                return;
            }
            rec_add(r, p, f->size);
            pos += f->size;
            break;
        case SK_FRAME_LEN16:
        case SK_FRAME_LEN32:
            if (rest == 0) return;
            if (rest < hdr) {
                r->status = SK_EEOF;
                return;
            }
            n = 0;
            for (i = 0; i < hdr; i++)
                n = n * 256 + p[i];
            if (n > max) {
                r->status = SK_ETOOBIG;
                return;
            }
            if (rest - hdr < n) {
                r->status = SK_EEOF;
                return;
            }
            rec_add(r, p + hdr, n);
            pos += hdr + n;
            break;
        case SK_FRAME_EOF:
            if (rest > max)
                r->status = SK_ETOOBIG;
            else
                rec_add(r, p, rest);
            return;
        }
    }
}

/* ---- parse and name ---- */

TEST(parse_every_framing)
{
    sk_framing_t f;
    T_EQ_INT(sk_framing_parse(&f, "raw", 100, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_RAW);
    T_EQ_INT(f.max, 100);
    T_EQ_INT(f.size, 0);
    T_EQ_INT(sk_framing_parse(&f, "line", 0, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_LINE);
    T_EQ_INT(f.max, SK_FRAME_MAX_DEFAULT);
    T_EQ_INT(sk_framing_parse(&f, "crlf", 1, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_CRLF);
    T_EQ_INT(f.max, 1);
    T_EQ_INT(sk_framing_parse(&f, "fixed:512", 0, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_FIXED);
    T_EQ_INT(f.size, 512);
    T_EQ_INT(f.max, SK_FRAME_MAX_DEFAULT);
    T_EQ_INT(sk_framing_parse(&f, "fixed:1", 1, NULL), 0);
    T_EQ_INT(f.size, 1);
    T_EQ_INT(sk_framing_parse(&f, "fixed:0007", 10, NULL), 0); /* leading zeros are digits */
    T_EQ_INT(f.size, 7);
    T_EQ_INT(sk_framing_parse(&f, "fixed:1073741824", SK_FRAME_MAX_LIMIT, NULL), 0);
    T_EQ_INT(f.size, SK_FRAME_MAX_LIMIT);
    T_EQ_INT(sk_framing_parse(&f, "len16", 0, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_LEN16);
    T_EQ_INT(f.max, 65535); /* the default 1 MiB lowered */
    T_EQ_INT(sk_framing_parse(&f, "len16", 65535, NULL), 0);
    T_EQ_INT(f.max, 65535);
    T_EQ_INT(sk_framing_parse(&f, "len16", 1000, NULL), 0);
    T_EQ_INT(f.max, 1000); /* a smaller max is kept */
    T_EQ_INT(sk_framing_parse(&f, "len32", SK_FRAME_MAX_LIMIT, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_LEN32);
    T_EQ_INT(f.max, SK_FRAME_MAX_LIMIT);
    T_EQ_INT(sk_framing_parse(&f, "eof", 5, NULL), 0);
    T_EQ_INT(f.kind, SK_FRAME_EOF);
    T_EQ_INT(f.max, 5);
}

TEST(parse_rejects_bad_texts_and_leaves_f_alone)
{
    static const char *const bad[] = {
        "",
        "foo",
        "LINE",
        "line ",
        " line",
        "line\n",
        "raw:1",
        "len32:",
        "len8",
        "fixed",
        "fixed:",
        "fixed:0",
        "fixed:-1",
        "fixed:+5",
        "fixed: 5",
        "fixed:5 ",
        "fixed:5x",
        "fixed:0x10",
        "fixed:1e3",
        "fixed:1.5",
        "fixed:5:5",
        "fixed:11",
        "Fixed:5",
        "fixed::5",
        "fixed:99999999999999999999999",
        "fixed:18446744073709551616",
        "fixed:4294967306",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_framing_t f = {.kind = SK_FRAME_LEN32, .size = 77, .max = 99};
        char err[SK_ERRLEN] = "";
        int r = sk_framing_parse(&f, bad[i], 10, err);
        if (r != SK_EBADARG) T_FAIL("'%s' parsed: %d", bad[i], r);
        T_GT_INT(strlen(err), 10);
        T_EQ_INT(f.kind, SK_FRAME_LEN32);
        T_EQ_INT(f.size, 77);
        T_EQ_INT(f.max, 99);
        T_EQ_INT(sk_framing_parse(&f, bad[i], 10, NULL), SK_EBADARG); /* err may be NULL */
    }
    sk_framing_t f;
    T_EQ_INT(sk_framing_parse(&f, NULL, 10, NULL), SK_EBADARG);
}

TEST(parse_error_messages)
{
    sk_framing_t f;
    char err[SK_ERRLEN];
    T_EQ_INT(sk_framing_parse(&f, "foo", 0, err), SK_EBADARG);
    T_EQ_STR(err, "unknown framing 'foo': expected raw, line, crlf, fixed:N, len16, len32 or eof");
    T_EQ_INT(sk_framing_parse(&f, "fixed:0", 0, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:0: N must be 1 to 1048576");
    T_EQ_INT(sk_framing_parse(&f, "fixed:-3", 100, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:-3: N is not a number (expected fixed:N, N 1 to 100)");
    T_EQ_INT(sk_framing_parse(&f, "fixed:101", 100, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:101: N must be 1 to 100, the maximum frame size");
    T_EQ_INT(sk_framing_parse(&f, "fixed:99999999999999999999999", 100, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:99999999999999999999999: N must be 1 to 100, the maximum frame size");
    T_EQ_INT(sk_framing_parse(&f, "fixed", 100, err), SK_EBADARG);
    T_EQ_STR(err, "fixed needs a size: fixed:N with N 1 to 100");
    T_EQ_INT(sk_framing_parse(&f, "line", SK_FRAME_MAX_LIMIT + 1, err), SK_EBADARG);
    T_EQ_STR(err, "max frame 1073741825 out of range 1-1073741824");
    T_EQ_INT(sk_framing_parse(&f, "len16", (size_t)-1, err), SK_EBADARG);
    T_ASSERT(strncmp(err, "max frame ", 10) == 0);
    /* An explicit maximum len16 cannot carry is refused, not lowered. */
    T_EQ_INT(sk_framing_parse(&f, "len16", 70000, err), SK_EBADARG);
    T_EQ_STR(err, "len16: max frame 70000 is over 65535, the most a 2-byte length can say "
                  "(use len32)");
    T_EQ_INT(sk_framing_parse(&f, "len16", 65536, err), SK_EBADARG);
    T_EQ_INT(sk_framing_parse(&f, "len16", SK_FRAME_MAX_LIMIT, err), SK_EBADARG);
    /* Not a number is said so, rather than a range that the text did not miss. */
    T_EQ_INT(sk_framing_parse(&f, "fixed:abc", 0, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:abc: N is not a number (expected fixed:N, N 1 to 1048576)");
    T_EQ_INT(sk_framing_parse(&f, "fixed:", 100, err), SK_EBADARG);
    T_EQ_STR(err, "fixed:: N is not a number (expected fixed:N, N 1 to 100)");
    /* Control bytes are not echoed; long text is cut. */
    T_EQ_INT(sk_framing_parse(&f, "a\x1b[2Jb", 0, err), SK_EBADARG);
    T_EQ_STR(err,
             "unknown framing 'a?[2Jb': expected raw, line, crlf, fixed:N, len16, len32 or eof");
    char longtext[1000];
    memset(longtext, 'x', sizeof longtext - 1);
    longtext[sizeof longtext - 1] = '\0';
    T_EQ_INT(sk_framing_parse(&f, longtext, 0, err), SK_EBADARG);
    T_LT_INT(strlen(err), 200);
    T_ASSERT(strstr(err, "...") != NULL);
}

TEST(names_round_trip)
{
    static const char *const names[] = {"raw",     "line",  "crlf",  "fixed:1", "fixed:512",
                                        "fixed:9", "len16", "len32", "eof"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        sk_framing_t f = framing(names[i], 1000), g;
        char buf[24];
        T_ASSERT(sk_framing_name(&f, buf, sizeof buf) == buf);
        T_EQ_STR(buf, names[i]);
        T_EQ_INT(sk_framing_parse(&g, buf, f.max, NULL), 0);
        T_EQ_INT(g.kind, f.kind);
        T_EQ_INT(g.size, f.size);
        T_EQ_INT(g.max, f.max);
    }
    /* 24 bytes is enough for the longest name; a short buffer is cut, still terminated. */
    sk_framing_t f = framing("fixed:1073741824", SK_FRAME_MAX_LIMIT);
    char buf[24], small[6];
    T_EQ_STR(sk_framing_name(&f, buf, sizeof buf), "fixed:1073741824");
    T_EQ_STR(sk_framing_name(&f, small, sizeof small), "fixed");
    T_ASSERT(sk_framing_name(&f, small, 0) == small);
}

TEST(bufmax_is_max_plus_header_or_delimiter)
{
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_RAW, 0, 100}), 100);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_LINE, 0, 100}), 101);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_CRLF, 0, 100}), 102);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_FIXED, 30, 100}), 30);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_LEN16, 0, 100}), 102);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_LEN32, 0, 100}), 104);
    T_EQ_INT(sk_frame_bufmax(&(sk_framing_t){SK_FRAME_EOF, 0, 100}), 101);
    sk_framing_t big = framing("len32", SK_FRAME_MAX_LIMIT);
    T_EQ_INT(sk_frame_bufmax(&big), SK_FRAME_MAX_LIMIT + SK_FRAME_OVERHEAD);
    for (size_t k = 0; k < NKINDS; k++) {
        sk_framing_t f = framing(all_names[k], 50);
        T_LE_INT(sk_frame_bufmax(&f), f.max + SK_FRAME_OVERHEAD);
    }
}

TEST(invalid_framings_are_refused)
{
    /* Structs sk_framing_parse() never returns: refused, never trusted. */
    const sk_framing_t bad[] = {
        {SK_FRAME_LINE, 0, 0},          {SK_FRAME_LEN32, 0, SK_FRAME_MAX_LIMIT + 1},
        {SK_FRAME_LINE, 0, (size_t)-1}, {SK_FRAME_LEN16, 0, 65536},
        {SK_FRAME_FIXED, 0, 10},        {SK_FRAME_FIXED, 11, 10},
        {(sk_frame_kind_t)7, 0, 10},    {(sk_frame_kind_t)-1, 0, 10},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        sk_decoder_t d;
        sk_frame_t fr;
        sk_buf_t out;
        sk_buf_init(&out, 100);
        sk_decoder_init(&d, &bad[i]);
        T_EQ_INT(sk_decoder_next(&d, "ab\ncd", 5, 0, &fr), SK_EBADARG);
        T_EQ_INT(sk_decoder_next(&d, "ab\ncd", 5, 1, &fr), SK_EBADARG);
        T_EQ_INT(sk_frame_encode(&bad[i], "ab", 2, &out), SK_EBADARG);
        T_EQ_INT(sk_buf_len(&out), 0);
        T_EQ_INT(sk_frame_bufmax(&bad[i]), 0);
        sk_buf_free(&out);
    }
    char name[24];
    T_EQ_STR(sk_framing_name(&bad[6], name, sizeof name), "invalid");
    /* NULL bytes with a length. */
    sk_framing_t f = framing("line", 10);
    sk_decoder_t d;
    sk_frame_t fr;
    sk_decoder_init(&d, &f);
    T_EQ_INT(sk_decoder_next(&d, NULL, 3, 0, &fr), SK_EBADARG);
    T_EQ_INT(sk_decoder_next(&d, NULL, 0, 0, &fr), 0);
    T_EQ_INT(sk_decoder_next(&d, NULL, 0, 1, &fr), 0);
}

/* ---- decoding, case by case ---- */

/* Expect a frame with payload want[0..n) that used `consumed` bytes. */
#define EXPECT_FRAME(d, buf_, len_, eof_, want_, n_, used_)                                        \
    do {                                                                                           \
        sk_frame_t fr_;                                                                            \
        T_EQ_INT(sk_decoder_next((d), (buf_), (len_), (eof_), &fr_), 1);                           \
        T_EQ_INT(fr_.len, (n_));                                                                   \
        T_EQ_MEM(fr_.data, (want_), (n_));                                                         \
        T_EQ_INT(fr_.consumed, (used_));                                                           \
    } while (0)

#define EXPECT_RC(d, buf_, len_, eof_, rc_)                                                        \
    do {                                                                                           \
        sk_frame_t fr_;                                                                            \
        T_EQ_INT(sk_decoder_next((d), (buf_), (len_), (eof_), &fr_), (rc_));                       \
    } while (0)

TEST(three_frames_in_one_buffer)
{
    static const struct {
        const char *framing;
        const char *stream;
        size_t len;
        size_t used[3];
    } cases[] = {
        {"line", "one\ntwo\n\n", 9, {4, 4, 1}},
        {"crlf", "one\r\ntwo\r\n\r\n", 12, {5, 5, 2}},
        {"fixed:3", "onetwo\0\0\0", 9, {3, 3, 3}},
        {"len16", "\0\3one\0\3two\0\0", 12, {5, 5, 2}},
        {"len32", "\0\0\0\3one\0\0\0\3two\0\0\0\0", 18, {7, 7, 4}},
    };
    static const char *const want[] = {"one", "two", ""};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sk_framing_t f = framing(cases[c].framing, 100);
        sk_decoder_t d;
        sk_decoder_init(&d, &f);
        const char *p = cases[c].stream;
        size_t len = cases[c].len;
        for (int i = 0; i < 3; i++) {
            size_t n = f.kind == SK_FRAME_FIXED ? 3 : strlen(want[i]);
            const char *w = f.kind == SK_FRAME_FIXED && i == 2 ? "\0\0\0" : want[i];
            EXPECT_FRAME(&d, p, len, 0, w, n, cases[c].used[i]);
            p += cases[c].used[i];
            len -= cases[c].used[i];
        }
        T_EQ_INT(len, 0);
        EXPECT_RC(&d, p, 0, 0, 0);
        EXPECT_RC(&d, p, 0, 1, 0);
    }
}

TEST(one_frame_fed_one_byte_at_a_time)
{
    static const struct {
        const char *framing;
        const char *stream;
        size_t len, plen;
        const char *payload;
    } cases[] = {
        {"line", "hello\n", 6, 5, "hello"},        {"crlf", "he\rl\nlo\r\n", 9, 7, "he\rl\nlo"},
        {"fixed:5", "hello", 5, 5, "hello"},       {"len16", "\0\5hello", 7, 5, "hello"},
        {"len32", "\0\0\0\5hello", 9, 5, "hello"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        sk_framing_t f = framing(cases[c].framing, 100);
        sk_decoder_t d;
        sk_decoder_init(&d, &f);
        for (size_t n = 0; n < cases[c].len; n++)
            EXPECT_RC(&d, cases[c].stream, n, 0, 0);
        EXPECT_FRAME(&d, cases[c].stream, cases[c].len, 0, cases[c].payload, cases[c].plen,
                     cases[c].len);
        T_EQ_INT(d.scanned, 0);
    }
    /* eof: nothing until the peer's EOF; raw: a frame per byte. */
    sk_framing_t f = framing("eof", 100);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    for (size_t n = 0; n <= 5; n++)
        EXPECT_RC(&d, "hello", n, 0, 0);
    EXPECT_FRAME(&d, "hello", 5, 1, "hello", 5, 5);
    f = framing("raw", 100);
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "h", 0, 0, 0);
    EXPECT_FRAME(&d, "h", 1, 0, "h", 1, 1);
}

TEST(length_header_split_across_feeds)
{
    /* The caller's buffer after each feed: the decoder sees 1, 2, 3 header bytes. */
    const unsigned char stream[] = {0, 0, 1, 2, 'x'};
    unsigned char frame[4 + 258];
    memcpy(frame, stream, 4);
    memset(frame + 4, 'x', 258);
    sk_framing_t f = framing("len32", 1000);
    for (size_t split = 1; split < 4; split++) {
        sk_decoder_t d;
        sk_decoder_init(&d, &f);
        EXPECT_RC(&d, frame, split, 0, 0);
        EXPECT_RC(&d, frame, 4, 0, 0);
        EXPECT_RC(&d, frame, 4 + 257, 0, 0);
        EXPECT_FRAME(&d, frame, sizeof frame, 0, frame + 4, 258, sizeof frame);
    }
    sk_framing_t g = framing("len16", 1000);
    sk_decoder_t d;
    sk_decoder_init(&d, &g);
    EXPECT_RC(&d, "\1", 1, 0, 0);
    EXPECT_RC(&d, "\1\2", 2, 0, 0);
    unsigned char big[2 + 258] = {1, 2};
    EXPECT_FRAME(&d, big, sizeof big, 0, big + 2, 258, sizeof big);
}

TEST(len32_lengths_zero_max_max_plus_one_and_all_ones)
{
    enum { MAX = 1000 };
    static unsigned char buf[4 + MAX + 1];
    sk_framing_t f = framing("len32", MAX);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "\0\0\0\0", 4, 0, "", 0, 4);
    EXPECT_FRAME(&d, "\0\0\0\0", 4, 1, "", 0, 4);

    t_pattern(buf + 4, MAX + 1, 9, 0);
    buf[0] = 0, buf[1] = 0, buf[2] = MAX >> 8, buf[3] = MAX & 0xff;
    EXPECT_RC(&d, buf, 4 + MAX - 1, 0, 0);
    EXPECT_RC(&d, buf, 4 + MAX - 1, 1, SK_EEOF);
    EXPECT_FRAME(&d, buf, 4 + MAX, 0, buf + 4, MAX, 4 + MAX);

    buf[3] = (MAX + 1) & 0xff; /* max + 1: too big as soon as the header is in */
    EXPECT_RC(&d, buf, 4, 0, SK_ETOOBIG);
    EXPECT_RC(&d, buf, 4, 1, SK_ETOOBIG); /* too big wins over cut short */
    EXPECT_RC(&d, buf, 3, 0, 0);

    EXPECT_RC(&d, "\xff\xff\xff\xff", 4, 0, SK_ETOOBIG);
    EXPECT_RC(&d, "\x80\0\0\0", 4, 0, SK_ETOOBIG);
    EXPECT_RC(&d, "\xff\xff\xff\xffgarbage", 11, 1, SK_ETOOBIG);

    /* The largest max: 0xFFFFFFFF and max + 1 still refused, max itself waits for bytes. */
    sk_framing_t big = framing("len32", SK_FRAME_MAX_LIMIT);
    sk_decoder_init(&d, &big);
    EXPECT_RC(&d, "\xff\xff\xff\xff", 4, 0, SK_ETOOBIG);
    EXPECT_RC(&d, "\x40\0\0\x01", 4, 0, SK_ETOOBIG);
    EXPECT_RC(&d, "\x40\0\0\0", 4, 0, 0);
    EXPECT_RC(&d, "\x40\0\0\0", 4, 1, SK_EEOF);
}

TEST(len16_all_ones_with_largest_and_smaller_max)
{
    static unsigned char buf[2 + 65535];
    t_pattern(buf + 2, 65535, 10, 0);
    buf[0] = buf[1] = 0xff;
    sk_framing_t f = framing("len16", 0); /* 65535 */
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, 2, 0, 0);
    EXPECT_RC(&d, buf, sizeof buf - 1, 0, 0);
    EXPECT_FRAME(&d, buf, sizeof buf, 0, buf + 2, 65535, sizeof buf);

    sk_framing_t g = framing("len16", 65534);
    sk_decoder_init(&d, &g);
    EXPECT_RC(&d, buf, 1, 0, 0);
    EXPECT_RC(&d, buf, 2, 0, SK_ETOOBIG);
    buf[1] = 0xfe;
    EXPECT_FRAME(&d, buf, sizeof buf, 0, buf + 2, 65534, sizeof buf - 1);

    sk_framing_t h = framing("len16", 10);
    sk_decoder_init(&d, &h);
    EXPECT_RC(&d, "\0\x0b", 2, 0, SK_ETOOBIG);
    EXPECT_FRAME(&d,
                 "\0\x0a"
                 "0123456789",
                 12, 0, "0123456789", 10, 12);
    EXPECT_FRAME(&d, "\0\0", 2, 0, "", 0, 2);
}

TEST(leftovers_at_eof)
{
    sk_decoder_t d;
    sk_framing_t f = framing("len32", 100);
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "\0\0\0", 3, 0, 0);
    EXPECT_RC(&d, "\0\0\0", 3, 1, SK_EEOF); /* a 3-byte header, then EOF */
    EXPECT_RC(&d, "\0\0\0\5abcd", 8, 1, SK_EEOF);
    EXPECT_RC(&d, "", 0, 1, 0);

    f = framing("len16", 100);
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "\0", 1, 1, SK_EEOF);
    EXPECT_RC(&d, "\0\1", 2, 1, SK_EEOF);
    EXPECT_RC(&d, "", 0, 1, 0);

    f = framing("fixed:4", 100);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "abcdef", 6, 1, "abcd", 4, 4); /* whole frames first */
    EXPECT_RC(&d, "ef", 2, 1, SK_EEOF);
    EXPECT_RC(&d, "", 0, 1, 0);

    f = framing("line", 100);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "ab\ncd", 5, 1, "ab", 2, 3);
    EXPECT_FRAME(&d, "cd", 2, 1, "cd", 2, 2); /* unterminated last line */
    EXPECT_RC(&d, "", 0, 1, 0);

    f = framing("crlf", 100);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "cd\r", 3, 1, "cd\r", 3, 3); /* a lone "\r" at the end is data */
    EXPECT_FRAME(&d, "\n", 1, 1, "\n", 1, 1);
    EXPECT_RC(&d, "", 0, 1, 0);

    f = framing("raw", 100);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "xyz", 3, 1, "xyz", 3, 3);
    EXPECT_RC(&d, "", 0, 1, 0);
}

TEST(eof_framing)
{
    sk_framing_t f = framing("eof", 10);
    sk_decoder_t d;
    sk_frame_t fr;
    /* An empty stream is one empty frame, then the end. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "", 0, 0, 0);
    T_EQ_INT(sk_decoder_next(&d, "", 0, 1, &fr), 1);
    T_EQ_INT(fr.len, 0);
    T_EQ_INT(fr.consumed, 0);
    T_ASSERT(fr.data != NULL);
    T_EQ_INT(d.done, 1);
    EXPECT_RC(&d, "", 0, 1, 0);
    EXPECT_RC(&d, "", 0, 1, 0);
    /* NULL is a valid empty buffer. */
    sk_decoder_init(&d, &f);
    T_EQ_INT(sk_decoder_next(&d, NULL, 0, 1, &fr), 1);
    T_EQ_INT(fr.len, 0);
    /* Exactly max bytes. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "0123456789", 10, 0, 0);
    EXPECT_FRAME(&d, "0123456789", 10, 1, "0123456789", 10, 10);
    EXPECT_RC(&d, "", 0, 1, 0);
    /* max + 1 bytes: too big at once, before the peer's EOF. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "0123456789X", 11, 0, SK_ETOOBIG);
    EXPECT_RC(&d, "0123456789X", 11, 1, SK_ETOOBIG);
    T_EQ_INT(d.done, 0);
}

TEST(raw_cuts_at_max_and_never_fails)
{
    sk_framing_t f = framing("raw", 4);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "", 0, 0, 0);
    EXPECT_FRAME(&d, "0123456789", 10, 0, "0123", 4, 4);
    EXPECT_FRAME(&d, "456789", 6, 1, "4567", 4, 4);
    EXPECT_FRAME(&d, "89", 2, 1, "89", 2, 2);
    EXPECT_RC(&d, "", 0, 1, 0);
}

TEST(garbage_and_nul_bytes_in_payloads)
{
    unsigned char all[256], buf[4 + 256 + 2];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    sk_decoder_t d;
    /* Length-prefixed, fixed, raw and eof carry every byte value. */
    sk_framing_t f = framing("len32", 256);
    sk_decoder_init(&d, &f);
    memcpy(buf, "\0\0\1\0", 4);
    memcpy(buf + 4, all, 256);
    EXPECT_FRAME(&d, buf, 260, 0, all, 256, 260);
    f = framing("len16", 256);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, buf + 2, 258, 0, all, 256, 258);
    f = framing("fixed:256", 256);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, all, 256, 0, all, 256, 256);
    f = framing("eof", 256);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, all, 256, 1, all, 256, 256);
    f = framing("raw", 256);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, all, 256, 0, all, 256, 256);
    /* line: everything but "\n" (NUL, "\r", 0xff ...) is data. */
    f = framing("line", 256);
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, all, 256, 0, all, 10, 11);
    EXPECT_FRAME(&d, all + 11, 245, 1, all + 11, 245, 245);
    /* crlf: "\r" and "\n" alone are data too; the whole 0..255 run is one frame. */
    f = framing("crlf", 256);
    sk_decoder_init(&d, &f);
    memcpy(buf, all, 256);
    memcpy(buf + 256, "\r\n", 2);
    EXPECT_FRAME(&d, buf, 258, 0, all, 256, 258);
    EXPECT_FRAME(&d, "\0\0\r\n", 4, 0, "\0\0", 2, 4);
}

TEST(crlf_lone_cr_and_lf_and_cr_at_a_split)
{
    sk_framing_t f = framing("crlf", 100);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, "a\nb\rc\r\n", 7, 0, "a\nb\rc", 5, 7);
    EXPECT_FRAME(&d, "\n\r\n", 3, 0, "\n", 1, 3); /* "\n" first, then the CRLF */
    EXPECT_FRAME(&d, "\r\r\n", 3, 0, "\r", 1, 3); /* "\r\r\n": payload "\r" */
    EXPECT_FRAME(&d, "\r\n\r\n", 4, 0, "", 0, 2); /* an empty frame */
    EXPECT_FRAME(&d, "x\n\r\r\n", 5, 0, "x\n\r", 3, 5);
    /* "\r" ends one feed, "\n" starts the next. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "abc\r", 4, 0, 0);
    T_EQ_INT(d.scanned, 4);
    EXPECT_FRAME(&d, "abc\r\n", 5, 0, "abc", 3, 5);
    /* "\r", then something else: still one frame later. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "abc\r", 4, 0, 0);
    EXPECT_RC(&d, "abc\rx", 5, 0, 0);
    EXPECT_RC(&d, "abc\rx\n", 6, 0, 0);
    EXPECT_FRAME(&d, "abc\rx\n\r\n", 8, 0, "abc\rx\n", 6, 8);
    /* A "\n" at the very start is data: the "\r" before it belonged to the last frame. */
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "\n", 1, 0, 0);
    EXPECT_RC(&d, "\nab", 3, 0, 0);
}

TEST(line_too_long_exactly_at_max_plus_one)
{
    enum { MAX = 8 };
    char buf[MAX + 2];
    memset(buf, 'a', sizeof buf);
    sk_framing_t f = framing("line", MAX);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    for (size_t n = 0; n <= MAX; n++)
        EXPECT_RC(&d, buf, n, 0, 0);
    EXPECT_RC(&d, buf, MAX + 1, 0, SK_ETOOBIG); /* max + 1 bytes without "\n" */
    buf[MAX] = '\n';
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, MAX, 0, 0);
    EXPECT_FRAME(&d, buf, MAX + 1, 0, buf, MAX, MAX + 1); /* a max-byte line fits */
    buf[MAX] = 'a';
    buf[MAX + 1] = '\n';
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, MAX + 2, 0, SK_ETOOBIG); /* the "\n" came too late */
    /* At eof: a max-byte unterminated line is a frame; nothing longer ever is. */
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, buf, MAX, 1, buf, MAX, MAX);
    EXPECT_RC(&d, buf, MAX + 1, 1, SK_ETOOBIG);
}

TEST(crlf_too_long)
{
    enum { MAX = 8 };
    char buf[MAX + 3];
    memset(buf, 'a', sizeof buf);
    sk_framing_t f = framing("crlf", MAX);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    for (size_t n = 0; n <= MAX; n++)
        EXPECT_RC(&d, buf, n, 0, 0);
    /* max + 1 bytes, the last not a "\r": no frame of max bytes can end here any more. */
    EXPECT_RC(&d, buf, MAX + 1, 0, SK_ETOOBIG);
    /* ... but a "\r" there may be completed by the next byte. */
    buf[MAX] = '\r';
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, MAX + 1, 0, 0);
    EXPECT_RC(&d, buf, MAX + 1, 1, SK_ETOOBIG); /* at eof it never will be */
    EXPECT_RC(&d, buf, MAX + 2, 0, SK_ETOOBIG); /* "\r" then 'a' */
    buf[MAX + 1] = '\n';
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, MAX + 1, 0, 0);
    EXPECT_FRAME(&d, buf, MAX + 2, 0, buf, MAX, MAX + 2);
    /* "\r\r\n" ending at max + 1: the first "\r" is the frame's last byte. */
    buf[MAX - 1] = '\r';
    buf[MAX] = '\r';
    buf[MAX + 1] = '\n';
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, buf, MAX + 2, 0, buf, MAX, MAX + 2);
    memset(buf, 'a', sizeof buf);
    buf[MAX] = '\r';
    buf[MAX + 1] = '\r';
    buf[MAX + 2] = '\n';
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, buf, MAX + 3, 0, SK_ETOOBIG);
}

TEST(scanned_makes_long_lines_linear)
{
    /* A 1 MiB line fed one byte at a time: each call looks at the new byte only. */
    const size_t max = SK_FRAME_MAX_DEFAULT;
    for (int crlf = 0; crlf < 2; crlf++) {
        sk_framing_t f = framing(crlf ? "crlf" : "line", max);
        sk_buf_t b;
        sk_buf_init(&b, sk_frame_bufmax(&f));
        sk_decoder_t d;
        sk_decoder_init(&d, &f);
        sk_frame_t fr;
        double t0 = t_now();
        for (size_t i = 0; i < max; i++) {
            char c = (char)('a' + i % 26);
            if (crlf && i % 1000 == 999)
                c = i % 2000 == 999 ? '\r' : '\n'; /* lone delimiters halfway */
            T_EQ_INT(sk_buf_append(&b, &c, 1), 0);
            int r = sk_decoder_next(&d, sk_buf_data(&b), sk_buf_len(&b), 0, &fr);
            if (r != 0) T_FAIL("byte %zu: %d", i, r);
            if (d.scanned != sk_buf_len(&b))
                T_FAIL("byte %zu: scanned %zu of %zu", i, d.scanned, sk_buf_len(&b));
        }
        T_EQ_INT(sk_buf_append(&b, crlf ? "\r\n" : "\n", crlf ? 2 : 1), 0);
        T_EQ_INT(sk_decoder_next(&d, sk_buf_data(&b), sk_buf_len(&b), 0, &fr), 1);
        T_EQ_INT(fr.len, max);
        T_EQ_INT(fr.consumed, sk_buf_len(&b));
        T_EQ_INT(d.scanned, 0);
        t_note("%s: 1 MiB line a byte at a time in %.3f s", crlf ? "crlf" : "line", t_now() - t0);
        sk_buf_free(&b);
    }
}

TEST(scanned_past_the_buffer_is_reset)
{
    /* The caller broke the contract (the buffer shrank without a frame): no bad read, and
     * the bytes that are there are searched again. */
    sk_framing_t f = framing("line", 100);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "abcdefgh", 8, 0, 0);
    T_EQ_INT(d.scanned, 8);
    EXPECT_FRAME(&d, "a\nb", 3, 0, "a", 1, 2);
    f = framing("crlf", 100);
    sk_decoder_init(&d, &f);
    EXPECT_RC(&d, "abcdefgh", 8, 0, 0);
    EXPECT_FRAME(&d, "a\r\nb", 4, 0, "a", 1, 3);
    d.scanned = (size_t)-1;
    EXPECT_FRAME(&d, "a\r\nb", 4, 0, "a", 1, 3);
}

/* ---- encoding ---- */

TEST(encode_writes_header_payload_trailer)
{
    sk_buf_t b;
    sk_buf_init(&b, 1000);
    sk_framing_t f;
    f = framing("line", 10);
    T_EQ_INT(sk_frame_encode(&f, "ab\r", 3, &b), 0);
    f = framing("crlf", 10);
    T_EQ_INT(sk_frame_encode(&f, "c\nd\r", 4, &b), 0);
    f = framing("fixed:2", 10);
    T_EQ_INT(sk_frame_encode(&f, "ef", 2, &b), 0);
    f = framing("len16", 10);
    T_EQ_INT(sk_frame_encode(&f, "g", 1, &b), 0);
    T_EQ_INT(sk_frame_encode(&f, "", 0, &b), 0);
    f = framing("len32", 300);
    unsigned char big[258];
    t_pattern(big, sizeof big, 11, 0);
    T_EQ_INT(sk_frame_encode(&f, big, sizeof big, &b), 0);
    f = framing("raw", 10);
    T_EQ_INT(sk_frame_encode(&f, "hi", 2, &b), 0);
    T_EQ_INT(sk_frame_encode(&f, NULL, 0, &b), 0);
    f = framing("eof", 10);
    T_EQ_INT(sk_frame_encode(&f, "yo", 2, &b), 0);
    static const char want[] = "ab\r\nc\nd\r\r\nef\0\1g\0\0\0\0\1\2";
    T_EQ_INT(sk_buf_len(&b), sizeof want - 1 + 258 + 4);
    T_EQ_MEM(sk_buf_data(&b), want, sizeof want - 1);
    T_EQ_MEM(sk_buf_data(&b) + sizeof want - 1, big, 258);
    T_EQ_MEM(sk_buf_data(&b) + sizeof want - 1 + 258, "hiyo", 4);
    sk_buf_free(&b);
}

TEST(encode_errors_leave_the_buffer_unchanged)
{
    sk_buf_t b;
    sk_buf_init(&b, 20);
    T_EQ_INT(sk_buf_append(&b, "0123456789", 10), 0);
    sk_framing_t f;
    f = framing("fixed:3", 10);
    T_EQ_INT(sk_frame_encode(&f, "ab", 2, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "abcd", 4, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "abcdefghijk", 11, &b), SK_ETOOBIG); /* over max first */
    f = framing("line", 10);
    T_EQ_INT(sk_frame_encode(&f, "a\nb", 3, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "\n", 1, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "0123456789a", 11, &b), SK_ETOOBIG);
    f = framing("crlf", 10);
    T_EQ_INT(sk_frame_encode(&f, "a\r\nb", 4, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "\r\n", 2, &b), SK_EBADARG);
    T_EQ_INT(sk_frame_encode(&f, "a\n\r\n", 4, &b), SK_EBADARG);
    /* Room: the buffer holds 10 of 20 bytes. A 9-byte line needs 10: fits exactly after a
     * refused 10-byte line (11 with "\n"); nothing of the refused one was written. */
    f = framing("line", 10);
    T_EQ_INT(sk_frame_encode(&f, "abcdefghij", 10, &b), SK_ETOOBIG);
    f = framing("len32", 10);
    T_EQ_INT(sk_frame_encode(&f, "abcdefg", 7, &b), SK_ETOOBIG); /* 11 bytes */
    f = framing("crlf", 10);
    T_EQ_INT(sk_frame_encode(&f, "abcdefghi", 9, &b), SK_ETOOBIG); /* 11 bytes */
    T_EQ_INT(sk_buf_len(&b), 10);
    T_EQ_MEM(sk_buf_data(&b), "0123456789", 10);
    f = framing("line", 10);
    T_EQ_INT(sk_frame_encode(&f, "abcdefghi", 9, &b), 0);
    T_EQ_INT(sk_buf_len(&b), 20);
    T_EQ_MEM(sk_buf_data(&b), "0123456789abcdefghi\n", 20);
    T_EQ_INT(sk_frame_encode(&f, "", 0, &b), SK_ETOOBIG);
    f = framing("raw", 10);
    T_EQ_INT(sk_frame_encode(&f, "", 0, &b), 0); /* nothing to add always fits */
    T_EQ_INT(sk_frame_encode(&f, "x", 1, &b), SK_ETOOBIG);
    T_EQ_INT(sk_buf_len(&b), 20);
    /* Largest lengths: no overflow in the header arithmetic. */
    f = framing("len32", SK_FRAME_MAX_LIMIT);
    T_EQ_INT(sk_frame_encode(&f, "x", (size_t)SK_FRAME_MAX_LIMIT + 1, &b), SK_ETOOBIG);
    T_EQ_INT(sk_frame_encode(&f, "x", (size_t)-1, &b), SK_ETOOBIG);
    T_EQ_INT(sk_frame_encode(&f, NULL, 5, &b), SK_EBADARG);
    T_EQ_INT(sk_buf_len(&b), 20);
    sk_buf_free(&b);
}

TEST(encode_len16_at_65535)
{
    static unsigned char payload[65535];
    t_pattern(payload, sizeof payload, 12, 0);
    sk_framing_t f = framing("len16", 0);
    sk_buf_t b;
    sk_buf_init(&b, sk_frame_bufmax(&f));
    T_EQ_INT(sk_frame_encode(&f, payload, sizeof payload, &b), 0);
    T_EQ_INT(sk_buf_len(&b), 65537);
    T_EQ_MEM(sk_buf_data(&b), "\xff\xff", 2);
    sk_decoder_t d;
    sk_decoder_init(&d, &f);
    EXPECT_FRAME(&d, sk_buf_data(&b), sk_buf_len(&b), 1, payload, 65535, 65537);
    sk_buf_free(&b);
}

/* ---- properties over many random streams ---- */

/* A random payload of at most max bytes that framing f can carry, from bytes that matter
 * to the framings ("\r", "\n", NUL, 0xff) and others. */
static size_t random_payload(const sk_framing_t *f, unsigned char *p, uint64_t *rng)
{
    static const unsigned char alphabet[] = {'\r', '\n', 0, 0xff, 'a', 'b', 0x80, '\r'};
    size_t n = f->kind == SK_FRAME_FIXED ? f->size : (size_t)(t_rand(rng) % (f->max + 1));
    for (size_t i = 0; i < n; i++) {
        p[i] =
            t_rand(rng) % 3 ? alphabet[t_rand(rng) % sizeof alphabet] : (unsigned char)t_rand(rng);
        if (f->kind == SK_FRAME_LINE && p[i] == '\n') p[i] = 'n';
        if (f->kind == SK_FRAME_CRLF && p[i] == '\n' && i > 0 && p[i - 1] == '\r') p[i] = 'n';
    }
    return n;
}

TEST(encode_decode_round_trip_every_framing)
{
    enum { FRAMES = 40, MAXMAX = 300 };
    uint64_t rng = 2024;
    for (size_t k = 0; k < NKINDS; k++) {
        for (int round = 0; round < 40; round++) {
            size_t max = 1 + (size_t)(t_rand(&rng) % MAXMAX);
            char text[32];
            snprintf(text, sizeof text, "%s", all_names[k]);
            if (strncmp(text, "fixed", 5) == 0)
                snprintf(text, sizeof text, "fixed:%zu", 1 + (size_t)(t_rand(&rng) % max));
            sk_framing_t f = framing(text, max);
            int nframes = f.kind == SK_FRAME_EOF ? 1 : FRAMES;
            sk_buf_t stream;
            sk_buf_init(&stream, (size_t)nframes * (max + SK_FRAME_OVERHEAD));
            rec_t want, got;
            rec_init(&want, (size_t)nframes * max);
            unsigned char payload[MAXMAX];
            for (int i = 0; i < nframes; i++) {
                size_t n = random_payload(&f, payload, &rng);
                T_EQ_INT(sk_frame_encode(&f, payload, n, &stream), 0);
                rec_add(&want, payload, n);
            }
            size_t slen = sk_buf_len(&stream);
            static const size_t chunks[] = {0, 1, 2, 5, 64};
            for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
                rec_init(&got, slen);
                run_caller(&f, (const unsigned char *)sk_buf_data(&stream), slen, chunks[c],
                           t_rand(&rng), &got);
                if (f.kind == SK_FRAME_RAW) {
                    T_EQ_INT(got.status, 0);
                    T_EQ_INT(got.nbytes, want.nbytes);
                    T_EQ_MEM(got.bytes, want.bytes, want.nbytes);
                } else {
                    rec_check_equal(&got, &want, 0);
                }
                rec_free(&got);
            }
            rec_free(&want);
            sk_buf_free(&stream);
        }
    }
}

/* A random stream for framing f: mostly valid frames, with some garbage, damaged headers,
 * long runs without delimiters and cut-off ends. */
static size_t random_stream(const sk_framing_t *f, unsigned char *s, size_t cap, uint64_t *rng)
{
    sk_buf_t b;
    sk_buf_init(&b, cap);
    unsigned char payload[64];
    int frames = (int)(t_rand(rng) % 12);
    for (int i = 0; i < frames; i++) {
        unsigned what = (unsigned)(t_rand(rng) % 10);
        size_t n = random_payload(f, payload, rng);
        if (what < 7) {
            if (sk_frame_encode(f, payload, n, &b) == SK_ETOOBIG) break;
        } else {
            /* garbage: random bytes, or a random-looking length header */
            size_t g = (size_t)(t_rand(rng) % 20);
            for (size_t j = 0; j < g; j++)
                payload[j] = (unsigned char)(what == 9 ? t_rand(rng) % 4 : t_rand(rng));
            if (sk_buf_append(&b, payload, g) < 0) break;
        }
    }
    size_t n = sk_buf_len(&b);
    if (n > 0 && t_rand(rng) % 4 == 0) n -= (size_t)(t_rand(rng) % (n + 1)); /* cut short */
    memcpy(s, sk_buf_data(&b), n);
    sk_buf_free(&b);
    return n;
}

TEST_TIMEOUT(split_invariance_property, 60)
{
    enum { STREAMS = 400, SPLITS = 6, CAP = 2048 };
    static unsigned char s[CAP];
    uint64_t rng = 0x5eed;
    size_t frames_seen = 0, errors_seen = 0;
    for (size_t k = 0; k < NKINDS; k++) {
        for (int i = 0; i < STREAMS; i++) {
            size_t max = 1 + (size_t)(t_rand(&rng) % 40);
            char text[32];
            snprintf(text, sizeof text, "%s", all_names[k]);
            if (strncmp(text, "fixed", 5) == 0)
                snprintf(text, sizeof text, "fixed:%zu", 1 + (size_t)(t_rand(&rng) % max));
            sk_framing_t f = framing(text, max);
            size_t slen = random_stream(&f, s, CAP, &rng);
            rec_t model, whole, split;
            rec_init(&model, slen);
            rec_init(&whole, slen);
            model_decode(&f, s, slen, &model);
            run_caller(&f, s, slen, 0, t_rand(&rng), &whole);
            rec_check_equal(&whole, &model, f.kind == SK_FRAME_RAW);
            for (int j = 0; j < SPLITS; j++) {
                static const size_t chunks[] = {1, 2, 3, 7, 50, 1000};
                rec_init(&split, slen);
                run_caller(&f, s, slen, chunks[j % 6], t_rand(&rng), &split);
                rec_check_equal(&split, &whole, f.kind == SK_FRAME_RAW);
                rec_free(&split);
            }
            frames_seen += whole.nframes;
            errors_seen += whole.status != 0;
            rec_free(&model);
            rec_free(&whole);
        }
    }
    t_note("%zu streams, %zu frames, %zu ending in an error", NKINDS * STREAMS, frames_seen,
           errors_seen);
    /* The generator really produces both. */
    T_GT_INT(frames_seen, NKINDS * STREAMS);
    T_GT_INT(errors_seen, 100);
}
