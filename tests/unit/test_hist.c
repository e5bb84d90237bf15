/* test_hist.c: sk_hist_t, the log-linear latency histogram (sockit/hist.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"
#include "sockit/hist.h"
#include "t.h"

static sk_hist_t *mk(int64_t highest, int sigfigs)
{
    sk_hist_t *h = NULL;
    T_EQ_INT(sk_hist_new(&h, highest, sigfigs), 0);
    T_ASSERT(h != NULL);
    return h;
}

/* The range a single value falls in, seen through the public API: min() of a histogram
 * holding only v is its lowest equivalent value, max() its highest. `scratch` is reused. */
static int64_t lowest_eq(sk_hist_t *scratch, int64_t v)
{
    sk_hist_reset(scratch);
    sk_hist_record(scratch, v);
    return sk_hist_min(scratch);
}

static int64_t highest_eq(sk_hist_t *scratch, int64_t v)
{
    sk_hist_reset(scratch);
    sk_hist_record(scratch, v);
    return sk_hist_max(scratch);
}

static int64_t pow10i(int n)
{
    int64_t p = 1;
    while (n-- > 0) p *= 10;
    return p;
}

/* A log-normal-ish latency in ns: median 50 us, a long right tail (up to ~6 ms), plus a
 * rare far outlier. */
