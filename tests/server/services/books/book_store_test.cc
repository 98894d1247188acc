// InMemoryBookStore: CRUD, the insertion-order contract, capacity, and
// concurrent readers and writers.
#include "server/services/books/book_store.h"

#include <atomic>
#include <limits>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cqmux {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

books::Book MakeBook(int32_t id) {
  books::Book book;
  book.set_id(id);
  book.set_title(absl::StrCat("Title ", id));
  book.set_author(absl::StrCat("Author ", id));
  return book;
}

std::vector<int32_t> ListedIds(const InMemoryBookStore& store) {
  books::BookList list;
  store.List(&list);
  std::vector<int32_t> ids;
  for (const books::Book& book : list.books()) ids.push_back(book.id());
  return ids;
}

absl::Status InsertQuietly(InMemoryBookStore& store, int32_t id) {
  return store.InsertNow(MakeBook(id), [] {});
}

TEST(InMemoryBookStoreTest, InsertThenGetReturnsTheBook) {
  InMemoryBookStore store(10);
  ASSERT_TRUE(InsertQuietly(store, 7).ok());
  books::Book got;
  ASSERT_TRUE(store.Get(7, &got).ok());
  EXPECT_EQ(got.id(), 7);
  EXPECT_EQ(got.title(), "Title 7");
  EXPECT_EQ(got.author(), "Author 7");
  EXPECT_EQ(store.size(), 1u);
}

