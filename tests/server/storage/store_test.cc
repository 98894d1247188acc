// One suite for every store backend (memory, the reference, sqlite, and
// postgres on a fresh database of the ctest fixture's real PostgreSQL):
// the BookStore and UserStore contracts, run against each through the same
// interfaces (parameterized). Then what only the durable backend promises:
// data and ids survive reopening, writes share commits, and files it must
// not trust (newer schema, corrupt, truncated, not a database, locked by
// another server) are refused with a clear message, never a crash.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/services/books/book_store.h"
#include "server/services/users/user_store.h"
#include "server/storage/sqlite/sqlite_book_store.h"
#include "server/storage/sqlite/sqlite_database.h"
#include "server/storage/postgres/postgres_book_store.h"
#include "server/storage/postgres/postgres_database.h"
#include "server/storage/postgres/postgres_user_store.h"
#include "server/storage/sqlite/sqlite_user_store.h"
#include "tests/server/storage/store_test_util.h"
#include "tests/support/postgres_test_support.h"

namespace cqmux {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

constexpr absl::Duration kWait = kStoreWait;

// A fresh directory, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "cqmux-store-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A backend's two stores, opened on `dir` (sqlite), on the PostgreSQL
// database `conninfo` (postgres) or in RAM.
struct Backend {
  std::unique_ptr<SqliteDatabase> db;
  std::unique_ptr<PostgresDatabase> pg;
  std::unique_ptr<BookStore> books;
  std::unique_ptr<UserStore> users;

  ~Backend() {
    // Every completion has run before the stores go.
    if (db) db->Stop();
    if (pg) pg->Stop();
  }
};

std::unique_ptr<Backend> OpenBackend(const std::string& kind, const std::string& dir,
                                     size_t max_books = 1000, size_t max_users = 1000,
                                     size_t max_list_bytes = 4 << 20,
                                     const std::string& conninfo = "") {
  auto backend = std::make_unique<Backend>();
  if (kind == "memory") {
    backend->books = std::make_unique<InMemoryBookStore>(max_books, max_list_bytes);
    backend->users = std::make_unique<InMemoryUserStore>(max_users);
    return backend;
  }
  if (kind == "postgres") {
    PostgresOptions options;
    options.conninfo = conninfo;
    options.pool_size = 4;
    absl::StatusOr<std::unique_ptr<PostgresDatabase>> pg = PostgresDatabase::Open(options);
    EXPECT_TRUE(pg.ok()) << pg.status();
    if (!pg.ok()) return nullptr;
    backend->pg = *std::move(pg);
    auto books = PostgresBookStore::Open(backend->pg.get(), max_books, max_list_bytes);
    auto users = PostgresUserStore::Open(backend->pg.get(), max_users);
    EXPECT_TRUE(books.ok() && users.ok());
    if (!books.ok() || !users.ok()) return nullptr;
    backend->books = *std::move(books);
    backend->users = *std::move(users);
    return backend;
  }
  absl::StatusOr<std::unique_ptr<SqliteDatabase>> db =
      SqliteDatabase::Open(SqliteOptions{dir, Durability::kFsync});
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return nullptr;
  backend->db = *std::move(db);
  auto books = SqliteBookStore::Open(backend->db.get(), max_books, max_list_bytes);
  auto users = SqliteUserStore::Open(backend->db.get(), max_users);
  EXPECT_TRUE(books.ok() && users.ok());
  backend->books = *std::move(books);
  backend->users = *std::move(users);
  return backend;
}

class StoreTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { Open(); }
  void Open(size_t max_books = 1000, size_t max_users = 1000, size_t max_list_bytes = 4 << 20) {
    backend_.reset();
    // PostgreSQL: a fresh database per test, on the ctest fixture's server
    // (a test without it fails).
    if (GetParam() == "postgres" && conninfo_.empty()) {
      conninfo_ = testing::SharedFreshDatabase();
      ASSERT_FALSE(conninfo_.empty());
    }
    backend_ = OpenBackend(GetParam(), dir_.path(), max_books, max_users, max_list_bytes,
                           conninfo_);
    ASSERT_NE(backend_, nullptr);
  }
  BookStore& books() { return *backend_->books; }
  UserStore& users() { return *backend_->users; }

