// Users in PostgreSQL; see postgres_user_store.h.
#include "server/storage/postgres/postgres_user_store.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/common/quote.h"

namespace cqmux {

absl::StatusOr<std::unique_ptr<PostgresUserStore>> PostgresUserStore::Open(PostgresDatabase* db,
                                                                         size_t max_users) {
  std::unique_ptr<PostgresUserStore> store(new PostgresUserStore(db, max_users));
  absl::StatusOr<std::shared_ptr<PGresult>> totals =
      db->StartupQuery("SELECT users FROM user_totals", "reading the user totals");
  if (!totals.ok()) return totals.status();
  if (PQntuples(totals->get()) == 1) store->Seen(std::atoll(PQgetvalue(totals->get(), 0, 0)));
  return store;
}

void PostgresUserStore::Seen(int64_t users) {
  // Users are never deleted: the largest count seen is the newest.
  size_t seen = count_.load(std::memory_order_relaxed);
  const size_t now = static_cast<size_t>(users);
  while (now > seen && !count_.compare_exchange_weak(seen, now, std::memory_order_relaxed)) {
  }
}

void PostgresUserStore::Add(UserRecord record, AddDone done) {
  std::vector<std::string> params = {record.username, record.email, record.password_hash,
                                     absl::StrCat(max_users_)};
  std::string name = std::move(record.username);
  db_->Submit(PostgresDatabase::Job{
      [this, params = std::move(params), name = std::move(name), done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res = PostgresDatabase::Exec(
            conn, "SELECT o_outcome, o_user_id, o_users FROM cqmux_add_user($1, $2, $3, $4)",
            params, absl::StrCat("creating user ", QuoteInput(name)));
        if (!res.ok()) {
          if (res.status().code() == absl::StatusCode::kAlreadyExists) {
            done(absl::AlreadyExistsError(
                absl::StrCat("username ", QuoteInput(name), " is already taken")));
          } else {
            done(res.status());
          }
          return true;
        }
        PGresult* r = res->get();
        const std::string outcome = PQgetvalue(r, 0, 0);
        Seen(std::atoll(PQgetvalue(r, 0, 2)));
        if (outcome == "ok") {
          done(static_cast<uint32_t>(std::strtoull(PQgetvalue(r, 0, 1), nullptr, 10)));
        } else if (outcome == "exists") {
          done(absl::AlreadyExistsError(
              absl::StrCat("username ", QuoteInput(name), " is already taken")));
        } else {
          done(absl::ResourceExhaustedError(
              absl::StrCat("the user store is full (", max_users_, " users, --max-users)")));
        }
        return true;
      },
      [done](absl::Status error) { done(std::move(error)); }});
}

void PostgresUserStore::Find(const char* sql, std::string key, std::string what,
                             FindDone done) const {
  db_->Submit(PostgresDatabase::Job{
      [sql, key = std::move(key), what = std::move(what), done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res =
            PostgresDatabase::Exec(conn, sql, {key}, what);
        if (!res.ok()) {
          if (PostgresDatabase::ConnectionBroken(conn)) return false;  // once more
          done(res.status());
          return true;
        }
        PGresult* r = res->get();
        if (PQntuples(r) == 0) {
          done(std::optional<UserRecord>());
          return true;
        }
        UserRecord user;
        user.user_id = static_cast<uint32_t>(std::strtoull(PQgetvalue(r, 0, 0), nullptr, 10));
        user.username = PQgetvalue(r, 0, 1);
        user.email = PQgetvalue(r, 0, 2);
        user.password_hash = PQgetvalue(r, 0, 3);
        done(std::optional<UserRecord>(std::move(user)));
        return true;
      },
      [done](absl::Status error) { done(std::move(error)); }});
}

void PostgresUserStore::FindByName(absl::string_view username, FindDone done) const {
  Find("SELECT user_id, username, email, password_hash FROM users WHERE username = $1",
       std::string(username), absl::StrCat("looking up user ", QuoteInput(username)),
       std::move(done));
}

void PostgresUserStore::FindById(uint32_t user_id, FindDone done) const {
  Find("SELECT user_id, username, email, password_hash FROM users WHERE user_id = $1",
       absl::StrCat(user_id), absl::StrCat("looking up user id ", user_id), std::move(done));
}

}  // namespace cqmux
