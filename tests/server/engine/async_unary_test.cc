// AsyncUnary and BlockingAsyncUnary through real gRPC calls: a handler that
// returns at once and completes its call later from another thread (as the
// store's writer does after a group commit), one that completes from within
// itself, one that hashes on the blocking pool and completes later, and a
// call whose completion arrives only while the server is shutting down,
// which must end cleanly (no crash; the sanitizer build checks for leaks);
// a handler completing twice stops the process.
#include <atomic>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "server/engine/engine.h"

namespace cqmux {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

// Completions handed to a "writer" thread, which runs them in order, like a
// store's writer completing a group.
class Completer {
 public:
  Completer() : thread_([this] { Loop(); }) {}
  ~Completer() {
    {
      absl::MutexLock lock(&mu_);
      stop_ = true;
    }
    thread_.join();
  }
  void Post(std::function<void()> f) {
    absl::MutexLock lock(&mu_);
    jobs_.push_back(std::move(f));
  }
  std::thread::id id() const { return thread_.get_id(); }

 private:
  void Loop() {
    while (true) {
      std::function<void()> job;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](Completer* c) ABSL_EXCLUSIVE_LOCKS_REQUIRED(c->mu_) {
              return c->stop_ || !c->jobs_.empty();
            },
            this));
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
      }
      job();
    }
  }

  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

// Data "later" completes on the completer thread; "now" from within the
// handler; "park" is kept until the test completes it; "fail" later with
// an error.
class AsyncUnaryTest : public ::testing::Test {
 protected:
  void Start(bool blocking, absl::Duration grace = absl::Seconds(10)) {
    EngineOptions options;
    options.listen = {"127.0.0.1:0"};
    options.threads = 2;
    options.shutdown_grace = grace;
    engine_ = std::make_unique<Engine>(options);
    auto handler = [this](const rpc::Payload& in, rpc::Payload* out, const CallContext&,
                          UnaryDone done) {
      {
        absl::MutexLock lock(&mu_);
        handler_threads_.insert(std::this_thread::get_id());
      }
      out->set_id(in.id());
      out->set_data(in.data() + "!");
      if (in.data() == "now") {
        done(grpc::Status::OK);
      } else if (in.data() == "twice") {
        done(grpc::Status::OK);
        done(grpc::Status::OK);
      } else if (in.data() == "park") {
        absl::MutexLock lock(&mu_);
        parked_.push_back(done);
        parked_cv_.SignalAll();
      } else if (in.data() == "fail") {
        completer_.Post([done] {
          done(grpc::Status(grpc::StatusCode::UNAVAILABLE, "disk says no"));
        });
      } else {
        completer_.Post([done] { done(grpc::Status::OK); });
      }
    };
    if (blocking) {
      engine_->AddService<rpc::Fetch>().BlockingAsyncUnary(
          &rpc::Fetch::AsyncService::RequestCapitalize, handler);
    } else {
      engine_->AddService<rpc::Fetch>().AsyncUnary(
          &rpc::Fetch::AsyncService::RequestCapitalize, handler);
    }
    shutdown_started_ = std::make_unique<absl::Notification>();
    engine_->OnShutdown([this] { shutdown_started_->Notify(); });
    ASSERT_TRUE(engine_->Start().ok());
    stub_ = rpc::Fetch::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", engine_->ports()[0]), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    // Whatever is still parked must be completed, or shutdown would wait.
    std::vector<UnaryDone> parked;
    {
      absl::MutexLock lock(&mu_);
      parked.swap(parked_);
    }
    for (UnaryDone& done : parked) done(grpc::Status::OK);
    if (engine_) engine_->Shutdown();
  }

  grpc::Status Call(const std::string& data, int id, rpc::Payload* out) {
    rpc::Payload in;
    in.set_id(id);
    in.set_data(data);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    return stub_->Capitalize(&context, in, out);
  }

  bool WaitParked(size_t n) {
    absl::MutexLock lock(&mu_);
    const absl::Time deadline = absl::Now() + kWait;
    while (parked_.size() < n) {
      if (parked_cv_.WaitWithDeadline(&mu_, deadline)) return parked_.size() >= n;
    }
    return true;
  }

  absl::Mutex mu_;
  absl::CondVar parked_cv_;
  std::set<std::thread::id> handler_threads_ ABSL_GUARDED_BY(mu_);
  std::vector<UnaryDone> parked_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<absl::Notification> shutdown_started_;
  Completer completer_;  // outlives the engine: declared before it
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<rpc::Fetch::Stub> stub_;
};

