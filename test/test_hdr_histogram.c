/* The load tester's histogram (tools/loadtest/hdr_histogram.c): buckets cover every value with the
 * promised precision, and merging the histograms of several children is exact, which is what
 * lets loadtest quote percentiles across processes. */
#include "check.h"
#include "hdr_histogram.h"

TEST(bucket_bounds)
{
    uint32_t last = 0;
    for (uint64_t v = 0; v < (UINT64_C(1) << 32); v = v < 4096 ? v + 1 : v + v / 97 + 1) {
        uint32_t i = hdr_index_of(v);
        CHECK(i < HDR_BUCKETS);
        CHECK(i >= last); /* monotonic */
        last = i;
        CHECK(hdr_lowest_of(i) <= v && v <= hdr_highest_of(i));
        /* Within 1/128 of the value (exact below 256). */
        CHECK((hdr_highest_of(i) - hdr_lowest_of(i)) * 128 <= (v > 0 ? v : 1));
    }
    CHECK_EQ(hdr_index_of(HDR_MAX_VALUE), HDR_BUCKETS - 1);
    CHECK_EQ(hdr_index_of(UINT64_MAX), HDR_BUCKETS - 1); /* clamped */
    for (uint32_t i = 0; i + 1 < HDR_BUCKETS; i++)
        CHECK_EQ(hdr_highest_of(i) + 1, hdr_lowest_of(i + 1)); /* no gaps, no overlap */
}

TEST(percentiles)
{
    static hdr_histogram_t h;
    hdr_init(&h);
    CHECK_EQ(hdr_value_at_percentile(&h, 50), 0);
    for (uint64_t v = 1; v <= 100; v++)
        hdr_record(&h, v);
    CHECK_EQ(hdr_value_at_percentile(&h, 50), 50);
    CHECK_EQ(hdr_value_at_percentile(&h, 99), 99);
    CHECK_EQ(hdr_value_at_percentile(&h, 100), 100);
    CHECK_EQ(hdr_value_at_percentile(&h, 0), 1);
    CHECK_EQ(h.min, 1);
    CHECK_EQ(h.max, 100);
    CHECK(hdr_mean(&h) == 50.5);
    hdr_record(&h, 1000000); /* one outlier: p99.9 and max see it, p50 does not move */
    CHECK_EQ(hdr_value_at_percentile(&h, 50), 51);
    CHECK_EQ(hdr_value_at_percentile(&h, 100), 1000000);
    uint64_t p999 = hdr_value_at_percentile(&h, 99.99);
    CHECK(p999 >= 1000000 - 1000000 / 128 && p999 <= 1000000);
    hdr_reset(&h);
    CHECK_EQ(h.total, 0);
    CHECK_EQ(hdr_value_at_percentile(&h, 99), 0);
    for (uint32_t i = 0; i < HDR_BUCKETS; i++)
        CHECK_EQ(h.counts[i], 0);
}

TEST(merge_is_exact)
{
    static hdr_histogram_t part[3], merged, whole;
    uint32_t seed = 12345;
    hdr_init(&merged);
    hdr_init(&whole);
    for (int k = 0; k < 3; k++)
        hdr_init(&part[k]);
    for (int i = 0; i < 30000; i++) {
        seed = seed * 1103515245u + 12345u;
        uint64_t v = (seed >> 8) % (i % 7 == 0 ? 5000000 : 3000); /* a long tail */
        hdr_record(&part[i % 3], v);
        hdr_record(&whole, v);
    }
    for (int k = 0; k < 3; k++)
        hdr_merge(&merged, &part[k]);
    CHECK_EQ(merged.total, whole.total);
    CHECK_EQ(merged.min, whole.min);
    CHECK_EQ(merged.max, whole.max);
    CHECK_EQ(merged.sum, whole.sum);
    CHECK(memcmp(merged.counts, whole.counts, sizeof whole.counts) == 0);
    const double ps[] = {0, 50, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        CHECK_EQ(hdr_value_at_percentile(&merged, ps[i]), hdr_value_at_percentile(&whole, ps[i]));
    /* Bucket by bucket, as a child's report carries them, gives the same counts. */
    static hdr_histogram_t rebuilt;
    hdr_init(&rebuilt);
    for (uint32_t i = 0; i < HDR_BUCKETS; i++)
        CHECK_EQ(hdr_add_bucket(&rebuilt, i, whole.counts[i]), 0);
    CHECK(memcmp(rebuilt.counts, whole.counts, sizeof whole.counts) == 0);
    CHECK_EQ(hdr_add_bucket(&rebuilt, HDR_BUCKETS, 1), -1);
}

int main(int argc, char **argv)
{
    (void)check_loop_close_; /* pure computation: no loop to close here */
    RUN(bucket_bounds);
    RUN(percentiles);
    RUN(merge_is_exact);
    return check_done();
}
