/* test_buf.c: sk_buf_t, the growable buffer with a hard maximum (sockit/buf.h). */
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/error.h"
#include "t.h"

/* The invariants every operation must keep. */
static void check_invariants(const sk_buf_t *b)
{
    T_LE_INT(b->len, b->max);
    T_LE_INT(b->cap, b->max);
    T_LE_INT(b->head + b->len, b->cap);
    T_EQ_INT(sk_buf_room(b), b->max - b->len);
    T_ASSERT(sk_buf_data(b) != NULL);
}

TEST(buf_init_is_empty_and_allocates_nothing)
{
    sk_buf_t b;
    sk_buf_init(&b, 1000);
    T_ASSERT(b.data == NULL);
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_INT(sk_buf_room(&b), 1000);
    T_EQ_STR(sk_buf_data(&b), "");
    check_invariants(&b);
    T_EQ_INT(sk_buf_append(&b, "x", 0), 0); /* nothing to append: still nothing allocated */
    T_ASSERT(b.data == NULL);
    sk_buf_free(&b);
}

TEST(buf_append_beyond_max_fails_and_changes_nothing)
{
    unsigned char src[200], snap[200];
    t_pattern(src, sizeof src, 1, 0);
    sk_buf_t b;
    sk_buf_init(&b, 100);
    T_EQ_INT(sk_buf_append(&b, src, 60), 0);
    T_EQ_INT(sk_buf_len(&b), 60);

    sk_buf_t before = b;
    memcpy(snap, sk_buf_data(&b), 60);
    T_EQ_INT(sk_buf_append(&b, src + 60, 41), SK_ETOOBIG);
    T_EQ_INT(b.len, before.len);
    T_EQ_INT(b.head, before.head);
    T_EQ_INT(b.cap, before.cap);
    T_ASSERT(b.data == before.data);
    T_EQ_MEM(sk_buf_data(&b), snap, 60);

    T_EQ_INT(sk_buf_append(&b, src + 60, 40), 0); /* exactly up to the maximum */
    T_EQ_INT(sk_buf_len(&b), 100);
    T_EQ_INT(sk_buf_room(&b), 0);
    T_EQ_MEM(sk_buf_data(&b), src, 100);
    T_EQ_INT(sk_buf_append(&b, src, 1), SK_ETOOBIG);
    T_EQ_INT(sk_buf_len(&b), 100);
    T_EQ_MEM(sk_buf_data(&b), src, 100);
    check_invariants(&b);

    /* An append far beyond the maximum (no overflow in the size check). */
    T_EQ_INT(sk_buf_append(&b, src, (size_t)-1), SK_ETOOBIG);
    T_EQ_INT(sk_buf_len(&b), 100);
    sk_buf_free(&b);
}

TEST(buf_oversized_first_append_allocates_nothing)
{
    char src[64] = {0};
    sk_buf_t b;
    sk_buf_init(&b, 10);
    T_EQ_INT(sk_buf_append(&b, src, 11), SK_ETOOBIG);
    T_ASSERT(b.data == NULL);
    T_EQ_INT(sk_buf_len(&b), 0);
    sk_buf_free(&b);
}

TEST(buf_grows_to_max_in_pieces_byte_exact)
{
    const size_t max = 3 * 1024 * 1024 + 17; /* not a power of two */
    unsigned char *want = malloc(max);
    T_ASSERT(want != NULL);
    t_pattern(want, max, 2, 0);
    sk_buf_t b;
    sk_buf_init(&b, max);
    uint64_t rng = 42;
    size_t filled = 0, grows = 0, lastcap = 0;
    while (filled < max) {
        size_t n = 1 + (size_t)(t_rand(&rng) % 9000);
        if (n > max - filled) n = max - filled;
        T_EQ_INT(sk_buf_append(&b, want + filled, n), 0);
        filled += n;
        T_EQ_INT(sk_buf_len(&b), filled);
        check_invariants(&b);
        if (b.cap != lastcap) {
            grows++;
            lastcap = b.cap;
        }
    }
    T_EQ_MEM(sk_buf_data(&b), want, max);
    T_EQ_INT(b.cap, max);
    /* Doubling, not growing by each append's size: few reallocations. */
    T_LE_INT(grows, 20);
    T_EQ_INT(sk_buf_append(&b, want, 1), SK_ETOOBIG);
    sk_buf_free(&b);
    free(want);
}

