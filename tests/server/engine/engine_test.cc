// Engine tests through real gRPC calls on 127.0.0.1 with test-only handlers:
// unary on every queue, blocking handlers off the queue threads, server
// streams woken from other threads, cancellation, deadlines, client streams
// and graceful shutdown.
#include "server/engine/engine.h"

#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

using users::GetUsersRequest;
using users::GetUsersResult;
using Step = ServerStream<GetUsersResult>::Step;

constexpr absl::Duration kWait = absl::Seconds(20);

// What the test handlers observed, shared with the test body.
struct Observed {
  absl::Mutex mu;
  std::set<std::thread::id> unary_threads ABSL_GUARDED_BY(mu);
  std::set<std::thread::id> blocking_threads ABSL_GUARDED_BY(mu);
  std::vector<Waker> wakers ABSL_GUARDED_BY(mu);
  int open_streams ABSL_GUARDED_BY(mu) = 0;
  std::atomic<int> produced{0};     // messages made available to "fed" streams
  std::atomic<bool> closing{false};  // set by the shutdown hook
  absl::Notification blocking_entered;
  absl::Notification release_blocking;
};

// A stream whose behaviour is chosen by the first requested username:
//   "count"  writes one result per requested user, then OK;
//   "fed"    writes result i once obs.produced > i, up to 100, waiting between;
//   "hang"   writes one result, then waits forever;
//   "until-shutdown" waits until the shutdown hook runs, then OK.
class TestStream final : public ServerStream<GetUsersResult> {
 public:
  TestStream(const GetUsersRequest& request, Observed* obs, Waker waker)
      : request_(request), obs_(obs) {
    absl::MutexLock lock(&obs_->mu);
    ++obs_->open_streams;
    obs_->wakers.push_back(std::move(waker));
  }
  ~TestStream() override {
    absl::MutexLock lock(&obs_->mu);
    --obs_->open_streams;
  }

  Step Next(GetUsersResult* out, grpc::Status* status) override {
    const std::string& mode = request_.user(0).username();
    if (mode == "count") {
      if (sent_ == request_.user_size()) return Step::kFinish;
      out->mutable_user()->set_user_id(static_cast<uint32_t>(++sent_));
      return Step::kWrite;
    }
    if (mode == "fed") {
      if (sent_ == 100) return Step::kFinish;
      if (obs_->produced.load() <= sent_) return Step::kWait;
      out->mutable_user()->set_user_id(static_cast<uint32_t>(++sent_));
      return Step::kWrite;
    }
    if (mode == "hang") {
      if (sent_ == 0) {
        ++sent_;
        return Step::kWrite;
      }
      return Step::kWait;
    }
    if (mode == "until-shutdown") {
      return obs_->closing.load() ? Step::kFinish : Step::kWait;
    }
    *status = grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "unknown mode");
    return Step::kFinish;
  }

 private:
  const GetUsersRequest& request_;
  Observed* const obs_;
  int sent_ = 0;
};

