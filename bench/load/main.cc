// cqmux-load: command-line front end of the load library (flags -> Options,
// Report -> stdout).
#include <csignal>
#include <fstream>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/synchronization/mutex.h"
#include "load.h"
#include "scenarios.h"
#include "server/common/flag_help.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051", "Server address, HOST:PORT.");
ABSL_FLAG(std::string, scenario, "capitalize",
          "What to call: capitalize (rpc.Fetch/Capitalize), create-user (Users/CreateUser, a new "
          "user per call), get-users (Users/GetUsers stream over users made at start), displacement "
          "(my_package.DisplacementService/computeDisplacement), stream-state "
          "(my_package.RequestStreaming/stream_state, --messages per stream), books-get, "
          "books-list, books-insert (books.BookService on a book of this run), watch-fanout "
          "(--watchers Watch streams, load = inserts, each watcher must see every book in one "
          "order), detect (pb.Outliers/Detect, --metrics values), mixed (a weighted mix, see --mix).");
ABSL_FLAG(int, connections, 1, "Channels to open; each is its own TCP connection.");
ABSL_FLAG(int, concurrency, 100,
          "Calls in flight in total (closed loop), or at most (open loop: due calls wait for a free "
          "slot and are charged the wait).");
ABSL_FLAG(int, threads, 0,
          "Completion queues, one polling thread each. 0 = the number of CPUs this process may "
          "run on (so `taskset -c 1` gives one).");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10), "How long to measure, after --warmup.");
ABSL_FLAG(int64_t, requests, 0, "If > 0: measure this many calls instead of --duration.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(1),
          "Calls started during this first stretch are checked but not measured.");
ABSL_FLAG(double, rate, 0,
          "Open loop: start calls at this fixed rate per second (latency counted from each "
          "call's intended start, so stalls are not hidden). 0 = closed loop.");
ABSL_FLAG(absl::Duration, call_timeout, absl::ZeroDuration(),
          "Deadline of each call; 0 = none (a deadline costs a timer per call).");
ABSL_FLAG(absl::Duration, drain_timeout, absl::Seconds(5),
          "After the run, how long in-flight calls may take before they are cancelled.");
ABSL_FLAG(absl::Duration, connect_timeout, absl::Seconds(10),
          "How long each connection may take to become ready at start.");
ABSL_FLAG(bool, direct_sockets, true,
          "Connect HOST:PORT targets with our own sockets and run each channel directly on its "
          "socket: no resolver, load balancer or retries per call, no reconnection (a lost "
          "connection fails its calls). Other target forms, and TLS, use gRPC's resolver.");
ABSL_FLAG(bool, tls, false, "Connect with TLS, verifying the server with the system's roots.");
ABSL_FLAG(std::string, tls_ca, "", "PEM root certificate(s) that sign the server's (implies --tls).");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM client certificate for servers that require mutual TLS (implies --tls).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the server's certificate must carry, instead of the target's host.");
ABSL_FLAG(std::string, token, "",
          "Write token for servers run with --auth-tokens, sent as metadata \"authorization: "
          "Bearer TOKEN\" on every call (books-insert and watch-fanout insert books).");
ABSL_FLAG(bool, cork, true,
          "With --direct_sockets: hold (TCP_CORK) the requests that one batch of completions "
          "starts and send them together at the end of the batch, as h2load and grpc-go write, "
          "instead of one packet per call.");
ABSL_FLAG(int, payload_bytes, 100, "capitalize: bytes of data per request.");
ABSL_FLAG(int, metrics, 1000,
          "detect: metrics per request. 1000 = the tutorial's own request (outliers at 7, 113, "
          "835); other sizes: seeded values in [0, 40) with three spikes.");
ABSL_FLAG(int, watchers, 100, "watch-fanout and mixed: Watch streams kept open during the run.");
ABSL_FLAG(std::string, watch_target, "",
          "watch-fanout and mixed: open the Watch streams on this HOST:PORT (--connections "
          "channels of their own) instead of --target, e.g. another replica sharing the store: "
          "delivery is then measured across replicas. Empty = --target.");
ABSL_FLAG(int, messages, 10, "stream-state: messages per client stream.");
ABSL_FLAG(std::string, mix, "",
          "mixed: comma-separated kind:weight, e.g. capitalize:3,detect:1. Empty = "
          "capitalize:30,detect:10,displacement:15,books-get:15,books-list:2,books-insert:5,"
          "get-users:10,stream-state:10,create-user:3. At most one create-user per thread is in "
          "flight (password hashing is deliberately slow).");
ABSL_FLAG(std::string, write_request, "",
          "Instead of running: write one gRPC-framed request of --scenario (capitalize or "
          "detect) to this file and print its method path, e.g. as a body for h2load -d.");
ABSL_FLAG(bool, json, false, "Print the report as one JSON object instead of the summary.");
ABSL_FLAG(bool, progress, true, "Print a progress line to stderr every second.");

