// Integration tests of the whole server through generated C++ stubs: every
// method of the first four services and their error paths, health checking,
// 64 concurrent clients, message-size limits and shutdown with calls in flight.
#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "defs.grpc.pb.h"
#include "health.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "tests/server/app/test_server.h"
#include "unary.grpc.pb.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

using grpc::StatusCode;

grpc::Status CreateUser(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& name, const std::string& email,
                        users::CreateUserResult* out) {
  auto stub = Users::NewStub(channel);
  users::CreateUserRequest in;
  in.set_username(name);
  in.set_email(email);
  in.set_password("pw");
  auto context = Deadline();
  context->AddMetadata("ip", "127.0.0.1");
  return stub->CreateUser(context.get(), in, out);
}

TEST(ServerAppTest, Capitalize) {
  TestServer server;
  auto stub = rpc::Fetch::NewStub(server.Channel());
  rpc::Payload in, out;
  in.set_id(3);
  in.set_data("grpc is Fun! \xc3\xa4");
  auto context = Deadline();
  ASSERT_TRUE(stub->Capitalize(context.get(), in, &out).ok());
  EXPECT_EQ(out.id(), 3);
  EXPECT_EQ(out.data(), "GRPC IS FUN! \xc3\xa4");
}

TEST(ServerAppTest, CreateUserAndItsErrors) {
  TestServer server;
  auto channel = server.Channel();
  users::CreateUserResult out;
  ASSERT_TRUE(CreateUser(channel, "alice", "alice@example.com", &out).ok());
  EXPECT_EQ(out.user().user_id(), 1u);
  EXPECT_EQ(out.user().username(), "alice");
  ASSERT_TRUE(CreateUser(channel, "bob", "", &out).ok());
  EXPECT_EQ(out.user().user_id(), 2u);

  grpc::Status status = CreateUser(channel, "", "", &out);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "username must not be empty");
  status = CreateUser(channel, "alice", "", &out);
  EXPECT_EQ(status.error_code(), StatusCode::ALREADY_EXISTS);
  status = CreateUser(channel, "carol", "carol@", &out);
  EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "malformed email address \"carol@\"");
  EXPECT_EQ(server.app().users().store().size(), 2u);
}

TEST(ServerAppTest, GetUsersStreamsThenNotFound) {
  TestServer server;
  auto channel = server.Channel();
  users::CreateUserResult out;
  for (const char* name : {"ann", "ben", "cat"}) {
    ASSERT_TRUE(CreateUser(channel, name, "", &out).ok());
  }
  auto stub = Users::NewStub(channel);
  users::GetUsersRequest request;
  request.add_user()->set_username("cat");
  request.add_user()->set_user_id(1);
  request.add_user()->set_username("ben");
  auto context = Deadline();
  auto reader = stub->GetUsers(context.get(), request);
  users::GetUsersResult result;
  std::vector<std::pair<std::string, uint32_t>> got;
  while (reader->Read(&result)) got.emplace_back(result.user().username(), result.user().user_id());
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(got, (std::vector<std::pair<std::string, uint32_t>>{
                     {"cat", 3}, {"ann", 1}, {"ben", 2}}));

  request.add_user()->set_user_id(42);
  request.add_user()->set_username("ann");
  context = Deadline();
  reader = stub->GetUsers(context.get(), request);
  int before_error = 0;
  while (reader->Read(&result)) ++before_error;
  grpc::Status status = reader->Finish();
  EXPECT_EQ(before_error, 3) << "results before the unknown user are written";
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "No user with id 42 was found");
}

TEST(ServerAppTest, ComputeDisplacementWithoutOverflow) {
  TestServer server;
  auto stub = my_package::DisplacementService::NewStub(server.Channel());
  my_package::Displacement in;
  in.mutable_start()->set_x(INT32_MIN);
  in.mutable_start()->set_y(INT32_MIN);
  in.mutable_end()->set_x(INT32_MAX);
  in.mutable_end()->set_y(INT32_MAX);
  my_package::DisplacementResponse out;
  auto context = Deadline();
  ASSERT_TRUE(stub->computeDisplacement(context.get(), in, &out).ok());
  EXPECT_FLOAT_EQ(out.distance(), 6.0740010e9f);
  in.mutable_start()->set_x(1);
  in.mutable_start()->set_y(2);
  in.mutable_end()->set_x(4);
  in.mutable_end()->set_y(6);
  context = Deadline();
  ASSERT_TRUE(stub->computeDisplacement(context.get(), in, &out).ok());
  EXPECT_FLOAT_EQ(out.distance(), 5.0f);
}

TEST(ServerAppTest, StreamStateCountsALongStream) {
  TestServer server;
  auto stub = my_package::RequestStreaming::NewStub(server.Channel());
  my_package::Empty empty;
  auto context = Deadline();
  auto writer = stub->stream_state(context.get(), &empty);
  my_package::Data data;
  data.set_info("still going");
  constexpr int kMessages = 20000;
  for (int i = 0; i < kMessages; ++i) {
    data.set_status(static_cast<my_package::Status>(i % 5));
    ASSERT_TRUE(writer->Write(data));
  }
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  ASSERT_TRUE(server.app().state_stream().AwaitTotal(kMessages, absl::Seconds(20)));
  StateCounts totals = server.app().state_stream().totals();
  EXPECT_EQ(totals.total(), static_cast<uint64_t>(kMessages));
  for (uint64_t n : totals.by_status) EXPECT_EQ(n, kMessages / 5u);
}

