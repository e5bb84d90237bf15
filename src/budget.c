/* budget.c: the server-wide budget for buffered input (budget.h). */
#include <errno.h>
#include <stdint.h>

#include "budget.h"

void sk__budget_init(sk__budget_t *b, size_t max)
{
    pthread_mutex_init(&b->mu, NULL);
    b->max = max;
    b->used = 0;
    b->oldest = b->newest = NULL;
    b->evictions = 0;
}

void sk__budget_destroy(sk__budget_t *b)
{
    pthread_mutex_destroy(&b->mu);
}

/* Take e out of the list. Budget locked. */
static void unlink_entry(sk__budget_t *b, sk__budget_entry_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        b->oldest = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        b->newest = e->prev;
    e->prev = e->next = NULL;
    e->listed = 0;
}

int sk__budget_charge(sk__budget_t *b, sk__budget_entry_t *e, size_t n)
{
    if (n == 0)
        return 0;
    pthread_mutex_lock(&b->mu);
    int r = 0;
    if (e && e->evicted) {
        r = -ENOBUFS;
    } else {
        while (b->max - b->used < n) { /* used <= max always holds */
            sk__budget_entry_t *v = b->oldest;
            if (!v || v == e)
                break;
            unlink_entry(b, v);
            b->used -= v->charged;
            v->charged = 0;
            v->evicted = 1;
            b->evictions++;
            v->evict(v);
        }
        if (b->max - b->used < n) {
            r = -ENOBUFS;
        } else {
            b->used += n;
            if (e)
                e->charged += n;
        }
    }
    pthread_mutex_unlock(&b->mu);
    return r;
}

void sk__budget_uncharge(sk__budget_t *b, sk__budget_entry_t *e, size_t n)
{
    if (n == 0)
        return;
    pthread_mutex_lock(&b->mu);
    if (e) {
        if (n > e->charged)
            n = e->charged; /* what eviction forgot is not given back twice */
        e->charged -= n;
    }
    b->used -= n <= b->used ? n : b->used;
    pthread_mutex_unlock(&b->mu);
}

void sk__budget_list(sk__budget_t *b, sk__budget_entry_t *e)
{
    pthread_mutex_lock(&b->mu);
    if (!e->listed && !e->evicted) {
        e->next = NULL;
        e->prev = b->newest;
        if (b->newest)
            b->newest->next = e;
        else
            b->oldest = e;
        b->newest = e;
        e->listed = 1;
    }
    pthread_mutex_unlock(&b->mu);
}

void sk__budget_unlist(sk__budget_t *b, sk__budget_entry_t *e)
{
    pthread_mutex_lock(&b->mu);
    if (e->listed)
        unlink_entry(b, e);
    pthread_mutex_unlock(&b->mu);
}

size_t sk__budget_used(sk__budget_t *b)
{
    pthread_mutex_lock(&b->mu);
    size_t n = b->used;
    pthread_mutex_unlock(&b->mu);
    return n;
}
