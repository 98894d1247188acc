// Opening, checking and migrating the database file, and the group-commit
// writer; see sqlite_database.h.
#include "server/storage/sqlite/sqlite_database.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cqmux {
namespace {

// Schema steps: kMigrations[v] takes a database from user_version v to v+1.
// Each runs in the one transaction that also sets the new user_version, so a
// crash mid-migration leaves the old version intact.
constexpr const char* kMigrations[] = {
    // 0 -> 1: books in insertion order (seq; AUTOINCREMENT so that a
    // re-inserted id is the newest), users with ids that are never reused
    // (AUTOINCREMENT keeps the high-water mark in sqlite_sequence, committed
    // with the insert).
    "CREATE TABLE books (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id INTEGER NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT NOT NULL);"
    "CREATE TABLE users (user_id INTEGER PRIMARY KEY AUTOINCREMENT,"
    " username TEXT NOT NULL UNIQUE, email TEXT NOT NULL,"
    " password_hash TEXT NOT NULL);",
    // 1 -> 2: when each row was written (unix seconds; NULL for rows of a
    // version-1 file), for people inspecting or restoring a backup.
    "ALTER TABLE books ADD COLUMN created_at INTEGER;"
    "ALTER TABLE users ADD COLUMN created_at INTEGER;",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == SqliteDatabase::kSchemaVersion);

absl::Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* error = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
  sqlite3_free(error);
  if (rc != SQLITE_OK) return SqliteError(db, rc, what);
  return absl::OkStatus();
}

// The rows of a one-column query, as text.
absl::StatusOr<std::vector<std::string>> Rows(sqlite3* db, const char* sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &raw, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, sql);
  Statement stmt(raw);
  std::vector<std::string> rows;
  while ((rc = sqlite3_step(raw)) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(raw, 0);
    rows.emplace_back(text == nullptr ? "" : reinterpret_cast<const char*>(text));
  }
  if (rc != SQLITE_DONE) return SqliteError(db, rc, sql);
  return rows;
}

}  // namespace

absl::Status SqliteError(sqlite3* db, int rc, const std::string& what) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string sqlite = absl::StrCat("sqlite: ", detail);
  switch (rc & 0xff) {
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(absl::StrCat(
          what, ": the data directory's disk is full; writes fail until space "
                "is freed, reads keep working (", sqlite, ")"));
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
      return absl::UnavailableError(absl::StrCat(
          what, ": the database file cannot be written (", sqlite, ")"));
    case SQLITE_IOERR:
      return absl::UnavailableError(absl::StrCat(
          what, ": I/O error on the data directory's disk; not stored (", sqlite, ")"));
    default:
      return absl::UnavailableError(absl::StrCat(what, " (", sqlite, ")"));
  }
}

void StatementDeleter::operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }

Statement Prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  // Our own constant SQL against our own schema: failing is a bug.
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) {
    std::fprintf(stderr, "cqmux-server: cannot prepare \"%s\": %s\n", sql, sqlite3_errmsg(db));
    std::abort();
  }
  return Statement(stmt);
}

