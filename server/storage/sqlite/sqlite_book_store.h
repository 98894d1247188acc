// Books on disk: the BookStore backed by SqliteDatabase (one row per book,
// in commit order), with an in-memory read cache.
//
// Why a read cache rather than reader connections: Get and List are served
// from RAM exactly as by the memory store (List's answer stays a serialized
// snapshot, sent without a copy), so a read never waits for the disk or for
// the writer, and costs what it cost before. The cache holds what the books
// table holds (bounded by --max-books and List's byte limit), so it costs
// no more memory than the memory store. It is kept consistent by applying
// each write on the writer thread, in commit order, after its group is
// durable and before the write is answered: a read never sees a book that
// could still be lost, and a client sees its own acknowledged write.
#ifndef CQMUX_SERVER_STORAGE_SQLITE_SQLITE_BOOK_STORE_H_
#define CQMUX_SERVER_STORAGE_SQLITE_SQLITE_BOOK_STORE_H_

#include <cstddef>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/services/books/book_store.h"
#include "server/storage/sqlite/sqlite_database.h"

namespace cqmux {

class SqliteBookStore final : public BookStore, private GroupObserver {
 public:
  // Loads every stored book into the cache (before `db`'s first write).
  static absl::StatusOr<std::unique_ptr<SqliteBookStore>> Open(SqliteDatabase* db,
                                                              size_t max_books,
                                                              size_t max_list_bytes);

  void SetCommitFeed(CommitFeed feed) override { feed_ = std::move(feed); }
  void Insert(books::Book book, WriteDone done) override;
  void Delete(int32_t id, WriteDone done) override;
  // Inline, from the cache.
  void Get(int32_t id, books::Book* out, ReadDone done) const override {
    done(cache_.Get(id, out));
  }
  void List(ListDone done) const override { done(cache_.SerializedList()); }
  size_t size() const override { return cache_.size(); }
  bool created() const override { return db_->created(); }

 private:
  SqliteBookStore(SqliteDatabase* db, size_t max_books, size_t max_list_bytes);
  void GroupBegan() override;
  void GroupEnded(bool committed) override;

  SqliteDatabase* const db_;
  const size_t max_books_;
  const size_t max_list_bytes_;
  InMemoryBookStore cache_;
  CommitFeed feed_;
  // Writer thread only: the store's size as the current group leaves it, so
  // that capacity is decided in commit order; restored if the group fails.
  size_t count_ = 0;
  size_t list_bytes_ = 0;
  size_t group_count_ = 0;
  size_t group_list_bytes_ = 0;
  bool group_inserted_ = false;
  Statement insert_;
  Statement delete_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_STORAGE_SQLITE_SQLITE_BOOK_STORE_H_
