// The SIMD outlier kernel: Google Highway, compiled once per x86 target and
// dispatched at runtime. The sums keep numpy's exact association (see
// outliers_scalar.cc): a vector of up to 8 lanes holds numpy's eight
// accumulators r[0..7] of one 128-element leaf, and the leaves of a balanced
// subtree ("group") are summed back to back so that eight independent add
// chains hide the add latency.
// Usually only two passes over memory are made instead of numpy's three: see
// FindOutliers.
#include <algorithm>
#include <cmath>

#include "server/outliers/outliers.h"
#include "server/outliers/outliers_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "server/outliers/outliers_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace cqmux::outliers {
namespace HWY_NAMESPACE {
namespace {

namespace hn = hwy::HWY_NAMESPACE;

// Never more than numpy's eight accumulators per vector.
using D = hn::CappedTag<double, 8>;
using DI = hn::RebindToSigned<D>;
using V = hn::Vec<D>;

constexpr size_t kLanes = hn::MaxLanes(D());
static_assert(8 % kLanes == 0);
// Vectors holding one leaf's r[0..7].
constexpr size_t kVecs = 8 / kLanes;
// Leaves per group: kLeaves * kVecs == 8 independent add chains.
constexpr size_t kLeaves = kLanes;
constexpr size_t kBlock = internal::kNumpyBlock;

struct Identity {
  HWY_INLINE V operator()(V v) const { return v; }
  HWY_INLINE double operator()(double x) const { return x; }
};

// (x - mean)^2 as numpy computes it: a rounded subtraction, then a rounded
// multiplication (this file is built with -ffp-contract=off: no FMA).
struct SquaredDeviation {
  V mean_v;
  double mean;
  HWY_INLINE V operator()(V v) const {
    const V d = hn::Sub(v, mean_v);
    return hn::Mul(d, d);
  }
  HWY_INLINE double operator()(double x) const {
    const double d = x - mean;
    return d * d;
  }
};

// SquaredDeviation that also keeps the running maximum of the squared
// deviations it produced, so a caller can skip looking for candidates in a
// range whose maximum is below the candidate threshold.
struct TrackedSquaredDeviation {
  V mean_v;
  double mean;
  mutable V max_v;
  HWY_INLINE V operator()(V v) const {
    const V d = hn::Sub(v, mean_v);
    const V sq = hn::Mul(d, d);
    max_v = hn::Max(max_v, sq);
    return sq;
  }
  HWY_INLINE double operator()(double x) const {
    const double d = x - mean;
    return d * d;
  }
};

// ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) of one leaf.
HWY_INLINE double ReduceLeaf(const V* acc) {
  const D d;
  HWY_ALIGN double r[8];
  for (size_t k = 0; k < kVecs; ++k) hn::Store(acc[k], d, r + k * kLanes);
  return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

// numpy's leaf for 8 <= n <= 128.
template <class F>
HWY_INLINE double Leaf(const double* HWY_RESTRICT a, size_t n, const F& f) {
  const D d;
  V acc[kVecs];
  for (size_t k = 0; k < kVecs; ++k) acc[k] = f(hn::LoadU(d, a + k * kLanes));
  const size_t end = n - (n % 8);
  size_t i = 8;
  for (; i < end; i += 8) {
    for (size_t k = 0; k < kVecs; ++k) {
      acc[k] = hn::Add(acc[k], f(hn::LoadU(d, a + i + k * kLanes)));
    }
  }
  double res = ReduceLeaf(acc);
  for (; i < n; ++i) res += f(a[i]);
  return res;
}

// Balanced pairwise combination of a power-of-two number of partial sums,
// which is how numpy's recursion combines equal halves.
template <size_t kN>
HWY_INLINE double TreeSum(const double* s) {
  if constexpr (kN == 1) {
    return s[0];
  } else {
    return TreeSum<kN / 2>(s) + TreeSum<kN / 2>(s + kN / 2);
  }
}

// A subtree of kLeaves full 128-element leaves.
template <class F>
HWY_INLINE double Group(const double* HWY_RESTRICT a, const F& f) {
  const D d;
  V acc[kLeaves * kVecs];
  // Leaf by leaf in address order (one memory stream); the leaves' add
  // chains are independent, so out-of-order execution overlaps them.
  for (size_t j = 0; j < kLeaves; ++j) {
    for (size_t k = 0; k < kVecs; ++k) {
      acc[j * kVecs + k] = f(hn::LoadU(d, a + j * kBlock + k * kLanes));
    }
    for (size_t i = 8; i < kBlock; i += 8) {
      for (size_t k = 0; k < kVecs; ++k) {
        acc[j * kVecs + k] = hn::Add(
            acc[j * kVecs + k], f(hn::LoadU(d, a + j * kBlock + i + k * kLanes)));
      }
    }
  }
  double s[kLeaves];
  for (size_t j = 0; j < kLeaves; ++j) s[j] = ReduceLeaf(acc + j * kVecs);
  return TreeSum<kLeaves>(s);
}

// numpy's pairwise_sum.
template <class F>
double Pairwise(const double* HWY_RESTRICT a, size_t n, const F& f) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += f(a[i]);
    return res;
  }
  if (n == kLeaves * kBlock) return Group(a, f);
  if (n <= kBlock) return Leaf(a, n, f);
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return Pairwise(a, n2, f) + Pairwise(a + n2, n - n2, f);
}

template <class F>
double ChunkedSum(const double* HWY_RESTRICT a, size_t n, const F& f) {
  double total = 0.;
  for (size_t start = 0; start < n; start += internal::kNumpyChunk) {
    total += Pairwise(a + start, std::min(internal::kNumpyChunk, n - start), f);
  }
  return total;
}

}  // namespace

