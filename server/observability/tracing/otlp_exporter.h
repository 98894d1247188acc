// Sends spans as OTLP/gRPC (opentelemetry.proto.collector.trace.v1.
// TraceService/Export) to a collector, e.g. the OpenTelemetry Collector or
// Jaeger on port 4317, over plaintext.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/observability/tracing/span_exporter.h"

namespace opentelemetry::proto::collector::trace::v1 {
class ExportTraceServiceRequest;
}

namespace cqmux::tracing {

// The OTLP resource: who produced the spans.
struct ResourceInfo {
  std::string service_name;     // service.name
  std::string service_version;  // service.version
  std::string host_name;        // host.name
};

// Builds the OTLP request for one batch: one ResourceSpans, one ScopeSpans
// (scope "cqmux"), a SERVER span per SpanData.
void EncodeExportRequest(
    const ResourceInfo& resource, const std::vector<SpanData>& spans,
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest* request);

// "host:port", or "http://host:port" as OTEL_EXPORTER_OTLP_ENDPOINT spells
// it, to a gRPC target; an error for https:// (TLS to the collector is not
// supported) or an empty host or port.
absl::StatusOr<std::string> OtlpTarget(const std::string& endpoint);

// A SpanExporter over one gRPC channel to `target` (see OtlpTarget).
std::unique_ptr<SpanExporter> MakeOtlpGrpcExporter(const std::string& target,
                                                   ResourceInfo resource);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_
