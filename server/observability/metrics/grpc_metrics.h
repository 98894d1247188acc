// The go-grpc-prometheus metrics of every call (grpc_server_started_total,
// _handled_total, _msg_received_total, _msg_sent_total and the
// grpc_server_handling_seconds histogram) plus cqmux's per-queue ones, as a
// CallObserver.
//
// The hot path is per queue thread: each queue's observer writes plain
// per-method arrays (indexed by MethodInfo::index) that only its thread
// writes, with relaxed loads and stores (no read-modify-write, no shared
// cache line between queues). A scrape reads every queue's arrays and adds
// them up; it may see a call counted as started and not yet as handled, as
// any scrape of a live server can.
#ifndef CQMUX_SERVER_OBSERVABILITY_METRICS_GRPC_METRICS_H_
#define CQMUX_SERVER_OBSERVABILITY_METRICS_GRPC_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <prometheus/metric_family.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/engine/call_observer.h"
#include "server/engine/method_info.h"

namespace cqmux {

// go-grpc-prometheus' buckets (client_golang's DefBuckets), in seconds.
inline constexpr std::array<double, 11> kHandlingSecondsBuckets = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
// Events per drained batch: 1 up to Queue::kMaxBatchEvents (64).
inline constexpr std::array<double, 7> kBatchEventsBuckets = {1, 2, 4, 8, 16, 32, 64};

class GrpcMetrics final : public CallObserver {
 public:
  GrpcMetrics();
  ~GrpcMetrics() override;

  std::unique_ptr<QueueObserver> ForQueue(
      int queue_index, absl::Span<const MethodInfo* const> methods) override;

  // Appends the metric families (every bound method with every label value
  // present from the start, zeros included, as go-grpc-prometheus'
  // InitializeMetrics does). Any thread.
  void Collect(std::vector<prometheus::MetricFamily>* families) const;

  // A counter only its owner thread writes; anybody may read it.
  class Counter {
   public:
    void Add(uint64_t n = 1) {
      value_.store(value_.load(std::memory_order_relaxed) + n,
                   std::memory_order_relaxed);
    }
    uint64_t Get() const { return value_.load(std::memory_order_relaxed); }

   private:
    std::atomic<uint64_t> value_{0};
  };

  // One method's counts on one queue. Aligned so that two queues' arrays
  // never share a cache line.
  struct alignas(64) MethodCounters {
    Counter started;
    Counter received;
    Counter sent;
    std::array<Counter, 17> handled;  // by grpc::StatusCode, 0..16
    // Non-cumulative; the last one is +Inf.
    std::array<Counter, kHandlingSecondsBuckets.size() + 1> buckets;
    Counter handling_ns;  // sum of the handling times
  };

  struct QueueCounters;

 private:
  mutable absl::Mutex mu_;  // taken by ForQueue() and scrapes only
  std::vector<std::unique_ptr<QueueCounters>> queues_ ABSL_GUARDED_BY(mu_);
};

// "OK", "NotFound", ...: the names go-grpc-prometheus gives grpc_code (Go's
// codes.Code.String()); "Code(N)" beyond the 17 codes.
std::string GoCodeName(int code);

}  // namespace cqmux

#endif  // CQMUX_SERVER_OBSERVABILITY_METRICS_GRPC_METRICS_H_
