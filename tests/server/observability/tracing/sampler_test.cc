// The sampler: parent-based, and trace-id-ratio for roots with the
// OpenTelemetry SDKs' rule (lower 64 bits of the trace id below ratio*2^64).
#include "server/observability/tracing/sampler.h"

#include <cstdint>
#include <random>

#include <gtest/gtest.h>

namespace cqmux::tracing {
namespace {

TraceId WithLow64(uint64_t low) {
  TraceId id{};
  id[0] = 0xff;  // the upper half never matters
  for (int i = 15; i >= 8; --i, low >>= 8) id[i] = static_cast<uint8_t>(low);
  return id;
}

TEST(SamplerTest, ChildrenFollowTheirParent) {
  SpanContext parent;
  parent.sampled = true;
  EXPECT_TRUE(Sampler::SampleChild(parent));
  parent.sampled = false;
  EXPECT_FALSE(Sampler::SampleChild(parent));
}

TEST(SamplerTest, RatioOneAndZero) {
  const Sampler all(1.0);
  const Sampler none(0.0);
  EXPECT_FALSE(all.never());
  EXPECT_TRUE(none.never());
  for (uint64_t low : {uint64_t{0}, uint64_t{1} << 63, ~uint64_t{0}}) {
    EXPECT_TRUE(all.SampleRoot(WithLow64(low)));
    EXPECT_FALSE(none.SampleRoot(WithLow64(low)));
  }
  EXPECT_TRUE(Sampler(7.0).SampleRoot(WithLow64(~uint64_t{0})));  // clamped
  EXPECT_TRUE(Sampler(-1.0).never());
}

TEST(SamplerTest, RatioIsABoundOnTheLowerHalf) {
  const Sampler half(0.5);
  EXPECT_TRUE(half.SampleRoot(WithLow64(0)));
  EXPECT_TRUE(half.SampleRoot(WithLow64((uint64_t{1} << 63) - 1)));
  EXPECT_FALSE(half.SampleRoot(WithLow64(uint64_t{1} << 63)));
  EXPECT_FALSE(half.SampleRoot(WithLow64(~uint64_t{0})));
  const Sampler quarter(0.25);
  EXPECT_TRUE(quarter.SampleRoot(WithLow64((uint64_t{1} << 62) - 1)));
  EXPECT_FALSE(quarter.SampleRoot(WithLow64(uint64_t{1} << 62)));
}

TEST(SamplerTest, RandomIdsAreSampledAtAboutTheRatio) {
  const Sampler tenth(0.1);
  std::mt19937_64 gen(42);  // fixed seed: the count is deterministic
  int sampled = 0;
  constexpr int kIds = 100000;
  for (int i = 0; i < kIds; ++i) sampled += tenth.SampleRoot(WithLow64(gen()));
  EXPECT_NEAR(sampled, kIds / 10, 600);  // ~6 standard deviations
}

}  // namespace
}  // namespace cqmux::tracing
