/*
 * fuzz_http.c: a libFuzzer target for the HTTP response reader of `sockit get`
 * (cli/http.h).
 *
 * Input layout (3 header bytes, then the reply as the server would send it):
 *   [0]    bits 0-2: largest read the split run gets (1, 2, 3, 7, 64, 512, 4096, 65536);
 *          bit 3: read the body whatever the status (as get -i does), else only for 2xx;
 *          bit 4: the stream ends with a read error instead of EOF;
 *          bit 5: the body sink fails once the body passes [2] bytes
 *   [1]    seed of the read sizes of the split run
 *   [2]    the sink's limit, with bit 5
 * The reply is read twice, by reads as large as the reader asks for and by reads of random
 * sizes. Invariants, any failure abort()s:
 *   - both runs end the same: the same status, message, head fields, head lines and body;
 *   - the head lines shown are the stream's first bytes, in order, and once the head is
 *     read they are all of header_bytes;
 *   - every body piece handed on is input bytes after the head, at increasing offsets and
 *     never the same byte twice (contiguous unless chunked): the body never exceeds what
 *     the input contained; a complete body has the length its framing says;
 *   - a failure has either a message or a failed callback, never both, never neither; a
 *     success has neither; nothing is read after the end or an error (no hang);
 *   - the head's text fields are printable (sk_escape_clean); a body with a
 *     Transfer-Encoding is read only when that is exactly "chunked" (never framed by
 *     Content-Length, never passed on still gzip-coded).
 * Deterministic: the only randomness is seeded from the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "sockit/escape.h"

#include "fuzz.h"

#define HEADER_LEN 3

/* One run over the stream: what the reader was fed and what it handed back. */
struct run {
    const char *s; /* the stream */
    size_t slen;
    size_t chunk_max; /* 0: every read gets as much as asked */
    uint64_t rng;
    int error_end;     /* the end of the stream is a read error */
    size_t sink_limit; /* SIZE_MAX: the sink never fails */
    struct http_reader *r;

    size_t in;        /* stream bytes handed to the reader */
    size_t end_reads; /* reads at the end (EOF or error) */
    int read_failed, sink_failed;
    size_t head_len; /* head bytes shown: the stream's first head_len bytes */
    int contiguous;  /* the body must follow the head without gaps */
    size_t body_end; /* stream offset after the last body byte handed on */
    char *body;      /* the body as handed on, slen bytes at most */
    size_t nbody;

    int rc_head, rc_body, read_body;
    struct http_head h;
};

static uint64_t next_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dULL;
}

static ssize_t on_read(void *ctx, char *buf, size_t n)
{
    struct run *u = ctx;
    CHECK(n > 0 && n <= HTTP_BUF);
    CHECK(!u->read_failed && !u->sink_failed); /* nothing after an error */
    if (u->in == u->slen) {
        CHECK(++u->end_reads <= 2); /* the end is final: no loop over it */
        if (u->error_end) {
            u->read_failed = 1;
            return -1;
        }
        return 0;
    }
    size_t k = u->slen - u->in;
    if (k > n) k = n;
    if (u->chunk_max > 0) {
        size_t c = 1 + (size_t)(next_rand(&u->rng) % u->chunk_max);
        if (k > c) k = c;
    }
    memcpy(buf, u->s + u->in, k);
    u->in += k;
    return (ssize_t)k;
}

/* Where p[0..n) of the reader's buffer came from in the stream. */
static size_t stream_offset(const struct run *u, const char *p, size_t n)
{
    const struct http_reader *r = u->r;
    CHECK(p >= r->buf && n <= r->len && (size_t)(p - r->buf) <= r->len - n);
    CHECK(r->len <= u->in);
    size_t off = u->in - r->len + (size_t)(p - r->buf);
    CHECK(memcmp(p, u->s + off, n) == 0);
    return off;
}

static int on_head_line(void *ctx, const char *p, size_t n)
{
    struct run *u = ctx;
    CHECK(n > 0 && p[n - 1] == '\n');
    CHECK(u->nbody == 0);
    CHECK(stream_offset(u, p, n) == u->head_len);
    u->head_len += n;
    return 0;
}

static int on_body(void *ctx, const char *p, size_t n)
{
    struct run *u = ctx;
    CHECK(n > 0);
    CHECK(!u->sink_failed);
    size_t off = stream_offset(u, p, n);
    CHECK(off >= u->head_len && off >= u->body_end);
    if (u->contiguous) CHECK(off == (u->nbody ? u->body_end : u->head_len));
    u->body_end = off + n;
    size_t take = n;
    if (u->nbody + take > u->sink_limit) {
        take = u->sink_limit - u->nbody;
        u->sink_failed = 1;
    }
    CHECK(u->nbody + take <= u->slen);
    memcpy(u->body + u->nbody, p, take);
    u->nbody += take;
    return u->sink_failed ? -1 : 0;
}

