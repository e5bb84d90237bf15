/*
 * hist.c: a log-linear histogram in the manner of HdrHistogram (see sockit/hist.h).
 *
 * Layout. With S = sigfigs, the sub-bucket count C is the smallest power of two
 * >= 2 * 10^S (32, 256, 2048, 32768, 262144 for S = 1..5) and H = C / 2. The unit is 1
 * (HdrHistogram's unit magnitude 0), so:
 *
 *   bucket 0 holds the values 0 .. C-1 exactly, one count each;
 *   bucket b >= 1 holds the values H*2^b .. C*2^b - 1 in H sub-buckets 2^b wide
 *   (the lower half of bucket b would repeat bucket b-1, so it is not stored).
 *
 * A value v therefore lives in bucket b = max(0, bitlen(v) - log2(C)), sub-bucket
 * s = v >> b, and the flat counts[] index is s + b*H: one count-leading-zeros, two shifts
 * and an add. Every sub-bucket is at most v / H <= v / 10^S wide, which is the precision
 * guarantee. The bucket count is the fewest buckets whose range covers `highest`, and
 * counts[] has (buckets + 1) * H entries (HdrHistogram's sizing), allocated once with the
 * struct. A value v is "equivalent" to every value of its sub-bucket: lowest(v) is the
 * sub-bucket's first value, highest(v) its last, median(v) = lowest(v) + width/2.
 *
 * Besides counts[] the struct keeps the total, the number of clamped recordings and the
 * exact smallest and largest values recorded (after clamping to 0..highest). All nonzero
 * counts lie between the indexes of those two, which bounds reset and every walk.
 *
 * Reported values (HdrHistogram's semantics): min() = lowest(min recorded), max() =
 * highest(max recorded) (so max() may exceed `highest` by less than one sub-bucket),
 * value_at(p) = highest(v) of the sub-bucket where the running count first reaches
 * max(1, round(p% of total)), except value_at(0) = min(); value_at(100) = max(). mean() =
 * sum(median(v) * count) / total. Recording uses no floating point and never allocates.
 */
#include "sockit/hist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sockit/error.h"

/* Refuse configurations whose counts would need more memory than this. With int64_t
 * values and sigfigs <= 5 the largest possible array is about 49 MiB, so the limit is a
 * guard against a future change of either bound, not a reachable failure today. */
#define SK_HIST_MAX_BYTES ((size_t)64 << 20)

struct sk_hist {
    int64_t highest;   /* largest value kept as itself; above it values are clamped */
    int sigfigs;       /* 1..5 */
    int sub_half_mag;  /* log2(H) */
    uint64_t sub_mask; /* C - 1: OR-ed into a value so bucket 0 needs no branch */
    int64_t sub_count; /* C */
    int bucket_count;
    size_t counts_len; /* (bucket_count + 1) * H */
    uint64_t total;    /* counts recorded */
    uint64_t clamped;  /* of which above `highest` */
    int64_t min, max;  /* exact extremes recorded (clamped); INT64_MAX, 0 when empty */
    uint64_t counts[];
};

/* ---- index math ---- */

/* The counts[] index of 0 <= v <= highest. */
static inline size_t index_of(const sk_hist_t *h, uint64_t v)
{
    int bitlen = 64 - __builtin_clzll(v | h->sub_mask); /* >= log2(C), never clz(0) */
    int bucket = bitlen - h->sub_half_mag - 1;
    /* (v >> bucket) is the sub-bucket, in H..C-1 for bucket >= 1 (0..C-1 for bucket 0);
     * index = (bucket + 1) * H + (sub - H) = bucket * H + sub. */
    return ((size_t)bucket << h->sub_half_mag) + (size_t)(v >> bucket);
}

/* The lowest value of counts[i] and the width of its range (a power of two). */
static void range_of(const sk_hist_t *h, size_t i, uint64_t *lowest, uint64_t *width)
{
    size_t half = (size_t)1 << h->sub_half_mag;
    if (i < 2 * half) { /* bucket 0: unit width */
        *lowest = i;
        *width = 1;
        return;
    }
    unsigned bucket = (unsigned)(i >> h->sub_half_mag) - 1;
    uint64_t sub = (uint64_t)(i & (half - 1)) + half;
    *lowest = sub << bucket;
    *width = (uint64_t)1 << bucket;
}

static int64_t lowest_at(const sk_hist_t *h, size_t i)
{
    uint64_t lo, w;
    range_of(h, i, &lo, &w);
    return (int64_t)lo;
}