static int64_t sample_latency(uint64_t *rng)
{
    double z = -6;
    for (int i = 0; i < 12; i++) z += (double)(t_rand(rng) >> 11) / 9007199254740992.0;
    int64_t v = (int64_t)exp(log(50000.0) + 0.8 * z);
    if (t_rand(rng) % 10000 == 0) v *= 100;
    return v;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The whole write_percentiles output as a string (malloc'd). */
static char *render(const sk_hist_t *h, double scale, int ticks)
{
    FILE *f = tmpfile();
    T_ASSERT(f != NULL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, scale, ticks), 0);
    long n = ftell(f);
    T_GE_INT(n, 0);
    rewind(f);
    char *s = malloc((size_t)n + 1);
    T_ASSERT(s != NULL);
    T_EQ_INT(fread(s, 1, (size_t)n, f), n);
    s[n] = '\0';
    fclose(f);
    return s;
}

/* ---- construction ---- */

TEST(hist_new_rejects_bad_arguments)
{
    sk_hist_t *h = (sk_hist_t *)&h; /* not NULL: a failure must clear it */
    T_EQ_INT(sk_hist_new(&h, 1, 3), SK_EBADARG);
    T_ASSERT(h == NULL);
    T_EQ_INT(sk_hist_new(&h, 0, 3), SK_EBADARG);
    T_EQ_INT(sk_hist_new(&h, -1000, 3), SK_EBADARG);
    T_EQ_INT(sk_hist_new(&h, INT64_MIN, 3), SK_EBADARG);
    T_EQ_INT(sk_hist_new(&h, 1000, 0), SK_EBADARG);
    T_EQ_INT(sk_hist_new(&h, 1000, 6), SK_EBADARG);
    T_EQ_INT(sk_hist_new(&h, 1000, -1), SK_EBADARG);
    T_ASSERT(h == NULL);
    T_EQ_INT(sk_hist_new(NULL, 1000, 3), SK_EBADARG);

    /* The extremes that are allowed. */
    h = mk(2, 1);
    sk_hist_record(h, 2);
    T_EQ_INT(sk_hist_max(h), 2);
    sk_hist_free(h);
    h = mk(INT64_MAX, 5); /* the largest array there is: about 49 MiB, untouched pages */
    sk_hist_record(h, INT64_MAX);
    T_EQ_INT(sk_hist_max(h), INT64_MAX);
    T_EQ_INT(sk_hist_clamped(h), 0);
    sk_hist_free(h);
    sk_hist_free(NULL);
}

TEST(hist_empty_reports_zeros)
{
    sk_hist_t *h = mk(1000000, 3);
    T_EQ_INT(sk_hist_count(h), 0);
    T_EQ_INT(sk_hist_clamped(h), 0);
    T_EQ_INT(sk_hist_min(h), 0);
    T_EQ_INT(sk_hist_max(h), 0);
    T_NEAR_DBL(sk_hist_mean(h), 0, 0);
    T_EQ_INT(sk_hist_value_at(h, 0), 0);
    T_EQ_INT(sk_hist_value_at(h, 50), 0);
    T_EQ_INT(sk_hist_value_at(h, 100), 0);
    char *s = render(h, 1000, 5);
    T_EQ_STR(s, "       Value     Percentile TotalCount 1/(1-Percentile)\n"
                "\n"
                "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
                "#[Max     =        0.000, Total count    =            0]\n"
                "#[Buckets =           10, SubBuckets     =         2048]\n");
    free(s);
    sk_hist_free(h);
}

/* ---- index math ---- */

TEST(hist_index_math_at_bucket_boundaries_sigfigs3)
{
    /* 3 digits: 2048 sub-buckets; 0..2047 exact, then ranges 2, 4, 8 ... wide. */
    sk_hist_t *s = mk(INT64_MAX, 3);
    static const int64_t exact[] = {0, 1, 2, 1000, 2046, 2047};
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        T_EQ_INT(lowest_eq(s, exact[i]), exact[i]);
        T_EQ_INT(highest_eq(s, exact[i]), exact[i]);
    }
    T_EQ_INT(lowest_eq(s, 2048), 2048);
    T_EQ_INT(highest_eq(s, 2048), 2049);
    T_EQ_INT(lowest_eq(s, 2049), 2048);
    T_EQ_INT(highest_eq(s, 2049), 2049);
    T_EQ_INT(lowest_eq(s, 2050), 2050);
    T_EQ_INT(lowest_eq(s, 4095), 4094);
    T_EQ_INT(highest_eq(s, 4095), 4095);
    T_EQ_INT(lowest_eq(s, 4096), 4096);
    T_EQ_INT(highest_eq(s, 4096), 4099);
    T_EQ_INT(lowest_eq(s, 4099), 4096);
    T_EQ_INT(lowest_eq(s, 4100), 4100);
    T_EQ_INT(lowest_eq(s, 8191), 8188);
    T_EQ_INT(highest_eq(s, 8192), 8199);

    /* Every power of two from 2^11 up: 2^k opens a range 2^(k-10) wide, 2^k - 1 closes one
     * 2^(k-11) wide (1 for k = 11). */
    for (int k = 11; k <= 62; k++) {
        int64_t v = (int64_t)1 << k, w = (int64_t)1 << (k - 10);
        int64_t wprev = k == 11 ? 1 : (int64_t)1 << (k - 11);
        T_EQ_INT(lowest_eq(s, v), v);
        T_EQ_INT(highest_eq(s, v), v + w - 1);
        T_EQ_INT(lowest_eq(s, v + w - 1), v);
        T_EQ_INT(lowest_eq(s, v + w), v + w);
        T_EQ_INT(highest_eq(s, v - 1), v - 1);
        T_EQ_INT(lowest_eq(s, v - 1), v - wprev);
        T_EQ_INT(sk_hist_value_at(s, 50), sk_hist_max(s));
    }
    /* The very top: the last range ends exactly at INT64_MAX. */
    T_EQ_INT(highest_eq(s, INT64_MAX), INT64_MAX);
    T_EQ_INT(lowest_eq(s, INT64_MAX), INT64_MAX - ((int64_t)1 << 52) + 1);
    T_EQ_INT(sk_hist_value_at(s, 100), INT64_MAX);
    sk_hist_free(s);
}

