// The in-memory book store; see book_store.h.
#include "server/services/books/book_store.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace cqmux {

absl::Status BookNotFound(int32_t id) {
  return absl::NotFoundError(absl::StrCat("No book with id ", id, " was found"));
}

absl::Status InMemoryBookStore::Insert(const books::Book& book,
                                       absl::FunctionRef<void()> on_commit) {
  absl::MutexLock lock(&mu_);
  if (seq_by_id_.contains(book.id())) {
    return absl::AlreadyExistsError(
        absl::StrCat("A book with id ", book.id(), " already exists"));
  }
  if (by_seq_.size() >= max_books_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "The book store is full (", max_books_, " books); delete some first"));
  }
  const uint64_t seq = next_seq_++;
  seq_by_id_.emplace(book.id(), seq);
  by_seq_.emplace_hint(by_seq_.end(), seq,
                       Entry{book.id(), book.title(), book.author()});
  // Still under the writer lock: the hook's order is the insertion order.
  on_commit();
  return absl::OkStatus();
}

absl::Status InMemoryBookStore::Get(int32_t id, books::Book* out) const {
  absl::ReaderMutexLock lock(&mu_);
  auto seq = seq_by_id_.find(id);
  if (seq == seq_by_id_.end()) return BookNotFound(id);
  const Entry& entry = by_seq_.find(seq->second)->second;
  out->set_id(entry.id);
  out->set_title(entry.title);
  out->set_author(entry.author);
  return absl::OkStatus();
}

absl::Status InMemoryBookStore::Delete(int32_t id) {
  absl::MutexLock lock(&mu_);
  auto seq = seq_by_id_.find(id);
  if (seq == seq_by_id_.end()) return BookNotFound(id);
  by_seq_.erase(seq->second);
  seq_by_id_.erase(seq);
  return absl::OkStatus();
}

void InMemoryBookStore::List(books::BookList* out) const {
  absl::ReaderMutexLock lock(&mu_);
  out->mutable_books()->Reserve(out->books_size() +
                                static_cast<int>(by_seq_.size()));
  for (const auto& [seq, entry] : by_seq_) {
    books::Book* book = out->add_books();
    book->set_id(entry.id);
    book->set_title(entry.title);
    book->set_author(entry.author);
  }
}

size_t InMemoryBookStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_seq_.size();
}

}  // namespace cqmux
