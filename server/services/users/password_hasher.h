// Salted password hashing with libsodium's crypto_pwhash_str (Argon2id). The
// cost is a named libsodium profile; "interactive" (the default) takes tens of
// milliseconds and 64 MiB per hash, which is why CreateUser is registered as
// a blocking handler and runs on the engine's small worker pool.
#ifndef CQMUX_SERVER_SERVICES_USERS_PASSWORD_HASHER_H_
#define CQMUX_SERVER_SERVICES_USERS_PASSWORD_HASHER_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cqmux {

class PasswordHasher {
 public:
  // "interactive", "moderate", "sensitive", or "min" (libsodium's minimum:
  // fast and weak, for tests only).
  static absl::StatusOr<PasswordHasher> FromProfile(absl::string_view profile);

  // An encoded hash carrying its own salt and parameters.
  absl::StatusOr<std::string> Hash(absl::string_view password) const;
  bool Verify(absl::string_view encoded, absl::string_view password) const;

 private:
  PasswordHasher(unsigned long long ops, size_t mem) : ops_(ops), mem_(mem) {}
  unsigned long long ops_;
  size_t mem_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_USERS_PASSWORD_HASHER_H_
