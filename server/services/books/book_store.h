// Where books live: a small storage interface (so a durable embedded backend
// and a shared multi-replica one can replace it later) and its in-memory
// implementation. Validation of titles and authors is the service's job; a
// store enforces only what it alone can decide atomically: unique ids,
// capacity (in books, and in bytes of List's answer, so that List always fits
// its message limit), and one insertion order.
#ifndef CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_
#define CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
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

  // ALREADY_EXISTS if the id is taken, RESOURCE_EXHAUSTED when full (in
  // books, or because List's answer would outgrow its byte bound).
  // `on_commit` runs only on success.
  virtual absl::Status Insert(const books::Book& book,
                              absl::FunctionRef<void()> on_commit) = 0;
  // NOT_FOUND if absent.
  virtual absl::Status Get(int32_t id, books::Book* out) const = 0;
  virtual absl::Status Delete(int32_t id) = 0;
  // Every book, in insertion order, as a serialized books.BookList: an
  // immutable snapshot the caller may keep (and send) as long as it likes,
  // without holding up writers.
  virtual std::shared_ptr<const std::string> SerializedList() const = 0;
  virtual size_t size() const = 0;

  // Appends every book, in insertion order, to out->books (parses
  // SerializedList()).
  void List(books::BookList* out) const;
};

// "No book with id N was found": the tutorial's wording, shared by backends.
absl::Status BookNotFound(int32_t id);

// Books in RAM. Readers (Get, List, size) share a reader lock and never
// serialise behind each other; writers are exclusive. A deleted id may be
// inserted again and then counts as the newest book.
//
// List's answer is kept serialized and up to date by every change, so a List
// takes a reference under the reader lock and copies nothing: an insert
// appends one book's bytes, a delete cuts them out. While a reader still
// holds the previous snapshot (a List response being sent), the writer
// changes a copy instead (copy-on-write; at most max_list_bytes).
class InMemoryBookStore final : public BookStore {
 public:
  // max_list_bytes: the largest serialized BookList the store may grow to
  // (List's message limit).
  explicit InMemoryBookStore(
      size_t max_books,
      size_t max_list_bytes = std::numeric_limits<size_t>::max())
      : max_books_(max_books), max_list_bytes_(max_list_bytes) {}

  absl::Status Insert(const books::Book& book,
                      absl::FunctionRef<void()> on_commit) override;
  absl::Status Get(int32_t id, books::Book* out) const override;
  absl::Status Delete(int32_t id) override;
  std::shared_ptr<const std::string> SerializedList() const override;
  size_t size() const override;
  // Bytes of List's answer right now.
  size_t list_bytes() const;

 private:
  // Plain strings: cheaper to move inside the btree than a message.
  struct Entry {
    int32_t id;
    std::string title;
    std::string author;
    size_t list_bytes;  // this book's share of the serialized BookList
  };

  // The snapshot, ready to be changed in place: copied first if a reader
  // still holds it.
  std::string* MutableList(size_t reserve) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_books_;
  const size_t max_list_bytes_;
  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Insertion sequence -> book: iteration order is insertion order, and new
  // books always land at the end of the tree.
  absl::btree_map<uint64_t, Entry> by_seq_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<int32_t, uint64_t> seq_by_id_ ABSL_GUARDED_BY(mu_);
  // The serialized BookList of by_seq_, in the same order. Never null.
  std::shared_ptr<std::string> list_ ABSL_GUARDED_BY(mu_) =
      std::make_shared<std::string>();
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_
