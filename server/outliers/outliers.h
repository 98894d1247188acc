// The outlier detector: numpy's
//   np.where(np.abs(d - d.mean()) > 2 * d.std())[0]
// bit for bit (numpy 1.24's pairwise float64 summation in 8192-element chunks,
// two-pass population variance), as a scalar reference and as a Highway SIMD
// kernel with runtime dispatch. No gRPC, no protobuf.
#ifndef CQMUX_SERVER_OUTLIERS_OUTLIERS_H_
#define CQMUX_SERVER_OUTLIERS_OUTLIERS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "server/outliers/aligned_buffer.h"

namespace cqmux::outliers {

// Indices are written with whole-vector stores, so an output buffer needs this
// many elements of slack past the last possible index.
inline constexpr size_t kIndexPadding = 16;

struct Moments {
  double mean = 0;
  double std = 0;
};

// np.add.reduce(values) for a contiguous float64 array.
double NumpySum(absl::Span<const double> values);
double NumpySumScalar(absl::Span<const double> values);

// values.mean() and values.std() (ddof=0). Empty input gives NaNs as numpy.
Moments ComputeMoments(absl::Span<const double> values);
Moments ComputeMomentsScalar(absl::Span<const double> values);

// Replaces `indices` with the ascending indices i where
// |values[i] - mean| > 2 * std. Any NaN or +-Inf value gives INVALID_ARGUMENT
// naming the first bad index (and leaves `indices` empty). Empty input gives
// no indices.
absl::Status FindOutliers(absl::Span<const double> values,
                          AlignedBuffer<int64_t>* indices);
absl::Status FindOutliersScalar(absl::Span<const double> values,
                                AlignedBuffer<int64_t>* indices);

// The Highway target the dispatched functions above use on this CPU, e.g.
// "AVX2" or "AVX3".
std::string DispatchTargetName();

// Highway targets compiled into this binary and supported by this CPU
// (HWY_* bits), best first.
std::vector<int64_t> AvailableTargets();
std::string TargetName(int64_t target);

// For benchmarks and tests only (not thread-safe): makes the dispatched
// functions use `target` (one of AvailableTargets()) until the object dies.
class ScopedTarget {
 public:
  explicit ScopedTarget(int64_t target);
  ~ScopedTarget();
  ScopedTarget(const ScopedTarget&) = delete;
  ScopedTarget& operator=(const ScopedTarget&) = delete;
};

// For benchmarks and tests only (not thread-safe): FindOutliers' first pass
// reads the values as a single memory stream from `values` values on (1:
// always; SIZE_MAX: never) instead of from the L2 cache size on, until the
// object dies. Results are the same either way.
class ScopedOneStreamThreshold {
 public:
  explicit ScopedOneStreamThreshold(size_t values);
  ~ScopedOneStreamThreshold();
  ScopedOneStreamThreshold(const ScopedOneStreamThreshold&) = delete;
  ScopedOneStreamThreshold& operator=(const ScopedOneStreamThreshold&) = delete;
};

}  // namespace cqmux::outliers

#endif  // CQMUX_SERVER_OUTLIERS_OUTLIERS_H_