namespace {

std::atomic<bool> interrupted{false};

// absl flag names cannot contain '-'; accept --payload-bytes as --payload_bytes.
void NormalizeFlagNames(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* a = argv[i];
    if (a[0] != '-' || a[1] != '-') continue;
    if (a[2] == '\0') break;  // "--": the rest are not flags
    for (char* c = a + 2; *c != '\0' && *c != '='; ++c) {
      if (*c == '-') *c = '_';
    }
  }
}

void OnSignal(int) { interrupted.store(true); }

}  // namespace

int main(int argc, char** argv) {
  constexpr char kUsage[] =
      "cqmux-load: asynchronous gRPC load generator for cqmux and compatible servers.\n"
      "  cqmux-load --target=127.0.0.1:50051 --scenario=capitalize --connections=4 "
      "--concurrency=100 --duration=10s\n"
      "Every answer is checked; wrong answers and each status code are counted apart. "
      "Flag names take - or _ alike (--payload-bytes = --payload_bytes).";
  if (cqmux::WantsHelp(argc, argv)) {
    cqmux::PrintFlagHelp(kUsage, "bench/load",
                         "\nExit status: 0 all calls right, 1 some failed, 2 could not run.\n");
    return 0;
  }
  absl::SetProgramUsageMessage(kUsage);
  // Debian's abseil is built without NDEBUG, so every absl::Mutex inside gRPC
  // runs deadlock detection: several percent of the client's CPU per call.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  NormalizeFlagNames(argc, argv);
  absl::ParseCommandLine(argc, argv);

  cqmux::load::Options o;
  o.target = absl::GetFlag(FLAGS_target);
  o.scenario = absl::GetFlag(FLAGS_scenario);
  o.connections = absl::GetFlag(FLAGS_connections);
  o.concurrency = absl::GetFlag(FLAGS_concurrency);
  o.threads = absl::GetFlag(FLAGS_threads);
  o.duration = absl::GetFlag(FLAGS_duration);
  o.requests = absl::GetFlag(FLAGS_requests);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.rate = absl::GetFlag(FLAGS_rate);
  o.call_timeout = absl::GetFlag(FLAGS_call_timeout);
  o.drain_timeout = absl::GetFlag(FLAGS_drain_timeout);
  o.connect_timeout = absl::GetFlag(FLAGS_connect_timeout);
  o.direct_sockets = absl::GetFlag(FLAGS_direct_sockets);
  o.cork = absl::GetFlag(FLAGS_cork);
  cqmux::client::TlsFlags tls;
  tls.tls = absl::GetFlag(FLAGS_tls);
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_key);
  tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  absl::StatusOr<cqmux::client::ChannelSecurity> security = cqmux::client::MakeChannelSecurity(tls);
  if (!security.ok()) {
    std::cerr << "cqmux-load: " << security.status().message() << "\n";
    return 2;
  }
  o.security = *std::move(security);
  o.token = absl::GetFlag(FLAGS_token);
  if (!o.token.empty()) {
    if (absl::Status ok = cqmux::client::CheckToken(o.token, "--token"); !ok.ok()) {
      std::cerr << "cqmux-load: " << ok.message() << "\n";
      return 2;
    }
  }
  o.payload_bytes = absl::GetFlag(FLAGS_payload_bytes);
  o.metrics = absl::GetFlag(FLAGS_metrics);
  o.watchers = absl::GetFlag(FLAGS_watchers);
  o.watch_target = absl::GetFlag(FLAGS_watch_target);
  o.messages = absl::GetFlag(FLAGS_messages);
  o.mix = absl::GetFlag(FLAGS_mix);
  o.progress = absl::GetFlag(FLAGS_progress);
  o.interrupt = &interrupted;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  if (const std::string path = absl::GetFlag(FLAGS_write_request); !path.empty()) {
    const auto kind = o.scenario == "capitalize" ? cqmux::load::Kind::kCapitalize
                      : o.scenario == "detect"   ? cqmux::load::Kind::kDetect
                                                 : cqmux::load::Kind::kDisplacement;
    auto framed = cqmux::load::FramedRequest(kind, o.payload_bytes, o.metrics);
    std::ofstream out(path, std::ios::binary);
    if (!framed.ok() || !(out << framed->first) || !out.flush()) {
      std::cerr << "cqmux-load: cannot write the request: "
                << (framed.ok() ? path : std::string(framed.status().message())) << "\n";
      return 2;
    }
    std::cout << framed->second << "\n";
    return 0;
  }
  absl::StatusOr<cqmux::load::Report> report = cqmux::load::Run(o);
  if (!report.ok()) {
    std::cerr << "cqmux-load: " << report.status().message() << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_json)) {
    std::cout << cqmux::load::ReportJson(*report) << "\n";
  } else {
    cqmux::load::PrintReport(*report, std::cout);
  }
  return report->clean() ? 0 : 1;
}
