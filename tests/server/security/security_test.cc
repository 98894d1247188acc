// Unit tests of server/security without a network: the token file format and
// the constant-time membership check, the admission check's answers, and the
// validation of TLS options and files. TLS and tokens through real gRPC calls
// are in tls_test.py and tokens_test.py next to this file.
#include <cstdio>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "server/security/bearer_tokens.h"
#include "server/security/tls.h"

namespace cqmux {
namespace {

TEST(BearerTokensTest, ParsesOneTokenPerLineSkippingBlanksAndComments) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(
      "# writers\n"
      "alpha-1\n"
      "\n"
      "   \t\n"
      "  beta.2/+=  \r\n"
      "\t# indented comment\n"
      "gamma_3",
      "test");
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_EQ(tokens->size(), 3u);
  EXPECT_TRUE(tokens->Contains("alpha-1"));
  EXPECT_TRUE(tokens->Contains("beta.2/+="));
  EXPECT_TRUE(tokens->Contains("gamma_3"));
  EXPECT_FALSE(tokens->Contains(""));
  EXPECT_FALSE(tokens->Contains("alpha-"));
  EXPECT_FALSE(tokens->Contains("alpha-1 "));
  EXPECT_FALSE(tokens->Contains("ALPHA-1"));
  EXPECT_FALSE(tokens->Contains("# writers"));
  EXPECT_FALSE(tokens->Contains(std::string(100000, 'a')));
}

TEST(BearerTokensTest, RejectsFilesWithoutTokensOrWithMalformedLines) {
  for (const char* text : {"", "\n\n", "# only a comment\n  # another\n"}) {
    absl::StatusOr<BearerTokens> tokens = BearerTokens::Parse(text, "tokens.txt");
    ASSERT_FALSE(tokens.ok()) << text;
    EXPECT_EQ(tokens.status().message(),
              "tokens.txt has no token (one per line; blank lines and # comments are "
              "ignored)");
  }
  // A malformed line is named by its number; its content is never quoted.
  absl::StatusOr<BearerTokens> spaced =
      BearerTokens::Parse("good\nsecret with spaces\n", "f");
  ASSERT_FALSE(spaced.ok());
  EXPECT_EQ(spaced.status().message(),
            "f line 2: a token is printable ASCII without spaces (one token per line)");
  absl::StatusOr<BearerTokens> control = BearerTokens::Parse("a\x01" "b\n", "f");
  ASSERT_FALSE(control.ok());
  EXPECT_EQ(control.status().message().find("a\x01" "b"), std::string::npos);
  EXPECT_FALSE(BearerTokens::Parse(std::string(BearerTokens::kMaxTokenBytes + 1, 'x'), "f").ok());
  EXPECT_TRUE(BearerTokens::Parse(std::string(BearerTokens::kMaxTokenBytes, 'x'), "f").ok());
}

class TempFiles : public ::testing::Test {
 protected:
  std::string Write(const std::string& name, const std::string& content) {
    const std::string path = absl::StrCat(::testing::TempDir(), "/security_test_", name);
    std::ofstream(path, std::ios::binary) << content;
    paths_.push_back(path);
    return path;
  }
  void TearDown() override {
    for (const std::string& p : paths_) std::remove(p.c_str());
  }
  std::vector<std::string> paths_;
};

using BearerTokensFileTest = TempFiles;

TEST_F(BearerTokensFileTest, ReadsAFileAndNamesItInErrors) {
  absl::StatusOr<BearerTokens> tokens = BearerTokens::FromFile(Write("tokens", "t1\nt2\n"));
  ASSERT_TRUE(tokens.ok()) << tokens.status();
  EXPECT_TRUE(tokens->Contains("t2"));
  const std::string missing = absl::StrCat(::testing::TempDir(), "/no/such/tokens");
  absl::StatusOr<BearerTokens> none = BearerTokens::FromFile(missing);
  ASSERT_FALSE(none.ok());
  EXPECT_EQ(none.status().message(),
            absl::StrCat("cannot read --auth-tokens file \"", missing, "\""));
  absl::StatusOr<BearerTokens> empty = BearerTokens::FromFile(Write("empty", ""));
  ASSERT_FALSE(empty.ok());
  EXPECT_NE(empty.status().message().find("has no token"), std::string::npos);
}

TEST(RequireBearerTokenTest, NoTokensAdmitsEverythingElseNeedsAToken) {
  EXPECT_TRUE(RequireBearerToken(nullptr).Admit(CallContext()).ok());
  auto tokens = std::make_shared<const BearerTokens>(*BearerTokens::Parse("t", "f"));
  const MethodPolicy policy = RequireBearerToken(tokens);
  // A context without a call has no metadata: refused, saying what to send.
  const grpc::Status status = policy.Admit(CallContext());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(),
            "this method needs a token: send the metadata \"authorization: Bearer <token>\"");
}

