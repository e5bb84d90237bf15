/*
 * sockit/buf.h: a growable byte buffer with a hard maximum set at creation.
 *
 * Live bytes are [data + head, data + head + len). Appending grows the storage (doubling)
 * up to `max` bytes and never beyond: an append that would pass the maximum fails with
 * SK_ETOOBIG and changes nothing. Consuming from the front is O(1); the buffer compacts
 * itself when it needs the room. Storage is allocated on first use, so an idle buffer
 * costs nothing. A buffer is owned by one thread at a time; no locking is done here.
 */
#ifndef SOCKIT_BUF_H
#define SOCKIT_BUF_H

#include "sockit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_buf {
    char *data;  /* storage, NULL until first use */
    size_t head; /* offset of the first live byte */
    size_t len;  /* live bytes */
    size_t cap;  /* allocated bytes */
    size_t max;  /* hard maximum of live bytes */
} sk_buf_t;

/* Initialise an empty buffer that will never hold more than max bytes. Allocates nothing. */
SK_EXPORT void sk_buf_init(sk_buf_t *b, size_t max);

/* Release the storage; the buffer is empty and may be reused with the same maximum. */
SK_EXPORT void sk_buf_free(sk_buf_t *b);

/* Append n bytes. Returns 0, SK_ETOOBIG (over the maximum, nothing appended) or -ENOMEM. */
SK_EXPORT int sk_buf_append(sk_buf_t *b, const void *p, size_t n);

/*
 * Make room for at least n more bytes (n <= sk_buf_room()) and return a pointer to the
 * first free byte in *tail, for recv() straight into the buffer; follow with
 * sk_buf_commit(). Returns 0, SK_ETOOBIG or -ENOMEM.
 */
SK_EXPORT int sk_buf_reserve(sk_buf_t *b, size_t n, char **tail);

/* Mark n bytes written at the tail (after sk_buf_reserve) as live. */
SK_EXPORT void sk_buf_commit(sk_buf_t *b, size_t n);

/* Drop n bytes (at most len) from the front. */
SK_EXPORT void sk_buf_consume(sk_buf_t *b, size_t n);

/* Drop every byte; keeps the storage. */
SK_EXPORT void sk_buf_clear(sk_buf_t *b);

/* The first live byte; valid until the next call that changes the buffer. */
static inline const char *sk_buf_data(const sk_buf_t *b)
{
    return b->data ? b->data + b->head : "";
}

/* Live bytes. */
static inline size_t sk_buf_len(const sk_buf_t *b)
{
    return b->len;
}

/* Bytes that may still be appended before the maximum. */
static inline size_t sk_buf_room(const sk_buf_t *b)
{
    return b->max - b->len;
}

#ifdef __cplusplus
}
#endif
#endif
