// The standard process_* metrics of Prometheus clients (RSS, CPU seconds,
// open and maximum descriptors, threads, start time, virtual memory), read
// from /proc/self at each scrape: nothing is counted between scrapes.
#ifndef CQMUX_SERVER_OBSERVABILITY_METRICS_PROCESS_METRICS_H_
#define CQMUX_SERVER_OBSERVABILITY_METRICS_PROCESS_METRICS_H_

#include <vector>

#include <prometheus/metric_family.h>

namespace cqmux {

// Appends what /proc could tell; a file that cannot be read leaves its
// metrics out rather than reporting zeros.
void CollectProcessMetrics(std::vector<prometheus::MetricFamily>* families);

}  // namespace cqmux

#endif  // CQMUX_SERVER_OBSERVABILITY_METRICS_PROCESS_METRICS_H_
