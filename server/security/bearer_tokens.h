// Bearer tokens for methods that change state (books Insert and Delete): the
// set of accepted tokens, read once at startup from --auth-tokens, and the
// admission check that the method table attaches to those methods
// (RequireBearerToken), so that the services never see tokens.
//
// Token file format: UTF-8 text, one token per line. Leading and trailing
// spaces and tabs are ignored, as are blank lines and lines whose first
// non-blank character is '#'. A token is 1 to 4096 printable ASCII
// characters without spaces (what fits an HTTP header value unchanged). A
// file without any token is an error, so that a mistake cannot leave writes
// unprotected; so is any malformed line (named by its number, never quoted).
//
// Tokens are kept only as keyed BLAKE2b digests (libsodium's
// crypto_generichash, a random key per process), and a presented token is
// compared with every stored digest in constant time (sodium_memcmp), without
// an early exit: neither the content nor the length of a token leaks through
// timing. Tokens are never logged.
#ifndef CQMUX_SERVER_SECURITY_BEARER_TOKENS_H_
#define CQMUX_SERVER_SECURITY_BEARER_TOKENS_H_

#include <array>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/engine/method_policy.h"

namespace cqmux {

class BearerTokens {
 public:
  static constexpr size_t kMaxTokenBytes = 4096;

  // Parses the file format above from `text`; `source` names it in errors.
  static absl::StatusOr<BearerTokens> Parse(absl::string_view text,
                                            absl::string_view source);
  // Reads and parses a token file (at most 1 MiB).
  static absl::StatusOr<BearerTokens> FromFile(const std::string& path);

  // Whether `token` is one of the set, in time independent of where (or
  // whether) it matches and of its length.
  bool Contains(absl::string_view token) const;
  size_t size() const { return digests_.size(); }

 private:
  static constexpr size_t kDigestBytes = 32;
  static constexpr size_t kKeyBytes = 32;
  using Digest = std::array<unsigned char, kDigestBytes>;

  BearerTokens();
  Digest DigestOf(absl::string_view token) const;

  std::array<unsigned char, kKeyBytes> key_;
  std::vector<Digest> digests_;
};

// The admission check for methods that need a token: the call's metadata
// must hold "authorization: Bearer <token>" with a token of `tokens`; else
// the call ends UNAUTHENTICATED (saying what is missing or that the token is
// not accepted) before its handler runs. With null `tokens` every call is
// admitted (no --auth-tokens).
MethodPolicy RequireBearerToken(std::shared_ptr<const BearerTokens> tokens);

}  // namespace cqmux

#endif  // CQMUX_SERVER_SECURITY_BEARER_TOKENS_H_
