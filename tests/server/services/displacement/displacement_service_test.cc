// Unit tests of the displacement and request-streaming handlers.
#include "server/services/displacement/displacement_service.h"

#include <cstdint>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace cqmux {
namespace {

float Distance(int32_t x1, int32_t y1, int32_t x2, int32_t y2) {
  DisplacementService service;
  my_package::Displacement in;
  in.mutable_start()->set_x(x1);
  in.mutable_start()->set_y(y1);
  in.mutable_end()->set_x(x2);
  in.mutable_end()->set_y(y2);
  my_package::DisplacementResponse out;
  EXPECT_TRUE(service.ComputeDisplacement(in, &out, CallContext()).ok());
  return out.distance();
}

TEST(DisplacementServiceTest, EuclideanDistance) {
  EXPECT_FLOAT_EQ(Distance(0, 0, 3, 4), 5.0f);
  EXPECT_FLOAT_EQ(Distance(1, 1, 1, 1), 0.0f);
  EXPECT_FLOAT_EQ(Distance(-3, -4, 0, 0), 5.0f);
}

TEST(DisplacementServiceTest, ExtremeCoordinatesDoNotOverflow) {
  constexpr int32_t lo = std::numeric_limits<int32_t>::min();
  constexpr int32_t hi = std::numeric_limits<int32_t>::max();
  // dx = dy = 2^32 - 1, so the distance is (2^32 - 1) * sqrt(2) ~ 6.07400100e9.
  EXPECT_FLOAT_EQ(Distance(lo, lo, hi, hi), 6.0740010e9f);
  EXPECT_FLOAT_EQ(Distance(hi, 0, lo, 0), 4294967295.0f);
}

TEST(StateStreamServiceTest, CountsPerStatusIncludingUnknownValues) {
  StateStreamService service;
  auto sink = service.OpenStateStream(CallContext());
  my_package::Data data;
  for (int status : {1, 1, 2, 3, 4, 0, 4, 4, 99}) {
    data.set_status(static_cast<my_package::Status>(status));
    ASSERT_TRUE(sink->OnMessage(data).ok());
  }
  my_package::Empty empty;
  ASSERT_TRUE(sink->OnHalfClose(&empty).ok());
  EXPECT_EQ(service.totals().total(), 0u);  // counted once the call completed
  sink->OnFinished(/*completed=*/true);
  StateCounts totals = service.totals();
  EXPECT_EQ(totals.by_status[0], 1u);
  EXPECT_EQ(totals.by_status[1], 2u);
  EXPECT_EQ(totals.by_status[2], 1u);
  EXPECT_EQ(totals.by_status[3], 1u);
  EXPECT_EQ(totals.by_status[4], 3u);
  EXPECT_EQ(totals.unrecognized, 1u);
  EXPECT_EQ(totals.total(), 9u);
}

TEST(StateStreamServiceTest, ACancelledStreamIsNotCounted) {
  StateStreamService service;
  auto sink = service.OpenStateStream(CallContext());
  my_package::Data data;
  data.set_status(my_package::OK);
  ASSERT_TRUE(sink->OnMessage(data).ok());
  my_package::Empty empty;
  ASSERT_TRUE(sink->OnHalfClose(&empty).ok());  // a broken stream looks like this
  sink->OnFinished(/*completed=*/false);
  EXPECT_EQ(service.totals().total(), 0u);
}

TEST(StateStreamServiceTest, InfoIsBounded) {
  StateStreamService service;
  auto sink = service.OpenStateStream(CallContext());
  my_package::Data data;
  data.set_info(std::string(kMaxStateInfoBytes, 'i'));
  ASSERT_TRUE(sink->OnMessage(data).ok());
  data.set_info(std::string(kMaxStateInfoBytes + 1, 'i'));
  grpc::Status status = sink->OnMessage(data);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "info of message #2 is longer than 1024 bytes: \"" +
                std::string(32, 'i') + "\"... (1025 bytes)");
  EXPECT_EQ(service.totals().total(), 0u) << "a failed stream adds nothing";
}

}  // namespace
}  // namespace cqmux
