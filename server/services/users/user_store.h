// The users known to the server: unique usernames, ids assigned by the store
// (increasing, never reused), password kept only as a salted hash. The
// interface (backends: the in-memory one here, the reference; the durable
// SQLite one in server/storage/sqlite; the shared PostgreSQL one in
// server/storage/postgres) and its in-memory implementation.
#ifndef CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_
#define CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

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

// Safe for concurrent use from any thread. Reads and Add are asynchronous;
// reads never wait behind writes, and backends holding the users in RAM
// answer them inline (see ReadDone in book_store.h).
class UserStore {
 public:
  // The new user's id, or why there is none. Called exactly once, from any
  // thread (a durable backend: its writer thread, once the user is on disk),
  // possibly before Add returned.
  using AddDone = std::function<void(absl::StatusOr<uint32_t>)>;
  // A lookup's answer: the user, none (no such user), or why there is no
  // answer (UNAVAILABLE: a shared backend cannot reach its database).
  using FindDone = std::function<void(absl::StatusOr<std::optional<UserRecord>>)>;

  virtual ~UserStore() = default;

  // The store assigns user_id (record.user_id is ignored): ids increase in
  // commit order and are never reused, across restarts and crashes too.
  // ALREADY_EXISTS if the username is taken, RESOURCE_EXHAUSTED when full
  // (or the disk is), UNAVAILABLE when the write could not be made durable.
  // A user is visible to the lookups before `done` runs.
  virtual void Add(UserRecord record, AddDone done) = 0;
  // A fast hint (CreateUser's check, before it pays for the hash): true if
  // the username is known to be taken. A backend that cannot tell without a
  // round trip answers false, and Add decides.
  virtual bool KnownTaken(absl::string_view username) const = 0;
  virtual void FindByName(absl::string_view username, FindDone done) const = 0;
  virtual void FindById(uint32_t user_id, FindDone done) const = 0;
  // Users stored (a shared backend: the most it has seen; for metrics).
  virtual size_t size() const = 0;
};

// Users in RAM; lookups share a reader lock. Also the read cache of durable
// backends, which apply their commits to it with Restore().
class InMemoryUserStore final : public UserStore {
 public:
  explicit InMemoryUserStore(size_t max_users) : max_users_(max_users) {}

  // Completes at once, on the caller's thread.
  void Add(UserRecord record, AddDone done) override { done(AddNow(std::move(record))); }
  bool KnownTaken(absl::string_view username) const override { return Contains(username); }
  // Inline, on the caller's thread.
  void FindByName(absl::string_view username, FindDone done) const override {
    done(FindByName(username));
  }
  void FindById(uint32_t user_id, FindDone done) const override { done(FindById(user_id)); }
  size_t size() const override;

  // The synchronous lookups (also those of durable backends' read caches).
  bool Contains(absl::string_view username) const;
  std::optional<UserRecord> FindByName(absl::string_view username) const;
  std::optional<UserRecord> FindById(uint32_t user_id) const;

  absl::StatusOr<uint32_t> AddNow(UserRecord record);
  // A user whose id was assigned elsewhere (read from disk, or just
  // committed): no capacity check; later AddNow ids continue after it.
  void Restore(UserRecord record);

 private:
  const size_t max_users_;
  mutable absl::Mutex mu_;
  uint32_t last_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::flat_hash_map<uint32_t, UserRecord> by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, uint32_t> by_name_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_USERS_USER_STORE_H_
