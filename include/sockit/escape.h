/*
 * sockit/escape.h: make text a peer chose safe to print on a terminal or in a log.
 *
 * A peer controls many strings a tool prints: a Unix client's bound name, a chat line,
 * an HTTP header. Printed raw, a newline forges a log line, "\r" rewrites the start of
 * one, and ESC or C1 sequences (0x9b is CSI) drive the terminal. sk_escape() copies text
 * with every such byte spelled out: "\r", "\n", "\t" and "\xHH" for the other C0
 * controls, DEL, C1 controls (U+0080..U+009F) and bytes that are not valid UTF-8.
 * Printable ASCII and well-formed UTF-8 (accents, CJK, emoji) pass unchanged, so text in
 * any language reads as it was written. A backslash is not doubled: the output is for
 * people to read, not for a parser to reverse.
 *
 * Pure functions, no allocation, thread-safe.
 */
#ifndef SOCKIT_ESCAPE_H
#define SOCKIT_ESCAPE_H

#include "sockit/export.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A buffer of this many bytes always holds the escaped form of n input bytes (each byte
 * becomes at most 4 characters) and its terminating NUL. */
#define SK_ESCAPE_MAX(n) (4 * (size_t)(n) + 1)

/*
 * Escape src[0..n) into dst (cap bytes, cap >= 1), NUL-terminated. When dst is too small
 * the output stops before the first escape or character that would not fit whole.
 * Returns the length written (excluding the NUL).
 */
SK_EXPORT size_t sk_escape(char *dst, size_t cap, const void *src, size_t n);

/* The length the escaped form of src[0..n) would have (excluding the NUL). */
SK_EXPORT size_t sk_escape_len(const void *src, size_t n);

/* 1 when src[0..n) would come out of sk_escape() unchanged. */
SK_EXPORT int sk_escape_clean(const void *src, size_t n);

#ifdef __cplusplus
}
#endif
#endif
