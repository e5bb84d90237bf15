/*
 * t.h: sockit's unit-test runner, in the manner of libuv's: every test runs in its own
 * forked process, in its own process group, under a deadline, and reports TAP-like lines.
 *
 *   TEST(name) { ... }                 a test with the default deadline (10 s)
 *   TEST_TIMEOUT(name, seconds) { ... } a test with its own deadline
 *
 *   ./test_x                 run every test of the file, in file order; exit 1 if any failed
 *   ./test_x NAME...         run only those
 *   ./test_x --list          list the names
 *
 * Output: "1..N", then "ok 3 - name", "ok 4 - name # SKIP reason" or
 * "not ok 5 - name (exit 1 | signal 13 (Broken pipe) | timeout after 10 s)", then the
 * final line "N passed, M failed". SK_TEST_TIMEOUT_SCALE (a number, e.g. 3 under
 * sanitizers) stretches every deadline.
 *
 * Assertions print file:line, the expressions and the values of both operands, then end
 * the test (the child process exits 1); they may be used from any thread of the test.
 * A test that cannot run here ends with T_SKIP("why"), which is reported, not hidden.
 *
 * The runner blocks nothing in the test: the child starts with the signal mask and the
 * dispositions the runner itself was started with, except SIGCHLD, which is the default.
 */
#ifndef SOCKIT_TEST_T_H
#define SOCKIT_TEST_T_H

#include <stddef.h>
#include <stdint.h>

#define T_DEFAULT_TIMEOUT 10

typedef void t_test_fn(void);

/* Called by TEST() through a constructor; not for direct use. */
void t_register(const char *name, t_test_fn *fn, unsigned timeout_s);

#define TEST_TIMEOUT(name, seconds)                                                                \
    static void t_test_##name(void);                                                               \
    __attribute__((constructor)) static void t_register_##name(void)                               \
    {                                                                                              \
        t_register(#name, t_test_##name, (seconds));                                               \
    }                                                                                              \
    static void t_test_##name(void)

#define TEST(name) TEST_TIMEOUT(name, T_DEFAULT_TIMEOUT)

/* ---- assertion back ends (print, then end the test) ---- */

__attribute__((noreturn, format(printf, 3, 4))) void t_fail(const char *file, int line,
                                                            const char *fmt, ...);
__attribute__((noreturn)) void t_fail_int(const char *file, int line, const char *ea,
                                          const char *op, const char *eb, long long a, long long b);
__attribute__((noreturn)) void t_fail_str(const char *file, int line, const char *ea,
                                          const char *eb, const char *a, const char *b);
__attribute__((noreturn)) void t_fail_mem(const char *file, int line, const char *ea,
                                          const char *eb, const void *a, const void *b, size_t n,
                                          size_t at);
__attribute__((noreturn)) void t_fail_ok(const char *file, int line, const char *e, long long code);
__attribute__((noreturn)) void t_fail_dbl(const char *file, int line, const char *ea,
                                          const char *eb, double a, double b, double eps);
__attribute__((noreturn, format(printf, 1, 2))) void t_skip(const char *fmt, ...);

/* Nonzero under make valgrind (SOCKIT_VALGRIND set): everything runs 20-50 times slower,
 * so a test that measures time or rates scales its numbers or skips ("under valgrind: ..."). */
int t_under_valgrind(void);

/* Compare as long long: operands of any integer type, signed or not. */
#define T_CMP_INT_(a, op, b)                                                                       \
    do {                                                                                           \
        long long t_a_ = (long long)(a), t_b_ = (long long)(b);                                    \
        if (!(t_a_ op t_b_)) t_fail_int(__FILE__, __LINE__, #a, #op, #b, t_a_, t_b_);              \
    } while (0)

#define T_ASSERT(cond)                                                                             \
    do {                                                                                           \
        if (!(cond)) t_fail(__FILE__, __LINE__, "T_ASSERT(%s) failed", #cond);                     \
    } while (0)
#define T_EQ_INT(a, b) T_CMP_INT_(a, ==, b)
#define T_NE_INT(a, b) T_CMP_INT_(a, !=, b)
#define T_GE_INT(a, b) T_CMP_INT_(a, >=, b)
#define T_LE_INT(a, b) T_CMP_INT_(a, <=, b)
#define T_GT_INT(a, b) T_CMP_INT_(a, >, b)
#define T_LT_INT(a, b) T_CMP_INT_(a, <, b)

/* Strings; NULL is a value ("(null)") and equals only NULL. */
#define T_EQ_STR(a, b)                                                                             \
    do {                                                                                           \
        const char *t_sa_ = (a), *t_sb_ = (b);                                                     \
        if (!t_str_eq(t_sa_, t_sb_)) t_fail_str(__FILE__, __LINE__, #a, #b, t_sa_, t_sb_);         \
    } while (0)

/* n bytes; a failure names the first differing offset and shows the bytes around it. */
#define T_EQ_MEM(a, b, n)                                                                          \
    do {                                                                                           \
        const void *t_ma_ = (a), *t_mb_ = (b);                                                     \
        size_t t_mn_ = (n), t_at_ = t_mem_diff(t_ma_, t_mb_, t_mn_);                               \
        if (t_at_ != t_mn_) t_fail_mem(__FILE__, __LINE__, #a, #b, t_ma_, t_mb_, t_mn_, t_at_);    \
    } while (0)

/* A libsockit result: >= 0 passes; a negative code fails with sk_strerror(code). */
#define T_OK(code)                                                                                 \
    do {                                                                                           \
        long long t_c_ = (long long)(code);                                                        \
        if (t_c_ < 0) t_fail_ok(__FILE__, __LINE__, #code, t_c_);                                  \
    } while (0)

/* |a - b| <= eps */
#define T_NEAR_DBL(a, b, eps)                                                                      \
    do {                                                                                           \
        double t_da_ = (a), t_db_ = (b), t_de_ = (eps);                                            \
        if (!(t_da_ - t_db_ <= t_de_ && t_db_ - t_da_ <= t_de_))                                   \
            t_fail_dbl(__FILE__, __LINE__, #a, #b, t_da_, t_db_, t_de_);                           \
    } while (0)

#define T_FAIL(...) t_fail(__FILE__, __LINE__, __VA_ARGS__)
#define T_SKIP(...) t_skip(__VA_ARGS__)

int t_str_eq(const char *a, const char *b);
size_t t_mem_diff(const void *a, const void *b, size_t n);

/* ---- small utilities every test file wants ---- */

/* Print a "# ..." diagnostic line (stderr), for context that is not a failure. */
__attribute__((format(printf, 1, 2))) void t_note(const char *fmt, ...);

/* Monotonic clock, seconds. */
double t_now(void);

/* A deterministic, non-periodic byte stream: byte i of stream `seed`. Fills buf with
 * bytes [off, off + n) of it, so a receiver can check any chunk where it lands. */
void t_pattern(void *buf, size_t n, uint64_t seed, uint64_t off);

/* A small seeded PRNG (xorshift64*) for chunk sizes and the like: never 0 for seed != 0. */
uint64_t t_rand(uint64_t *state);

/* Number of open file descriptors of this process (from /proc/self/fd), or -1. */
int t_count_fds(void);

#endif
