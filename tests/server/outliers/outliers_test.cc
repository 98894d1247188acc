// The outlier kernel: scalar reference vs every compiled SIMD target, and
// both vs numpy's own results.
#include "server/outliers/outliers.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/server/outliers/test_data.h"

namespace cqmux::outliers {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::Bits;

std::vector<int64_t> Indices(const AlignedBuffer<int64_t>& b) {
  return std::vector<int64_t>(b.data(), b.data() + b.size());
}

// Runs `check` with the scalar reference and with every SIMD target this
// CPU supports; `name` says which one is running.
template <typename Check>
void ForEachImplementation(Check check) {
  check("scalar", &FindOutliersScalar, &ComputeMomentsScalar);
  for (int64_t target : AvailableTargets()) {
    ScopedTarget scoped(target);
    check(TargetName(target), &FindOutliers, &ComputeMoments);
  }
}

std::vector<double> RandomValues(std::mt19937_64& rng, size_t n, int kind) {
  std::vector<double> v(n);
  std::normal_distribution<double> normal(0, 1);
  std::uniform_real_distribution<double> uniform(0, 40);
  std::uniform_int_distribution<int> exponent(-8, 16);
  for (double& x : v) {
    switch (kind) {
      case 0:
        x = uniform(rng);
        break;
      case 1:  // wide magnitudes: association order matters
        x = normal(rng) * std::pow(10.0, exponent(rng));
        break;
      case 2:  // normal: ~4.5% outliers, many of them near the threshold
        x = normal(rng);
        break;
      default:  // large offset, small spread
        x = 1e9 + normal(rng);
    }
  }
  if (n > 3) v[n / 3] += 1000;  // an outlier
  return v;
}

void ExpectSameAsScalar(const std::vector<double>& v, const std::string& what) {
  AlignedBuffer<int64_t> want;
  ASSERT_TRUE(FindOutliersScalar(v, &want).ok());
  const Moments want_m = ComputeMomentsScalar(v);
  const double want_sum = NumpySumScalar(v);
  for (int64_t target : AvailableTargets()) {
    ScopedTarget scoped(target);
    SCOPED_TRACE(what + " on " + TargetName(target));
    ASSERT_EQ(Bits(NumpySum(v)), Bits(want_sum));
    const Moments m = ComputeMoments(v);
    ASSERT_EQ(Bits(m.mean), Bits(want_m.mean));
    ASSERT_EQ(Bits(m.std), Bits(want_m.std));
    // Pass 1 as one memory stream (large inputs) and in lockstep leaves
    // (small inputs) gives the same answer.
    for (size_t one_stream_from : {size_t{1}, SIZE_MAX}) {
      ScopedOneStreamThreshold streams(one_stream_from);
      SCOPED_TRACE("one stream from " + std::to_string(one_stream_from));
      AlignedBuffer<int64_t> got;
      ASSERT_TRUE(FindOutliers(v, &got).ok());
      ASSERT_EQ(Indices(got), Indices(want));
    }
  }
}

TEST(OutliersTest, SeveralTargetsAreCompiledAndOneIsDispatched) {
  const std::vector<int64_t> targets = AvailableTargets();
  ASSERT_FALSE(targets.empty());
  std::vector<std::string> names;
  for (int64_t t : targets) names.push_back(TargetName(t));
  // The dispatched target is the best available one.
  EXPECT_EQ(DispatchTargetName(), names.front());
  for (int64_t t : targets) {
    ScopedTarget scoped(t);
    EXPECT_EQ(DispatchTargetName(), TargetName(t));
  }
  EXPECT_EQ(DispatchTargetName(), names.front());
}

TEST(OutliersTest, ScalarAndSimdAgreeOnEverySizeUpTo300) {
  std::mt19937_64 rng(42);
  for (int kind = 0; kind < 4; ++kind) {
    for (size_t n = 0; n <= 300; ++n) {
      ExpectSameAsScalar(RandomValues(rng, n, kind),
                         "kind " + std::to_string(kind) + " n " + std::to_string(n));
    }
  }
}

TEST(OutliersTest, ScalarAndSimdAgreeOnLargeArrays) {
  std::mt19937_64 rng(7);
  for (size_t n : {8192u * 3 + 5, 65536u, 100000u, 1000003u}) {
    for (int kind = 0; kind < 4; ++kind) {
      ExpectSameAsScalar(RandomValues(rng, n, kind),
                         "kind " + std::to_string(kind) + " n " + std::to_string(n));
    }
  }
}

// Values a rounding away from the 2-std boundary: the SIMD kernel's
// candidate filter (see FindOutliers) must never drop a true outlier.
TEST(OutliersTest, ScalarAndSimdAgreeOnTheBoundary) {
  std::mt19937_64 rng(99);
  for (size_t n : {50u, 1000u, 8192u * 2 + 100}) {
    for (int kind = 0; kind < 3; ++kind) {
      std::vector<double> v = RandomValues(rng, n, kind);
      auto is_outlier = [&](double x) {
        v[0] = x;
        AlignedBuffer<int64_t> got;
        EXPECT_TRUE(FindOutliersScalar(v, &got).ok());
        return got.size() > 0 && got[0] == 0;
      };
      // Bisect (on the bit patterns) for the smallest outlying x above the
      // mean, then check both sides of the boundary.
      double lo = ComputeMomentsScalar(v).mean, hi = 1e100;
      ASSERT_FALSE(is_outlier(lo));
      ASSERT_TRUE(is_outlier(hi));
      while (std::nextafter(lo, hi) != hi) {
        const double mid = std::bit_cast<double>(
            (std::bit_cast<uint64_t>(lo) + std::bit_cast<uint64_t>(hi)) / 2);
        (is_outlier(mid) ? hi : lo) = mid;
      }
      for (double x : {lo, hi}) {
        v[0] = x;
        ExpectSameAsScalar(v, "boundary n " + std::to_string(n) + " kind " +
                                  std::to_string(kind));
      }
    }
  }
}

TEST(OutliersTest, MatchesNumpyBitForBit) {
  const auto cases =
      testing::LoadNumpyCases(CQMUX_OUTLIERS_TESTDATA "/numpy_vectors.bin");
  ASSERT_GE(cases.size(), 60u);
  for (const auto& c : cases) {
    ForEachImplementation([&](const std::string& impl, auto find, auto moments) {
      SCOPED_TRACE(c.name + " with " + impl);
      const Moments m = moments(c.values);
      EXPECT_EQ(Bits(m.mean), Bits(c.mean)) << m.mean << " vs " << c.mean;
      EXPECT_EQ(Bits(m.std), Bits(c.std)) << m.std << " vs " << c.std;
      AlignedBuffer<int64_t> got;
      ASSERT_TRUE(find(c.values, &got).ok());
      EXPECT_EQ(Indices(got), c.indices);
    });
  }
}

TEST(OutliersTest, TutorialExampleFollowsTheCodeNotTheProse) {
  const std::vector<double> v = {1, 2, 100, 1, 3, 200, 1};
  ForEachImplementation([&](const std::string& impl, auto find, auto) {
    SCOPED_TRACE(impl);
    AlignedBuffer<int64_t> got;
    ASSERT_TRUE(find(v, &got).ok());
    EXPECT_THAT(Indices(got), ElementsAre(5));
  });
}

TEST(OutliersTest, TutorialThousandMetrics) {
  const std::vector<double> v =
      testing::LoadTutorialValues(CQMUX_TUTORIAL_VALUES);
  ASSERT_EQ(v.size(), 1000u);
  ForEachImplementation([&](const std::string& impl, auto find, auto) {
    SCOPED_TRACE(impl);
    AlignedBuffer<int64_t> got;
    ASSERT_TRUE(find(v, &got).ok());
    EXPECT_THAT(Indices(got), ElementsAre(7, 113, 835));
  });
}

TEST(OutliersTest, EmptyInputHasNoOutliers) {
  ForEachImplementation([&](const std::string& impl, auto find, auto) {
    SCOPED_TRACE(impl);
    AlignedBuffer<int64_t> got;
    got.push_back(99);
    ASSERT_TRUE(find(std::vector<double>{}, &got).ok());
    EXPECT_TRUE(got.empty());
  });
}

TEST(OutliersTest, ConstantAndSingleValueArraysHaveNoOutliers) {
  for (const std::vector<double>& v :
       {std::vector<double>{3.5}, std::vector<double>(1000, 0.1),
        std::vector<double>(257, -7.25), std::vector<double>(9000, 1e300)}) {
    ForEachImplementation([&](const std::string& impl, auto find, auto) {
      SCOPED_TRACE(impl + " n " + std::to_string(v.size()));
      AlignedBuffer<int64_t> got;
      ASSERT_TRUE(find(v, &got).ok());
      EXPECT_TRUE(got.empty());
    });
  }
}

TEST(OutliersTest, NonFiniteValuesAreRejectedNamingTheFirstIndex) {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  constexpr double kInf = std::numeric_limits<double>::infinity();
  struct Case {
    size_t n;
    std::vector<std::pair<size_t, double>> bad;
    std::string want;
  };
  const std::vector<Case> cases = {
      {1, {{0, kNaN}}, "index 0 is NaN"},
      {7, {{3, kInf}}, "index 3 is +Inf"},
      {300, {{299, -kInf}}, "index 299 is -Inf"},
      {300, {{200, kInf}, {100, -kInf}}, "index 100 is -Inf"},  // sum is NaN
      {20000, {{15000, kNaN}, {9000, kInf}}, "index 9000 is +Inf"},
      {129, {{128, -kNaN}}, "index 128 is NaN"},
  };
  for (const Case& c : cases) {
    std::vector<double> v(c.n, 1.0);
    for (auto [i, x] : c.bad) v[i] = x;
    ForEachImplementation([&](const std::string& impl, auto find, auto) {
      SCOPED_TRACE(impl + " " + c.want);
      AlignedBuffer<int64_t> got;
      const absl::Status st = find(v, &got);
      EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
      EXPECT_THAT(std::string(st.message()), HasSubstr(c.want));
      EXPECT_TRUE(got.empty());
    });
  }
}

TEST(OutliersTest, FiniteValuesWhoseSumOverflowsAreAccepted) {
  // numpy: mean = inf, std = nan, so nothing compares greater.
  const std::vector<double> v = {1.5e308, 1.5e308, -1.0, 2.0};
  ForEachImplementation([&](const std::string& impl, auto find, auto) {
    SCOPED_TRACE(impl);
    AlignedBuffer<int64_t> got;
    ASSERT_TRUE(find(v, &got).ok());
    EXPECT_TRUE(got.empty());
  });
}

TEST(OutliersTest, ManyOutliersFillTheOutputWithoutOverrun) {
  // Values whose squared deviations underflow: std == 0, so every value
  // differing from the mean is an outlier (numpy agrees, see the vectors).
  // Both the generic path and full 8192-value chunks.
  for (size_t n : {1001u, 8192u * 2 + 3}) {
    std::vector<double> v(n);
    for (size_t i = 0; i < v.size(); ++i) v[i] = (i % 2 ? 1e-200 : -1e-200);
    ForEachImplementation([&](const std::string& impl, auto find, auto) {
      SCOPED_TRACE(impl + " n " + std::to_string(n));
      AlignedBuffer<int64_t> got;
      ASSERT_TRUE(find(v, &got).ok());
      ASSERT_EQ(got.size(), v.size());
      for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], int64_t(i));
    });
  }
}

// The SIMD kernel looks for outliers of a full chunk only in the parts its
// second pass flagged: one outlier at every position of a part, and in every
// part of a chunk, must be found where it is.
TEST(OutliersTest, AnOutlierAnywhereInAFullChunkIsFound) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> uniform(0, 40);
  std::vector<double> v(8192 * 2 + 37);
  for (double& x : v) x = uniform(rng);
  std::vector<size_t> positions;
  for (size_t p = 8192; p < 8192 * 2; ++p) {
    // Every offset inside one part, and both ends of every other part.
    if (p < 8192 + 64 || p % 32 == 0 || p % 32 == 31) positions.push_back(p);
  }
  for (int64_t target : AvailableTargets()) {
    ScopedTarget scoped(target);
    SCOPED_TRACE(TargetName(target));
    for (size_t p : positions) {
      const double saved = v[p];
      v[p] = 500;
      AlignedBuffer<int64_t> got;
      ASSERT_TRUE(FindOutliers(v, &got).ok());
      ASSERT_THAT(Indices(got), ElementsAre(int64_t(p))) << "at " << p;
      v[p] = saved;
    }
  }
}

}  // namespace
}  // namespace cqmux::outliers
