// The tracer: a CallObserver that records one SERVER span per sampled call
// on the call's queue thread and exports them in batches from one background
// thread.
//
// Cost model. An unsampled call (tracing off is cheaper still: no observer
// at all) costs a metadata lookup and, for a root call with a ratio below 1,
// a random trace id. A sampled call fills a span record taken from its
// queue's pool (no allocation once the pool is warm) on its queue thread
// without locks, keeping gRPC's peer string and the :authority raw; at its
// end the record is moved into its queue's ring, a bounded single-producer
// single-consumer queue: no lock, no shared counter, and a full ring drops
// the span and counts it (per queue). The export thread drains every ring,
// parses the addresses, encodes and sends; it is woken only when a ring
// holds a full batch (or by its batch_delay timer), so a queue thread never
// waits for it and rarely makes a system call for it.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_TRACER_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_TRACER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/call_observer.h"
#include "server/observability/tracing/sampler.h"
#include "server/observability/tracing/span_data.h"
#include "server/observability/tracing/span_exporter.h"

namespace cqmux::tracing {

struct TracerOptions {
  // Of root calls (no parent in the metadata); children follow the parent.
  double sample_ratio = 1.0;
  // Finished spans waiting for export, per queue thread; beyond that new
  // ones are dropped (and counted).
  size_t max_queued_spans = 4096;
  // Spans per export call; a full batch is sent at once.
  size_t max_batch_spans = 512;
  // A partial batch is sent after this long.
  absl::Duration batch_delay = absl::Seconds(2);
  // Bound of one export call (the shutdown deadline bounds it too).
  absl::Duration export_timeout = absl::Seconds(10);
  // Events kept per span (a handler in a loop cannot grow a span without
  // bound); further ones are counted in the span's dropped_events_count.
  size_t max_events_per_span = 128;
};

class Tracer final : public CallObserver {
 public:
  Tracer(TracerOptions options, std::unique_ptr<SpanExporter> exporter);
  // Shuts down with an immediate deadline if Shutdown() was not called.
  ~Tracer() override;

  std::unique_ptr<QueueObserver> ForQueue(
      int queue_index, absl::Span<const MethodInfo* const> methods) override;

  // After the engine stopped: exports what is queued, in batches, until
  // `deadline`; spans still queued then are dropped. Stops the export
  // thread. Idempotent.
  void Shutdown(absl::Time deadline);

  // Counters, readable from any thread (e.g. a metrics scrape).
  // Spans the receiver accepted.
  int64_t spans_exported() const { return exported_.load(std::memory_order_relaxed); }
  // Spans lost: queue full, their batch's export failed, or still queued at
  // the shutdown deadline.
  int64_t spans_dropped() const;
  // Export calls that failed (each logged, rate-limited).
  int64_t export_failures() const { return failures_.load(std::memory_order_relaxed); }

  const TracerOptions& options() const { return options_; }

 private:
  class QueueTracer;
  class SpanRing;
  friend class QueueTracer;

  // From a queue thread, when its ring reached a full batch.
  void WakeExporter();
  void ExportLoop();
  // Moves up to `limit` spans out of the rings into `batch` (ring by ring);
  // how many.
  size_t Take(const std::vector<SpanRing*>& rings, size_t limit, std::vector<SpanData>* batch);
  void ExportBatch(std::vector<SpanData>& batch, absl::Time deadline);

  const TracerOptions options_;
  const Sampler sampler_;
  const std::unique_ptr<SpanExporter> exporter_;
  // A ring of this many spans wakes the export thread.
  const size_t wake_at_;
  // Set by Shutdown: pushes are dropped from then on (read by every
  // sampled call, written once).
  std::atomic<bool> closed_{false};

  absl::Mutex names_mu_;
  // Filled by the first ForQueue (before any call), read-only afterwards;
  // spans point into it.
  std::vector<std::unique_ptr<const MethodNames>> names_ ABSL_GUARDED_BY(names_mu_);

  mutable absl::Mutex mu_;
  // One per ForQueue; owned here so that what an engine's queues left is
  // still exported after the engine is gone.
  std::vector<std::unique_ptr<SpanRing>> rings_ ABSL_GUARDED_BY(mu_);
  absl::CondVar ready_;  // wake_ or stopping_
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time flush_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();

  std::atomic<int64_t> exported_{0};
  // Export-side drops; the rings count their own (queue full).
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> failures_{0};
  // Rate limit of the failure log (export thread only).
  absl::Time last_failure_log_ = absl::InfinitePast();
  int64_t failures_since_log_ = 0;

  std::thread thread_;
  std::once_flag shutdown_once_;
};

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_TRACER_H_
