// Streaming sum with four independent vector accumulators: as fast as one
// core can read doubles, with no ordering constraints.
#include "bench/outliers/read_bound.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "bench/outliers/read_bound.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cqmux::bench {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

double StreamingSumImpl(const double* HWY_RESTRICT a, size_t n) {
  const hn::ScalableTag<double> d;
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    s0 = hn::Add(s0, hn::LoadU(d, a + i));
    s1 = hn::Add(s1, hn::LoadU(d, a + i + N));
    s2 = hn::Add(s2, hn::LoadU(d, a + i + 2 * N));
    s3 = hn::Add(s3, hn::LoadU(d, a + i + 3 * N));
  }
  double total = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(s0, s1), hn::Add(s2, s3))));
  for (; i < n; ++i) total += a[i];
  return total;
}

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace cqmux::bench
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cqmux::bench {
HWY_EXPORT(StreamingSumImpl);
double StreamingSum(const double* values, size_t n) {
  return HWY_DYNAMIC_DISPATCH(StreamingSumImpl)(values, n);
}
}  // namespace cqmux::bench
#endif
