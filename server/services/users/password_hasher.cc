// libsodium password hashing; see password_hasher.h.
#include "server/services/users/password_hasher.h"

#include <sodium.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cqmux {

absl::StatusOr<PasswordHasher> PasswordHasher::FromProfile(
    absl::string_view profile) {
  if (sodium_init() < 0) return absl::InternalError("libsodium failed to initialise");
  if (profile == "interactive") {
    return PasswordHasher(crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE);
  }
  if (profile == "moderate") {
    return PasswordHasher(crypto_pwhash_OPSLIMIT_MODERATE,
                          crypto_pwhash_MEMLIMIT_MODERATE);
  }
  if (profile == "sensitive") {
    return PasswordHasher(crypto_pwhash_OPSLIMIT_SENSITIVE,
                          crypto_pwhash_MEMLIMIT_SENSITIVE);
  }
  if (profile == "min") {
    return PasswordHasher(crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown password hash profile \"", profile,
      "\" (want interactive, moderate, sensitive or min)"));
}

absl::StatusOr<std::string> PasswordHasher::Hash(
    absl::string_view password) const {
  char out[crypto_pwhash_STRBYTES];
  if (crypto_pwhash_str(out, password.data(), password.size(), ops_, mem_) != 0) {
    return absl::ResourceExhaustedError("out of memory while hashing the password");
  }
  return std::string(out);
}

bool PasswordHasher::Verify(absl::string_view encoded,
                            absl::string_view password) const {
  const std::string terminated(encoded);
  return crypto_pwhash_str_verify(terminated.c_str(), password.data(),
                                  password.size()) == 0;
}

}  // namespace cqmux
