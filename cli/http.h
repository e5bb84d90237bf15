/*
 * http.h: the reply half of `sockit get`: one HTTP/1.1 response read from any byte source
 * (the socket in get.c, a memory buffer in fuzz/fuzz_http.c), its body handed on as it
 * arrives.
 *
 * The reply is read through the reader's fixed HTTP_BUF buffer and never held whole: the
 * status line and headers (with any 1xx interim replies and the trailers of a chunked
 * body) may take HTTP_HEADERS_MAX bytes in all; the body is framed, in RFC 9112's order,
 * by Transfer-Encoding, then Content-Length, then the end of the stream. The only
 * transfer coding decoded is chunked: a Transfer-Encoding that names any other (gzip,
 * "chunked, gzip", the obsolete identity) is an error when the body is read, whatever
 * Content-Length says. Chunk sizes and Content-Length are bounded by HTTP_BODY_LIMIT
 * before any arithmetic, and nothing is ever allocated from them. Bytes after the end of
 * the body are left unread.
 *
 * Errors: the functions return 0 or -1. On -1 either r->err holds the message, without
 * the "sockit: " prefix ("malformed reply from PEER: bad status line '...'", "response
 * headers exceed 65536 bytes", "connection closed after 3 of 5 body bytes"), or r->err is
 * empty because a callback failed and reported its own error (a timeout, a closed stdout).
 * The caller prints r->err; nothing here writes to stdout or stderr.
 *
 * Ownership: the caller owns the reader (about 65 KiB: allocate it, do not put it on a
 * small stack) and the peer name, which must outlive it. Callbacks get pointers into the
 * reader's buffer that are valid only during the call. No globals: readers are
 * independent, each used by one thread at a time.
 */
#ifndef SOCKIT_CLI_HTTP_H
#define SOCKIT_CLI_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_BUF (64 * 1024)                /* the receive buffer */
#define HTTP_HEADERS_MAX (64 * 1024)        /* status lines, headers and trailers, all together */
#define HTTP_CHUNK_LINE_MAX 4096            /* one chunk-size line with its extensions */
#define HTTP_BODY_LIMIT ((uint64_t)1 << 62) /* largest chunk or Content-Length accepted */
#define HTTP_ERRLEN 1024                    /* r->err, NUL included */
#define HTTP_QUOTE_BUF(n) (4 * (n) + 8)     /* quoted text of n bytes: \xHH each, "...", NUL */
#define HTTP_STATUS_QUOTE 200               /* status line bytes kept in http_head.status */
#define HTTP_LOCATION_QUOTE 512             /* Location bytes kept in http_head.location */
#define HTTP_CODING_QUOTE 64                /* transfer coding bytes kept in http_head.coding */

/*
 * Read up to n (> 0) bytes of the reply into buf. Returns the count (1..n), 0 at the end
 * of the stream, or -1 after reporting the error itself.
 */
typedef ssize_t (*http_read_cb)(void *ctx, char *buf, size_t n);

/*
 * Take n (> 0) bytes: a piece of the body, or one line of the head as received (LF and
 * any CR included). Returns 0, or -1 after reporting the error itself.
 */
typedef int (*http_take_cb)(void *ctx, const char *p, size_t n);

/* The head of the final reply. */
struct http_head {
    int code;                                       /* 200-599 */
    char status[HTTP_QUOTE_BUF(HTTP_STATUS_QUOTE)]; /* the status line, printable */
    int transfer_coded; /* a Transfer-Encoding header came: it, not Content-Length,
                         * frames the body */
    int codings;        /* how many transfer codings it named, over every such header */
    int chunked;        /* they are exactly one: chunked, the one coding decoded */
    char coding[HTTP_QUOTE_BUF(HTTP_CODING_QUOTE)]; /* the first other coding, printable
                                                     * ("gzip"), or "" */
    int has_length;
    uint64_t length; /* Content-Length, <= HTTP_BODY_LIMIT */
    int has_location;
    char location[HTTP_QUOTE_BUF(HTTP_LOCATION_QUOTE)]; /* printable */
};

/* One reply being read. Set up with http_reader_init(); the fields are read-only to the
 * caller (err after a failure; the rest for fuzz/fuzz_http.c's checks). */
struct http_reader {
    http_read_cb read;
    http_take_cb on_body;
    http_take_cb on_head_line; /* NULL: head lines are not shown */
    void *ctx;                 /* passed to every callback */
    const char *peer;          /* names the server in messages */
    char err[HTTP_ERRLEN];     /* the message of the last failure, or "" */
    size_t pos, len;           /* unread bytes are buf[pos, len); buf[len - 1] is the
                                * last byte read */
    size_t header_bytes;       /* head and trailer bytes read so far, against the max */
    uint64_t body_bytes;       /* body bytes delivered */
    char buf[HTTP_BUF];
};

/* ASCII character classes, whatever the locale (shared with get's URL parser):
 * a decimal digit; a hex digit's value (-1 if c is none); a letter or digit. */
int http_is_digit(int c);
int http_hex_value(int c);
int http_is_alnum(int c);

/*
 * Prepare r to read one reply from `read`, handing the body to on_body and each line of
 * the head (interim replies included) to on_head_line (may be NULL) once it has parsed.
 * peer names the server in messages ("malformed reply from PEER: ...").
 */
void http_reader_init(struct http_reader *r, http_read_cb read, http_take_cb on_body,
                      http_take_cb on_head_line, void *ctx, const char *peer);

/*
 * Read the status line and headers of the final reply into *h, skipping 1xx interim
 * replies (a 101 is an error: nothing asked for an upgrade). Returns 0 with *h filled,
 * or -1 (see the top of this file).
 */
int http_read_head(struct http_reader *r, struct http_head *h);

/*
 * Read the body that *h (from http_read_head on the same reader) frames and hand it to
 * on_body: nothing for 204 and 304; chunked (trailers read and dropped); an error for
 * any other Transfer-Encoding ("unsupported transfer coding 'gzip' ..."); Content-Length
 * bytes; else everything up to the end of the stream. Returns 0 once the body is
 * complete, or -1 (see the top of this file), also when the stream ends early.
 */
int http_read_body(struct http_reader *r, const struct http_head *h);

/* The length of a line without its LF and the CR before it. */
size_t http_chomp(const char *line, size_t n);

#endif
