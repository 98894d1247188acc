// Graceful shutdown under the conditions that used to crash or stall it, each
// repeated kRounds times on a fresh engine (the test command also runs it
// under AddressSanitizer): slow jobs queued past the grace period, expired
// jobs, writes blocked by flow control, client streams cut mid-stream, unary
// calls arriving while the server drains. Every round must end with every
// call completed, nothing started on a shut-down queue (gRPC would abort the
// process), and Shutdown() back within drain delay + grace + 1 s.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/engine/engine.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

constexpr int kRounds = 50;
constexpr absl::Duration kGrace = absl::Milliseconds(100);
constexpr absl::Duration kWait = absl::Seconds(20);

using users::CreateUserRequest;
using users::CreateUserResult;
using users::GetUsersRequest;
using users::GetUsersResult;

// Waits (bounded) until `done` holds; for conditions no event announces
// (a request reaching the server's queue). Returns whether it held.
template <class F>
bool Eventually(F done) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// What the handlers of one round saw.
struct Round {
  absl::Notification worker_busy;   // the "block" job is running
  std::atomic<int> jobs_run{0};     // CreateUser jobs that ran their handler
  std::atomic<int> streams_opened{0};
  std::atomic<int> streams_completed{0};
  std::atomic<int> streams_cut{0};
  absl::Notification drain_started;
};

// A client stream sink that reports how its call ended.
class ReportingSink final
    : public ClientStreamSink<my_package::Data, my_package::Empty> {
 public:
  explicit ReportingSink(Round* round) : round_(round) { ++round_->streams_opened; }
  grpc::Status OnMessage(const my_package::Data&) override { return grpc::Status::OK; }
  grpc::Status OnHalfClose(my_package::Empty*) override { return grpc::Status::OK; }
  void OnFinished(bool completed) override {
    ++(completed ? round_->streams_completed : round_->streams_cut);
  }

 private:
  Round* const round_;
};

std::unique_ptr<Engine> StartEngine(Round* round, absl::Duration drain_delay,
                                    std::string* target) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 2;
  options.requests_per_queue = 2;
  options.shutdown_grace = kGrace;
  options.drain_delay = drain_delay;
  options.blocking_threads = 1;
  options.blocking_queue = 64;
  auto engine = std::make_unique<Engine>(options);
  engine->AddService<rpc::Fetch>().Unary(
      &rpc::Fetch::AsyncService::RequestCapitalize,
      [](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
        *out = in;
        return grpc::Status::OK;
      });
  engine->AddService<Users>()
      .BlockingUnary(
          &Users::AsyncService::RequestCreateUser,
          [round](const CreateUserRequest& in, CreateUserResult* out,
                  const CallContext& call) {
            if (in.username() == "block") {
              // Slow work that stops once nobody wants its answer: it keeps
              // the one worker busy until shutdown cancels the call.
              round->worker_busy.Notify();
              while (call.Wanted()) absl::SleepFor(absl::Milliseconds(1));
              return grpc::Status(grpc::StatusCode::CANCELLED, "gave up");
            }
            ++round->jobs_run;
            out->mutable_user()->set_username(in.username());
            return grpc::Status::OK;
          })
      .ServerStreaming(
          &Users::AsyncService::RequestGetUsers,
          [](const GetUsersRequest&, const CallContext&, Waker)
              -> std::unique_ptr<ServerStream<GetUsersResult>> {
            // Writes 64 KiB messages for ever: a client that does not read
            // leaves a write blocked by flow control.
            return std::make_unique<FunctionStream<GetUsersResult>>(
                [](GetUsersResult* out, grpc::Status*) {
                  out->mutable_user()->set_username(std::string(64 << 10, 'x'));
                  return ServerStream<GetUsersResult>::Step::kWrite;
                });
          });
  engine->AddService<my_package::RequestStreaming>().ClientStreaming(
      &my_package::RequestStreaming::AsyncService::Requeststream_state,
      [round](const CallContext&) { return std::make_unique<ReportingSink>(round); });
  engine->OnDrain([round] { round->drain_started.Notify(); });
  absl::Status started = engine->Start();
  EXPECT_TRUE(started.ok()) << started;
  if (!started.ok()) std::abort();  // every test below needs the server
  *target = absl::StrCat("127.0.0.1:", engine->ports()[0]);
  return engine;
}

std::shared_ptr<grpc::Channel> Channel(const std::string& target, int index = 0) {
  grpc::ChannelArguments args;
  args.SetInt("cqmux.test.channel", index);  // a connection of its own
  return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = kWait) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

