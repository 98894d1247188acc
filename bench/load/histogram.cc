// Log-linear histogram: bucket layout and percentile walk.
#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <limits>

#include <stdexcept>

namespace cqmux::load {

// Layout: buckets [0, 2^P) hold the values 0 .. 2^P - 1 exactly. A value v >=
// 2^P with highest set bit m is shifted right by s = m - P, leaving a mantissa
// in [2^P, 2^(P+1)); its bucket is s * 2^P + mantissa, which is 2^s wide and
// starts at >= 2^m, hence the relative width 2^s / 2^m = 2^-P.
Histogram::Histogram(int precision_bits) : precision_bits_(precision_bits) {
  if (precision_bits < 1 || precision_bits > 16) {
    throw std::invalid_argument("Histogram: precision_bits must be in [1, 16]");
  }
  const int shifts = 63 - precision_bits_;  // s ranges over 0 .. 62 - P
  counts_.assign(static_cast<size_t>(shifts + 1) << precision_bits_, 0);
}

int Histogram::BucketOf(int64_t value) const {
  const uint64_t v = static_cast<uint64_t>(std::max<int64_t>(value, 0));
  if (v < (uint64_t{1} << precision_bits_)) return static_cast<int>(v);
  const int m = 63 - std::countl_zero(v);
  const int s = m - precision_bits_;
  return (s << precision_bits_) + static_cast<int>(v >> s);
}

int64_t Histogram::UpperOf(int bucket) const {
  const int unit = 1 << precision_bits_;
  if (bucket < unit) return bucket;
  // Buckets s*2^P + [2^P, 2^(P+1)) for shift s.
  const int s = bucket / unit - 1;
  const uint64_t mantissa = static_cast<uint64_t>(bucket - s * unit);
  const uint64_t upper = ((mantissa + 1) << s) - 1;
  return upper > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())
             ? std::numeric_limits<int64_t>::max()
             : static_cast<int64_t>(upper);
}

void Histogram::RecordN(int64_t value, int64_t count) {
  if (count <= 0) return;
  value = std::max<int64_t>(value, 0);
  counts_[BucketOf(value)] += count;
  if (count_ == 0 || value < min_) min_ = value;
  if (value > max_) max_ = value;
  count_ += count;
  sum_ += static_cast<long double>(value) * count;
}

void Histogram::Merge(const Histogram& other) {
  if (precision_bits_ != other.precision_bits_) {
    throw std::invalid_argument("Histogram::Merge: different precisions");
  }
  if (other.count_ == 0) return;
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (count_ == 0 || other.min_ < min_) min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
}

void Histogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = 0;
  max_ = 0;
  sum_ = 0;
}

double Histogram::mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / count_);
}

double Histogram::relative_error() const {
  return std::ldexp(1.0, -precision_bits_);
}

int64_t Histogram::ValueAtPercentile(double p) const {
  if (count_ == 0) return 0;
  p = std::clamp(p, 0.0, 100.0);
  // The rank of the sample at percentile p, 1-based, at least 1.
  int64_t rank = static_cast<int64_t>(std::ceil(p / 100.0 * count_));
  rank = std::clamp<int64_t>(rank, 1, count_);
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperOf(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace cqmux::load
