/*
 * sockit/hist.h: a log-linear latency histogram in the manner of HdrHistogram: values
 * from 1 to `highest` are kept to `sigfigs` significant decimal digits (1-5) in a fixed
 * array allocated once, so recording is O(1) and never allocates. Percentiles, min, max,
 * mean and a percentile distribution in HdrHistogram's text format (the .hgrm layout
 * that HdrHistogram's plotter reads) come from the counts.
 *
 * Values are plain integers in whatever unit the caller picks (sockit bench records
 * nanoseconds and prints microseconds). A value above `highest` is counted as `highest`
 * (and counted in sk_hist_clamped()); a negative value is counted as 0.
 *
 * A histogram is used by one thread at a time; merge per-thread histograms at the end.
 */
#ifndef SOCKIT_HIST_H
#define SOCKIT_HIST_H

#include "sockit/export.h"

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sk_hist sk_hist_t;

/* Create a histogram for values 0..highest (highest >= 2) at sigfigs (1-5) significant
 * digits. Returns 0 and sets *out, SK_EBADARG, or -ENOMEM. */
SK_EXPORT int sk_hist_new(sk_hist_t **out, int64_t highest, int sigfigs);

/* Free a histogram (NULL is a no-op). */
SK_EXPORT void sk_hist_free(sk_hist_t *h);

/* Count one value / n occurrences of a value. O(1), no allocation. */
SK_EXPORT void sk_hist_record(sk_hist_t *h, int64_t value);
SK_EXPORT void sk_hist_record_n(sk_hist_t *h, int64_t value, uint64_t n);

/* Add src's counts to dst (same highest and sigfigs). Returns 0 or SK_EBADARG. */
SK_EXPORT int sk_hist_merge(sk_hist_t *dst, const sk_hist_t *src);

/* Forget every count. */
SK_EXPORT void sk_hist_reset(sk_hist_t *h);

/* Counts and summary values (0 for an empty histogram). Values returned are the
 * highest value equivalent to the recorded one at the histogram's precision, except
 * min() which is the lowest: max() may thus exceed `highest` by less than one
 * sub-bucket. mean() weighs each sub-bucket's middle value by its count. clamped() counts
 * the recordings above `highest` (not the negative ones). */
SK_EXPORT uint64_t sk_hist_count(const sk_hist_t *h);
SK_EXPORT uint64_t sk_hist_clamped(const sk_hist_t *h);
SK_EXPORT int64_t sk_hist_min(const sk_hist_t *h);
SK_EXPORT int64_t sk_hist_max(const sk_hist_t *h);
SK_EXPORT double sk_hist_mean(const sk_hist_t *h);

/* The value at a percentile (0-100): the smallest recorded value v such that at least
 * percentile% of the counts are <= v (HdrHistogram's getValueAtPercentile): with n =
 * max(1, percentile% of the count rounded to nearest), the highest value equivalent to
 * the n-th smallest recorded one. A percentile <= 0 (or NaN) gives min(), >= 100 max(). */
SK_EXPORT int64_t sk_hist_value_at(const sk_hist_t *h, double percentile);

/* Write the percentile distribution in HdrHistogram's text format, values divided by
 * `scale` (1000 turns ns into us), `ticks` reporting points per halving of the remaining
 * percentile (5 is HdrHistogram's default). The last row (percentile 1.0) shows "inf" in
 * its 1/(1-Percentile) column. Returns 0, -EINVAL (scale not > 0 and finite, ticks < 1)
 * or -errno of the failed write (-EIO when errno tells nothing). */
SK_EXPORT int sk_hist_write_percentiles(const sk_hist_t *h, FILE *f, double scale, int ticks);

#ifdef __cplusplus
}
#endif
#endif
