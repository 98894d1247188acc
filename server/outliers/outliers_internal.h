// Pieces shared by the scalar and the SIMD outlier kernels.
#ifndef CQMUX_SERVER_OUTLIERS_OUTLIERS_INTERNAL_H_
#define CQMUX_SERVER_OUTLIERS_OUTLIERS_INTERNAL_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/types/span.h"

namespace cqmux::outliers::internal {

// numpy's reduction loop hands the pairwise sum at most this many elements at
// a time (the nditer buffer size) and adds the partial sums left to right.
inline constexpr size_t kNumpyChunk = 8192;
// numpy's pairwise leaf size (PW_BLOCKSIZE).
inline constexpr size_t kNumpyBlock = 128;

// The smallest and largest value of one numpy leaf (kNumpyBlock values).
struct LeafRange {
  double min;
  double max;
};

// OK if every value is finite, else INVALID_ARGUMENT naming the first NaN or
// infinite value. Only called once a sum came out non-finite, so it is off the
// fast path.
absl::Status CheckFinite(absl::Span<const double> values);

}  // namespace cqmux::outliers::internal

#endif  // CQMUX_SERVER_OUTLIERS_OUTLIERS_INTERNAL_H_
