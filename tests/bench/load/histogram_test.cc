// Histogram: percentiles within the stated relative error of the exact ones.
#include "histogram.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include <gtest/gtest.h>

namespace cqmux::load {
namespace {

// The exact percentile with the histogram's own rank rule.
int64_t Exact(std::vector<int64_t> sorted, double p) {
  int64_t rank = static_cast<int64_t>(std::ceil(p / 100.0 * sorted.size()));
  rank = std::clamp<int64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h(10);
  for (int v = 0; v < 1024; ++v) h.Record(v);
  EXPECT_EQ(h.count(), 1024);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 1023);
  EXPECT_EQ(h.ValueAtPercentile(50), 511);
  EXPECT_EQ(h.ValueAtPercentile(100), 1023);
  EXPECT_DOUBLE_EQ(h.mean(), 511.5);
}

TEST(HistogramTest, EmptyReportsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0);
  EXPECT_EQ(h.ValueAtPercentile(99), 0);
  EXPECT_EQ(h.mean(), 0);
}

class HistogramPrecisionTest : public testing::TestWithParam<int> {};

TEST_P(HistogramPrecisionTest, PercentilesWithinRelativeError) {
  const int bits = GetParam();
  Histogram h(bits);
  ASSERT_DOUBLE_EQ(h.relative_error(), std::ldexp(1.0, -bits));
  // Log-uniform from 1 ns to 100 s: every bucket scale is exercised.
  std::mt19937_64 rng(bits);
  std::uniform_real_distribution<double> exponent(0, std::log(1e11));
  std::vector<int64_t> samples;
  for (int i = 0; i < 200000; ++i) {
    const int64_t v = static_cast<int64_t>(std::exp(exponent(rng)));
    samples.push_back(v);
    h.Record(v);
  }
  std::sort(samples.begin(), samples.end());
  for (double p : {0.0, 1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    const int64_t exact = Exact(samples, p);
    const int64_t got = h.ValueAtPercentile(p);
    EXPECT_GE(got, exact) << "p" << p;
    EXPECT_LE(static_cast<double>(got), exact * (1 + h.relative_error())) << "p" << p;
  }
  EXPECT_EQ(h.max(), samples.back());
  EXPECT_EQ(h.min(), samples.front());
}

INSTANTIATE_TEST_SUITE_P(Precisions, HistogramPrecisionTest, testing::Values(3, 7, 10, 14));

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  Histogram a, b, all;
  for (int64_t v = 1; v < 5'000'000; v = v * 3 / 2 + 1) {
    (v % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.max(), all.max());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_DOUBLE_EQ(a.mean(), all.mean());
  for (double p : {25.0, 50.0, 75.0, 99.0}) EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p));
}

TEST(HistogramTest, RecordNAndNegativeValues) {
  Histogram h;
  h.RecordN(2000, 99);
  h.Record(-5);  // clamped to 0: a clock step must not corrupt the histogram
  EXPECT_EQ(h.count(), 100);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.ValueAtPercentile(1), 0);
  EXPECT_GE(h.ValueAtPercentile(50), 2000);
  EXPECT_LE(h.ValueAtPercentile(50), 2000 * (1 + h.relative_error()));
}

}  // namespace
}  // namespace cqmux::load
