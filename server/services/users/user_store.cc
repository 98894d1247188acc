// In-memory user store; see user_store.h.
#include "server/services/users/user_store.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cqmux {

absl::StatusOr<uint32_t> UserStore::Add(std::string username, std::string email,
                                        std::string password_hash) {
  absl::MutexLock lock(&mu_);
  if (by_name_.contains(username)) {
    return absl::AlreadyExistsError(
        absl::StrCat("username \"", username, "\" is already taken"));
  }
  if (by_id_.size() >= max_users_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the user store is full (", max_users_, " users)"));
  }
  const uint32_t id = static_cast<uint32_t>(by_id_.size() + 1);
  by_name_.emplace(username, id);
  by_id_.push_back(UserRecord{id, std::move(username), std::move(email),
                              std::move(password_hash)});
  return id;
}

bool UserStore::Contains(absl::string_view username) const {
  absl::ReaderMutexLock lock(&mu_);
  return by_name_.contains(username);
}

std::optional<UserRecord> UserStore::FindByName(absl::string_view username) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_name_.find(username);
  if (it == by_name_.end()) return std::nullopt;
  return by_id_[it->second - 1];
}

std::optional<UserRecord> UserStore::FindById(uint32_t user_id) const {
  absl::ReaderMutexLock lock(&mu_);
  if (user_id == 0 || user_id > by_id_.size()) return std::nullopt;
  return by_id_[user_id - 1];
}

size_t UserStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_id_.size();
}

}  // namespace cqmux