class CountingSink final
    : public ClientStreamSink<my_package::Data, my_package::Empty> {
 public:
  grpc::Status OnMessage(const my_package::Data& message) override {
    if (message.info() == "fail") {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("bad message #", count_));
    }
    ++count_;
    return grpc::Status::OK;
  }
  grpc::Status OnHalfClose(my_package::Empty*) override {
    return grpc::Status::OK;
  }
  int count_ = 0;
};

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override { StartEngine(/*blocking_threads=*/2, /*queue=*/64); }
  void TearDown() override {
    if (!obs_.release_blocking.HasBeenNotified()) obs_.release_blocking.Notify();
    if (engine_) engine_->Shutdown();
  }

  void StartEngine(int blocking_threads, int blocking_queue) {
    EngineOptions options;
    options.listen = {"127.0.0.1:0"};
    options.threads = 2;
    options.requests_per_queue = 2;  // small: exercises re-posting under load
    options.shutdown_grace = absl::Milliseconds(500);
    options.blocking_threads = blocking_threads;
    options.blocking_queue = blocking_queue;
    options.coalesce_writes = std::getenv("CQMUX_TEST_COALESCE_WRITES") != nullptr;
    engine_ = std::make_unique<Engine>(options);
    Observed* obs = &obs_;

    engine_->AddService<rpc::Fetch>().Unary(
        &rpc::Fetch::AsyncService::RequestCapitalize,
        [obs](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
          {
            absl::MutexLock lock(&obs->mu);
            obs->unary_threads.insert(std::this_thread::get_id());
          }
          if (in.id() < 0) {
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "negative id");
          }
          out->set_id(in.id());
          out->set_data(in.data());
          return grpc::Status::OK;
        });
    engine_->AddService<Users>()
        .BlockingUnary(&Users::AsyncService::RequestCreateUser,
                       [obs](const users::CreateUserRequest& in,
                             users::CreateUserResult* out, const CallContext& call) {
                         {
                           absl::MutexLock lock(&obs->mu);
                           obs->blocking_threads.insert(std::this_thread::get_id());
                         }
                         if (in.username() == "block") {
                           obs->blocking_entered.Notify();
                           obs->release_blocking.WaitForNotification();
                         }
                         out->mutable_user()->set_username(
                             std::string(call.Metadata("ip")));
                         return grpc::Status::OK;
                       })
        .ServerStreaming(&Users::AsyncService::RequestGetUsers,
                         [obs](const GetUsersRequest& in, const CallContext&,
                               Waker waker) -> std::unique_ptr<ServerStream<GetUsersResult>> {
                           return std::make_unique<TestStream>(in, obs, std::move(waker));
                         });
    engine_->AddService<my_package::RequestStreaming>().ClientStreaming(
        &my_package::RequestStreaming::AsyncService::Requeststream_state,
        [](const CallContext&) { return std::make_unique<CountingSink>(); });
    engine_->OnShutdown([obs] {
      obs->closing = true;
      absl::MutexLock lock(&obs->mu);
      for (const Waker& w : obs->wakers) w.Wake();
    });
    ASSERT_TRUE(engine_->Start().ok());
    target_ = absl::StrCat("127.0.0.1:", engine_->ports()[0]);
  }

  // A channel of its own (own TCP connection) per `index`.
  std::shared_ptr<grpc::Channel> Channel(int index = 0) {
    grpc::ChannelArguments args;
    args.SetInt("cqmux.test.channel", index);
    return grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  }

  static std::unique_ptr<grpc::ClientContext> Context(
      absl::Duration timeout = kWait) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  static GetUsersRequest Mode(const std::string& mode, int users = 1) {
    GetUsersRequest request;
    for (int i = 0; i < users; ++i) request.add_user()->set_username(mode);
    return request;
  }

  // Waits (bounded) until exactly `n` test streams are open.
  bool OpenStreamsBecome(int n) {
    absl::MutexLock lock(&obs_.mu);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(obs_.mu) {
      return obs_.open_streams == n;
    };
    return obs_.mu.AwaitWithTimeout(absl::Condition(&reached), kWait);
  }
  bool StreamsDrain() { return OpenStreamsBecome(0); }

  Observed obs_;
  std::unique_ptr<Engine> engine_;
  std::string target_;
};

TEST_F(EngineTest, UnaryEchoesAndReportsErrors) {
  auto stub = rpc::Fetch::NewStub(Channel());
  rpc::Payload in, out;
  in.set_id(7);
  in.set_data("hello");
  auto context = Context();
  ASSERT_TRUE(stub->Capitalize(context.get(), in, &out).ok());
  EXPECT_EQ(out.id(), 7);
  EXPECT_EQ(out.data(), "hello");

  in.set_id(-1);
  context = Context();
  grpc::Status status = stub->Capitalize(context.get(), in, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "negative id");
}

