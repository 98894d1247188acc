// One server completion queue and the state its polling thread owns: the call
// pools of every method on this queue, and the gates that decide whether new
// work may still be put on the queue while the server shuts down.
#ifndef CQMUX_SERVER_ENGINE_QUEUE_H_
#define CQMUX_SERVER_ENGINE_QUEUE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <grpcpp/alarm.h>
#include <grpcpp/completion_queue.h>

#include "server/engine/call_observer.h"
#include "server/engine/event.h"
#include "server/engine/write_coalescer.h"

namespace cqmux {

// Owns idle call objects of one method on one queue; see call_pool.h.
class CallPoolBase {
 public:
  virtual ~CallPoolBase() = default;
  // Puts one more request for a new call on the queue.
  virtual void PostRequest() = 0;
};

class Queue final : public EventHandler {
 public:
  Queue(int index, std::unique_ptr<grpc::ServerCompletionQueue> cq);
  Queue(const Queue&) = delete;
  Queue& operator=(const Queue&) = delete;
  ~Queue();

  int index() const { return index_; }
  grpc::ServerCompletionQueue* cq() const { return cq_.get(); }

  void AddPool(std::unique_ptr<CallPoolBase> pool);

  // The observers' half for this queue (call_observer.h); null: calls on it
  // are not observed. Set before the queue's thread starts.
  void SetObserver(std::unique_ptr<QueueObserver> observer) {
    observer_ = std::move(observer);
  }
  QueueObserver* observer() const { return observer_.get(); }

  // What this queue's write-coalescing batches buffered (all zero with
  // coalescing off); written by the queue's thread, readable from any.
  const coalesce::Stats& coalesce_stats() const { return coalesce_stats_; }

  // Runs `post` (which requests a new call) unless the queue is closing. The
  // gate is per queue, so it never contends across queues; it exists because
  // requesting a call on a queue that is being shut down aborts the process.
  // (Between Server::Shutdown and Close, gRPC fails new requests at once.)
  template <typename F>
  bool IfAccepting(F&& post) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!accepting_) return false;
    post();
    return true;
  }

  // Runs `arm` (which sets an alarm on this queue) unless the queue is shut
  // down. Alarms stay allowed after Close() until the last call ended, so
  // that in-flight calls can still be woken while the server drains them.
  template <typename F>
  bool IfOpen(F&& arm) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!open_) return false;
    arm();
    return true;
  }

  // Shutdown (after Server::Shutdown returned): no new requests; the
  // completion queue is
  // shut down as soon as no call on it is alive any more; Run() returns once
  // it is drained. This is the engine's one guarantee that no operation is
  // ever started on a shut-down queue (gRPC aborts the process if one is):
  // every call operation is started by this queue's thread while its call is
  // alive, so the thread itself shuts the queue down, between two events, at
  // the first moment it has no live call; alarms from other threads are
  // refused from then on (IfOpen). Server::Shutdown cancels whatever is left
  // at the end of the grace period, so every call ends.
  void Close();

  // Polls until the queue is shut down and drained. Called by its one thread.
  // With write coalescing on, events are handled in batches (one blocking
  // Next, then whatever is ready without blocking, up to kMaxBatchEvents) and
  // the batch's socket writes are sent when it ends.
  void Run();

  static constexpr int kMaxBatchEvents = 64;

  // The coalescer's retry alarm (sockets that were full at flush time), and
  // the wake-up that makes this thread look at a Close() request.
  void OnEvent(uint8_t event, bool ok) override;

  // Calls that arrived on this queue and have not ended yet. Only the queue's
  // thread writes it (no atomic read-modify-write on the hot path); shutdown
  // reads it from another thread.
  void CallStarted() { AddActive(1); }
  void CallEnded() { AddActive(-1); }
  int64_t active_calls() const {
    return active_.load(std::memory_order_relaxed);
  }

  // Requests posted on this queue whose tag has not been handled yet: a call
  // gRPC matched to one of them is not counted as active before its tag is
  // handled, so shutdown waits for both counts to reach zero before it
  // cancels what is left. Same threading as active_calls().
  void RequestPosted() { AddPosted(1); }
  void RequestReturned() { AddPosted(-1); }
  int64_t posted_requests() const {
    return posted_.load(std::memory_order_relaxed);
  }

 private:
  enum : uint8_t { kFlushRetry, kCloseRequested };

  void RunBatched();
  void ArmFlushRetry();
  // After Close(): shuts the completion queue down once no call is alive.
  // Queue thread only.
  void ShutdownIfIdle() {
    if (close_requested_.load(std::memory_order_acquire)) ShutdownIfIdleSlow();
  }
  void ShutdownIfIdleSlow();

  void AddActive(int64_t delta) {
    active_.store(active_.load(std::memory_order_relaxed) + delta,
                  std::memory_order_relaxed);
  }
  void AddPosted(int64_t delta) {
    posted_.store(posted_.load(std::memory_order_relaxed) + delta,
                  std::memory_order_relaxed);
  }

  const int index_;
  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::mutex mu_;
  bool accepting_ = true;
  bool open_ = true;
  std::atomic<bool> close_requested_{false};
  grpc::Alarm close_alarm_;
  bool shut_down_ = false;  // queue thread only
  std::atomic<int64_t> active_{0};
  std::atomic<int64_t> posted_{0};
  grpc::Alarm flush_retry_;
  bool flush_retry_armed_ = false;  // queue thread only
  coalesce::Stats coalesce_stats_;
  // Outlives the pools, whose calls report to it until they end.
  std::unique_ptr<QueueObserver> observer_;
  // Destroyed after the queue is drained, when no call is in flight.
  std::vector<std::unique_ptr<CallPoolBase>> pools_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_QUEUE_H_
