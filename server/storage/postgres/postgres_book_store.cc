// Books in PostgreSQL; see postgres_book_store.h.
#include "server/storage/postgres/postgres_book_store.h"

#include <libpq-fe.h>

#include <cstdlib>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "server/common/log.h"

namespace cqmux {

bool DecodeBookNotification(absl::string_view payload, books::Book* book) {
  std::string bytes;
  return absl::Base64Unescape(payload, &bytes) && book->ParseFromString(bytes);
}

absl::StatusOr<std::unique_ptr<PostgresBookStore>> PostgresBookStore::Open(
    PostgresDatabase* db, size_t max_books, size_t max_list_bytes) {
  std::unique_ptr<PostgresBookStore> store(new PostgresBookStore(db, max_books, max_list_bytes));
  absl::StatusOr<std::shared_ptr<PGresult>> totals =
      db->StartupQuery("SELECT books, version FROM book_totals", "reading the book totals");
  if (!totals.ok()) return totals.status();
  if (PQntuples(totals->get()) == 1) {
    store->SeenTotals(std::atoll(PQgetvalue(totals->get(), 0, 0)),
                      std::atoll(PQgetvalue(totals->get(), 0, 1)));
  }
  PostgresBookStore* self = store.get();
  db->SetChangeFeed(PostgresDatabase::ChangeFeed{
      [self](absl::string_view payload) { self->OnNotified(payload); },
      [self] {
        absl::MutexLock lock(&self->mu_);
        if (self->feed_.flush) self->feed_.flush();
      },
      [self] {
        absl::MutexLock lock(&self->mu_);
        if (self->feed_.broken) self->feed_.broken();
      },
      [self] {
        absl::MutexLock lock(&self->mu_);
        if (self->feed_.resumed) self->feed_.resumed();
      }});
  return store;
}

PostgresBookStore::PostgresBookStore(PostgresDatabase* db, size_t max_books,
                                     size_t max_list_bytes)
    : db_(db), max_books_(max_books), max_list_bytes_(max_list_bytes) {}

PostgresBookStore::~PostgresBookStore() { db_->SetChangeFeed({}); }

void PostgresBookStore::SetCommitFeed(CommitFeed feed) {
  absl::MutexLock lock(&mu_);
  feed_ = std::move(feed);
}

void PostgresBookStore::OnNotified(absl::string_view payload) {
  auto book = std::make_shared<books::Book>();
  if (!DecodeBookNotification(payload, book.get())) {
    // Not ours (someone NOTIFYing our channel by hand): never a watcher's.
    Log(LogLevel::kWarning, "postgres: ignored a malformed notification on %s", kBooksChannel);
    return;
  }
  absl::MutexLock lock(&mu_);
  if (feed_.inserted) feed_.inserted(std::move(book));
}

void PostgresBookStore::SeenTotals(int64_t books, int64_t version) {
  absl::MutexLock lock(&mu_);
  if (version > count_version_) {
    count_version_ = version;
    count_ = books;
  }
}

size_t PostgresBookStore::size() const {
  absl::MutexLock lock(&mu_);
  return static_cast<size_t>(count_);
}

void PostgresBookStore::Insert(books::Book book, WriteDone done) {
  std::string payload = absl::Base64Escape(book.SerializeAsString());
  if (payload.size() > kMaxNotifyPayloadBytes) {
    done(absl::InvalidArgumentError(absl::StrCat(
        "book ", book.id(), " is too large for the PostgreSQL change feed (",
        payload.size(), " bytes of NOTIFY payload, at most ", kMaxNotifyPayloadBytes, ")")));
    return;
  }
  const size_t entry_bytes = InMemoryBookStore::ListEntryBytes(book);
  std::vector<std::string> params = {
      absl::StrCat(book.id()), book.title(), book.author(), absl::StrCat(entry_bytes),
      absl::StrCat(max_books_),
      absl::StrCat(std::min<size_t>(max_list_bytes_, std::numeric_limits<int64_t>::max())),
      std::move(payload)};
  const int32_t id = book.id();
  db_->Submit(PostgresDatabase::Job{
      [this, params = std::move(params), id, done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res = PostgresDatabase::Exec(
            conn, "SELECT o_outcome, o_books, o_version FROM cqmux_insert_book($1, $2, $3, $4, $5, $6, $7)",
            params, absl::StrCat("inserting book ", id));
        if (!res.ok()) {
          done(res.status());
          return true;
        }
        PGresult* r = res->get();
        const std::string outcome = PQgetvalue(r, 0, 0);
        SeenTotals(std::atoll(PQgetvalue(r, 0, 1)), std::atoll(PQgetvalue(r, 0, 2)));
        if (outcome == "ok") {
          done(absl::OkStatus());
        } else if (outcome == "exists") {
          done(absl::AlreadyExistsError(absl::StrCat("a book with id ", id, " already exists")));
        } else if (outcome == "full") {
          done(absl::ResourceExhaustedError(
              absl::StrCat("the book store is full (", max_books_, " books, --max-books)")));
        } else {
          done(absl::ResourceExhaustedError(absl::StrCat(
              "the book store is full: List's answer would exceed ", max_list_bytes_,
              " bytes (the message limit)")));
        }
        return true;
      },
      done});
}

void PostgresBookStore::Delete(int32_t id, WriteDone done) {
  db_->Submit(PostgresDatabase::Job{
      [this, id, done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res = PostgresDatabase::Exec(
            conn, "SELECT o_outcome, o_books, o_version FROM cqmux_delete_book($1)",
            {absl::StrCat(id)}, absl::StrCat("deleting book ", id));
        if (!res.ok()) {
          done(res.status());
          return true;
        }
        PGresult* r = res->get();
        SeenTotals(std::atoll(PQgetvalue(r, 0, 1)), std::atoll(PQgetvalue(r, 0, 2)));
        done(std::string(PQgetvalue(r, 0, 0)) == "ok" ? absl::OkStatus() : BookNotFound(id));
        return true;
      },
      done});
}

void PostgresBookStore::Get(int32_t id, books::Book* out, ReadDone done) const {
  db_->Submit(PostgresDatabase::Job{
      [id, out, done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res = PostgresDatabase::Exec(
            conn, "SELECT title, author FROM books WHERE id = $1", {absl::StrCat(id)},
            absl::StrCat("reading book ", id));
        if (!res.ok()) {
          if (PostgresDatabase::ConnectionBroken(conn)) return false;  // once more
          done(res.status());
          return true;
        }
        PGresult* r = res->get();
        if (PQntuples(r) == 0) {
          done(BookNotFound(id));
          return true;
        }
        out->set_id(id);
        out->set_title(PQgetvalue(r, 0, 0));
        out->set_author(PQgetvalue(r, 0, 1));
        done(absl::OkStatus());
        return true;
      },
      done});
}

void PostgresBookStore::List(ListDone done) const {
  db_->Submit(PostgresDatabase::Job{
      [done](PGconn* conn) {
        absl::StatusOr<std::shared_ptr<PGresult>> res = PostgresDatabase::Exec(
            conn, "SELECT id, title, author FROM books ORDER BY seq", {}, "listing books");
        if (!res.ok()) {
          if (PostgresDatabase::ConnectionBroken(conn)) return false;
          done(res.status());
          return true;
        }
        PGresult* r = res->get();
        books::BookList list;
        const int rows = PQntuples(r);
        list.mutable_books()->Reserve(rows);
        for (int i = 0; i < rows; ++i) {
          books::Book* book = list.add_books();
          book->set_id(std::atoi(PQgetvalue(r, i, 0)));
          book->set_title(PQgetvalue(r, i, 1));
          book->set_author(PQgetvalue(r, i, 2));
        }
        done(std::make_shared<const std::string>(list.SerializeAsString()));
        return true;
      },
      [done](absl::Status error) { done(std::move(error)); }});
}

}  // namespace cqmux
