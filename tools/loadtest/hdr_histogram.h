/* hdr_histogram: a small log-linear latency histogram, in the manner of HdrHistogram (whose C
 * library Debian does not package). Values are microseconds from 0 to about 71 minutes; each
 * power-of-two range is cut into 128 equal sub-buckets, so a recorded value is known to within
 * 1/128 (0.8%) of itself. Bucket counts simply add, so merging the histograms of many load
 * children is exact: the merged percentiles are those of one histogram fed every sample. */
#ifndef HDR_HISTOGRAM_H
#define HDR_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

#define HDR_SUB_BITS 8                          /* 256 linear buckets below 2^8 */
#define HDR_SUB_COUNT (1u << HDR_SUB_BITS)      /* values 0..255 are exact */
#define HDR_HALF_COUNT (HDR_SUB_COUNT / 2)      /* sub-buckets per power of two above */
#define HDR_MAX_VALUE ((UINT64_C(1) << 32) - 1) /* larger values are clamped to this */
#define HDR_BUCKETS (HDR_SUB_COUNT + (32 - HDR_SUB_BITS) * HDR_HALF_COUNT)

typedef struct {
    uint64_t counts[HDR_BUCKETS];
    uint64_t total;
    uint64_t min, max; /* exact extremes of the recorded values (min is UINT64_MAX when empty) */
    uint64_t sum;      /* for the mean */
    /* The range of indexes that may be non-zero, so that encoding and clearing a sparse
     * histogram do not walk all of it every 250 ms. */
    uint32_t lo, hi;
} hdr_histogram_t;

void hdr_init(hdr_histogram_t *h);
/* Forgets every sample (cheap when few buckets were touched). */
void hdr_reset(hdr_histogram_t *h);
void hdr_record(hdr_histogram_t *h, uint64_t value);
/* Adds `count` samples to bucket `index` (what a peer's encoded histogram carries); the value
 * range stands for min/max/sum only when the sender's exact figures are not merged after.
 * Returns -1 for an index out of range. */
int hdr_add_bucket(hdr_histogram_t *h, uint32_t index, uint64_t count);
/* dst += src, exactly. */
void hdr_merge(hdr_histogram_t *dst, const hdr_histogram_t *src);
/* The value below which `percentile` (0..100) of the samples fall, reported as the highest
 * value of its bucket (as HdrHistogram does), but never above the exact max. 0 when empty. */
uint64_t hdr_value_at_percentile(const hdr_histogram_t *h, double percentile);
double hdr_mean(const hdr_histogram_t *h);

/* Bucket of a value and the value range of a bucket (for tests and encoders). */
uint32_t hdr_index_of(uint64_t value);
uint64_t hdr_lowest_of(uint32_t index);
uint64_t hdr_highest_of(uint32_t index);

#endif
