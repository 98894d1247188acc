// A log-linear latency histogram in the spirit of HdrHistogram: values below
// 2^P are counted exactly, larger ones in buckets 2^-P of their magnitude wide,
// so every reported percentile is within a relative error of 2^-P (P =
// precision_bits) of the true sample, with constant-time recording and no
// allocation after construction.
#ifndef CQMUX_BENCH_LOAD_HISTOGRAM_H_
#define CQMUX_BENCH_LOAD_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace cqmux::load {

class Histogram {
 public:
  // Values up to 2^63 - 1 are accepted; precision_bits in [1, 16].
  Histogram() : Histogram(10) {}
  explicit Histogram(int precision_bits);

  void Record(int64_t value) { RecordN(value, 1); }
  void RecordN(int64_t value, int64_t count);
  // Adds other's samples; both must have the same precision.
  void Merge(const Histogram& other);
  void Reset();

  int64_t count() const { return count_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const;
  // The largest relative error of ValueAtPercentile against the true sample.
  double relative_error() const;

  // The value at percentile p in [0, 100]: the smallest recorded value v such
  // that at least p% of the samples are <= v, reported as the upper end of v's
  // bucket (so never below the true sample) and clamped to max(). 0 if empty.
  int64_t ValueAtPercentile(double p) const;

 private:
  int BucketOf(int64_t value) const;
  int64_t UpperOf(int bucket) const;

  int precision_bits_;
  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
  // long double keeps the mean exact enough for hours of nanosecond samples.
  long double sum_ = 0;
};

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_HISTOGRAM_H_
