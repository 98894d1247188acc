// Fixed thread pool with a bounded backlog; see blocking_pool.h.
#include "server/engine/blocking_pool.h"

#include <utility>

namespace cqmux {

BlockingPool::BlockingPool(int threads, size_t max_queued)
    : max_queued_(max_queued) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BlockingPool::~BlockingPool() { Drain(); }

bool BlockingPool::Submit(std::function<void()> job) {
  absl::MutexLock lock(&mu_);
  if (draining_ || jobs_.size() >= max_queued_) return false;
  jobs_.push_back(std::move(job));
  return true;
}

void BlockingPool::Drain() {
  {
    absl::MutexLock lock(&mu_);
    draining_ = true;
  }
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

void BlockingPool::Work() {
  for (;;) {
    std::function<void()> job;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return draining_ || !jobs_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (jobs_.empty()) return;  // draining and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace cqmux
