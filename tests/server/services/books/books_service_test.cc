// BooksService handlers called directly (no network): seeding, the
// tutorial's transcript, validation, capacity, and Watch streams pulled the
// way the engine pulls them.
#include "server/services/books/books_service.h"

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
using ::testing::HasSubstr;
using Step = ServerStream<books::Book>::Step;

BooksOptions Unseeded(size_t watch_backlog = 1024, size_t max_books = 1000) {
  BooksOptions options;
  options.seed_books = false;
  options.watch_backlog = watch_backlog;
  options.max_books = max_books;
  return options;
}

books::Book MakeBook(int32_t id, std::string title = "",
                     std::string author = "") {
  books::Book book;
  book.set_id(id);
  book.set_title(title.empty() ? absl::StrCat("Title ", id) : title);
  book.set_author(author.empty() ? absl::StrCat("Author ", id) : author);
  return book;
}

// The memory store completes writes before Insert/Delete return.
grpc::Status Insert(BooksService& service, const books::Book& book) {
  books::Empty empty;
  grpc::Status status(grpc::StatusCode::INTERNAL, "not completed");
  service.Insert(book, &empty, CallContext(),
                 UnaryDone::FromFunction([&](grpc::Status s) { status = std::move(s); }));
  return status;
}

// The memory store answers reads inline too.
grpc::Status Get(BooksService& service, int32_t id, books::Book* out) {
  books::BookIdRequest request;
  request.set_id(id);
  grpc::Status status(grpc::StatusCode::INTERNAL, "not completed");
  service.Get(request, out, CallContext(),
              UnaryDone::FromFunction([&](grpc::Status s) { status = std::move(s); }));
  return status;
}

grpc::Status List(BooksService& service, books::BookList* out) {
  grpc::Status status(grpc::StatusCode::INTERNAL, "not completed");
  service.List(books::Empty(), out, CallContext(),
               UnaryDone::FromFunction([&](grpc::Status s) { status = std::move(s); }));
  return status;
}

grpc::Status Delete(BooksService& service, int32_t id) {
  books::BookIdRequest request;
  request.set_id(id);
  books::Empty empty;
  grpc::Status status(grpc::StatusCode::INTERNAL, "not completed");
  service.Delete(request, &empty, CallContext(),
                 UnaryDone::FromFunction([&](grpc::Status s) { status = std::move(s); }));
  return status;
}

std::vector<int32_t> ListedIds(BooksService& service) {
  books::BookList list;
  EXPECT_TRUE(List(service, &list).ok());
  std::vector<int32_t> ids;
  for (const books::Book& book : list.books()) ids.push_back(book.id());
  return ids;
}

std::unique_ptr<ServerStream<books::Book>> Watch(BooksService& service) {
  return service.Watch(books::Empty(), CallContext(), Waker());
}

// Pulls like the engine: until the stream waits or finishes.
struct Pulled {
  std::vector<int32_t> ids;
  Step last;
  grpc::Status status;
};
Pulled Pull(ServerStream<books::Book>& stream) {
  Pulled pulled;
  books::Book book;
  while ((pulled.last = stream.Next(&book, &pulled.status)) == Step::kWrite) {
    pulled.ids.push_back(book.id());
    book.Clear();
  }
  return pulled;
}

TEST(BooksServiceTest, DefaultOptionsSeedTheTutorialsBook) {
  BooksService service{BooksOptions()};
  books::BookList list;
  ASSERT_TRUE(List(service, &list).ok());
  ASSERT_EQ(list.books_size(), 1);
  EXPECT_EQ(list.books(0).id(), 123);
  EXPECT_EQ(list.books(0).title(), "A Tale of Two Cities");
  EXPECT_EQ(list.books(0).author(), "Charles Dickens");
}

TEST(BooksServiceTest, SeedBooksFalseStartsEmpty) {
  BooksService service(Unseeded());
  EXPECT_TRUE(ListedIds(service).empty());
}