using TlsOptionsTest = TempFiles;

constexpr char kCertPem[] =
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
constexpr char kKeyPem[] = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

TEST_F(TlsOptionsTest, PlaintextIsValidAndNamedSo) {
  TlsOptions options;
  EXPECT_TRUE(ValidateTlsOptions(options).ok());
  EXPECT_STREQ(TlsMode(options), "plaintext");
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeServerCredentials(options);
  ASSERT_TRUE(creds.ok());
  EXPECT_NE(*creds, nullptr);
}

TEST_F(TlsOptionsTest, FlagCombinationsAreChecked) {
  const std::string cert = Write("cert.pem", kCertPem);
  const std::string key = Write("key.pem", kKeyPem);
  TlsOptions options;
  options.cert_file = cert;
  EXPECT_EQ(ValidateTlsOptions(options).message(), "--tls-cert needs --tls-key");
  options = {};
  options.key_file = key;
  EXPECT_EQ(ValidateTlsOptions(options).message(), "--tls-key needs --tls-cert");
  options = {};
  options.client_ca_file = cert;
  EXPECT_EQ(ValidateTlsOptions(options).message(),
            "--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS with client "
            "certificates)");
  options = {};
  options.cert_file = cert;
  options.key_file = key;
  EXPECT_TRUE(ValidateTlsOptions(options).ok());
  EXPECT_STREQ(TlsMode(options), "tls");
  options.client_ca_file = cert;
  EXPECT_TRUE(ValidateTlsOptions(options).ok());
  EXPECT_STREQ(TlsMode(options), "mtls");
  options.refresh = absl::Milliseconds(500);
  EXPECT_EQ(ValidateTlsOptions(options).message(), "--tls-refresh must be at least 1s");
}

TEST_F(TlsOptionsTest, FilesMustBeReadablePemOfTheRightKind) {
  const std::string cert = Write("cert.pem", kCertPem);
  const std::string key = Write("key.pem", kKeyPem);
  const std::string rsa_key = Write("rsa.pem",
      "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n");
  const std::string junk = Write("junk.pem", "not a certificate\n");
  const std::string missing = absl::StrCat(::testing::TempDir(), "/no/such.pem");
  TlsOptions options;
  options.cert_file = missing;
  options.key_file = key;
  EXPECT_EQ(ValidateTlsOptions(options).message(),
            absl::StrCat("--tls-cert: cannot read \"", missing, "\""));
  options.cert_file = key;  // a key where the certificate belongs
  EXPECT_EQ(ValidateTlsOptions(options).message(),
            absl::StrCat("--tls-cert: \"", key,
                         "\" holds no PEM CERTIFICATE (-----BEGIN ... CERTIFICATE-----)"));
  options.cert_file = cert;
  options.key_file = junk;
  const std::string message(ValidateTlsOptions(options).message());
  EXPECT_EQ(message, absl::StrCat("--tls-key: \"", junk,
                                  "\" holds no PEM PRIVATE KEY (-----BEGIN ... PRIVATE KEY-----)"));
  EXPECT_EQ(message.find("not a certificate"), std::string::npos);  // never the content
  options.key_file = rsa_key;
  EXPECT_TRUE(ValidateTlsOptions(options).ok());
  options.client_ca_file = missing;
  EXPECT_EQ(ValidateTlsOptions(options).message(),
            absl::StrCat("--tls-client-ca: cannot read \"", missing, "\""));
}

}  // namespace
}  // namespace cqmux