  TempDir dir_;
  std::string conninfo_;
  std::unique_ptr<Backend> backend_;
};

TEST_P(StoreTest, ANewStoreIsEmptyAndCreated) {
  EXPECT_EQ(books().size(), 0u);
  EXPECT_EQ(users().size(), 0u);
  EXPECT_TRUE(books().created());
}

TEST_P(StoreTest, InsertGetDelete) {
  ASSERT_TRUE(Insert(books(), MakeBook(7, "Hard Times")).ok());
  books::Book got;
  ASSERT_TRUE(GetBook(books(), 7, &got).ok());  // visible once acknowledged
  EXPECT_EQ(got.title(), "Hard Times");
  EXPECT_EQ(Insert(books(), MakeBook(7)).code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(Delete(books(), 7).ok());
  EXPECT_EQ(GetBook(books(), 7, &got).code(), absl::StatusCode::kNotFound);
  absl::Status again = Delete(books(), 7);
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(again.message(), "No book with id 7 was found");
}

TEST_P(StoreTest, ListIsInsertionOrderAndAReinsertedIdIsNewest) {
  for (int32_t id : {5, -3, 9, 1}) ASSERT_TRUE(Insert(books(), MakeBook(id)).ok());
  ASSERT_TRUE(Delete(books(), 5).ok());
  ASSERT_TRUE(Insert(books(), MakeBook(5)).ok());
  EXPECT_EQ(ListedIds(books()), (std::vector<int32_t>{-3, 9, 1, 5}));
  EXPECT_EQ(books().size(), 4u);
}

TEST_P(StoreTest, FullStoreRefusesInsertsUntilABookIsDeleted) {
  Open(/*max_books=*/2);
  ASSERT_TRUE(Insert(books(), MakeBook(1)).ok());
  ASSERT_TRUE(Insert(books(), MakeBook(2)).ok());
  EXPECT_EQ(Insert(books(), MakeBook(3)).code(), absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(Delete(books(), 1).ok());
  EXPECT_TRUE(Insert(books(), MakeBook(3)).ok());
}

TEST_P(StoreTest, ListNeverOutgrowsItsByteBound) {
  Open(/*max_books=*/1000, /*max_users=*/10, /*max_list_bytes=*/1000);
  int inserted = 0;
  for (int32_t id = 1; Insert(books(), MakeBook(id, std::string(100, 't'))).ok(); ++id) {
    ++inserted;
  }
  EXPECT_GT(inserted, 5);
  absl::StatusOr<std::shared_ptr<const std::string>> list = ListBytes(books());
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_LE((*list)->size(), 1000u);
}

// Writers on many threads: the feed sees each committed insert exactly once,
// in List() order, and nothing that failed.
TEST_P(StoreTest, CommitFeedIsListOrderExactlyOnce) {
  absl::Mutex mu;
  std::vector<int32_t> fed;
  std::atomic<int> flushes{0};
  books().SetCommitFeed(BookStore::CommitFeed{
      [&](std::shared_ptr<const books::Book> book) {
        absl::MutexLock lock(&mu);
        fed.push_back(book->id());
      },
      [&] { ++flushes; }});
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100;
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        // Threads 0 and 1 insert the same ids, so do 2 and 3: one of each
        // pair fails.
        if (Insert(books(), MakeBook(i * 2 + t / 2)).ok()) ++ok;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), kThreads * kPerThread / 2);
  std::vector<int32_t> listed = ListedIds(books());
  // A shared backend feeds from its listening connection, a moment after the
  // acknowledgement: wait (bounded) until everything committed was fed.
  absl::MutexLock lock(&mu);  // not around ListedIds: the feed runs under the store's lock
  auto all_fed = [&] { return fed.size() >= listed.size(); };
  mu.AwaitWithTimeout(absl::Condition(&all_fed), kWait);
  EXPECT_EQ(fed, listed);
  EXPECT_EQ(std::set<int32_t>(fed.begin(), fed.end()).size(), fed.size());
  EXPECT_GE(flushes.load(), 1);
}

