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

// Longest username and email accepted (bytes).
inline constexpr size_t kMaxUsernameBytes = 128;
inline constexpr size_t kMaxEmailBytes = 254;  // RFC 5321's path limit

class UsersService {
 public:
  UsersService(PasswordHasher hasher, size_t max_users)
      : hasher_(hasher), store_(max_users) {}

  // Slow on purpose (hashes the password): bind it as a blocking handler.
  grpc::Status CreateUser(const users::CreateUserRequest& request,
                          users::CreateUserResult* response,
                          const CallContext& call);

  // One result per requested user, in request order; the first unknown user
  // ends the stream with NOT_FOUND after the earlier results.
  std::unique_ptr<ServerStream<users::GetUsersResult>> GetUsers(
      const users::GetUsersRequest& request, const CallContext& call,
      Waker waker);

  const UserStore& store() const { return store_; }
  const PasswordHasher& hasher() const { return hasher_; }

 private:
  const PasswordHasher hasher_;
  UserStore store_;
};

// A plausible address: one '@', a non-empty local part, a dotted domain
// without empty labels, no spaces or control characters.
bool IsPlausibleEmail(absl::string_view email);

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_USERS_USERS_SERVICE_H_
