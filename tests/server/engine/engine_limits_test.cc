// The engine's limits through real gRPC calls on 127.0.0.1: every method of a
// registered service must be bound, per-method request limits (enforced by
// the call templates before a handler runs), a blocking handler's check on
// the queue thread, and the transport limits of EngineOptions (streams per
// connection, idle and maximum connection age, keepalive enforcement, the
// memory quota). No sleeps: waits are on server-side state, channel state
// changes or call completions, each with a deadline.
#include <atomic>
#include <cstdlib>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "books.grpc.pb.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/engine/engine.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

using ::testing::HasSubstr;
using users::GetUsersRequest;
using users::GetUsersResult;
using Step = ServerStream<GetUsersResult>::Step;

constexpr absl::Duration kWait = absl::Seconds(20);

UnaryHandler<rpc::Payload, rpc::Payload> Echo(std::atomic<int>* calls) {
  return [calls](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
    ++*calls;
    *out = in;
    return grpc::Status::OK;
  };
}

// ---- Every method must be bound ---------------------------------------------

template <class Req, class Resp>
UnaryHandler<Req, Resp> Ok() {
  return [](const Req&, Resp*, const CallContext&) { return grpc::Status::OK; };
}

TEST(EngineBindingTest, MethodNamesComeFromTheGeneratedClasses) {
  EXPECT_EQ(GeneratedMethodName<books::BookService::WithAsyncMethod_Watch<
                books::BookService::Service>>(),
            "Watch");
  EXPECT_EQ(GeneratedMethodName<books::BookService::AsyncService>(), "List");
  EXPECT_EQ(GeneratedMethodName<my_package::RequestStreaming::AsyncService>(),
            "stream_state");
  EXPECT_EQ(MethodNameFromClassName("ns::S::WithRawMethod_Detect<ns::S::Service>"),
            "Detect");
  EXPECT_EQ(MethodNameFromClassName("SomethingHandWritten"), "");
}

TEST(EngineBindingTest, StartFailsNamingTheUnboundMethod) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine engine(options);
  using Books = books::BookService::AsyncService;
  engine.AddService<books::BookService>()
      .Unary(&Books::RequestList, Ok<books::Empty, books::BookList>())
      .Unary(&Books::RequestInsert, Ok<books::Book, books::Empty>())
      .Unary(&Books::RequestGet, Ok<books::BookIdRequest, books::Book>())
      .Unary(&Books::RequestDelete, Ok<books::BookIdRequest, books::Empty>());
  // Watch is left out.
  absl::Status started = engine.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(started.message(), "books.BookService/Watch is not bound");
  EXPECT_TRUE(engine.ports().empty()) << "nothing was bound to a port";
}

TEST(EngineBindingTest, EveryUnboundMethodIsNamedAndDuplicatesAreRejected) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine engine(options);
  std::atomic<int> calls{0};
  engine.AddService<rpc::Fetch>()
      .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, Echo(&calls))
      .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, Echo(&calls));
  engine.AddService<Users>();  // neither method
  absl::Status started = engine.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("rpc.Fetch/Capitalize is bound twice"));
  EXPECT_THAT(started.message(), HasSubstr("Users/CreateUser is not bound"));
  EXPECT_THAT(started.message(), HasSubstr("Users/GetUsers is not bound"));
}

TEST(EngineBindingTest, MaxMessageBytesNeedsAMethodBeforeIt) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine engine(options);
  std::atomic<int> calls{0};
  engine.AddService<rpc::Fetch>()
      .MaxMessageBytes(1024)
      .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, Echo(&calls));
  absl::Status started = engine.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("needs a method bound before it"));
}

// ---- An engine with limits ----------------------------------------------------

struct Observed {
  absl::Mutex mu;
  int open_streams ABSL_GUARDED_BY(mu) = 0;
  int peak_streams ABSL_GUARDED_BY(mu) = 0;
  int streams_opened ABSL_GUARDED_BY(mu) = 0;
  std::vector<Waker> wakers ABSL_GUARDED_BY(mu);
  std::set<std::thread::id> check_threads ABSL_GUARDED_BY(mu);
  std::set<std::thread::id> handler_threads ABSL_GUARDED_BY(mu);
  std::atomic<int> capitalize_calls{0};
  std::atomic<int> create_user_calls{0};
  std::atomic<int> state_messages{0};
  std::atomic<int> produced{0};
  absl::Notification blocking_entered;
  absl::Notification release_blocking;
};

