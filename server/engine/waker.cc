// Alarm-based wake-ups; see waker.h.
#include "server/engine/waker.h"

#include <grpc/support/time.h>

#include "server/engine/queue.h"

namespace cqmux {

WakeLink::WakeLink(Queue* queue, EventHandler* target, uint8_t event)
    : queue_(queue), event_(event), target_(target) {}

void WakeLink::Wake() {
  std::lock_guard<std::mutex> lock(mu_);
  if (target_ == nullptr || armed_) return;
  armed_ = queue_->IfOpen([this] {
    // A deadline in the past, not "now": gRPC 1.51 rounds a deadline up to
    // its next millisecond tick, so an alarm set for now fired ~1 ms later
    // (CreateUser at 1 in flight: p50 1001 us -> 122 us with inf_past;
    // BENCHMARKS.md section 9 has the command).
    alarm_.Set(queue_->cq(), gpr_inf_past(GPR_CLOCK_MONOTONIC),
               MakeTag(target_, event_));
  });
}

void WakeLink::OnAlarm() {
  std::lock_guard<std::mutex> lock(mu_);
  armed_ = false;
}

bool WakeLink::Detach() {
  std::lock_guard<std::mutex> lock(mu_);
  target_ = nullptr;
  return armed_;
}

}  // namespace cqmux
