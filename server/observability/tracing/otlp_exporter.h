// Sends spans as OTLP/HTTP with protobuf bodies (POST /v1/traces,
// Content-Type application/x-protobuf) to a collector, e.g. the
// OpenTelemetry Collector or Jaeger on port 4318, over plaintext, on one
// kept-alive connection. Why HTTP rather than OTLP/gRPC (port 4317): the
// export thread shares the server's CPUs, and a gRPC client call cost more
// than everything else a span costs together (BENCHMARKS.md section 12);
// a POST of bytes encoded by otlp_encoding.cc on a plain socket costs a
// write and a read per batch.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/observability/tracing/otlp_encoding.h"
#include "server/observability/tracing/span_exporter.h"

namespace cqmux::tracing {

// Where the spans go: http://host:port/path.
struct OtlpEndpoint {
  std::string host;  // IPv6 without brackets
  int port = 0;
  std::string path;  // "/v1/traces" unless the endpoint named one
};

// "host:port", "http://host:port" (OTEL_EXPORTER_OTLP_ENDPOINT's spelling:
// the path becomes /v1/traces) or "http://host:port/path" (as
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: the path as given); an error for
// https:// (TLS to the collector is not supported) or an empty host or port.
absl::StatusOr<OtlpEndpoint> ParseOtlpEndpoint(const std::string& endpoint);

// A SpanExporter POSTing each batch to `endpoint`; it connects on the first
// export and again after the connection broke or the collector closed it.
std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(OtlpEndpoint endpoint,
                                                   ResourceInfo resource);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_OTLP_EXPORTER_H_
