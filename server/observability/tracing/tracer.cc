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

// The tracer's half on one queue thread.
class Tracer::QueueTracer final : public QueueObserver {
 public:
  QueueTracer(Tracer* tracer, std::vector<const MethodNames*> names)
      : tracer_(tracer), names_(std::move(names)) {}

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
    auto recorder = std::make_unique<SpanRecorder>(tracer_->options_.max_events_per_span);
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
    HostPort peer = ParsePeer(context.peer());
    span.peer_address = std::move(peer.host);
    span.peer_port = peer.port;
    HostPort server = ParseHostPort(View(context.ExperimentalGetAuthority()));
    span.server_address = std::move(server.host);
    span.server_port = server.port;
    call.events = recorder.release();  // owned through `call` until OnCallEnd
  }

  void OnMessageReceived(ObservedCall& call) override {
    if (call.events != nullptr) ++static_cast<SpanRecorder*>(call.events)->received;
  }
  void OnMessageSent(ObservedCall& call) override {
    if (call.events != nullptr) ++static_cast<SpanRecorder*>(call.events)->sent;
  }

  void OnCallEnd(ObservedCall& call, const grpc::Status& status) override {
    if (call.events == nullptr) return;
    std::unique_ptr<SpanRecorder> recorder(static_cast<SpanRecorder*>(call.events));
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
    tracer_->Enqueue(std::move(span));
  }

 private:
  Tracer* const tracer_;
  const std::vector<const MethodNames*> names_;
  absl::InsecureBitGen gen_;
};

Tracer::Tracer(TracerOptions options, std::unique_ptr<SpanExporter> exporter)
    : options_(std::move(options)),
      sampler_(options_.sample_ratio),
      exporter_(std::move(exporter)) {
  thread_ = std::thread([this] { ExportLoop(); });
}

Tracer::~Tracer() { Shutdown(absl::Now()); }

std::unique_ptr<QueueObserver> Tracer::ForQueue(
    int /*queue_index*/, absl::Span<const MethodInfo* const> methods) {
  std::vector<const MethodNames*> names(methods.size(), nullptr);
  absl::MutexLock lock(&names_mu_);
  if (names_.empty()) {
    for (const MethodInfo* info : methods) {
      names_.push_back(std::make_unique<const MethodNames>(
          MethodNames{info->path(), info->service, info->method, info->kind}));
    }
  }
  for (size_t i = 0; i < methods.size() && i < names_.size(); ++i) names[i] = names_[i].get();
  return std::make_unique<QueueTracer>(this, std::move(names));
}

void Tracer::Enqueue(SpanData&& span) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || queued_.size() >= options_.max_queued_spans) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  queued_.push_back(std::move(span));
  // A CondVar, not an Await(Condition): a mutex with a conditional waiter
  // makes every unlock evaluate the condition; this way a queue thread's
  // unlock stays the fast path and signals only when a batch is full.
  if (queued_.size() >= std::max<size_t>(1, options_.max_batch_spans)) ready_.Signal();
}

void Tracer::ExportLoop() {
  std::vector<SpanData> batch;
  const size_t max_batch = std::max<size_t>(1, options_.max_batch_spans);
  for (;;) {
    absl::Time deadline;
    bool stopping;
    {
      absl::MutexLock lock(&mu_);
      const absl::Time wake = absl::Now() + options_.batch_delay;
      while (!stopping_ && queued_.size() < max_batch) {
        if (ready_.WaitWithDeadline(&mu_, wake)) break;  // timed out
      }
      stopping = stopping_;
      if (stopping && (queued_.empty() || absl::Now() >= flush_deadline_)) {
        dropped_.fetch_add(static_cast<int64_t>(queued_.size()), std::memory_order_relaxed);
        queued_.clear();
        return;
      }
      // Only a swap (or a move of one batch) under the lock: queue threads
      // wait for this at most, never for the export below.
      if (queued_.size() <= max_batch) {
        batch.swap(queued_);
      } else {
        batch.assign(std::make_move_iterator(queued_.begin()),
                     std::make_move_iterator(queued_.begin() + max_batch));
        queued_.erase(queued_.begin(), queued_.begin() + max_batch);
      }
      deadline = std::min(absl::Now() + options_.export_timeout, flush_deadline_);
    }
    if (!batch.empty()) ExportBatch(batch, deadline);
    batch.clear();
  }
}

void Tracer::ExportBatch(const std::vector<SpanData>& batch, absl::Time deadline) {
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
