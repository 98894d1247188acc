// Completion-queue polling and shutdown gates; see queue.h.
#include "server/engine/queue.h"

#include <utility>

#include "server/engine/event.h"

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

void Queue::StopAccepting() {
  std::lock_guard<std::mutex> lock(mu_);
  accepting_ = false;
}

void Queue::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    accepting_ = false;
    open_ = false;
  }
  cq_->Shutdown();
}

void Queue::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) DispatchTag(tag, ok);
}

}  // namespace cqmux
