/*
 * sockit/export.h: which names libsockit.so exports.
 *
 * The library is built with hidden visibility (-fvisibility=hidden), so a function is
 * visible outside libsockit.so only when its declaration carries SK_EXPORT. Every
 * function and object declared in an installed header does; the library's internal
 * helpers (sk__ names, the headers under src/) do not, so a program cannot link
 * against them and they may change in any release. The static library is unaffected.
 */
#ifndef SOCKIT_EXPORT_H
#define SOCKIT_EXPORT_H

#if defined(__GNUC__) || defined(__clang__)
#define SK_EXPORT __attribute__((visibility("default")))
#else
#define SK_EXPORT
#endif

#endif
