// What only the PostgreSQL store promises, on a real PostgreSQL: between
// several store instances on one database (as several replicas would be)
// one insert of a contested id wins, user ids are unique, every feed sees
// the same books in the same order, and concurrent migrations of an empty
// database succeed; its failures on a private server this test stops: a
// killed listening connection is reported to the feed and recovered from,
// PostgreSQL down fails calls fast with UNAVAILABLE (availability flips) and
// everything recovers after a restart with nothing acknowledged lost;
// shutdown answers every queued job.
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/storage/postgres/postgres_book_store.h"
#include "server/storage/postgres/postgres_database.h"
#include "server/storage/postgres/postgres_user_store.h"
#include "tests/server/storage/store_test_util.h"
#include "tests/support/postgres_test_support.h"

namespace cqmux {
namespace {

using ::testing::HasSubstr;

// One replica's view: its own pool, listener and stores.
struct Instance {
  std::unique_ptr<PostgresDatabase> db;
  std::unique_ptr<PostgresBookStore> books;
  std::unique_ptr<PostgresUserStore> users;

  // What the feed and the availability listener saw.
  absl::Mutex mu;
  std::vector<int32_t> fed;
  int broken = 0;
  int resumed = 0;
  std::vector<bool> availability;

  ~Instance() {
    if (db) db->Stop();
  }

  size_t FedCount() {
    absl::MutexLock lock(&mu);
    return fed.size();
  }
  // Waits (bounded) until `pred` holds under mu.
  bool Await(std::function<bool()> pred) {
    absl::MutexLock lock(&mu);
    return mu.AwaitWithTimeout(absl::Condition(&pred), kStoreWait);
  }
};

std::unique_ptr<Instance> OpenInstance(const std::string& conninfo, size_t max_books = 100000) {
  auto in = std::make_unique<Instance>();
  PostgresOptions options;
  options.conninfo = conninfo;
  options.pool_size = 3;
  options.connect_timeout = absl::Seconds(2);
  options.max_backoff = absl::Milliseconds(200);
  absl::StatusOr<std::unique_ptr<PostgresDatabase>> db = PostgresDatabase::Open(options);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return nullptr;
  in->db = *std::move(db);
  auto books = PostgresBookStore::Open(in->db.get(), max_books, 4 << 20);
  auto users = PostgresUserStore::Open(in->db.get(), 100000);
  EXPECT_TRUE(books.ok() && users.ok());
  if (!books.ok() || !users.ok()) return nullptr;
  in->books = *std::move(books);
  in->users = *std::move(users);
  Instance* raw = in.get();
  in->books->SetCommitFeed(BookStore::CommitFeed{
      [raw](std::shared_ptr<const books::Book> book) {
        absl::MutexLock lock(&raw->mu);
        raw->fed.push_back(book->id());
      },
      [] {},
      [raw] {
        absl::MutexLock lock(&raw->mu);
        ++raw->broken;
      },
      [raw] {
        absl::MutexLock lock(&raw->mu);
        ++raw->resumed;
      }});
  in->db->SetAvailabilityListener([raw](bool up) {
    absl::MutexLock lock(&raw->mu);
    raw->availability.push_back(up);
  });
  return in;
}

// Results of asynchronous calls, counted by code.
struct Outcomes {
  absl::Mutex mu;
  int pending = 0;
  std::map<absl::StatusCode, int> codes;
  std::set<uint32_t> ids;

  WriteDone Expect() {
    absl::MutexLock lock(&mu);
    ++pending;
    return [this](absl::Status s) {
      absl::MutexLock lock(&mu);
      ++codes[s.code()];
      --pending;
    };
  }
  UserStore::AddDone ExpectId() {
    absl::MutexLock lock(&mu);
    ++pending;
    return [this](absl::StatusOr<uint32_t> id) {
      absl::MutexLock lock(&mu);
      ++codes[id.status().code()];
      if (id.ok()) {
        EXPECT_TRUE(ids.insert(*id).second) << "id " << *id << " given twice";
      }
      --pending;
    };
  }
  void Wait() {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(
        absl::Condition(+[](int* p) { return *p == 0; }, &pending), kStoreWait));
  }
};

TEST(PostgresStoreTest, OneIdInsertedThroughTwoInstancesAtOnceHasOneWinner) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto a = OpenInstance(conninfo);
  auto b = OpenInstance(conninfo);
  ASSERT_TRUE(a && b);
  constexpr int kIds = 100;
  Outcomes outcomes;
  for (int id = 1; id <= kIds; ++id) {
    a->books->Insert(MakeBook(id, "from a"), outcomes.Expect());
    b->books->Insert(MakeBook(id, "from b"), outcomes.Expect());
  }
  outcomes.Wait();
  EXPECT_EQ(outcomes.codes[absl::StatusCode::kOk], kIds);
  EXPECT_EQ(outcomes.codes[absl::StatusCode::kAlreadyExists], kIds);
  EXPECT_EQ(ListedIds(*b->books).size(), static_cast<size_t>(kIds));
}

