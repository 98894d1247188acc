// QuoteInput: client input in messages is short, escaped and says how long
// the original was.
#include "server/common/quote.h"

#include <string>

#include <gtest/gtest.h>

namespace cqmux {
namespace {

TEST(QuoteInputTest, ShortInputIsQuotedWhole) {
  EXPECT_EQ(QuoteInput("carol@"), "\"carol@\"");
  EXPECT_EQ(QuoteInput(""), "\"\"");
}

TEST(QuoteInputTest, ControlAndNonAsciiBytesAreEscaped) {
  EXPECT_EQ(QuoteInput("a\"b\n\x01\xc3\xa4"), "\"a\\\"b\\n\\x01\\xc3\\xa4\"");
}

TEST(QuoteInputTest, LongInputIsCutAndItsLengthGiven) {
  const std::string huge(16 << 20, 'p');
  const std::string quoted = QuoteInput(huge);
  EXPECT_EQ(quoted, "\"" + std::string(kQuotedPrefixBytes, 'p') +
                        "\"... (16777216 bytes)");
  EXPECT_EQ(QuoteInput("abcdef", 3), "\"abc\"... (6 bytes)");
}

}  // namespace
}  // namespace cqmux