TEST_F(AsyncUnaryTest, CompletesFromAnotherThreadWithTheFilledResponse) {
  Start(/*blocking=*/false);
  for (int i = 0; i < 50; ++i) {
    rpc::Payload out;
    grpc::Status status = Call("later", i, &out);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(out.id(), i);
    EXPECT_EQ(out.data(), "later!");
  }
  absl::MutexLock lock(&mu_);
  EXPECT_EQ(handler_threads_.count(completer_.id()), 0u);
}

TEST_F(AsyncUnaryTest, CompletionFromWithinTheHandlerFinishesTheCall) {
  Start(/*blocking=*/false);
  rpc::Payload out;
  ASSERT_TRUE(Call("now", 7, &out).ok());
  EXPECT_EQ(out.data(), "now!");
}

TEST_F(AsyncUnaryTest, CompletingTwiceStopsTheServerInsteadOfCorruptingACall) {
  // The second completion would race the finishing call (or a later call
  // reusing its object): the engine must refuse it loudly.
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Start(/*blocking=*/false);
        rpc::Payload out;
        Call("twice", 1, &out);
      },
      "completed its call twice");
}

TEST_F(AsyncUnaryTest, AnErrorCompletionIsTheCallsStatus) {
  Start(/*blocking=*/false);
  rpc::Payload out;
  grpc::Status status = Call("fail", 1, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(status.error_message(), "disk says no");
}

TEST_F(AsyncUnaryTest, ManyParkedCallsHoldNoThread) {
  // Two queue threads, 64 calls parked at once: if a parked call held its
  // thread, the 3rd could not even start.
  Start(/*blocking=*/false);
  constexpr int kCalls = 64;
  std::vector<std::thread> clients;
  std::atomic<int> ok{0};
  for (int i = 0; i < kCalls; ++i) {
    clients.emplace_back([this, i, &ok] {
      rpc::Payload out;
      if (Call("park", i, &out).ok() && out.id() == i) ++ok;
    });
  }
  ASSERT_TRUE(WaitParked(kCalls));
  std::vector<UnaryDone> parked;
  {
    absl::MutexLock lock(&mu_);
    parked.swap(parked_);
  }
  std::thread other([&parked] {
    for (UnaryDone& done : parked) done(grpc::Status::OK);
  });
  other.join();
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(ok.load(), kCalls);
}

TEST_F(AsyncUnaryTest, BlockingAsyncRunsOnThePoolAndCompletesLater) {
  Start(/*blocking=*/true);
  for (const char* data : {"later", "now"}) {
    rpc::Payload out;
    ASSERT_TRUE(Call(data, 3, &out).ok()) << data;
    EXPECT_EQ(out.data(), std::string(data) + "!");
  }
  rpc::Payload out;
  EXPECT_EQ(Call("fail", 4, &out).error_code(), grpc::StatusCode::UNAVAILABLE);
}

// Repeated: the completion races the queues' shutdown in different ways.
TEST_F(AsyncUnaryTest, CompletionArrivingDuringShutdownEndsTheCallCleanly) {
  for (int round = 0; round < 20; ++round) {
    const bool after_grace = round % 4 >= 2;
    Start(/*blocking=*/round % 2 == 1,
          after_grace ? absl::Milliseconds(100) : absl::Seconds(10));
    grpc::Status status;
    rpc::Payload out;
    std::thread client([this, &status, &out] { status = Call("park", 1, &out); });
    ASSERT_TRUE(WaitParked(1));
    std::thread shutdown([this] { engine_->Shutdown(); });
    ASSERT_TRUE(shutdown_started_->WaitForNotificationWithTimeout(kWait));
    UnaryDone done;
    {
      absl::MutexLock lock(&mu_);
      done = parked_.back();
      parked_.clear();
    }
    if (after_grace) {
      // The grace runs out and the server cancels the call (the client sees
      // it end) while the completion is still outstanding: the call stays
      // alive, its queue open, until the completion comes.
      client.join();
      EXPECT_FALSE(status.ok());
    }
    done(grpc::Status::OK);
    shutdown.join();
    if (!after_grace) {
      client.join();
      // Completed within the grace: answered.
      EXPECT_TRUE(status.ok()) << status.error_message();
      EXPECT_EQ(out.data(), "park!");
    }
    engine_.reset();
    stub_.reset();
  }
}

}  // namespace
}  // namespace cqmux
