// books.BookService end to end: the tutorial's transcript, validation, and the
// Watch fan-out under concurrency, backpressure, cancellation and shutdown.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "books.grpc.pb.h"
#include "tests/server/app/test_server.h"

namespace cqmux {
namespace {

using books::Book;
using books::BookService;
using grpc::StatusCode;
using ::testing::ElementsAre;

Book MakeBook(int id, std::string title = "", std::string author = "Anon") {
  Book book;
  book.set_id(id);
  book.set_title(title.empty() ? absl::StrCat("Title ", id) : std::move(title));
  book.set_author(std::move(author));
  return book;
}

grpc::Status Insert(BookService::Stub& stub, const Book& book) {
  books::Empty empty;
  auto context = Deadline();
  return stub.Insert(context.get(), book, &empty);
}

std::vector<int> ListIds(BookService::Stub& stub) {
  books::BookList list;
  auto context = Deadline();
  EXPECT_TRUE(stub.List(context.get(), books::Empty(), &list).ok());
  std::vector<int> ids;
  for (const Book& b : list.books()) ids.push_back(b.id());
  return ids;
}

// Polls a server-side condition (not a timing assumption): bounded.
template <typename F>
bool Eventually(F condition) {
  const absl::Time give_up = absl::Now() + kTestDeadline;
  while (!condition()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

TEST(BooksIntegrationTest, TutorialTranscript) {
  TestServer server;
  auto stub = BookService::NewStub(server.Channel());
  books::BookList list;
  auto context = Deadline();
  ASSERT_TRUE(stub->List(context.get(), books::Empty(), &list).ok());
  ASSERT_EQ(list.books_size(), 1);
  EXPECT_EQ(list.books(0).id(), 123);
  EXPECT_EQ(list.books(0).title(), "A Tale of Two Cities");
  EXPECT_EQ(list.books(0).author(), "Charles Dickens");

  ASSERT_TRUE(Insert(*stub, MakeBook(456, "Great Expectations", "Charles Dickens")).ok());
  books::BookIdRequest id;
  id.set_id(456);
  Book got;
  context = Deadline();
  ASSERT_TRUE(stub->Get(context.get(), id, &got).ok());
  EXPECT_EQ(got.title(), "Great Expectations");

  id.set_id(404);
  context = Deadline();
  grpc::Status status = stub->Get(context.get(), id, &got);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "No book with id 404 was found");

  id.set_id(456);
  books::Empty empty;
  context = Deadline();
  ASSERT_TRUE(stub->Delete(context.get(), id, &empty).ok());
  context = Deadline();
  status = stub->Delete(context.get(), id, &empty);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "No book with id 456 was found");
  EXPECT_THAT(ListIds(*stub), ElementsAre(123));
}

TEST(BooksIntegrationTest, InsertValidation) {
  ServerConfig config = TestConfig();
  config.seed_books = false;
  TestServer server(config);
  auto stub = BookService::NewStub(server.Channel());
  EXPECT_TRUE(ListIds(*stub).empty());
  ASSERT_TRUE(Insert(*stub, MakeBook(1)).ok());
  EXPECT_EQ(Insert(*stub, MakeBook(1)).error_code(), StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(Insert(*stub, MakeBook(2, "", "")).error_code(), StatusCode::INVALID_ARGUMENT);
  Book untitled = MakeBook(3);
  untitled.clear_title();
  EXPECT_EQ(Insert(*stub, untitled).error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Insert(*stub, MakeBook(4, std::string(100000, 't'))).error_code(),
            StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ListIds(*stub), ElementsAre(1));
}

// 200 watchers, 100 inserts from 8 concurrent clients: every watcher sees all
// 100, each once, in the store's insertion order.
TEST(BooksIntegrationTest, TwoHundredWatchersSeeEveryInsertInStoreOrder) {
  ServerConfig config = TestConfig();
  config.seed_books = false;
  TestServer server(config);
  constexpr int kWatchers = 200;
  constexpr int kInserters = 8;
  constexpr int kInserts = 100;

  std::vector<std::vector<int>> seen(kWatchers);
  std::vector<grpc::Status> finals(kWatchers);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts(kWatchers);
  std::vector<std::thread> watchers;
  for (int w = 0; w < kWatchers; ++w) {
    contexts[w] = Deadline();
    watchers.emplace_back([&, w] {
      auto stub = BookService::NewStub(server.Channel(w % 16));
      auto reader = stub->Watch(contexts[w].get(), books::Empty());
      Book book;
      while (static_cast<int>(seen[w].size()) < kInserts && reader->Read(&book)) {
        seen[w].push_back(book.id());
      }
      contexts[w]->TryCancel();
      finals[w] = reader->Finish();
    });
  }
  ASSERT_TRUE(Eventually([&] { return server.app().books().watcher_count() == kWatchers; }));

  std::vector<std::thread> inserters;
  std::atomic<int> failed_inserts{0};
  for (int c = 0; c < kInserters; ++c) {
    inserters.emplace_back([&, c] {
      auto stub = BookService::NewStub(server.Channel(100 + c));
      for (int i = c; i < kInserts; i += kInserters) {
        if (!Insert(*stub, MakeBook(1000 + i)).ok()) ++failed_inserts;
      }
    });
  }
  for (std::thread& t : inserters) t.join();
  for (std::thread& t : watchers) t.join();
  ASSERT_EQ(failed_inserts.load(), 0);

  auto stub = BookService::NewStub(server.Channel());
  const std::vector<int> store_order = ListIds(*stub);
  ASSERT_EQ(store_order.size(), static_cast<size_t>(kInserts));
  for (int w = 0; w < kWatchers; ++w) {
    EXPECT_EQ(seen[w], store_order) << "watcher " << w;
  }
  EXPECT_TRUE(Eventually([&] { return server.app().books().watcher_count() == 0; }));
}

// A watcher that does not read is cut off with RESOURCE_EXHAUSTED once it is
// more than --watch-backlog books behind; a reading watcher is unaffected.
TEST(BooksIntegrationTest, SlowWatcherIsCutOffFastWatcherGetsEverything) {
  ServerConfig config = TestConfig();
  config.seed_books = false;
  config.watch_backlog = 8;
  TestServer server(config);
  constexpr int kInserts = 300;

  // The slow watcher's connection advertises a tiny receive window and never
  // grows it, so unread books back up on the server within a few writes.
  grpc::ChannelArguments slow_args;
  slow_args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 1024);
  slow_args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  slow_args.SetInt("cqmux.test.channel", 7);
  auto slow_channel = grpc::CreateCustomChannel(
      server.target(), grpc::InsecureChannelCredentials(), slow_args);
  auto slow_stub = BookService::NewStub(slow_channel);
  auto slow_context = Deadline();
  auto slow = slow_stub->Watch(slow_context.get(), books::Empty());

  auto fast_stub = BookService::NewStub(server.Channel(1));
  auto fast_context = Deadline();
  auto fast = fast_stub->Watch(fast_context.get(), books::Empty());
  ASSERT_TRUE(Eventually([&] { return server.app().books().watcher_count() == 2; }));

  // The fast watcher reads each book before the next insert, so it is never
  // more than one book behind however the threads are scheduled.
  auto stub = BookService::NewStub(server.Channel(2));
  const std::string title(400, 'w');  // ~400 bytes per book on the wire
  Book book;
  for (int i = 0; i < kInserts; ++i) {
    ASSERT_TRUE(Insert(*stub, MakeBook(i, title)).ok());
    ASSERT_TRUE(fast->Read(&book)) << "fast watcher ended at book " << i;
    ASSERT_EQ(book.id(), i);
  }

  // Only now does the slow watcher read: what was in flight, then the error.
  int slow_seen = 0;
  while (slow->Read(&book)) EXPECT_EQ(book.id(), slow_seen++);
  grpc::Status status = slow->Finish();
  EXPECT_EQ(status.error_code(), StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
  EXPECT_LT(slow_seen, kInserts);
  fast_context->TryCancel();
  EXPECT_TRUE(Eventually([&] { return server.app().books().watcher_count() == 0; }));
}

TEST(BooksIntegrationTest, CancelledAndExpiredWatchersLeaveNoState) {
  TestServer server;
  constexpr int kWatchers = 50;
  auto stub = BookService::NewStub(server.Channel());
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<Book>>> readers;
  for (int i = 0; i < kWatchers; ++i) {
    contexts.push_back(Deadline());
    readers.push_back(stub->Watch(contexts.back().get(), books::Empty()));
  }
  auto expiring_context = Deadline(absl::Milliseconds(300));
  auto expiring = stub->Watch(expiring_context.get(), books::Empty());
  ASSERT_TRUE(Eventually([&] {
    return server.app().books().watcher_count() == kWatchers + 1;
  }));
  Book book;
  EXPECT_FALSE(expiring->Read(&book));
  EXPECT_EQ(expiring->Finish().error_code(), StatusCode::DEADLINE_EXCEEDED);
  for (auto& context : contexts) context->TryCancel();
  for (auto& reader : readers) EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
  EXPECT_TRUE(Eventually([&] { return server.app().books().watcher_count() == 0; }));
}

TEST(BooksIntegrationTest, ShutdownEndsOpenWatchesWithOk) {
  auto server = std::make_unique<TestServer>();
  auto stub = BookService::NewStub(server->Channel());
  auto context = Deadline();
  auto reader = stub->Watch(context.get(), books::Empty());
  ASSERT_TRUE(Eventually([&] { return server->app().books().watcher_count() == 1; }));
  ASSERT_TRUE(Insert(*stub, MakeBook(7)).ok());
  Book book;
  ASSERT_TRUE(reader->Read(&book));
  EXPECT_EQ(book.id(), 7);
  std::thread shutdown([&] { server->app().Shutdown(); });
  EXPECT_FALSE(reader->Read(&book));
  grpc::Status status = reader->Finish();
  EXPECT_TRUE(status.ok() || status.error_code() == StatusCode::UNAVAILABLE)
      << status.error_code() << " " << status.error_message();
  shutdown.join();
}

}  // namespace
}  // namespace cqmux
