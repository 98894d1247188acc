// The memory-read bound the outlier kernel is measured against: a plain
// streaming sum (any association order) at the best SIMD target.
#ifndef CQMUX_BENCH_OUTLIERS_READ_BOUND_H_
#define CQMUX_BENCH_OUTLIERS_READ_BOUND_H_

#include <cstddef>

namespace cqmux::bench {

double StreamingSum(const double* values, size_t n);

}  // namespace cqmux::bench

#endif  // CQMUX_BENCH_OUTLIERS_READ_BOUND_H_
