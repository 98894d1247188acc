// Unit tests of the CLI's pure helpers: JSON layout, outlier input parsing,
// the tutorial series, metadata parsing, TLS flags and token files.
#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "books.pb.h"
#include "call_options.h"
#include "channel_security.h"
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

namespace cqmux::client {
namespace {

std::string WriteTemp(const std::string& name, const std::string& content) {
  const std::string path = ::testing::TempDir() + "/cli_unit_test_" + name;
  std::ofstream(path, std::ios::binary) << content;
  return path;
}

TEST(ChannelSecurity, PlaintextUnlessATlsFlagIsGiven) {
  absl::StatusOr<ChannelSecurity> plain = MakeChannelSecurity({});
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->tls);
  EXPECT_STREQ(plain->mode(), "plaintext");
  TlsFlags flags;
  flags.tls = true;
  absl::StatusOr<ChannelSecurity> tls = MakeChannelSecurity(flags);
  ASSERT_TRUE(tls.ok());
  EXPECT_STREQ(tls->mode(), "tls");
  flags = {};
  flags.ca_file = WriteTemp("ca.pem", "-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n");
  flags.cert_file = flags.ca_file;
  flags.key_file = WriteTemp("key.pem", "-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----\n");
  flags.server_name = "localhost";
  absl::StatusOr<ChannelSecurity> mtls = MakeChannelSecurity(flags);  // implied --tls
  ASSERT_TRUE(mtls.ok()) << mtls.status();
  EXPECT_STREQ(mtls->mode(), "mtls");
  EXPECT_EQ(mtls->server_name, "localhost");
}

TEST(ChannelSecurity, BadCombinationsAndFilesAreUsageErrors) {
  TlsFlags flags;
  flags.server_name = "localhost";
  EXPECT_EQ(MakeChannelSecurity(flags).status().message(),
            "--tls-server-name needs --tls (or --tls-ca)");
  flags = {};
  flags.cert_file = WriteTemp("only-cert.pem", "-----BEGIN CERTIFICATE-----\n");
  EXPECT_EQ(MakeChannelSecurity(flags).status().message(), "--tls-cert needs --tls-key");
  flags = {};
  flags.key_file = WriteTemp("only-key.pem", "x");
  EXPECT_EQ(MakeChannelSecurity(flags).status().message(), "--tls-key needs --tls-cert");
  flags = {};
  flags.ca_file = "/no/such/ca.pem";
  EXPECT_EQ(MakeChannelSecurity(flags).status().message(),
            "--tls-ca: cannot read \"/no/such/ca.pem\"");
  flags.ca_file = WriteTemp("not-pem", "hello");
  EXPECT_EQ(MakeChannelSecurity(flags).status().message(),
            "--tls-ca: \"" + flags.ca_file + "\" holds no PEM CERTIFICATE");
}

TEST(Token, FileGivesItsFirstTokenLine) {
  absl::StatusOr<std::string> token =
      ReadTokenFile(WriteTemp("token", "# mine\n\n  s3cr3t-token  \nsecond\n"));
  ASSERT_TRUE(token.ok()) << token.status();
  EXPECT_EQ(*token, "s3cr3t-token");
  EXPECT_FALSE(ReadTokenFile(WriteTemp("empty-token", "# none\n")).ok());
  EXPECT_FALSE(ReadTokenFile("/no/such/token").ok());
  EXPECT_FALSE(ReadTokenFile(WriteTemp("spaced-token", "two words\n")).ok());
  EXPECT_TRUE(CheckToken("abc", "--token").ok());
  EXPECT_EQ(CheckToken("", "--token").message(), "--token is empty");
  EXPECT_EQ(CheckToken("a b", "$CQMUX_TOKEN").message(),
            "$CQMUX_TOKEN must be printable ASCII without spaces");
  EXPECT_EQ(BearerValue("abc"), "Bearer abc");
}

}  // namespace
}  // namespace cqmux::client