TEST_P(StoreTest, UserIdsStartAtOneAndIncrease) {
  absl::StatusOr<uint32_t> a = AddUser(users(), "alice");
  absl::StatusOr<uint32_t> b = AddUser(users(), "bob");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, 1u);
  EXPECT_EQ(*b, 2u);
  EXPECT_EQ(AddUser(users(), "alice").status().code(), absl::StatusCode::kAlreadyExists);
  absl::StatusOr<uint32_t> c = AddUser(users(), "carol");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, 3u);  // a refused name uses no id
  absl::StatusOr<std::optional<UserRecord>> found = FindUser(users(), "bob");
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status();
  EXPECT_EQ((*found)->user_id, 2u);
  EXPECT_EQ((*found)->email, "bob@example.com");
  EXPECT_EQ((*found)->password_hash, "$argon2id$hash-of-bob");
  found = FindUser(users(), "", 3);
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status();
  EXPECT_EQ((*found)->username, "carol");
  found = FindUser(users(), "", 4);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  found = FindUser(users(), "dave");
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(users().size(), 3u);
}

TEST_P(StoreTest, ConcurrentUsersGetDistinctIdsAndOneWinsAName) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  absl::Mutex mu;
  std::set<uint32_t> ids;
  std::atomic<int> won{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        absl::StatusOr<uint32_t> id = AddUser(users(), absl::StrCat("u", t, "-", i));
        ASSERT_TRUE(id.ok()) << id.status();
        if (AddUser(users(), absl::StrCat("shared-", i)).ok()) ++won;
        absl::MutexLock lock(&mu);
        EXPECT_TRUE(ids.insert(*id).second);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(won.load(), kPerThread);
  EXPECT_EQ(users().size(), static_cast<size_t>(kThreads * kPerThread + kPerThread));
}

TEST_P(StoreTest, FullUserStoreRefusesNewUsers) {
  Open(/*max_books=*/10, /*max_users=*/1);
  ASSERT_TRUE(AddUser(users(), "only").ok());
  EXPECT_EQ(AddUser(users(), "second").status().code(), absl::StatusCode::kResourceExhausted);
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest, ::testing::Values("memory", "sqlite", "postgres"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

// ---- The durable backend only.

TEST(SqliteStoreTest, DataAndIdsSurviveReopening) {
  TempDir dir;
  {
    auto backend = OpenBackend("sqlite", dir.path());
    ASSERT_TRUE(Insert(*backend->books, MakeBook(2)).ok());
    ASSERT_TRUE(Insert(*backend->books, MakeBook(1)).ok());
    ASSERT_TRUE(AddUser(*backend->users, "alice").ok());
    ASSERT_TRUE(AddUser(*backend->users, "bob").ok());
  }
  auto backend = OpenBackend("sqlite", dir.path());
  EXPECT_FALSE(backend->books->created());
  EXPECT_EQ(ListedIds(*backend->books), (std::vector<int32_t>{2, 1}));
  EXPECT_EQ((*FindUser(*backend->users, "bob"))->user_id, 2u);
  EXPECT_EQ(*AddUser(*backend->users, "carol"), 3u);
  EXPECT_EQ(Insert(*backend->books, MakeBook(2)).code(), absl::StatusCode::kAlreadyExists);
}

TEST(SqliteStoreTest, ConcurrentWritesShareCommits) {
  TempDir dir;
  auto backend = OpenBackend("sqlite", dir.path(), /*max_books=*/100000);
  constexpr int kWrites = 400;
  absl::Mutex mu;
  int pending = kWrites;
  for (int i = 0; i < kWrites; ++i) {
    // All submitted before the first commit can have finished: they cannot
    // each get their own.
    backend->books->Insert(MakeBook(i), [&](absl::Status s) {
      EXPECT_TRUE(s.ok()) << s;
      absl::MutexLock lock(&mu);
      --pending;
    });
  }
  absl::MutexLock lock(&mu);
  ASSERT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                      +[](int* p) { return *p == 0; }, &pending),
                                  kWait));
  EXPECT_EQ(backend->db->committed_writes(), static_cast<uint64_t>(kWrites));
  EXPECT_LT(backend->db->commits(), static_cast<uint64_t>(kWrites) / 4);
}

