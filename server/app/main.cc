// cqmux-server: parse flags, serve every service, shut down gracefully on
// SIGINT/SIGTERM and exit 0.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/app/flags.h"
#include "server/app/server_app.h"
#include "server/common/log.h"

int main(int argc, char** argv) {
  // Debian builds abseil without NDEBUG, which turns on absl::Mutex deadlock
  // detection: measurable on the hot path (6-8% of a unary call), and our lock
  // order is flat. Off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  cqmux::ServerConfig config = cqmux::ParseServerFlags(argc, argv);

  // Every thread started from here on inherits the blocked set, so the
  // signals are delivered only to sigwait below.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  absl::StatusOr<std::unique_ptr<cqmux::ServerApp>> app =
      cqmux::ServerApp::Create(config);
  if (!app.ok()) {
    std::fprintf(stderr, "cqmux-server: %s\n", app.status().ToString().c_str());
    return 1;
  }
  if (absl::Status started = (*app)->Start(); !started.ok()) {
    std::fprintf(stderr, "cqmux-server: %s\n", std::string(started.message()).c_str());
    return 1;
  }
  cqmux::Engine& engine = (*app)->engine();
  cqmux::Log(cqmux::LogLevel::kInfo,
             "cqmux-server listening on %s (ports %s), %s, %s, %d queues%s, "
             "simd %s, services: %s",
             absl::StrJoin(config.engine.listen, " "),
             absl::StrJoin(engine.ports(), " "), cqmux::TlsMode(config.tls),
             config.write_tokens == nullptr
                 ? std::string("writes open")
                 : absl::StrCat("writes need a token (",
                                config.write_tokens->size(), " accepted)"),
             engine.num_queues(),
             config.engine.pin_threads ? " (pinned)" : "",
             cqmux::OutliersService::SimdTarget(),
             absl::StrJoin(engine.service_names(), " "));
  if (cqmux::gateway::HttpGateway* http = (*app)->http_gateway(); http != nullptr) {
    // Tests started with --http-listen=HOST:0 read the port from this line.
    cqmux::Log(cqmux::LogLevel::kInfo,
               "http gateway listening on %s (port %d), %s, %d threads", config.http.listen,
               http->port(), config.tls.enabled() ? "https" : "http", config.http.threads);
  }
  // The limits a client can run into, the computed memory quota included.
  cqmux::Log(cqmux::LogLevel::kInfo,
             "limits: requests up to %d bytes (Detect %d), %d streams per "
             "connection, memory quota %d MiB, idle %s, age %s + grace %s",
             config.engine.max_message_bytes, config.max_detect_message_bytes,
             config.engine.max_concurrent_streams,
             config.engine.memory_quota_bytes >> 20,
             absl::FormatDuration(config.engine.max_connection_idle),
             absl::FormatDuration(config.engine.max_connection_age),
             absl::FormatDuration(config.engine.max_connection_age_grace));

  if (cqmux::Metrics* metrics = (*app)->metrics()) {
    // The port bound, which differs from the flag's with port 0.
    const size_t colon = config.metrics_listen.rfind(':');
    const std::string host = colon == std::string::npos
                                 ? std::string("0.0.0.0")
                                 : config.metrics_listen.substr(0, colon);
    cqmux::Log(cqmux::LogLevel::kInfo, "metrics at http://%s:%d/metrics",
               host, metrics->port());
  } else {
    cqmux::Log(cqmux::LogLevel::kInfo, "metrics off (--metrics-listen is empty)");
  }
  if (!config.tracing.otlp_endpoint.empty()) {
    cqmux::Log(cqmux::LogLevel::kInfo,
               "tracing: OTLP/HTTP to %s, service.name %s, sample ratio %g of root calls",
               config.tracing.otlp_endpoint, config.tracing.service_name,
               config.tracing.sample_ratio);
  }

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  cqmux::Log(cqmux::LogLevel::kInfo,
             "%s received: shutting down (drain %s, grace %s)", strsignal(signal_number),
             absl::FormatDuration(config.engine.drain_delay),
             absl::FormatDuration(config.engine.shutdown_grace));
  // A second signal ends the drain delay at once (an operator in a hurry).
  std::atomic<bool> done{false};
  std::thread second_signal([&] {
    const timespec poll = {0, 100 * 1000 * 1000};
    while (!done.load()) {
      if (sigtimedwait(&signals, nullptr, &poll) > 0) {
        cqmux::Log(cqmux::LogLevel::kInfo, "second signal: drain delay ended");
        engine.EndDrain();
      }
    }
  });
  (*app)->Shutdown();
  if (const cqmux::tracing::Tracer* tracer = (*app)->tracer(); tracer != nullptr) {
    cqmux::Log(cqmux::LogLevel::kInfo, "traces: %d spans exported, %d dropped",
               tracer->spans_exported(), tracer->spans_dropped());
  }
  done = true;
  second_signal.join();
  cqmux::Log(cqmux::LogLevel::kInfo, "shutdown complete");
  return 0;
}