TEST(buf_small_max_caps_the_allocation)
{
    /* A maximum below the minimum allocation: storage must still not exceed it. */
    sk_buf_t b;
    sk_buf_init(&b, 10);
    T_EQ_INT(sk_buf_append(&b, "abc", 3), 0);
    T_LE_INT(b.cap, 10);
    T_EQ_INT(sk_buf_append(&b, "defghij", 7), 0);
    T_EQ_MEM(sk_buf_data(&b), "abcdefghij", 10);
    check_invariants(&b);
    sk_buf_free(&b);
}

TEST(buf_consume_and_compact_preserve_bytes)
{
    enum { MAX = 4096, ROUNDS = 20000 };
    unsigned char chunk[MAX];
    sk_buf_t b;
    sk_buf_init(&b, MAX);
    uint64_t rng = 7, in = 0, out = 0;
    /* A FIFO: random appends and consumes; what comes out is the stream, in order. */
    for (int i = 0; i < ROUNDS; i++) {
        size_t n = (size_t)(t_rand(&rng) % 700);
        if (n <= sk_buf_room(&b)) {
            t_pattern(chunk, n, 3, in);
            T_EQ_INT(sk_buf_append(&b, chunk, n), 0);
            in += n;
        } else {
            T_EQ_INT(sk_buf_append(&b, chunk, n), SK_ETOOBIG);
        }
        T_EQ_INT(sk_buf_len(&b), in - out);
        size_t c = (size_t)(t_rand(&rng) % 700);
        if (c > sk_buf_len(&b)) c = sk_buf_len(&b);
        t_pattern(chunk, c, 3, out);
        T_EQ_MEM(sk_buf_data(&b), chunk, c);
        sk_buf_consume(&b, c);
        out += c;
        check_invariants(&b);
    }
    /* The live bytes are still the rest of the stream. */
    size_t left = sk_buf_len(&b);
    t_pattern(chunk, left, 3, out);
    T_EQ_MEM(sk_buf_data(&b), chunk, left);
    T_GT_INT(in, 100 * MAX); /* the buffer really was reused many times */
    sk_buf_free(&b);
}

TEST(buf_compacts_instead_of_growing)
{
    /* Fill to the maximum, consume the front: the room at the front must be reused for
     * a new append without going over the maximum (which is also the capacity). */
    unsigned char src[1024], want[1024];
    t_pattern(src, sizeof src, 4, 0);
    sk_buf_t b;
    sk_buf_init(&b, 1024);
    T_EQ_INT(sk_buf_append(&b, src, 1024), 0);
    sk_buf_consume(&b, 1000);
    T_EQ_INT(sk_buf_len(&b), 24);
    T_EQ_MEM(sk_buf_data(&b), src + 1000, 24);
    T_EQ_INT(sk_buf_append(&b, src, 1000), 0);
    T_EQ_INT(sk_buf_len(&b), 1024);
    memcpy(want, src + 1000, 24);
    memcpy(want + 24, src, 1000);
    T_EQ_MEM(sk_buf_data(&b), want, 1024);
    T_EQ_INT(b.cap, 1024);
    check_invariants(&b);
    sk_buf_free(&b);
}

TEST(buf_consume_more_than_len_empties)
{
    sk_buf_t b;
    sk_buf_init(&b, 100);
    T_EQ_INT(sk_buf_append(&b, "hello", 5), 0);
    sk_buf_consume(&b, 2);
    T_EQ_MEM(sk_buf_data(&b), "llo", 3);
    sk_buf_consume(&b, 50);
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_INT(sk_buf_room(&b), 100);
    sk_buf_consume(&b, 1); /* on an empty buffer: nothing happens */
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_INT(sk_buf_append(&b, "ab", 2), 0);
    T_EQ_MEM(sk_buf_data(&b), "ab", 2);
    check_invariants(&b);
    sk_buf_free(&b);
}

