// Fixed thread pool with a bounded backlog; see blocking_pool.h.
#include "server/engine/blocking_pool.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <utility>

#include "absl/time/clock.h"

#include "server/common/log.h"

namespace cqmux {

BlockingPool::BlockingPool(std::string name, int threads, size_t max_queued,
                           int nice)
    : name_(std::move(name)), max_queued_(max_queued), nice_(nice) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Work(); });
}

BlockingPool::~BlockingPool() {
  DropQueued();
  Drain();
}

bool BlockingPool::Submit(Job job) {
  absl::MutexLock lock(&mu_);
  if (refusing_ || draining_ || jobs_.size() >= max_queued_) {
    ++rejected_;  // under the lock Submit takes anyway: no extra cost
    return false;
  }
  jobs_.push_back(std::move(job));
  return true;
}

void BlockingPool::DropFrom(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  drop_from_ = deadline;
}

void BlockingPool::DropQueued() {
  std::deque<Job> dropped;
  {
    absl::MutexLock lock(&mu_);
    refusing_ = true;
    dropped.swap(jobs_);
  }
  for (Job& job : dropped) job(false);
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

size_t BlockingPool::queued() const {
  absl::MutexLock lock(&mu_);
  return jobs_.size();
}

uint64_t BlockingPool::rejected() const {
  absl::MutexLock lock(&mu_);
  return rejected_;
}

void BlockingPool::Work() {
  if (nice_ > 0) {
    // Linux: a thread's nice value is per thread (its tid).
    const auto tid = static_cast<id_t>(syscall(SYS_gettid));
    if (setpriority(PRIO_PROCESS, tid, nice_) != 0) {
      Log(LogLevel::kWarning, "%s pool: could not lower thread priority", name_.c_str());
    }
  }
  for (;;) {
    Job job;
    bool run = true;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return draining_ || !jobs_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (jobs_.empty()) return;  // draining and nothing left
      job = std::move(jobs_.front());
      jobs_.pop_front();
      run = absl::Now() < drop_from_;
    }
    job(run);
  }
}

}  // namespace cqmux
