// Span recording per queue thread, the bounded queue and the export thread;
// see tracer.h.
#include "server/observability/tracing/tracer.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <utility>

#include <grpcpp/server_context.h>

#include "absl/random/random.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/observability/tracing/net_address.h"
#include "server/observability/tracing/trace_context.h"

namespace cqmux::tracing {
namespace {

absl::string_view View(grpc::string_ref s) { return absl::string_view(s.data(), s.size()); }

// The one value of a metadata key; nullopt when absent or sent more than
// once (W3C: several traceparent values are invalid).
std::optional<absl::string_view> SingleValue(
    const std::multimap<grpc::string_ref, grpc::string_ref>& metadata,
    absl::string_view key) {
  auto [first, last] = metadata.equal_range(grpc::string_ref(key.data(), key.size()));
  if (first == last || std::next(first) != last) return std::nullopt;
  return View(first->second);
}

// The remote parent: a valid traceparent wins over grpc-trace-bin; a
// malformed one is ignored as if absent. Note: gRPC C++ 1.51's core files
// grpc-trace-bin in a typed slot of the metadata batch that its
// PublishToAppEncoder never copies into client_metadata() (README,
// "Tracing"), so through a real server only traceparent arrives today; the
// lookup costs one map search and works wherever the header is passed on
// (e.g. a later gRPC).
std::optional<SpanContext> RemoteParent(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  if (metadata.empty()) return std::nullopt;
  if (std::optional<absl::string_view> traceparent = SingleValue(metadata, "traceparent")) {
    std::optional<SpanContext> parent = ParseTraceparent(*traceparent);
    if (parent.has_value()) {
      std::optional<absl::string_view> state = SingleValue(metadata, "tracestate");
      if (state.has_value() && ValidTraceState(*state)) parent->trace_state = std::string(*state);
      return parent;
    }
  }
  if (std::optional<absl::string_view> bin = SingleValue(metadata, "grpc-trace-bin")) {
    return ParseGrpcTraceBin(*bin);
  }
  return std::nullopt;
}

// The span of one sampled call, and the sink of its handler's events. Only
// the call's queue thread touches it (or a pool job the engine orders with
// it), so nothing here is synchronized.
class SpanRecorder final : public CallEventSink {
 public:
  explicit SpanRecorder(size_t max_events) : max_events_(max_events) {}

  void AddEvent(absl::string_view name,
                absl::Span<const EventAttribute> attributes) override {
    if (span.events.size() >= max_events_) {
      ++span.dropped_events;
      return;
    }
    SpanEvent& event = span.events.emplace_back();
    event.time_ns = absl::GetCurrentTimeNanos();
    event.name = std::string(name);
    event.attributes.reserve(attributes.size());
    for (const EventAttribute& a : attributes) {
      event.attributes.emplace_back(std::string(a.key), a.value);
    }
  }

  // For the next call (the record is pooled by its queue).
  void Reset() {
    span = SpanData();
    received = 0;
    sent = 0;
  }

  SpanData span;
  int64_t received = 0;
  int64_t sent = 0;

 private:
  const size_t max_events_;
};

template <size_t N>
void RandomNonZero(absl::InsecureBitGen& gen, std::array<uint8_t, N>* id) {
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = absl::Uniform<uint64_t>(gen);
      for (size_t j = i; j < std::min(N, i + 8); ++j, r >>= 8) {
        (*id)[j] = static_cast<uint8_t>(r);
      }
    }
  } while (std::all_of(id->begin(), id->end(), [](uint8_t b) { return b == 0; }));
}

}  // namespace

bool IsServerError(int code) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::UNKNOWN:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::UNIMPLEMENTED:
    case grpc::StatusCode::INTERNAL:
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DATA_LOSS:
      return true;
    default:
      return false;
  }
}

// Finished spans of one queue thread on their way to the export thread: a
// bounded single-producer (the queue thread) single-consumer (the export
// thread) ring of preallocated records. Push never blocks and takes no
// lock; when the ring is full the span is dropped and counted here.
class Tracer::SpanRing {
 public:
  explicit SpanRing(size_t capacity) : slots_(std::max<size_t>(1, capacity)) {}