TEST_F(EngineTest, SixtyFourConcurrentClientsUseEveryQueue) {
  constexpr int kClients = 64;
  constexpr int kCalls = 40;
  std::atomic<int> good{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = rpc::Fetch::NewStub(Channel(c));
      for (int i = 0; i < kCalls; ++i) {
        rpc::Payload in, out;
        in.set_id(c * 1000 + i);
        in.set_data(absl::StrCat("client ", c, " call ", i));
        auto context = Context();
        if (stub->Capitalize(context.get(), in, &out).ok() && out.id() == in.id() &&
            out.data() == in.data()) {
          ++good;
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(good.load(), kClients * kCalls);
  absl::MutexLock lock(&obs_.mu);
  EXPECT_EQ(obs_.unary_threads.size(), 2u) << "both queue threads serve calls";
}

TEST_F(EngineTest, BlockingHandlerRunsOffTheQueueThreadsAndSeesMetadata) {
  auto stub = Users::NewStub(Channel());
  users::CreateUserRequest in;
  in.set_username("x");
  users::CreateUserResult out;
  auto context = Context();
  context->AddMetadata("ip", "10.1.2.3");
  ASSERT_TRUE(stub->CreateUser(context.get(), in, &out).ok());
  EXPECT_EQ(out.user().username(), "10.1.2.3");

  // Make sure the queue threads are known, then compare.
  rpc::Payload p, q;
  for (int c = 0; c < 16; ++c) {
    auto ctx = Context();
    ASSERT_TRUE(rpc::Fetch::NewStub(Channel(c))->Capitalize(ctx.get(), p, &q).ok());
  }
  absl::MutexLock lock(&obs_.mu);
  ASSERT_EQ(obs_.blocking_threads.size(), 1u);
  EXPECT_EQ(obs_.unary_threads.count(*obs_.blocking_threads.begin()), 0u);
}

TEST_F(EngineTest, FullBlockingBacklogFailsFastWithResourceExhausted) {
  engine_->Shutdown();
  engine_.reset();
  StartEngine(/*blocking_threads=*/1, /*queue=*/1);
  auto stub = Users::NewStub(Channel());
  auto create = [&](const std::string& name, absl::Duration timeout) {
    users::CreateUserRequest in;
    in.set_username(name);
    users::CreateUserResult out;
    auto context = Context(timeout);
    return stub->CreateUser(context.get(), in, &out);
  };
  // The only worker is busy...
  grpc::Status blocked_status;
  std::thread blocked([&] { blocked_status = create("block", kWait); });
  obs_.blocking_entered.WaitForNotification();
  // ...the next call takes the only backlog slot (and its client gives up),
  EXPECT_EQ(create("queued", absl::Seconds(1)).error_code(),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  // ...so this one is refused at once rather than queued without bound.
  grpc::Status refused = create("refused", kWait);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("server busy"), std::string::npos);
  obs_.release_blocking.Notify();
  blocked.join();
  EXPECT_TRUE(blocked_status.ok());
}

TEST_F(EngineTest, ServerStreamWritesEveryMessageInOrder) {
  auto stub = Users::NewStub(Channel());
  auto context = Context();
  auto reader = stub->GetUsers(context.get(), Mode("count", 500));
  GetUsersResult result;
  uint32_t expected = 1;
  while (reader->Read(&result)) EXPECT_EQ(result.user().user_id(), expected++);
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(expected, 501u);
  EXPECT_TRUE(StreamsDrain());
}

TEST_F(EngineTest, StreamWokenFromAnotherThreadDeliversEverything) {
  auto stub = Users::NewStub(Channel());
  auto context = Context();
  auto reader = stub->GetUsers(context.get(), Mode("fed"));
  std::thread producer([this] {
    for (int i = 0; i < 100; ++i) {
      ++obs_.produced;
      absl::MutexLock lock(&obs_.mu);
      for (const Waker& w : obs_.wakers) w.Wake();
    }
  });
  GetUsersResult result;
  uint32_t expected = 1;
  while (reader->Read(&result)) EXPECT_EQ(result.user().user_id(), expected++);
  producer.join();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(expected, 101u);
}

TEST_F(EngineTest, CancelMidStreamFreesTheStream) {
  auto stub = Users::NewStub(Channel());
  auto context = Context();
  auto reader = stub->GetUsers(context.get(), Mode("hang"));
  GetUsersResult result;
  ASSERT_TRUE(reader->Read(&result));
  EXPECT_TRUE(OpenStreamsBecome(1));
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_TRUE(StreamsDrain());
}

TEST_F(EngineTest, ClientDeadlineEndsAWaitingStream) {
  auto stub = Users::NewStub(Channel());
  auto context = Context(absl::Milliseconds(300));
  auto reader = stub->GetUsers(context.get(), Mode("hang"));
  GetUsersResult result;
  EXPECT_TRUE(reader->Read(&result));
  EXPECT_FALSE(reader->Read(&result));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_TRUE(StreamsDrain());
}

TEST_F(EngineTest, ClientStreamReadsUntilHalfCloseOrError) {
  auto stub = my_package::RequestStreaming::NewStub(Channel());
  my_package::Empty empty;
  auto context = Context();
  auto writer = stub->stream_state(context.get(), &empty);
  my_package::Data data;
  data.set_info("fine");
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(writer->Write(data));
  ASSERT_TRUE(writer->WritesDone());
  EXPECT_TRUE(writer->Finish().ok());

  context = Context();
  writer = stub->stream_state(context.get(), &empty);
  ASSERT_TRUE(writer->Write(data));
  data.set_info("fail");
  writer->Write(data);  // may already see the error
  writer->WritesDone();
  grpc::Status status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "bad message #1");
}

TEST_F(EngineTest, ShutdownEndsStreamsThroughHookOrCancellation) {
  auto stub = Users::NewStub(Channel());
  auto graceful_ctx = Context();
  auto graceful = stub->GetUsers(graceful_ctx.get(), Mode("until-shutdown"));
  auto stuck_ctx = Context();
  auto stuck = stub->GetUsers(stuck_ctx.get(), Mode("hang"));
  GetUsersResult result;
  ASSERT_TRUE(stuck->Read(&result));  // both calls are in flight now
  ASSERT_TRUE(OpenStreamsBecome(2));

  std::thread shutdown([this] { engine_->Shutdown(); });
  // The hook's wake lets this one finish cleanly...
  EXPECT_FALSE(graceful->Read(&result));
  EXPECT_TRUE(graceful->Finish().ok());
  // ...this one ignores it and is cancelled when the grace period ends.
  EXPECT_FALSE(stuck->Read(&result));
  const grpc::StatusCode code = stuck->Finish().error_code();
  EXPECT_TRUE(code == grpc::StatusCode::CANCELLED ||
              code == grpc::StatusCode::UNAVAILABLE)
      << code;
  shutdown.join();
  EXPECT_TRUE(StreamsDrain());

  // No new calls after shutdown.
  rpc::Payload in, out;
  auto context = Context(absl::Seconds(2));
  EXPECT_FALSE(rpc::Fetch::NewStub(Channel(99))->Capitalize(context.get(), in, &out).ok());
}

// A MethodPolicy's admission check runs before the handler of every kind of
// call; a refused call ends with the check's status and its handler never
// runs (nor is a blocking handler queued).
TEST(EnginePolicyTest, AdmissionCheckGuardsEveryKindOfCall) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 2;
  options.requests_per_queue = 2;
  options.shutdown_grace = absl::Milliseconds(500);
  options.coalesce_writes = std::getenv("CQMUX_TEST_COALESCE_WRITES") != nullptr;
  Engine engine(options);
  std::atomic<int> handled{0};
  std::atomic<int> checked{0};
  const MethodPolicy policy{[&checked](const CallContext& call) {
    ++checked;
    if (call.Metadata("x-pass") == "yes") return grpc::Status::OK;
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no pass");
  }};
  engine.AddService<rpc::Fetch>().Unary(
      &rpc::Fetch::AsyncService::RequestCapitalize,
      [&handled](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
        ++handled;
        out->set_id(in.id());
        return grpc::Status::OK;
      },
      policy);
  engine.AddService<Users>()
      .BlockingUnary(
          &Users::AsyncService::RequestCreateUser,
          [&handled](const users::CreateUserRequest&, users::CreateUserResult*,
                     const CallContext&) {
            ++handled;
            return grpc::Status::OK;
          },
          /*check=*/nullptr, policy)
      .ServerStreaming(
          &Users::AsyncService::RequestGetUsers,
          [&handled](const GetUsersRequest&, const CallContext&, Waker)
              -> std::unique_ptr<ServerStream<GetUsersResult>> {
            ++handled;
            return std::make_unique<FunctionStream<GetUsersResult>>(
                [](GetUsersResult*, grpc::Status*) { return Step::kFinish; });
          },
          policy);
  engine.AddService<my_package::RequestStreaming>().ClientStreaming(
      &my_package::RequestStreaming::AsyncService::Requeststream_state,
      [&handled](const CallContext&) {
        ++handled;
        return std::make_unique<CountingSink>();
      },
      policy);
  ASSERT_TRUE(engine.Start().ok());
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", engine.ports()[0]),
                                     grpc::InsecureChannelCredentials());
  auto fetch = rpc::Fetch::NewStub(channel);
  auto users = Users::NewStub(channel);
  auto states = my_package::RequestStreaming::NewStub(channel);

  // Runs one call of each kind; returns their four status codes.
  auto call_each = [&](bool pass) {
    std::vector<grpc::StatusCode> codes;
    auto context = [pass] {
      auto c = std::make_unique<grpc::ClientContext>();
      c->set_deadline(absl::ToChronoTime(absl::Now() + kWait));
      if (pass) c->AddMetadata("x-pass", "yes");
      return c;
    };
    rpc::Payload in, out;
    in.set_id(3);
    auto c1 = context();
    codes.push_back(fetch->Capitalize(c1.get(), in, &out).error_code());
    users::CreateUserRequest create;
    users::CreateUserResult created;
    auto c2 = context();
    codes.push_back(users->CreateUser(c2.get(), create, &created).error_code());
    auto c3 = context();
    auto reader = users->GetUsers(c3.get(), GetUsersRequest());
    GetUsersResult result;
    while (reader->Read(&result)) {
    }
    codes.push_back(reader->Finish().error_code());
    auto c4 = context();
    my_package::Empty empty;
    auto writer = states->stream_state(c4.get(), &empty);
    my_package::Data data;
    writer->Write(data);  // may fail once the server has answered
    writer->WritesDone();
    codes.push_back(writer->Finish().error_code());
    return codes;
  };

  const std::vector<grpc::StatusCode> refused(4, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(call_each(false), refused);
  EXPECT_EQ(handled.load(), 0);
  EXPECT_EQ(checked.load(), 4);
  const std::vector<grpc::StatusCode> admitted(4, grpc::StatusCode::OK);
  EXPECT_EQ(call_each(true), admitted);
  EXPECT_EQ(handled.load(), 4);
  EXPECT_EQ(checked.load(), 8);
  engine.Shutdown();
}

TEST(EngineStartTest, PortInUseFailsWithAClearError) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine first(options);
  first.AddService<rpc::Fetch>().Unary(
      &rpc::Fetch::AsyncService::RequestCapitalize,
      [](const rpc::Payload&, rpc::Payload*, const CallContext&) {
        return grpc::Status::OK;
      });
  ASSERT_TRUE(first.Start().ok());
  options.listen = {absl::StrCat("127.0.0.1:", first.ports()[0])};
  Engine second(options);
  absl::Status status = second.Start();
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("could not"), std::string::npos) << status;
}

}  // namespace
}  // namespace cqmux