TEST(PostgresStoreTest, UserIdsAreUniqueAcrossInstancesAndOneWinsAName) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto a = OpenInstance(conninfo);
  auto b = OpenInstance(conninfo);
  ASSERT_TRUE(a && b);
  constexpr int kUsers = 60;
  Outcomes outcomes;
  for (int i = 0; i < kUsers; ++i) {
    a->users->Add(UserRecord{0, absl::StrCat("a", i), "", "h"}, outcomes.ExpectId());
    b->users->Add(UserRecord{0, absl::StrCat("b", i), "", "h"}, outcomes.ExpectId());
    a->users->Add(UserRecord{0, absl::StrCat("shared", i), "", "h"}, outcomes.ExpectId());
    b->users->Add(UserRecord{0, absl::StrCat("shared", i), "", "h"}, outcomes.ExpectId());
  }
  outcomes.Wait();
  EXPECT_EQ(outcomes.codes[absl::StatusCode::kOk], 3 * kUsers);
  EXPECT_EQ(outcomes.codes[absl::StatusCode::kAlreadyExists], kUsers);
  EXPECT_EQ(outcomes.ids.size(), static_cast<size_t>(3 * kUsers));
  // Each is what the other instance reads back.
  absl::StatusOr<std::optional<UserRecord>> found = FindUser(*b->users, "a7");
  ASSERT_TRUE(found.ok() && found->has_value()) << found.status();
  absl::StatusOr<std::optional<UserRecord>> by_id = FindUser(*a->users, "", (*found)->user_id);
  ASSERT_TRUE(by_id.ok() && by_id->has_value());
  EXPECT_EQ((*by_id)->username, "a7");
}

TEST(PostgresStoreTest, TwoInstancesFeedsSeeTheSameBooksInListOrder) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto a = OpenInstance(conninfo);
  auto b = OpenInstance(conninfo);
  ASSERT_TRUE(a && b);
  constexpr int kBooks = 200;
  Outcomes outcomes;
  for (int i = 0; i < kBooks; ++i) {
    (i % 2 == 0 ? a : b)->books->Insert(MakeBook(i), outcomes.Expect());
  }
  outcomes.Wait();
  ASSERT_EQ(outcomes.codes[absl::StatusCode::kOk], kBooks);
  ASSERT_TRUE(a->Await([&] { return a->fed.size() >= kBooks; }));
  ASSERT_TRUE(b->Await([&] { return b->fed.size() >= kBooks; }));
  const std::vector<int32_t> listed = ListedIds(*a->books);
  absl::MutexLock la(&a->mu);
  absl::MutexLock lb(&b->mu);
  EXPECT_EQ(a->fed, b->fed);
  EXPECT_EQ(a->fed, listed);  // commit order is List order
  EXPECT_EQ(std::set<int32_t>(listed.begin(), listed.end()).size(), listed.size());
}

TEST(PostgresStoreTest, SeveralInstancesMigrateAnEmptyDatabaseAtOnce) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  constexpr int kInstances = 4;
  std::vector<std::unique_ptr<PostgresDatabase>> dbs(kInstances);
  std::vector<absl::Status> opened(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      PostgresOptions options;
      options.conninfo = conninfo;
      options.pool_size = 1;
      absl::StatusOr<std::unique_ptr<PostgresDatabase>> db = PostgresDatabase::Open(options);
      opened[i] = db.status();
      if (db.ok()) dbs[i] = *std::move(db);
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0;
  for (int i = 0; i < kInstances; ++i) {
    ASSERT_TRUE(opened[i].ok()) << opened[i];
    if (dbs[i]->created()) ++created;
  }
  EXPECT_EQ(created, 1);
  std::string version;
  ASSERT_EQ(testing::PgExec(conninfo, "SELECT string_agg(version::text, ',') FROM schema_version",
                            &version),
            "");
  EXPECT_EQ(version, absl::StrCat(PostgresDatabase::kSchemaVersion));
}

TEST(PostgresStoreTest, ANewerSchemaAndSomeoneElsesTablesAreRefused) {
  const std::string newer = testing::SharedFreshDatabase();
  ASSERT_FALSE(newer.empty());
  ASSERT_EQ(testing::PgExec(newer, "CREATE TABLE schema_version (version integer NOT NULL);"
                                   "INSERT INTO schema_version VALUES (99)"),
            "");
  PostgresOptions options;
  options.conninfo = newer;
  absl::Status status = PostgresDatabase::Open(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("schema is version 99, newer than"));

  const std::string other = testing::SharedFreshDatabase();
  ASSERT_FALSE(other.empty());
  ASSERT_EQ(testing::PgExec(other, "CREATE TABLE books (isbn text)"), "");
  options.conninfo = other;
  status = PostgresDatabase::Open(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("not a cqmux database"));
}

