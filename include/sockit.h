/*
 * sockit.h: the umbrella header of libsockit.
 *
 * libsockit gives C programs the ease of Python's socket module: addresses as text,
 * create_connection / create_server, sendall / recv_exact, Python's timeout semantics,
 * and services that run unchanged under every server model. Each module's header opens
 * with its contract; sockit/error.h holds the error convention shared by all of them.
 */
#ifndef SOCKIT_H
#define SOCKIT_H

#define SK_VERSION_MAJOR 0
#define SK_VERSION_MINOR 1
#define SK_VERSION_PATCH 0
#define SK_VERSION "0.1.0"

#include "sockit/export.h"
#include "sockit/error.h"
#include "sockit/addr.h"
#include "sockit/acl.h"
#include "sockit/buf.h"
#include "sockit/escape.h"
#include "sockit/frame.h"
#include "sockit/hist.h"
#include "sockit/sock.h"
#include "sockit/service.h"
#include "sockit/server.h"
#include "sockit/loop.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The library's version string, which may differ from SK_VERSION if linked dynamically. */
SK_EXPORT const char *sk_version(void);

#ifdef __cplusplus
}
#endif
#endif
