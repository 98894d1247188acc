// Per-queue call counters and their aggregation at scrape; see
// grpc_metrics.h.
#include "server/observability/metrics/grpc_metrics.h"

#include <cstddef>
#include <limits>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cqmux {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

constexpr int kCodes = 17;
constexpr int kUnknownCode = 2;

// kHandlingSecondsBuckets in nanoseconds: the hot path compares integers.
constexpr std::array<int64_t, kHandlingSecondsBuckets.size()> kBucketNanos = {
    5'000'000,   10'000'000,    25'000'000,    50'000'000,
    100'000'000, 250'000'000,   500'000'000,   1'000'000'000,
    2'500'000'000, 5'000'000'000, 10'000'000'000};

const char* GrpcType(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary:
      return "unary";
    case MethodKind::kServerStreaming:
      return "server_stream";
    case MethodKind::kClientStreaming:
      return "client_stream";
  }
  return "unary";
}

}  // namespace

std::string GoCodeName(int code) {
  static constexpr const char* kNames[kCodes] = {
      "OK",           "Canceled",          "Unknown",
      "InvalidArgument", "DeadlineExceeded", "NotFound",
      "AlreadyExists", "PermissionDenied", "ResourceExhausted",
      "FailedPrecondition", "Aborted",     "OutOfRange",
      "Unimplemented", "Internal",         "Unavailable",
      "DataLoss",      "Unauthenticated"};
  if (code >= 0 && code < kCodes) return kNames[code];
  return absl::StrCat("Code(", code, ")");
}

struct GrpcMetrics::QueueCounters {
  struct Labels {
    std::string type;
    std::string service;
    std::string method;
  };

  QueueCounters(int queue_index, absl::Span<const MethodInfo* const> methods)
      : index(queue_index),
        size(methods.size()),
        counters(std::make_unique<MethodCounters[]>(methods.size())) {
    for (const MethodInfo* m : methods) {
      labels.push_back({GrpcType(m->kind), m->service, m->method});
    }
  }

  MethodCounters* Find(const ObservedCall& call) {
    const int i = call.method == nullptr ? -1 : call.method->index;
    if (i < 0 || static_cast<size_t>(i) >= size) return nullptr;
    return &counters[static_cast<size_t>(i)];
  }

  const int index;
  const size_t size;
  std::vector<Labels> labels;
  std::unique_ptr<MethodCounters[]> counters;
  // Events per drained batch (write coalescing on); the last is +Inf.
  alignas(64) std::array<Counter, kBatchEventsBuckets.size() + 1> batch_buckets;
  Counter batch_events;
};

namespace {

// The per-queue half: called only from its queue's thread.
class QueueMetrics final : public QueueObserver {
 public:
  explicit QueueMetrics(GrpcMetrics::QueueCounters* counters)
      : q_(counters) {}

  void OnCallStart(ObservedCall& call, const grpc::ServerContext&) override {
    if (GrpcMetrics::MethodCounters* m = q_->Find(call)) m->started.Add();
  }
  void OnMessageReceived(ObservedCall& call) override {
    if (GrpcMetrics::MethodCounters* m = q_->Find(call)) m->received.Add();
  }
  void OnMessageSent(ObservedCall& call) override {
    if (GrpcMetrics::MethodCounters* m = q_->Find(call)) m->sent.Add();
  }
  void OnCallEnd(ObservedCall& call, const grpc::Status& status) override {
    GrpcMetrics::MethodCounters* m = q_->Find(call);
    if (m == nullptr) return;
    int code = static_cast<int>(status.error_code());
    if (code < 0 || code >= kCodes) code = kUnknownCode;
    m->handled[static_cast<size_t>(code)].Add();
    int64_t ns = absl::GetCurrentTimeNanos() - call.start_ns;
    if (ns < 0) ns = 0;  // the wall clock stepped back
    size_t bucket = 0;
    while (bucket < kBucketNanos.size() && ns > kBucketNanos[bucket]) ++bucket;
    m->buckets[bucket].Add();
    m->handling_ns.Add(static_cast<uint64_t>(ns));
  }
  void OnBatch(int events) override {
    size_t bucket = 0;
    while (bucket < kBatchEventsBuckets.size() &&
           events > kBatchEventsBuckets[bucket]) {
      ++bucket;
    }
    q_->batch_buckets[bucket].Add();
    q_->batch_events.Add(static_cast<uint64_t>(events));
  }

 private:
  GrpcMetrics::QueueCounters* const q_;
};

ClientMetric WithLabels(std::vector<ClientMetric::Label> labels) {
  ClientMetric metric;
  metric.label = std::move(labels);
  return metric;
}

// Cumulative buckets (the last is +Inf) from non-cumulative counts.
ClientMetric::Histogram MakeHistogram(absl::Span<const uint64_t> counts,
                                      absl::Span<const double> bounds,
                                      double sum) {
  ClientMetric::Histogram h;
  uint64_t cumulative = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    cumulative += counts[i];
    ClientMetric::Bucket bucket;
    bucket.cumulative_count = cumulative;
    bucket.upper_bound =
        i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity();
    h.bucket.push_back(bucket);
  }
  h.sample_count = cumulative;
  h.sample_sum = sum;
  return h;
}

}  // namespace

GrpcMetrics::GrpcMetrics() = default;
GrpcMetrics::~GrpcMetrics() = default;

