// The in-memory book store; see book_store.h.
#include "server/services/books/book_store.h"

#include <algorithm>
#include <atomic>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace cqmux {

absl::Status BookNotFound(int32_t id) {
  return absl::NotFoundError(absl::StrCat("No book with id ", id, " was found"));
}

namespace {

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// A book as one element of BookList.books (field 1), byte for byte as
// protobuf serializes it: proto3 omits fields at their default, and an int32
// is the varint of its sign-extended 64-bit value. Written by hand so that an
// insert appends straight into the snapshot, with no message or temporary
// string in between.
uint64_t IdVarint(int32_t id) { return static_cast<uint64_t>(static_cast<int64_t>(id)); }

size_t BookBytes(int32_t id, absl::string_view title, absl::string_view author) {
  size_t n = 0;
  if (id != 0) n += 1 + VarintSize(IdVarint(id));
  if (!title.empty()) n += 1 + VarintSize(title.size()) + title.size();
  if (!author.empty()) n += 1 + VarintSize(author.size()) + author.size();
  return n;
}

size_t EntryBytes(size_t book_bytes) {
  return 1 + VarintSize(book_bytes) + book_bytes;
}

void AppendEntry(int32_t id, absl::string_view title, absl::string_view author,
                 size_t book_bytes, std::string* out) {
  out->push_back(0x0A);  // BookList.books: field 1, length-delimited
  AppendVarint(book_bytes, out);
  if (id != 0) {
    out->push_back(0x08);  // Book.id: field 1, varint
    AppendVarint(IdVarint(id), out);
  }
  if (!title.empty()) {
    out->push_back(0x12);  // Book.title: field 2, length-delimited
    AppendVarint(title.size(), out);
    out->append(title.data(), title.size());
  }
  if (!author.empty()) {
    out->push_back(0x1A);  // Book.author: field 3, length-delimited
    AppendVarint(author.size(), out);
    out->append(author.data(), author.size());
  }
}

}  // namespace

void InMemoryBookStore::List(books::BookList* out) const {
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

size_t InMemoryBookStore::ListEntryBytes(const books::Book& book) {
  return EntryBytes(BookBytes(book.id(), book.title(), book.author()));
}

void InMemoryBookStore::Insert(books::Book book, WriteDone done) {
  std::shared_ptr<const books::Book> published;
  if (feed_.inserted) published = std::make_shared<const books::Book>(std::move(book));
  const books::Book& b = published ? *published : book;
  absl::Status status = InsertNow(b, [&] {
    if (feed_.inserted) feed_.inserted(published);
  });
  if (status.ok() && feed_.flush) feed_.flush();
  done(std::move(status));
}

void InMemoryBookStore::Delete(int32_t id, WriteDone done) { done(DeleteNow(id)); }

absl::Status InMemoryBookStore::InsertNow(const books::Book& book,
                                          absl::FunctionRef<void()> on_commit) {
  return Append(book, /*check_limits=*/true, on_commit);
}

void InMemoryBookStore::Restore(const books::Book& book) {
  Append(book, /*check_limits=*/false, [] {}).IgnoreError();
}

absl::Status InMemoryBookStore::Append(const books::Book& book, bool check_limits,
                                       absl::FunctionRef<void()> on_commit) {
  const size_t book_bytes = BookBytes(book.id(), book.title(), book.author());
  const size_t entry_bytes = EntryBytes(book_bytes);

  absl::MutexLock lock(&mu_);
  if (seq_by_id_.contains(book.id())) {
    return absl::AlreadyExistsError(
        absl::StrCat("A book with id ", book.id(), " already exists"));
  }
  if (!check_limits) {
    // Restored from disk: stored, so kept whatever the limits say now.
  } else if (by_seq_.size() >= max_books_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "The book store is full (", max_books_, " books); delete some first"));
  }
  if (check_limits && list_->size() + entry_bytes > max_list_bytes_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "The book store is full: List must fit in ", max_list_bytes_,
        " bytes (the method's message limit) and ", list_->size(),
        " are taken; delete some books first"));
  }
  const uint64_t seq = next_seq_++;
  seq_by_id_.emplace(book.id(), seq);
  by_seq_.emplace_hint(by_seq_.end(), seq,
                       Entry{book.id(), book.title(), book.author(),
                             entry_bytes});
  // A copy gets room for more than this insert, so that later appends in
  // place stay amortized O(book) while no List holds the snapshot.
  AppendEntry(book.id(), book.title(), book.author(), book_bytes,
              MutableList(std::max(list_->size() + entry_bytes,
                                   std::min(2 * (list_->size() + entry_bytes),
                                            max_list_bytes_))));
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

absl::Status InMemoryBookStore::DeleteNow(int32_t id) {
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
