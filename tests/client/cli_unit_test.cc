// Unit tests of the CLI's pure helpers: JSON layout, outlier input parsing,
// the tutorial series, metadata parsing.
#include <gtest/gtest.h>

#include "books.pb.h"
#include "call_options.h"
#include "json_output.h"
#include "outliers_input.h"

namespace cqmux::cli {
namespace {

TEST(JsonOutput, IndentsLikeGoMarshalIndent) {
  books::BookList list;
  books::Book* book = list.add_books();
  book->set_id(123);
  book->set_title("A \"Tale\", {of} [Two]: Cities");
  book->set_author("Charles Dickens");
  EXPECT_EQ(IndentJson(CompactJson(list)),
            "{\n  \"books\": [\n    {\n      \"id\": 123,\n"
            "      \"title\": \"A \\\"Tale\\\", {of} [Two]: Cities\",\n"
            "      \"author\": \"Charles Dickens\"\n    }\n  ]\n}");
}

TEST(JsonOutput, EmptyMessagesStayCompact) {
  EXPECT_EQ(IndentJson(CompactJson(books::Empty())), "{}");
  EXPECT_EQ(IndentJson("{\"a\":[],\"b\":{}}"), "{\n  \"a\": [],\n  \"b\": {}\n}");
}

TEST(OutliersInput, AcceptsLinesCommasAndSpaces) {
  auto values = ParseValues("1\n2.5, 3 ;4\n\n-5e1\r\n");
  ASSERT_TRUE(values.ok()) << values.status();
  EXPECT_EQ(*values, (std::vector<double>{1, 2.5, 3, 4, -50}));
  EXPECT_TRUE(ParseValues("").ok());
}

TEST(OutliersInput, NamesTheBadToken) {
  auto values = ParseValues("1\n2,abc\n");
  ASSERT_FALSE(values.ok());
  EXPECT_EQ(values.status().message(), "line 2: \"abc\" is not a finite number");
  EXPECT_FALSE(ParseValues("nan").ok());
  EXPECT_FALSE(ParseValues("inf").ok());
}

TEST(OutliersInput, TutorialSeries) {
  const std::vector<double> values = TutorialValues(1000, 42);
  ASSERT_EQ(values.size(), 1000u);
  EXPECT_EQ(values[7], 97.3);
  EXPECT_EQ(values[113], 92.1);
  EXPECT_EQ(values[835], 93.2);
  for (size_t i = 0; i < values.size(); ++i) {
    if (i == 7 || i == 113 || i == 835) continue;
    EXPECT_GE(values[i], 0.0);
    EXPECT_LT(values[i], 40.0);
  }
  EXPECT_EQ(TutorialValues(1000, 42), values);  // seeded: reproducible
  EXPECT_EQ(TutorialValues(100, 1).size(), 100u);  // short series: only index 7
  EXPECT_EQ(TutorialValues(100, 1)[7], 97.3);
}

TEST(CallOptions, ParsesMetadata) {
  auto kv = ParseMetadata("IP=127.0.0.1=x");
  ASSERT_TRUE(kv.ok());
  EXPECT_EQ(kv->first, "ip");
  EXPECT_EQ(kv->second, "127.0.0.1=x");
  EXPECT_FALSE(ParseMetadata("novalue").ok());
  EXPECT_FALSE(ParseMetadata("=v").ok());
}

}  // namespace
}  // namespace cqmux::cli
