// In-memory user store; see user_store.h.
#include "server/services/users/user_store.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace cqmux {

absl::StatusOr<uint32_t> InMemoryUserStore::AddNow(UserRecord record) {
  absl::MutexLock lock(&mu_);
  if (by_name_.contains(record.username)) {
    return absl::AlreadyExistsError(
        absl::StrCat("username \"", record.username, "\" is already taken"));
  }
  if (by_id_.size() >= max_users_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the user store is full (", max_users_, " users)"));
  }
  record.user_id = ++last_id_;
  const uint32_t id = record.user_id;
  by_name_.emplace(record.username, id);
  by_id_.emplace(id, std::move(record));
  return id;
}

void InMemoryUserStore::Restore(UserRecord record) {
  absl::MutexLock lock(&mu_);
  last_id_ = std::max(last_id_, record.user_id);
  by_name_.emplace(record.username, record.user_id);
  const uint32_t id = record.user_id;
  by_id_.emplace(id, std::move(record));
}

bool InMemoryUserStore::Contains(absl::string_view username) const {
  absl::ReaderMutexLock lock(&mu_);
  return by_name_.contains(username);
}

std::optional<UserRecord> InMemoryUserStore::FindByName(absl::string_view username) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_name_.find(username);
  if (it == by_name_.end()) return std::nullopt;
  return by_id_.at(it->second);
}

std::optional<UserRecord> InMemoryUserStore::FindById(uint32_t user_id) const {
  absl::ReaderMutexLock lock(&mu_);
  auto it = by_id_.find(user_id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

size_t InMemoryUserStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_id_.size();
}

}  // namespace cqmux
