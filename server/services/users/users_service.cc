// Users/CreateUser and Users/GetUsers; see users_service.h.
#include "server/services/users/users_service.h"

#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
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
  if (store_->KnownTaken(request.username())) {
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

namespace {

// GetUsers: one lookup at a time, in request order. A lookup the store
// answers inline (RAM stores) is written at once; one answered later (a
// shared store's worker) parks the stream until its completion wakes it.
class GetUsersStream final : public ServerStream<users::GetUsersResult> {
 public:
  // The request outlives the stream (both belong to the call), so the stream
  // walks it in place.
  GetUsersStream(const UserStore* store, const users::GetUsersRequest* request, Waker waker)
      : store_(store), request_(request), waker_(std::move(waker)) {}

  Step Next(users::GetUsersResult* out, grpc::Status* status) override {
    if (lookup_ == nullptr) {
      if (next_ == request_->user_size()) return Step::kFinish;
      Start(request_->user(next_));
    }
    absl::StatusOr<std::optional<UserRecord>> found;
    {
      absl::MutexLock lock(&lookup_->mu);
      if (!lookup_->done) return Step::kWait;  // its completion wakes us
      found = std::move(lookup_->result);
    }
    lookup_.reset();
    const users::User& wanted = request_->user(next_++);
    if (!found.ok()) {
      *status = ToGrpcStatus(found.status());
      return Step::kFinish;
    }
    if (!found->has_value()) {
      *status = grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          wanted.username().empty()
              ? absl::StrCat("No user with id ", wanted.user_id(), " was found")
              : absl::StrCat("No user with username ", QuoteInput(wanted.username()),
                             " was found"));
      return Step::kFinish;
    }
    out->mutable_user()->set_username((*found)->username);
    out->mutable_user()->set_user_id((*found)->user_id);
    return Step::kWrite;
  }

 private:
  // Shared with the completion, which may outlive the stream (a cancelled
  // call).
  struct Lookup {
    absl::Mutex mu;
    bool starting = true;  // the store's call has not returned yet
    bool done = false;
    absl::StatusOr<std::optional<UserRecord>> result;
  };

  void Start(const users::User& wanted) {
    lookup_ = std::make_shared<Lookup>();
    auto on_found = [lookup = lookup_, waker = waker_](
                        absl::StatusOr<std::optional<UserRecord>> found) {
      bool wake;
      {
        absl::MutexLock lock(&lookup->mu);
        lookup->result = std::move(found);
        lookup->done = true;
        wake = !lookup->starting;  // inline answers need no wake-up
      }
      if (wake) waker.Wake();
    };
    if (wanted.username().empty()) {
      store_->FindById(wanted.user_id(), std::move(on_found));
    } else {
      store_->FindByName(wanted.username(), std::move(on_found));
    }
    absl::MutexLock lock(&lookup_->mu);
    lookup_->starting = false;
  }

  const UserStore* const store_;
  const users::GetUsersRequest* const request_;
  const Waker waker_;
  int next_ = 0;
  std::shared_ptr<Lookup> lookup_;  // the lookup of request_->user(next_)
};

}  // namespace

std::unique_ptr<ServerStream<users::GetUsersResult>> UsersService::GetUsers(
    const users::GetUsersRequest& request, const CallContext& /*call*/, Waker waker) {
  return std::make_unique<GetUsersStream>(store_.get(), &request, std::move(waker));
}

}  // namespace cqmux