// Shuts `engine` down and checks it took at most `budget`.
void ShutdownWithin(Engine* engine, absl::Duration budget) {
  const absl::Time start = absl::Now();
  engine->Shutdown();
  EXPECT_LE(absl::Now() - start, budget);
}

// The crash: slow jobs queued behind a busy worker when SIGTERM
// comes. The grace period covers the pool: at its end the queued jobs are
// dropped unrun, their clients told UNAVAILABLE, and shutdown is prompt.
TEST(ShutdownTest, SlowJobsQueuedPastTheGraceAreDroppedUnrun) {
  constexpr int kQueued = 16;
  for (int i = 0; i < kRounds; ++i) {
    SCOPED_TRACE(absl::StrCat("round ", i));
    Round round;
    std::string target;
    std::unique_ptr<Engine> engine = StartEngine(&round, absl::ZeroDuration(), &target);
    auto stub = Users::NewStub(Channel(target));
    std::vector<std::thread> clients;
    std::atomic<int> ok{0}, unavailable{0}, other{0};
    auto create = [&](const std::string& name) {
      CreateUserRequest request;
      request.set_username(name);
      CreateUserResult result;
      auto context = Context();
      grpc::Status status = stub->CreateUser(context.get(), request, &result);
      if (name == "block") return;  // cut off by the shutdown: any error
      if (status.ok()) {
        ++ok;
      } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
        ++unavailable;
      } else {
        ++other;
        ADD_FAILURE() << status.error_code() << " " << status.error_message();
      }
    };
    clients.emplace_back(create, "block");
    ASSERT_TRUE(round.worker_busy.WaitForNotificationWithTimeout(kWait));
    for (int c = 0; c < kQueued; ++c) clients.emplace_back(create, absl::StrCat("user", c));
    ASSERT_TRUE(Eventually([&] {
      return engine->blocking_pool_for_testing()->queued() == static_cast<size_t>(kQueued);
    }));
    ShutdownWithin(engine.get(), kGrace + absl::Seconds(1));
    for (std::thread& t : clients) t.join();
    EXPECT_EQ(round.jobs_run.load(), 0);
    EXPECT_EQ(ok.load(), 0);
    EXPECT_EQ(unavailable.load(), kQueued);
    EXPECT_EQ(engine->active_calls(), 0);
  }
}

// A job whose client gave up while it waited is never run: the user the
// client was told failed is not created behind its back.
TEST(ShutdownTest, AJobWhoseDeadlinePassedInTheQueueNeverRuns) {
  Round round;
  std::string target;
  std::unique_ptr<Engine> engine = StartEngine(&round, absl::ZeroDuration(), &target);
  auto stub = Users::NewStub(Channel(target));
  std::thread blocker([&] {
    CreateUserRequest request;
    request.set_username("block");
    CreateUserResult result;
    auto context = Context();
    (void)stub->CreateUser(context.get(), request, &result);
  });
  ASSERT_TRUE(round.worker_busy.WaitForNotificationWithTimeout(kWait));
  CreateUserRequest request;
  request.set_username("late");
  CreateUserResult result;
  auto context = Context(absl::Milliseconds(200));
  grpc::Status status = stub->CreateUser(context.get(), request, &result);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  // The expired job is still queued behind the busy worker; shutdown frees
  // the worker, and the expired job must then be skipped, not run.
  ShutdownWithin(engine.get(), kGrace + absl::Seconds(1));
  blocker.join();
  EXPECT_EQ(round.jobs_run.load(), 0);
}

// A stream whose client stops reading: its write waits for flow control
// for ever. Shutdown cancels it at the end of the grace period.
TEST(ShutdownTest, WritesBlockedByFlowControlAreCancelledAtTheGrace) {
  for (int i = 0; i < kRounds; ++i) {
    SCOPED_TRACE(absl::StrCat("round ", i));
    Round round;
    std::string target;
    std::unique_ptr<Engine> engine = StartEngine(&round, absl::ZeroDuration(), &target);
    auto stub = Users::NewStub(Channel(target));
    auto context = Context();
    GetUsersRequest request;
    auto reader = stub->GetUsers(context.get(), request);
    GetUsersResult first;
    ASSERT_TRUE(reader->Read(&first));  // the stream is live; now stop reading
    ASSERT_TRUE(Eventually([&] { return engine->active_calls() == 1; }));
    ShutdownWithin(engine.get(), kGrace + absl::Seconds(1));
    context->TryCancel();
    (void)reader->Finish();
    EXPECT_EQ(engine->active_calls(), 0);
  }
}

