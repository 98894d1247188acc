// A small fixed pool of threads for handlers that must not run on a queue
// thread because they are slow on purpose (password hashing). Its queue is
// bounded: when it is full the caller is told so and fails the call fast
// instead of letting memory grow with the backlog.
#ifndef CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_
#define CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace cqmux {

class BlockingPool {
 public:
  BlockingPool(int threads, size_t max_queued);
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();  // Drain()s

  // Runs `job` on a pool thread. False if the backlog is full or the pool is
  // draining; the job is then not run.
  bool Submit(std::function<void()> job);

  // Runs every job already submitted, then stops the threads. Idempotent.
  void Drain();

 private:
  void Work();

  const size_t max_queued_;
  absl::Mutex mu_;
  std::deque<std::function<void()>> jobs_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_