/* lo + w - 1 <= INT64_MAX: the top bucket ends exactly at 2^63 - 1. */
static int64_t highest_at(const sk_hist_t *h, size_t i)
{
    uint64_t lo, w;
    range_of(h, i, &lo, &w);
    return (int64_t)(lo + w - 1);
}

static double median_at(const sk_hist_t *h, size_t i)
{
    uint64_t lo, w;
    range_of(h, i, &lo, &w);
    return (double)(lo + (w >> 1));
}

/* ---- life cycle ---- */

int sk_hist_new(sk_hist_t **out, int64_t highest, int sigfigs)
{
    if (out == NULL) return SK_EBADARG;
    *out = NULL;
    if (highest < 2 || sigfigs < 1 || sigfigs > 5) return SK_EBADARG;

    int64_t need = 2;
    for (int i = 0; i < sigfigs; i++) need *= 10;
    int sub_mag = 1;
    while (((int64_t)1 << sub_mag) < need) sub_mag++;
    int64_t sub_count = (int64_t)1 << sub_mag;

    /* Buckets: bucket 0 covers 0..C-1, each further bucket doubles the range. */
    int buckets = 1;
    uint64_t untrackable = (uint64_t)sub_count; /* smallest value the buckets miss */
    while (untrackable <= (uint64_t)highest) {
        untrackable <<= 1;
        buckets++;
    }

    size_t half = (size_t)sub_count / 2;
    size_t len = (size_t)(buckets + 1) * half;
    if (len > (SK_HIST_MAX_BYTES - sizeof(sk_hist_t)) / sizeof(uint64_t)) return SK_EBADARG;

    sk_hist_t *h = calloc(1, sizeof *h + len * sizeof(uint64_t));
    if (h == NULL) return -ENOMEM;
    h->highest = highest;
    h->sigfigs = sigfigs;
    h->sub_half_mag = sub_mag - 1;
    h->sub_mask = (uint64_t)sub_count - 1;
    h->sub_count = sub_count;
    h->bucket_count = buckets;
    h->counts_len = len;
    h->min = INT64_MAX;
    h->max = 0;
    *out = h;
    return 0;
}

void sk_hist_free(sk_hist_t *h)
{
    free(h);
}

/* ---- recording ---- */

void sk_hist_record_n(sk_hist_t *h, int64_t value, uint64_t n)
{
    if (n == 0) return;
    if (value < 0) {
        value = 0;
    } else if (value > h->highest) {
        value = h->highest;
        h->clamped += n;
    }
    h->counts[index_of(h, (uint64_t)value)] += n;
    h->total += n;
    if (value < h->min) h->min = value;
    if (value > h->max) h->max = value;
}

void sk_hist_record(sk_hist_t *h, int64_t value)
{
    sk_hist_record_n(h, value, 1);
}

int sk_hist_merge(sk_hist_t *dst, const sk_hist_t *src)
{
    if (dst->highest != src->highest || dst->sigfigs != src->sigfigs) return SK_EBADARG;
    if (src->total == 0) return 0;
    size_t first = index_of(src, (uint64_t)src->min), last = index_of(src, (uint64_t)src->max);
    for (size_t i = first; i <= last; i++) dst->counts[i] += src->counts[i];
    dst->total += src->total;
    dst->clamped += src->clamped;
    if (src->min < dst->min) dst->min = src->min;
    if (src->max > dst->max) dst->max = src->max;
    return 0;
}

void sk_hist_reset(sk_hist_t *h)
{
    if (h->total != 0) {
        size_t first = index_of(h, (uint64_t)h->min), last = index_of(h, (uint64_t)h->max);
        memset(&h->counts[first], 0, (last - first + 1) * sizeof(uint64_t));
    }
    h->total = 0;
    h->clamped = 0;
    h->min = INT64_MAX;
    h->max = 0;
}

/* ---- queries ---- */

uint64_t sk_hist_count(const sk_hist_t *h)
{
    return h->total;
}

uint64_t sk_hist_clamped(const sk_hist_t *h)
{
    return h->clamped;
}

int64_t sk_hist_min(const sk_hist_t *h)
{
    return h->total ? lowest_at(h, index_of(h, (uint64_t)h->min)) : 0;
}

int64_t sk_hist_max(const sk_hist_t *h)
{
    return h->total ? highest_at(h, index_of(h, (uint64_t)h->max)) : 0;
}

