// books.BookService: the books tutorial's CRUD service plus Watch, a server
// stream of every book inserted after the watch began.
// (Interface fixed by the lead; implementation owned by the books helper.)
#ifndef CQMUX_SERVER_SERVICES_BOOKS_BOOKS_SERVICE_H_
#define CQMUX_SERVER_SERVICES_BOOKS_BOOKS_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <memory>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "books.pb.h"
#include "server/engine/call_context.h"
#include "server/engine/handlers.h"
#include "server/services/books/book_store.h"
#include "server/services/books/watch_hub.h"

namespace cqmux {

// Longest title and author Insert accepts (bytes of UTF-8).
inline constexpr size_t kMaxBookTitleBytes = 1024;
inline constexpr size_t kMaxBookAuthorBytes = 1024;

struct BooksOptions {
  bool seed_books = true;       // start with book 123 (the tutorial's)
  size_t watch_backlog = 1024;  // books a watcher may lag before it is cut off
  size_t max_books = 1000000;   // store capacity
  // Largest List answer (serialized BookList) in bytes: List's message
  // limit. Inserts that would make it larger fail with RESOURCE_EXHAUSTED,
  // so List always fits. 4 MiB is also gRPC clients' default receive limit.
  size_t max_list_bytes = 4 << 20;
};

class BooksService {
 public:
  // Over `store` (the app picks the backend from --store). The tutorial's
  // book is seeded only into a store created by this process.
  BooksService(BooksOptions options, std::unique_ptr<BookStore> store);
  // Over an in-memory store bounded by options.max_books/max_list_bytes.
  explicit BooksService(BooksOptions options);
  ~BooksService();

  // The reads are asynchronous (bind with AsyncUnary): a shared store
  // answers from its database later; RAM stores answer inline, before the
  // handler returns, and then cost what a synchronous handler does.
  void List(const books::Empty& request, books::BookList* response,
            const CallContext& call, UnaryDone done);
  // List for a raw method: the store's serialized snapshot, sent as it is
  // (no copy, no per-book work; the request is books.Empty and ignored).
  void ListSerialized(const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                      const CallContext& call, UnaryDone done);
  // Asynchronous (bind with AsyncUnary): answered once the store has made
  // the insert durable (or failed it).
  void Insert(const books::Book& request, books::Empty* response,
              const CallContext& call, UnaryDone done);
  void Get(const books::BookIdRequest& request, books::Book* response,
           const CallContext& call, UnaryDone done);
  void Delete(const books::BookIdRequest& request, books::Empty* response,
              const CallContext& call, UnaryDone done);
  std::unique_ptr<ServerStream<books::Book>> Watch(const books::Empty& request,
                                                   const CallContext& call,
                                                   Waker waker);

  // Watch streams end with UNAVAILABLE ("re-watch") while a shared store's
  // feed is broken (see BookStore::CommitFeed).
  // Graceful shutdown: every open watch ends with OK once it has sent what
  // it already owed; later Watch calls end immediately.
  void Close();

  // Open watch streams (for tests and metrics).
  size_t watcher_count() const;
  const BookStore& store() const { return *store_; }
  // Watch streams ended for falling more than watch_backlog books behind.
  uint64_t watchers_cut_off() const;
  // Books stored now.
  size_t book_count() const;

 private:
  // Inserts are published to the hub from the store's commit feed, so every
  // watcher sees commit (List()) order, durable ones only; see book_store.h
  // and watch_hub.h. The hub outlives the store's last feed call: the app
  // stops a durable store's writer before services are destroyed.
  WatchHub<books::Book> hub_;
  std::unique_ptr<BookStore> store_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_BOOKS_BOOKS_SERVICE_H_
