// Where books live: a small storage interface (backends: this in-memory one,
// the reference; the durable SQLite one in server/storage/sqlite; the shared
// multi-replica PostgreSQL one in server/storage/postgres) and its in-memory
// implementation. Validation of titles and authors is the service's job; a
// store enforces only what it alone can decide atomically: unique ids,
// capacity (in books, and in bytes of List's answer, so that List always fits
// its message limit), and one insertion order.
#ifndef CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_
#define CQMUX_SERVER_SERVICES_BOOKS_BOOK_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/flat_hash_map.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "books.pb.h"

namespace cqmux {

// Completion of a write: called exactly once, from any thread (a durable
// backend calls it from its writer thread once the write is on disk, or with
// the error that kept it off), possibly before Insert/Delete returned.
using WriteDone = std::function<void(absl::Status)>;
// Completion of a read: called exactly once, from any thread. Backends that
// hold the data in RAM (memory, sqlite) call it before the read returns, on
// the caller's thread, so their reads cost no hand-over; a shared backend
// (postgres) calls it from its worker once the database answered.
using ReadDone = std::function<void(absl::Status)>;
// List's answer: a serialized books.BookList, or why there is none.
using ListDone = std::function<void(absl::StatusOr<std::shared_ptr<const std::string>>)>;

// Every implementation is safe for concurrent use from any thread.
//
// Writes and reads are asynchronous: a backend decides the writes' order
// (its commit order) and reports it; reads never wait behind writes (RAM
// backends answer them inline). A write is visible to every read started
// after its WriteDone ran (read-your-writes; with a shared backend, on every
// replica).
//
// The commit-order contract: inserts are totally ordered; List() returns the
// books present in that order, and the commit feed sees every committed
// insert exactly once, in that order, only once it is durable. A shared
// backend (several replicas on one database) feeds inserts from every
// replica, so Watch works across them; the service never orders anything.
class BookStore {
 public:
  struct CommitFeed {
    // One committed insert. Runs where the backend orders its commits
    // (under a lock, or on its writer thread): must be short and must not
    // call back into the store.
    std::function<void(std::shared_ptr<const books::Book>)> inserted;
    // After one or more `inserted` (e.g. a whole group commit), outside the
    // store's locks: the place to wake watchers once per batch.
    std::function<void()> flush;
    // A shared backend only (may stay unset): the feed broke (inserts may
    // have been missed: open watches must end) and, later, works again
    // (only inserts committed from then on will come).
    std::function<void()> broken = nullptr;
    std::function<void()> resumed = nullptr;
  };

  virtual ~BookStore() = default;

  // Set once, before the first write.
  virtual void SetCommitFeed(CommitFeed feed) = 0;
  // ALREADY_EXISTS if the id is taken, RESOURCE_EXHAUSTED when full (in
  // books, or because List's answer would outgrow its byte bound) or the
  // disk is, UNAVAILABLE when the write could not be made durable.
  virtual void Insert(books::Book book, WriteDone done) = 0;
  // NOT_FOUND if absent; disk errors as Insert.
  virtual void Delete(int32_t id, WriteDone done) = 0;
  // Fills *out (kept alive by the caller until `done`); NOT_FOUND if
  // absent, UNAVAILABLE if a shared backend cannot reach its database.
  virtual void Get(int32_t id, books::Book* out, ReadDone done) const = 0;
  // Every book, in insertion order, as a serialized books.BookList: an
  // immutable snapshot the caller may keep (and send) as long as it likes,
  // without holding up writers.
  virtual void List(ListDone done) const = 0;
  // Books stored (a shared backend: as of its own latest write; for
  // metrics).
  virtual size_t size() const = 0;
  // True if the store was created empty by this process (memory; a new data
  // directory): the service seeds the tutorial's book only then, so a book
  // deleted by a user does not come back after a restart.
  virtual bool created() const = 0;
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

  // BookStore: writes complete at once, on the caller's thread; the feed's
  // `inserted` runs under the writer lock, so its order is List() order.
  void SetCommitFeed(CommitFeed feed) override { feed_ = std::move(feed); }
  void Insert(books::Book book, WriteDone done) override;
  void Delete(int32_t id, WriteDone done) override;
  // Reads complete inline, on the caller's thread.
  void Get(int32_t id, books::Book* out, ReadDone done) const override { done(Get(id, out)); }
  void List(ListDone done) const override { done(SerializedList()); }
  size_t size() const override;
  bool created() const override { return true; }

  // The synchronous reads (also those of durable backends' read caches).
  absl::Status Get(int32_t id, books::Book* out) const;
  std::shared_ptr<const std::string> SerializedList() const;
  // Appends every book, in insertion order, to out->books (parses
  // SerializedList()).
  void List(books::BookList* out) const;

  // The synchronous core, also used by durable backends as their read
  // cache (applied in their commit order). `on_commit` runs only on
  // success, under the writer lock.
  absl::Status InsertNow(const books::Book& book,
                         absl::FunctionRef<void()> on_commit);
  absl::Status DeleteNow(int32_t id);
  // Loads a book read back from disk: no capacity check (a smaller
  // --max-books must not lose stored books), no feed.
  void Restore(const books::Book& book);
  // Bytes of List's answer right now.
  size_t list_bytes() const;
  // What one book adds to List's answer (its entry in the BookList).
  static size_t ListEntryBytes(const books::Book& book);

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

  absl::Status Append(const books::Book& book, bool check_limits,
                      absl::FunctionRef<void()> on_commit);

  const size_t max_books_;
  const size_t max_list_bytes_;
  CommitFeed feed_;  // set before the first write
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
