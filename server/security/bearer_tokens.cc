// Token file parsing and the constant-time check; see bearer_tokens.h.
#include "server/security/bearer_tokens.h"

#include <sodium.h>

#include <fstream>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/log.h"

namespace cqmux {
namespace {

absl::string_view TrimBlanks(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

bool IsTokenChar(char c) { return c > ' ' && c < 0x7f; }

}  // namespace

BearerTokens::BearerTokens() {
  randombytes_buf(key_.data(), key_.size());
}

BearerTokens::Digest BearerTokens::DigestOf(absl::string_view token) const {
  Digest digest;
  crypto_generichash(digest.data(), digest.size(),
                     reinterpret_cast<const unsigned char*>(token.data()), token.size(),
                     key_.data(), key_.size());
  return digest;
}

absl::StatusOr<BearerTokens> BearerTokens::Parse(absl::string_view text,
                                                 absl::string_view source) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  BearerTokens tokens;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = TrimBlanks(line);
    if (line.empty() || line.front() == '#') continue;
    if (line.size() > kMaxTokenBytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          source, " line ", line_number, ": a token is at most ", kMaxTokenBytes, " bytes"));
    }
    for (char c : line) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, " line ", line_number,
            ": a token is printable ASCII without spaces (one token per line)"));
      }
    }
    tokens.digests_.push_back(tokens.DigestOf(line));
  }
  if (tokens.digests_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source, " has no token (one per line; blank lines and # comments are ignored)"));
  }
  return tokens;
}

absl::StatusOr<BearerTokens> BearerTokens::FromFile(const std::string& path) {
  constexpr std::streamsize kMaxBytes = 1 << 20;
  const std::string source = absl::StrCat("--auth-tokens file \"", path, "\"");
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", source));
  std::string text(static_cast<size_t>(kMaxBytes) + 1, '\0');
  in.read(text.data(), kMaxBytes + 1);
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat("cannot read ", source));
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > static_cast<size_t>(kMaxBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is larger than 1 MiB"));
  }
  absl::StatusOr<BearerTokens> tokens = Parse(text, source);
  sodium_memzero(text.data(), text.size());
  return tokens;
}

bool BearerTokens::Contains(absl::string_view token) const {
  // No early exits: the presented token is hashed whatever its length (the
  // time that takes depends only on what the client sent), and compared with
  // every stored digest.
  const Digest presented = DigestOf(token);
  int matched = 0;
  for (const Digest& d : digests_) {
    matched |= sodium_memcmp(d.data(), presented.data(), d.size()) == 0;
  }
  return matched != 0;
}

MethodPolicy RequireBearerToken(std::shared_ptr<const BearerTokens> tokens) {
  if (tokens == nullptr) return {};
  return {[tokens = std::move(tokens)](const CallContext& call) {
    const absl::string_view header = call.Metadata("authorization");
    constexpr absl::string_view kScheme = "Bearer ";
    if (header.empty()) {
      Log(LogLevel::kDebug, "write refused: no authorization metadata, peer %s",
          call.Peer());
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "this method needs a token: send the metadata "
                          "\"authorization: Bearer <token>\"");
    }
    if (header.size() <= kScheme.size() ||
        !absl::StartsWithIgnoreCase(header, kScheme)) {
      Log(LogLevel::kDebug, "write refused: authorization is not a bearer token, peer %s",
          call.Peer());
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "the authorization metadata must be \"Bearer <token>\"");
    }
    if (!tokens->Contains(header.substr(kScheme.size()))) {
      Log(LogLevel::kDebug, "write refused: token not accepted, peer %s", call.Peer());
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "the token is not accepted");
    }
    return grpc::Status::OK;
  }};
}

}  // namespace cqmux
