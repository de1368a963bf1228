/* hdr_histogram: log-linear buckets (see hdr_histogram.h). Index layout: values below
 * HDR_SUB_COUNT have a bucket each; above, the value's top HDR_SUB_BITS bits pick one of
 * HDR_HALF_COUNT sub-buckets in the block of its power of two. */
#include "hdr_histogram.h"

#include <string.h>

void hdr_init(hdr_histogram_t *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
    h->lo = HDR_BUCKETS;
}

void hdr_reset(hdr_histogram_t *h)
{
    if (h->lo <= h->hi && h->lo < HDR_BUCKETS)
        memset(&h->counts[h->lo], 0, (h->hi - h->lo + 1) * sizeof h->counts[0]);
    h->total = h->max = h->sum = 0;
    h->min = UINT64_MAX;
    h->lo = HDR_BUCKETS;
    h->hi = 0;
}

static int msb64(uint64_t v)
{
    return 63 - __builtin_clzll(v);
}

uint32_t hdr_index_of(uint64_t value)
{
    if (value > HDR_MAX_VALUE)
        value = HDR_MAX_VALUE;
    if (value < HDR_SUB_COUNT)
        return (uint32_t)value;
    int shift = msb64(value) - (HDR_SUB_BITS - 1); /* >= 1 */
    uint32_t sub = (uint32_t)(value >> shift);     /* in [HALF, SUB_COUNT) */
    return HDR_SUB_COUNT + (uint32_t)(shift - 1) * HDR_HALF_COUNT + (sub - HDR_HALF_COUNT);
}

uint64_t hdr_lowest_of(uint32_t index)
{
    if (index < HDR_SUB_COUNT)
        return index;
    uint32_t shift = (index - HDR_SUB_COUNT) / HDR_HALF_COUNT + 1;
    uint64_t sub = (index - HDR_SUB_COUNT) % HDR_HALF_COUNT + HDR_HALF_COUNT;
    return sub << shift;
}

uint64_t hdr_highest_of(uint32_t index)
{
    if (index < HDR_SUB_COUNT)
        return index;
    uint32_t shift = (index - HDR_SUB_COUNT) / HDR_HALF_COUNT + 1;
    return hdr_lowest_of(index) + (UINT64_C(1) << shift) - 1;
}

static void touch(hdr_histogram_t *h, uint32_t i)
{
    if (i < h->lo)
        h->lo = i;
    if (i > h->hi)
        h->hi = i;
}

void hdr_record(hdr_histogram_t *h, uint64_t value)
{
    uint32_t i = hdr_index_of(value);
    h->counts[i]++;
    touch(h, i);
    h->total++;
    h->sum += value;
    if (value < h->min)
        h->min = value;
    if (value > h->max)
        h->max = value;
}

int hdr_add_bucket(hdr_histogram_t *h, uint32_t index, uint64_t count)
{
    if (index >= HDR_BUCKETS)
        return -1;
    if (count == 0)
        return 0;
    h->counts[index] += count;
    touch(h, index);
    h->total += count;
    h->sum += count * hdr_lowest_of(index);
    if (hdr_lowest_of(index) < h->min)
        h->min = hdr_lowest_of(index);
    if (hdr_highest_of(index) > h->max)
        h->max = hdr_highest_of(index);
    return 0;
}

void hdr_merge(hdr_histogram_t *dst, const hdr_histogram_t *src)
{
    if (src->total == 0)
        return;
    for (uint32_t i = src->lo; i <= src->hi; i++)
        dst->counts[i] += src->counts[i];
    touch(dst, src->lo);
    touch(dst, src->hi);
    dst->total += src->total;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hdr_value_at_percentile(const hdr_histogram_t *h, double percentile)
{
    if (h->total == 0)
        return 0;
    if (percentile > 100.0)
        percentile = 100.0;
    /* The rank of the sample asked for, at least 1: percentile 0 is the smallest sample. */
    uint64_t rank = (uint64_t)(percentile / 100.0 * (double)h->total + 0.5);
    if (rank < 1)
        rank = 1;
    if (rank > h->total)
        rank = h->total;
    uint64_t seen = 0;
    for (uint32_t i = h->lo; i <= h->hi; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            uint64_t v = hdr_highest_of(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double hdr_mean(const hdr_histogram_t *h)
{
    return h->total == 0 ? 0.0 : (double)h->sum / (double)h->total;
}