TEST(hist_equivalence_ranges_partition_the_values)
{
    /* Walk range by range up to `highest` for every precision: each range starts right
     * after the previous one, every value inside maps to it, and it is never wider than
     * 10^-sigfigs of its lowest value (1 wide below 2 * 10^sigfigs). */
    const int64_t highest = 3000000;
    for (int sig = 1; sig <= 5; sig++) {
        sk_hist_t *s = mk(highest, sig);
        int64_t p = pow10i(sig), v = 0, ranges = 0;
        while (v <= highest) {
            int64_t hi = highest_eq(s, v);
            T_EQ_INT(lowest_eq(s, v), v);
            T_GE_INT(hi, v);
            int64_t width = hi - v + 1;
            T_ASSERT(width == 1 || width * p <= v);
            if (v < 2 * p) T_EQ_INT(width, 1);
            T_EQ_INT(width & (width - 1), 0); /* a power of two */
            if (width > 1) {
                int64_t mid = v + width / 2;
                T_EQ_INT(lowest_eq(s, mid), v);
                T_EQ_INT(highest_eq(s, mid), hi);
                T_EQ_INT(lowest_eq(s, hi), v);
            }
            v = hi + 1;
            ranges++;
        }
        t_note("sigfigs %d: %lld ranges up to %lld", sig, (long long)ranges, (long long)highest);
        sk_hist_free(s);
    }
}

