// OpenLoopSchedule: arrivals at fixed times regardless of completions, and the
// backlog that coordinated-omission-safe latency is charged for.
#include "open_loop.h"

#include <gtest/gtest.h>

namespace cqmux::load {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

TEST(OpenLoopScheduleTest, IntendedStartsAreEvenlySpaced) {
  OpenLoopSchedule s(1000, kStart);
  EXPECT_EQ(s.IntendedStart(0), kStart);
  EXPECT_EQ(s.IntendedStart(1), kStart + absl::Milliseconds(1));
  // Computed, not accumulated: no drift after a million arrivals.
  EXPECT_EQ(s.IntendedStart(1'000'000), kStart + absl::Seconds(1000));
  OpenLoopSchedule third(3, kStart);
  EXPECT_EQ(third.IntendedStart(3), kStart + absl::Seconds(1));
}

TEST(OpenLoopScheduleTest, DueByCountsArrivalsUpToNow) {
  OpenLoopSchedule s(1000, kStart);
  EXPECT_EQ(s.DueBy(kStart - absl::Nanoseconds(1)), 0);
  EXPECT_EQ(s.DueBy(kStart), 1);
  EXPECT_EQ(s.DueBy(kStart + absl::Microseconds(999)), 1);
  EXPECT_EQ(s.DueBy(kStart + absl::Milliseconds(1)), 2);
  EXPECT_EQ(s.DueBy(kStart + absl::Seconds(1) - absl::Nanoseconds(1)), 1000);
  EXPECT_EQ(s.DueBy(kStart + absl::Seconds(1)), 1001);
}

TEST(OpenLoopScheduleTest, PhaseInterleavesThreads) {
  // Two threads sharing 2000/s: each 1000/s, the second half an interval later.
  OpenLoopSchedule a(1000, kStart, 0.0), b(1000, kStart, 0.5);
  EXPECT_EQ(a.IntendedStart(0), kStart);
  EXPECT_EQ(b.IntendedStart(0), kStart + absl::Microseconds(500));
  EXPECT_EQ(b.IntendedStart(2), kStart + absl::Microseconds(2500));
  EXPECT_EQ(b.DueBy(kStart + absl::Microseconds(499)), 0);
  EXPECT_EQ(b.DueBy(kStart + absl::Microseconds(500)), 1);
}

TEST(OpenLoopScheduleTest, TakeDueHandsOutEachArrivalOnceInOrder) {
  OpenLoopSchedule s(100, kStart);  // every 10 ms
  absl::Time intended;
  EXPECT_FALSE(s.TakeDue(kStart - absl::Milliseconds(1), &intended));
  ASSERT_TRUE(s.TakeDue(kStart, &intended));
  EXPECT_EQ(intended, kStart);
  EXPECT_FALSE(s.TakeDue(kStart + absl::Milliseconds(9), &intended));
  EXPECT_EQ(s.NextIntendedStart(), kStart + absl::Milliseconds(10));
  EXPECT_EQ(s.started(), 1);
}

TEST(OpenLoopScheduleTest, StalledCallerBuildsBacklogAndKeepsIntendedTimes) {
  OpenLoopSchedule s(100, kStart);
  // Nothing could start for 55 ms (all slots busy): six arrivals are due.
  const absl::Time late = kStart + absl::Milliseconds(55);
  EXPECT_EQ(s.Backlog(late), 6);
  // When slots free up, the late calls keep their original intended starts,
  // so their latency includes the 55 ms stall instead of hiding it.
  for (int k = 0; k < 6; ++k) {
    absl::Time intended;
    ASSERT_TRUE(s.TakeDue(late, &intended));
    EXPECT_EQ(intended, kStart + absl::Milliseconds(10 * k));
  }
  EXPECT_EQ(s.Backlog(late), 0);
  absl::Time intended;
  EXPECT_FALSE(s.TakeDue(late, &intended));
}

TEST(OpenLoopScheduleTest, RejectsBadArguments) {
  EXPECT_THROW(OpenLoopSchedule(0, kStart), std::invalid_argument);
  EXPECT_THROW(OpenLoopSchedule(10, kStart, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace cqmux::load