absl::StatusOr<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(
    const SqliteOptions& options) {
  const std::string& dir = options.data_dir;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-dir: cannot create the data directory \"", dir, "\": ", ec.message()));
  }
  const int dir_fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-dir: cannot open the data directory \"", dir, "\": ", std::strerror(errno)));
  }
  // Our read cache must be the only writer's: a second server on the same
  // files would serve stale data and fight over the write lock.
  if (flock(dir_fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    close(dir_fd);
    return absl::FailedPreconditionError(absl::StrCat(
        "--data-dir: the data directory \"", dir, "\" is ",
        err == EWOULDBLOCK ? "in use by another cqmux-server"
                           : absl::StrCat("not lockable: ", std::strerror(err))));
  }
  const std::string path = dir + "/" + kFileName;
  struct stat st;
  const bool existed = stat(path.c_str(), &st) == 0 && st.st_size > 0;

  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  auto fail = [&](absl::Status status) {
    sqlite3_close(db);
    close(dir_fd);
    return status;
  };
  if (rc != SQLITE_OK) {
    return fail(absl::FailedPreconditionError(
        absl::StrCat("cannot open the database \"", path, "\": ",
                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc))));
  }
  sqlite3_extended_result_codes(db, 1);
  const std::string refuse = absl::StrCat("refusing to open \"", path, "\": ");
  const std::string damaged =
      " Move the file (and any -wal file next to it) away and restore it from a backup, "
      "or start with an empty --data-dir.";

  // A file that is not a database (or whose header is damaged) fails here.
  absl::StatusOr<std::vector<std::string>> version_rows = Rows(db, "PRAGMA user_version");
  if (!version_rows.ok() || version_rows->size() != 1) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        refuse, "it is not a cqmux database or it is corrupt (",
        version_rows.ok() ? "no user_version" : version_rows.status().message(), ").",
        damaged)));
  }
  const int version = std::atoi((*version_rows)[0].c_str());
  if (version > kSchemaVersion) {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        refuse, "its schema version is ", version, ", newer than this cqmux-server "
        "understands (", kSchemaVersion, "): it was written by a newer cqmux. Run that "
        "version, or restore a backup made by this one.")));
  }
  if (existed) {
    // Reads every page of the file (O(size)), so that a truncated or
    // damaged file is refused at startup rather than found mid-request.
    absl::StatusOr<std::vector<std::string>> check = Rows(db, "PRAGMA quick_check");
    if (!check.ok() || check->size() != 1 || (*check)[0] != "ok") {
      return fail(absl::FailedPreconditionError(absl::StrCat(
          refuse, "it is corrupt or truncated (quick_check: ",
          !check.ok() ? std::string(check.status().message())
                      : (check->empty() ? std::string("no answer") : (*check)[0]),
          ").", damaged)));
    }
  }
  absl::StatusOr<std::vector<std::string>> mode = Rows(db, "PRAGMA journal_mode=WAL");
  if (!mode.ok() || mode->size() != 1 || (*mode)[0] != "wal") {
    return fail(absl::FailedPreconditionError(absl::StrCat(
        refuse, "cannot switch it to WAL mode (",
        mode.ok() ? "refused" : mode.status().message(), ")")));
  }
  const char* sync = options.durability == Durability::kFsync ? "PRAGMA synchronous=FULL"
                                                               : "PRAGMA synchronous=NORMAL";
  if (absl::Status s = Exec(db, sync, "setting the durability"); !s.ok()) return fail(s);

  if (version < kSchemaVersion) {
    if (version == 0) {
      // Version 0 is a new file, unless someone else's tables are in it.
      absl::StatusOr<std::vector<std::string>> tables =
          Rows(db, "SELECT name FROM sqlite_master");
      if (!tables.ok() || !tables->empty()) {
        return fail(absl::FailedPreconditionError(absl::StrCat(
            refuse, "it holds tables but no cqmux schema version: not a cqmux database.",
            damaged)));
      }
    }
    std::string sql = "BEGIN IMMEDIATE;";
    for (int v = version; v < kSchemaVersion; ++v) sql += kMigrations[v];
    sql += absl::StrCat("PRAGMA user_version=", kSchemaVersion, ";COMMIT;");
    if (absl::Status s = Exec(db, sql, absl::StrCat("migrating \"", path, "\" from schema ",
                                                    version, " to ", kSchemaVersion));
        !s.ok()) {
      if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      return fail(s);
    }
  }
  return std::unique_ptr<SqliteDatabase>(
      new SqliteDatabase(path, dir_fd, db, /*created=*/version == 0, options.max_group));
}

SqliteDatabase::SqliteDatabase(std::string path, int dir_fd, sqlite3* db, bool created,
                               size_t max_group)
    : path_(std::move(path)), dir_fd_(dir_fd), db_(db), created_(created),
      max_group_(max_group == 0 ? 1 : max_group), writer_([this] { Run(); }) {}

SqliteDatabase::~SqliteDatabase() {
  Stop();
  // Statements of the stores are finalized by now (the stores go first);
  // close_v2 waits for any that are not.
  sqlite3_close_v2(db_);
  close(dir_fd_);  // releases the directory lock
}

void SqliteDatabase::AddGroupObserver(GroupObserver* observer) {
  observers_.push_back(observer);
}

void SqliteDatabase::Submit(Write write) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(write));
      return;
    }
  }
  write.finish(absl::UnavailableError("server shutting down: the write was not stored"));
}

void SqliteDatabase::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
}

void SqliteDatabase::Run() {
  std::vector<Write> group;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](SqliteDatabase* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu_) {
            return d->stopping_ || !d->queue_.empty();
          },
          this));
      // Stopping: what was queued is still committed, then the loop ends.
      if (queue_.empty()) return;
      const size_t n = std::min(queue_.size(), max_group_);
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitGroup(&group);
    group.clear();
  }
}

void SqliteDatabase::CommitGroup(std::vector<Write>* group) {
  for (GroupObserver* observer : observers_) observer->GroupBegan();
  std::vector<absl::Status> results(group->size());
  absl::Status group_error = Exec(db_, "BEGIN IMMEDIATE", "cannot start a transaction");
  if (group_error.ok()) {
    for (size_t i = 0; i < group->size(); ++i) {
      bool failed = false;
      results[i] = (*group)[i].apply(db_, &failed);
      if (failed) {
        group_error = results[i];
        break;
      }
    }
    // With synchronous=FULL the commit returns once the WAL is fsynced.
    if (group_error.ok()) group_error = Exec(db_, "COMMIT", "cannot commit the write");
    if (!group_error.ok() && !sqlite3_get_autocommit(db_)) {
      // Nothing of the group stays; ROLLBACK itself does not need space.
      sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
  }
  const bool committed = group_error.ok();
  if (committed) {
    commits_.fetch_add(1, std::memory_order_relaxed);
    committed_writes_.fetch_add(group->size(), std::memory_order_relaxed);
  }
  for (size_t i = 0; i < group->size(); ++i) {
    (*group)[i].finish(committed ? std::move(results[i]) : group_error);
  }
  for (GroupObserver* observer : observers_) observer->GroupEnded(committed);
}

}  // namespace cqmux
