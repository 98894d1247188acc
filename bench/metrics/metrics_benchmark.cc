// metrics_benchmark: what the metrics observer adds to one call on its queue
// thread (the hooks of a unary call: start, one message each way, end with
// the clock read for the histogram, through CallObservation as the call
// templates use it), next to the same with no observer (the null check), and
// what a scrape of the whole server's metrics costs. CPU time, so it is less
// sensitive to a busy machine than end-to-end throughput.
#include <grpcpp/server_context.h>

#include <memory>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "server/engine/call_observer.h"
#include "server/engine/method_info.h"
#include "server/observability/metrics/metrics.h"

namespace cqmux {
namespace {

// 17 methods, as cqmux binds.
std::vector<MethodInfo> Methods() {
  std::vector<MethodInfo> methods(17);
  for (int i = 0; i < 17; ++i) {
    methods[i].service = "bench.Service";
    methods[i].method = "Method" + std::to_string(i);
    methods[i].index = i;
  }
  return methods;
}

void UnaryCall(CallObservation& observation, QueueObserver* observer,
               const MethodInfo* method, const grpc::ServerContext& context) {
  observation.Start(observer, method, context);
  observation.Received();
  observation.Finishing(grpc::Status::OK);
  observation.Sent();
  observation.End();
}

void BM_UnaryCallUnobserved(benchmark::State& state) {
  std::vector<MethodInfo> methods = Methods();
  grpc::ServerContext context;
  CallObservation observation;
  for (auto _ : state) {
    UnaryCall(observation, nullptr, &methods[3], context);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_UnaryCallUnobserved);

void BM_UnaryCallWithMetrics(benchmark::State& state) {
  std::vector<MethodInfo> methods = Methods();
  std::vector<const MethodInfo*> pointers;
  for (const MethodInfo& m : methods) pointers.push_back(&m);
  Metrics metrics;
  std::unique_ptr<QueueObserver> observer = metrics.call_observer()->ForQueue(0, pointers);
  grpc::ServerContext context;
  CallObservation observation;
  for (auto _ : state) {
    UnaryCall(observation, observer.get(), &methods[3], context);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_UnaryCallWithMetrics);

// A scrape's text (what /metrics serves, minus HTTP) of 2 queues x 17 methods.
void BM_Scrape(benchmark::State& state) {
  std::vector<MethodInfo> methods = Methods();
  std::vector<const MethodInfo*> pointers;
  for (const MethodInfo& m : methods) pointers.push_back(&m);
  Metrics metrics;
  auto q0 = metrics.call_observer()->ForQueue(0, pointers);
  auto q1 = metrics.call_observer()->ForQueue(1, pointers);
  size_t bytes = 0;
  for (auto _ : state) {
    std::string text = metrics.Text();
    bytes = text.size();
    benchmark::DoNotOptimize(text);
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_Scrape);

}  // namespace
}  // namespace cqmux

BENCHMARK_MAIN();
