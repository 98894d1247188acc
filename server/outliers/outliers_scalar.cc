// The scalar reference: numpy 1.24's float64 arithmetic written out literally
// (numpy/core/src/umath/loops_utils.h.src pairwise_sum and _methods._var).
#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "server/outliers/outliers.h"
#include "server/outliers/outliers_internal.h"

namespace cqmux::outliers {
namespace internal {

absl::Status CheckFinite(absl::Span<const double> values) {
  for (size_t i = 0; i < values.size(); ++i) {
    const double v = values[i];
    if (!std::isfinite(v)) {
      return absl::InvalidArgumentError(
          absl::StrCat("value at index ", i, " is ",
                       std::isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf"),
                       ": every value must be finite"));
    }
  }
  return absl::OkStatus();
}

}  // namespace internal

namespace {

// pairwise_sum over f(a[0..n)).
template <typename F>
double PairwiseSum(const double* a, size_t n, F f) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += f(a[i]);
    return res;
  }
  if (n <= internal::kNumpyBlock) {
    double r[8];
    for (size_t j = 0; j < 8; ++j) r[j] = f(a[j]);
    size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
      for (size_t j = 0; j < 8; ++j) r[j] += f(a[i + j]);
    }
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += f(a[i]);
    return res;
  }
  size_t n2 = n / 2;
  n2 -= n2 % 8;
  return PairwiseSum(a, n2, f) + PairwiseSum(a + n2, n - n2, f);
}

// np.add.reduce: the reduction starts from the identity 0.0 and adds the
// pairwise sum of each buffer-sized chunk.
template <typename F>
double ChunkedSum(absl::Span<const double> v, F f) {
  double total = 0.;
  for (size_t start = 0; start < v.size(); start += internal::kNumpyChunk) {
    const size_t n = std::min(internal::kNumpyChunk, v.size() - start);
    total += PairwiseSum(v.data() + start, n, f);
  }
  return total;
}

struct Identity {
  double operator()(double x) const { return x; }
};

struct SquaredDeviation {
  double mean;
  double operator()(double x) const {
    const double d = x - mean;
    return d * d;
  }
};

}  // namespace

double NumpySumScalar(absl::Span<const double> values) {
  return ChunkedSum(values, Identity{});
}

Moments ComputeMomentsScalar(absl::Span<const double> values) {
  const double n = static_cast<double>(values.size());
  Moments m;
  m.mean = NumpySumScalar(values) / n;
  m.std = std::sqrt(ChunkedSum(values, SquaredDeviation{m.mean}) / n);
  return m;
}

absl::Status FindOutliersScalar(absl::Span<const double> values,
                                AlignedBuffer<int64_t>* indices) {
  indices->clear();
  if (values.empty()) return absl::OkStatus();
  const double sum = NumpySumScalar(values);
  if (!std::isfinite(sum)) {
    // A finite sum implies finite values; otherwise look for the culprit
    // (finite values may also overflow, which numpy tolerates).
    absl::Status st = internal::CheckFinite(values);
    if (!st.ok()) return st;
  }
  const double n = static_cast<double>(values.size());
  const double mean = sum / n;
  const double std = std::sqrt(ChunkedSum(values, SquaredDeviation{mean}) / n);
  const double threshold = 2 * std;
  indices->reserve(values.size() + kIndexPadding);
  for (size_t i = 0; i < values.size(); ++i) {
    if (std::fabs(values[i] - mean) > threshold) {
      indices->push_back(static_cast<int64_t>(i));
    }
  }
  return absl::OkStatus();
}

}  // namespace cqmux::outliers