double SumImpl(const double* HWY_RESTRICT a, size_t n) {
  return ChunkedSum(a, n, Identity{});
}

double SquaredDeviationSumImpl(const double* HWY_RESTRICT a, size_t n,
                               double mean) {
  return ChunkedSum(a, n, SquaredDeviation{hn::Set(D(), mean), mean});
}

namespace {

// Writes the indices i in [begin, end) with |a[i] - mean| > threshold to
// `out` (room for end - begin + kLanes) and returns their count. Outliers are
// rare, so four vectors are tested together and CompressStore runs only when
// one of them has a hit.
size_t Compare(const double* HWY_RESTRICT a, size_t begin, size_t end,
               double mean, double threshold, int64_t* HWY_RESTRICT out) {
  const D d;
  const DI di;
  const V mean_v = hn::Set(d, mean);
  const V threshold_v = hn::Set(d, threshold);
  const auto lanes = hn::Set(di, static_cast<int64_t>(kLanes));
  auto idx = hn::Iota(di, static_cast<int64_t>(begin));
  size_t count = 0;
  size_t i = begin;
  auto is_outlier = [&](size_t at) HWY_ATTR {
    return hn::Abs(hn::Sub(hn::LoadU(d, a + at), mean_v)) > threshold_v;
  };
  auto store = [&](decltype(is_outlier(0)) m) HWY_ATTR {
    count += hn::CompressStore(idx, hn::RebindMask(di, m), di, out + count);
    idx = hn::Add(idx, lanes);
  };
  for (; i + 4 * kLanes <= end; i += 4 * kLanes) {
    const auto m0 = is_outlier(i);
    const auto m1 = is_outlier(i + kLanes);
    const auto m2 = is_outlier(i + 2 * kLanes);
    const auto m3 = is_outlier(i + 3 * kLanes);
    if (HWY_LIKELY(hn::AllFalse(d, hn::Or(hn::Or(m0, m1), hn::Or(m2, m3))))) {
      idx = hn::Add(idx, hn::Set(di, static_cast<int64_t>(4 * kLanes)));
      continue;
    }
    store(m0);
    store(m1);
    store(m2);
    store(m3);
  }
  for (; i + kLanes <= end; i += kLanes) store(is_outlier(i));
  for (; i < end; ++i) {
    if (std::fabs(a[i] - mean) > threshold) out[count++] = static_cast<int64_t>(i);
  }
  return count;
}

// Sum of x^2 in any order (only used for an error-bounded estimate, see
// FindOutliers).
HWY_NOINLINE void AddSumOfSquares(const double* HWY_RESTRICT a, size_t n,
                                  double* sq) {
  const D d;
  V q0 = hn::Zero(d), q1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const V v0 = hn::LoadU(d, a + i);
    const V v1 = hn::LoadU(d, a + i + kLanes);
    q0 = hn::Add(q0, hn::Mul(v0, v0));
    q1 = hn::Add(q1, hn::Mul(v1, v1));
  }
  HWY_ALIGN double lanes[kLanes];
  hn::Store(hn::Add(q0, q1), d, lanes);
  double q = 0;
  for (size_t k = 0; k < kLanes; ++k) q += lanes[k];
  for (; i < n; ++i) q += a[i] * a[i];
  *sq += q;
}