TEST(InMemoryBookStoreTest, UnknownIdIsNotFoundWithTheTutorialsWording) {
  InMemoryBookStore store(10);
  books::Book got;
  absl::Status get = store.Get(42, &got);
  EXPECT_EQ(get.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(get.message(), "No book with id 42 was found");
  absl::Status del = store.DeleteNow(-3);
  EXPECT_EQ(del.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(del.message(), "No book with id -3 was found");
}

TEST(InMemoryBookStoreTest, DeleteRemovesAndASecondDeleteIsNotFound) {
  InMemoryBookStore store(10);
  ASSERT_TRUE(InsertQuietly(store, 1).ok());
  ASSERT_TRUE(InsertQuietly(store, 2).ok());
  EXPECT_TRUE(store.DeleteNow(1).ok());
  EXPECT_EQ(store.DeleteNow(1).code(), absl::StatusCode::kNotFound);
  books::Book got;
  EXPECT_EQ(store.Get(1, &got).code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(ListedIds(store), ElementsAre(2));
}

TEST(InMemoryBookStoreTest, DuplicateIdIsAlreadyExistsAndSkipsTheHook) {
  InMemoryBookStore store(10);
  ASSERT_TRUE(InsertQuietly(store, 5).ok());
  int hooks = 0;
  books::Book other = MakeBook(5);
  other.set_title("Another title");
  absl::Status status = store.InsertNow(other, [&] { ++hooks; });
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(hooks, 0);
  books::Book got;
  ASSERT_TRUE(store.Get(5, &got).ok());
  EXPECT_EQ(got.title(), "Title 5");  // the original is untouched
}

TEST(InMemoryBookStoreTest, FullStoreIsResourceExhaustedUntilADelete) {
  InMemoryBookStore store(2);
  ASSERT_TRUE(InsertQuietly(store, 1).ok());
  ASSERT_TRUE(InsertQuietly(store, 2).ok());
  EXPECT_EQ(InsertQuietly(store, 3).code(),
            absl::StatusCode::kResourceExhausted);
  ASSERT_TRUE(store.DeleteNow(1).ok());
  EXPECT_TRUE(InsertQuietly(store, 3).ok());
  EXPECT_EQ(store.size(), 2u);
}

TEST(InMemoryBookStoreTest, ListIsInInsertionOrderNotIdOrder) {
  InMemoryBookStore store(100);
  for (int32_t id : {50, -1, 7, 1000, 0}) ASSERT_TRUE(InsertQuietly(store, id).ok());
  EXPECT_THAT(ListedIds(store), ElementsAre(50, -1, 7, 1000, 0));
  // Deleting from the middle keeps the others' order; a re-inserted id is
  // the newest book.
  ASSERT_TRUE(store.DeleteNow(7).ok());
  ASSERT_TRUE(store.DeleteNow(50).ok());
  ASSERT_TRUE(InsertQuietly(store, 50).ok());
  EXPECT_THAT(ListedIds(store), ElementsAre(-1, 1000, 0, 50));
}

TEST(InMemoryBookStoreTest, ListAppendsToWhatIsAlreadyThere) {
  InMemoryBookStore store(10);
  ASSERT_TRUE(InsertQuietly(store, 1).ok());
  books::BookList list;
  *list.add_books() = MakeBook(99);
  store.List(&list);
  ASSERT_EQ(list.books_size(), 2);
  EXPECT_EQ(list.books(0).id(), 99);
  EXPECT_EQ(list.books(1).id(), 1);
}

// The "6,000 inserts of 1 KB titles against a 4 MiB limit", scaled
// down: the store stops at List's byte bound, says why, and List stays
// within it (and in order) however many inserts are attempted.
TEST(InMemoryBookStoreTest, ListNeverOutgrowsItsByteBound) {
  constexpr size_t kBound = 64 * 1024;
  InMemoryBookStore store(1000000, kBound);
  int accepted = 0;
  absl::Status refused;
  for (int32_t id = 0; id < 6000; ++id) {
    books::Book book = MakeBook(id);
    book.set_title(std::string(1000, 't'));
    absl::Status status = store.InsertNow(book, [] {});
    if (status.ok()) {
      ++accepted;
    } else {
      refused = status;
      EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted);
    }
  }
  // 64 KiB holds 64 books of ~1,020 bytes: the bound, not a count, stopped it.
  EXPECT_EQ(accepted, 64);
  EXPECT_THAT(std::string(refused.message()),
              ::testing::StartsWith(
                  "The book store is full: List must fit in 65536 bytes"));
  std::shared_ptr<const std::string> list = store.SerializedList();
  EXPECT_LE(list->size(), kBound);
  EXPECT_EQ(list->size(), store.list_bytes());
  books::BookList parsed;
  ASSERT_TRUE(parsed.ParseFromString(*list));
  EXPECT_EQ(parsed.books_size(), accepted);
  EXPECT_EQ(parsed.ByteSizeLong(), list->size()) << "exactly a BookList";
  // A delete makes room again.
  ASSERT_TRUE(store.DeleteNow(5).ok());
  books::Book book = MakeBook(7000);
  book.set_title(std::string(1000, 't'));
  EXPECT_TRUE(store.InsertNow(book, [] {}).ok());
  EXPECT_LE(store.list_bytes(), kBound);
}

// List's snapshot is immutable: changes made while a reader holds it go into
// a copy, and the store's bytes always equal a fresh serialization.
TEST(InMemoryBookStoreTest, SnapshotsAreImmutableAndAlwaysExact) {
  InMemoryBookStore store(100);
  for (int32_t id : {1, 2, 3, 4}) ASSERT_TRUE(InsertQuietly(store, id).ok());
  std::shared_ptr<const std::string> held = store.SerializedList();
  const std::string before = *held;
  ASSERT_TRUE(InsertQuietly(store, 5).ok());
  ASSERT_TRUE(store.DeleteNow(2).ok());
  EXPECT_EQ(*held, before) << "the held snapshot did not change";
  EXPECT_NE(*store.SerializedList(), before);

  // Without readers the store changes its bytes in place; either way they
  // match a BookList built from scratch, in insertion order.
  held.reset();
  ASSERT_TRUE(store.DeleteNow(4).ok());
  ASSERT_TRUE(InsertQuietly(store, 6).ok());
  ASSERT_TRUE(store.DeleteNow(1).ok());
  books::BookList expected;
  for (int32_t id : {3, 5, 6}) *expected.add_books() = MakeBook(id);
  EXPECT_EQ(*store.SerializedList(), expected.SerializeAsString());
  EXPECT_THAT(ListedIds(store), ElementsAre(3, 5, 6));
}

// The store writes List's bytes itself: they must be exactly protobuf's,
// whatever the ids (negative ones are 10-byte varints, 0 is omitted) and
// strings.
TEST(InMemoryBookStoreTest, SerializedListIsProtobufsOwnEncoding) {
  InMemoryBookStore store(100);
  books::BookList expected;
  int32_t ids[] = {0, -1, 1, 127, 128, std::numeric_limits<int32_t>::min(),
                   std::numeric_limits<int32_t>::max()};
  for (int32_t id : ids) {
    books::Book book = MakeBook(id);
    if (id == 127) book.clear_author();
    if (id == 128) book.set_title(std::string(300, 'x') + "\xc3\xa4");
    ASSERT_TRUE(store.InsertNow(book, [] {}).ok());
    *expected.add_books() = book;
  }
  EXPECT_EQ(*store.SerializedList(), expected.SerializeAsString());
  ASSERT_TRUE(store.DeleteNow(-1).ok());
  expected.mutable_books()->DeleteSubrange(1, 1);
  EXPECT_EQ(*store.SerializedList(), expected.SerializeAsString());
}

// The contract the Watch hub relies on: commit hooks run one at a time, in
// exactly the order List() reports, even when inserts race.
TEST(InMemoryBookStoreTest, ConcurrentInsertHooksRunInListOrder) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 250;
  InMemoryBookStore store(kThreads * kPerThread);
  std::vector<int32_t> hook_order;  // only touched by hooks
  std::atomic<int> hooks_inside{0};
  std::atomic<bool> overlapped{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const int32_t id = t * kPerThread + i;
        ASSERT_TRUE(store
                        .InsertNow(MakeBook(id),
                                [&] {
                                  if (hooks_inside.fetch_add(1) != 0) {
                                    overlapped = true;
                                  }
                                  hook_order.push_back(id);
                                  hooks_inside.fetch_sub(1);
                                })
                        .ok());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_FALSE(overlapped);
  ASSERT_EQ(hook_order.size(), static_cast<size_t>(kThreads * kPerThread));
  EXPECT_THAT(ListedIds(store), ElementsAreArray(hook_order));
}

// Readers (Get/List/size) run against writers inserting and deleting; every
// read sees a consistent book and List() stays in insertion order.
TEST(InMemoryBookStoreTest, ConcurrentReadersAndWritersStayConsistent) {
  constexpr int kWriters = 4;
  constexpr int kReaders = 4;
  constexpr int kPerWriter = 400;
  InMemoryBookStore store(kWriters * kPerWriter);
  std::atomic<int> writers_left{kWriters};
  std::atomic<int> bad_reads{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const int32_t id = w * kPerWriter + i;
        EXPECT_TRUE(InsertQuietly(store, id).ok());
        if (i % 2 == 1) {
          EXPECT_TRUE(store.DeleteNow(id - 1).ok());
        }
      }
      writers_left.fetch_sub(1);
    });
  }
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&, r] {
      // Bounded: at least a few rounds, at most until the writers finish
      // (plus one final round) or 10,000 rounds.
      for (int round = 0; round < 10000; ++round) {
        const bool last = writers_left.load() == 0;
        books::Book got;
        const int32_t id = (round * 7 + r) % (kWriters * kPerWriter);
        if (store.Get(id, &got).ok() &&
            (got.id() != id || got.title() != absl::StrCat("Title ", id))) {
          ++bad_reads;
        }
        books::BookList list;
        store.List(&list);
        // Each writer's surviving ids are increasing in insertion order.
        std::vector<int32_t> last_by_writer(kWriters, -1);
        for (const books::Book& book : list.books()) {
          const int writer = book.id() / kPerWriter;
          if (book.id() <= last_by_writer[writer] ||
              book.author() != absl::StrCat("Author ", book.id())) {
            ++bad_reads;
          }
          last_by_writer[writer] = book.id();
        }
        if (last) break;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(bad_reads.load(), 0);
  // Every writer deleted each even id after inserting the next odd one.
  std::vector<int32_t> survivors = ListedIds(store);
  EXPECT_EQ(survivors.size(), static_cast<size_t>(kWriters * kPerWriter / 2));
  for (int32_t id : survivors) EXPECT_EQ(id % 2, 1);
}

}  // namespace
}  // namespace cqmux
