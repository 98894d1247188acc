// Connections, schema migrations, the worker pool and the listener of the
// PostgreSQL store; see postgres_database.h.
#include "server/storage/postgres/postgres_database.h"

#include <libpq-fe.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "server/common/log.h"

namespace cqmux {
namespace {

// Any fixed key: the advisory lock that serialises migrations of replicas
// starting at once on the same database.
constexpr int64_t kMigrationLockKey = 0x6371'6d75'7800'0001;  // "cqmux" 1

// Schema steps: kMigrations[v] takes the schema from version v to v+1, in
// the one transaction (holding the advisory lock) that records the new
// version.
//
// Books: `id` is the PRIMARY KEY (one id through many replicas at once:
// exactly one insert wins). `seq` orders List. `book_totals` is one row
// that every book write locks first (SELECT ... FOR UPDATE): capacity
// (--max-books and List's byte bound) is decided against committed totals
// across all replicas, and because the lock is held until COMMIT, seq order,
// commit order and NOTIFY order are one order. Its cost: book writes of all
// replicas are serialised, one transaction (one WAL flush) at a time.
//
// Users: user_id from a sequence (unique and never reused across replicas;
// the totals row lock, taken first, also makes ids increase in commit
// order), username UNIQUE.
//
// The write functions take the lock, check, write and (books) NOTIFY in one
// statement: one round trip, one transaction.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE books (
  id integer PRIMARY KEY,
  seq bigint NOT NULL UNIQUE,
  title text NOT NULL,
  author text NOT NULL,
  list_bytes integer NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE SEQUENCE book_seq;
CREATE TABLE book_totals (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  books bigint NOT NULL,
  list_bytes bigint NOT NULL,
  version bigint NOT NULL);
INSERT INTO book_totals VALUES (true, 0, 0, 0);
CREATE SEQUENCE user_id_seq MINVALUE 1 MAXVALUE 4294967295 NO CYCLE;
CREATE TABLE users (
  user_id bigint PRIMARY KEY,
  username text NOT NULL UNIQUE,
  email text NOT NULL,
  password_hash text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE user_totals (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  users bigint NOT NULL);
INSERT INTO user_totals VALUES (true, 0);

CREATE FUNCTION cqmux_insert_book(p_id integer, p_title text, p_author text,
    p_list_bytes integer, p_max_books bigint, p_max_list_bytes bigint, p_payload text)
  RETURNS TABLE (o_outcome text, o_books bigint, o_version bigint)
  LANGUAGE plpgsql AS $$
DECLARE t book_totals%ROWTYPE;
BEGIN
  SELECT * INTO t FROM book_totals FOR UPDATE;
  IF EXISTS (SELECT 1 FROM books b WHERE b.id = p_id) THEN
    RETURN QUERY SELECT 'exists'::text, t.books, t.version;
    RETURN;
  END IF;
  IF t.books >= p_max_books THEN
    RETURN QUERY SELECT 'full'::text, t.books, t.version;
    RETURN;
  END IF;
  IF t.list_bytes + p_list_bytes > p_max_list_bytes THEN
    RETURN QUERY SELECT 'list_full'::text, t.books, t.version;
    RETURN;
  END IF;
  INSERT INTO books (id, seq, title, author, list_bytes)
    VALUES (p_id, nextval('book_seq'), p_title, p_author, p_list_bytes);
  UPDATE book_totals SET books = t.books + 1, list_bytes = t.list_bytes + p_list_bytes,
    version = t.version + 1;
  PERFORM pg_notify('cqmux_books', p_payload);
  RETURN QUERY SELECT 'ok'::text, t.books + 1, t.version + 1;
END $$;

CREATE FUNCTION cqmux_delete_book(p_id integer)
  RETURNS TABLE (o_outcome text, o_books bigint, o_version bigint)
  LANGUAGE plpgsql AS $$
DECLARE t book_totals%ROWTYPE; v_bytes integer;
BEGIN
  SELECT * INTO t FROM book_totals FOR UPDATE;
  DELETE FROM books b WHERE b.id = p_id RETURNING b.list_bytes INTO v_bytes;
  IF NOT FOUND THEN
    RETURN QUERY SELECT 'not_found'::text, t.books, t.version;
    RETURN;
  END IF;
  UPDATE book_totals SET books = t.books - 1, list_bytes = t.list_bytes - v_bytes,
    version = t.version + 1;
  RETURN QUERY SELECT 'ok'::text, t.books - 1, t.version + 1;
END $$;

CREATE FUNCTION cqmux_add_user(p_username text, p_email text, p_hash text, p_max_users bigint)
  RETURNS TABLE (o_outcome text, o_user_id bigint, o_users bigint)
  LANGUAGE plpgsql AS $$
DECLARE t user_totals%ROWTYPE; v_id bigint;
BEGIN
  SELECT * INTO t FROM user_totals FOR UPDATE;
  IF EXISTS (SELECT 1 FROM users u WHERE u.username = p_username) THEN
    RETURN QUERY SELECT 'exists'::text, 0::bigint, t.users;
    RETURN;
  END IF;
  IF t.users >= p_max_users THEN
    RETURN QUERY SELECT 'full'::text, 0::bigint, t.users;
    RETURN;
  END IF;
  v_id := nextval('user_id_seq');
  INSERT INTO users (user_id, username, email, password_hash)
    VALUES (v_id, p_username, p_email, p_hash);
  UPDATE user_totals SET users = t.users + 1;
  RETURN QUERY SELECT 'ok'::text, v_id, t.users + 1;
END $$;
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) == PostgresDatabase::kSchemaVersion);

std::string ErrorText(PGconn* conn) {
  std::string text = conn != nullptr ? PQerrorMessage(conn) : "out of memory";
  return std::string(absl::StripTrailingAsciiWhitespace(text));
}

// Connection keywords: our defaults first (a conninfo may override them),
// then the conninfo (expanded), then what the flags decide.
PGconn* ConnectWith(const PostgresOptions& options, absl::string_view role) {
  const std::string timeout = absl::StrCat(
      std::max<int64_t>(2, absl::ToInt64Seconds(absl::Ceil(options.connect_timeout,
                                                          absl::Seconds(1)))));
  const std::string application = absl::StrCat("cqmux-", role);
  const char* keywords[] = {"application_name", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "dbname", "connect_timeout", nullptr};
  const char* values[] = {application.c_str(), "10", "3", "3",
                          options.conninfo.empty() ? nullptr : options.conninfo.c_str(),
                          timeout.c_str(), nullptr};
  if (options.conninfo.empty()) {
    // A null value ends the arrays early: leave dbname out instead.
    keywords[4] = "connect_timeout";
    values[4] = timeout.c_str();
    keywords[5] = nullptr;
    values[5] = nullptr;
  }
  return PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
}

}  // namespace

