// Wiring of the OTLP tracer; see tracing.h.
#include "server/observability/tracing/tracing.h"

#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/observability/tracing/otlp_exporter.h"

#ifndef CQMUX_VERSION
#error "CQMUX_VERSION must be defined by the build (CMake's PROJECT_VERSION)"
#endif

namespace cqmux::tracing {

const char* ServiceVersion() { return CQMUX_VERSION; }

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

absl::StatusOr<std::shared_ptr<Tracer>> MakeOtlpTracer(const TracingOptions& options) {
  absl::StatusOr<OtlpEndpoint> endpoint = ParseOtlpEndpoint(options.otlp_endpoint);
  if (!endpoint.ok()) return endpoint.status();
  if (!(options.sample_ratio >= 0 && options.sample_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--trace-sample-ratio must be between 0 and 1, not ", options.sample_ratio));
  }
  if (options.service_name.empty()) {
    return absl::InvalidArgumentError("--service-name must not be empty");
  }
  TracerOptions tracer = options.tracer;
  tracer.sample_ratio = options.sample_ratio;
  ResourceInfo resource{options.service_name, ServiceVersion(), HostName()};
  return std::make_shared<Tracer>(std::move(tracer),
                                  MakeOtlpHttpExporter(*std::move(endpoint), std::move(resource)));
}

}  // namespace cqmux::tracing
