// The propagation parsers against the W3C Trace Context rules (level 1) and
// the OpenCensus binary format: every valid form, each malformed case, and
// future versions.
#include "server/observability/tracing/trace_context.h"

#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace cqmux::tracing {
namespace {

constexpr char kTrace[] = "4bf92f3577b34da6a3ce929d0e0e4736";
constexpr char kSpan[] = "00f067aa0ba902b7";

std::string Traceparent(const std::string& version, const std::string& trace,
                        const std::string& span, const std::string& flags) {
  return absl::StrCat(version, "-", trace, "-", span, "-", flags);
}

TEST(TraceparentTest, ParsesVersion00) {
  auto sampled = ParseTraceparent(Traceparent("00", kTrace, kSpan, "01"));
  ASSERT_TRUE(sampled.has_value());
  EXPECT_EQ(ToHex(sampled->trace_id), kTrace);
  EXPECT_EQ(ToHex(sampled->span_id), kSpan);
  EXPECT_TRUE(sampled->sampled);
  EXPECT_EQ(sampled->trace_state, "");

  auto unsampled = ParseTraceparent(Traceparent("00", kTrace, kSpan, "00"));
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  // Only bit 0 means sampled; other flag bits are kept out of the decision.
  auto other_bits = ParseTraceparent(Traceparent("00", kTrace, kSpan, "fe"));
  ASSERT_TRUE(other_bits.has_value());
  EXPECT_FALSE(other_bits->sampled);
  auto surrounding_blanks =
      ParseTraceparent(absl::StrCat(" ", Traceparent("00", kTrace, kSpan, "03"), "\t"));
  ASSERT_TRUE(surrounding_blanks.has_value());
  EXPECT_TRUE(surrounding_blanks->sampled);
}

TEST(TraceparentTest, RejectsEachMalformedValue) {
  const std::string valid = Traceparent("00", kTrace, kSpan, "01");
  const std::string cases[] = {
      "",
      "00",
      valid.substr(0, 54),                                   // one short
      absl::StrCat(valid, "-"),                              // version 00 is exactly 55
      absl::StrCat(valid, "0"),
      Traceparent("ff", kTrace, kSpan, "01"),                // version ff is invalid
      Traceparent("0g", kTrace, kSpan, "01"),                // not hex
      Traceparent("0A", kTrace, kSpan, "01"),                // uppercase version
      Traceparent("00", "4BF92F3577B34DA6A3CE929D0E0E4736", kSpan, "01"),  // uppercase
      Traceparent("00", kTrace, "00F067AA0BA902B7", "01"),
      Traceparent("00", kTrace, kSpan, "0A"),
      Traceparent("00", std::string(32, '0'), kSpan, "01"),  // all-zero trace id
      Traceparent("00", kTrace, std::string(16, '0'), "01"),  // all-zero parent id
      Traceparent("00", absl::StrCat(std::string(kTrace).substr(1), "x"), kSpan, "01"),
      absl::StrCat("00_", kTrace, "-", kSpan, "-01"),        // wrong separators
      absl::StrCat("00-", kTrace, "_", kSpan, "-01"),
      absl::StrCat("00-", kTrace, "-", kSpan, "_01"),
      Traceparent("00", absl::StrCat(kTrace, "0"), std::string(kSpan).substr(1), "01"),
      Traceparent("00", kTrace, kSpan, "1"),
  };
  for (const std::string& value : cases) {
    EXPECT_FALSE(ParseTraceparent(value).has_value()) << "\"" << value << "\"";
  }
}

TEST(TraceparentTest, FutureVersionsParseTheKnownFields) {
  // A higher version may append fields after a dash; its first four fields
  // are read as version 00's.
  auto longer =
      ParseTraceparent(absl::StrCat(Traceparent("cc", kTrace, kSpan, "01"), "-what-the-future-holds"));
  ASSERT_TRUE(longer.has_value());
  EXPECT_EQ(ToHex(longer->trace_id), kTrace);
  EXPECT_EQ(ToHex(longer->span_id), kSpan);
  EXPECT_TRUE(longer->sampled);
  auto same_length = ParseTraceparent(Traceparent("01", kTrace, kSpan, "00"));
  ASSERT_TRUE(same_length.has_value());
  EXPECT_FALSE(same_length->sampled);
  // ...but what follows the flags must start with a dash, ff stays invalid,
  // and a shorter value is not parsed.
  EXPECT_FALSE(ParseTraceparent(absl::StrCat(Traceparent("cc", kTrace, kSpan, "01"), "x")).has_value());
  EXPECT_FALSE(ParseTraceparent(absl::StrCat(Traceparent("ff", kTrace, kSpan, "01"), "-x")).has_value());
  EXPECT_FALSE(ParseTraceparent(Traceparent("cc", kTrace, kSpan, "1")).has_value());
  EXPECT_FALSE(
      ParseTraceparent(absl::StrCat(Traceparent("cc", kTrace, std::string(16, '0'), "01"), "-x"))
          .has_value());
}

TEST(TraceStateTest, ValidLists) {
  EXPECT_TRUE(ValidTraceState(""));
  EXPECT_TRUE(ValidTraceState("rojo=00f067aa0ba902b7"));
  EXPECT_TRUE(ValidTraceState("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(ValidTraceState(" rojo=1 ,\tcongo=2 ,, "));  // blanks, empty members
  EXPECT_TRUE(ValidTraceState("fw529a3039@dt=one two"));  // tenant@system, inner space
  EXPECT_TRUE(ValidTraceState("a_-*/9=x"));
  std::string thirty_two;
  for (int i = 0; i < 32; ++i) absl::StrAppend(&thirty_two, i ? "," : "", "k", i, "=v");
  EXPECT_TRUE(ValidTraceState(thirty_two));
}

TEST(TraceStateTest, InvalidLists) {
  const std::string cases[] = {
      "novalue",
      "=value",
      "Upper=1",              // keys are lowercase
      "1key=1",               // a simple key starts with a letter
      "key=",                 // empty value
      "key=a,b",              // "b" has no '='
      "key=a=b",              // '=' in a value
      "dup=1,dup=2",          // duplicate keys
      "tenant@=1",
      "@system=1",
      "tenant@Sys=1",
      "k=\x7f",
  };
  for (const std::string& value : cases) {
    EXPECT_FALSE(ValidTraceState(value)) << "\"" << value << "\"";
  }
  std::string thirty_three;
  for (int i = 0; i < 33; ++i) absl::StrAppend(&thirty_three, i ? "," : "", "k", i, "=v");
  EXPECT_FALSE(ValidTraceState(thirty_three));
  EXPECT_FALSE(ValidTraceState(absl::StrCat("k=", std::string(kMaxTraceStateBytes, 'x'))));
}

std::string Bin(std::initializer_list<int> bytes) {
  std::string s;
  for (int b : bytes) s.push_back(static_cast<char>(b));
  return s;
}

std::string BinContext(bool with_options, int options = 1) {
  std::string s = Bin({0, 0});
  for (int i = 0; i < 16; ++i) s.push_back(static_cast<char>(0x10 + i));
  s.push_back(1);
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>(0xa0 + i));
  if (with_options) absl::StrAppend(&s, Bin({2, options}));
  return s;
}

TEST(GrpcTraceBinTest, ParsesTheOpenCensusFormat) {
  auto parsed = ParseGrpcTraceBin(BinContext(true));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(ToHex(parsed->trace_id), "101112131415161718191a1b1c1d1e1f");
  EXPECT_EQ(ToHex(parsed->span_id), "a0a1a2a3a4a5a6a7");
  EXPECT_TRUE(parsed->sampled);
  auto unsampled = ParseGrpcTraceBin(BinContext(true, 0));
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  // No options field: not sampled (OpenCensus' default options are 0).
  auto no_options = ParseGrpcTraceBin(BinContext(false));
  ASSERT_TRUE(no_options.has_value());
  EXPECT_FALSE(no_options->sampled);
  // An unknown field id ends the parse; what was read stays.
  auto extended = ParseGrpcTraceBin(absl::StrCat(BinContext(true), Bin({7, 1, 2, 3})));
  ASSERT_TRUE(extended.has_value());
  EXPECT_TRUE(extended->sampled);
}

TEST(GrpcTraceBinTest, RejectsMalformedValues) {
  std::string version1 = BinContext(true);
  version1[0] = 1;
  std::string zero_trace =
      absl::StrCat(Bin({0, 0}), std::string(16, '\0'), Bin({1}), std::string(8, 'x'));
  std::string zero_span =
      absl::StrCat(Bin({0, 0}), std::string(16, 'x'), Bin({1}), std::string(8, '\0'));
  const std::string cases[] = {
      "",
      Bin({0}),
      version1,
      BinContext(true).substr(0, 10),                 // trace id cut short
      BinContext(false).substr(0, 20),                // span id cut short
      absl::StrCat(BinContext(false), Bin({2})),      // options cut short
      absl::StrCat(Bin({0, 0}), std::string(16, 'x')),  // no span id
      absl::StrCat(Bin({0, 1}), std::string(8, 'x')),   // no trace id
      zero_trace,
      zero_span,
  };
  for (const std::string& value : cases) {
    EXPECT_FALSE(ParseGrpcTraceBin(value).has_value()) << ToHex(
        reinterpret_cast<const uint8_t*>(value.data()), value.size());
  }
}

}  // namespace
}  // namespace cqmux::tracing
