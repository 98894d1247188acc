// cqmux's Prometheus metrics behind one small interface: the call observer
// the engine feeds (grpc_server_* and per-queue cqmux_* metrics), any number
// of callback metrics read at scrape time (stores, pools, watchers, the
// write coalescer, the tracer's exported and dropped spans, ...), the
// process_* metrics, and the admin HTTP listener that serves them all as
// Prometheus text at /metrics (prometheus-cpp's pull exposer, civetweb).
//
// Nothing here knows a service: the composition root (server/app) passes
// what it wants exported as callbacks. Callbacks run on the exposer's
// thread during a scrape, so they must be thread-safe and cheap, and what
// they read must outlive this object (or Stop() must come first).
#ifndef CQMUX_SERVER_OBSERVABILITY_METRICS_METRICS_H_
#define CQMUX_SERVER_OBSERVABILITY_METRICS_METRICS_H_

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/call_observer.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace cqmux {

class GrpcMetrics;

class Metrics {
 public:
  // One labelled value of a callback metric, e.g. {{{"pool", "blocking"}}, 3}.
  struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;
    double value = 0;
  };
  using ValueFn = std::function<double()>;
  using SamplesFn = std::function<std::vector<Sample>()>;

  Metrics();
  ~Metrics();  // Stop()s first
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // For EngineOptions::observers: counts every call of every bound method.
  std::shared_ptr<CallObserver> call_observer() const;

  // A metric whose value `value` returns at each scrape. `name` must be a
  // valid Prometheus name (counters end in _total by convention), unique
  // among this object's metrics; an invalid one aborts (a programming
  // error). Counters must never go down.
  void AddCounterCallback(std::string name, std::string help, ValueFn value);
  void AddGaugeCallback(std::string name, std::string help, ValueFn value);
  // The same with labels: one sample per label set.
  void AddCounterCallback(std::string name, std::string help, SamplesFn samples);
  void AddGaugeCallback(std::string name, std::string help, SamplesFn samples);

  // Binds the admin listener, HOST:PORT with HOST an IP address ([::1]:PORT
  // for IPv6; port 0 picks a free one). Until Publish() /metrics answers
  // 404, so that the port can be bound before what the callbacks read is
  // ready. Fails with a message naming the address and the reason (e.g.
  // "Address already in use").
  absl::Status Listen(const std::string& address);
  // The port Listen() bound, 0 if none.
  int port() const { return port_; }
  // From now on scrapes see every metric. Call once the engine has started.
  void Publish();
  // Stops the listener (waits for a scrape in progress). Idempotent.
  // civetweb takes up to 2 s to stop once it has served a connection, so
  // a server begins stopping it on another thread (BeginStop) when its
  // shutdown starts, and Stop() then only waits for that.
  void BeginStop();
  void Stop();

  // The text a scrape of /metrics gets (Prometheus text format 0.0.4).
  std::string Text() const;

 private:
  class Collector;

  void AddCallback(std::string name, std::string help, bool counter,
                   SamplesFn samples);

  const std::shared_ptr<GrpcMetrics> grpc_;
  const std::shared_ptr<Collector> collector_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::thread stopping_;  // BeginStop()'s
  int port_ = 0;
  bool published_ = false;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_OBSERVABILITY_METRICS_METRICS_H_
