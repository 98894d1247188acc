// The embedded database behind the durable stores: one SQLite file in WAL
// mode under --data-dir, its versioned schema, and the single writer thread
// that commits writes in groups.
//
// Group commit: writes from any thread are queued; the writer takes all that
// arrived while its previous commit ran and commits them in one transaction
// with one fsync (synchronous=FULL in WAL mode syncs the WAL at each commit).
// So at 100 writes in flight a commit carries tens of them, and a queue
// thread never waits for the disk: each write's completion runs on the
// writer thread once its group is durable (or failed), and wakes its call.
//
// A write that fails on its own (a duplicate id: SQLite undoes just that
// statement) gets its own error; a disk error (full, I/O, file became
// read-only) fails the whole group: it is rolled back, every write in it is
// answered with the error, and the writer goes on with the next group, so
// writes work again once the disk does. Nothing of a failed group was
// acknowledged.
#ifndef CQMUX_SERVER_STORAGE_SQLITE_SQLITE_DATABASE_H_
#define CQMUX_SERVER_STORAGE_SQLITE_SQLITE_DATABASE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

struct sqlite3;
struct sqlite3_stmt;

namespace cqmux {

enum class Durability {
  // A write is answered once its group's commit was fsynced (WAL mode,
  // synchronous=FULL): it survives a process crash and a power cut.
  kFsync,
  // synchronous=NORMAL: commits are written to the WAL (the OS has them) but
  // fsynced only at checkpoints. Survives a process crash, not a power cut
  // or kernel crash, which may lose the last commits (never corrupt the
  // file: SQLite's WAL guarantees that).
  kOs,
};

struct SqliteOptions {
  std::string data_dir;
  Durability durability = Durability::kFsync;
  // Most writes in one transaction, so that one group's latency stays
  // bounded under a flood.
  size_t max_group = 1024;
};

// Writer-thread callbacks around each group, for stores that keep counters
// (capacity) that a failed group must roll back.
class GroupObserver {
 public:
  virtual void GroupBegan() = 0;
  virtual void GroupEnded(bool committed) = 0;

 protected:
  ~GroupObserver() = default;
};

class SqliteDatabase {
 public:
  // The file name under the data directory.
  static constexpr char kFileName[] = "cqmux.db";
  // PRAGMA user_version of the schema this build writes. 1: books and users;
  // 2: created_at (unix seconds) on both.
  static constexpr int kSchemaVersion = 2;

  // Opens (creating the directory and the file if needed) and checks the
  // database: refuses a file from a newer cqmux, one that is not a cqmux
  // database, and a corrupt or truncated one (PRAGMA quick_check), with a
  // message naming the file; migrates an older schema. Takes an exclusive
  // lock on the directory: a second server on the same data fails at once.
  // Starts the writer thread.
  static absl::StatusOr<std::unique_ptr<SqliteDatabase>> Open(const SqliteOptions& options);
  ~SqliteDatabase();  // Stop()s

  struct Write {
    // Writer thread, inside the group's transaction. Returns the write's
    // own result; sets *group_failed (and returns the disk error, see
    // SqliteError) when the group cannot commit.
    std::function<absl::Status(sqlite3*, bool* group_failed)> apply;
    // Writer thread, after the group committed (status: apply's) or failed
    // (status: the group's error). Runs in submission order.
    std::function<void(absl::Status)> finish;
  };

  // Any thread. After Stop() began, `finish` runs at once with UNAVAILABLE.
  void Submit(Write write);

  // Commits everything already submitted, then stops the writer. Call once
  // the engine has drained (no call can still submit). Idempotent.
  void Stop();

  // Before the first Submit (store construction).
  void AddGroupObserver(GroupObserver* observer);
  // The connection, for stores loading their cache before the first Submit,
  // and for the writer thread.
  sqlite3* db() const { return db_; }
  // True if this process created the file (a new data directory).
  bool created() const { return created_; }
  const std::string& path() const { return path_; }

  // Durable commits so far, and the writes they carried: writes per fsync
  // is their ratio (the "coalesced writes" metric).
  uint64_t commits() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t committed_writes() const {
    return committed_writes_.load(std::memory_order_relaxed);
  }

 private:
  SqliteDatabase(std::string path, int dir_fd, sqlite3* db, bool created, size_t max_group);
  void Run();
  void CommitGroup(std::vector<Write>* group);

  const std::string path_;
  const int dir_fd_;  // holds the data directory's lock
  sqlite3* const db_;
  const bool created_;
  const size_t max_group_;
  std::vector<GroupObserver*> observers_;  // fixed before the first Submit
  absl::Mutex mu_;
  std::deque<Write> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> committed_writes_{0};
  std::thread writer_;
};

// The status for a failed SQLite call: RESOURCE_EXHAUSTED for a full disk,
// UNAVAILABLE for I/O errors, a read-only or vanished file, and anything
// else unexpected; the message says what and which file.
absl::Status SqliteError(sqlite3* db, int rc, const std::string& what);

// Prepared statements owned by the writer thread.
struct StatementDeleter {
  void operator()(sqlite3_stmt* stmt) const;
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;
Statement Prepare(sqlite3* db, const char* sql);

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_SQLITE_SQLITE_DATABASE_H_