absl::Status PgStatus(PGconn* conn, const PGresult* result, absl::string_view what) {
  const char* state = result != nullptr ? PQresultErrorField(result, PG_DIAG_SQLSTATE) : nullptr;
  std::string detail = result != nullptr ? PQresultErrorMessage(result) : "";
  if (detail.empty()) detail = ErrorText(conn);
  detail = std::string(absl::StripTrailingAsciiWhitespace(detail));
  const std::string sqlstate = state != nullptr ? state : "";
  const std::string message = absl::StrCat(what, ": postgres: ", detail,
                                           sqlstate.empty() ? "" : " (SQLSTATE ",
                                           sqlstate, sqlstate.empty() ? "" : ")");
  if (sqlstate.empty() || PQstatus(conn) == CONNECTION_BAD) {
    return absl::UnavailableError(absl::StrCat(
        message, "; lost the connection to PostgreSQL (a write may or may not have been "
                 "applied), retry"));
  }
  if (sqlstate == "23505") return absl::AlreadyExistsError(message);
  if (absl::StartsWith(sqlstate, "08") || absl::StartsWith(sqlstate, "57P") ||
      sqlstate == "25006" || sqlstate == "40001" || sqlstate == "40P01") {
    return absl::UnavailableError(absl::StrCat(message, "; retry"));
  }
  if (sqlstate == "57014") {
    return absl::UnavailableError(
        absl::StrCat(message, "; the statement ran out of --postgres-statement-timeout, retry"));
  }
  if (absl::StartsWith(sqlstate, "53") || sqlstate == "2200H") {
    return absl::ResourceExhaustedError(message);
  }
  // Data exceptions: a value PostgreSQL cannot store (e.g. a NUL in text).
  if (absl::StartsWith(sqlstate, "22")) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::shared_ptr<PGresult>> PostgresDatabase::Exec(
    PGconn* conn, const char* sql, const std::vector<std::string>& params, absl::string_view what) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const std::string& p : params) values.push_back(p.c_str());
  // Without parameters: PQexec, which also runs several statements (the
  // migrations).
  std::shared_ptr<PGresult> result(
      params.empty() ? PQexec(conn, sql)
                     : PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0),
      PQclear);
  const ExecStatusType status = result ? PQresultStatus(result.get()) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
    return PgStatus(conn, result.get(), what);
  }
  return result;
}

