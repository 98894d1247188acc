// Open-loop arrival schedule arithmetic.
#include "open_loop.h"

#include <algorithm>
#include <cmath>

#include <stdexcept>

namespace cqmux::load {

OpenLoopSchedule::OpenLoopSchedule(double rate, absl::Time start, double phase)
    : interval_ns_(1e9 / rate), phase_(phase), start_(start) {
  if (!(rate > 0)) throw std::invalid_argument("OpenLoopSchedule: rate must be > 0");
  if (!(phase >= 0 && phase < 1)) throw std::invalid_argument("OpenLoopSchedule: phase must be in [0, 1)");
}

absl::Time OpenLoopSchedule::IntendedStart(int64_t k) const {
  // Computed from k rather than accumulated, so rounding never drifts.
  return start_ + absl::Nanoseconds(static_cast<int64_t>(
                      std::llround((static_cast<double>(k) + phase_) * interval_ns_)));
}

int64_t OpenLoopSchedule::DueBy(absl::Time now) const {
  if (now < start_) return 0;
  const double elapsed_ns = absl::ToDoubleNanoseconds(now - start_);
  int64_t k = static_cast<int64_t>(std::floor(elapsed_ns / interval_ns_ - phase_)) + 1;
  k = std::max<int64_t>(k, 0);
  // Settle rounding at the boundary against IntendedStart itself.
  while (k > 0 && IntendedStart(k - 1) > now) --k;
  while (IntendedStart(k) <= now) ++k;
  return k;
}

bool OpenLoopSchedule::TakeDue(absl::Time now, absl::Time* intended) {
  const absl::Time next = IntendedStart(started_);
  if (next > now) return false;
  *intended = next;
  ++started_;
  return true;
}

int64_t OpenLoopSchedule::Backlog(absl::Time now) const {
  return std::max<int64_t>(DueBy(now) - started_, 0);
}

}  // namespace cqmux::load