// numpy's sum of one chunk (at most 8192 values) calling post(offset, len)
// on consecutive pieces right after summing them, while they are in L1: a
// full chunk is a balanced tree of Group()s, so its groups are summed one by
// one and combined at the end exactly as the recursion would.
constexpr size_t kGroupSize = kLeaves * kBlock;
constexpr size_t kGroupsPerChunk = internal::kNumpyChunk / kGroupSize;
static_assert(kGroupsPerChunk * kGroupSize == internal::kNumpyChunk);

template <class F, class Post>
HWY_INLINE double ChunkSumThen(const double* HWY_RESTRICT a, size_t len,
                               const F& f, const Post& post) {
  if (len == internal::kNumpyChunk) {
    double g[kGroupsPerChunk];
    for (size_t j = 0; j < kGroupsPerChunk; ++j) {
      g[j] = Group(a + j * kGroupSize, f);
      post(j * kGroupSize, kGroupSize);
    }
    return TreeSum<kGroupsPerChunk>(g);
  }
  const double sum = Pairwise(a, len, f);
  post(0, len);
  return sum;
}

}  // namespace

size_t CompareImpl(const double* HWY_RESTRICT a, size_t n, double mean,
                   double threshold, int64_t* HWY_RESTRICT out) {
  return Compare(a, 0, n, mean, threshold, out);
}

// Pass 1 of the two-pass path: numpy's sum, plus sum(x^2) of each piece
// while it is still in L1.
double SumAndSquaresImpl(const double* HWY_RESTRICT a, size_t n, double* sq) {
  double total = 0.;
  *sq = 0;
  for (size_t start = 0; start < n; start += internal::kNumpyChunk) {
    const size_t len = std::min(internal::kNumpyChunk, n - start);
    total += ChunkSumThen(a + start, len, Identity{},
                          [&](size_t off, size_t m) HWY_ATTR {
                            AddSumOfSquares(a + start + off, m, sq);
                          });
  }
  return total;
}

// Pass 2 of the two-pass path: numpy's sum of squared deviations, and the
// candidates |a[i] - mean| > candidate_threshold of each chunk while it is
// still in cache. Returns the candidate count.
size_t SquaredDeviationSumAndCandidatesImpl(const double* HWY_RESTRICT a,
                                            size_t n, double mean,
                                            double candidate_threshold,
                                            int64_t* HWY_RESTRICT out,
                                            double* sq_dev_sum) {
  const D d;
  // |x - mean| > c implies fl((x - mean)^2) >= fl(c * c) (monotone
  // rounding), so a group whose largest squared deviation is below c * c
  // has no candidate.
  const V c2 = hn::Set(d, candidate_threshold * candidate_threshold);
  const TrackedSquaredDeviation f{hn::Set(d, mean), mean, hn::Zero(d)};
  double total = 0.;
  size_t count = 0;
  for (size_t start = 0; start < n; start += internal::kNumpyChunk) {
    const size_t len = std::min(internal::kNumpyChunk, n - start);
    total += ChunkSumThen(a + start, len, f, [&](size_t off, size_t m) HWY_ATTR {
      if (m == kGroupSize && hn::AllFalse(d, f.max_v >= c2)) return;
      f.max_v = hn::Zero(d);
      count += Compare(a, start + off, start + off + m, mean,
                       candidate_threshold, out + count);
    });
  }
  *sq_dev_sum = total;
  return count;
}

int64_t TargetImpl() { return HWY_TARGET; }