// "hang": one result, then waits forever; "fed": result i once
// obs.produced > i, up to 100, then waits forever.
class TestStream final : public ServerStream<GetUsersResult> {
 public:
  TestStream(const GetUsersRequest& request, Observed* obs, Waker waker)
      : mode_(request.user(0).username()), obs_(obs) {
    absl::MutexLock lock(&obs_->mu);
    ++obs_->streams_opened;
    obs_->peak_streams = std::max(obs_->peak_streams, ++obs_->open_streams);
    obs_->wakers.push_back(std::move(waker));
  }
  ~TestStream() override {
    absl::MutexLock lock(&obs_->mu);
    --obs_->open_streams;
  }
  Step Next(GetUsersResult* out, grpc::Status*) override {
    if (mode_ == "fed") {
      if (sent_ == 100 || obs_->produced.load() <= sent_) return Step::kWait;
    } else if (sent_ > 0) {
      return Step::kWait;
    }
    out->mutable_user()->set_user_id(static_cast<uint32_t>(++sent_));
    return Step::kWrite;
  }

 private:
  const std::string mode_;
  Observed* const obs_;
  int sent_ = 0;
};

class CountingSink final
    : public ClientStreamSink<my_package::Data, my_package::Empty> {
 public:
  explicit CountingSink(Observed* obs) : obs_(obs) {}
  grpc::Status OnMessage(const my_package::Data&) override {
    ++obs_->state_messages;
    return grpc::Status::OK;
  }
  grpc::Status OnHalfClose(my_package::Empty*) override { return grpc::Status::OK; }

 private:
  Observed* const obs_;
};

constexpr int kDefaultLimit = 4096;
constexpr int kCreateUserLimit = 64 * 1024;

class EngineLimitsTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (!obs_.release_blocking.HasBeenNotified()) obs_.release_blocking.Notify();
    if (engine_) engine_->Shutdown();
  }

  // Options every test starts from: small message limits, everything else
  // at the engine's defaults unless the test changes it.
  static EngineOptions BaseOptions() {
    EngineOptions options;
    options.listen = {"127.0.0.1:0"};
    options.threads = 2;
    options.requests_per_queue = 2;
    options.shutdown_grace = absl::Milliseconds(500);
    options.blocking_threads = 1;
    options.blocking_queue = 4;
    options.max_message_bytes = kDefaultLimit;
    options.coalesce_writes = std::getenv("CQMUX_TEST_COALESCE_WRITES") != nullptr;
    return options;
  }

  void Start(EngineOptions options) {
    engine_ = std::make_unique<Engine>(options);
    Observed* obs = &obs_;
    engine_->AddService<rpc::Fetch>().Unary(
        &rpc::Fetch::AsyncService::RequestCapitalize, Echo(&obs->capitalize_calls));
    engine_->AddService<Users>()
        .BlockingUnary(
            &Users::AsyncService::RequestCreateUser,
            [obs](const users::CreateUserRequest& in, users::CreateUserResult* out,
                  const CallContext&) {
              ++obs->create_user_calls;
              {
                absl::MutexLock lock(&obs->mu);
                obs->handler_threads.insert(std::this_thread::get_id());
              }
              if (in.username() == "block") {
                obs->blocking_entered.Notify();
                obs->release_blocking.WaitForNotification();
              }
              out->mutable_user()->set_username(in.username());
              return grpc::Status::OK;
            },
            [obs](const users::CreateUserRequest& in, const CallContext&) {
              {
                absl::MutexLock lock(&obs->mu);
                obs->check_threads.insert(std::this_thread::get_id());
              }
              if (in.username() == "reject") {
                return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rejected");
              }
              return grpc::Status::OK;
            })
        .MaxMessageBytes(kCreateUserLimit)
        .ServerStreaming(&Users::AsyncService::RequestGetUsers,
                         [obs](const GetUsersRequest& in, const CallContext&, Waker waker)
                             -> std::unique_ptr<ServerStream<GetUsersResult>> {
                           return std::make_unique<TestStream>(in, obs, std::move(waker));
                         });
    engine_->AddService<my_package::RequestStreaming>().ClientStreaming(
        &my_package::RequestStreaming::AsyncService::Requeststream_state,
        [obs](const CallContext&) { return std::make_unique<CountingSink>(obs); });
    absl::Status started = engine_->Start();
    ASSERT_TRUE(started.ok()) << started;
    target_ = absl::StrCat("127.0.0.1:", engine_->ports()[0]);
  }

  // A channel with its own TCP connection per `index`.
  std::shared_ptr<grpc::Channel> Channel(int index = 0,
                                         grpc::ChannelArguments args = {}) {
    args.SetInt("cqmux.test.channel", index);
    return grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  }

  static std::unique_ptr<grpc::ClientContext> Context(absl::Duration timeout = kWait) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    return context;
  }

  static GetUsersRequest Mode(const std::string& mode, size_t pad = 0) {
    GetUsersRequest request;
    request.add_user()->set_username(mode);
    if (pad > 0) request.add_user()->set_username(std::string(pad, 'p'));
    return request;
  }

  grpc::Status Capitalize(std::shared_ptr<grpc::Channel> channel, size_t bytes) {
    rpc::Payload in, out;
    in.set_data(std::string(bytes, 'x'));
    auto context = Context();
    return rpc::Fetch::NewStub(channel)->Capitalize(context.get(), in, &out);
  }

  bool OpenStreamsBecome(int n) {
    absl::MutexLock lock(&obs_.mu);
    auto reached = [this, n]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(obs_.mu) {
      return obs_.open_streams == n;
    };
    return obs_.mu.AwaitWithTimeout(absl::Condition(&reached), kWait);
  }

  void WakeStreams() {
    absl::MutexLock lock(&obs_.mu);
    for (const Waker& w : obs_.wakers) w.Wake();
  }

  Observed obs_;
  std::unique_ptr<Engine> engine_;
  std::string target_;
};

