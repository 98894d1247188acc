// Users: the users tutorial's service (method paths /Users/CreateUser and
// /Users/GetUsers: the proto has no package).
#ifndef CQMUX_SERVER_SERVICES_USERS_USERS_SERVICE_H_
#define CQMUX_SERVER_SERVICES_USERS_USERS_SERVICE_H_

#include <cstddef>
#include <memory>

#include <grpcpp/support/status.h>

#include "server/engine/call_context.h"
#include "server/engine/handlers.h"
#include "server/services/users/password_hasher.h"
#include "server/services/users/user_store.h"
#include "users_types.pb.h"

namespace cqmux {

// Longest username, email and password accepted (bytes). The password is the
// hash's input: Argon2id reads all of it, so its length is bounded too.
inline constexpr size_t kMaxUsernameBytes = 128;
inline constexpr size_t kMaxEmailBytes = 254;  // RFC 5321's path limit
inline constexpr size_t kMaxPasswordBytes = 1024;

class UsersService {
 public:
  // Over `store` (the app picks the backend from --store).
  UsersService(PasswordHasher hasher, std::unique_ptr<UserStore> store)
      : hasher_(hasher), store_(std::move(store)) {}
  // Over an in-memory store of at most `max_users`.
  UsersService(PasswordHasher hasher, size_t max_users)
      : UsersService(hasher, std::make_unique<InMemoryUserStore>(max_users)) {}

  // Slow on purpose (hashes the password): bind it as a blocking
  // asynchronous handler, with CheckCreateUser as its check so that bad
  // requests never reach the worker pool. CreateUser checks again itself,
  // hashes, hands the new user to the store and returns: the worker never
  // waits for the store's commit, whose completion answers the call.
  void CreateUser(const users::CreateUserRequest& request,
                  users::CreateUserResult* response, const CallContext& call,
                  UnaryDone done);

  // Fast: field bounds (INVALID_ARGUMENT) and whether the username is taken
  // (ALREADY_EXISTS), without hashing anything.
  grpc::Status CheckCreateUser(const users::CreateUserRequest& request,
                               const CallContext& call) const;

  // One result per requested user, in request order; the first unknown user
  // ends the stream with NOT_FOUND after the earlier results.
  std::unique_ptr<ServerStream<users::GetUsersResult>> GetUsers(
      const users::GetUsersRequest& request, const CallContext& call,
      Waker waker);

  const UserStore& store() const { return *store_; }
  const PasswordHasher& hasher() const { return hasher_; }

 private:
  const PasswordHasher hasher_;
  std::unique_ptr<UserStore> store_;
};

// A plausible address: one '@', a non-empty local part, a dotted domain
// without empty labels, no spaces or control characters.
bool IsPlausibleEmail(absl::string_view email);

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_USERS_USERS_SERVICE_H_
