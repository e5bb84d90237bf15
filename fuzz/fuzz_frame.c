/*
 * fuzz_frame.c: a libFuzzer target for the framing codecs (sockit/frame.h).
 *
 * Input layout (7 header bytes, then the stream):
 *   [0]    framing: raw, line, crlf, fixed, len16, len32, eof (byte % 7)
 *   [1..2] max = 1 + (big-endian value % 4096)
 *   [3..4] fixed's N = 1 + (big-endian value % max)
 *   [5]    bits 0-2: largest chunk the split run feeds (1, 2, 3, 5, 8, 64, 512, 4096);
 *          bit 3: eof arrives on a call of its own rather than with the last bytes
 *   [6]    seed of the chunk sizes
 * The stream is decoded by a model (a plain whole-stream decoder written from the header's
 * text), by the real decoder fed as much as its buffer takes, and by the real decoder fed
 * random chunks; all three must agree (raw: the same bytes), every frame must lie inside
 * the buffer and within max, and a full buffer must always let the decoder decide. Then
 * the frames are encoded and decoded again and must come back the same. Any failure
 * abort()s. Deterministic: the only randomness is seeded from the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/error.h"
#include "sockit/frame.h"

#include "fuzz.h"

#define HEADER_LEN 7
#define MAX_MAX 4096

/* The frames a stream decoded to, and how the decoding ended (0: cleanly). */
typedef struct rec {
    uint8_t *bytes;
    size_t nbytes, bytes_cap;
    size_t *lens;
    size_t nframes, lens_cap;
    int status;
} rec_t;

static void rec_init(rec_t *r, size_t stream_len)
{
    r->bytes_cap = stream_len + 1;
    r->lens_cap = stream_len + 2;
    r->bytes = malloc(r->bytes_cap);
    r->lens = malloc(r->lens_cap * sizeof *r->lens);
    CHECK(r->bytes && r->lens);
    r->nbytes = r->nframes = 0;
    r->status = 0;
}

static void rec_free(rec_t *r)
{
    free(r->bytes);
    free(r->lens);
}

static void rec_add(rec_t *r, const uint8_t *p, size_t n)
{
    CHECK(n <= r->bytes_cap - r->nbytes);
    CHECK(r->nframes < r->lens_cap);
    if (n > 0) memcpy(r->bytes + r->nbytes, p, n);
    r->nbytes += n;
    r->lens[r->nframes++] = n;
}

static void rec_check_equal(const rec_t *a, const rec_t *b, int raw)
{
    CHECK(a->status == b->status);
    CHECK(a->nbytes == b->nbytes);
    CHECK(a->nbytes == 0 || memcmp(a->bytes, b->bytes, a->nbytes) == 0);
    if (raw) return;
    CHECK(a->nframes == b->nframes);
    for (size_t i = 0; i < a->nframes; i++)
        CHECK(a->lens[i] == b->lens[i]);
}

static uint64_t next_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* The whole stream at once, framing by framing, as the header describes it. */
static void model_decode(const sk_framing_t *f, const uint8_t *s, size_t slen, rec_t *r)
{
    size_t pos = 0, max = f->max, hdr = f->kind == SK_FRAME_LEN16 ? 2 : 4;
    r->status = 0;
    while (pos < slen) {
        const uint8_t *p = s + pos;
        size_t rest = slen - pos, i, n;
        switch (f->kind) {
        case SK_FRAME_RAW:
            n = rest < max ? rest : max;
            rec_add(r, p, n);
            pos += n;
            break;
        case SK_FRAME_LINE:
        case SK_FRAME_CRLF:
            for (i = 0; i < rest; i++) {
                if (f->kind == SK_FRAME_LINE ? p[i] == '\n'
                                             : p[i] == '\r' && i + 1 < rest && p[i + 1] == '\n')
                    break;
            }
            if (i > max) {
                r->status = SK_ETOOBIG;
                return;
            }
            rec_add(r, p, i);
            pos += i == rest ? i : i + (f->kind == SK_FRAME_LINE ? 1 : 2);
            break;
        case SK_FRAME_FIXED:
            if (rest < f->size) {
                r->status = SK_EEOF;
                return;
            }
            rec_add(r, p, f->size);
            pos += f->size;
            break;
        case SK_FRAME_LEN16:
        case SK_FRAME_LEN32:
            if (rest < hdr) {
                r->status = SK_EEOF;
                return;
            }
            for (n = 0, i = 0; i < hdr; i++)
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
            pos = slen;
            break;
        }
    }
    if (f->kind == SK_FRAME_EOF) {
        if (slen > max)
            r->status = SK_ETOOBIG;
        else
            rec_add(r, s, slen);
    }
}

/*
 * The caller: a sk_buf of sk_frame_bufmax() bytes, fed chunks of at most chunk_max bytes
 * (0: as many as fit), drained with sk_decoder_next() after each feed.
 */
