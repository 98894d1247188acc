// Where books live: a small storage interface (so a durable embedded backend
// and a shared multi-replica one can replace it later) and its in-memory
// implementation. Validation of titles and authors is the service's job; a
// store enforces only what it alone can decide atomically: unique ids,
// capacity, and one insertion order.
#ifndef CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_
#define CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "books.pb.h"

namespace cqmux {

// Every implementation is safe for concurrent use from any thread.
//
// The insertion-order contract: inserts are totally ordered; List() returns
// the books present in that order, and Insert's `on_commit` hooks run in that
// same order, one at a time. A caller that publishes from the hook (the Watch
// hub does) therefore publishes exactly in List() order. A hook must be short
// and must not call back into the store.
class BookStore {
 public:
  virtual ~BookStore() = default;

  // ALREADY_EXISTS if the id is taken, RESOURCE_EXHAUSTED when full.
  // `on_commit` runs only on success.
  virtual absl::Status Insert(const books::Book& book,
                              absl::FunctionRef<void()> on_commit) = 0;
  // NOT_FOUND if absent.
  virtual absl::Status Get(int32_t id, books::Book* out) const = 0;
  virtual absl::Status Delete(int32_t id) = 0;
  // Appends every book, in insertion order, to out->books.
  virtual void List(books::BookList* out) const = 0;
  virtual size_t size() const = 0;
};

// "No book with id N was found": the tutorial's wording, shared by backends.
absl::Status BookNotFound(int32_t id);

// Books in RAM. Readers (Get, List, size) share a reader lock and never
// serialise behind each other; writers are exclusive. A deleted id may be
// inserted again and then counts as the newest book.
class InMemoryBookStore final : public BookStore {
 public:
  explicit InMemoryBookStore(size_t max_books) : max_books_(max_books) {}

  absl::Status Insert(const books::Book& book,
                      absl::FunctionRef<void()> on_commit) override;
  absl::Status Get(int32_t id, books::Book* out) const override;
  absl::Status Delete(int32_t id) override;
  void List(books::BookList* out) const override;
  size_t size() const override;

 private:
  // Plain strings: cheaper to move inside the btree than a message.
  struct Entry {
    int32_t id;
    std::string title;
    std::string author;
  };

  const size_t max_books_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Insertion sequence -> book: iteration order is insertion order, and new
  // books always land at the end of the tree.
  absl::btree_map<uint64_t, Entry> by_seq_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int32_t, uint64_t> seq_by_id_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_
