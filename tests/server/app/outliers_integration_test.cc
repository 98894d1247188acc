// pb.Outliers/Detect end to end through the generated C++ stub (the client
// side uses protobuf's own serializer; the server decodes the raw bytes).
#include <cmath>
#include <limits>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <grpcpp/generic/generic_stub.h>

#include "absl/synchronization/notification.h"
#include "outliers.grpc.pb.h"
#include "tests/server/app/test_server.h"
#include "tests/server/outliers/test_data.h"

namespace cqmux {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

grpc::Status Detect(TestServer& server, const std::vector<double>& values,
                    std::vector<int>* indices) {
  auto stub = pb::Outliers::NewStub(server.Channel());
  pb::OutliersRequest request;
  int64_t second = 1600000000;
  for (double v : values) {
    pb::Metric* m = request.add_metrics();
    m->set_name("CPU");
    m->mutable_time()->set_seconds(second++);
    m->set_value(v);
  }
  pb::OutliersResponse response;
  auto context = Deadline();
  grpc::Status status = stub->Detect(context.get(), request, &response);
  indices->assign(response.indices().begin(), response.indices().end());
  return status;
}

TEST(OutliersIntegrationTest, TutorialExample) {
  TestServer server;
  std::vector<int> indices;
  ASSERT_TRUE(Detect(server, {1, 2, 100, 1, 3, 200, 1}, &indices).ok());
  EXPECT_THAT(indices, ElementsAre(5));
}

TEST(OutliersIntegrationTest, TutorialThousandMetrics) {
  TestServer server;
  const std::vector<double> values = outliers::testing::LoadTutorialValues(
      CQMUX_TUTORIAL_VALUES);
  std::vector<int> indices;
  ASSERT_TRUE(Detect(server, values, &indices).ok());
  EXPECT_THAT(indices, ElementsAre(7, 113, 835));
}

TEST(OutliersIntegrationTest, EmptyAndConstant) {
  TestServer server;
  std::vector<int> indices = {99};
  ASSERT_TRUE(Detect(server, {}, &indices).ok());
  EXPECT_TRUE(indices.empty());
  ASSERT_TRUE(Detect(server, std::vector<double>(1000, 4.25), &indices).ok());
  EXPECT_TRUE(indices.empty());
}

TEST(OutliersIntegrationTest, NonFiniteValueNamesItsIndex) {
  TestServer server;
  std::vector<int> indices;
  for (double bad : {std::nan(""), std::numeric_limits<double>::infinity(),
                     -std::numeric_limits<double>::infinity()}) {
    grpc::Status status = Detect(server, {1, 2, 3, bad, 5, bad}, &indices);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(status.error_message(), HasSubstr("3"));
  }
}

TEST(OutliersIntegrationTest, LargeRequestMatchesScalarExpectation) {
  TestServer server;
  std::vector<double> values(300000);
  std::vector<int> expected;
  for (size_t i = 0; i < values.size(); ++i) {
    values[i] = static_cast<double>(i % 1000) * 0.001;
    if (i % 50000 == 7) values[i] = 1000.0;  // 2*std is ~9: clear cut
  }
  for (size_t i = 0; i < values.size(); ++i) {
    if (values[i] > 10) expected.push_back(static_cast<int>(i));
  }
  std::vector<int> indices;
  ASSERT_TRUE(Detect(server, values, &indices).ok());
  EXPECT_THAT(indices, ElementsAreArray(expected));
}

TEST(OutliersIntegrationTest, MalformedBytesAreInvalidArgument) {
  TestServer server;
  grpc::GenericStub stub(server.Channel());
  // Field 1 (metrics), length-delimited, claiming 100 bytes that are absent.
  const char bad[] = {0x0a, 0x64, 0x19};
  grpc::Slice slice(bad, sizeof(bad));
  grpc::ByteBuffer request(&slice, 1), response;
  auto context = Deadline();
  grpc::Status result;
  absl::Notification done;
  stub.UnaryCall(context.get(), "/pb.Outliers/Detect", grpc::StubOptions(),
                 &request, &response, [&](grpc::Status s) {
                   result = s;
                   done.Notify();
                 });
  done.WaitForNotification();
  EXPECT_EQ(result.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace cqmux