bool PostgresDatabase::ConnectionBroken(PGconn* conn) {
  return conn == nullptr || PQstatus(conn) == CONNECTION_BAD;
}

PostgresDatabase::PostgresDatabase(PostgresOptions options) : options_(std::move(options)) {}

absl::StatusOr<PGconn*> PostgresDatabase::Connect(absl::string_view role) {
  PGconn* conn = ConnectWith(options_, role);
  if (PQstatus(conn) != CONNECTION_OK) {
    absl::Status error = absl::UnavailableError(
        absl::StrCat("cannot connect to PostgreSQL (",
                     options_.conninfo.empty() ? "PG* environment variables"
                                               : "--postgres connection string",
                     "): ", ErrorText(conn)));
    PQfinish(conn);
    return error;
  }
  // NOTICEs (e.g. "already exists, skipping") are not for the server's
  // output.
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);
  // Acknowledge a write only once its commit is durable, whatever the
  // server's default; bound every statement.
  const std::string setup = absl::StrCat(
      "SET synchronous_commit = on; SET statement_timeout = ",
      absl::ToInt64Milliseconds(options_.statement_timeout));
  PGresult* res = PQexec(conn, setup.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  absl::Status error = ok ? absl::OkStatus() : PgStatus(conn, res, "setting up a connection");
  PQclear(res);
  if (!ok) {
    PQfinish(conn);
    return error;
  }
  return conn;
}

absl::Status PostgresDatabase::Migrate(PGconn* conn) {
  auto exec = [conn](const std::string& sql, absl::string_view what) {
    return Exec(conn, sql.c_str(), {}, what).status();
  };
  if (absl::Status s = exec("BEGIN", "migrating the schema"); !s.ok()) return s;
  absl::Status status = [&]() -> absl::Status {
    // First, before any DDL: replicas starting at once on an empty database
    // take turns here, and each later one sees the finished schema.
    if (absl::Status s = exec(absl::StrCat("SELECT pg_advisory_xact_lock(", kMigrationLockKey, ")"),
                              "taking the migration lock");
        !s.ok()) {
      return s;
    }
    if (absl::Status s = exec("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)",
                              "creating schema_version");
        !s.ok()) {
      return s;
    }
    absl::StatusOr<std::shared_ptr<PGresult>> rows =
        Exec(conn, "SELECT version FROM schema_version", {}, "reading schema_version");
    if (!rows.ok()) return rows.status();
    int version = 0;
    if (PQntuples(rows->get()) > 1) {
      return absl::FailedPreconditionError(
          "schema_version has more than one row: not a cqmux database, or damaged");
    }
    if (PQntuples(rows->get()) == 1) version = std::atoi(PQgetvalue(rows->get(), 0, 0));
    if (version > kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat(
          "the database's schema is version ", version, ", newer than this cqmux-server's (",
          kSchemaVersion, "): upgrade cqmux-server, or point --postgres at another database"));
    }
    if (version == 0) {
      // An empty database (or someone else's with our table names).
      absl::StatusOr<std::shared_ptr<PGresult>> taken = Exec(
          conn, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND "
                "tablename IN ('books', 'users', 'book_totals', 'user_totals')",
          {}, "checking for existing tables");
      if (!taken.ok()) return taken.status();
      if (std::atoi(PQgetvalue(taken->get(), 0, 0)) != 0) {
        return absl::FailedPreconditionError(
            "the database has tables named books or users but no cqmux schema_version: "
            "not a cqmux database; point --postgres at an empty database");
      }
      created_ = true;
    }
    for (int v = version; v < kSchemaVersion; ++v) {
      if (absl::Status s = exec(kMigrations[v], absl::StrCat("migrating to schema version ", v + 1));
          !s.ok()) {
        return s;
      }
    }
    if (version != kSchemaVersion) {
      if (absl::Status s = exec(absl::StrCat("DELETE FROM schema_version; INSERT INTO "
                                             "schema_version VALUES (",
                                             kSchemaVersion, ")"),
                                "recording the schema version");
          !s.ok()) {
        return s;
      }
    }
    return absl::OkStatus();
  }();
  if (!status.ok()) {
    created_ = false;
    exec("ROLLBACK", "rolling back the migration").IgnoreError();
    return status;
  }
  return exec("COMMIT", "committing the migration");
}

absl::Status PostgresDatabase::Listen(PGconn* conn) {
  return Exec(conn, absl::StrCat("LISTEN ", kBooksChannel).c_str(), {}, "LISTEN").status();
}

