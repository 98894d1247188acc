// The open-loop arrival schedule: call k of a stream is due at start + k / rate,
// whether or not earlier calls have finished. Latency is measured from that
// intended start, so a stalled server is charged for every call it delayed
// (no coordinated omission), and calls that could not start on time because
// every slot was busy are counted as late.
#ifndef CQMUX_BENCH_LOAD_OPEN_LOOP_H_
#define CQMUX_BENCH_LOAD_OPEN_LOOP_H_

#include <cstdint>

#include "absl/time/time.h"

namespace cqmux::load {

class OpenLoopSchedule {
 public:
  // Arrivals at `rate` per second starting at `start`; the first is offset by
  // `phase` in [0, 1) of an interval, so that several threads sharing a total
  // rate interleave instead of firing together.
  OpenLoopSchedule(double rate, absl::Time start, double phase = 0.0);

  // When call k (0-based) is due.
  absl::Time IntendedStart(int64_t k) const;
  // How many calls are due at `now`: the number of k with IntendedStart(k) <= now.
  int64_t DueBy(absl::Time now) const;

  // Bookkeeping for the caller: how many calls have been started so far.
  int64_t started() const { return started_; }
  // Takes the next due call (k = started()) if it is due at `now`; returns its
  // intended start through `intended`.
  bool TakeDue(absl::Time now, absl::Time* intended);
  // Calls due at `now` that have not been started: the backlog.
  int64_t Backlog(absl::Time now) const;
  absl::Time NextIntendedStart() const { return IntendedStart(started_); }

 private:
  double interval_ns_;
  double phase_;
  absl::Time start_;
  int64_t started_ = 0;
};

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_OPEN_LOOP_H_
