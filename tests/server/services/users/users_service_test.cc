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
  grpc::Status status = service.CreateUser(in, &out, CallContext());
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
  UserRecord a = *service.store().FindByName("a");
  UserRecord b = *service.store().FindByName("b");
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
}

}  // namespace
}  // namespace cqmux