TEST(hist_bucket_and_subbucket_counts)
{
    /* HdrHistogram's classic configuration: 1 h in us at 3 digits is 22 x 2048. */
    static const struct {
        int64_t highest;
        int sig;
        const char *footer;
    } cases[] = {
        {3600000000LL, 3, "#[Buckets =           22, SubBuckets     =         2048]\n"},
        {2047, 3, "#[Buckets =            1, SubBuckets     =         2048]\n"},
        {2048, 3, "#[Buckets =            2, SubBuckets     =         2048]\n"},
        {1000, 1, "#[Buckets =            6, SubBuckets     =           32]\n"},
        {1000, 2, "#[Buckets =            3, SubBuckets     =          256]\n"},
        {1000, 4, "#[Buckets =            1, SubBuckets     =        32768]\n"},
        {INT64_MAX, 5, "#[Buckets =           46, SubBuckets     =       262144]\n"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sk_hist_t *h = mk(cases[i].highest, cases[i].sig);
        char *s = render(h, 1, 5);
        const char *last = strstr(s, "#[Buckets");
        T_ASSERT(last != NULL);
        T_EQ_STR(last, cases[i].footer);
        free(s);
        sk_hist_free(h);
    }
}

/* ---- precision ---- */

TEST(hist_precision_guarantee_random_values)
{
    uint64_t rng = 0x5eed1234;
    for (int sig = 1; sig <= 5; sig++) {
        const int64_t highest = (int64_t)1 << 50;
        sk_hist_t *s = mk(highest, sig);
        int64_t p = pow10i(sig);
        for (int i = 0; i < 20000; i++) {
            /* Log-uniform magnitude, uniform mantissa: every bucket gets visited. */
            int bits = (int)(t_rand(&rng) % 51);
            int64_t v = (int64_t)(t_rand(&rng) & (((uint64_t)1 << bits) - 1));
            int64_t hi = highest_eq(s, v);
            int64_t lo = sk_hist_min(s);
            T_LE_INT(lo, v);
            T_GE_INT(hi, v);
            T_LE_INT(hi - v, v / p);
            T_LE_INT(v - lo, v / p);
            T_EQ_INT(sk_hist_value_at(s, 50), hi);
            T_EQ_INT(sk_hist_value_at(s, 0), lo);
            T_EQ_INT(sk_hist_value_at(s, 100), hi);
            double m = sk_hist_mean(s);
            T_NEAR_DBL(m, (double)v, (double)v / (double)p);
            T_EQ_INT(sk_hist_count(s), 1);
        }
        sk_hist_free(s);
    }
}

/* ---- percentiles against an oracle ---- */

#define NSAMPLES 100000

TEST(hist_percentiles_match_sorted_oracle)
{
    int64_t *v = malloc(NSAMPLES * sizeof *v);
    T_ASSERT(v != NULL);
    uint64_t rng = 77;
    double exact_sum = 0;
    for (int i = 0; i < NSAMPLES; i++) {
        v[i] = sample_latency(&rng);
        exact_sum += (double)v[i];
    }
    double exact_mean = exact_sum / NSAMPLES;

    for (int sig = 1; sig <= 5; sig++) {
        sk_hist_t *h = mk(60000000000LL, sig), *s = mk(60000000000LL, sig);
        int64_t p10 = pow10i(sig);
        for (int i = 0; i < NSAMPLES; i++) sk_hist_record(h, v[i]);
        if (sig == 1) qsort(v, NSAMPLES, sizeof *v, cmp_i64);
        T_EQ_INT(sk_hist_count(h), NSAMPLES);
        T_EQ_INT(sk_hist_clamped(h), 0);
        T_EQ_INT(sk_hist_min(h), lowest_eq(s, v[0]));
        T_EQ_INT(sk_hist_max(h), highest_eq(s, v[NSAMPLES - 1]));

        static const double fixed[] = {0,  0.001, 1,  10,   25,    50,     75,
                                       90, 99,    99.9, 99.99, 99.999, 100};
        uint64_t prng = 99;
        for (int i = 0; i < 13 + 2000; i++) {
            double pct = i < 13 ? fixed[i] : (double)(t_rand(&prng) % 1000001) / 10000.0;
            int64_t got = sk_hist_value_at(h, pct), want;
            if (pct == 0) {
                want = lowest_eq(s, v[0]);
            } else {
                uint64_t n = (uint64_t)(pct / 100.0 * NSAMPLES + 0.5);
                if (n < 1) n = 1;
                if (n > NSAMPLES) n = NSAMPLES;
                int64_t oracle = v[n - 1];
                want = highest_eq(s, oracle);
                /* ...which is the oracle to the histogram's precision. */
                T_GE_INT(got, oracle);
                T_LE_INT(got - oracle, oracle / p10);
            }
            if (got != want) T_FAIL("sigfigs %d p%.4f: got %lld want %lld", sig, pct,
                                    (long long)got, (long long)want);
        }
        T_EQ_INT(sk_hist_value_at(h, 100), sk_hist_max(h));
        T_EQ_INT(sk_hist_value_at(h, 0), sk_hist_min(h));
        T_EQ_INT(sk_hist_value_at(h, -5), sk_hist_min(h));
        T_EQ_INT(sk_hist_value_at(h, 250), sk_hist_max(h));
        T_EQ_INT(sk_hist_value_at(h, NAN), sk_hist_min(h));
        /* Monotone in the percentile. */
        int64_t prev = 0;
        for (double pct = 0; pct <= 100; pct += 0.0625) {
            int64_t x = sk_hist_value_at(h, pct);
            T_GE_INT(x, prev);
            prev = x;
        }
        /* The mean: every middle value is within half a range of the sample. */
        T_NEAR_DBL(sk_hist_mean(h), exact_mean, exact_mean / (double)p10);
        if (sig == 3)
            t_note("p50 %lld p99 %lld p99.9 %lld max %lld mean %.1f (exact %.1f)",
                   (long long)sk_hist_value_at(h, 50), (long long)sk_hist_value_at(h, 99),
                   (long long)sk_hist_value_at(h, 99.9), (long long)sk_hist_max(h),
                   sk_hist_mean(h), exact_mean);
        sk_hist_free(s);
        sk_hist_free(h);
    }
    free(v);
}

TEST(hist_value_at_small_exact_cases)
{
    /* 1..100 once each, exact at 3 digits: p% is the value round(p) (at least 1). */
    sk_hist_t *h = mk(1000, 3);
    for (int i = 1; i <= 100; i++) sk_hist_record(h, i);
    T_EQ_INT(sk_hist_value_at(h, 0), 1);
    T_EQ_INT(sk_hist_value_at(h, 0.4), 1);
    T_EQ_INT(sk_hist_value_at(h, 1), 1);
    T_EQ_INT(sk_hist_value_at(h, 1.5), 2);
    T_EQ_INT(sk_hist_value_at(h, 50), 50);
    T_EQ_INT(sk_hist_value_at(h, 99), 99);
    T_EQ_INT(sk_hist_value_at(h, 99.9), 100);
    T_EQ_INT(sk_hist_value_at(h, 100), 100);
    T_NEAR_DBL(sk_hist_mean(h), 50.5, 1e-9);

    /* record_n is n records; n = 0 records nothing. */
    sk_hist_reset(h);
    sk_hist_record_n(h, 7, 0);
    T_EQ_INT(sk_hist_count(h), 0);
    T_EQ_INT(sk_hist_max(h), 0);
    sk_hist_record_n(h, 10, 9);
    sk_hist_record_n(h, 900, 1);
    T_EQ_INT(sk_hist_count(h), 10);
    T_EQ_INT(sk_hist_value_at(h, 90), 10);
    T_EQ_INT(sk_hist_value_at(h, 90.1), 10); /* round(9.01) = 9 */
    T_EQ_INT(sk_hist_value_at(h, 95), 900);  /* round(9.5) = 10 */
    T_NEAR_DBL(sk_hist_mean(h), 99.0, 1e-9);
    sk_hist_free(h);
}

/* ---- clamping ---- */

TEST(hist_clamps_above_highest)
{
    sk_hist_t *h = mk(1000000, 3), *s = mk(1000000, 3);
    int64_t top = highest_eq(s, 1000000);
    T_GE_INT(top, 1000000);
    T_LT_INT(top - 1000000, 1000); /* within one range */

    sk_hist_record(h, 500);
    sk_hist_record(h, 1000000); /* exactly highest: not clamped */
    T_EQ_INT(sk_hist_clamped(h), 0);
    sk_hist_record(h, 1000001);
    sk_hist_record(h, INT64_MAX);
    sk_hist_record_n(h, 5000000000LL, 5);
    T_EQ_INT(sk_hist_count(h), 9);
    T_EQ_INT(sk_hist_clamped(h), 7);
    T_EQ_INT(sk_hist_max(h), top);
    T_EQ_INT(sk_hist_value_at(h, 100), top);
    T_EQ_INT(sk_hist_value_at(h, 50), top);
    T_EQ_INT(sk_hist_value_at(h, 0), 500);
    sk_hist_free(s);
    sk_hist_free(h);
}

TEST(hist_negative_values_count_as_zero)
{
    sk_hist_t *h = mk(1000000, 3);
    sk_hist_record(h, -5);
    sk_hist_record(h, INT64_MIN);
    sk_hist_record_n(h, -1, 3);
    T_EQ_INT(sk_hist_count(h), 5);
    T_EQ_INT(sk_hist_clamped(h), 0);
    T_EQ_INT(sk_hist_min(h), 0);
    T_EQ_INT(sk_hist_max(h), 0);
    T_EQ_INT(sk_hist_value_at(h, 50), 0);
    T_NEAR_DBL(sk_hist_mean(h), 0, 0);
    sk_hist_record(h, 100);
    T_EQ_INT(sk_hist_min(h), 0);
    T_EQ_INT(sk_hist_max(h), 100);
    T_EQ_INT(sk_hist_value_at(h, 90), 0);   /* round(5.4) = 5 of 6 counts */
    T_EQ_INT(sk_hist_value_at(h, 92), 100); /* round(5.52) = 6 */
    sk_hist_free(h);
}

/* ---- merge and reset ---- */

TEST(hist_merge_equals_recording_everything_in_one)
{
    const int64_t highest = 10000000;
    sk_hist_t *all = mk(highest, 3), *a = mk(highest, 3), *b = mk(highest, 3);
    sk_hist_t *c = mk(highest, 3);
    uint64_t rng = 2024;
    for (int i = 0; i < 200000; i++) {
        int64_t x = sample_latency(&rng);
        if (i % 1000 == 0) x = -x; /* some negative, some clamped (the outliers) */
        sk_hist_record(all, x);
        sk_hist_record(t_rand(&rng) % 3 ? a : b, x);
    }
    T_GT_INT(sk_hist_clamped(all), 0);
    T_EQ_INT(sk_hist_merge(c, a), 0); /* into an empty one */
    T_EQ_INT(sk_hist_merge(c, b), 0);
    sk_hist_t *empty = mk(highest, 3);
    T_EQ_INT(sk_hist_merge(c, empty), 0); /* an empty one changes nothing */
    sk_hist_free(empty);

    T_EQ_INT(sk_hist_count(c), sk_hist_count(all));
    T_EQ_INT(sk_hist_clamped(c), sk_hist_clamped(all));
    T_EQ_INT(sk_hist_min(c), sk_hist_min(all));
    T_EQ_INT(sk_hist_max(c), sk_hist_max(all));
    T_NEAR_DBL(sk_hist_mean(c), sk_hist_mean(all), 1e-6);
    for (double p = 0; p <= 100; p += 0.25) T_EQ_INT(sk_hist_value_at(c, p), sk_hist_value_at(all, p));
    char *sc = render(c, 1000, 5), *sall = render(all, 1000, 5);
    T_EQ_STR(sc, sall);
    free(sc);
    free(sall);

    /* A histogram merged into itself doubles. */
    uint64_t n = sk_hist_count(a);
    int64_t p50 = sk_hist_value_at(a, 50);
    T_EQ_INT(sk_hist_merge(a, a), 0);
    T_EQ_INT(sk_hist_count(a), 2 * n);
    T_EQ_INT(sk_hist_value_at(a, 50), p50);

    sk_hist_free(all);
    sk_hist_free(a);
    sk_hist_free(b);
    sk_hist_free(c);
}

TEST(hist_merge_rejects_other_configurations)
{
    sk_hist_t *h = mk(1000000, 3), *other_sig = mk(1000000, 2), *other_high = mk(1000001, 3);
    sk_hist_record(other_sig, 5);
    sk_hist_record(other_high, 5);
    T_EQ_INT(sk_hist_merge(h, other_sig), SK_EBADARG);
    T_EQ_INT(sk_hist_merge(h, other_high), SK_EBADARG);
    T_EQ_INT(sk_hist_count(h), 0);
    sk_hist_free(h);
    sk_hist_free(other_sig);
    sk_hist_free(other_high);
}

TEST(hist_reset_forgets_everything)
{
    sk_hist_t *h = mk(1000000, 3);
    sk_hist_record(h, 0);
    sk_hist_record(h, 3);
    sk_hist_record(h, 999999);
    sk_hist_record(h, 5000000);
    sk_hist_reset(h);
    T_EQ_INT(sk_hist_count(h), 0);
    T_EQ_INT(sk_hist_clamped(h), 0);
    T_EQ_INT(sk_hist_min(h), 0);
    T_EQ_INT(sk_hist_max(h), 0);
    T_NEAR_DBL(sk_hist_mean(h), 0, 0);
    T_EQ_INT(sk_hist_value_at(h, 50), 0);

    /* Nothing left behind at either end: only the new value is seen. */
    sk_hist_record(h, 1500);
    T_EQ_INT(sk_hist_value_at(h, 0), 1500);
    T_EQ_INT(sk_hist_value_at(h, 0.001), 1500);
    T_EQ_INT(sk_hist_value_at(h, 100), 1500);
    T_NEAR_DBL(sk_hist_mean(h), 1500, 0);
    char *s1 = render(h, 1, 5);
    sk_hist_t *fresh = mk(1000000, 3);
    sk_hist_record(fresh, 1500);
    char *s2 = render(fresh, 1, 5);
    T_EQ_STR(s1, s2);
    free(s1);
    free(s2);
    sk_hist_free(fresh);
    sk_hist_free(h);
}

/* ---- the .hgrm text ---- */

TEST(hist_write_percentiles_golden_small)
{
    sk_hist_t *h = mk(1000, 3);
    for (int i = 1; i <= 10; i++) sk_hist_record(h, i);
    char *s = render(h, 1, 1);
    T_EQ_STR(s, "       Value     Percentile TotalCount 1/(1-Percentile)\n"
                "\n"
                "       1.000 0.000000000000          1           1.00\n"
                "       5.000 0.500000000000          5           2.00\n"
                "       8.000 0.750000000000          8           4.00\n"
                "       9.000 0.875000000000          9           8.00\n"
                "      10.000 0.937500000000         10          16.00\n"
                "      10.000 1.000000000000         10            inf\n"
                "#[Mean    =        5.500, StdDeviation   =        2.872]\n"
                "#[Max     =       10.000, Total count    =           10]\n"
                "#[Buckets =            1, SubBuckets     =         2048]\n");
    free(s);
    sk_hist_free(h);
}

TEST(hist_write_percentiles_parses)
{
    const double scale = 1000;
    sk_hist_t *h = mk(3600000000LL, 3);
    uint64_t rng = 31337;
    double sum = 0, sumsq = 0;
    for (int i = 0; i < NSAMPLES; i++) {
        int64_t x = sample_latency(&rng);
        sk_hist_record(h, x);
        sum += (double)x;
        sumsq += (double)x * (double)x;
    }
    double mean = sum / NSAMPLES, sd = sqrt(sumsq / NSAMPLES - mean * mean);

    FILE *f = tmpfile();
    T_ASSERT(f != NULL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, scale, 5), 0);
    rewind(f);
    char line[256];
    T_ASSERT(fgets(line, sizeof line, f) != NULL);
    T_EQ_STR(line, "       Value     Percentile TotalCount 1/(1-Percentile)\n");
    T_ASSERT(fgets(line, sizeof line, f) != NULL);
    T_EQ_STR(line, "\n");

    int rows = 0, saw50 = 0, saw75 = 0, saw90 = 0, last_inf = 0;
    double pv = -1, pp = -1, last_p = -1, last_v = -1;
    unsigned long long pc = 0, last_c = 0;
    while (fgets(line, sizeof line, f) != NULL && line[0] != '#') {
        double v, p, inv;
        unsigned long long c;
        char tail[32];
        T_EQ_INT(sscanf(line, "%lf %lf %llu %31s", &v, &p, &c, tail), 4);
        T_EQ_INT(strlen(line), 12 + 1 + 14 + 1 + 10 + 1 + 14 + 1); /* fixed columns */
        last_inf = strcmp(tail, "inf") == 0;
        if (!last_inf) {
            T_EQ_INT(sscanf(tail, "%lf", &inv), 1);
            T_NEAR_DBL(inv, 1.0 / (1.0 - p), 0.01 + 1e-6 * inv);
        }
        T_ASSERT(p > pp);
        T_GE_INT(c, pc);
        T_ASSERT(v >= pv);
        /* The row's value holds at least p of the count. */
        T_ASSERT(sk_hist_value_at(h, p * 100) / scale <= v + 0.001);
        T_ASSERT((double)c >= p * NSAMPLES - 1e-6);
        saw50 |= strstr(line, " 0.500000000000 ") != NULL;
        saw75 |= strstr(line, " 0.750000000000 ") != NULL;
        saw90 |= strstr(line, " 0.900000000000 ") != NULL;
        if (rows == 0) {
            T_NEAR_DBL(p, 0, 0);
            T_NEAR_DBL(v, sk_hist_value_at(h, 0.0001) / scale, 0.0005);
        }
        pv = v, pp = p, pc = c, last_p = p, last_v = v, last_c = c;
        rows++;
    }
    T_ASSERT(last_inf);
    T_NEAR_DBL(last_p, 1.0, 0);
    T_EQ_INT(last_c, NSAMPLES);
    T_NEAR_DBL(last_v, sk_hist_max(h) / scale, 0.0005);
    T_ASSERT(saw50 && saw75 && saw90);
    T_GT_INT(rows, 60);
    t_note("%d rows for %d samples at 5 ticks", rows, NSAMPLES);

    double fmean, fsd, fmax;
    unsigned long long ftotal;
    int buckets, subs;
    T_EQ_INT(sscanf(line, "#[Mean    = %lf, StdDeviation   = %lf]", &fmean, &fsd), 2);
    T_NEAR_DBL(fmean, sk_hist_mean(h) / scale, 0.0005);
    T_NEAR_DBL(fmean, mean / scale, mean / scale / 1000);
    T_NEAR_DBL(fsd, sd / scale, sd / scale / 100);
    T_ASSERT(fgets(line, sizeof line, f) != NULL);
    T_EQ_INT(sscanf(line, "#[Max     = %lf, Total count    = %llu]", &fmax, &ftotal), 2);
    T_NEAR_DBL(fmax, sk_hist_max(h) / scale, 0.0005);
    T_EQ_INT(ftotal, NSAMPLES);
    T_ASSERT(fgets(line, sizeof line, f) != NULL);
    T_EQ_INT(sscanf(line, "#[Buckets = %d, SubBuckets     = %d]", &buckets, &subs), 2);
    T_EQ_INT(buckets, 22);
    T_EQ_INT(subs, 2048);
    T_ASSERT(fgets(line, sizeof line, f) == NULL);
    fclose(f);
    sk_hist_free(h);
}

