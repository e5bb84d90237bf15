/* buf.c: a growable byte buffer with a hard maximum (sockit/buf.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/buf.h"
#include "sockit/error.h"

/* Smallest allocation, so tiny appends do not realloc one byte at a time. */
#define BUF_MIN_CAP 256

void sk_buf_init(sk_buf_t *b, size_t max)
{
    b->data = NULL;
    b->head = b->len = b->cap = 0;
    b->max = max;
}

void sk_buf_free(sk_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->head = b->len = b->cap = 0;
}

void sk_buf_clear(sk_buf_t *b)
{
    b->head = b->len = 0;
}

/* Ensure n free bytes after the live data, compacting or growing as needed. */
static int buf_make_room(sk_buf_t *b, size_t n)
{
    if (n > b->max - b->len)
        return SK_ETOOBIG;
    size_t need = b->len + n; /* cannot overflow: <= max */
    if (b->head + need <= b->cap)
        return 0;
    if (need <= b->cap) {
        /* Enough storage, but the free space is split: move live bytes to the front. */
        memmove(b->data, b->data + b->head, b->len);
        b->head = 0;
        return 0;
    }
    size_t cap = b->cap ? b->cap : BUF_MIN_CAP;
    while (cap < need)
        cap = cap > b->max / 2 ? b->max : cap * 2;
    if (cap > b->max)
        cap = b->max > need ? b->max : need;
    char *p = malloc(cap);
    if (!p)
        return -ENOMEM;
    if (b->len)
        memcpy(p, b->data + b->head, b->len);
    free(b->data);
    b->data = p;
    b->head = 0;
    b->cap = cap;
    return 0;
}

int sk_buf_append(sk_buf_t *b, const void *p, size_t n)
{
    if (n == 0)
        return 0;
    int r = buf_make_room(b, n);
    if (r < 0)
        return r;
    memcpy(b->data + b->head + b->len, p, n);
    b->len += n;
    return 0;
}

int sk_buf_reserve(sk_buf_t *b, size_t n, char **tail)
{
    int r = buf_make_room(b, n ? n : 1);
    if (r < 0)
        return r;
    *tail = b->data + b->head + b->len;
    return 0;
}

void sk_buf_commit(sk_buf_t *b, size_t n)
{
    b->len += n;
}

void sk_buf_consume(sk_buf_t *b, size_t n)
{
    if (n >= b->len) {
        b->head = b->len = 0;
        return;
    }
    b->head += n;
    b->len -= n;
}
