/*
 * internal.h: what the server layer's modules (service, the models, budget) share and
 * nobody else (sk__ prefix). The bottom layer's helpers are in base.h, which this
 * includes. Not installed; the public API is include/sockit.h.
 */
#ifndef SOCKIT_INTERNAL_H
#define SOCKIT_INTERNAL_H

#include "base.h"
#include "sockit/addr.h"
#include "sockit/server.h"
#include "sockit/service.h"

struct sk__budget;

/* The reason a session closed by the server's budget for buffered input gets. */
#define SK__BUDGET_REASON \
    "buffered input over the server's budget (--max-buffered): the oldest partial frame"

/* What chat's on_notify returns for a member whose queue the budget refused (the models
 * log "output over the server's budget"); internal, never returned by a public call. */
#define SK__EBUDGET (-20100)

/* Charge the session's input buffer to budget b (budget.h; NULL: none). Right after
 * sk_session_new(), before the first feed. */
void sk__session_set_budget(sk_session_t *s, struct sk__budget *b);

/* Free the session's input now and leave the budget's list: from here on the budget
 * cannot evict (abort) it. For a model about to free what its abort would touch. */
void sk__session_drop_input(sk_session_t *s);

/* The budget the session is charged to, or NULL. */
struct sk__budget *sk__session_budget(const sk_session_t *s);

/* 1 once the budget has evicted the session (thread-safe). */
int sk__session_evicted(const sk_session_t *s);

/*
 * Run one session of the server's service on a connected blocking socket until the peer
 * closes, the handler ends it, a timeout passes, or the socket fails (another thread may
 * shutdown(2) it to end the session). wakefd (an eventfd, or -1) makes it look at the
 * server's stopping flag: a framed session between frames then ends (drain). Graceful
 * ends send FIN and drain briefly so the peer sees every byte. Accounts for the session
 * with sk__conn_closed(). Does not close fd. Used by every blocking model.
 */
void sk__serve_blocking(sk_server_t *srv, int fd, int wakefd, const sk_addr_t *peer);

#endif
