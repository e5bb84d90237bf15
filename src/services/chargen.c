/*
 * chargen.c: RFC 864, an endless character pattern. The 95 printable ASCII characters
 * (32-126) form a ring; line N is the 72 characters starting at ring position N mod 95,
 * then CR LF. Input is read and discarded.
 */
#include <string.h>

#include "sockit/service.h"

#define RING 95
#define LINE 72
/* Lines produced per on_writable call: about 4.7 KiB, one send for the blocking models. */
#define BATCH 64

struct chargen {
    unsigned line; /* next line number, mod RING */
};

static int chargen_writable(sk_session_t *s)
{
    struct chargen *st = sk_session_state(s);
    char out[BATCH * (LINE + 2)];
    char *p = out;
    for (int i = 0; i < BATCH; i++) {
        for (unsigned j = 0; j < LINE; j++)
            *p++ = (char)(' ' + (st->line + j) % RING);
        *p++ = '\r';
        *p++ = '\n';
        st->line = (st->line + 1) % RING;
    }
    return sk_session_write(s, out, sizeof out);
}

static int chargen_data(sk_session_t *s, const void *data, size_t len)
{
    (void)s, (void)data, (void)len;
    return 0;
}

const sk_service_t sk_service_chargen = {
    .name = "chargen",
    .summary = "an endless rotating character pattern (RFC 864)",
    .state_size = sizeof(struct chargen),
    .on_data = chargen_data,
    .on_writable = chargen_writable,
};
