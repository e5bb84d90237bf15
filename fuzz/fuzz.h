/*
 * fuzz.h: what every fuzz target shares: libFuzzer's entry point (also called by the
 * plain corpus driver, driver.c) and CHECK, which abort()s with the failed condition so
 * that libFuzzer records the input.
 */
#ifndef SOCKIT_FUZZ_H
#define SOCKIT_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Run one input; returns 0 (libFuzzer's convention). A failed invariant aborts. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