// Client streams sending as fast as they can when shutdown comes: each is
// cut (or finishes), none is counted as completed unless its client got OK.
TEST(ShutdownTest, ClientStreamsCutMidStreamAreNotCountedAsCompleted) {
  constexpr int kStreams = 4;
  for (int i = 0; i < kRounds; ++i) {
    SCOPED_TRACE(absl::StrCat("round ", i));
    Round round;
    std::string target;
    std::unique_ptr<Engine> engine = StartEngine(&round, absl::ZeroDuration(), &target);
    std::atomic<int> finished_ok{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kStreams; ++c) {
      clients.emplace_back([&, c] {
        auto stub = my_package::RequestStreaming::NewStub(Channel(target, c));
        auto context = Context();
        my_package::Empty empty;
        auto writer = stub->stream_state(context.get(), &empty);
        my_package::Data data;
        data.set_status(my_package::OK);
        data.set_info(std::string(1000, 'i'));
        while (writer->Write(data)) {
        }
        if (writer->Finish().ok()) ++finished_ok;
      });
    }
    ASSERT_TRUE(Eventually([&] { return round.streams_opened.load() == kStreams; }));
    ShutdownWithin(engine.get(), kGrace + absl::Seconds(1));
    for (std::thread& t : clients) t.join();
    EXPECT_EQ(round.streams_completed.load(), finished_ok.load());
    EXPECT_EQ(round.streams_completed.load() + round.streams_cut.load(), kStreams);
    EXPECT_EQ(engine->active_calls(), 0);
  }
}

// Unary calls keep arriving from several clients while the server drains
// and shuts down: each ends OK, UNAVAILABLE or CANCELLED (never hangs, never
// another code), and the process survives.
TEST(ShutdownTest, UnaryCallsArrivingDuringTheDrainEndCleanly) {
  constexpr int kClients = 4;
  for (int i = 0; i < kRounds; ++i) {
    SCOPED_TRACE(absl::StrCat("round ", i));
    Round round;
    std::string target;
    std::unique_ptr<Engine> engine =
        StartEngine(&round, absl::Milliseconds(20), &target);
    std::atomic<bool> stop{false};
    std::atomic<int> ok{0}, unexpected{0};
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
      clients.emplace_back([&, c] {
        auto stub = rpc::Fetch::NewStub(Channel(target, c));
        rpc::Payload in, out;
        in.set_data("x");
        while (!stop.load()) {
          auto context = Context(absl::Seconds(5));
          grpc::Status status = stub->Capitalize(context.get(), in, &out);
          if (status.ok()) {
            ++ok;
          } else if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
                     status.error_code() == grpc::StatusCode::CANCELLED) {
            // The server is gone for this client. CANCELLED: the call had
            // reached gRPC's core but no handler yet when Server::Shutdown
            // began, and gRPC 1.51 cancels such calls.
            return;
          } else {
            ++unexpected;
            ADD_FAILURE() << status.error_code() << " " << status.error_message();
            return;
          }
        }
      });
    }
    ASSERT_TRUE(Eventually([&] { return ok.load() >= kClients; }));
    ShutdownWithin(engine.get(), absl::Milliseconds(20) + kGrace + absl::Seconds(1));
    stop = true;
    for (std::thread& t : clients) t.join();
    EXPECT_EQ(unexpected.load(), 0);
    EXPECT_EQ(engine->active_calls(), 0);
  }
}

// --drain-delay: once the drain hooks ran (health says NOT_SERVING), new
// calls, on new connections too, are still served until the delay is over.
TEST(ShutdownTest, NewCallsAreServedDuringTheDrainDelay) {
  Round round;
  std::string target;
  std::unique_ptr<Engine> engine = StartEngine(&round, absl::Seconds(30), &target);
  std::thread shutdown([&] { engine->Shutdown(); });
  ASSERT_TRUE(round.drain_started.WaitForNotificationWithTimeout(kWait));
  auto stub = rpc::Fetch::NewStub(Channel(target, 7));
  rpc::Payload in, out;
  in.set_data("still here");
  auto context = Context();
  grpc::Status status = stub->Capitalize(context.get(), in, &out);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(out.data(), "still here");
  engine->EndDrain();  // the rest of the 30 s is not needed
  shutdown.join();
}

}  // namespace
}  // namespace cqmux
