// Books on disk with an in-memory read cache; see sqlite_book_store.h.
#include "server/storage/sqlite/sqlite_book_store.h"

#include <sqlite3.h>

#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cqmux {

SqliteBookStore::SqliteBookStore(SqliteDatabase* db, size_t max_books, size_t max_list_bytes)
    : db_(db), max_books_(max_books), max_list_bytes_(max_list_bytes),
      // The limits are enforced by the writer, in commit order; the cache
      // takes whatever was committed.
      cache_(std::numeric_limits<size_t>::max()),
      insert_(Prepare(db->db(),
                      "INSERT INTO books (id, title, author, created_at) "
                      "VALUES (?, ?, ?, unixepoch())")),
      delete_(Prepare(db->db(), "DELETE FROM books WHERE id = ? RETURNING title, author")) {
  db_->AddGroupObserver(this);
}

absl::StatusOr<std::unique_ptr<SqliteBookStore>> SqliteBookStore::Open(
    SqliteDatabase* db, size_t max_books, size_t max_list_bytes) {
  std::unique_ptr<SqliteBookStore> store(new SqliteBookStore(db, max_books, max_list_bytes));
  Statement all = Prepare(db->db(), "SELECT id, title, author FROM books ORDER BY seq");
  int rc;
  books::Book book;
  while ((rc = sqlite3_step(all.get())) == SQLITE_ROW) {
    book.set_id(sqlite3_column_int(all.get(), 0));
    book.set_title(reinterpret_cast<const char*>(sqlite3_column_text(all.get(), 1)));
    book.set_author(reinterpret_cast<const char*>(sqlite3_column_text(all.get(), 2)));
    store->cache_.Restore(book);
    ++store->count_;
    store->list_bytes_ += InMemoryBookStore::ListEntryBytes(book);
  }
  if (rc != SQLITE_DONE) {
    return SqliteError(db->db(), rc, absl::StrCat("reading the books of \"", db->path(), "\""));
  }
  return store;
}

void SqliteBookStore::GroupBegan() {
  group_count_ = count_;
  group_list_bytes_ = list_bytes_;
  group_inserted_ = false;
}

void SqliteBookStore::GroupEnded(bool committed) {
  if (!committed) {
    count_ = group_count_;
    list_bytes_ = group_list_bytes_;
    return;
  }
  // Watchers are woken once per group, after its books were published.
  if (group_inserted_ && feed_.flush) feed_.flush();
}

void SqliteBookStore::Insert(books::Book book, WriteDone done) {
  auto shared = std::make_shared<const books::Book>(std::move(book));
  const size_t entry_bytes = InMemoryBookStore::ListEntryBytes(*shared);
  db_->Submit(SqliteDatabase::Write{
      [this, shared, entry_bytes](sqlite3* db, bool* group_failed) -> absl::Status {
        if (count_ >= max_books_) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "The book store is full (", max_books_, " books); delete some first"));
        }
        if (list_bytes_ + entry_bytes > max_list_bytes_) {
          return absl::ResourceExhaustedError(absl::StrCat(
              "The book store is full: List must fit in ", max_list_bytes_,
              " bytes (the method's message limit) and ", list_bytes_,
              " are taken; delete some books first"));
        }
        sqlite3_stmt* s = insert_.get();
        sqlite3_bind_int(s, 1, shared->id());
        sqlite3_bind_text(s, 2, shared->title().data(), static_cast<int>(shared->title().size()),
                          SQLITE_STATIC);
        sqlite3_bind_text(s, 3, shared->author().data(),
                          static_cast<int>(shared->author().size()), SQLITE_STATIC);
        const int rc = sqlite3_step(s);
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
          // Only this statement was undone; the group goes on.
          return absl::AlreadyExistsError(
              absl::StrCat("A book with id ", shared->id(), " already exists"));
        }
        if (rc != SQLITE_DONE) {
          *group_failed = true;
          return SqliteError(db, rc, "book not stored");
        }
        ++count_;
        list_bytes_ += entry_bytes;
        return absl::OkStatus();
      },
      [this, shared, done = std::move(done)](absl::Status status) {
        if (status.ok()) {
          // Durable now: into the cache and to watchers, in commit order.
          cache_.InsertNow(*shared, [&] {
            if (feed_.inserted) feed_.inserted(shared);
          }).IgnoreError();  // the writer decided already; the cache agrees
          group_inserted_ = true;
        }
        done(std::move(status));
      }});
}

void SqliteBookStore::Delete(int32_t id, WriteDone done) {
  db_->Submit(SqliteDatabase::Write{
      [this, id](sqlite3* db, bool* group_failed) -> absl::Status {
        sqlite3_stmt* s = delete_.get();
        sqlite3_bind_int(s, 1, id);
        int rc = sqlite3_step(s);
        books::Book gone;
        const bool found = rc == SQLITE_ROW;
        if (found) {
          gone.set_id(id);
          gone.set_title(reinterpret_cast<const char*>(sqlite3_column_text(s, 0)));
          gone.set_author(reinterpret_cast<const char*>(sqlite3_column_text(s, 1)));
          rc = sqlite3_step(s);
        }
        sqlite3_reset(s);
        if (rc != SQLITE_DONE) {
          *group_failed = true;
          return SqliteError(db, rc, "book not deleted");
        }
        if (!found) return BookNotFound(id);
        --count_;
        list_bytes_ -= InMemoryBookStore::ListEntryBytes(gone);
        return absl::OkStatus();
      },
      [this, id, done = std::move(done)](absl::Status status) {
        if (status.ok()) cache_.DeleteNow(id).IgnoreError();
        done(std::move(status));
      }});
}

}  // namespace cqmux
