// The Detect handler on serialized bytes, as the raw-registered method sees
// them (the end-to-end gRPC test lives with the server's tests).
#include "server/services/outliers/outliers_service.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>
#include <gtest/gtest.h>

#include "outliers.pb.h"
#include "tests/server/outliers/test_data.h"

namespace cqmux {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

grpc::ByteBuffer ToBuffer(const std::string& bytes, size_t pieces = 1) {
  std::vector<grpc::Slice> slices;
  const size_t step = bytes.size() / pieces + 1;
  for (size_t pos = 0; pos < bytes.size(); pos += step) {
    slices.emplace_back(bytes.data() + pos, std::min(step, bytes.size() - pos));
  }
  return grpc::ByteBuffer(slices.data(), slices.size());
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  EXPECT_TRUE(buffer.Dump(&slices).ok());
  std::string out;
  for (const auto& s : slices) out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

pb::OutliersRequest TutorialStyleRequest(const std::vector<double>& values) {
  pb::OutliersRequest req;
  for (double v : values) {
    pb::Metric* m = req.add_metrics();
    m->mutable_time()->set_seconds(1590156791);  // 2020-05-22 14:13:11 UTC
    m->set_name("CPU");
    m->set_value(v);
  }
  return req;
}

struct Result {
  grpc::Status status;
  std::string bytes;
  std::vector<int> indices;
};

Result Detect(const std::string& request_bytes, size_t pieces = 1) {
  OutliersService service;
  grpc::ByteBuffer response;
  Result r;
  r.status = service.Detect(ToBuffer(request_bytes, pieces), &response);
  if (r.status.ok()) {
    r.bytes = FromBuffer(response);
    pb::OutliersResponse parsed;
    EXPECT_TRUE(parsed.ParseFromString(r.bytes));
    r.indices.assign(parsed.indices().begin(), parsed.indices().end());
  }
  return r;
}

TEST(OutliersServiceTest, TutorialThousandMetricRequest) {
  const auto values = outliers::testing::LoadTutorialValues(
      CQMUX_TUTORIAL_VALUES);
  const std::string bytes = TutorialStyleRequest(values).SerializeAsString();
  for (size_t pieces : {1, 3, 17}) {
    const Result r = Detect(bytes, pieces);
    ASSERT_TRUE(r.status.ok()) << r.status.error_message();
    EXPECT_THAT(r.indices, ElementsAre(7, 113, 835)) << pieces << " slices";
  }
}

TEST(OutliersServiceTest, TutorialExample) {
  const Result r =
      Detect(TutorialStyleRequest({1, 2, 100, 1, 3, 200, 1}).SerializeAsString());
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(r.indices, ElementsAre(5));
}

TEST(OutliersServiceTest, ResponseBytesEqualProtobufSerialization) {
  // Indices past 127 and 16383 need multi-byte varints.
  std::vector<double> values(20000, 1.0);
  for (size_t i = 0; i < values.size(); i += 2) values[i] = 1.5;
  const std::vector<int> planted = {0, 5, 127, 128, 300, 16383, 16384, 19999};
  for (int i : planted) values[i] = 1e6;
  const Result r = Detect(TutorialStyleRequest(values).SerializeAsString());
  ASSERT_TRUE(r.status.ok());
  EXPECT_THAT(r.indices, ElementsAreArray(planted));
  pb::OutliersResponse want;
  for (int i : planted) want.add_indices(i);
  EXPECT_EQ(r.bytes, want.SerializeAsString());
}

TEST(OutliersServiceTest, EmptyRequestGivesEmptyResponse) {
  const Result r = Detect("");
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.bytes.empty());

  OutliersService service;
  grpc::ByteBuffer response;
  ASSERT_TRUE(service.Detect(grpc::ByteBuffer(), &response).ok());
  EXPECT_EQ(response.Length(), 0u);
}

TEST(OutliersServiceTest, NoOutliersGivesEmptyResponse) {
  const Result r = Detect(TutorialStyleRequest({4, 4, 4, 4}).SerializeAsString());
  ASSERT_TRUE(r.status.ok());
  EXPECT_TRUE(r.bytes.empty());
}

TEST(OutliersServiceTest, NonFiniteValueIsInvalidArgumentNamingIt) {
  std::vector<double> values(50, 2.0);
  values[31] = std::numeric_limits<double>::quiet_NaN();
  values[40] = std::numeric_limits<double>::infinity();
  const Result r = Detect(TutorialStyleRequest(values).SerializeAsString());
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("index 31 is NaN"));
}

TEST(OutliersServiceTest, MalformedRequestIsInvalidArgument) {
  std::string bytes = TutorialStyleRequest({1, 2, 3}).SerializeAsString();
  bytes.resize(bytes.size() - 3);
  const Result r = Detect(bytes);
  EXPECT_EQ(r.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(r.status.error_message(), HasSubstr("malformed OutliersRequest"));
}

TEST(OutliersServiceTest, ReportsTheSimdTarget) {
  EXPECT_FALSE(OutliersService::SimdTarget().empty());
}

}  // namespace
}  // namespace cqmux