static void run_caller(const sk_framing_t *f, const uint8_t *s, size_t slen, size_t chunk_max,
                       int eof_apart, uint64_t seed, rec_t *r)
{
    sk_buf_t b;
    sk_buf_init(&b, sk_frame_bufmax(f));
    CHECK(b.max > 0 && b.max <= f->max + SK_FRAME_OVERHEAD);
    sk_decoder_t d;
    sk_decoder_init(&d, f);
    uint64_t rng = seed;
    size_t pos = 0;
    int eof = 0;
    for (size_t rounds = 0;; rounds++) {
        CHECK(rounds <= 2 * slen + 4);
        size_t n = sk_buf_room(&b);
        if (chunk_max > 0) {
            size_t c = 1 + (size_t)(next_rand(&rng) % chunk_max);
            if (c < n) n = c;
        }
        if (n > slen - pos) n = slen - pos;
        CHECK(sk_buf_append(&b, s + pos, n) == 0);
        pos += n;
        if (pos == slen && (!eof_apart || n == 0)) eof = 1;
        for (;;) {
            sk_frame_t fr;
            const uint8_t *buf = (const uint8_t *)sk_buf_data(&b);
            size_t len = sk_buf_len(&b);
            int rc = sk_decoder_next(&d, buf, len, eof, &fr);
            if (rc < 0) {
                CHECK(rc == SK_ETOOBIG || rc == SK_EEOF);
                CHECK(rc != SK_EEOF || eof);
                r->status = rc;
                sk_buf_free(&b);
                return;
            }
            if (rc == 0) break;
            CHECK(rc == 1);
            CHECK(fr.consumed <= len);
            CHECK(fr.len <= f->max);
            CHECK(fr.data >= buf && fr.len <= fr.consumed &&
                  (size_t)(fr.data - buf) <= fr.consumed - fr.len);
            CHECK(fr.consumed > 0 || f->kind == SK_FRAME_EOF);
            CHECK(d.scanned == 0);
            rec_add(r, fr.data, fr.len);
            sk_buf_consume(&b, fr.consumed);
        }
        if (eof) break;
        CHECK(sk_buf_room(&b) > 0); /* undecided with a full buffer: stuck for good */
    }
    r->status = 0;
    sk_buf_free(&b);
}

/* Encode the frames of *r and decode them again: the same frames, cleanly ended. */
static void check_round_trip(const sk_framing_t *f, const rec_t *r)
{
    if (f->kind == SK_FRAME_EOF && r->nframes == 0)
        return; /* nothing to resend: an empty stream would be one empty frame */
    size_t cap = r->nbytes + r->nframes * SK_FRAME_OVERHEAD;
    sk_buf_t enc;
    sk_buf_init(&enc, cap > 0 ? cap : 1);
    size_t off = 0;
    for (size_t i = 0; i < r->nframes; i++) {
        int rc = sk_frame_encode(f, r->bytes + off, r->lens[i], &enc);
        if (rc != 0) {
            fprintf(stderr, "fuzz_frame: encode of frame %zu (%zu bytes): %s\n", i, r->lens[i],
                    sk_strerror(rc));
            abort();
        }
        off += r->lens[i];
    }
    /* One byte over max is refused before a byte of the payload is read. */
    CHECK(sk_frame_encode(f, r->bytes, f->max + 1, &enc) == SK_ETOOBIG);
    size_t elen = sk_buf_len(&enc);
    rec_t again;
    rec_init(&again, elen);
    run_caller(f, (const uint8_t *)sk_buf_data(&enc), elen, 0, 0, 1, &again);
    rec_t want = *r;
    want.status = 0;
    rec_check_equal(&again, &want, f->kind == SK_FRAME_RAW);
    rec_free(&again);
    sk_buf_free(&enc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const kinds[] = {"raw", "line", "crlf", "fixed", "len16", "len32", "eof"};
    static const size_t chunks[] = {1, 2, 3, 5, 8, 64, 512, 4096};
    if (size < HEADER_LEN) return 0;
    size_t kind = data[0] % 7;
    size_t max = 1 + (size_t)((data[1] << 8 | data[2]) % MAX_MAX);
    size_t n = 1 + (size_t)((data[3] << 8 | data[4]) % max);
    size_t chunk_max = chunks[data[5] & 7];
    int eof_apart = (data[5] >> 3) & 1;
    uint64_t seed = 0x9e3779b97f4a7c15ULL ^ data[6];
    const uint8_t *s = data + HEADER_LEN;
    size_t slen = size - HEADER_LEN;

    /* Through the text form, as a user would; the name must parse back to the same. */
    char text[32], name[24];
    if (kind == SK_FRAME_FIXED)
        snprintf(text, sizeof text, "fixed:%zu", n);
    else
        snprintf(text, sizeof text, "%s", kinds[kind]);
    sk_framing_t f, g;
    char err[SK_ERRLEN];
    CHECK(sk_framing_parse(&f, text, max, err) == 0);
    CHECK((size_t)f.kind == kind);
    CHECK(strcmp(sk_framing_name(&f, name, sizeof name), text) == 0);
    CHECK(sk_framing_parse(&g, name, max, err) == 0);
    CHECK(g.kind == f.kind && g.size == f.size && g.max == f.max);

    rec_t model, whole, split;
    rec_init(&model, slen);
    rec_init(&whole, slen);
    rec_init(&split, slen);
    model_decode(&f, s, slen, &model);
    run_caller(&f, s, slen, 0, 0, seed, &whole);
    run_caller(&f, s, slen, chunk_max, eof_apart, seed, &split);
    rec_check_equal(&whole, &model, f.kind == SK_FRAME_RAW);
    rec_check_equal(&split, &whole, f.kind == SK_FRAME_RAW);
    check_round_trip(&f, &whole);
    rec_free(&model);
    rec_free(&whole);
    rec_free(&split);
    return 0;
}
