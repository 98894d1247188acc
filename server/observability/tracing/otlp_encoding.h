// The OTLP/protobuf bytes of one batch of spans, written directly (no
// message objects): the export thread shares the server's CPUs, and building
// ~15 protobuf messages per span and then serializing them was most of its
// cost. The field numbers are those of the OTLP subset in otlp/ (tests parse
// the output with the messages generated from it).
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_ENCODING_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_ENCODING_H_

#include <string>
#include <vector>

#include "server/observability/tracing/span_data.h"

namespace cqmux::tracing {

// The OTLP resource: who produced the spans.
struct ResourceInfo {
  std::string service_name;     // service.name
  std::string service_version;  // service.version
  std::string host_name;        // host.name
};

// Replaces *out with a serialized
// opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest: one
// ResourceSpans, one ScopeSpans (scope "cqmux"), a SERVER span per
// SpanData. *out's capacity is reused from batch to batch.
void EncodeExportRequest(const ResourceInfo& resource, const std::vector<SpanData>& spans,
                         std::string* out);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_ENCODING_H_
