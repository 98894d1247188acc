// Books in PostgreSQL: the BookStore shared by several cqmux replicas.
//
// Every read and write is one job on PostgresDatabase's pool, answered on a
// worker thread: a write once its COMMIT returned (synchronous_commit on),
// a read from what PostgreSQL holds when it runs. So an acknowledged write
// through any replica is seen by every read started afterwards on any
// replica. There is no read cache: a cache would have to be invalidated by
// the other replicas' writes, and could then be stale.
//
// The commit feed comes from the listening connection: each insert NOTIFYs
// its book (serialized, base64) inside its transaction, so only committed
// books are announced, in commit order, to every replica alike. When the
// listening connection breaks, the feed's `broken` runs (the service ends
// every watch with UNAVAILABLE) and `resumed` once it listens again.
#ifndef CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_BOOK_STORE_H_
#define CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_BOOK_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/services/books/book_store.h"
#include "server/storage/postgres/postgres_database.h"

namespace cqmux {

class PostgresBookStore final : public BookStore {
 public:
  // Reads the totals (size()); subscribes to db's change feed.
  static absl::StatusOr<std::unique_ptr<PostgresBookStore>> Open(PostgresDatabase* db,
                                                                size_t max_books,
                                                                size_t max_list_bytes);
  ~PostgresBookStore() override;

  void SetCommitFeed(CommitFeed feed) override;
  // RESOURCE_EXHAUSTED when full (the totals of every replica's books, with
  // this replica's --max-books and List byte bound); INVALID_ARGUMENT for a
  // book whose NOTIFY payload would not fit (impossible within the
  // service's title and author limits).
  void Insert(books::Book book, WriteDone done) override;
  void Delete(int32_t id, WriteDone done) override;
  void Get(int32_t id, books::Book* out, ReadDone done) const override;
  void List(ListDone done) const override;
  // The number of books as of the newest write this replica made or saw at
  // startup: other replicas' writes since are not counted (metrics only).
  size_t size() const override;
  bool created() const override { return db_->created(); }

 private:
  PostgresBookStore(PostgresDatabase* db, size_t max_books, size_t max_list_bytes);
  // Keeps the count of the newest totals version seen.
  void SeenTotals(int64_t books, int64_t version);
  void OnNotified(absl::string_view payload);

  PostgresDatabase* const db_;
  const size_t max_books_;
  const size_t max_list_bytes_;
  mutable absl::Mutex mu_;
  CommitFeed feed_ ABSL_GUARDED_BY(mu_);
  int64_t count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t count_version_ ABSL_GUARDED_BY(mu_) = -1;
};

// Parses one NOTIFY payload of kBooksChannel (base64 of a serialized Book).
bool DecodeBookNotification(absl::string_view payload, books::Book* book);

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_POSTGRES_POSTGRES_BOOK_STORE_H_