TEST(buf_reserve_commit)
{
    unsigned char src[3000];
    t_pattern(src, sizeof src, 5, 0);
    sk_buf_t b;
    sk_buf_init(&b, 3000);
    char *tail = NULL;
    T_EQ_INT(sk_buf_append(&b, src, 100), 0);
    T_EQ_INT(sk_buf_reserve(&b, 1000, &tail), 0);
    T_ASSERT(tail == b.data + b.head + b.len);
    memcpy(tail, src + 100, 600); /* write fewer than reserved, as recv() would */
    sk_buf_commit(&b, 600);
    T_EQ_INT(sk_buf_len(&b), 700);
    T_EQ_MEM(sk_buf_data(&b), src, 700);
    check_invariants(&b);

    /* Reserving past the maximum fails and leaves the buffer alone. */
    tail = NULL;
    T_EQ_INT(sk_buf_reserve(&b, 2301, &tail), SK_ETOOBIG);
    T_ASSERT(tail == NULL);
    T_EQ_INT(sk_buf_len(&b), 700);
    T_EQ_MEM(sk_buf_data(&b), src, 700);

    /* Exactly the room left. */
    T_EQ_INT(sk_buf_reserve(&b, sk_buf_room(&b), &tail), 0);
    memcpy(tail, src + 700, 2300);
    sk_buf_commit(&b, 2300);
    T_EQ_INT(sk_buf_len(&b), 3000);
    T_EQ_MEM(sk_buf_data(&b), src, 3000);
    check_invariants(&b);

    /* After consuming from the front, reserve must hand out room behind the live bytes
     * and keep them intact (compaction). */
    sk_buf_consume(&b, 2500);
    T_EQ_INT(sk_buf_reserve(&b, 2500, &tail), 0);
    T_ASSERT(tail == b.data + b.head + 500);
    T_EQ_MEM(sk_buf_data(&b), src + 2500, 500);
    memcpy(tail, src, 2500);
    sk_buf_commit(&b, 2500);
    unsigned char want[3000];
    memcpy(want, src + 2500, 500);
    memcpy(want + 500, src, 2500);
    T_EQ_MEM(sk_buf_data(&b), want, 3000);
    check_invariants(&b);
    sk_buf_free(&b);
}

TEST(buf_clear_keeps_storage)
{
    sk_buf_t b;
    sk_buf_init(&b, 500);
    T_EQ_INT(sk_buf_append(&b, "0123456789", 10), 0);
    char *data = b.data;
    size_t cap = b.cap;
    sk_buf_clear(&b);
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_INT(sk_buf_room(&b), 500);
    T_ASSERT(b.data == data);
    T_EQ_INT(b.cap, cap);
    T_EQ_INT(sk_buf_append(&b, "abc", 3), 0);
    T_EQ_MEM(sk_buf_data(&b), "abc", 3);
    T_ASSERT(b.data == data);
    check_invariants(&b);
    sk_buf_free(&b);
}

TEST(buf_free_then_reuse)
{
    sk_buf_t b;
    sk_buf_init(&b, 64);
    T_EQ_INT(sk_buf_append(&b, "first", 5), 0);
    sk_buf_free(&b);
    T_ASSERT(b.data == NULL);
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_INT(b.cap, 0);
    T_EQ_INT(b.max, 64); /* "may be reused with the same maximum" */
    T_EQ_STR(sk_buf_data(&b), "");
    T_EQ_INT(sk_buf_append(&b, "second", 6), 0);
    T_EQ_MEM(sk_buf_data(&b), "second", 6);
    char big[65] = {0};
    T_EQ_INT(sk_buf_append(&b, big, 59), SK_ETOOBIG); /* the maximum still holds */
    sk_buf_free(&b);
    sk_buf_free(&b); /* twice is harmless */
    T_ASSERT(b.data == NULL);
}

TEST(buf_max_zero_holds_nothing)
{
    sk_buf_t b;
    sk_buf_init(&b, 0);
    char *tail = NULL;
    T_EQ_INT(sk_buf_room(&b), 0);
    T_EQ_INT(sk_buf_append(&b, "x", 1), SK_ETOOBIG);
    T_EQ_INT(sk_buf_append(&b, "x", 0), 0);
    T_EQ_INT(sk_buf_reserve(&b, 1, &tail), SK_ETOOBIG);
    T_ASSERT(b.data == NULL);
    T_EQ_INT(sk_buf_len(&b), 0);
    T_EQ_STR(sk_buf_data(&b), "");
    sk_buf_free(&b);
}
