/*
 * chargen.c: RFC 864, an endless character pattern. The 95 printable ASCII characters
 * (32-126) form a ring; line N is the 72 characters starting at ring position N mod 95,
 * then CR LF. Input is read and discarded.
 */
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

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

/* Over UDP (RFC 864): a random 0-512 characters of the pattern, from a random line. */
#define DGRAM_MAX_CHARS 512

/* xorshift64*, one state per thread, seeded from the kernel: no lock, no syscall per
 * datagram. Not cryptographic; it only picks lengths. */
static uint64_t next_random(void)
{
    static _Thread_local uint64_t x;
    if (x == 0 && (getrandom(&x, sizeof x, GRND_NONBLOCK) != sizeof x || x == 0))
        x = (uint64_t)time(NULL) | 1;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    return x * 0x2545F4914F6CDD1DULL;
}

static long chargen_datagram(const sk_service_conf_t *conf, const void *in, size_t len,
                             void *out, size_t cap)
{
    (void)conf, (void)in, (void)len;
    uint64_t r = next_random();
    size_t n = (size_t)(r % (DGRAM_MAX_CHARS + 1));
    unsigned line = (unsigned)((r >> 32) % RING), col = 0;
    char *p = out;
    if (n > cap)
        n = cap;
    for (size_t i = 0; i < n; i++) {
        if (col < LINE)
            p[i] = (char)(' ' + (line + col) % RING);
        else
            p[i] = col == LINE ? '\r' : '\n';
        if (++col == LINE + 2) {
            col = 0;
            line = (line + 1) % RING;
        }
    }
    return (long)n;
}

const sk_service_t sk_service_chargen = {
    .name = "chargen",
    .summary = "an endless rotating character pattern (RFC 864)",
    .state_size = sizeof(struct chargen),
    .on_data = chargen_data,
    .on_writable = chargen_writable,
    .on_datagram = chargen_datagram,
};