TEST(hist_write_percentiles_huge_counts_end)
{
    /* Counts so large that 100 * seen / total rounds to 100 before the last value: the
     * level iteration must still end (and end with the 100% row). */
    sk_hist_t *h = mk(1000000, 3);
    sk_hist_record_n(h, 10, (uint64_t)1 << 62);
    sk_hist_record(h, 20);
    char *s = render(h, 1, 5);
    const char *last = strstr(s, "      20.000 1.000000000000 4611686018427387905            inf\n");
    T_ASSERT(last != NULL);
    T_ASSERT(strstr(s, "#[Max     =       20.000, Total count    = 4611686018427387905]\n") != NULL);
    T_LT_INT(strlen(s), 100000);
    free(s);
    sk_hist_free(h);
}

TEST(hist_write_percentiles_errors)
{
    sk_hist_t *h = mk(1000000, 3);
    sk_hist_record(h, 5);
    FILE *f = tmpfile();
    T_ASSERT(f != NULL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, 1, 0), -EINVAL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, 0, 5), -EINVAL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, -1000, 5), -EINVAL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, NAN, 5), -EINVAL);
    T_EQ_INT(sk_hist_write_percentiles(h, f, INFINITY, 5), -EINVAL);
    T_EQ_INT(ftell(f), 0); /* nothing written */
    fclose(f);

    FILE *ro = fopen("/dev/null", "r"); /* writes fail */
    T_ASSERT(ro != NULL);
    int rc = sk_hist_write_percentiles(h, ro, 1, 5);
    T_LT_INT(rc, 0);
    t_note("write to a read-only stream: %d (%s)", rc, strerror(-rc));
    fclose(ro);
    sk_hist_free(h);
}

/* ---- speed (reported, not asserted) ---- */

TEST_TIMEOUT(hist_record_speed, 120)
{
    enum { NVALS = 1 << 20, NREC = 10000000 };
    int64_t *vals = malloc(NVALS * sizeof *vals);
    T_ASSERT(vals != NULL);
    uint64_t rng = 4242;
    for (int i = 0; i < NVALS; i++) vals[i] = sample_latency(&rng);
    sk_hist_t *h = mk(60000000000LL, 3);
    double t0 = t_now();
    for (int i = 0; i < NREC; i++) sk_hist_record(h, vals[i & (NVALS - 1)]);
    double dt = t_now() - t0;
    T_EQ_INT(sk_hist_count(h), NREC);
    t_note("record: %.2f ns per value (%d values, %.3f s)", dt * 1e9 / NREC, NREC, dt);
    sk_hist_free(h);
    free(vals);
}
