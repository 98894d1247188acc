// The engine's call observation through real gRPC calls on 127.0.0.1: every
// kind of call reports its start, each message received and sent and its end
// with the final status, on its queue's thread; handlers' events reach the
// sink an observer set, including from a blocking pool's thread; two
// observers both see everything. Waits are on the observer's own records.
#include "server/engine/call_observer.h"

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/engine/engine.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(20);

// One call as an observer saw it.
struct Seen {
  std::string method;  // "rpc.Fetch/Capitalize"
  int method_index = -1;
  int queue = -1;
  std::string metadata;  // the client's "x-probe" value
  int received = 0;
  int sent = 0;
  bool ended = false;
  grpc::StatusCode code = grpc::StatusCode::UNKNOWN;
  std::vector<std::string> events;  // "name k=v ..."
  bool wrong_thread = false;
};

// Records calls, keyed by the client's "x-probe" metadata. A tracing one
// traces calls (sets a sink) whose probe starts with "traced"; at most one
// observer of an engine may.
class RecordingObserver final : public CallObserver {
 public:
  explicit RecordingObserver(bool traces) : traces_(traces) {}

  struct Sink final : CallEventSink {
    RecordingObserver* owner;
    std::string probe;
    void AddEvent(absl::string_view name,
                  absl::Span<const EventAttribute> attributes) override {
      std::string text(name);
      for (const EventAttribute& a : attributes) {
        absl::StrAppend(&text, " ", a.key, "=", a.key == "queued_us" ? 0 : a.value);
      }
      absl::MutexLock lock(&owner->mu_);
      owner->calls_[probe].events.push_back(text);
    }
  };

  class OnQueue final : public QueueObserver {
   public:
    OnQueue(RecordingObserver* owner, int queue) : owner_(owner), queue_(queue) {}
    void OnCallStart(ObservedCall& call, const grpc::ServerContext& context) override {
      thread_ = std::this_thread::get_id();
      std::string probe;
      auto it = context.client_metadata().find("x-probe");
      if (it != context.client_metadata().end()) {
        probe.assign(it->second.data(), it->second.size());
      }
      EXPECT_GT(call.start_ns, 0);
      absl::MutexLock lock(&owner_->mu_);
      Seen& seen = owner_->calls_[probe];
      seen.method = call.method->path();
      seen.method_index = call.method->index;
      seen.queue = queue_;
      seen.metadata = probe;
      if (owner_->traces_ && absl::StartsWith(probe, "traced")) {
        auto sink = std::make_unique<Sink>();
        sink->owner = owner_;
        sink->probe = probe;
        call.events = sink.get();
        sinks_[&call] = std::move(sink);
      }
      probes_[&call] = probe;
    }
    void OnMessageReceived(ObservedCall& call) override {
      absl::MutexLock lock(&owner_->mu_);
      Check(&owner_->calls_[probes_[&call]])->received++;
    }
    void OnMessageSent(ObservedCall& call) override {
      absl::MutexLock lock(&owner_->mu_);
      Check(&owner_->calls_[probes_[&call]])->sent++;
    }
    void OnCallEnd(ObservedCall& call, const grpc::Status& status) override {
      absl::MutexLock lock(&owner_->mu_);
      Seen* seen = Check(&owner_->calls_[probes_[&call]]);
      seen->ended = true;
      seen->code = status.error_code();
      sinks_.erase(&call);
      probes_.erase(&call);
    }

   private:
    Seen* Check(Seen* seen) {
      if (std::this_thread::get_id() != thread_) seen->wrong_thread = true;
      return seen;
    }
    RecordingObserver* const owner_;
    const int queue_;
    std::thread::id thread_;  // the queue's thread
    std::map<const ObservedCall*, std::unique_ptr<Sink>> sinks_;
    std::map<const ObservedCall*, std::string> probes_;
  };

  std::unique_ptr<QueueObserver> ForQueue(
      int queue_index, absl::Span<const MethodInfo* const> methods) override {
    for (size_t i = 0; i < methods.size(); ++i) {
      EXPECT_EQ(methods[i]->index, static_cast<int>(i));
    }
    return std::make_unique<OnQueue>(this, queue_index);
  }