// ---- Per-method request limits -------------------------------------------------

TEST_F(EngineLimitsTest, UnaryRequestsAreHeldToTheirMethodsLimit) {
  Start(BaseOptions());
  auto channel = Channel();
  // rpc.Payload{data: N bytes} serializes to N + 3 bytes for these sizes.
  EXPECT_TRUE(Capitalize(channel, kDefaultLimit - 3).ok());
  const int handled = obs_.capitalize_calls.load();
  grpc::Status too_large = Capitalize(channel, kDefaultLimit);
  EXPECT_EQ(too_large.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(too_large.error_message(),
            "rpc.Fetch/Capitalize: the request is 4099 bytes, more than this "
            "method accepts (4096 bytes)");
  EXPECT_EQ(obs_.capitalize_calls.load(), handled) << "the handler never saw it";

  // CreateUser has a larger limit of its own, which is also gRPC's
  // server-wide one: beyond it gRPC itself refuses.
  auto stub = Users::NewStub(channel);
  users::CreateUserRequest in;
  users::CreateUserResult out;
  in.set_username(std::string(kDefaultLimit * 4, 'u'));
  auto context = Context();
  EXPECT_TRUE(stub->CreateUser(context.get(), in, &out).ok());
  in.set_username(std::string(kCreateUserLimit + 1, 'u'));
  context = Context();
  EXPECT_EQ(stub->CreateUser(context.get(), in, &out).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Nothing else is affected.
  EXPECT_TRUE(Capitalize(channel, 10).ok());
}

TEST_F(EngineLimitsTest, StreamRequestsAndClientStreamMessagesAreHeldToTheLimit) {
  Start(BaseOptions());
  auto channel = Channel();
  // A server stream whose request is too large never reaches its handler.
  auto stub = Users::NewStub(channel);
  auto context = Context();
  auto reader = stub->GetUsers(context.get(), Mode("hang", kDefaultLimit));
  GetUsersResult result;
  EXPECT_FALSE(reader->Read(&result));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("Users/GetUsers: the request is"));
  {
    absl::MutexLock lock(&obs_.mu);
    EXPECT_EQ(obs_.streams_opened, 0);
  }

  // Each message of a client stream is held to the limit.
  auto states = my_package::RequestStreaming::NewStub(channel);
  my_package::Empty empty;
  context = Context();
  auto writer = states->stream_state(context.get(), &empty);
  my_package::Data data;
  data.set_info("fine");
  ASSERT_TRUE(writer->Write(data));
  ASSERT_TRUE(writer->Write(data));
  data.set_info(std::string(kDefaultLimit, 'i'));
  writer->Write(data);  // may already see the error
  writer->WritesDone();
  status = writer->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(),
              HasSubstr("my_package.RequestStreaming/stream_state: the request is"));
  EXPECT_EQ(obs_.state_messages.load(), 2);
}

