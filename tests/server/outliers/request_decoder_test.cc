// The zero-copy decoder against protobuf's own parser: handcrafted wire
// edge cases plus a deterministic mutation sweep (the libFuzzer target in
// request_decoder_fuzzer.cc does the same on arbitrary bytes).
#include "server/outliers/request_decoder.h"

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "outliers.pb.h"
#include "tests/server/outliers/decoder_oracle.h"
#include "tests/server/outliers/test_data.h"

namespace cqmux::outliers {
namespace {

using testing::Bits;

std::string Varint(uint64_t v) {
  std::string s;
  while (v >= 0x80) {
    s.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
  return s;
}
std::string Tag(uint32_t field, uint32_t type) { return Varint(field << 3 | type); }
std::string Len(uint32_t field, const std::string& body) {
  return Tag(field, 2) + Varint(body.size()) + body;
}
std::string Fixed64(double v) {
  std::string s(8, '\0');
  std::memcpy(s.data(), &v, 8);
  return s;
}
std::string Value(double v) { return Tag(3, 1) + Fixed64(v); }
std::string Metric(const std::string& body) { return Len(1, body); }

// Decodes with both parsers and expects the same verdict and values.
void ExpectAgrees(const std::string& bytes, const std::string& what) {
  SCOPED_TRACE(what);
  const OracleResult want = ParseWithProtobuf(bytes);
  AlignedBuffer<double> got;
  const absl::Status st = DecodeOutliersRequest(bytes, &got);
  ASSERT_EQ(st.ok(), want.ok) << st;
  if (!st.ok()) {
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
    return;
  }
  ASSERT_EQ(got.size(), want.values.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(Bits(got[i]), Bits(want.values[i])) << "metric " << i;
  }
}

void ExpectAccepted(const std::string& bytes, const std::vector<double>& want,
                    const std::string& what) {
  ExpectAgrees(bytes, what);
  AlignedBuffer<double> got;
  ASSERT_TRUE(DecodeOutliersRequest(bytes, &got).ok()) << what;
  ASSERT_EQ(std::vector<double>(got.data(), got.data() + got.size()), want) << what;
}

void ExpectRejected(const std::string& bytes, const std::string& what) {
  ExpectAgrees(bytes, what);
  AlignedBuffer<double> got;
  EXPECT_FALSE(DecodeOutliersRequest(bytes, &got).ok()) << what;
}

std::string TutorialMetric(double v) {
  return Metric(Len(1, Tag(1, 0) + Varint(1590156791)) + Len(2, "CPU") + Value(v));
}

TEST(RequestDecoderTest, AcceptsWhatProtobufAccepts) {
  ExpectAccepted("", {}, "empty request");
  ExpectAccepted(TutorialMetric(1.5) + TutorialMetric(-2), {1.5, -2},
                 "tutorial layout");
  ExpectAccepted(Metric(""), {0}, "missing value is 0");
  ExpectAccepted(Metric(Value(4) + Len(2, "x") + Len(1, "")), {4},
                 "value first");
  ExpectAccepted(Metric(Value(1) + Value(2) + Value(3)), {3},
                 "last value wins");
  ExpectAccepted(Metric(Value(1)) + Metric(Value(2)), {1, 2},
                 "each occurrence of field 1 is a new metric");
  ExpectAccepted(Metric(Value(-0.0)), {-0.0}, "negative zero kept");
  ExpectAccepted(Metric(Tag(3, 0) + Varint(5)), {0},
                 "value with wrong wire type is an unknown field");
  ExpectAccepted(Metric(Value(1) + Tag(3, 5) + "abcd"), {1},
                 "fixed32 value is unknown, earlier value kept");
  ExpectAccepted(Metric(Len(3, Fixed64(9))), {0},
                 "packed-looking value is an unknown field (singular)");
  ExpectAccepted(Tag(1, 0) + Varint(3) + Metric(Value(5)), {5},
                 "field 1 as varint is unknown at the top level");
  ExpectAccepted(Tag(2, 1) + Fixed64(1) + Tag(99, 5) + "abcd" +
                     Len(7, "junk") + Tag(12345, 0) + Varint(~0ull) +
                     Metric(Value(6)),
                 {6}, "unknown fields of every wire type");
  ExpectAccepted(Tag(5, 3) + Tag(1, 0) + Varint(1) + Tag(6, 3) + Tag(6, 4) +
                     Tag(5, 4) + Metric(Value(7)),
                 {7}, "nested unknown groups");
  ExpectAccepted(Metric(Tag(9, 3) + Value(1) + Tag(9, 4) + Value(8)), {8},
                 "value inside an unknown group is not the metric's");
  ExpectAccepted(Metric(Value(2) + Tag(9, 3) + Value(1) + Tag(9, 4)), {2},
                 "group after the value");
  ExpectAccepted(Metric(Len(1, Tag(2, 0) + Varint(5) + Tag(1, 0) + Varint(7) +
                                    Tag(3, 2) + Varint(0)) +
                        Value(3)),
                 {3}, "timestamp with unknown field");
  ExpectAccepted(Metric(Len(1, Tag(1, 1) + Fixed64(0))), {0},
                 "timestamp seconds with wrong wire type");
  ExpectAccepted(Metric(Len(2, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf")),
                 {0}, "valid multibyte UTF-8");
  ExpectAccepted(Metric(Len(4, "\xff\xfe")), {0},
                 "invalid UTF-8 in an unknown field is fine");
  ExpectAccepted(Metric(Tag(2, 0) + Varint(1)), {0}, "name as varint");
  // Non-minimal encodings.
  ExpectAccepted(std::string("\x8a\x80\x80\x80\x00", 5) + Varint(9) + Value(2.5), {2.5},
                 "5-byte tag for field 1");
  ExpectAccepted(std::string("\x0a\x89\x80\x80\x80\x00", 6) + Value(3.5), {3.5},
                 "5-byte length");
}

TEST(RequestDecoderTest, TagHighBitsDropped) {
  // A 5-byte tag whose fifth byte carries bits above 2^32: protobuf drops them.
  const std::string tag = "\x99\x80\x80\x80\x70";  // == 25 (field 3, fixed64)
  ExpectAccepted(Metric(tag + Fixed64(4)), {4}, "overlong tag, high bits");
  ExpectAgrees(Metric("\x99\x80\x80\x80\x80\x01" + Fixed64(4)), "6-byte tag");
}

TEST(RequestDecoderTest, RejectsWhatProtobufRejects) {
  ExpectRejected(std::string(1, '\0'), "tag 0");
  ExpectRejected(Metric(std::string(1, '\0')), "tag 0 inside a metric");
  ExpectRejected(Tag(1, 4), "end group at top level");
  ExpectRejected(Metric(Tag(3, 4)), "end group inside a metric");
  ExpectRejected(Tag(0, 2) + Varint(0), "field number 0");
  ExpectRejected(Tag(0, 4), "field 0 end group");
  ExpectRejected(Tag(4, 6), "wire type 6");
  ExpectRejected(Tag(4, 7), "wire type 7");
  ExpectRejected(Metric(Tag(3, 1) + "1234567"), "truncated value");
  ExpectRejected(Tag(1, 2) + Varint(5) + "abc", "metric longer than input");
  ExpectRejected(Tag(1, 2), "metric without length");
  ExpectRejected("\x0a\x80", "truncated length");
  ExpectRejected("\x8a", "truncated tag");
  ExpectRejected("\x8a\x80\x80\x80\x80\x00", "6-byte tag");
  ExpectRejected(std::string("\x0a\x80\x80\x80\x80\x80\x00", 7), "6-byte length");
  ExpectAccepted(std::string("\x0a\x80\x80\x80\x80\x00", 6), {0},
                 "5-byte zero length");
  ExpectRejected(std::string("\x0a\x80\x80\x80\x08", 5) + "x", "length >= 2^31");
  ExpectRejected(Tag(7, 0) + std::string(10, '\xff') + "\x01", "11-byte varint");
  ExpectRejected(Tag(7, 0) + std::string(9, '\xff'), "unterminated varint");
  ExpectRejected(Tag(7, 1) + "1234", "truncated fixed64");
  ExpectRejected(Tag(7, 5) + "12", "truncated fixed32");
  ExpectRejected(Tag(5, 3), "unterminated group");
  ExpectRejected(Tag(5, 3) + Tag(6, 4), "mismatched end group");
  ExpectRejected(Metric(Tag(5, 3)) + Tag(5, 4), "group crossing a metric end");
  ExpectRejected(Metric(Len(1, Tag(1, 0) + "\x80")), "truncated seconds");
  ExpectRejected(Metric(Len(1, Tag(1, 4))), "end group inside timestamp");
  ExpectRejected(Metric(Len(1, Tag(0, 0) + Varint(1))), "field 0 in timestamp");
  ExpectRejected(Metric(Len(2, "\xc0\x80")), "overlong UTF-8");
  ExpectRejected(Metric(Len(2, "\xed\xa0\x80")), "UTF-8 surrogate");
  ExpectRejected(Metric(Len(2, "\xf4\x90\x80\x80")), "above U+10FFFF");
  ExpectRejected(Metric(Len(2, "\xe2\x82")), "truncated UTF-8");
  ExpectRejected(Metric(Len(2, "\xff")), "0xff in UTF-8");
  ExpectRejected(Metric(Len(2, "abc\x80")), "stray continuation byte");
  // A field that runs past the end of its metric but not past the input.
  ExpectRejected(Metric(Tag(3, 1) + "1234") + "5678", "value crossing metric end");
  ExpectRejected(Metric(Tag(7, 0) + "\x80") + "\x01", "varint crossing metric end");
  ExpectRejected(Metric(Len(1, "\x08")) + Varint(1), "timestamp field crossing");
  ExpectRejected(Metric(std::string("\x12\x05", 2) + "ab") + "cde",
                 "name crossing metric end");
}

TEST(RequestDecoderTest, UnicodeEdgesAgreeWithProtobuf) {
  const std::vector<std::string> names = {
      "\xe0\xa0\x80", "\xe0\x9f\xbf", "\xed\x9f\xbf", "\xee\x80\x80",
      "\xef\xbf\xbf", "\xf0\x90\x80\x80", "\xf0\x8f\xbf\xbf", "\xf3\xbf\xbf\xbf",
      "\xf4\x8f\xbf\xbf", "\xf5\x80\x80\x80", "\xc1\xbf", "\xc2\x80", "\xdf\xbf",
      "\xc2", "\xe1\x80", std::string("a\0b", 3), "\x7f", "\xf8\x88\x80\x80\x80",
      "12345678\xc3\xa9", "1234567\xc3\xa9", "12345678901234\xff"};
  for (const std::string& n : names) {
    ExpectAgrees(Metric(Len(2, n) + Value(1)), "name bytes of size " +
                                                   std::to_string(n.size()));
  }
}

TEST(RequestDecoderTest, RecursionLimitMatchesProtobuf) {
  for (int levels : {97, 98, 99, 100, 101, 102}) {
    std::string open, close;
    for (int i = 0; i < levels; ++i) {
      open += Tag(5, 3);
      close = Tag(5, 4) + close;
    }
    ExpectAgrees(open + close, "top-level groups " + std::to_string(levels));
    ExpectAgrees(Metric(open + close + Value(2)),
                 "groups in a metric " + std::to_string(levels));
    ExpectAgrees(Metric(Len(1, open + close)),
                 "groups in a timestamp " + std::to_string(levels));
  }
}

TEST(RequestDecoderTest, TutorialRequestMatchesProtobufSerialization) {
  const std::vector<double> values =
      testing::LoadTutorialValues(CQMUX_TUTORIAL_VALUES);
  pb::OutliersRequest req;
  for (double v : values) {
    pb::Metric* m = req.add_metrics();
    m->mutable_time()->set_seconds(1590156791);
    m->set_name("CPU");
    m->set_value(v);
  }
  const std::string bytes = req.SerializeAsString();
  AlignedBuffer<double> got;
  ASSERT_TRUE(DecodeOutliersRequest(bytes, &got).ok());
  ASSERT_EQ(std::vector<double>(got.data(), got.data() + got.size()), values);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(got.data()) % 64, 0u);
}

// The decoder takes a fast path for metrics of the common shape (one-byte
// lengths; timestamp, name, value in this order; ASCII name; short varints)
// when at least 8 more bytes follow, and the general path otherwise. Every
// variation of that shape must get protobuf's verdict on both paths: alone
// (general), followed by other metrics (fast), and many in a row.
TEST(RequestDecoderTest, FastPathShapesAgreeWithProtobuf) {
  const std::vector<std::string> times = {
      "",
      Len(1, ""),
      Len(1, Tag(1, 0) + Varint(1590156791)),
      Len(1, Tag(2, 0) + Varint(999)),
      Len(1, Tag(1, 0) + Varint(1) + Tag(2, 0) + Varint(2)),
      Len(1, Tag(2, 0) + Varint(2) + Tag(1, 0) + Varint(1)),
      Len(1, Tag(1, 0) + Varint(1) + Tag(1, 0) + Varint(2)),
      Len(1, Tag(1, 0) + Varint(1ull << 55)),   // 8-byte varint
      Len(1, Tag(1, 0) + Varint(1ull << 56)),   // 9 bytes
      Len(1, Tag(1, 0) + Varint(~0ull)),        // 10 bytes (negative)
      Len(1, Tag(1, 0) + std::string(10, '\xff') + "\x01"),  // 11 bytes
      Len(1, Tag(1, 0) + "\x80"),              // ends inside the varint
      Len(1, Tag(1, 0) + "\x80\x80\x80\x80\x80\x80\x80\x80"),
      Len(1, Tag(1, 1) + Fixed64(1)),           // wrong wire type: unknown
      Len(1, Tag(3, 0) + Varint(1)),            // unknown field
      Len(1, Tag(1, 4)),                        // stray end group
      Len(1, std::string(1, '\0')),            // tag 0
      Len(1, Tag(1, 0) + Varint(1)) + Len(1, Tag(2, 0) + Varint(1)),  // merged
      std::string("\x0a\x82\x00", 3) + Tag(1, 0) + Varint(5),  // 2-byte length
      std::string("\x0a\x03", 2) + Tag(1, 0),  // length past the fields
  };
  const std::vector<std::string> names = {
      "",
      Len(2, ""),
      Len(2, "CPU"),
      Len(2, "1234567"),
      Len(2, "12345678"),
      Len(2, "123456789"),
      Len(2, "1234567890123456"),
      Len(2, "12345678901234567"),
      Len(2, std::string(100, 'n')),
      Len(2, "caf\xc3\xa9"),                  // valid UTF-8
      Len(2, "12345678\xc3\xa9"),
      Len(2, "abc\x80"),                      // invalid UTF-8
      Len(2, "1234567\xff"),
      Len(2, "12345678\xff"),
      Len(2, std::string("a\0b", 3)),
      std::string("\x12\x83\x00", 3) + "CPU",  // 2-byte length
      Len(2, "x") + Len(2, "y"),
  };
  const std::vector<std::string> values = {
      "",
      Value(1.25),
      Value(1) + Value(-2),
      Tag(3, 1) + "1234567",                  // truncated
      Tag(3, 0) + Varint(7),                  // wrong wire type: unknown
      Value(3) + Tag(9, 5) + "abcd",          // trailing unknown field
      Value(4) + Tag(9, 3) + Value(5) + Tag(9, 4),
  };
  const std::string after = TutorialMetric(7) + TutorialMetric(8);
  int cases = 0;
  for (const std::string& t : times) {
    for (const std::string& n : names) {
      for (const std::string& v : values) {
        for (const std::string& body :
             {t + n + v, v + n + t, n + t + v}) {
          const std::string m = Metric(body);
          ExpectAgrees(m, "alone: " + std::to_string(cases));
          ExpectAgrees(m + after, "followed: " + std::to_string(cases));
          ExpectAgrees(after + m + m + m + after, "in a row: " +
                                                      std::to_string(cases));
          // The metric's length one too short and one too long.
          if (!m.empty() && static_cast<uint8_t>(m[1]) < 0x7f &&
              static_cast<uint8_t>(m[1]) > 0) {
            std::string shorter = m, longer = m + "\x19";
            --shorter[1];
            ++longer[1];
            ExpectAgrees(shorter + after, "short: " + std::to_string(cases));
            ExpectAgrees(longer + after, "long: " + std::to_string(cases));
          }
          ++cases;
        }
      }
    }
  }
  EXPECT_GT(cases, 7000);
}

// Metrics with the layout of the one before are matched against it in one
// masked compare: a change to any single byte of such a metric, in the
// middle of a request, must still get protobuf's verdict.
TEST(RequestDecoderTest, SameLayoutShortcutAgreesWithProtobuf) {
  const std::vector<std::string> layouts = {
      TutorialMetric(1.5),
      Metric(Len(1, Tag(1, 0) + Varint(1) + Tag(2, 0) + Varint(1u << 20)) +
             Len(2, "12345678") + Value(2.5)),
      Metric(Len(2, "mem")),
      Metric(Value(3.5)),
      Metric(""),
  };
  for (size_t l = 0; l < layouts.size(); ++l) {
    const std::string& m = layouts[l];
    const std::string before = m + m + m;
    const std::string after = m + m + m + m;
    for (size_t i = 0; i < m.size(); ++i) {
      const uint8_t b = static_cast<uint8_t>(m[i]);
      for (int changed : {0x00, 0x01, 0x7f, 0x80, 0xff, b ^ 0x80, b ^ 0x01,
                          b + 1, b - 1}) {
        std::string x = m;
        x[i] = static_cast<char>(changed);
        ExpectAgrees(before + x + after, "layout " + std::to_string(l) +
                                             " byte " + std::to_string(i) +
                                             " = " + std::to_string(changed));
      }
    }
  }
}

// The last metrics of a request, where fewer than 8 bytes follow, go through
// the general path: the tail of every length agrees.
TEST(RequestDecoderTest, RequestTailsAgreeWithProtobuf) {
  std::string bytes;
  for (int i = 0; i < 6; ++i) bytes += TutorialMetric(i);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    ExpectAgrees(bytes.substr(0, cut), "cut at " + std::to_string(cut));
    ExpectAgrees(bytes.substr(0, cut) + "\x0a", "cut + tag at " +
                                                   std::to_string(cut));
  }
}

// Deterministic mutations of valid requests; the libFuzzer target explores
// further when built with CQMUX_FUZZ.
TEST(RequestDecoderTest, MutatedRequestsAgreeWithProtobuf) {
  std::mt19937_64 rng(1234);
  const std::vector<std::string> seeds = {
      TutorialMetric(1) + TutorialMetric(2) + TutorialMetric(100),
      TutorialMetric(1) + Metric(Len(1, "") + Len(2, "12345678901") + Value(2)) +
          Metric(Value(3)) + TutorialMetric(4) + TutorialMetric(5),
      Metric(Value(1) + Tag(9, 3) + Value(1) + Tag(9, 4)) + Tag(7, 5) + "abcd",
      Metric(Len(1, Tag(1, 0) + Varint(99)) + Len(2, "\xc3\xa9t\xc3\xa9")),
  };
  int accepted = 0;
  for (int iter = 0; iter < 30000; ++iter) {
    std::string s = seeds[iter % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !s.empty(); ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 5) {
        case 0: s[pos] = static_cast<char>(rng()); break;
        case 1: s[pos] ^= static_cast<char>(1 << (rng() % 8)); break;
        case 2: s.erase(pos, 1 + rng() % 3); break;
        case 3: s.insert(pos, 1, static_cast<char>(rng())); break;
        default: s.resize(pos); break;
      }
    }
    const OracleResult want = ParseWithProtobuf(s);
    accepted += want.ok;
    AlignedBuffer<double> got;
    const absl::Status st = DecodeOutliersRequest(s, &got);
    ASSERT_EQ(st.ok(), want.ok) << "iteration " << iter;
    if (st.ok()) {
      ASSERT_EQ(got.size(), want.values.size()) << "iteration " << iter;
      for (size_t i = 0; i < got.size(); ++i) {
        ASSERT_EQ(Bits(got[i]), Bits(want.values[i])) << "iteration " << iter;
      }
    }
  }
  // Both verdicts were exercised.
  EXPECT_GT(accepted, 1000);
  EXPECT_LT(accepted, 29000);
}

}  // namespace
}  // namespace cqmux::outliers
