// Which of the server's numbers are exported as Prometheus metrics, beyond
// the per-call ones the engine's observer counts: the composition root hands
// the metrics module callbacks into the engine and the services, so that
// neither side includes the other.
#ifndef CQMUX_SERVER_APP_APP_METRICS_H_
#define CQMUX_SERVER_APP_APP_METRICS_H_

#include "server/observability/metrics/metrics.h"

namespace cqmux {

class ServerApp;

// Registers the cqmux_* callback metrics of `app` on `metrics`. Call after
// the engine started (the callbacks read its queues and pools); `app` must
// outlive the metrics listener.
void RegisterAppMetrics(ServerApp& app, Metrics& metrics);

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_APP_METRICS_H_