absl::StatusOr<std::unique_ptr<PostgresDatabase>> PostgresDatabase::Open(
    const PostgresOptions& options) {
  if (options.pool_size == 0) {
    return absl::InvalidArgumentError("--postgres-pool-size must be at least 1");
  }
  std::unique_ptr<PostgresDatabase> db(new PostgresDatabase(options));
  db->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (db->wake_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", strerror(errno)));
  for (size_t i = 0; i < options.pool_size; ++i) {
    absl::StatusOr<PGconn*> conn = db->Connect("pool");
    if (!conn.ok()) return conn.status();  // the destructor closes the others
    auto worker = std::make_unique<Worker>();
    worker->conn = *conn;
    db->workers_.push_back(std::move(worker));
  }
  PGconn* first = db->workers_[0]->conn;
  db->where_ = absl::StrCat(PQhost(first), ":", PQport(first), "/", PQdb(first));
  if (absl::Status migrated = db->Migrate(first); !migrated.ok()) {
    return absl::Status(migrated.code(),
                        absl::StrCat("PostgreSQL store ", db->where_, ": ", migrated.message()));
  }
  absl::StatusOr<PGconn*> listener = db->Connect("listener");
  if (!listener.ok()) return listener.status();
  db->listener_ = *listener;
  if (absl::Status s = db->Listen(db->listener_); !s.ok()) return s;
  for (auto& worker : db->workers_) {
    Worker* w = worker.get();
    w->thread = std::thread([db = db.get(), w] { db->RunWorker(w); });
  }
  db->listener_thread_ = std::thread([db = db.get()] { db->RunListener(); });
  return db;
}

absl::StatusOr<std::shared_ptr<PGresult>> PostgresDatabase::StartupQuery(const char* sql,
                                                                         absl::string_view what) {
  // Before Open returned, nobody else uses the first connection; after, the
  // stores no longer call this. A short lock keeps it honest anyway.
  absl::MutexLock lock(&mu_);
  return Exec(workers_[0]->conn, sql, {}, what);
}

PostgresDatabase::~PostgresDatabase() {
  Stop();
  for (auto& worker : workers_) {
    if (worker->conn != nullptr) PQfinish(worker->conn);
  }
  if (listener_ != nullptr) PQfinish(listener_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

bool PostgresDatabase::Stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

absl::Status PostgresDatabase::UnavailableError() const {
  absl::MutexLock lock(&mu_);
  return absl::UnavailableError(absl::StrCat(
      "PostgreSQL is unreachable (", last_error_,
      "); cqmux reconnects by itself, retry later"));
}

void PostgresDatabase::Submit(Job job) {
  absl::Status refused;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) {
      refused = absl::UnavailableError("server shutting down: the store takes no more requests");
    } else if (!available()) {
      refused = absl::UnavailableError(absl::StrCat(
          "PostgreSQL is unreachable (", last_error_,
          "); cqmux reconnects by itself, retry later"));
    } else if (queue_.size() >= options_.max_queued) {
      refused = absl::ResourceExhaustedError(absl::StrCat(
          "PostgreSQL store busy: ", queue_.size(),
          " requests already wait for a connection (--postgres-pool-size), retry"));
    } else {
      queue_.push_back(std::move(job));
      work_cv_.Signal();
      return;
    }
  }
  job.fail(std::move(refused));
}

void PostgresDatabase::RunWorker(Worker* worker) {
  for (;;) {
    Job job;
    {
      absl::MutexLock lock(&mu_);
      while (queue_.empty() && !stopping_) work_cv_.Wait(&mu_);
      if (queue_.empty()) return;  // stopping, and everything was answered
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    RunJob(worker, job);
  }
}

void PostgresDatabase::RunJob(Worker* worker, Job& job) {
  // A dead pool answers at once: the listener decides when the database is
  // back, not each job's connect timeout.
  if (!available()) {
    job.fail(UnavailableError());
    return;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    const uint64_t generation = generation_.load(std::memory_order_acquire);
    if (worker->conn != nullptr &&
        (worker->generation != generation || PQstatus(worker->conn) != CONNECTION_OK)) {
      PQfinish(worker->conn);
      worker->conn = nullptr;
    }
    if (worker->conn == nullptr) {
      absl::StatusOr<PGconn*> conn = Connect("pool");
      if (!conn.ok()) {
        job.fail(conn.status());
        return;
      }
      worker->conn = *conn;
      worker->generation = generation;
    }
    if (job.run(worker->conn)) {
      if (PQstatus(worker->conn) != CONNECTION_OK) {
        PQfinish(worker->conn);
        worker->conn = nullptr;
      }
      return;
    }
    PQfinish(worker->conn);  // broken under a read: once more, on a new one
    worker->conn = nullptr;
  }
  job.fail(absl::UnavailableError(
      "lost the connection to PostgreSQL twice during one read; retry"));
}

void PostgresDatabase::SetChangeFeed(ChangeFeed feed) {
  absl::MutexLock lock(&feed_mu_);
  feed_ = std::move(feed);
}

void PostgresDatabase::SetAvailabilityListener(std::function<void(bool)> listener) {
  absl::MutexLock lock(&feed_mu_);
  availability_ = std::move(listener);
  if (availability_) availability_(available());
}

void PostgresDatabase::SetAvailable(bool available, const std::string& error) {
  {
    absl::MutexLock lock(&mu_);
    if (!available) last_error_ = error;
  }
  absl::MutexLock lock(&feed_mu_);
  available_.store(available, std::memory_order_release);
  if (availability_) availability_(available);
}

absl::Status PostgresDatabase::ListenUntilBroken() {
  for (;;) {
    // First what libpq already read (also while LISTEN ran), then the socket.
    std::vector<std::string> payloads;
    while (PGnotify* notify = PQnotifies(listener_)) {
      payloads.emplace_back(notify->extra);
      PQfreemem(notify);
    }
    if (!payloads.empty()) {
      absl::MutexLock lock(&feed_mu_);
      if (feed_.notified) {
        for (const std::string& payload : payloads) feed_.notified(payload);
      }
      if (feed_.flush) feed_.flush();
    }
    if (PQstatus(listener_) != CONNECTION_OK) return absl::UnavailableError(ErrorText(listener_));
    pollfd fds[2] = {{PQsocket(listener_), POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    if (fds[0].fd < 0) return absl::UnavailableError("the listening connection has no socket");
    const int n = poll(fds, 2, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
    }
    if (fds[1].revents != 0 && Stopping()) return absl::OkStatus();
    if (fds[0].revents == 0) continue;
    if (PQconsumeInput(listener_) == 0) return absl::UnavailableError(ErrorText(listener_));
  }
}

void PostgresDatabase::RunListener() {
  for (;;) {
    absl::Status lost = ListenUntilBroken();
    if (lost.ok()) return;  // Stop()
    // Whatever was committed from now until we listen again is never
    // announced to this replica: watches must end rather than miss it. The
    // pool's connections may be as dead as this one.
    generation_.fetch_add(1, std::memory_order_acq_rel);
    {
      absl::MutexLock lock(&feed_mu_);
      if (feed_.broken) feed_.broken();
    }
    Log(LogLevel::kWarning, "postgres: lost the listening connection (%s); reconnecting",
        std::string(lost.message()));
    PQfinish(listener_);
    listener_ = nullptr;
    bool unavailable = false;
    absl::Duration backoff = absl::Milliseconds(50);
    for (;;) {
      if (Stopping()) return;
      absl::StatusOr<PGconn*> conn = Connect("listener");
      absl::Status listening = conn.ok() ? Listen(*conn) : conn.status();
      if (listening.ok()) {
        listener_ = *conn;
        break;
      }
      if (conn.ok()) PQfinish(*conn);
      if (!unavailable) {
        // The first attempt came right after the loss: now it is an outage.
        unavailable = true;
        SetAvailable(false, std::string(listening.message()));
        Log(LogLevel::kWarning, "postgres: unreachable: %s", std::string(listening.message()));
      }
      absl::MutexLock lock(&mu_);
      if (!stopping_) stop_cv_.WaitWithTimeout(&mu_, backoff);
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
    // Connections opened during the outage predate the new listener too.
    generation_.fetch_add(1, std::memory_order_acq_rel);
    if (unavailable) {
      SetAvailable(true, "");
      Log(LogLevel::kInfo, "postgres: reachable again (%s)", where_);
    }
    absl::MutexLock lock(&feed_mu_);
    if (feed_.resumed) feed_.resumed();
  }
}

void PostgresDatabase::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopped_) return;
    stopped_ = true;
    stopping_ = true;
    work_cv_.SignalAll();
    stop_cv_.SignalAll();
  }
  const uint64_t one = 1;
  if (wake_fd_ >= 0) {
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof(one));
  }
  for (auto& worker : workers_) {
    if (worker->thread.joinable()) worker->thread.join();
  }
  if (listener_thread_.joinable()) listener_thread_.join();
  for (auto& worker : workers_) {
    if (worker->conn != nullptr) PQfinish(worker->conn);
    worker->conn = nullptr;
  }
  if (listener_ != nullptr) PQfinish(listener_);
  listener_ = nullptr;
}

}  // namespace cqmux
