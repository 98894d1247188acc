// The fan-out of several observers and the call templates' start hook; see
// call_observer.h.
#include "server/engine/call_observer.h"

#include <utility>

#include "absl/time/clock.h"

namespace cqmux {
namespace {

class FanOutObserver final : public QueueObserver {
 public:
  explicit FanOutObserver(std::vector<std::unique_ptr<QueueObserver>> observers)
      : observers_(std::move(observers)) {}

  void OnCallStart(ObservedCall& call, const grpc::ServerContext& context) override {
    for (auto& o : observers_) o->OnCallStart(call, context);
  }
  void OnMessageReceived(ObservedCall& call) override {
    for (auto& o : observers_) o->OnMessageReceived(call);
  }
  void OnMessageSent(ObservedCall& call) override {
    for (auto& o : observers_) o->OnMessageSent(call);
  }
  void OnCallEnd(ObservedCall& call, const grpc::Status& status) override {
    for (auto& o : observers_) o->OnCallEnd(call, status);
  }
  void OnBatch(int events) override {
    for (auto& o : observers_) o->OnBatch(events);
  }

 private:
  std::vector<std::unique_ptr<QueueObserver>> observers_;
};

}  // namespace

std::unique_ptr<QueueObserver> FanOut(
    std::vector<std::unique_ptr<QueueObserver>> observers) {
  std::erase(observers, nullptr);
  if (observers.empty()) return nullptr;
  if (observers.size() == 1) return std::move(observers.front());
  return std::make_unique<FanOutObserver>(std::move(observers));
}

void CallObservation::Start(QueueObserver* observer, const MethodInfo* method,
                            const grpc::ServerContext& context) {
  observer_ = observer;
  if (observer_ == nullptr) return;
  call_.method = method;
  call_.start_ns = absl::GetCurrentTimeNanos();
  call_.events = nullptr;
  observer_->OnCallStart(call_, context);
}

}  // namespace cqmux