TEST(SqliteStoreTest, WritesAfterStopFailWithUnavailable) {
  TempDir dir;
  auto backend = OpenBackend("sqlite", dir.path());
  backend->db->Stop();
  EXPECT_EQ(Insert(*backend->books, MakeBook(1)).code(), absl::StatusCode::kUnavailable);
}

absl::Status OpenStatus(const std::string& dir) {
  return SqliteDatabase::Open(SqliteOptions{dir, Durability::kFsync}).status();
}

void RunSql(const std::string& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK) << error;
  sqlite3_free(error);
  sqlite3_close(db);
}

std::string DbFile(const TempDir& dir) { return dir.path() + "/cqmux.db"; }

TEST(SqliteStoreTest, ANewerSchemaIsRefused) {
  TempDir dir;
  OpenBackend("sqlite", dir.path());
  RunSql(DbFile(dir), "PRAGMA user_version=99");
  absl::Status status = OpenStatus(dir.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("schema version is 99, newer than"));
}

TEST(SqliteStoreTest, AnOlderSchemaIsMigratedKeepingItsData) {
  TempDir dir;
  RunSql(DbFile(dir),
         "CREATE TABLE books (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
         " id INTEGER NOT NULL UNIQUE, title TEXT NOT NULL, author TEXT NOT NULL);"
         "CREATE TABLE users (user_id INTEGER PRIMARY KEY AUTOINCREMENT,"
         " username TEXT NOT NULL UNIQUE, email TEXT NOT NULL, password_hash TEXT NOT NULL);"
         "INSERT INTO books (id, title, author) VALUES (42, 'Old', 'Author');"
         "INSERT INTO users (username, email, password_hash) VALUES ('old', '', 'h');"
         "PRAGMA user_version=1;");
  {
    auto backend = OpenBackend("sqlite", dir.path());
    EXPECT_FALSE(backend->books->created());
    EXPECT_EQ(ListedIds(*backend->books), std::vector<int32_t>{42});
    EXPECT_EQ(*AddUser(*backend->users, "new"), 2u);
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(DbFile(dir).c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(stmt, 0), SqliteDatabase::kSchemaVersion);
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, AFileThatIsNotADatabaseIsRefused) {
  TempDir dir;
  std::ofstream(DbFile(dir)) << std::string(8192, 'x');
  absl::Status status = OpenStatus(dir.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("not a cqmux database or it is corrupt"));
}

TEST(SqliteStoreTest, SomeoneElsesDatabaseIsRefused) {
  TempDir dir;
  RunSql(DbFile(dir), "CREATE TABLE t (x)");
  EXPECT_THAT(OpenStatus(dir.path()).message(), HasSubstr("not a cqmux database"));
}

// Fills a store with enough books to span many pages, then damages it.
void MakeBigStore(const TempDir& dir) {
  auto backend = OpenBackend("sqlite", dir.path(), 100000);
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(Insert(*backend->books, MakeBook(i, std::string(200, 'a' + i % 26))).ok());
  }
  backend->db->Stop();
  backend.reset();
  // Fold the WAL into the file, so that damaging the file is what counts.
  RunSql(DbFile(dir), "PRAGMA wal_checkpoint(TRUNCATE)");
}

TEST(SqliteStoreTest, ATruncatedFileIsRefused) {
  TempDir dir;
  MakeBigStore(dir);
  fs::resize_file(DbFile(dir), fs::file_size(DbFile(dir)) / 2);
  absl::Status status = OpenStatus(dir.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("corrupt"));
}

TEST(SqliteStoreTest, ACorruptFileIsRefused) {
  TempDir dir;
  MakeBigStore(dir);
  {
    // Overwrite the middle pages (b-tree pages of the books table).
    std::fstream file(DbFile(dir), std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(fs::file_size(DbFile(dir)) / 3));
    const std::string garbage(3 * 4096, '\x5a');
    file.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
  }
  absl::Status status = OpenStatus(dir.path());
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("corrupt"));
}

TEST(SqliteStoreTest, ASecondServerOnTheSameDirectoryIsRefused) {
  TempDir dir;
  auto backend = OpenBackend("sqlite", dir.path());
  absl::Status second = OpenStatus(dir.path());
  EXPECT_EQ(second.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.message(), HasSubstr("in use by another cqmux-server"));
}

}  // namespace
}  // namespace cqmux
