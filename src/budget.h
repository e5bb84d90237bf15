/*
 * budget.h: the server-wide budget for buffered input (sk_server_opts_t.max_buffered).
 * Internal; not installed.
 *
 * Every byte of storage a session holds for a partial frame, and every byte of a chat
 * member's queue, is charged here. The entries that hold a partial frame are listed in the
 * order their frames began, oldest first. When a charge would pass the maximum, the entry
 * holding the oldest partial frame is evicted: it leaves the list, its charge is forgotten
 * at once (its memory is as good as freed: its own thread frees it soon), and its evict
 * callback runs. A charge that still does not fit (nothing left to evict but the charger
 * itself, or the charger is the oldest) fails and charges nothing.
 *
 * Thread-safe: one mutex. The evict callback runs with it held, from whichever thread
 * charged; it must not call back into the budget (sk_session_abort() is what it does).
 * A budget is per process: under the fork model each child has its own copy.
 */
#ifndef SOCKIT_BUDGET_H
#define SOCKIT_BUDGET_H

#include <pthread.h>
#include <stddef.h>

struct sk__budget_entry;
typedef void sk__budget_evict_fn(struct sk__budget_entry *e);

/* One holder of budget bytes: a session (its partial frame). Zero it, then set evict. */
typedef struct sk__budget_entry {
    struct sk__budget_entry *prev, *next;
    int listed;  /* in the list of partial frames */
    int evicted; /* was evicted: every later charge fails */
    size_t charged;
    sk__budget_evict_fn *evict;
} sk__budget_entry_t;

typedef struct sk__budget {
    pthread_mutex_t mu;
    size_t max;  /* SIZE_MAX: no budget */
    size_t used; /* under mu */
    sk__budget_entry_t *oldest, *newest;
    unsigned long long evictions;
} sk__budget_t;

void sk__budget_init(sk__budget_t *b, size_t max);
void sk__budget_destroy(sk__budget_t *b);

/* Charge n more bytes, for entry e (NULL: bytes nobody can be evicted for, a chat queue),
 * evicting the oldest partial frames as needed (see above). Returns 0 or -ENOBUFS. */
int sk__budget_charge(sk__budget_t *b, sk__budget_entry_t *e, size_t n);

/* Give back n bytes charged before (for e, or with e NULL). An evicted entry's charge is
 * already forgotten: giving it back does nothing. */
void sk__budget_uncharge(sk__budget_t *b, sk__budget_entry_t *e, size_t n);

/* e began a partial frame: list it as the newest (nothing if it is listed or evicted). */
void sk__budget_list(sk__budget_t *b, sk__budget_entry_t *e);

/* e's partial frame is complete or gone: unlist it (nothing if it is not listed). */
void sk__budget_unlist(sk__budget_t *b, sk__budget_entry_t *e);

/* Bytes charged now, and the maximum. */
size_t sk__budget_used(sk__budget_t *b);

#endif
