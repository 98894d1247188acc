// The users known to the server: unique usernames, ids assigned from 1 in
// creation order, password kept only as a salted hash. Safe for concurrent
// use from every queue thread; lookups share a reader lock.
#ifndef CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_
#define CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace cqmux {

struct UserRecord {
  uint32_t user_id = 0;
  std::string username;
  std::string email;
  std::string password_hash;
};

class UserStore {
 public:
  explicit UserStore(size_t max_users) : max_users_(max_users) {}

  // ALREADY_EXISTS if the username is taken, RESOURCE_EXHAUSTED when full.
  absl::StatusOr<uint32_t> Add(std::string username, std::string email,
                               std::string password_hash);
  bool Contains(absl::string_view username) const;
  std::optional<UserRecord> FindByName(absl::string_view username) const;
  std::optional<UserRecord> FindById(uint32_t user_id) const;
  size_t size() const;

 private:
  const size_t max_users_;
  mutable absl::Mutex mu_;
  std::vector<UserRecord> by_id_ ABSL_GUARDED_BY(mu_);  // index = user_id - 1
  absl::flat_hash_map<std::string, uint32_t> by_name_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_
