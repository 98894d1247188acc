// The shared database behind --store=postgres: a small pool of libpq
// connections served by worker threads, a bounded job queue, the versioned
// schema (migrated at startup, safe when several replicas start at once on
// an empty database), and one listening connection that carries the change
// feed (LISTEN/NOTIFY) and tells whether PostgreSQL is reachable.
//
// Why worker threads with blocking libpq calls: a queue thread must never
// wait for the database, and a job (one statement, one round trip) holding
// its own connection for its duration is the simplest correct use of libpq.
// The pool is small and bounded: pool_size connections, at most max_queued
// jobs waiting for one; a full queue answers RESOURCE_EXHAUSTED at once.
//
// Failure: the listening connection notices first when PostgreSQL goes away
// (its socket closes). It retries at once, then with a bounded backoff;
// while it cannot reconnect the database is "unavailable": every new job
// fails at once with UNAVAILABLE (a dead pool answers without waiting), the
// availability listener (health) is told, and the feed reports the break
// (watches must not silently miss books). Once it reconnects, the pool's
// connections are replaced on their next use. Writes are never retried by
// the pool (a broken connection leaves a write's outcome unknown); reads
// are, once, on a fresh connection.
#ifndef CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_DATABASE_H_
#define CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_DATABASE_H_

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
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct pg_conn;
struct pg_result;
using PGconn = pg_conn;
using PGresult = pg_result;

namespace cqmux {

struct PostgresOptions {
  // A libpq connection string or URI; empty: libpq's PG* environment
  // variables (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, ...).
  std::string conninfo;
  size_t pool_size = 4;
  // Per connection attempt (libpq's connect_timeout, whole seconds, >= 2).
  absl::Duration connect_timeout = absl::Seconds(5);
  // Server side, per statement (SET statement_timeout); 0 = none.
  absl::Duration statement_timeout = absl::Seconds(5);
  // Jobs waiting for a connection; more fail with RESOURCE_EXHAUSTED.
  size_t max_queued = 1024;
  // Longest pause between two reconnection attempts of the listener.
  absl::Duration max_backoff = absl::Seconds(2);
};

// The NOTIFY channel of committed book inserts.
inline constexpr char kBooksChannel[] = "cqmux_books";
// NOTIFY's payload limit is 8000 bytes.
inline constexpr size_t kMaxNotifyPayloadBytes = 7999;

class PostgresDatabase {
 public:
  // schema_version of the schema this build writes. 1: books, users, their
  // totals rows, sequences and the write functions.
  static constexpr int kSchemaVersion = 1;

  // Connects (every pool connection and the listener: PostgreSQL must be
  // reachable at startup), migrates the schema under an advisory lock,
  // LISTENs, and starts the threads. Refuses a schema newer than this build.
  static absl::StatusOr<std::unique_ptr<PostgresDatabase>> Open(const PostgresOptions& options);
  ~PostgresDatabase();  // Stop()s

  struct Job {
    // A worker thread, on an open connection. Returns false only when the
    // connection broke before the job got its answer and it may safely run
    // again (reads): the pool then runs it once more on a new connection,
    // or calls `fail`. A write completes itself and returns true whatever
    // happened.
    std::function<bool(PGconn*)> run;
    // Instead of `run` (or after a read's second broken connection): no
    // connection could be used (UNAVAILABLE), the queue is full
    // (RESOURCE_EXHAUSTED), or the database is stopping (UNAVAILABLE). May
    // run on the submitting thread, before Submit returns.
    std::function<void(absl::Status)> fail;
  };
  // Any thread. Exactly one of job.run / job.fail completes it.
  void Submit(Job job);

  // What the listener hears, on its thread. Set before anything can watch;
  // the callbacks must be short and must not call into the database.
  struct ChangeFeed {
    // One NOTIFY on kBooksChannel, in commit order (the same order on every
    // replica).
    std::function<void(absl::string_view payload)> notified;
    // After one or more `notified`.
    std::function<void()> flush;
    // The listening connection was lost: notifications may be missed until
    // `resumed`.
    std::function<void()> broken;
    // Listening again; only notifications from now on will come.
    std::function<void()> resumed;
  };
  void SetChangeFeed(ChangeFeed feed);

