// ComputeUnary through real gRPC calls: heavy requests run on the compute
// pool (lower CPU priority), light ones on the queue thread; a heavy request
// never holds the queue thread, so a small call behind it is answered while
// it still computes; a full compute backlog fails fast.
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
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
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "server/engine/engine.h"

namespace cqmux {
namespace {

constexpr absl::Duration kWait = absl::Seconds(20);

// Requests with more than 100 bytes of data are heavy. A heavy request whose
// data starts with "hold" waits for `release` before answering.
class ComputePoolTest : public ::testing::Test {
 protected:
  void Start(int compute_threads, int compute_queue) {
    EngineOptions options;
    options.listen = {"127.0.0.1:0"};
    options.threads = 1;  // one queue thread: anything holding it shows
    options.compute_threads = compute_threads;
    options.compute_queue = compute_queue;
    options.shutdown_grace = absl::Milliseconds(200);
    engine_ = std::make_unique<Engine>(options);
    engine_->AddService<rpc::Fetch>().ComputeUnary(
        &rpc::Fetch::AsyncService::RequestCapitalize,
        [this](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
          const bool heavy = in.data().size() > 100;
          {
            absl::MutexLock lock(&mu_);
            (heavy ? heavy_threads_ : light_threads_).insert(std::this_thread::get_id());
            if (heavy) heavy_nice_ = getpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)));
          }
          if (in.data().rfind("hold", 0) == 0) {
            held_.Notify();
            release_.WaitForNotification();
          }
          out->set_id(in.id());
          return grpc::Status::OK;
        },
        [](const rpc::Payload& in) { return in.data().size() > 100; });
    ASSERT_TRUE(engine_->Start().ok());
    stub_ = rpc::Fetch::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", engine_->ports()[0]), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    if (!release_.HasBeenNotified()) release_.Notify();
    if (engine_) engine_->Shutdown();
  }

  grpc::Status Call(const std::string& data, int id = 1) {
    rpc::Payload in, out;
    in.set_id(id);
    in.set_data(data);
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + kWait));
    grpc::Status status = stub_->Capitalize(&context, in, &out);
    if (status.ok()) {
      EXPECT_EQ(out.id(), id);
    }
    return status;
  }

  static std::string Heavy(const std::string& prefix = "") {
    return prefix + std::string(200, 'h');
  }

  absl::Mutex mu_;
  std::set<std::thread::id> heavy_threads_ ABSL_GUARDED_BY(mu_);
  std::set<std::thread::id> light_threads_ ABSL_GUARDED_BY(mu_);
  int heavy_nice_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Notification held_;
  absl::Notification release_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<rpc::Fetch::Stub> stub_;
};

TEST_F(ComputePoolTest, HeavyRequestsRunOnTheComputePoolAtLowerPriority) {
  Start(/*compute_threads=*/2, /*compute_queue=*/16);
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Call("small", i).ok());
    ASSERT_TRUE(Call(Heavy(), i).ok());
  }
  absl::MutexLock lock(&mu_);
  ASSERT_EQ(light_threads_.size(), 1u);  // the one queue thread
  EXPECT_FALSE(heavy_threads_.empty());
  for (const std::thread::id& id : heavy_threads_) EXPECT_EQ(light_threads_.count(id), 0u);
  EXPECT_EQ(heavy_nice_, 5);
}

TEST_F(ComputePoolTest, ASmallCallIsAnsweredWhileAHeavyOneComputes) {
  Start(/*compute_threads=*/1, /*compute_queue=*/16);
  std::thread heavy([this] { EXPECT_TRUE(Call(Heavy("hold")).ok()); });
  ASSERT_TRUE(held_.WaitForNotificationWithTimeout(kWait));
  // The heavy request still holds its compute thread; the queue thread is
  // free, so this is answered now.
  EXPECT_TRUE(Call("small").ok());
  release_.Notify();
  heavy.join();
}

TEST_F(ComputePoolTest, AFullComputeBacklogFailsFastWithResourceExhausted) {
  Start(/*compute_threads=*/1, /*compute_queue=*/1);
  std::thread held([this] { EXPECT_TRUE(Call(Heavy("hold")).ok()); });
  ASSERT_TRUE(held_.WaitForNotificationWithTimeout(kWait));
  std::thread queued([this] { EXPECT_TRUE(Call(Heavy()).ok()); });
  // Wait until the second heavy request sits in the backlog.
  const absl::Time deadline = absl::Now() + kWait;
  while (engine_->compute_pool_for_testing()->queued() != 1 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_EQ(engine_->compute_pool_for_testing()->queued(), 1u);
  grpc::Status status = Call(Heavy());
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(status.error_message().find("compute"), std::string::npos) << status.error_message();
  EXPECT_TRUE(Call("small").ok());  // light calls are unaffected
  release_.Notify();
  held.join();
  queued.join();
}

}  // namespace
}  // namespace cqmux