  // Queue thread: moves `span` in; the ring's size afterwards, 0 if it was
  // full (dropped) or `closed`.
  size_t Push(SpanData& span, bool closed) {
    const uint64_t head = head_.load(std::memory_order_relaxed);
    const uint64_t size = head - tail_.load(std::memory_order_acquire);
    if (closed || size >= slots_.size()) {
      // Only this thread writes the counter: no read-modify-write needed.
      dropped_.store(dropped_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      return 0;
    }
    slots_[head % slots_.size()] = std::move(span);
    head_.store(head + 1, std::memory_order_release);
    return static_cast<size_t>(size + 1);
  }

  // Export thread.
  size_t Available() const {
    return static_cast<size_t>(head_.load(std::memory_order_acquire) -
                               tail_.load(std::memory_order_relaxed));
  }
  // The i-th oldest span, i < Available().
  SpanData& Peek(size_t i) {
    return slots_[(tail_.load(std::memory_order_relaxed) + i) % slots_.size()];
  }
  // Frees the `n` oldest slots for the queue thread.
  void Pop(size_t n) {
    tail_.store(tail_.load(std::memory_order_relaxed) + n, std::memory_order_release);
  }

  // Any thread.
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  std::vector<SpanData> slots_;
  // Apart, so that the two threads' writes do not share a cache line.
  alignas(64) std::atomic<uint64_t> head_{0};  // written by the queue thread
  alignas(64) std::atomic<uint64_t> tail_{0};  // written by the export thread
  alignas(64) std::atomic<int64_t> dropped_{0};  // written by the queue thread
};

// The tracer's half on one queue thread.
class Tracer::QueueTracer final : public QueueObserver {
 public:
  QueueTracer(Tracer* tracer, std::vector<const MethodNames*> names, SpanRing* ring)
      : tracer_(tracer), names_(std::move(names)), ring_(ring) {}
  ~QueueTracer() override {
    for (SpanRecorder* recorder : pool_) delete recorder;
  }

  void OnCallStart(ObservedCall& call, const grpc::ServerContext& context) override {
    std::optional<SpanContext> parent = RemoteParent(context);
    TraceId trace_id;
    if (parent.has_value()) {
      if (!Sampler::SampleChild(*parent)) return;
      trace_id = parent->trace_id;
    } else {
      if (tracer_->sampler_.never()) return;
      RandomNonZero(gen_, &trace_id);
      if (!tracer_->sampler_.SampleRoot(trace_id)) return;
    }
    SpanRecorder* recorder = Acquire();
    SpanData& span = recorder->span;
    span.trace_id = trace_id;
    RandomNonZero(gen_, &span.span_id);
    if (parent.has_value()) {
      span.parent_span_id = parent->span_id;
      span.has_remote_parent = true;
      span.trace_state = std::move(parent->trace_state);
    }
    const int index = call.method != nullptr ? call.method->index : -1;
    if (index >= 0 && static_cast<size_t>(index) < names_.size()) span.method = names_[index];
    span.start_ns = call.start_ns != 0 ? call.start_ns : absl::GetCurrentTimeNanos();
    // Raw: the export thread parses them (Tracer::Take).
    span.raw_peer = context.peer();
    const grpc::string_ref authority = context.ExperimentalGetAuthority();
    span.raw_authority.assign(authority.data(), authority.size());
    call.events = recorder;  // owned through `call` until OnCallEnd
  }

  void OnMessageReceived(ObservedCall& call) override {
    if (call.events != nullptr) ++static_cast<SpanRecorder*>(call.events)->received;
  }
  void OnMessageSent(ObservedCall& call) override {
    if (call.events != nullptr) ++static_cast<SpanRecorder*>(call.events)->sent;
  }

  void OnCallEnd(ObservedCall& call, const grpc::Status& status) override {
    if (call.events == nullptr) return;
    auto* recorder = static_cast<SpanRecorder*>(call.events);
    call.events = nullptr;
    SpanData& span = recorder->span;
    // A stream's size is one event at its end, not an event per message
    // (the conventions' per-message rpc.message events are optional and
    // would make a long Watch's span unbounded).
    if (span.method != nullptr && span.method->kind != MethodKind::kUnary) {
      const EventAttribute counts[] = {{"received", recorder->received},
                                       {"sent", recorder->sent}};
      recorder->AddEvent("messages", counts);
    }
    span.end_ns = absl::GetCurrentTimeNanos();
    span.status_code = static_cast<int>(status.error_code());
    if (IsServerError(span.status_code)) span.status_message = status.error_message();
    const size_t queued =
        ring_->Push(span, tracer_->closed_.load(std::memory_order_relaxed));
    // Exactly when this ring reaches a full batch (sizes grow by one per
    // push): one wake-up per batch, not per span.
    if (queued == tracer_->wake_at_) tracer_->WakeExporter();
    recorder->Reset();
    pool_.push_back(recorder);
  }

 private:
  // A record from the pool, which grows to the queue's most calls in
  // flight at once and is reused from then on.
  SpanRecorder* Acquire() {
    if (pool_.empty()) return new SpanRecorder(tracer_->options_.max_events_per_span);
    SpanRecorder* recorder = pool_.back();
    pool_.pop_back();
    return recorder;
  }