  // Called with the current availability at once, then on every change,
  // from the listener thread (health: NOT_SERVING while unreachable).
  void SetAvailabilityListener(std::function<void(bool available)> listener);
  bool available() const { return available_.load(std::memory_order_acquire); }

  // Stops taking jobs (UNAVAILABLE), answers every queued job, stops the
  // listener, closes every connection and joins every thread. Call once no
  // call can submit any more (after the engine drained). Idempotent.
  void Stop();

  // True if this process created the schema (an empty database): the books
  // service seeds the tutorial's book only then.
  bool created() const { return created_; }
  const PostgresOptions& options() const { return options_; }
  // Where it is connected (host:port/dbname), for logs.
  const std::string& where() const { return where_; }

  // Runs `sql` with `params` (text) on `conn`; a failed result becomes the
  // status of PgStatus(). For stores' jobs and their startup reads.
  static absl::StatusOr<std::shared_ptr<PGresult>> Exec(PGconn* conn, const char* sql,
                                                        const std::vector<std::string>& params,
                                                        absl::string_view what);
  // Runs a read on the first pool connection before the threads start
  // (stores loading their counters in their Open).
  absl::StatusOr<std::shared_ptr<PGresult>> StartupQuery(const char* sql, absl::string_view what);

  // Whether a failed statement broke its connection (a job's read may then
  // return false to be run again).
  static bool ConnectionBroken(PGconn* conn);

 private:
  struct Worker {
    PGconn* conn = nullptr;
    uint64_t generation = 0;  // of the outage counter it was opened in
    std::thread thread;
  };

  explicit PostgresDatabase(PostgresOptions options);
  absl::StatusOr<PGconn*> Connect(absl::string_view role);
  absl::Status Migrate(PGconn* conn);
  absl::Status Listen(PGconn* conn);
  void RunWorker(Worker* worker);
  void RunJob(Worker* worker, Job& job);
  void RunListener();
  // Waits for notifications until the connection breaks (returns its
  // error) or Stop() (returns OK).
  absl::Status ListenUntilBroken();
  void SetAvailable(bool available, const std::string& error);
  absl::Status UnavailableError() const;
  bool Stopping() const;

  const PostgresOptions options_;
  std::string where_;
  bool created_ = false;
  std::vector<std::unique_ptr<Worker>> workers_;
  PGconn* listener_ = nullptr;  // listener thread only (after Open)
  std::thread listener_thread_;
  int wake_fd_ = -1;  // eventfd: Stop() wakes the listener's poll

  std::atomic<bool> available_{true};
  // Bumped when the listener lost its connection: pool connections opened
  // before are replaced before their next job.
  std::atomic<uint64_t> generation_{0};

  mutable absl::Mutex mu_;
  absl::CondVar work_cv_;  // workers: a job or Stop()
  absl::CondVar stop_cv_;  // the listener's backoff: Stop()
  std::deque<Job> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_error_ ABSL_GUARDED_BY(mu_);

  // Held while the listener delivers, so that SetChangeFeed and
  // SetAvailabilityListener never race a delivery.
  absl::Mutex feed_mu_;
  ChangeFeed feed_ ABSL_GUARDED_BY(feed_mu_);
  std::function<void(bool)> availability_ ABSL_GUARDED_BY(feed_mu_);
};

// The status for a failed statement: ALREADY_EXISTS for a unique violation,
// UNAVAILABLE for a lost connection or a server shutting down or a
// statement timeout (retry), RESOURCE_EXHAUSTED for a full disk or an
// exhausted sequence, INTERNAL otherwise; the message names `what` and
// quotes PostgreSQL.
absl::Status PgStatus(PGconn* conn, const PGresult* result, absl::string_view what);

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_DATABASE_H_
