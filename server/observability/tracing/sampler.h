// Which calls get a span: parent-based, and for calls without a parent the
// same trace-id-ratio rule as the OpenTelemetry SDKs' TraceIdRatioBased, so
// that cqmux and an SDK with the same ratio agree on the same trace id.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_SAMPLER_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_SAMPLER_H_

#include <cstdint>

#include "server/observability/tracing/trace_context.h"

namespace cqmux::tracing {

class Sampler {
 public:
  // `ratio` of root traces sampled, clamped to [0, 1].
  explicit Sampler(double ratio);

  // A call with a parent follows the parent's sampled flag: a trace is
  // either recorded by every service it crosses or by none.
  static bool SampleChild(const SpanContext& parent) { return parent.sampled; }

  // A root span is sampled when the trace id's lower 64 bits (bytes 8..15,
  // big-endian), as an unsigned number, are below ratio * 2^64.
  bool SampleRoot(const TraceId& trace_id) const;

  bool never() const { return never_; }

 private:
  bool always_ = false;
  bool never_ = false;
  uint64_t bound_ = 0;
};

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_SAMPLER_H_
