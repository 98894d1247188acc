// Users on disk with an in-memory read cache; see sqlite_user_store.h.
#include "server/storage/sqlite/sqlite_user_store.h"

#include <sqlite3.h>

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cqmux {

SqliteUserStore::SqliteUserStore(SqliteDatabase* db, size_t max_users)
    : db_(db), max_users_(max_users), cache_(std::numeric_limits<size_t>::max()),
      insert_(Prepare(db->db(),
                      "INSERT INTO users (username, email, password_hash, created_at) "
                      "VALUES (?, ?, ?, unixepoch())")) {
  db_->AddGroupObserver(this);
}

absl::StatusOr<std::unique_ptr<SqliteUserStore>> SqliteUserStore::Open(SqliteDatabase* db,
                                                                      size_t max_users) {
  std::unique_ptr<SqliteUserStore> store(new SqliteUserStore(db, max_users));
  Statement all = Prepare(
      db->db(), "SELECT user_id, username, email, password_hash FROM users ORDER BY user_id");
  int rc;
  while ((rc = sqlite3_step(all.get())) == SQLITE_ROW) {
    UserRecord user;
    user.user_id = static_cast<uint32_t>(sqlite3_column_int64(all.get(), 0));
    user.username = reinterpret_cast<const char*>(sqlite3_column_text(all.get(), 1));
    user.email = reinterpret_cast<const char*>(sqlite3_column_text(all.get(), 2));
    user.password_hash = reinterpret_cast<const char*>(sqlite3_column_text(all.get(), 3));
    store->cache_.Restore(std::move(user));
    ++store->count_;
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(db->db(), rc, absl::StrCat("reading the users of \"", db->path(), "\""));
  }
  return store;
}

void SqliteUserStore::Add(UserRecord record, AddDone done) {
  auto user = std::make_shared<UserRecord>(std::move(record));
  auto id = std::make_shared<uint32_t>(0);  // set by apply, read by finish (writer thread)
  db_->Submit(SqliteDatabase::Write{
      [this, user, id](sqlite3* db, bool* group_failed) -> absl::Status {
        if (count_ >= max_users_) {
          return absl::ResourceExhaustedError(
              absl::StrCat("the user store is full (", max_users_, " users)"));
        }
        sqlite3_stmt* s = insert_.get();
        sqlite3_bind_text(s, 1, user->username.data(), static_cast<int>(user->username.size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(s, 2, user->email.data(), static_cast<int>(user->email.size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(s, 3, user->password_hash.data(),
                          static_cast<int>(user->password_hash.size()), SQLITE_STATIC);
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
          return absl::AlreadyExistsError(
              absl::StrCat("username \"", user->username, "\" is already taken"));
        }
        if (rc != SQLITE_DONE) {
          *group_failed = true;
          return SqliteError(db, rc, "user not stored");
        }
        *id = static_cast<uint32_t>(sqlite3_last_insert_rowid(db));
        ++count_;
        return absl::OkStatus();
      },
      [this, user, id, done = std::move(done)](absl::Status status) {
        if (!status.ok()) {
          done(std::move(status));
          return;
        }
        user->user_id = *id;
        cache_.Restore(*user);
        done(*id);
      }});
}

}  // namespace cqmux
