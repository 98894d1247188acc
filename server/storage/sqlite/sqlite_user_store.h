// Users on disk: the UserStore backed by SqliteDatabase, with an in-memory
// read cache kept in commit order (the reasons are those of
// sqlite_book_store.h). SQLite assigns user_id (AUTOINCREMENT: increasing,
// and never reused, crashes and restarts included, because the high-water
// mark is committed with each insert); usernames are unique by constraint,
// so the order of commits decides who gets a contested name.
#ifndef CQMUX_SERVER_STORAGE_SQLITE_SQLITE_USER_STORE_H_
#define CQMUX_SERVER_STORAGE_SQLITE_SQLITE_USER_STORE_H_

#include <cstddef>
#include <memory>
#include <optional>

#include "absl/status/statusor.h"
#include "server/services/users/user_store.h"
#include "server/storage/sqlite/sqlite_database.h"

namespace cqmux {

class SqliteUserStore final : public UserStore, private GroupObserver {
 public:
  // Loads every stored user into the cache (before `db`'s first write).
  static absl::StatusOr<std::unique_ptr<SqliteUserStore>> Open(SqliteDatabase* db,
                                                              size_t max_users);

  void Add(UserRecord record, AddDone done) override;
  bool KnownTaken(absl::string_view username) const override {
    return cache_.Contains(username);
  }
  // Inline, from the cache.
  void FindByName(absl::string_view username, FindDone done) const override {
    done(cache_.FindByName(username));
  }
  void FindById(uint32_t user_id, FindDone done) const override {
    done(cache_.FindById(user_id));
  }
  size_t size() const override { return cache_.size(); }

 private:
  SqliteUserStore(SqliteDatabase* db, size_t max_users);
  void GroupBegan() override { group_count_ = count_; }
  void GroupEnded(bool committed) override {
    if (!committed) count_ = group_count_;
  }

  SqliteDatabase* const db_;
  const size_t max_users_;
  InMemoryUserStore cache_;
  size_t count_ = 0;  // writer thread only, as in SqliteBookStore
  size_t group_count_ = 0;
  Statement insert_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_SQLITE_SQLITE_USER_STORE_H_
