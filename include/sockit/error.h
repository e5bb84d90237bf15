/*
 * sockit/error.h: the one error convention of libsockit.
 *
 * Every libsockit call that can fail returns an int (or ssize_t): zero, a count or a file
 * descriptor on success, and a NEGATIVE code on failure. Codes come in three ranges:
 *
 *   -1 .. -4095          a negated errno value (-ECONNREFUSED, -ETIMEDOUT, ...);
 *   SK_EAI_BASE + EAI_x  a resolver (getaddrinfo) failure, e.g. sk_eai(EAI_NONAME);
 *   SK_E*                libsockit's own conditions (bad address text, short read, ...).
 *
 * sk_strerror() turns any code into a constant English string; it is thread-safe and never
 * returns NULL. Functions that work on text addresses also take an optional `char *err` of at
 * least SK_ERRLEN bytes (may be NULL) and write there a complete message naming the operation
 * and the address, ready to print: "connect 127.0.0.1:5000: Connection refused",
 * "invalid port '99999'". errno is not part of the contract; the return value is.
 */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

#include "sockit/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the caller-supplied message buffer taken by text-address functions. */
#define SK_ERRLEN 256

/* Resolver errors: SK_EAI_BASE + an EAI_* value (glibc's EAI_* are small negative numbers). */
#define SK_EAI_BASE (-10000)
#define sk_eai(eai) (SK_EAI_BASE + (eai))
/* True when `code` is a resolver error. */
#define SK_IS_EAI(code) ((code) < SK_EAI_BASE && (code) > SK_EAI_BASE - 1000)

/* libsockit's own error codes. */
enum {
    SK_EBADADDR = -20001, /* address text is malformed */
    SK_EBADPORT = -20002, /* port is not a number 0-65535 or a known service name */
    SK_EEOF = -20003,     /* the peer closed the stream before the requested bytes arrived */
    SK_ETOOBIG = -20004,  /* a buffer or frame would exceed its maximum */
    SK_ENOADDR = -20005,  /* the name resolved to no usable address */
    SK_EBADARG = -20006,  /* an argument is out of range */
    SK_EPROTO = -20007,   /* the peer broke the protocol (a malformed reply or frame) */
};

/* Describe any libsockit error code (negative), or "Success" for 0. Never NULL. */
SK_EXPORT const char *sk_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif
