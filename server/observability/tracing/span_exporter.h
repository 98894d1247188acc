// Where finished spans go: the OTLP/HTTP exporter in production, a fake in
// tests. Called only from the tracer's export thread, never from a queue
// thread, so an implementation may block (bounded by `deadline`).
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_EXPORTER_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_EXPORTER_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/observability/tracing/span_data.h"

namespace cqmux::tracing {

class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  // Sends one batch; OK when the receiver accepted it. Spans of a failed
  // batch are not retried (the tracer counts them as dropped).
  virtual absl::Status Export(const std::vector<SpanData>& spans,
                              absl::Time deadline) = 0;
};

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_EXPORTER_H_
