/*
 * sockit/frame.h: message framing as pure codecs. No I/O, no allocation on decode.
 *
 * The seeds name four ways a message can end: after a fixed number of bytes, at a
 * delimiter, after a length prefix says so, or when the peer shuts its write side down.
 * Framings (text forms as sk_framing_parse() takes them):
 *
 *   raw       no boundaries: whatever bytes are buffered form one frame
 *   line      a frame ends at "\n" (not part of the payload)
 *   crlf      a frame ends at "\r\n" (not part of the payload; a lone "\r" or "\n" is data)
 *   fixed:N   every frame is exactly N bytes (1 <= N <= max)
 *   len16     2-byte big-endian payload length, then the payload (so max <= 65535)
 *   len32     4-byte big-endian payload length, then the payload
 *   eof       the whole stream up to the peer's EOF is one frame
 *
 * Decoding is incremental and split-proof: the caller keeps the unconsumed bytes of the
 * stream in one buffer, appends what arrives, and calls sk_decoder_next() until it returns
 * 0; fed any split of a stream, the decoder yields exactly the frames (payload bytes and
 * boundaries) the unsplit stream yields. The one exception is raw, whose frames are
 * whatever was buffered: only their concatenation is split-proof.
 *
 * Every framing has a maximum payload size (`max`), checked before any arithmetic or
 * allocation: a length prefix above it, or more than max bytes without a delimiter, is a
 * protocol error (SK_ETOOBIG) as soon as it is seen. A caller therefore never needs more
 * than sk_frame_bufmax() bytes of buffer. A decoder never allocates; lengths read off the
 * wire are compared, never trusted.
 *
 * At the peer's EOF (eof = 1): line and crlf deliver a final unterminated line as a last
 * frame (as readline() does); eof delivers the stream as its one frame (possibly empty);
 * raw delivers what is left; fixed, len16 and len32 report bytes left over as a truncated
 * frame (SK_EEOF).
 *
 * Thread-safety: a decoder is used by one thread at a time; sk_framing_t is immutable.
 */
#ifndef SOCKIT_FRAME_H
#define SOCKIT_FRAME_H

#include "sockit/export.h"

#include <stddef.h>

#include "sockit/buf.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sk_frame_kind {
    SK_FRAME_RAW,
    SK_FRAME_LINE,
    SK_FRAME_CRLF,
    SK_FRAME_FIXED,
    SK_FRAME_LEN16,
    SK_FRAME_LEN32,
    SK_FRAME_EOF,
} sk_frame_kind_t;

/* The default maximum payload (--max-frame): 1 MiB. */
#define SK_FRAME_MAX_DEFAULT ((size_t)1 << 20)
/* The largest maximum accepted: 1 GiB. */
#define SK_FRAME_MAX_LIMIT ((size_t)1 << 30)
/* Longest header or trailer any framing adds (len32's prefix). */
#define SK_FRAME_OVERHEAD 4

typedef struct sk_framing {
    sk_frame_kind_t kind;
    size_t size; /* fixed:N: N; otherwise 0 */
    size_t max;  /* largest payload, 1..SK_FRAME_MAX_LIMIT (len16: at most 65535) */
} sk_framing_t;

/*
 * Parse a framing's text form ("line", "fixed:512", ...) with maximum payload `max`
 * (0: SK_FRAME_MAX_DEFAULT, which len16 lowers to 65535; a max over 65535 given for len16
 * is an error). Returns 0, or SK_EBADARG with a message in err (SK_ERRLEN bytes, may be
 * NULL), e.g. "unknown framing 'foo': expected raw, line, crlf, fixed:N, len16, len32 or
 * eof", "fixed:0: N must be 1 to 1048576", "fixed:abc: N is not a number (expected
 * fixed:N, N 1 to 1048576)", "len16: max frame 70000 is over 65535, the most a 2-byte
 * length can say (use len32)" or "max frame 2147483648 out of range 1-1073741824".
 */
SK_EXPORT int sk_framing_parse(sk_framing_t *f, const char *text, size_t max, char *err);

/* The framing's text form ("fixed:512") into buf (size bytes; 24 is enough); returns buf. */
SK_EXPORT const char *sk_framing_name(const sk_framing_t *f, char *buf, size_t size);

/* The most bytes a decoder may need buffered to decide on one frame: max plus the
 * framing's header or delimiter (fixed:N: N; eof: max + 1, the byte that makes it too big).
 * 0 for a framing sk_framing_parse() cannot return. */
SK_EXPORT size_t sk_frame_bufmax(const sk_framing_t *f);

/* A decoder: the framing plus how far a delimiter search has got. */
typedef struct sk_decoder {
    sk_framing_t f;
    size_t scanned; /* line, crlf: bytes at the buffer's start known to hold no delimiter */
    int done;       /* eof: the one frame was delivered */
} sk_decoder_t;

/* Start decoding a new stream with framing *f. */
SK_EXPORT void sk_decoder_init(sk_decoder_t *d, const sk_framing_t *f);

/* One decoded frame. data points into the caller's buffer and stays valid until the
 * caller changes that buffer. */
typedef struct sk_frame {
    const unsigned char *data; /* the payload */
    size_t len;                /* payload bytes */
    size_t consumed;           /* stream bytes this frame used, header and delimiter
                                  included: drop them before the next call */
} sk_frame_t;

/*
 * Find the frame at the start of buf[0..len): the stream's unconsumed bytes. eof is 1
 * once the peer will send nothing more. Returns:
 *   1            a frame, in *out; the caller drops out->consumed bytes, then calls again;
 *   0            no complete frame yet (or, at eof, the stream ended cleanly);
 *   SK_ETOOBIG   the frame exceeds f.max (a protocol error: the stream cannot go on);
 *   SK_EEOF      at eof, a fixed or length-prefixed frame was cut short;
 *   SK_EBADARG   d->f is not a framing sk_framing_parse() can return (or buf is NULL, len > 0).
 * Between calls the caller may only append to the buffer or drop consumed bytes.
 */
SK_EXPORT int sk_decoder_next(sk_decoder_t *d, const void *buf, size_t len, int eof,
                              sk_frame_t *out);

/*
 * Append payload[0..len) as one frame to out (header, payload, delimiter). Returns 0; or
 * SK_ETOOBIG when len > f.max (or the buffer's own maximum is reached); or SK_EBADARG
 * when the payload cannot be one frame: fixed:N with len != N, a line payload holding
 * "\n", a crlf payload holding "\r\n", or *f is not a framing sk_framing_parse() can return.
 * raw and eof append the payload unchanged (an eof frame is ended by the caller's
 * shutdown(SHUT_WR)). On error out is unchanged. payload must not point into out: making
 * room may move out's bytes.
 */
SK_EXPORT int sk_frame_encode(const sk_framing_t *f, const void *payload, size_t len,
                              sk_buf_t *out);

#ifdef __cplusplus
}
#endif
#endif