TEST(PostgresStoreTest, AKilledListenerEndsTheFeedAndComesBack) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto a = OpenInstance(conninfo);
  ASSERT_TRUE(a);
  ASSERT_TRUE(Insert(*a->books, MakeBook(1)).ok());
  ASSERT_TRUE(a->Await([&] { return a->fed.size() == 1; }));
  std::string killed;
  ASSERT_EQ(testing::PgExec(conninfo,
                            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE application_name = 'cqmux-listener' AND datname = "
                            "current_database()",
                            &killed),
            "");
  ASSERT_EQ(killed, "1");
  ASSERT_TRUE(a->Await([&] { return a->broken == 1 && a->resumed == 1; }));
  ASSERT_TRUE(Insert(*a->books, MakeBook(2)).ok());
  ASSERT_TRUE(a->Await([&] { return a->fed.size() == 2; }));
  absl::MutexLock lock(&a->mu);
  EXPECT_EQ(a->fed, (std::vector<int32_t>{1, 2}));
}

TEST(PostgresStoreTest, PostgresDownFailsFastAndEverythingRecovers) {
  testing::PrivatePostgres pg;
  ASSERT_TRUE(pg.Start());
  auto a = OpenInstance(pg.conninfo());
  ASSERT_TRUE(a);
  ASSERT_TRUE(Insert(*a->books, MakeBook(1)).ok());
  ASSERT_TRUE(AddUser(*a->users, "before").ok());
  ASSERT_TRUE(a->Await([&] { return a->availability == std::vector<bool>{true}; }));

  ASSERT_TRUE(pg.Stop());
  ASSERT_TRUE(a->Await([&] { return a->availability.size() == 2; }));
  {
    absl::MutexLock lock(&a->mu);
    EXPECT_FALSE(a->availability[1]);
    EXPECT_EQ(a->broken, 1);
  }
  EXPECT_FALSE(a->db->available());
  // Answered by the dead pool itself, not by a timeout: the message says so.
  absl::Status insert = Insert(*a->books, MakeBook(2));
  EXPECT_EQ(insert.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(insert.message(), HasSubstr("PostgreSQL is unreachable"));
  books::Book got;
  absl::Status get = GetBook(*a->books, 1, &got);
  EXPECT_EQ(get.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(get.message(), HasSubstr("reconnects by itself"));
  EXPECT_EQ(ListBytes(*a->books).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(AddUser(*a->users, "during").status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(FindUser(*a->users, "before").status().code(), absl::StatusCode::kUnavailable);

  ASSERT_TRUE(pg.Start());
  ASSERT_TRUE(a->Await([&] { return a->availability.size() == 3 && a->resumed == 1; }));
  EXPECT_TRUE(a->db->available());
  // Acknowledged before the outage: still there. Writes and reads work.
  ASSERT_TRUE(GetBook(*a->books, 1, &got).ok());
  EXPECT_EQ(got.title(), "Title 1");
  ASSERT_TRUE(Insert(*a->books, MakeBook(3)).ok());
  EXPECT_EQ(ListedIds(*a->books), (std::vector<int32_t>{1, 3}));
  absl::StatusOr<std::optional<UserRecord>> before = FindUser(*a->users, "before");
  ASSERT_TRUE(before.ok() && before->has_value());
  EXPECT_TRUE(AddUser(*a->users, "after").ok());
  ASSERT_TRUE(a->Await([&] { return a->fed.size() == 2; }));
  absl::MutexLock lock(&a->mu);
  EXPECT_EQ(a->fed, (std::vector<int32_t>{1, 3}));
}

TEST(PostgresStoreTest, StopAnswersEveryQueuedJobAndLaterOnesAtOnce) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  auto a = OpenInstance(conninfo);
  ASSERT_TRUE(a);
  Outcomes outcomes;
  for (int i = 0; i < 300; ++i) a->books->Insert(MakeBook(i), outcomes.Expect());
  a->db->Stop();
  outcomes.Wait();  // every one answered
  int answered = 0;
  for (const auto& [code, n] : outcomes.codes) {
    EXPECT_TRUE(code == absl::StatusCode::kOk || code == absl::StatusCode::kUnavailable) << code;
    answered += n;
  }
  EXPECT_EQ(answered, 300);
  EXPECT_EQ(Insert(*a->books, MakeBook(1000)).code(), absl::StatusCode::kUnavailable);
}

TEST(PostgresStoreTest, AFullQueueAnswersResourceExhausted) {
  const std::string conninfo = testing::SharedFreshDatabase();
  ASSERT_FALSE(conninfo.empty());
  PostgresOptions options;
  options.conninfo = conninfo;
  options.pool_size = 1;
  options.max_queued = 4;
  absl::StatusOr<std::unique_ptr<PostgresDatabase>> db = PostgresDatabase::Open(options);
  ASSERT_TRUE(db.ok()) << db.status();
  auto books = PostgresBookStore::Open(db->get(), 1000, 4 << 20);
  ASSERT_TRUE(books.ok());
  Outcomes outcomes;
  // Far more than one connection and four places can hold at once.
  for (int i = 0; i < 200; ++i) (*books)->Insert(MakeBook(i), outcomes.Expect());
  outcomes.Wait();
  EXPECT_GT(outcomes.codes[absl::StatusCode::kResourceExhausted], 0);
  EXPECT_GT(outcomes.codes[absl::StatusCode::kOk], 0);
  (*db)->Stop();
}

}  // namespace
}  // namespace cqmux