// The tutorial client's session: list, insert, get, get 404, delete,
// delete again, list.
TEST(BooksServiceTest, TutorialTranscript) {
  BooksService service{BooksOptions()};
  EXPECT_THAT(ListedIds(service), ElementsAre(123));

  ASSERT_TRUE(Insert(service, MakeBook(456, "The Hobbit", "J. R. R. Tolkien")).ok());
  books::Book got;
  ASSERT_TRUE(Get(service, 456, &got).ok());
  EXPECT_EQ(got.title(), "The Hobbit");
  EXPECT_EQ(got.author(), "J. R. R. Tolkien");

  grpc::Status missing = Get(service, 789, &got);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(missing.error_message(), "No book with id 789 was found");

  EXPECT_TRUE(Delete(service, 456).ok());
  grpc::Status again = Delete(service, 456);
  EXPECT_EQ(again.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(again.error_message(), "No book with id 456 was found");

  EXPECT_THAT(ListedIds(service), ElementsAre(123));
}

TEST(BooksServiceTest, InsertOfAnExistingIdIsAlreadyExists) {
  BooksService service{BooksOptions()};
  grpc::Status status = Insert(service, MakeBook(123, "Other", "Someone"));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_THAT(status.error_message(), HasSubstr("123"));
  books::Book got;
  ASSERT_TRUE(Get(service, 123, &got).ok());
  EXPECT_EQ(got.title(), "A Tale of Two Cities");
}

TEST(BooksServiceTest, EmptyTitleOrAuthorIsInvalidArgument) {
  BooksService service(Unseeded());
  books::Book no_title = MakeBook(1);
  no_title.clear_title();
  books::Book no_author = MakeBook(2);
  no_author.clear_author();
  grpc::Status title = Insert(service, no_title);
  grpc::Status author = Insert(service, no_author);
  EXPECT_EQ(title.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(title.error_message(), HasSubstr("title"));
  EXPECT_EQ(author.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(author.error_message(), HasSubstr("author"));
  EXPECT_TRUE(ListedIds(service).empty());
}

TEST(BooksServiceTest, TitleAndAuthorAreBoundedAtTheDocumentedLength) {
  BooksService service(Unseeded());
  const std::string max_title(kMaxBookTitleBytes, 't');
  const std::string max_author(kMaxBookAuthorBytes, 'a');
  EXPECT_TRUE(Insert(service, MakeBook(1, max_title, max_author)).ok());

  grpc::Status title =
      Insert(service, MakeBook(2, max_title + "t", "Author"));
  EXPECT_EQ(title.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(title.error_message(),
              HasSubstr(absl::StrCat(kMaxBookTitleBytes, " bytes")));
  grpc::Status author =
      Insert(service, MakeBook(3, "Title", max_author + "a"));
  EXPECT_EQ(author.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ListedIds(service), ElementsAre(1));
}

TEST(BooksServiceTest, FullStoreIsResourceExhausted) {
  BooksService service(Unseeded(/*watch_backlog=*/16, /*max_books=*/2));
  ASSERT_TRUE(Insert(service, MakeBook(1)).ok());
  ASSERT_TRUE(Insert(service, MakeBook(2)).ok());
  EXPECT_EQ(Insert(service, MakeBook(3)).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
}

// ListSerialized (what the raw List method sends) is exactly List's answer,
// and inserts stop at the byte bound with a message saying why.
TEST(BooksServiceTest, ListSerializedIsListAndTheStoreStopsAtItsBound) {
  BooksOptions options = Unseeded();
  options.max_list_bytes = 4096;
  BooksService service(options);
  grpc::Status refused;
  int32_t id = 0;
  while ((refused = Insert(service, MakeBook(id, std::string(100, 't')))).ok()) ++id;
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(refused.error_message(),
              HasSubstr("The book store is full: List must fit in 4096 bytes"));
  EXPECT_GT(id, 30);

  grpc::ByteBuffer bytes;
  grpc::Status listed_status(grpc::StatusCode::INTERNAL, "not completed");
  service.ListSerialized(grpc::ByteBuffer(), &bytes, CallContext(),
                         UnaryDone::FromFunction([&](grpc::Status s) { listed_status = s; }));
  ASSERT_TRUE(listed_status.ok());
  grpc::Slice slice;
  ASSERT_TRUE(bytes.DumpToSingleSlice(&slice).ok());
  EXPECT_LE(slice.size(), 4096u);
  books::BookList sent;
  ASSERT_TRUE(sent.ParseFromArray(slice.begin(), static_cast<int>(slice.size())));
  books::BookList listed;
  ASSERT_TRUE(List(service, &listed).ok());
  EXPECT_EQ(sent.SerializeAsString(), listed.SerializeAsString());
  EXPECT_EQ(sent.books_size(), id);
}

TEST(BooksServiceTest, UnknownFieldsAreNotStoredOrBroadcast) {
  BooksService service(Unseeded());
  auto stream = Watch(service);
  books::Book book = MakeBook(1);
  book.GetReflection()->MutableUnknownFields(&book)->AddVarint(99, 7);
  ASSERT_TRUE(Insert(service, book).ok());
  books::Book sent;
  grpc::Status status;
  ASSERT_EQ(stream->Next(&sent, &status), Step::kWrite);
  EXPECT_TRUE(sent.GetReflection()->GetUnknownFields(sent).empty());
  books::Book got;
  ASSERT_TRUE(Get(service, 1, &got).ok());
  EXPECT_TRUE(got.GetReflection()->GetUnknownFields(got).empty());
}

TEST(BooksServiceTest, WatchSendsBooksInsertedAfterItInOrder) {
  BooksService service{BooksOptions()};  // book 123 predates the watch
  auto stream = Watch(service);
  EXPECT_EQ(service.watcher_count(), 1u);
  Pulled first = Pull(*stream);
  EXPECT_TRUE(first.ids.empty());
  EXPECT_EQ(first.last, Step::kWait);

  ASSERT_TRUE(Insert(service, MakeBook(3)).ok());
  ASSERT_TRUE(Insert(service, MakeBook(1)).ok());
  ASSERT_TRUE(Delete(service, 3).ok());  // inserted, so still delivered
  ASSERT_TRUE(Insert(service, MakeBook(2)).ok());
  // Failed inserts reach nobody.
  ASSERT_FALSE(Insert(service, MakeBook(1)).ok());
  books::Book untitled = MakeBook(4);
  untitled.clear_title();
  ASSERT_FALSE(Insert(service, untitled).ok());

  books::Book book;
  grpc::Status status;
  ASSERT_EQ(stream->Next(&book, &status), Step::kWrite);
  EXPECT_EQ(book.id(), 3);
  EXPECT_EQ(book.title(), "Title 3");
  EXPECT_EQ(book.author(), "Author 3");
  Pulled rest = Pull(*stream);
  EXPECT_THAT(rest.ids, ElementsAre(1, 2));
  EXPECT_EQ(rest.last, Step::kWait);
}

TEST(BooksServiceTest, DestroyingAWatchStreamRemovesTheWatcher) {
  BooksService service(Unseeded());
  auto a = Watch(service);
  auto b = Watch(service);
  EXPECT_EQ(service.watcher_count(), 2u);
  EXPECT_EQ(Pull(*a).last, Step::kWait);  // parked
  a.reset();
  EXPECT_EQ(service.watcher_count(), 1u);
  b.reset();
  EXPECT_EQ(service.watcher_count(), 0u);
  EXPECT_TRUE(Insert(service, MakeBook(1)).ok());
}

TEST(BooksServiceTest, SlowWatcherIsCutOffAndTheFastOneGetsEverything) {
  BooksService service(Unseeded(/*watch_backlog=*/4));
  auto slow = Watch(service);
  auto fast = Watch(service);
  std::vector<int32_t> fast_ids;
  for (int32_t id = 1; id <= 10; ++id) {
    ASSERT_TRUE(Insert(service, MakeBook(id)).ok());
    Pulled pulled = Pull(*fast);
    fast_ids.insert(fast_ids.end(), pulled.ids.begin(), pulled.ids.end());
  }
  EXPECT_THAT(fast_ids, ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));

  Pulled cut = Pull(*slow);
  EXPECT_TRUE(cut.ids.empty());
  EXPECT_EQ(cut.last, Step::kFinish);
  EXPECT_EQ(cut.status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(cut.status.error_message(),
              HasSubstr("fell more than 4 books behind"));
}

TEST(BooksServiceTest, CloseEndsWatchesWithOkAfterWhatTheyWereOwed) {
  BooksService service(Unseeded());
  auto idle = Watch(service);
  auto owing = Watch(service);
  EXPECT_EQ(Pull(*idle).last, Step::kWait);
  ASSERT_TRUE(Insert(service, MakeBook(1)).ok());
  ASSERT_TRUE(Insert(service, MakeBook(2)).ok());
  EXPECT_THAT(Pull(*idle).ids, ElementsAre(1, 2));

  service.Close();
  // Inserts still work after Close; watchers are no longer owed them.
  EXPECT_TRUE(Insert(service, MakeBook(3)).ok());
  EXPECT_THAT(ListedIds(service), ElementsAre(1, 2, 3));

  Pulled idle_end = Pull(*idle);
  EXPECT_TRUE(idle_end.ids.empty());
  EXPECT_EQ(idle_end.last, Step::kFinish);
  EXPECT_TRUE(idle_end.status.ok());

  Pulled owing_end = Pull(*owing);
  EXPECT_THAT(owing_end.ids, ElementsAre(1, 2));
  EXPECT_EQ(owing_end.last, Step::kFinish);
  EXPECT_TRUE(owing_end.status.ok());
}

TEST(BooksServiceTest, WatchAfterCloseFinishesOkAtOnce) {
  BooksService service{BooksOptions()};
  service.Close();
  auto stream = Watch(service);
  books::Book book;
  grpc::Status status(grpc::StatusCode::INTERNAL, "unset");
  EXPECT_EQ(stream->Next(&book, &status), Step::kFinish);
  EXPECT_TRUE(status.ok());
  stream.reset();
  EXPECT_EQ(service.watcher_count(), 0u);
}

// Concurrent inserts from several threads (as from several queue threads)
// with concurrent readers: afterwards every watcher replays exactly List()'s
// order.
TEST(BooksServiceTest, WatchersSeeTheStoresOrderUnderConcurrentInserts) {
  constexpr int kInserters = 8;
  constexpr int kPerInserter = 100;
  constexpr int kWatchers = 20;
  BooksService service(Unseeded(/*watch_backlog=*/kInserters * kPerInserter));
  std::vector<std::unique_ptr<ServerStream<books::Book>>> streams;
  for (int i = 0; i < kWatchers; ++i) streams.push_back(Watch(service));

  std::vector<std::thread> threads;
  for (int t = 0; t < kInserters; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerInserter; ++i) {
        EXPECT_TRUE(Insert(service, MakeBook(t * kPerInserter + i)).ok());
      }
    });
  }
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&] {
      books::Book book;
      for (int i = 0; i < kInserters * kPerInserter; ++i) {
        grpc::Status status = Get(service, i, &book);
        EXPECT_TRUE(status.ok() ||
                    status.error_code() == grpc::StatusCode::NOT_FOUND);
        if (i % 100 == 0) ListedIds(service);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  const std::vector<int32_t> listed = ListedIds(service);
  ASSERT_EQ(listed.size(), static_cast<size_t>(kInserters * kPerInserter));
  for (auto& stream : streams) {
    Pulled pulled = Pull(*stream);
    EXPECT_EQ(pulled.ids, listed);
    EXPECT_EQ(pulled.last, Step::kWait);
  }
  streams.clear();
  EXPECT_EQ(service.watcher_count(), 0u);
}

}  // namespace
}  // namespace cqmux