/* Sum of median(v) * count over the recorded range, and of the squared deviations from
 * `mean` when sq != NULL. */
static double sum_medians(const sk_hist_t *h, double mean, double *sq)
{
    size_t first = index_of(h, (uint64_t)h->min), last = index_of(h, (uint64_t)h->max);
    double sum = 0, dev = 0;
    for (size_t i = first; i <= last; i++) {
        if (h->counts[i] == 0) continue;
        double m = median_at(h, i), c = (double)h->counts[i];
        sum += m * c;
        dev += (m - mean) * (m - mean) * c;
    }
    if (sq != NULL) *sq = dev;
    return sum;
}

double sk_hist_mean(const sk_hist_t *h)
{
    if (h->total == 0) return 0;
    return sum_medians(h, 0, NULL) / (double)h->total;
}

int64_t sk_hist_value_at(const sk_hist_t *h, double percentile)
{
    if (h->total == 0) return 0;
    if (!(percentile > 0)) return sk_hist_min(h); /* also NaN */
    if (percentile >= 100) return sk_hist_max(h);

    double want_d = percentile / 100.0 * (double)h->total + 0.5;
    uint64_t want = want_d >= (double)h->total ? h->total : (uint64_t)want_d;
    if (want < 1) want = 1;

    size_t first = index_of(h, (uint64_t)h->min), last = index_of(h, (uint64_t)h->max);
    uint64_t seen = 0;
    for (size_t i = first; i < last; i++) {
        seen += h->counts[i];
        if (seen >= want) return highest_at(h, i);
    }
    return highest_at(h, last);
}

/* ---- the .hgrm text ---- */

/* HdrHistogram's percentile iterator: the next reporting level after `level`, `ticks`
 * steps per halving of the distance to 100%. At 50% the step is 100/(4 ticks), at 75%
 * 100/(8 ticks), ... When the step no longer moves the level (or would reach 100%, which
 * only the final row reports), the answer is +inf: no further intermediate rows. */
static double next_level(double level, int ticks)
{
    int exp;
    frexp(100.0 / (100.0 - level), &exp); /* floor(log2(x)) = exp - 1 for x >= 1 */
    double steps = (double)ticks * ldexp(1.0, exp); /* ticks * 2^(floor(log2 x) + 1) */
    double next = level + 100.0 / steps;
    if (!(next > level) || next >= 100.0) return INFINITY;
    return next;
}

int sk_hist_write_percentiles(const sk_hist_t *h, FILE *f, double scale, int ticks)
{
    if (h == NULL || f == NULL || !(scale > 0) || isinf(scale) || ticks < 1) return -EINVAL;

    errno = 0;
    fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
            "1/(1-Percentile)");
    if (h->total != 0) {
        size_t first = index_of(h, (uint64_t)h->min), last = index_of(h, (uint64_t)h->max);
        double level = 0;
        uint64_t seen = 0;
        for (size_t i = first; i <= last; i++) {
            if (h->counts[i] == 0) continue;
            seen += h->counts[i];
            double reached = 100.0 * (double)seen / (double)h->total;
            double value = (double)highest_at(h, i) / scale;
            /* One row per level this sub-bucket reaches; the sub-bucket that completes
             * the count gets one row, then the final 100% row below. */
            while (reached >= level) {
                fprintf(f, "%12.3f %2.12f %10llu %14.2f\n", value, level / 100.0,
                        (unsigned long long)seen, 1.0 / (1.0 - level / 100.0));
                level = next_level(level, ticks);
                if (seen == h->total) break;
            }
        }
        fprintf(f, "%12.3f %2.12f %10llu %14s\n", (double)sk_hist_max(h) / scale, 1.0,
                (unsigned long long)h->total, "inf");
    }

    double mean = 0, stddev = 0;
    if (h->total != 0) {
        double sq;
        mean = sum_medians(h, 0, NULL) / (double)h->total;
        sum_medians(h, mean, &sq);
        stddev = sqrt(sq / (double)h->total);
    }
    fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", mean / scale, stddev / scale);
    fprintf(f, "#[Max     = %12.3f, Total count    = %12llu]\n", (double)sk_hist_max(h) / scale,
            (unsigned long long)h->total);
    fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", h->bucket_count, (int)h->sub_count);
    if (fflush(f) != 0 || ferror(f)) return errno ? -errno : -EIO;
    return 0;
}
