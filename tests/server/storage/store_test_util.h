// Helpers of the store tests: every store call, waited for (bounded), so
// that a test reads like synchronous code whatever thread answers.
#ifndef CQMUX_TESTS_SERVER_STORAGE_STORE_TEST_UTIL_H_
#define CQMUX_TESTS_SERVER_STORAGE_STORE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/services/books/book_store.h"
#include "server/services/users/user_store.h"

namespace cqmux {

inline constexpr absl::Duration kStoreWait = absl::Seconds(30);

inline books::Book MakeBook(int32_t id, const std::string& title = "") {
  books::Book book;
  book.set_id(id);
  book.set_title(title.empty() ? absl::StrCat("Title ", id) : title);
  book.set_author(absl::StrCat("Author ", id));
  return book;
}

inline absl::Status Insert(BookStore& store, const books::Book& book) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  store.Insert(book, [done, result](absl::Status s) {
    *result = s;
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "Insert did not complete";
    return absl::DeadlineExceededError("Insert did not complete");
  }
  return *result;
}

inline absl::Status Delete(BookStore& store, int32_t id) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  store.Delete(id, [done, result](absl::Status s) {
    *result = s;
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "Delete did not complete";
    return absl::DeadlineExceededError("Delete did not complete");
  }
  return *result;
}

inline absl::Status GetBook(const BookStore& store, int32_t id, books::Book* out) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::Status>();
  auto book = std::make_shared<books::Book>();
  store.Get(id, book.get(), [done, result](absl::Status s) {
    *result = s;
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "Get did not complete";
    return absl::DeadlineExceededError("Get did not complete");
  }
  *out = *book;
  return *result;
}

inline absl::StatusOr<std::shared_ptr<const std::string>> ListBytes(const BookStore& store) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::StatusOr<std::shared_ptr<const std::string>>>();
  store.List([done, result](absl::StatusOr<std::shared_ptr<const std::string>> list) {
    *result = std::move(list);
    done->Notify();
  });
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "List did not complete";
    return absl::DeadlineExceededError("List did not complete");
  }
  return *result;
}

inline std::vector<int32_t> ListedIds(const BookStore& store) {
  absl::StatusOr<std::shared_ptr<const std::string>> bytes = ListBytes(store);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  std::vector<int32_t> ids;
  if (!bytes.ok()) return ids;
  books::BookList list;
  EXPECT_TRUE(list.ParseFromString(**bytes));
  for (const books::Book& book : list.books()) ids.push_back(book.id());
  return ids;
}

inline absl::StatusOr<uint32_t> AddUser(UserStore& store, const std::string& name) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::StatusOr<uint32_t>>();
  store.Add(UserRecord{0, name, name + "@example.com", "$argon2id$hash-of-" + name},
            [done, result](absl::StatusOr<uint32_t> id) {
              *result = id;
              done->Notify();
            });
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "Add did not complete";
    return absl::DeadlineExceededError("Add did not complete");
  }
  return *result;
}

// FindByName (name non-empty) or FindById.
inline absl::StatusOr<std::optional<UserRecord>> FindUser(const UserStore& store,
                                                          const std::string& name,
                                                          uint32_t id = 0) {
  auto done = std::make_shared<absl::Notification>();
  auto result = std::make_shared<absl::StatusOr<std::optional<UserRecord>>>();
  auto on_found = [done, result](absl::StatusOr<std::optional<UserRecord>> found) {
    *result = std::move(found);
    done->Notify();
  };
  if (!name.empty()) {
    store.FindByName(name, on_found);
  } else {
    store.FindById(id, on_found);
  }
  if (!done->WaitForNotificationWithTimeout(kStoreWait)) {
    ADD_FAILURE() << "Find did not complete";
    return absl::DeadlineExceededError("Find did not complete");
  }
  return *result;
}

}  // namespace cqmux

#endif  // CQMUX_TESTS_SERVER_STORAGE_STORE_TEST_UTIL_H_