TEST(ServerAppTest, HealthIsServingForEveryServiceAndNotFoundOtherwise) {
  TestServer server;
  auto stub = grpc::health::v1::Health::NewStub(server.Channel());
  for (const char* name : {"", "rpc.Fetch", "Users", "books.BookService",
                           "grpc.health.v1.Health",
                           "my_package.DisplacementService",
                           "my_package.RequestStreaming", "pb.Outliers"}) {
    grpc::health::v1::HealthCheckRequest in;
    in.set_service(name);
    grpc::health::v1::HealthCheckResponse out;
    auto context = Deadline();
    ASSERT_TRUE(stub->Check(context.get(), in, &out).ok()) << name;
    EXPECT_EQ(out.status(), grpc::health::v1::HealthCheckResponse::SERVING) << name;
  }
  grpc::health::v1::HealthCheckRequest in;
  in.set_service("no.Such");
  grpc::health::v1::HealthCheckResponse out;
  auto context = Deadline();
  EXPECT_EQ(stub->Check(context.get(), in, &out).error_code(), StatusCode::NOT_FOUND);
}

TEST(ServerAppTest, HealthWatchFollowsShutdown) {
  using grpc::health::v1::HealthCheckRequest;
  using grpc::health::v1::HealthCheckResponse;
  auto server = std::make_unique<TestServer>();
  auto stub = grpc::health::v1::Health::NewStub(server->Channel());
  HealthCheckRequest request;
  request.set_service("books.BookService");
  auto context = Deadline();
  auto watch = stub->Watch(context.get(), request);
  request.set_service("no.Such");
  auto unknown_context = Deadline();
  auto unknown = stub->Watch(unknown_context.get(), request);
  HealthCheckResponse response;
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVING);
  ASSERT_TRUE(unknown->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  EXPECT_EQ(server->app().health().watcher_count(), 2u);

  std::thread shutdown([&] { server->app().Shutdown(); });
  ASSERT_TRUE(watch->Read(&response));
  EXPECT_EQ(response.status(), HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(watch->Read(&response));
  EXPECT_TRUE(watch->Finish().ok());
  EXPECT_FALSE(unknown->Read(&response));
  EXPECT_TRUE(unknown->Finish().ok());
  shutdown.join();
  EXPECT_EQ(server->app().health().watcher_count(), 0u);
}

TEST(ServerAppTest, SixtyFourConcurrentClientsAcrossServices) {
  TestServer server;
  constexpr int kClients = 64;
  constexpr int kRounds = 20;
  std::atomic<int> failures{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto channel = server.Channel(c);
      auto fetch = rpc::Fetch::NewStub(channel);
      auto displacement = my_package::DisplacementService::NewStub(channel);
      users::CreateUserResult created;
      if (!CreateUser(channel, absl::StrCat("user", c), "", &created).ok()) ++failures;
      for (int i = 0; i < kRounds; ++i) {
        rpc::Payload in, out;
        in.set_id(i);
        in.set_data(absl::StrCat("abc", c));
        auto context = Deadline();
        if (!fetch->Capitalize(context.get(), in, &out).ok() ||
            out.data() != absl::StrCat("ABC", c)) {
          ++failures;
        }
        my_package::Displacement d;
        d.mutable_end()->set_x(3 * c);
        d.mutable_end()->set_y(4 * c);
        my_package::DisplacementResponse r;
        context = Deadline();
        if (!displacement->computeDisplacement(context.get(), d, &r).ok() ||
            r.distance() != 5.0f * c) {
          ++failures;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.app().users().store().size(), static_cast<size_t>(kClients));
}

TEST(ServerAppTest, OversizedRequestIsRejectedByGrpcAndNothingElseIsAffected) {
  ServerConfig config = TestConfig();
  config.engine.max_message_bytes = 64 * 1024;
  TestServer server(config);
  auto stub = rpc::Fetch::NewStub(server.Channel());
  rpc::Payload in, out;
  in.set_data(std::string(100 * 1024, 'x'));
  auto context = Deadline();
  EXPECT_EQ(stub->Capitalize(context.get(), in, &out).error_code(),
            StatusCode::RESOURCE_EXHAUSTED);
  in.set_data("small");
  context = Deadline();
  ASSERT_TRUE(stub->Capitalize(context.get(), in, &out).ok());
  EXPECT_EQ(out.data(), "SMALL");
}

TEST(ServerAppTest, ShutdownWithCallsInFlight) {
  ServerConfig config = TestConfig();
  config.engine.shutdown_grace = absl::Milliseconds(500);
  auto server = std::make_unique<TestServer>(config);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::atomic<int> calls{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 8; ++c) {
    clients.emplace_back([&, c] {
      auto stub = rpc::Fetch::NewStub(server->Channel(c));
      while (!stop.load()) {
        rpc::Payload in, out;
        in.set_data("x");
        auto context = Deadline(absl::Seconds(5));
        grpc::Status status = stub->Capitalize(context.get(), in, &out);
        ++calls;
        if (status.ok() ? out.data() != "X"
                        : status.error_code() != StatusCode::UNAVAILABLE &&
                              status.error_code() != StatusCode::CANCELLED) {
          ++bad;
        }
        if (!status.ok()) return;  // the server is gone
      }
    });
  }
  const absl::Time give_up = absl::Now() + kTestDeadline;
  while (calls.load() < 200 && absl::Now() < give_up) std::this_thread::yield();
  ASSERT_GE(calls.load(), 200) << "calls are in flight when shutdown starts";
  server->app().Shutdown();
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(bad.load(), 0) << "every call completes or fails with UNAVAILABLE/CANCELLED";
  server.reset();
}

}  // namespace
}  // namespace cqmux
