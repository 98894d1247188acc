// books.BookService: validation, the store, and Watch streams over the hub;
// see books_service.h.
#include "server/services/books/books_service.h"

#include <string>
#include <utility>

#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"
#include "server/common/grpc_status.h"

namespace cqmux {
namespace {

using Hub = WatchHub<books::Book>;
using Step = ServerStream<books::Book>::Step;

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

grpc::Status ValidateBook(const books::Book& book) {
  if (book.title().empty()) return InvalidArgument("title must not be empty");
  if (book.author().empty()) return InvalidArgument("author must not be empty");
  if (book.title().size() > kMaxBookTitleBytes) {
    return InvalidArgument(
        absl::StrCat("title is longer than ", kMaxBookTitleBytes, " bytes"));
  }
  if (book.author().size() > kMaxBookAuthorBytes) {
    return InvalidArgument(
        absl::StrCat("author is longer than ", kMaxBookAuthorBytes, " bytes"));
  }
  return grpc::Status::OK;
}

// A byte buffer over a shared snapshot without copying it: the slice keeps a
// reference until gRPC has sent it.
grpc::ByteBuffer SharedBytes(std::shared_ptr<const std::string> bytes) {
  if (bytes->empty()) {
    grpc::Slice empty;
    return grpc::ByteBuffer(&empty, 1);
  }
  using Owner = std::shared_ptr<const std::string>;
  auto* owner = new Owner(std::move(bytes));
  grpc_slice raw = grpc_slice_new_with_user_data(
      const_cast<char*>((*owner)->data()), (*owner)->size(),
      [](void* p) { delete static_cast<Owner*>(p); }, owner);
  grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&slice, 1);
}

// One Watch call: a hub cursor, pulled by the engine one write at a time.
// Destroying it (the engine does as soon as the call ends or is cancelled)
// unsubscribes.
class WatchStream final : public ServerStream<books::Book> {
 public:
  WatchStream(Hub* hub, Waker waker) : watcher_(hub, std::move(waker)) {}

  Step Next(books::Book* message, grpc::Status* status) override {
    std::shared_ptr<const books::Book> book;
    switch (watcher_.Next(&book)) {
      case Hub::Poll::kItem:
        *message = *book;  // copied outside the hub's lock
        return Step::kWrite;
      case Hub::Poll::kWait:
        return Step::kWait;
      case Hub::Poll::kLagged:
        *status = grpc::Status(
            grpc::StatusCode::RESOURCE_EXHAUSTED,
            absl::StrCat("watcher fell more than ", watcher_.hub()->backlog(),
                         " books behind; re-subscribe (--watch-backlog)"));
        return Step::kFinish;
      case Hub::Poll::kClosed:
        *status = grpc::Status::OK;
        return Step::kFinish;
      case Hub::Poll::kBroken:
        *status = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "lost the database's change feed; re-watch");
        return Step::kFinish;
    }
    return Step::kFinish;
  }

 private:
  Hub::Watcher watcher_;
};

}  // namespace

BooksService::BooksService(BooksOptions options)
    : BooksService(options, std::make_unique<InMemoryBookStore>(
                                options.max_books, options.max_list_bytes)) {}

BooksService::BooksService(BooksOptions options, std::unique_ptr<BookStore> store)
    : hub_(options.watch_backlog), store_(std::move(store)) {
  store_->SetCommitFeed(BookStore::CommitFeed{
      // Evicted items are dropped here, on the committing thread; a Book is
      // small.
      [this](std::shared_ptr<const books::Book> book) { hub_.Append(std::move(book)); },
      [this] { hub_.WakeParked(); },
      [this] { hub_.Break(); },
      [this] { hub_.Resume(); }});
  if (options.seed_books && store_->created()) {
    books::Book tale;
    tale.set_id(123);
    tale.set_title("A Tale of Two Cities");
    tale.set_author("Charles Dickens");
    // Nobody can be watching yet. A failure (disk full at the first start)
    // leaves the store empty, as --seed-books=false would.
    store_->Insert(std::move(tale), [](absl::Status) {});
  }
}

BooksService::~BooksService() = default;

void BooksService::List(const books::Empty& /*request*/, books::BookList* response,
                        const CallContext& /*call*/, UnaryDone done) {
  // The response belongs to the call, which lives until `done` runs.
  store_->List([response, done](absl::StatusOr<std::shared_ptr<const std::string>> list) {
    if (!list.ok()) {
      done(ToGrpcStatus(list.status()));
    } else if (!response->ParseFromString(**list)) {
      done(grpc::Status(grpc::StatusCode::INTERNAL, "the store's book list does not parse"));
    } else {
      done(grpc::Status::OK);
    }
  });
}

void BooksService::ListSerialized(const grpc::ByteBuffer& /*request*/,
                                  grpc::ByteBuffer* response, const CallContext& /*call*/,
                                  UnaryDone done) {
  store_->List([response, done](absl::StatusOr<std::shared_ptr<const std::string>> list) {
    if (!list.ok()) {
      done(ToGrpcStatus(list.status()));
      return;
    }
    *response = SharedBytes(*std::move(list));
    done(grpc::Status::OK);
  });
}

void BooksService::Insert(const books::Book& request, books::Empty* /*response*/,
                          const CallContext& /*call*/, UnaryDone done) {
  if (grpc::Status invalid = ValidateBook(request); !invalid.ok()) {
    done(std::move(invalid));
    return;
  }
  // Only the known fields are stored and reach watchers.
  books::Book book;
  book.set_id(request.id());
  book.set_title(request.title());
  book.set_author(request.author());
  store_->Insert(std::move(book), [done](absl::Status s) { done(ToGrpcStatus(s)); });
}

void BooksService::Get(const books::BookIdRequest& request, books::Book* response,
                       const CallContext& /*call*/, UnaryDone done) {
  store_->Get(request.id(), response, [done](absl::Status s) { done(ToGrpcStatus(s)); });
}

void BooksService::Delete(const books::BookIdRequest& request, books::Empty* /*response*/,
                          const CallContext& /*call*/, UnaryDone done) {
  store_->Delete(request.id(), [done](absl::Status s) { done(ToGrpcStatus(s)); });
}

std::unique_ptr<ServerStream<books::Book>> BooksService::Watch(
    const books::Empty& /*request*/, const CallContext& /*call*/,
    Waker waker) {
  return std::make_unique<WatchStream>(&hub_, std::move(waker));
}

void BooksService::Close() { hub_.Close(); }

size_t BooksService::watcher_count() const { return hub_.watcher_count(); }

uint64_t BooksService::watchers_cut_off() const { return hub_.lagged_count(); }

size_t BooksService::book_count() const { return store_->size(); }

}  // namespace cqmux