/* The outcome of one call: a message xor a failed callback on -1, neither on 0. */
static void check_outcome(const struct run *u, int rc)
{
    int cb_failed = u->read_failed || u->sink_failed;
    CHECK(memchr(u->r->err, '\0', sizeof u->r->err) != NULL);
    if (rc == 0) {
        CHECK(u->r->err[0] == '\0' && !cb_failed);
    } else {
        CHECK(rc == -1);
        CHECK((u->r->err[0] != '\0') != cb_failed);
    }
}

static void run_reader(struct run *u, int body_always)
{
    u->r = malloc(sizeof *u->r);
    u->body = malloc(u->slen + 1);
    CHECK(u->r && u->body);
    memset(u->r->err, 'x', sizeof u->r->err); /* init must clear it */
    http_reader_init(u->r, on_read, on_body, on_head_line, u, "fuzz");
    CHECK(u->r->err[0] == '\0');
    u->rc_head = http_read_head(u->r, &u->h);
    check_outcome(u, u->rc_head);
    if (u->rc_head == 0) {
        const struct http_head *h = &u->h;
        CHECK(u->head_len == u->r->header_bytes && u->head_len <= HTTP_HEADERS_MAX);
        CHECK(h->code >= 200 && h->code <= 599);
        CHECK(memchr(h->status, '\0', sizeof h->status) &&
              memchr(h->location, '\0', sizeof h->location) &&
              memchr(h->coding, '\0', sizeof h->coding));
        /* Printable: nothing the server chose reaches a terminal raw. */
        CHECK(sk_escape_clean(h->status, strlen(h->status)) &&
              sk_escape_clean(h->location, strlen(h->location)) &&
              sk_escape_clean(h->coding, strlen(h->coding)));
        /* chunked only as the one coding; any coding means Transfer-Encoding came. */
        CHECK(!h->chunked || (h->transfer_coded && h->codings == 1 && !h->coding[0]));
        CHECK(h->transfer_coded || (h->codings == 0 && !h->coding[0]));
        CHECK(h->length <= HTTP_BODY_LIMIT);
        u->read_body = body_always || (h->code >= 200 && h->code <= 299);
        u->contiguous = !h->chunked;
    }
    if (u->read_body) {
        u->rc_body = http_read_body(u->r, &u->h);
        check_outcome(u, u->rc_body);
        /* body_bytes counts what the sink took in full; a failing sink took a part. */
        CHECK(u->sink_failed ? u->r->body_bytes <= u->nbody : u->r->body_bytes == u->nbody);
        if (u->rc_body == 0) {
            const struct http_head *h = &u->h;
            /* Transfer-Encoding frames every body it comes with, and only chunked is
             * read: any other coding (or chunked not last) never succeeds. */
            if (h->code != 204 && h->code != 304 && h->transfer_coded) CHECK(h->chunked);
            if (h->code == 204 || h->code == 304)
                CHECK(u->nbody == 0);
            else if (!h->chunked && h->has_length)
                CHECK(u->nbody == h->length);
            else if (!h->chunked)
                CHECK(u->nbody == u->slen - u->head_len); /* read to the end */
            CHECK(u->r->header_bytes <= HTTP_HEADERS_MAX);
        }
    } else {
        CHECK(u->nbody == 0);
    }
}

static void run_free(struct run *u)
{
    free(u->r);
    free(u->body);
}

static void check_same(const struct run *a, const struct run *b)
{
    CHECK(a->rc_head == b->rc_head && a->read_body == b->read_body && a->rc_body == b->rc_body);
    CHECK(strcmp(a->r->err, b->r->err) == 0);
    CHECK(a->read_failed == b->read_failed && a->sink_failed == b->sink_failed);
    CHECK(a->head_len == b->head_len);
    CHECK(a->nbody == b->nbody && memcmp(a->body, b->body, a->nbody) == 0);
    if (a->rc_head == 0) {
        const struct http_head *x = &a->h, *y = &b->h;
        CHECK(x->code == y->code && x->chunked == y->chunked && x->has_length == y->has_length &&
              x->length == y->length && x->has_location == y->has_location);
        CHECK(x->transfer_coded == y->transfer_coded && x->codings == y->codings);
        CHECK(strcmp(x->status, y->status) == 0 && strcmp(x->location, y->location) == 0 &&
              strcmp(x->coding, y->coding) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const size_t chunks[] = {1, 2, 3, 7, 64, 512, 4096, 65536};
    if (size < HEADER_LEN) return 0;
    struct run whole, split;
    memset(&whole, 0, sizeof whole);
    whole.s = (const char *)data + HEADER_LEN;
    whole.slen = size - HEADER_LEN;
    whole.error_end = (data[0] >> 4) & 1;
    whole.sink_limit = (data[0] >> 5) & 1 ? data[2] : SIZE_MAX;
    split = whole;
    split.chunk_max = chunks[data[0] & 7];
    split.rng = 0x9e3779b97f4a7c15ULL ^ data[1];
    int body_always = (data[0] >> 3) & 1;

    run_reader(&whole, body_always);
    run_reader(&split, body_always);
    check_same(&whole, &split);
    run_free(&whole);
    run_free(&split);
    return 0;
}
