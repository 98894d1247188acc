// Unit tests of the Users handlers: validation, ids, hashing, streaming order.
#include "server/services/users/users_service.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace cqmux {
namespace {

using Step = ServerStream<users::GetUsersResult>::Step;

UsersService MakeService(size_t max_users = 100) {
  return UsersService(*PasswordHasher::FromProfile("min"), max_users);
}

grpc::Status Create(UsersService& service, const std::string& name,
                    const std::string& email = "", uint32_t* id = nullptr,
                    const std::string& password = "secret") {
  users::CreateUserRequest in;
  in.set_username(name);
  in.set_email(email);
  in.set_password(password);
  users::CreateUserResult out;
  // The memory store completes before CreateUser returns.
  grpc::Status status(grpc::StatusCode::INTERNAL, "not completed");
  service.CreateUser(in, &out, CallContext(),
                     UnaryDone::FromFunction([&](grpc::Status s) { status = std::move(s); }));
  if (status.ok()) {
    EXPECT_EQ(out.user().username(), name);
    if (id != nullptr) *id = out.user().user_id();
  }
  return status;
}

TEST(UsersServiceTest, IdsAreUniqueAndIncreaseFromOne) {
  UsersService service = MakeService();
  for (uint32_t want = 1; want <= 5; ++want) {
    uint32_t id = 0;
    ASSERT_TRUE(Create(service, "user" + std::to_string(want), "", &id).ok());
    EXPECT_EQ(id, want);
  }
}

TEST(UsersServiceTest, ValidationErrors) {
  UsersService service = MakeService();
  EXPECT_EQ(Create(service, "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Create(service, std::string(kMaxUsernameBytes + 1, 'a')).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  for (const char* bad : {"no-at", "@example.com", "a@b", "a@b..c", "a b@c.d",
                          "a@@b.c", "a@b.c.", "a@.b.c"}) {
    grpc::Status status = Create(service, "mail", bad);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << bad;
    EXPECT_NE(status.error_message().find(bad), std::string::npos);
  }
  EXPECT_TRUE(Create(service, "mail", "jane.doe+x@mail.example.org").ok());
  grpc::Status taken = Create(service, "mail");
  EXPECT_EQ(taken.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(taken.error_message(), "username \"mail\" is already taken");
}

// Every field a client sends is bounded, and an error quotes at most a short
// escaped prefix of what was sent (never the password).
TEST(UsersServiceTest, FieldBoundsAndShortQuotes) {
  UsersService service = MakeService();
  EXPECT_TRUE(Create(service, "pw-max", "", nullptr,
                     std::string(kMaxPasswordBytes, 'p'))
                  .ok());
  grpc::Status long_password = Create(service, "pw-long", "", nullptr,
                                      std::string(kMaxPasswordBytes + 1, 'p'));
  EXPECT_EQ(long_password.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(long_password.error_message(), "password is longer than 1024 bytes");

  grpc::Status long_name = Create(service, std::string(1 << 20, 'n'));
  EXPECT_EQ(long_name.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(long_name.error_message(),
            "username is longer than 128 bytes: \"" + std::string(32, 'n') +
                "\"... (1048576 bytes)");

  grpc::Status long_email =
      Create(service, "mail2", std::string(1 << 20, 'e') + "@example.com");
  EXPECT_EQ(long_email.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_LT(long_email.error_message().size(), 100u) << long_email.error_message();
  EXPECT_EQ(Create(service, "mail3", "a\nb@c.d").error_message(),
            "malformed email address \"a\\nb@c.d\"");
}

// The check CreateUser's binding runs on the queue thread: fast, no hashing,
// and the same verdicts as CreateUser.
TEST(UsersServiceTest, CheckCreateUserRejectsWithoutHashing) {
  UsersService service = MakeService();
  users::CreateUserRequest request;
  request.set_username("dora");
  request.set_password(std::string(16 << 20, 'p'));
  grpc::Status checked = service.CheckCreateUser(request, CallContext());
  EXPECT_EQ(checked.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(service.store().size(), 0u);
  request.set_password("fine");
  EXPECT_TRUE(service.CheckCreateUser(request, CallContext()).ok());
  ASSERT_TRUE(Create(service, "dora").ok());
  EXPECT_EQ(service.CheckCreateUser(request, CallContext()).error_code(),
            grpc::StatusCode::ALREADY_EXISTS);
}

TEST(UsersServiceTest, StoreIsBounded) {
  UsersService service = MakeService(/*max_users=*/2);
  EXPECT_TRUE(Create(service, "a").ok());
  EXPECT_TRUE(Create(service, "b").ok());
  EXPECT_EQ(Create(service, "c").error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST(UsersServiceTest, PasswordIsStoredOnlyAsASaltedHash) {
  UsersService service = MakeService();
  ASSERT_TRUE(Create(service, "a", "", nullptr, "hunter2").ok());
  ASSERT_TRUE(Create(service, "b", "", nullptr, "hunter2").ok());
  // The memory store answers inline.
  auto find = [&service](const std::string& name) {
    std::string hash;
    service.store().FindByName(name, [&hash](absl::StatusOr<std::optional<UserRecord>> found) {
      if (found.ok() && found->has_value()) hash = (*found)->password_hash;
    });
    return hash;
  };
  UserRecord a, b;
  a.password_hash = find("a");
  b.password_hash = find("b");
  ASSERT_FALSE(a.password_hash.empty());
  EXPECT_EQ(a.password_hash.find("hunter2"), std::string::npos);
  EXPECT_NE(a.password_hash, b.password_hash) << "salted";
  EXPECT_TRUE(service.hasher().Verify(a.password_hash, "hunter2"));
  EXPECT_FALSE(service.hasher().Verify(a.password_hash, "hunter3"));
}

TEST(UsersServiceTest, GetUsersStreamsInRequestOrderThenNotFound) {
  UsersService service = MakeService();
  ASSERT_TRUE(Create(service, "alice").ok());
  ASSERT_TRUE(Create(service, "bob").ok());
  users::GetUsersRequest request;
  request.add_user()->set_username("bob");
  request.add_user()->set_user_id(1);
  request.add_user()->set_username("carol");
  request.add_user()->set_username("alice");
  auto stream = service.GetUsers(request, CallContext(), Waker());
  users::GetUsersResult out;
  grpc::Status status;
  ASSERT_EQ(stream->Next(&out, &status), Step::kWrite);
  EXPECT_EQ(out.user().username(), "bob");
  EXPECT_EQ(out.user().user_id(), 2u);
  out.Clear();
  ASSERT_EQ(stream->Next(&out, &status), Step::kWrite);
  EXPECT_EQ(out.user().username(), "alice");
  EXPECT_EQ(out.user().user_id(), 1u);
  ASSERT_EQ(stream->Next(&out, &status), Step::kFinish);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "No user with username \"carol\" was found");
}

TEST(UsersServiceTest, GetUsersUnknownIdAndEmptyRequest) {
  UsersService service = MakeService();
  users::GetUsersRequest request;
  auto empty = service.GetUsers(request, CallContext(), Waker());
  users::GetUsersResult out;
  grpc::Status status;
  EXPECT_EQ(empty->Next(&out, &status), Step::kFinish);
  EXPECT_TRUE(status.ok());
  request.add_user()->set_user_id(7);
  auto missing = service.GetUsers(request, CallContext(), Waker());
  EXPECT_EQ(missing->Next(&out, &status), Step::kFinish);
  EXPECT_EQ(status.error_message(), "No user with id 7 was found");

  users::GetUsersRequest long_name;
  long_name.add_user()->set_username(std::string(100000, 'z'));
  auto unknown = service.GetUsers(long_name, CallContext(), Waker());
  EXPECT_EQ(unknown->Next(&out, &status), Step::kFinish);
  EXPECT_EQ(status.error_message(), "No user with username \"" +
                                        std::string(32, 'z') +
                                        "\"... (100000 bytes) was found");
}

}  // namespace
}  // namespace cqmux