TEST_F(EngineLimitsTest, BlockingCheckRunsOnTheQueueThreadBeforeThePool) {
  Start(BaseOptions());
  auto stub = Users::NewStub(Channel());
  auto create = [&](const std::string& name) {
    users::CreateUserRequest in;
    in.set_username(name);
    users::CreateUserResult out;
    auto context = Context();
    return stub->CreateUser(context.get(), in, &out);
  };
  // The only worker is busy until the end of the test...
  grpc::Status blocked;
  std::thread blocker([&] { blocked = create("block"); });
  obs_.blocking_entered.WaitForNotification();
  // ...yet a request its check rejects is answered at once: it never waited
  // for the pool (it would hang until release_blocking if it had).
  grpc::Status rejected = create("reject");
  EXPECT_EQ(rejected.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(rejected.error_message(), "rejected");
  EXPECT_EQ(obs_.create_user_calls.load(), 1) << "only 'block' reached the handler";
  obs_.release_blocking.Notify();
  blocker.join();
  EXPECT_TRUE(blocked.ok());
  absl::MutexLock lock(&obs_.mu);
  ASSERT_EQ(obs_.handler_threads.size(), 1u);
  for (std::thread::id id : obs_.check_threads) {
    EXPECT_EQ(obs_.handler_threads.count(id), 0u) << "checks run on queue threads";
  }
}

// ---- Transport limits ----------------------------------------------------------

// The "5,000 streams on one connection" with a cap of 4: the fifth
// stream on a connection waits in the client (here until its deadline) while
// four are open; other connections are not affected, and a slot freed is
// used at once.
TEST_F(EngineLimitsTest, ConcurrentStreamsPerConnectionAreCapped) {
  EngineOptions options = BaseOptions();
  options.max_concurrent_streams = 4;
  Start(options);
  auto channel = Channel(0);
  ASSERT_TRUE(Capitalize(channel, 1).ok());  // connected, settings exchanged
  auto stub = Users::NewStub(channel);
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<GetUsersResult>>> open;
  GetUsersResult result;
  for (int i = 0; i < 4; ++i) {
    contexts.push_back(Context());
    open.push_back(stub->GetUsers(contexts.back().get(), Mode("hang")));
    ASSERT_TRUE(open.back()->Read(&result)) << i;
  }
  ASSERT_TRUE(OpenStreamsBecome(4));

  auto waiting_context = Context(absl::Milliseconds(500));
  auto waiting = stub->GetUsers(waiting_context.get(), Mode("hang"));
  EXPECT_FALSE(waiting->Read(&result));
  EXPECT_EQ(waiting->Finish().error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);

  // Another connection has streams of its own.
  auto other_context = Context();
  auto other = Users::NewStub(Channel(1))->GetUsers(other_context.get(), Mode("hang"));
  ASSERT_TRUE(other->Read(&result));
  {
    absl::MutexLock lock(&obs_.mu);
    EXPECT_EQ(obs_.streams_opened, 5) << "the waiting stream never reached the server";
  }

  // One of the four ends: the next stream on the first connection opens.
  contexts[0]->TryCancel();
  EXPECT_EQ(open[0]->Finish().error_code(), grpc::StatusCode::CANCELLED);
  auto next_context = Context();
  auto next = stub->GetUsers(next_context.get(), Mode("hang"));
  EXPECT_TRUE(next->Read(&result));
  absl::MutexLock lock(&obs_.mu);
  EXPECT_EQ(obs_.peak_streams, 5) << "4 on the capped connection + 1 on the other";
}

TEST_F(EngineLimitsTest, IdleConnectionIsClosedAndTheClientReconnects) {
  EngineOptions options = BaseOptions();
  options.max_connection_idle = absl::Milliseconds(200);
  Start(options);
  auto channel = Channel();
  ASSERT_TRUE(Capitalize(channel, 1).ok());
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  // The server's GOAWAY takes the channel out of READY...
  EXPECT_TRUE(channel->WaitForStateChange(GRPC_CHANNEL_READY,
                                          absl::ToChronoTime(absl::Now() + kWait)));
  EXPECT_NE(channel->GetState(false), GRPC_CHANNEL_READY);
  // ...and the next call just reconnects.
  EXPECT_TRUE(Capitalize(channel, 1).ok());
}

// With an infinite grace (the default), reaching the maximum age moves new
// calls to a new connection but never cuts a call that is open: a watch keeps
// streaming on the old connection.
TEST_F(EngineLimitsTest, MaxAgeWithoutGraceLimitKeepsOpenStreams) {
  EngineOptions options = BaseOptions();
  options.max_connection_age = absl::Milliseconds(300);
  Start(options);
  auto channel = Channel();
  auto context = Context();
  auto stream = Users::NewStub(channel)->GetUsers(context.get(), Mode("fed"));
  obs_.produced = 1;
  WakeStreams();
  GetUsersResult result;
  ASSERT_TRUE(stream->Read(&result));
  ASSERT_EQ(channel->GetState(false), GRPC_CHANNEL_READY);
  EXPECT_TRUE(channel->WaitForStateChange(GRPC_CHANNEL_READY,
                                          absl::ToChronoTime(absl::Now() + kWait)))
      << "the server sent its GOAWAY";
  // New calls go to a new connection...
  EXPECT_TRUE(Capitalize(channel, 1).ok());
  // ...while the watch still streams on the old one.
  obs_.produced = 100;
  WakeStreams();
  for (uint32_t expected = 2; expected <= 100; ++expected) {
    ASSERT_TRUE(stream->Read(&result)) << expected;
    EXPECT_EQ(result.user().user_id(), expected);
  }
  // (The stream is left open: in gRPC 1.51 the old connection is closed the
  // moment its last call ends, and frames the client still had in flight then
  // turn that close into a reset that can cost the call its last messages;
  // README "Limits".)
  context->TryCancel();
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::CANCELLED);
}

