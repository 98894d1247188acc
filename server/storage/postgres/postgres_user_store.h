// Users in PostgreSQL: the UserStore shared by several cqmux replicas.
// user_id comes from a sequence (unique across replicas, increasing, never
// reused: an id is spent even by a transaction that then fails, so ids may
// have gaps), usernames are UNIQUE in the table, and the user count (for
// --max-users) is a totals row locked by every insert. Lookups read
// PostgreSQL through the pool (see postgres_book_store.h for why there is no
// cache).
#ifndef CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_USER_STORE_H_
#define CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_USER_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "server/services/users/user_store.h"
#include "server/storage/postgres/postgres_database.h"

namespace cqmux {

class PostgresUserStore final : public UserStore {
 public:
  static absl::StatusOr<std::unique_ptr<PostgresUserStore>> Open(PostgresDatabase* db,
                                                                size_t max_users);

  void Add(UserRecord record, AddDone done) override;
  // Never known without a round trip: Add decides (after the hash).
  bool KnownTaken(absl::string_view /*username*/) const override { return false; }
  void FindByName(absl::string_view username, FindDone done) const override;
  void FindById(uint32_t user_id, FindDone done) const override;
  // The most users this replica has seen (its own inserts, startup):
  // metrics only.
  size_t size() const override { return count_.load(std::memory_order_relaxed); }

 private:
  PostgresUserStore(PostgresDatabase* db, size_t max_users) : db_(db), max_users_(max_users) {}
  void Find(const char* sql, std::string key, std::string what, FindDone done) const;
  void Seen(int64_t users);

  PostgresDatabase* const db_;
  const size_t max_users_;
  std::atomic<size_t> count_{0};
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_USER_STORE_H_