  Tracer* const tracer_;
  const std::vector<const MethodNames*> names_;
  SpanRing* const ring_;
  std::vector<SpanRecorder*> pool_;
  absl::InsecureBitGen gen_;
};

Tracer::Tracer(TracerOptions options, std::unique_ptr<SpanExporter> exporter)
    : options_(std::move(options)),
      sampler_(options_.sample_ratio),
      exporter_(std::move(exporter)),
      wake_at_(std::max<size_t>(1, options_.max_batch_spans)) {
  thread_ = std::thread([this] { ExportLoop(); });
}

Tracer::~Tracer() { Shutdown(absl::Now()); }

std::unique_ptr<QueueObserver> Tracer::ForQueue(
    int /*queue_index*/, absl::Span<const MethodInfo* const> methods) {
  std::vector<const MethodNames*> names(methods.size(), nullptr);
  {
    absl::MutexLock lock(&names_mu_);
    if (names_.empty()) {
      for (const MethodInfo* info : methods) {
        names_.push_back(std::make_unique<const MethodNames>(
            MethodNames{info->path(), info->service, info->method, info->kind}));
      }
    }
    for (size_t i = 0; i < methods.size() && i < names_.size(); ++i) names[i] = names_[i].get();
  }
  SpanRing* ring;
  {
    absl::MutexLock lock(&mu_);
    rings_.push_back(std::make_unique<SpanRing>(options_.max_queued_spans));
    ring = rings_.back().get();
  }
  return std::make_unique<QueueTracer>(this, std::move(names), ring);
}

int64_t Tracer::spans_dropped() const {
  int64_t dropped = dropped_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&mu_);
  for (const auto& ring : rings_) dropped += ring->dropped();
  return dropped;
}

void Tracer::WakeExporter() {
  absl::MutexLock lock(&mu_);
  wake_ = true;
  ready_.Signal();
}

size_t Tracer::Take(const std::vector<SpanRing*>& rings, size_t limit,
                    std::vector<SpanData>* batch) {
  size_t taken = 0;
  for (SpanRing* ring : rings) {
    const size_t n = std::min(ring->Available(), limit - taken);
    for (size_t i = 0; i < n; ++i) {
      SpanData& span = batch->emplace_back(std::move(ring->Peek(i)));
      // What the queue thread left raw, parsed here, off the calls' path.
      HostPort peer = ParsePeer(span.raw_peer);
      span.peer_address = std::move(peer.host);
      span.peer_port = peer.port;
      HostPort server = ParseHostPort(span.raw_authority);
      span.server_address = std::move(server.host);
      span.server_port = server.port;
    }
    ring->Pop(n);
    taken += n;
    if (taken == limit) break;
  }
  return taken;
}

void Tracer::ExportLoop() {
  std::vector<SpanData> batch;
  std::vector<SpanRing*> rings;
  const size_t max_batch = std::max<size_t>(1, options_.max_batch_spans);
  batch.reserve(max_batch);
  absl::Time timer = absl::Now() + options_.batch_delay;
  for (;;) {
    bool timed_out = false;
    bool stopping;
    absl::Time flush_deadline;
    {
      absl::MutexLock lock(&mu_);
      while (!stopping_ && !wake_) {
        if (ready_.WaitWithDeadline(&mu_, timer)) {
          timed_out = true;
          break;
        }
      }
      wake_ = false;
      stopping = stopping_;
      flush_deadline = flush_deadline_;
      // New rings come only from ForQueue, before their queue's calls.
      rings.clear();
      for (const auto& ring : rings_) rings.push_back(ring.get());
    }
    if (timed_out) timer = absl::Now() + options_.batch_delay;
    // Full batches; on the timer and when stopping, what is there too.
    for (;;) {
      size_t available = 0;
      for (SpanRing* ring : rings) available += ring->Available();
      if (available == 0 || (available < max_batch && !timed_out && !stopping)) break;
      if (stopping && absl::Now() >= flush_deadline) {
        for (SpanRing* ring : rings) {
          const size_t n = ring->Available();
          ring->Pop(n);
          dropped_.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
        }
        break;
      }
      Take(rings, max_batch, &batch);
      ExportBatch(batch, std::min(absl::Now() + options_.export_timeout, flush_deadline));
      batch.clear();
    }
    if (stopping) return;
  }
}

void Tracer::ExportBatch(std::vector<SpanData>& batch, absl::Time deadline) {
  const absl::Status status = exporter_->Export(batch, deadline);
  const auto n = static_cast<int64_t>(batch.size());
  if (status.ok()) {
    exported_.fetch_add(n, std::memory_order_relaxed);
    return;
  }
  dropped_.fetch_add(n, std::memory_order_relaxed);
  failures_.fetch_add(1, std::memory_order_relaxed);
  ++failures_since_log_;
  // A receiver that is down fails every batch: one line per 30 s is enough.
  const absl::Time now = absl::Now();
  if (now - last_failure_log_ >= absl::Seconds(30)) {
    Log(LogLevel::kWarning,
        "trace export failed (%d failed exports since the last report, %d spans "
        "dropped in all): %s",
        failures_since_log_, spans_dropped(), status.ToString());
    last_failure_log_ = now;
    failures_since_log_ = 0;
  }
}

void Tracer::Shutdown(absl::Time deadline) {
  std::call_once(shutdown_once_, [&] {
    // Spans pushed from now on are dropped and counted (the engine has
    // stopped; this is for an observer still attached somewhere).
    closed_.store(true, std::memory_order_relaxed);
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      flush_deadline_ = deadline;
      ready_.Signal();
    }
    thread_.join();
  });
}

}  // namespace cqmux::tracing
