// Completion-queue polling and shutdown gates; see queue.h.
#include "server/engine/queue.h"

#include <utility>

#include <grpc/support/time.h>

#include "server/engine/event.h"
#include "server/engine/write_coalescer.h"

namespace cqmux {

Queue::Queue(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq)
    : index_(index), cq_(std::move(cq)) {}

Queue::~Queue() {
  // Idle call objects hold ServerContexts; release them before the queue.
  pools_.clear();
}

void Queue::AddPool(std::unique_ptr<CallPoolBase> pool) {
  pools_.push_back(std::move(pool));
}

void Queue::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
  if (!open_ || close_requested_.load(std::memory_order_relaxed)) return;
  close_requested_.store(true, std::memory_order_release);
  // Wakes the queue thread even if no call has anything left in flight.
  close_alarm_.Set(cq_.get(), gpr_now(GPR_CLOCK_MONOTONIC),
                   MakeTag(this, kCloseRequested));
}

void Queue::ShutdownIfIdleSlow() {
  if (shut_down_ || active_calls() != 0) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = false;
  }
  shut_down_ = true;
  cq_->Shutdown();
}

void Queue::Run() {
  if (coalesce::Enabled()) {
    RunBatched();
    return;
  }
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) {
    DispatchTag(tag, ok);
    ShutdownIfIdle();
  }
}

void Queue::RunBatched() {
  void* tag = nullptr;
  bool ok = false;
  const gpr_timespec now = gpr_time_0(GPR_CLOCK_MONOTONIC);
  while (cq_->Next(&tag, &ok)) {
    coalesce::Batch batch(&coalesce_stats_);
    DispatchTag(tag, ok);
    int events = 1;
    for (; events < kMaxBatchEvents; ++events) {
      if (cq_->AsyncNext(&tag, &ok, now) != grpc::CompletionQueue::GOT_EVENT) break;
      DispatchTag(tag, ok);
    }
    if (observer_ != nullptr) observer_->OnBatch(events);
    // Flushed before this thread can block in Next() again.
    if (batch.Flush()) ArmFlushRetry();
    ShutdownIfIdle();
  }
}

void Queue::ArmFlushRetry() {
  if (flush_retry_armed_) return;
  flush_retry_armed_ = IfOpen([this] {
    flush_retry_.Set(cq_.get(),
                     gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                                  gpr_time_from_millis(1, GPR_TIMESPAN)),
                     MakeTag(this, kFlushRetry));
  });
}

void Queue::OnEvent(uint8_t event, bool /*ok*/) {
  if (event == kCloseRequested) return;  // Run() looks at the request next
  flush_retry_armed_ = false;
  if (coalesce::RetryPending()) ArmFlushRetry();
}

}  // namespace cqmux