  // The call with this probe once it ended (bounded wait).
  Seen Ended(const std::string& probe) {
    absl::MutexLock lock(&mu_);
    auto done = [this, &probe]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      auto it = calls_.find(probe);
      return it != calls_.end() && it->second.ended;
    };
    EXPECT_TRUE(mu_.AwaitWithTimeout(absl::Condition(&done), kWait)) << probe;
    return calls_[probe];
  }

 private:
  const bool traces_;
  absl::Mutex mu_;
  std::map<std::string, Seen> calls_ ABSL_GUARDED_BY(mu_);
};

class CallObserverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EngineOptions options;
    options.listen = {"127.0.0.1:0"};
    options.threads = 2;
    options.requests_per_queue = 2;
    options.shutdown_grace = absl::Milliseconds(500);
    options.observers = {first_, second_};
    engine_ = std::make_unique<Engine>(options);
    engine_->AddService<rpc::Fetch>()
        .Unary(&rpc::Fetch::AsyncService::RequestCapitalize,
               [](const rpc::Payload& in, rpc::Payload* out, const CallContext& call) {
                 call.AddEvent("Data in", {{"len", static_cast<int64_t>(in.data().size())}});
                 if (in.id() < 0) {
                   return grpc::Status(grpc::StatusCode::NOT_FOUND, "negative id");
                 }
                 out->set_data(in.data());
                 return grpc::Status::OK;
               })
        .MaxMessageBytes(64);
    using Users = ::Users::AsyncService;
    engine_->AddService<::Users>()
        .BlockingUnary(&Users::RequestCreateUser,
                       [](const users::CreateUserRequest&, users::CreateUserResult*,
                          const CallContext& call) {
                         call.AddEvent("hashed");
                         return grpc::Status::OK;
                       })
        .ServerStreaming(&Users::RequestGetUsers,
                         [](const users::GetUsersRequest& in, const CallContext&, Waker) {
                           // N users: N messages; none: waits forever.
                           int left = in.user_size();
                           const bool wait = left == 0;
                           using Step = ServerStream<users::GetUsersResult>::Step;
                           return std::make_unique<FunctionStream<users::GetUsersResult>>(
                               [left, wait](users::GetUsersResult*, grpc::Status*) mutable {
                                 if (wait) return Step::kWait;
                                 return left-- > 0 ? Step::kWrite : Step::kFinish;
                               });
                         });
    engine_->AddService<my_package::RequestStreaming>().ClientStreaming(
        &my_package::RequestStreaming::AsyncService::Requeststream_state,
        [](const CallContext&) { return std::make_unique<Sink>(); });
    ASSERT_TRUE(engine_->Start().ok());
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", engine_->ports()[0]),
                                   grpc::InsecureChannelCredentials());
  }

  struct Sink final : ClientStreamSink<my_package::Data, my_package::Empty> {
    grpc::Status OnMessage(const my_package::Data&) override { return grpc::Status::OK; }
    grpc::Status OnHalfClose(my_package::Empty*) override { return grpc::Status::OK; }
  };

  static std::unique_ptr<grpc::ClientContext> Probe(const std::string& probe) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    context->AddMetadata("x-probe", probe);
    return context;
  }

  grpc::StatusCode Capitalize(const std::string& probe, int id, const std::string& data) {
    rpc::Payload in, out;
    in.set_id(id);
    in.set_data(data);
    return rpc::Fetch::NewStub(channel_)->Capitalize(Probe(probe).get(), in, &out).error_code();
  }

  std::shared_ptr<RecordingObserver> first_ = std::make_shared<RecordingObserver>(true);
  std::shared_ptr<RecordingObserver> second_ = std::make_shared<RecordingObserver>(false);
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(CallObserverTest, UnaryCallsReportStartMessagesAndStatus) {
  ASSERT_EQ(Capitalize("ok", 1, "abc"), grpc::StatusCode::OK);
  ASSERT_EQ(Capitalize("err", -1, "abc"), grpc::StatusCode::NOT_FOUND);
  for (RecordingObserver* observer : {first_.get(), second_.get()}) {
    Seen ok = observer->Ended("ok");
    EXPECT_EQ(ok.method, "rpc.Fetch/Capitalize");
    EXPECT_EQ(ok.method_index, 0);
    EXPECT_EQ(ok.received, 1);
    EXPECT_EQ(ok.sent, 1);
    EXPECT_EQ(ok.code, grpc::StatusCode::OK);
    EXPECT_TRUE(ok.events.empty());  // not traced: the handler's event went nowhere
    EXPECT_FALSE(ok.wrong_thread);
    Seen err = observer->Ended("err");
    EXPECT_EQ(err.received, 1);
    EXPECT_EQ(err.sent, 0);
    EXPECT_EQ(err.code, grpc::StatusCode::NOT_FOUND);
  }
}

