/*
 * hexdump.c: --hex-dump FILE for connect, listen and serve (ncat --hex-dump, socat -x).
 *
 * Every chunk of bytes sent or received is written as a header naming the direction, the
 * peer, the length and the chunk's offset in that direction's stream, then lines in
 * hexdump -C layout whose offsets are stream offsets:
 *
 *   > 127.0.0.1:5000: 6 bytes sent at offset 0
 *   00000000  68 65 6c 6c 6f 0a                                 |hello.|
 *
 * Each chunk is formatted in memory and written with one write() on an O_APPEND file,
 * under a lock, so that the threads (and the forked children) of a server never
 * interleave their chunks. A failed write is reported once and turns the dump off; the
 * conversation itself goes on.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "sockit/escape.h"

/* Bytes formatted per write(): 64 lines of 16 bytes and a header. */
#define DUMP_BYTES 1024
/* A dump line at its longest: a 16-digit offset, two spaces, 49 of hex, " |", 16, "|\n". */
#define LINE_LEN 88

static struct {
    int fd; /* -1: off */
    int owned;
    pthread_mutex_t mu;
} dump = {.fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

int cli_hexdump_open(const char *path)
{
    if (strcmp(path, "-") == 0) {
        dump.fd = 2;
        dump.owned = 0;
        return 0;
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        cli_error("--hex-dump %s: %s", path, strerror(errno));
        return -1;
    }
    dump.fd = fd;
    dump.owned = 1;
    return 0;
}

int cli_hexdump_on(void)
{
    return dump.fd >= 0;
}

void cli_hexdump_close(void)
{
    if (dump.fd >= 0 && dump.owned)
        close(dump.fd);
    dump.fd = -1;
}

/* Format one line of up to 16 bytes at stream offset off into out; returns its length. */
static size_t format_line(char *out, unsigned long long off, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = (size_t)snprintf(out, LINE_LEN, "%08llx  ", off);
    for (size_t i = 0; i < 16; i++) {
        if (i < n) {
            out[o++] = hex[p[i] >> 4];
            out[o++] = hex[p[i] & 15];
        } else {
            out[o++] = ' ';
            out[o++] = ' ';
        }
        out[o++] = ' ';
        if (i == 7)
            out[o++] = ' ';
    }
    out[o++] = ' ';
    out[o++] = '|';
    for (size_t i = 0; i < n; i++)
        out[o++] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
    out[o++] = '|';
    out[o++] = '\n';
    return o;
}

/* One write() of buf[0..n), resumed after EINTR and partial writes. */
static int write_all(const char *buf, size_t n)
{
    while (n > 0) {
        ssize_t w = write(dump.fd, buf, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

void cli_hexdump(int sent, const char *peer, unsigned long long offset, const void *data,
                 size_t n)
{
    if (dump.fd < 0 || n == 0)
        return;
    const unsigned char *p = data;
    /* A header: the escaped peer and at most 80 more; then the lines. */
    static _Thread_local char out[SK_ESCAPE_MAX(SK_ADDRSTRLEN) + 80 +
                                  (DUMP_BYTES / 16) * LINE_LEN];
    char who[SK_ESCAPE_MAX(SK_ADDRSTRLEN)];
    sk_escape(who, sizeof who, peer, strlen(peer));
    pthread_mutex_lock(&dump.mu);
    size_t done = 0;
    while (done < n && dump.fd >= 0) {
        size_t chunk = n - done < DUMP_BYTES ? n - done : DUMP_BYTES;
        size_t o = 0;
        if (done == 0)
            o = (size_t)snprintf(out, sizeof out, "%c %s: %zu bytes %s at offset %llu\n",
                                 sent ? '>' : '<', who, n, sent ? "sent" : "received", offset);
        for (size_t i = 0; i < chunk; i += 16)
            o += format_line(out + o, offset + done + i, p + done + i,
                             chunk - i < 16 ? chunk - i : 16);
        if (write_all(out, o) < 0) {
            int e = errno;
            int fd = dump.fd;
            dump.fd = -1;
            if (dump.owned)
                close(fd);
            cli_error("--hex-dump: %s: dump stopped", strerror(e));
        }
        done += chunk;
    }
    pthread_mutex_unlock(&dump.mu);
}