// NOLINTNEXTLINE(google-readability-namespace-comments)
}  // namespace HWY_NAMESPACE
}  // namespace cqmux::outliers
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace cqmux::outliers {

HWY_EXPORT(SumImpl);
HWY_EXPORT(SquaredDeviationSumImpl);
HWY_EXPORT(CompareImpl);
HWY_EXPORT(SumAndSquaresImpl);
HWY_EXPORT(SquaredDeviationSumAndCandidatesImpl);
HWY_EXPORT(TargetImpl);

namespace {

constexpr double kEpsilon = 0x1p-53;  // unit roundoff of double

// gamma_k = k eps / (1 - k eps): the relative error bound of k roundings.
double Gamma(double k) { return k * kEpsilon / (1 - k * kEpsilon); }

// A number certainly <= the sum of squared deviations numpy will compute
// (pass 2), from pass-1 statistics: sum(x) (numpy's) and sum(x^2) (any
// order). Returns 0 when the data allows no useful bound (a tiny spread
// around a huge mean, or overflow).
//
// Why it holds, in exact arithmetic over the doubles involved:
//   sum (x - m)^2 >= sum x^2 - (sum x)^2 / n  for any m (minimum at the mean);
//   every rounded square, difference and sum of non-negative terms loses at
//   most a factor (1 - eps) per rounding, plus at most 2^-1075 per term on
//   underflow; no summation path has more than n + 64 roundings; and
//   |computed sum x - sum x| <= gamma * sum |x| <= gamma * sqrt(n sum x^2)
//   (Cauchy-Schwarz).
// Each quantity below is rounded in the safe direction with margins far above
// the few roundings of this arithmetic itself.
double SquaredDeviationLowerBound(double n, double sum, double sum_sq) {
  if (!std::isfinite(sum_sq)) return 0;
  const double g = Gamma(n + 68);
  const double underflow = n * 0x1p-1070;
  const double sq_low = sum_sq * (1 - g) - underflow;  // <= sum x^2
  const double sq_high = sum_sq * (1 + 2 * g) + underflow;  // >= sum x^2
  // >= |sum x|, the 2 covering the roundings of this expression.
  const double sum_high = std::fabs(sum) + 2 * g * std::sqrt(n * sq_high);
  const double centered_low = sq_low * (1 - 16 * kEpsilon) -
                              (sum_high * sum_high / n) * (1 + 16 * kEpsilon);
  const double bound = centered_low * (1 - g) * (1 - 1e-7) - underflow;
  return std::isfinite(bound) && bound > 0 ? bound : 0;
}

}  // namespace

double NumpySum(absl::Span<const double> values) {
  return HWY_DYNAMIC_DISPATCH(SumImpl)(values.data(), values.size());
}

Moments ComputeMoments(absl::Span<const double> values) {
  const double n = static_cast<double>(values.size());
  Moments m;
  m.mean = NumpySum(values) / n;
  m.std = std::sqrt(HWY_DYNAMIC_DISPATCH(SquaredDeviationSumImpl)(
                        values.data(), values.size(), m.mean) /
                    n);
  return m;
}

absl::Status FindOutliers(absl::Span<const double> values,
                          AlignedBuffer<int64_t>* indices) {
  indices->clear();
  const size_t n = values.size();
  if (n == 0) return absl::OkStatus();
  double sum_sq;
  const double sum =
      HWY_DYNAMIC_DISPATCH(SumAndSquaresImpl)(values.data(), n, &sum_sq);
  if (!std::isfinite(sum)) {
    // A finite sum implies finite values; otherwise look for the culprit
    // (finite values may also overflow, which numpy tolerates).
    absl::Status st = internal::CheckFinite(values);
    if (!st.ok()) return st;
  }
  const double count = static_cast<double>(n);
  const double mean = sum / count;
  indices->reserve(n + kIndexPadding);
  int64_t* out = indices->data();

  // Two passes over memory instead of three when possible: pass 2 also
  // collects candidates |x - mean| > c for a c proven <= the final 2 * std
  // (monotone rounding of / and sqrt preserves bound <= sum), so the
  // candidates include every outlier; the exact test then runs on them only.
  const double bound = SquaredDeviationLowerBound(count, sum, sum_sq);
  if (bound > 0) {
    const double candidate_threshold = 2 * std::sqrt(bound / count);
    double sq_dev_sum;
    const size_t candidates =
        HWY_DYNAMIC_DISPATCH(SquaredDeviationSumAndCandidatesImpl)(
            values.data(), n, mean, candidate_threshold, out, &sq_dev_sum);
    const double threshold = 2 * std::sqrt(sq_dev_sum / count);
    size_t kept = 0;
    for (size_t j = 0; j < candidates; ++j) {
      const int64_t i = out[j];
      if (std::fabs(values[i] - mean) > threshold) out[kept++] = i;
    }
    indices->set_size(kept);
    return absl::OkStatus();
  }

  const double std = std::sqrt(
      HWY_DYNAMIC_DISPATCH(SquaredDeviationSumImpl)(values.data(), n, mean) /
      count);
  indices->set_size(HWY_DYNAMIC_DISPATCH(CompareImpl)(values.data(), n, mean,
                                                      2 * std, out));
  return absl::OkStatus();
}

std::string DispatchTargetName() {
  return hwy::TargetName(HWY_DYNAMIC_DISPATCH(TargetImpl)());
}

std::vector<int64_t> AvailableTargets() {
  return hwy::SupportedAndGeneratedTargets();
}

std::string TargetName(int64_t target) { return hwy::TargetName(target); }

ScopedTarget::ScopedTarget(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

ScopedTarget::~ScopedTarget() {
  hwy::SetSupportedTargetsForTest(0);
  hwy::GetChosenTarget().Update(hwy::SupportedTargets());
}

}  // namespace cqmux::outliers
#endif  // HWY_ONCE