TEST_F(CallObserverTest, RejectedCallsAreSeenWithTheirStatus) {
  ASSERT_EQ(Capitalize("big", 1, std::string(100, 'x')),
            grpc::StatusCode::RESOURCE_EXHAUSTED);
  Seen big = first_->Ended("big");
  EXPECT_EQ(big.code, grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_EQ(big.sent, 0);
}

TEST_F(CallObserverTest, HandlerEventsReachTheSinkOfATracedCall) {
  ASSERT_EQ(Capitalize("traced-unary", 1, "hello"), grpc::StatusCode::OK);
  EXPECT_THAT(first_->Ended("traced-unary").events, ElementsAre("Data in len=5"));
  // Off the queue thread: the engine adds how long the job waited for a
  // worker, then the handler's own event.
  users::CreateUserRequest request;
  users::CreateUserResult result;
  ASSERT_TRUE(::Users::NewStub(channel_)
                  ->CreateUser(Probe("traced-blocking").get(), request, &result)
                  .ok());
  Seen blocking = first_->Ended("traced-blocking");
  EXPECT_THAT(blocking.events, ElementsAre("worker started queued_us=0", "hashed"));
  EXPECT_EQ(blocking.method, "Users/CreateUser");
  EXPECT_FALSE(blocking.wrong_thread);
}

TEST_F(CallObserverTest, StreamsCountEveryMessage) {
  users::GetUsersRequest request;
  for (int i = 0; i < 3; ++i) request.add_user();
  auto context = Probe("server-stream");
  auto reader = ::Users::NewStub(channel_)->GetUsers(context.get(), request);
  users::GetUsersResult result;
  int read = 0;
  while (reader->Read(&result)) ++read;
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(read, 3);
  Seen server = first_->Ended("server-stream");
  EXPECT_EQ(server.received, 1);
  EXPECT_EQ(server.sent, 3);
  EXPECT_EQ(server.code, grpc::StatusCode::OK);

  my_package::Empty empty;
  auto client_context = Probe("client-stream");
  auto writer = my_package::RequestStreaming::NewStub(channel_)->stream_state(
      client_context.get(), &empty);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(writer->Write(my_package::Data()));
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  Seen client = first_->Ended("client-stream");
  EXPECT_EQ(client.received, 4);
  EXPECT_EQ(client.sent, 1);
  EXPECT_EQ(client.code, grpc::StatusCode::OK);
  EXPECT_FALSE(client.wrong_thread);
}

TEST_F(CallObserverTest, ACancelledStreamEndsCancelled) {
  users::GetUsersRequest request;  // no users: the stream waits forever
  auto context = Probe("cancelled");
  auto reader = ::Users::NewStub(channel_)->GetUsers(context.get(), request);
  reader->WaitForInitialMetadata();  // the server's stream is open
  context->TryCancel();
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::CANCELLED);
  Seen cancelled = first_->Ended("cancelled");
  EXPECT_EQ(cancelled.code, grpc::StatusCode::CANCELLED);
  EXPECT_EQ(cancelled.sent, 0);
}

TEST(FanOutTest, DropsNullsAndUnwrapsASingleObserver) {
  EXPECT_EQ(FanOut({}), nullptr);
  std::vector<std::unique_ptr<QueueObserver>> none;
  none.push_back(nullptr);
  EXPECT_EQ(FanOut(std::move(none)), nullptr);
}

}  // namespace
}  // namespace cqmux
