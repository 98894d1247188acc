// The in-memory book store; see book_store.h.
#include "server/services/books/book_store.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"

namespace cqmux {

absl::Status BookNotFound(int32_t id) {
  return absl::NotFoundError(absl::StrCat("No book with id ", id, " was found"));
}

void BookStore::List(books::BookList* out) const {
  // Parsing appends to the repeated field, as the contract says.
  const bool parsed = out->MergeFromString(*SerializedList());
  (void)parsed;  // our own serialization: always valid
}

std::string* InMemoryBookStore::MutableList(size_t reserve) {
  if (list_.use_count() != 1) {
    // A reader (a List response still being sent) holds this snapshot: it
    // stays as it is, and the change goes into a copy.
    auto copy = std::make_shared<std::string>();
    copy->reserve(reserve);
    copy->append(*list_);
    list_ = std::move(copy);
  } else {
    // The last reader let go of it on another thread (its release of the
    // reference pairs with this fence), so its reads happened before our
    // writes. Readers only take new references under mu_, which we hold.
    std::atomic_thread_fence(std::memory_order_acquire);
  }
  return list_.get();
}

absl::Status InMemoryBookStore::Insert(const books::Book& book,
                                       absl::FunctionRef<void()> on_commit) {
  // This book as List will send it: one element of BookList.books, built
  // outside the lock.
  books::BookList one;
  books::Book* entry = one.add_books();
  entry->set_id(book.id());
  entry->set_title(book.title());
  entry->set_author(book.author());
  const std::string bytes = one.SerializeAsString();

  absl::MutexLock lock(&mu_);
  if (seq_by_id_.contains(book.id())) {
    return absl::AlreadyExistsError(
        absl::StrCat("A book with id ", book.id(), " already exists"));
  }
  if (by_seq_.size() >= max_books_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "The book store is full (", max_books_, " books); delete some first"));
  }
  if (list_->size() + bytes.size() > max_list_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "The book store is full: List must fit in ", max_list_bytes_,
        " bytes (the method's message limit) and ", list_->size(),
        " are taken; delete some books first"));
  }
  const uint64_t seq = next_seq_++;
  seq_by_id_.emplace(book.id(), seq);
  by_seq_.emplace_hint(by_seq_.end(), seq,
                       Entry{book.id(), book.title(), book.author(),
                             bytes.size()});
  // Room for more than one insert, so that appends in place stay amortized
  // O(book) when no List holds the snapshot.
  MutableList(std::min(2 * (list_->size() + bytes.size()), max_list_bytes_))
      ->append(bytes);
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
  // The book's bytes start after those of every older book.
  size_t offset = 0;
  auto it = by_seq_.begin();
  for (; it->first != seq->second; ++it) offset += it->second.list_bytes;
  MutableList(list_->size())->erase(offset, it->second.list_bytes);
  by_seq_.erase(it);
  seq_by_id_.erase(seq);
  return absl::OkStatus();
}

std::shared_ptr<const std::string> InMemoryBookStore::SerializedList() const {
  absl::ReaderMutexLock lock(&mu_);
  return list_;
}

size_t InMemoryBookStore::size() const {
  absl::ReaderMutexLock lock(&mu_);
  return by_seq_.size();
}

size_t InMemoryBookStore::list_bytes() const {
  absl::ReaderMutexLock lock(&mu_);
  return list_->size();
}

}  // namespace cqmux
