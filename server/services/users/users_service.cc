// Users/CreateUser and Users/GetUsers; see users_service.h.
#include "server/services/users/users_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/common/grpc_status.h"
#include "server/common/log.h"
#include "server/common/quote.h"

namespace cqmux {
namespace {

grpc::Status InvalidArgument(std::string message) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::move(message));
}

}  // namespace

bool IsPlausibleEmail(absl::string_view email) {
  if (email.empty() || email.size() > kMaxEmailBytes) return false;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  const size_t at = email.find('@');
  if (at == 0 || at == absl::string_view::npos) return false;
  const absl::string_view domain = email.substr(at + 1);
  if (domain.find('@') != absl::string_view::npos) return false;
  if (domain.find('.') == absl::string_view::npos) return false;
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (label.empty()) return false;
  }
  return true;
}

grpc::Status UsersService::CheckCreateUser(
    const users::CreateUserRequest& request, const CallContext& /*call*/) const {
  if (request.username().empty()) {
    return InvalidArgument("username must not be empty");
  }
  if (request.username().size() > kMaxUsernameBytes) {
    return InvalidArgument(absl::StrCat("username is longer than ",
                                        kMaxUsernameBytes, " bytes: ",
                                        QuoteInput(request.username())));
  }
  if (request.email().size() > kMaxEmailBytes) {
    return InvalidArgument(absl::StrCat("email is longer than ", kMaxEmailBytes,
                                        " bytes: ", QuoteInput(request.email())));
  }
  if (!request.email().empty() && !IsPlausibleEmail(request.email())) {
    return InvalidArgument(
        absl::StrCat("malformed email address ", QuoteInput(request.email())));
  }
  if (request.password().size() > kMaxPasswordBytes) {
    // Never quoted, not even a prefix.
    return InvalidArgument(absl::StrCat("password is longer than ",
                                        kMaxPasswordBytes, " bytes"));
  }
  // Fail fast before paying for the hash; Add() checks again atomically.
  if (store_->Contains(request.username())) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS,
                        absl::StrCat("username ", QuoteInput(request.username()),
                                     " is already taken"));
  }
  return grpc::Status::OK;
}

void UsersService::CreateUser(const users::CreateUserRequest& request,
                              users::CreateUserResult* response, const CallContext& call,
                              UnaryDone done) {
  // Client input is logged escaped and cut short (gRPC bounds the metadata
  // itself: --max-metadata-bytes).
  if (LogEnabled(LogLevel::kDebug)) {
    Log(LogLevel::kDebug, "CreateUser username=%s ip=%s peer=%s",
        QuoteInput(request.username()), QuoteInput(call.Metadata("ip")),
        call.Peer());
  }
  if (grpc::Status rejected = CheckCreateUser(request, call); !rejected.ok()) {
    done(std::move(rejected));
    return;
  }
  absl::StatusOr<std::string> hash = hasher_.Hash(request.password());
  if (!hash.ok()) {
    done(ToGrpcStatus(hash.status()));
    return;
  }
  // Hashing takes tens of ms: a client whose deadline passed meanwhile has
  // been told the call failed, so the user must not appear anyway.
  if (!call.Wanted()) {
    done(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      "deadline passed while the password was hashed; no user created"));
    return;
  }
  UserRecord record;
  record.username = request.username();
  record.email = request.email();
  record.password_hash = *std::move(hash);
  // The response and request live until `done` runs (they belong to the
  // call, which stays alive until then).
  store_->Add(std::move(record),
              [response, &request, done](absl::StatusOr<uint32_t> id) {
                if (!id.ok()) {
                  done(ToGrpcStatus(id.status()));
                  return;
                }
                response->mutable_user()->set_username(request.username());
                response->mutable_user()->set_user_id(*id);
                done(grpc::Status::OK);
              });
}

std::unique_ptr<ServerStream<users::GetUsersResult>> UsersService::GetUsers(
    const users::GetUsersRequest& request, const CallContext& /*call*/,
    Waker /*waker*/) {
  using Step = ServerStream<users::GetUsersResult>::Step;
  // The request outlives the stream (both belong to the call), so the stream
  // walks it in place.
  return std::make_unique<FunctionStream<users::GetUsersResult>>(
      [this, &request, next = 0](users::GetUsersResult* out,
                                 grpc::Status* status) mutable {
        if (next == request.user_size()) return Step::kFinish;
        const users::User& wanted = request.user(next++);
        std::optional<UserRecord> found =
            wanted.username().empty() ? store_->FindById(wanted.user_id())
                                      : store_->FindByName(wanted.username());
        if (!found) {
          *status = grpc::Status(
              grpc::StatusCode::NOT_FOUND,
              wanted.username().empty()
                  ? absl::StrCat("No user with id ", wanted.user_id(),
                                 " was found")
                  : absl::StrCat("No user with username ",
                                 QuoteInput(wanted.username()), " was found"));
          return Step::kFinish;
        }
        out->mutable_user()->set_username(found->username);
        out->mutable_user()->set_user_id(found->user_id);
        return Step::kWrite;
      });
}

}  // namespace cqmux
