// A small fixed pool of threads for work that must not run on a queue thread:
// handlers that are slow on purpose (password hashing) or heavy (big Detect
// requests). Its backlog is bounded: when it is full the caller is told so and
// fails the call fast instead of letting memory grow with the backlog.
//
// A job is told whether to run: Run(true) normally, Run(false) when the pool
// drops it unrun (shutdown reached the end of its grace period). Either way
// the job must complete its call; the call template decides, before doing
// the work, whether its call is still wanted (see unary_call.h).
#ifndef CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_
#define CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace cqmux {

class BlockingPool {
 public:
  using Job = std::function<void(bool run)>;

  // `nice` > 0 lowers the threads' scheduling priority, so that queue threads
  // win the CPU over this pool's work (compute pools: heavy requests must not
  // add latency to everybody else's small ones).
  BlockingPool(std::string name, int threads, size_t max_queued, int nice = 0);
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;
  ~BlockingPool();  // DropQueued(), then Drain()

  const std::string& name() const { return name_; }

  // Queues `job` for a pool thread. False if the backlog is full or the pool
  // is dropping or draining; the job is then not called at all.
  bool Submit(Job job);

  // From `deadline` on (the end of a shutdown's grace period), a job a
  // thread takes is dropped (run = false) instead of run.
  void DropFrom(absl::Time deadline);

  // Calls every queued job with run = false, now, on this thread, and refuses
  // later submissions. Jobs already running finish normally.
  void DropQueued();

  // Runs whatever is still queued, then stops the threads. Idempotent.
  void Drain();

  // Jobs waiting for a thread (for tests and metrics).
  size_t queued() const;
  // Submit()s refused so far (backlog full, or the pool shutting down), for
  // metrics.
  uint64_t rejected() const;
  size_t max_queued() const { return max_queued_; }

 private:
  void Work();

  const std::string name_;
  const size_t max_queued_;
  const int nice_;
  mutable absl::Mutex mu_;
  std::deque<Job> jobs_ ABSL_GUARDED_BY(mu_);
  uint64_t rejected_ ABSL_GUARDED_BY(mu_) = 0;
  bool refusing_ ABSL_GUARDED_BY(mu_) = false;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drop_from_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::vector<std::thread> threads_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_BLOCKING_POOL_H_