std::unique_ptr<QueueObserver> GrpcMetrics::ForQueue(
    int queue_index, absl::Span<const MethodInfo* const> methods) {
  auto counters = std::make_unique<QueueCounters>(queue_index, methods);
  QueueCounters* raw = counters.get();
  absl::MutexLock lock(&mu_);
  queues_.push_back(std::move(counters));  // kept for scrapes after the queue
  return std::make_unique<QueueMetrics>(raw);
}

void GrpcMetrics::Collect(std::vector<MetricFamily>* families) const {
  // One row per (type, service, method), summed over the queues.
  struct Row {
    const QueueCounters::Labels* labels;
    uint64_t started = 0, received = 0, sent = 0, handling_ns = 0;
    std::array<uint64_t, kCodes> handled{};
    std::array<uint64_t, kHandlingSecondsBuckets.size() + 1> buckets{};
  };
  std::vector<Row> rows;
  absl::flat_hash_map<std::string, size_t> row_of;

  MetricFamily queue_calls{"cqmux_queue_calls_total",
                           "Calls started on each completion queue (each is "
                           "served entirely by that queue's thread).",
                           MetricType::Counter, {}};
  MetricFamily batch_events{
      "cqmux_queue_batch_events",
      "Completion-queue events handled per drained batch, per queue; only "
      "with --coalesce-writes (the batch's responses are sent as one write "
      "per connection).",
      MetricType::Histogram, {}};

  absl::MutexLock lock(&mu_);
  for (const auto& q : queues_) {
    uint64_t calls = 0;
    for (size_t i = 0; i < q->size; ++i) {
      const QueueCounters::Labels& l = q->labels[i];
      const std::string key = absl::StrCat(l.type, "/", l.service, "/", l.method);
      auto [it, added] = row_of.try_emplace(key, rows.size());
      if (added) rows.push_back(Row{&l});
      Row& row = rows[it->second];
      const MethodCounters& m = q->counters[i];
      const uint64_t started = m.started.Get();
      calls += started;
      row.started += started;
      row.received += m.received.Get();
      row.sent += m.sent.Get();
      row.handling_ns += m.handling_ns.Get();
      for (int c = 0; c < kCodes; ++c) row.handled[c] += m.handled[c].Get();
      for (size_t b = 0; b < row.buckets.size(); ++b) {
        row.buckets[b] += m.buckets[b].Get();
      }
    }
    const std::string queue = absl::StrCat(q->index);
    ClientMetric metric = WithLabels({{"queue", queue}});
    metric.counter.value = static_cast<double>(calls);
    queue_calls.metric.push_back(std::move(metric));

    std::array<uint64_t, kBatchEventsBuckets.size() + 1> counts;
    for (size_t b = 0; b < counts.size(); ++b) counts[b] = q->batch_buckets[b].Get();
    ClientMetric batches = WithLabels({{"queue", queue}});
    batches.histogram = MakeHistogram(counts, kBatchEventsBuckets,
                                      static_cast<double>(q->batch_events.Get()));
    batch_events.metric.push_back(std::move(batches));
  }

  MetricFamily started{"grpc_server_started_total",
                       "Total number of RPCs started on the server.",
                       MetricType::Counter, {}};
  MetricFamily handled{"grpc_server_handled_total",
                       "Total number of RPCs completed on the server, "
                       "regardless of success or failure.",
                       MetricType::Counter, {}};
  MetricFamily received{"grpc_server_msg_received_total",
                        "Total number of RPC stream messages received on the "
                        "server.",
                        MetricType::Counter, {}};
  MetricFamily sent{"grpc_server_msg_sent_total",
                    "Total number of gRPC stream messages sent by the server.",
                    MetricType::Counter, {}};
  MetricFamily seconds{"grpc_server_handling_seconds",
                       "Histogram of response latency (seconds) of gRPC that "
                       "had been application-level handled by the server.",
                       MetricType::Histogram, {}};
  for (const Row& row : rows) {
    const std::vector<ClientMetric::Label> labels = {
        {"grpc_type", row.labels->type},
        {"grpc_service", row.labels->service},
        {"grpc_method", row.labels->method}};
    auto counter = [&](MetricFamily& family, uint64_t value) {
      ClientMetric metric = WithLabels(labels);
      metric.counter.value = static_cast<double>(value);
      family.metric.push_back(std::move(metric));
    };
    counter(started, row.started);
    counter(received, row.received);
    counter(sent, row.sent);
    for (int c = 0; c < kCodes; ++c) {
      std::vector<ClientMetric::Label> with_code = labels;
      with_code.push_back({"grpc_code", GoCodeName(c)});
      ClientMetric metric = WithLabels(std::move(with_code));
      metric.counter.value = static_cast<double>(row.handled[c]);
      handled.metric.push_back(std::move(metric));
    }
    ClientMetric histogram = WithLabels(labels);
    histogram.histogram = MakeHistogram(
        row.buckets, kHandlingSecondsBuckets,
        static_cast<double>(row.handling_ns) / 1e9);
    seconds.metric.push_back(std::move(histogram));
  }
  for (MetricFamily* family :
       {&started, &handled, &received, &sent, &seconds, &queue_calls, &batch_events}) {
    families->push_back(std::move(*family));
  }
}

}  // namespace cqmux
