// The tracing feature as server/app sees it: options from flags, and a
// tracer that exports OTLP/HTTP (protobuf) to a collector. Nothing else of
// this folder is needed to wire it: the Tracer is the engine's CallObserver.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_TRACING_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_TRACING_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/observability/tracing/tracer.h"

namespace cqmux::tracing {

struct TracingOptions {
  // OTLP/HTTP collector, HOST:PORT or http://HOST:PORT[/PATH]; empty = tracing off.
  std::string otlp_endpoint;
  std::string service_name = "cqmux";
  double sample_ratio = 1.0;
  TracerOptions tracer;  // queue and batch sizes; sample_ratio is set from above
};

// The project's version (CMake's project VERSION), for service.version.
const char* ServiceVersion();
// This machine's name (gethostname), for host.name.
std::string HostName();

// A tracer exporting to options.otlp_endpoint with the resource
// service.name, service.version and host.name; an error for a malformed
// endpoint or a ratio outside [0, 1]. Callers install no tracer at all when
// the endpoint is empty.
absl::StatusOr<std::shared_ptr<Tracer>> MakeOtlpTracer(const TracingOptions& options);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_TRACING_H_