// A finite grace closes the old connection, open streams included.
TEST_F(EngineLimitsTest, MaxAgeGraceEndsOpenStreams) {
  EngineOptions options = BaseOptions();
  options.max_connection_age = absl::Milliseconds(300);
  options.max_connection_age_grace = absl::Milliseconds(300);
  Start(options);
  auto channel = Channel();
  auto context = Context();
  auto stream = Users::NewStub(channel)->GetUsers(context.get(), Mode("hang"));
  GetUsersResult result;
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_FALSE(stream->Read(&result));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(OpenStreamsBecome(0));
  EXPECT_TRUE(Capitalize(channel, 1).ok());
}

// A client pinging every 20 ms against the default 10 s minimum interval is
// cut off after --max-ping-strikes strikes; its open call fails UNAVAILABLE.
TEST_F(EngineLimitsTest, PingFloodIsCutOff) {
  Start(BaseOptions());
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, 20);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, 10000);
  args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
  auto channel = Channel(0, args);
  auto context = Context();
  auto stream = Users::NewStub(channel)->GetUsers(context.get(), Mode("hang"));
  GetUsersResult result;
  ASSERT_TRUE(stream->Read(&result));
  EXPECT_FALSE(stream->Read(&result));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(OpenStreamsBecome(0));
}

TEST_F(EngineLimitsTest, MetadataIsBounded) {
  EngineOptions options = BaseOptions();
  options.max_metadata_bytes = 4096;
  Start(options);
  auto stub = rpc::Fetch::NewStub(Channel());
  rpc::Payload in, out;
  auto context = Context();
  context->AddMetadata("ip", std::string(1000, '1'));
  EXPECT_TRUE(stub->Capitalize(context.get(), in, &out).ok());
  const int handled = obs_.capitalize_calls.load();
  context = Context();
  context->AddMetadata("ip", std::string(8000, '1'));
  EXPECT_EQ(stub->Capitalize(context.get(), in, &out).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(obs_.capitalize_calls.load(), handled);
}

// gRPC counts what it buffers against the quota: a request that cannot fit
// is cancelled (RST_STREAM ENHANCE_YOUR_CALM, RESOURCE_EXHAUSTED for the
// client) while it is being received, whatever its method's message limit,
// and the memory is back for the next call.
TEST_F(EngineLimitsTest, MemoryQuotaStopsARequestThatDoesNotFit) {
  EngineOptions options = BaseOptions();
  options.max_message_bytes = 16 << 20;  // not what stops it here
  options.memory_quota_bytes = 1 << 20;
  Start(options);
  auto channel = Channel();
  ASSERT_TRUE(Capitalize(channel, 100 * 1024).ok());
  const int handled = obs_.capitalize_calls.load();
  EXPECT_EQ(Capitalize(channel, 8 << 20).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(obs_.capitalize_calls.load(), handled);
  EXPECT_TRUE(Capitalize(channel, 100 * 1024).ok());
}

}  // namespace
}  // namespace cqmux
