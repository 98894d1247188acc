// The cqmux-load engine as a library: Run(options) drives one scenario against
// a gRPC server with asynchronous calls on its own completion queues and
// returns a Report. The cqmux-load binary is a thin flag parser around it, and
// tests call it in-process.
#ifndef CQMUX_BENCH_LOAD_LOAD_H_
#define CQMUX_BENCH_LOAD_LOAD_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "channel_security.h"
#include "histogram.h"

namespace cqmux::load {

// Every scenario name the engine accepts, in the order --help lists them.
const std::vector<std::string>& ScenarioNames();

struct Options {
  std::string target = "127.0.0.1:50051";
  std::string scenario = "capitalize";
  int connections = 1;    // channels, each its own TCP connection
  int concurrency = 100;  // calls in flight in total (closed loop) or at most (open loop)
  int threads = 0;        // completion queues, one thread each; 0 = CPUs we may run on
  absl::Duration duration = absl::Seconds(10);
  int64_t requests = 0;  // if > 0, stop after this many measured calls instead
  absl::Duration warmup = absl::Seconds(1);
  double rate = 0;  // calls per second; 0 = closed loop
  absl::Duration call_timeout = absl::ZeroDuration();  // per-call deadline; 0 = none
  absl::Duration drain_timeout = absl::Seconds(5);     // then in-flight calls are cancelled
  absl::Duration connect_timeout = absl::Seconds(10);  // for each connection at start
  // Connect HOST:PORT targets ourselves and run each channel directly on its
  // socket (no resolver, load balancing or reconnection).
  bool direct_sockets = true;
  // Cork those sockets while a batch of completions starts new calls.
  bool cork = true;
  // TLS (client::MakeChannelSecurity from the --tls* flags); plaintext by
  // default. With TLS, channels go through gRPC's resolver (direct_sockets
  // does not apply: gRPC runs only plaintext channels on a given socket).
  client::ChannelSecurity security;
  // Sent as "authorization: Bearer TOKEN" on every call when not empty.
  std::string token;
  // Scenario options.
  int payload_bytes = 100;  // capitalize
  int metrics = 1000;       // detect; 1000 = the tutorial's own request
  int watchers = 100;       // watch-fanout and mixed
  // Where the watchers connect (--connections channels of their own); empty =
  // `target`. Another replica of a shared store: delivery across replicas.
  std::string watch_target;
  int messages = 10;        // stream-state
  std::string mix;          // mixed: "kind:weight,..."; empty = the default mix
  bool progress = false;    // a progress line on stderr every second
  // When set and true, the run stops issuing calls and winds down (SIGINT).
  const std::atomic<bool>* interrupt = nullptr;
};

// Counts for one kind of call (one entry per kind; mixed has several).
struct KindReport {
  std::string kind;
  int64_t calls = 0;
  int64_t ok = 0;
  int64_t wrong = 0;
  std::map<std::string, int64_t> errors;  // by status code name
  Histogram latency_ns;
};

struct Report {
  Options options;
  int threads = 0;
  bool open_loop = false;
  double elapsed_s = 0;  // measured window, from the end of warm-up to the last measured completion
  // Measured calls: calls = ok + wrong + sum(errors).
  int64_t calls = 0;
  int64_t ok = 0;
  int64_t wrong = 0;
  std::map<std::string, int64_t> errors;  // by status code name
  double calls_per_s = 0;
  Histogram latency_ns;  // from actual start (closed loop) or intended start (open loop)
  int64_t warmup_calls = 0;
  int64_t warmup_failures = 0;  // wrong answers and errors during warm-up
  int64_t max_backlog = 0;      // open loop: most due calls waiting for a free slot
  int64_t cancelled_at_drain = 0;
  // CPU time of this process (all threads) per call, warm-up included: what the
  // generator itself costs, to judge whether it could be the bottleneck.
  double client_cpu_us_per_call = 0;
  // watch-fanout / mixed with watchers.
  int watchers = 0;
  int watchers_complete = 0;  // saw every inserted book, in the common order
  int64_t books_inserted = 0;
  int64_t deliveries = 0;
  Histogram delivery_ns;  // insert start -> watcher receipt
  std::map<std::string, int64_t> watcher_errors;  // watch streams that ended with an error
  std::vector<KindReport> kinds;
  std::vector<std::string> wrong_examples;  // the first few, for diagnosis

  bool clean() const {
    return wrong == 0 && errors.empty() && warmup_failures == 0 && watcher_errors.empty() &&
           watchers_complete == watchers;
  }
};

// Runs the scenario. An error status means the run could not start (bad
// options, server unreachable, setup calls failed); everything that happens
// during the run is in the Report.
absl::StatusOr<Report> Run(const Options& options);

void PrintReport(const Report& report, std::ostream& out);
std::string ReportJson(const Report& report);

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_LOAD_H_
