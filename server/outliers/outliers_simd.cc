// The SIMD outlier kernel: Google Highway, compiled once per x86 target and
// dispatched at runtime. The sums keep numpy's exact association (see
// outliers_scalar.cc): a vector of up to 8 lanes holds numpy's eight
// accumulators r[0..7] of one 128-element leaf, and the leaves of a balanced
// subtree ("group") are summed back to back so that eight independent add
// chains hide the add latency.
// Usually one pass over memory instead of numpy's three: see FindOutliers.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include <unistd.h>

#include "absl/container/inlined_vector.h"

#include "server/outliers/outliers.h"
#include "server/outliers/outliers_internal.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "server/outliers/outliers_simd.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/cache_control.h"
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

// This file is built with -O2 (see CMakeLists.txt), where GCC 12 keeps the
// small per-leaf arrays of vectors in registers only if the loops over them
// are unrolled: hence the unroll pragmas.

// ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)) of one leaf.
HWY_INLINE double ReduceLeaf(const V* acc) {
  const D d;
  HWY_ALIGN double r[8];
  #pragma GCC unroll 8
  for (size_t k = 0; k < kVecs; ++k) hn::Store(acc[k], d, r + k * kLanes);
  return ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
}

// numpy's leaf for 8 <= n <= 128.
template <class F>
HWY_INLINE double Leaf(const double* HWY_RESTRICT a, size_t n, const F& f) {
  const D d;
  V acc[kVecs];
  #pragma GCC unroll 8
  for (size_t k = 0; k < kVecs; ++k) acc[k] = f(hn::LoadU(d, a + k * kLanes));
  const size_t end = n - (n % 8);
  size_t i = 8;
  for (; i < end; i += 8) {
    #pragma GCC unroll 8
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
  #pragma GCC unroll 8
  for (size_t j = 0; j < kLeaves; ++j) {
    #pragma GCC unroll 8
    for (size_t k = 0; k < kVecs; ++k) {
      acc[j * kVecs + k] = f(hn::LoadU(d, a + j * kBlock + k * kLanes));
    }
    for (size_t i = 8; i < kBlock; i += 8) {
      #pragma GCC unroll 8
      for (size_t k = 0; k < kVecs; ++k) {
        acc[j * kVecs + k] = hn::Add(
            acc[j * kVecs + k], f(hn::LoadU(d, a + j * kBlock + i + k * kLanes)));
      }
    }
  }
  double s[kLeaves];
  #pragma GCC unroll 8
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

// Index output. Highway 1.0.3 compresses 64-bit lanes on AVX2 and SSE4 with a
// shuffle loaded from a table that is a local array, which GCC 12 copies onto
// the stack at every call (the load of the copy then waits for those stores):
// ~100 cycles per CompressStore of four lanes, measured. Two-lane Compress()
// is a table-free conditional swap there, and AVX-512 has an instruction.
#if HWY_TARGET <= HWY_AVX3
using DS = D;
#else
using DS = hn::CappedTag<double, 2>;
#endif
using DSI = hn::RebindToSigned<DS>;
constexpr size_t kStoreLanes = hn::MaxLanes(DS());
static_assert(kLanes % kStoreLanes == 0);

// Writes the i in [begin, begin + kLanes) with |a[i] - mean| > threshold to
// `out` (room for kLanes) and returns their count.
HWY_INLINE size_t StoreOutliers(const double* HWY_RESTRICT a, size_t begin,
                                double mean, double threshold,
                                int64_t* HWY_RESTRICT out) {
  const DS d;
  const DSI di;
  size_t count = 0;
  for (size_t i = begin; i < begin + kLanes; i += kStoreLanes) {
    const auto m = hn::RebindMask(
        di, hn::Abs(hn::Sub(hn::LoadU(d, a + i), hn::Set(d, mean))) >
                hn::Set(d, threshold));
    const auto idx = hn::Iota(di, static_cast<int64_t>(i));
#if HWY_TARGET <= HWY_AVX3
    count += hn::CompressStore(idx, m, di, out + count);
#else
    hn::StoreU(hn::Compress(idx, m), di, out + count);
    count += hn::CountTrue(di, m);
#endif
  }
  return count;
}

// Writes the indices i in [begin, end) with |a[i] - mean| > threshold to
// `out` (room for end - begin + kLanes) and returns their count. Outliers are
// rare: vectors are tested four at a time, and only a vector with one is
// stored.
size_t Compare(const double* HWY_RESTRICT a, size_t begin, size_t end,
               double mean, double threshold, int64_t* HWY_RESTRICT out) {
  const D d;
  const V mean_v = hn::Set(d, mean);
  const V threshold_v = hn::Set(d, threshold);
  auto is_outlier = [&](size_t at) HWY_ATTR {
    return hn::Abs(hn::Sub(hn::LoadU(d, a + at), mean_v)) > threshold_v;
  };
  size_t count = 0;
  size_t i = begin;
  for (; i + 4 * kLanes <= end; i += 4 * kLanes) {
    const auto m0 = is_outlier(i);
    const auto m1 = is_outlier(i + kLanes);
    const auto m2 = is_outlier(i + 2 * kLanes);
    const auto m3 = is_outlier(i + 3 * kLanes);
    if (HWY_LIKELY(hn::AllFalse(d, hn::Or(hn::Or(m0, m1), hn::Or(m2, m3))))) {
      continue;
    }
    uint32_t vectors = static_cast<uint32_t>(!hn::AllFalse(d, m0)) |
                       static_cast<uint32_t>(!hn::AllFalse(d, m1)) << 1 |
                       static_cast<uint32_t>(!hn::AllFalse(d, m2)) << 2 |
                       static_cast<uint32_t>(!hn::AllFalse(d, m3)) << 3;
    for (; vectors != 0; vectors &= vectors - 1) {
      count += StoreOutliers(
          a, i + hwy::Num0BitsBelowLS1Bit_Nonzero32(vectors) * kLanes, mean,
          threshold, out + count);
    }
  }
  for (; i + kLanes <= end; i += kLanes) {
    count += StoreOutliers(a, i, mean, threshold, out + count);
  }
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
  double q = hn::GetLane(hn::SumOfLanes(d, hn::Add(q0, q1)));
  for (; i < n; ++i) q += a[i] * a[i];
  *sq += q;
}

// FindOutliers' pass 1 over a full 8192-value chunk, fused into numpy's leaf
// loops so that every value is loaded once. A full chunk is a balanced tree
// of Group-sized subtrees, so its groups are summed one by one and combined
// exactly as numpy's recursion would.
// (Unrolling the 15-step leaf loops too made them slower: GCC's scheduler
// then hoists every load and spills.)
constexpr size_t kGroupSize = kLeaves * kBlock;
constexpr size_t kGroupsPerChunk = internal::kNumpyChunk / kGroupSize;
static_assert(kGroupsPerChunk * kGroupSize == internal::kNumpyChunk);

// Leaves summed in lockstep, so that a step of the leaf loop has at least two
// independent vectors (AVX-512 holds a leaf's eight accumulators in one
// vector, whose add chain would otherwise bound the pass by its latency).
// Not more: lockstep leaves are separate memory streams 1 KiB apart, which
// made the AVX2 passes slower from L3 (measured, 100,000 values). And only
// while the values fit in L2: beyond, the two streams cost more than the
// latency they hide, and pass 1 reads one leaf after the other (out-of-order
// execution still overlaps neighbouring leaves' chains); see FindOutliers.
constexpr size_t kInterleave = kVecs >= 2 ? 1 : 2;
static_assert(kLeaves % kInterleave == 0);
// Side chains of x^2 (one per two vectors of a step, at least one).
constexpr size_t kSqVecs = kInterleave * kVecs >= 2 ? kInterleave * kVecs / 2 : 1;

// Pass 1 over one group: numpy's sum of it, returned; x^2 added into
// sq[0..kSqVecs) in any order (it only feeds error-bounded estimates,
// see FindOutliers; a fused multiply-add rounds once instead of twice, which
// the bounds allow); and each leaf's smallest and largest value in ranges[].
// The squares of two vectors are added to a side chain together: one
// addition per two vectors.
template <size_t kLockstep>
HWY_INLINE double GroupSumAndSquares(const double* HWY_RESTRICT a,
                                     V* HWY_RESTRICT sq,
                                     internal::LeafRange* HWY_RESTRICT ranges) {
  static_assert(kLeaves % kLockstep == 0);
  constexpr size_t kStepVecs = kLockstep * kVecs;
  static_assert(kStepVecs == 1 || kStepVecs % 2 == 0);
  static_assert(kStepVecs / 2 <= kSqVecs);
  const D d;
  double s[kLeaves];
  for (size_t j = 0; j < kLeaves; j += kLockstep) {
    const double* HWY_RESTRICT leaves = a + j * kBlock;
    V acc[kStepVecs];  // acc[l * kVecs + k]: vector k of leaf j + l
    V lo[kLockstep], hi[kLockstep];
    auto step = [&](size_t i) HWY_ATTR {
      V v[kStepVecs];
      #pragma GCC unroll 8
      for (size_t x = 0; x < kStepVecs; ++x) {
        v[x] = hn::LoadU(d, leaves + (x / kVecs) * kBlock + i +
                                (x % kVecs) * kLanes);
        acc[x] = i == 0 ? v[x] : hn::Add(acc[x], v[x]);
        V& leaf_lo = lo[x / kVecs];
        V& leaf_hi = hi[x / kVecs];
        leaf_lo = i == 0 && x % kVecs == 0 ? v[x] : hn::Min(leaf_lo, v[x]);
        leaf_hi = i == 0 && x % kVecs == 0 ? v[x] : hn::Max(leaf_hi, v[x]);
      }
      if constexpr (kStepVecs == 1) {
        sq[0] = hn::MulAdd(v[0], v[0], sq[0]);
      } else {
        #pragma GCC unroll 8
        for (size_t c = 0; c < kStepVecs / 2; ++c) {
          sq[c] = hn::Add(sq[c], hn::MulAdd(v[2 * c + 1], v[2 * c + 1],
                                            hn::Mul(v[2 * c], v[2 * c])));
        }
      }
    };
    step(0);
    for (size_t i = 8; i < kBlock; i += 8) step(i);
    #pragma GCC unroll 8
    for (size_t l = 0; l < kLockstep; ++l) {
      s[j + l] = ReduceLeaf(acc + l * kVecs);
      ranges[j + l].min = hn::GetLane(hn::MinOfLanes(d, lo[l]));
      ranges[j + l].max = hn::GetLane(hn::MaxOfLanes(d, hi[l]));
    }
  }
  return TreeSum<kLeaves>(s);
}

// Sums of a partial chunk: numpy's sum through the generic recursion, with
// sum x^2 in a second look while the values are in cache.
double PartialSumAndSquares(const double* HWY_RESTRICT a, size_t n,
                            double* sq) {
  const double sum = Pairwise(a, n, Identity{});
  AddSumOfSquares(a, n, sq);
  return sum;
}

// Pass 1 over the first `full` chunks, last to first (see SumAndSquaresImpl).
template <size_t kLockstep>
HWY_INLINE void FullChunks(const double* HWY_RESTRICT a, size_t full,
                           V* HWY_RESTRICT q, double* HWY_RESTRICT chunk_sums,
                           internal::LeafRange* HWY_RESTRICT ranges) {
  for (size_t c = full; c-- > 0;) {
    const size_t chunk = c * internal::kNumpyChunk;
    double g[kGroupsPerChunk];
    for (size_t j = 0; j < kGroupsPerChunk; ++j) {
      const size_t group = chunk + j * kGroupSize;
      g[j] = GroupSumAndSquares<kLockstep>(a + group, q,
                                           ranges + group / kBlock);
    }
    chunk_sums[c] = TreeSum<kGroupsPerChunk>(g);
  }
}

}  // namespace

// Pass 1: numpy's sum, sum(x^2) in any order, and the range of every leaf of
// the full chunks. Chunks are visited last to first (their sums are still
// added first to last): a request was just decoded front to back, so its tail
// is the part still in cache, and what comes next starts on the head this
// pass left in cache. `one_stream` reads the leaves strictly one after the
// other even where kInterleave > 1 (see FindOutliers).
double SumAndSquaresImpl(const double* HWY_RESTRICT a, size_t n,
                         bool one_stream, double* sq, double* chunk_sums,
                         internal::LeafRange* HWY_RESTRICT ranges) {
  const D d;
  V q[kSqVecs];
  for (V& v : q) v = hn::Zero(d);
  double partial_sq = 0;
  const size_t full = n / internal::kNumpyChunk;
  if (full * internal::kNumpyChunk < n) {
    const size_t start = full * internal::kNumpyChunk;
    chunk_sums[full] = PartialSumAndSquares(a + start, n - start, &partial_sq);
  }
  if (one_stream) {
    FullChunks<1>(a, full, q, chunk_sums, ranges);
  } else {
    FullChunks<kInterleave>(a, full, q, chunk_sums, ranges);
  }
  double total = 0.;
  const size_t chunks = (n + internal::kNumpyChunk - 1) / internal::kNumpyChunk;
  for (size_t c = 0; c < chunks; ++c) total += chunk_sums[c];
  V all = hn::Zero(d);
  for (const V& v : q) all = hn::Add(all, v);
  *sq = hn::GetLane(hn::SumOfLanes(d, all)) + partial_sq;
  return total;
}

constexpr size_t kPrefetchLeaves = 32;

// Decides every value from pass 1 alone, given bounds lo <= 2 * std <= hi:
// |x - mean| > hi is an outlier, <= lo is not. Only the leaves whose range
// reaches past mean +- lo are looked at (fl(x - mean) is monotone in x), and
// the values of the partial chunk. Returns the outlier count, or sets
// *undecided when a value lies between the bounds (never when lo == hi).
size_t DecideImpl(const double* HWY_RESTRICT a, size_t n, double mean,
                  double lo, double hi,
                  const internal::LeafRange* HWY_RESTRICT ranges,
                  int64_t* HWY_RESTRICT out, bool* undecided) {
  size_t count = 0;
  auto settle = [&](size_t begin, size_t end) HWY_ATTR {
    const size_t first = count;
    count += Compare(a, begin, end, mean, lo, out + count);
    for (size_t j = first; j < count; ++j) {
      if (!(std::fabs(a[out[j]] - mean) > hi)) return false;
    }
    return true;
  };
  auto may_hold_one = [&](size_t leaf) HWY_ATTR {
    return ranges[leaf].max - mean > lo || ranges[leaf].min - mean < -lo;
  };
  const size_t full = n / internal::kNumpyChunk * internal::kNumpyChunk;
  const size_t leaves = full / kBlock;
  for (size_t leaf = 0; leaf < leaves; ++leaf) {
    // The leaves looked at are far apart in memory at 10^7 values, out of
    // reach of the hardware prefetchers: 0.66 -> 0.55 ns/value.
    const size_t ahead = leaf + kPrefetchLeaves;
    if (ahead < leaves && may_hold_one(ahead)) {
      for (size_t i = 0; i < kBlock; i += 64 / sizeof(double)) {
        hwy::Prefetch(a + ahead * kBlock + i);
      }
    }
    if (may_hold_one(leaf)) {
      if (!settle(leaf * kBlock, (leaf + 1) * kBlock)) {
        *undecided = true;
        return 0;
      }
    }
  }
  if (full < n && !settle(full, n)) {
    *undecided = true;
    return 0;
  }
  *undecided = false;
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
HWY_EXPORT(SumAndSquaresImpl);
HWY_EXPORT(DecideImpl);
HWY_EXPORT(TargetImpl);

namespace {

constexpr double kEpsilon = 0x1p-53;  // unit roundoff of double

// gamma_k = k eps / (1 - k eps): the relative error bound of k roundings.
double Gamma(double k) { return k * kEpsilon / (1 - k * kEpsilon); }

// Bounds lo <= S <= hi on the sum of squared deviations S numpy will compute,
// from pass-1 statistics: sum(x) (numpy's, s), sum(x^2) (any order) and the
// mean m = fl(s / n). lo is 0 when the data allows no useful bound (a tiny
// spread around a huge mean, or overflow); hi may be +Inf.
//
// Why they hold, in exact arithmetic over the doubles involved:
//   sum (x - m)^2 >= sum x^2 - (sum x)^2 / n  for any m (minimum at the mean);
//   sum (x - m)^2  = sum x^2 - (sum x)^2 / n + n (m - sum x / n)^2
//                 <= sum x^2 - (s^2 / n)(1 - eps^2) + 2 |m| |sum x - s|;
//   every rounded difference, square and sum of non-negative terms changes
//   by at most a factor (1 -+ eps) per rounding, plus at most 2^-1075 per
//   term on underflow; no summation path has more than n + 64 roundings; and
//   |s - sum x| <= gamma * sum |x| <= gamma * sqrt(n sum x^2)
//   (Cauchy-Schwarz).
// Each quantity below is rounded in the safe direction with margins far above
// the few roundings of this arithmetic itself.
struct Bounds {
  double lo;
  double hi;
};
Bounds SquaredDeviationBounds(double n, double sum, double sum_sq,
                              double mean) {
  if (!std::isfinite(sum_sq)) return {0, HUGE_VAL};
  const double g = Gamma(n + 68);
  const double underflow = n * 0x1p-1070;
  const double sq_low = sum_sq * (1 - g) - underflow;  // <= sum x^2
  const double sq_high =
      sum_sq * (1 + 2 * g) * (1 + 16 * kEpsilon) + underflow;  // >= sum x^2
  // >= |s - sum x|, the 2 covering the roundings of this expression.
  const double sum_error = 2 * g * std::sqrt(n * sq_high);
  const double sum_high = std::fabs(sum) + sum_error;  // >= |sum x|
  const double centered_low = sq_low * (1 - 16 * kEpsilon) -
                              (sum_high * sum_high / n) * (1 + 16 * kEpsilon);
  const double lo = centered_low * (1 - g) * (1 - 1e-7) - underflow;
  const double centered_high =
      sq_high - (sum * sum / n) * (1 - 16 * kEpsilon) +
      2 * std::fabs(mean) * sum_error * (1 + 16 * kEpsilon);
  const double hi = centered_high * (1 + g) * (1 + 1e-7) + underflow;
  return {std::isfinite(lo) && lo > 0 ? lo : 0,
          std::isfinite(hi) ? hi : HUGE_VAL};
}

// From this many values on, pass 1 reads memory as one stream (see
// kInterleave): 8-byte values beyond the L2 cache size, which is where the
// crossover lies (BENCHMARKS.md, "Outliers kernel dispatch": AVX3 on a Xeon
// with 2 MiB of L2 per core, 1.14x faster in two streams at 100,000 values,
// 1.1x slower at 10^6 and 10^7). 0 from the override below means "default".
size_t one_stream_override = 0;

size_t OneStreamThreshold() {
  if (one_stream_override != 0) return one_stream_override;
  static const size_t kThreshold = [] {
    const long l2 = sysconf(_SC_LEVEL2_CACHE_SIZE);  // 0 or -1 if unknown
    return static_cast<size_t>(l2 > 0 ? l2 : 1 << 20) / sizeof(double);
  }();
  return kThreshold;
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
  absl::InlinedVector<double, 64> chunk_sums(
      (n + internal::kNumpyChunk - 1) / internal::kNumpyChunk);
  // Uninitialised: pass 1 writes every leaf of the full chunks.
  const size_t full_leaves =
      n / internal::kNumpyChunk * (internal::kNumpyChunk / internal::kNumpyBlock);
  std::unique_ptr<internal::LeafRange[]> ranges(
      full_leaves > 0 ? new internal::LeafRange[full_leaves] : nullptr);
  const double sum = HWY_DYNAMIC_DISPATCH(SumAndSquaresImpl)(
      values.data(), n, n >= OneStreamThreshold(), &sum_sq, chunk_sums.data(), ranges.get());
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

  // Usually one pass over memory: pass 1's statistics bound numpy's sum of
  // squared deviations S from both sides, hence 2 * std = 2 sqrt(S / n)
  // (monotone rounding of / and sqrt keeps the order), and every value far
  // enough from both bounds is decided without S. Otherwise a second pass
  // computes S, and the same decision runs with the exact threshold.
  const Bounds bounds = SquaredDeviationBounds(count, sum, sum_sq, mean);
  if (bounds.lo > 0) {
    bool undecided;
    const size_t outliers = HWY_DYNAMIC_DISPATCH(DecideImpl)(
        values.data(), n, mean, 2 * std::sqrt(bounds.lo / count),
        2 * std::sqrt(bounds.hi / count), ranges.get(), out, &undecided);
    if (!undecided) {
      indices->set_size(outliers);
      return absl::OkStatus();
    }
  }
  const double threshold =
      2 * std::sqrt(HWY_DYNAMIC_DISPATCH(SquaredDeviationSumImpl)(
                        values.data(), n, mean) /
                    count);
  bool undecided;  // never, with lo == hi
  indices->set_size(HWY_DYNAMIC_DISPATCH(DecideImpl)(
      values.data(), n, mean, threshold, threshold, ranges.get(), out,
      &undecided));
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

ScopedOneStreamThreshold::ScopedOneStreamThreshold(size_t values) {
  one_stream_override = values;
}

ScopedOneStreamThreshold::~ScopedOneStreamThreshold() {
  one_stream_override = 0;
}

}  // namespace cqmux::outliers
#endif  // HWY_ONCE
