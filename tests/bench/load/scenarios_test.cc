// Scenario checks without a server: the reference answers the engine compares with.
#include "scenarios.h"

#include <gtest/gtest.h>

#include "defs.pb.h"
#include "tutorial_metrics.h"

namespace cqmux::load {
namespace {

TEST(ScenariosTest, CapitalizedTouchesOnlyAsciiLowercase) {
  EXPECT_EQ(Capitalized("hello, World! az{`"), "HELLO, WORLD! AZ{`");
  // Latin-1 letters, 0xff and NUL stay as they are.
  EXPECT_EQ(Capitalized(std::string("\xe9\xdf\xff\x00q", 5)), std::string("\xe9\xdf\xff\x00Q", 5));
}

TEST(ScenariosTest, ReferenceOutliersFollowsNumpy) {
  // The tutorial's example: numpy gives [5] (its prose says [2, 5]).
  EXPECT_EQ(*ReferenceOutliers({1, 2, 100, 1, 3, 200, 1}), (std::vector<int32_t>{5}));
  EXPECT_TRUE(ReferenceOutliers({})->empty());
  EXPECT_TRUE(ReferenceOutliers({4, 4, 4})->empty());
}

TEST(ScenariosTest, TutorialRequestIsTheTutorialsOwn) {
  const pb::OutliersRequest request = DetectRequest(kTutorialMetricCount);
  ASSERT_EQ(request.metrics_size(), 1000);
  std::vector<double> values;
  for (const pb::Metric& m : request.metrics()) {
    EXPECT_EQ(m.name(), "CPU");
    EXPECT_EQ(m.time().seconds(), 1590156791);
    values.push_back(m.value());
  }
  EXPECT_EQ(values[7], 97.3);
  EXPECT_EQ(values[113], 92.1);
  EXPECT_EQ(values[835], 93.2);
  // Go's math/rand with its default seed 1: the first value of the tutorial's client.
  EXPECT_EQ(values[0], 0x1.82fb8aa527f0fp+04);
  EXPECT_EQ(*ReferenceOutliers(values), (std::vector<int32_t>{7, 113, 835}));
}

TEST(ScenariosTest, OtherDetectSizesHaveTheirSpikes) {
  const pb::OutliersRequest request = DetectRequest(10000);
  std::vector<double> values;
  for (const pb::Metric& m : request.metrics()) values.push_back(m.value());
  EXPECT_EQ(*ReferenceOutliers(values), (std::vector<int32_t>{70, 1130, 8350}));
}

TEST(ScenariosTest, DistanceWithoutOverflow) {
  const float far = ExpectedDistance(INT32_MIN, INT32_MIN, INT32_MAX, INT32_MAX);
  EXPECT_NEAR(far, 6.0737e9, 1e6);
  EXPECT_EQ(ExpectedDistance(0, 0, 3, 4), 5.0f);
  EXPECT_TRUE(DistanceMatches(5.0f, 5.0f));
  EXPECT_TRUE(DistanceMatches(std::nextafter(far, 0.0f), far));
  EXPECT_FALSE(DistanceMatches(5.001f, 5.0f));
  EXPECT_FALSE(DistanceMatches(-far, far));
}

TEST(ScenariosTest, FramedRequestIsAGrpcMessage) {
  auto framed = FramedRequest(Kind::kCapitalize, 100, 0);
  ASSERT_TRUE(framed.ok());
  EXPECT_EQ(framed->second, "/rpc.Fetch/Capitalize");
  const std::string& body = framed->first;
  ASSERT_GT(body.size(), 5u);
  EXPECT_EQ(body[0], '\0');  // not compressed
  const uint32_t n = (uint8_t(body[1]) << 24) | (uint8_t(body[2]) << 16) | (uint8_t(body[3]) << 8) |
                     uint8_t(body[4]);
  ASSERT_EQ(n, body.size() - 5);
  rpc::Payload p;
  ASSERT_TRUE(p.ParseFromString(body.substr(5)));
  EXPECT_EQ(p.data().size(), 100u);

  framed = FramedRequest(Kind::kDetect, 0, 1000);
  ASSERT_TRUE(framed.ok());
  EXPECT_EQ(framed->second, "/pb.Outliers/Detect");
  pb::OutliersRequest r;
  ASSERT_TRUE(r.ParseFromString(framed->first.substr(5)));
  EXPECT_EQ(r.metrics_size(), 1000);
  EXPECT_FALSE(FramedRequest(Kind::kBooksGet, 0, 0).ok());
}

}  // namespace
}  // namespace cqmux::load
