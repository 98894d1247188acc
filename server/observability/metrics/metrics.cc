// The collector that turns per-queue counters, callbacks and /proc into
// metric families, and the exposer around it; see metrics.h.
#include "server/observability/metrics/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include <prometheus/check_names.h>
#include <prometheus/collectable.h>
#include <prometheus/exposer.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/observability/metrics/grpc_metrics.h"
#include "server/observability/metrics/process_metrics.h"

namespace cqmux {
namespace {

struct Callback {
  std::string name;
  std::string help;
  bool counter;
  Metrics::SamplesFn samples;
};

// Why `address` cannot be bound, found by trying the same bind ourselves:
// civetweb only says that it failed.
std::string BindFailure(const std::string& address) {
  absl::string_view host = address;
  absl::string_view port_text;
  const size_t colon = host.rfind(':');
  if (colon == absl::string_view::npos) {
    port_text = host;
    host = "0.0.0.0";
  } else {
    port_text = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  int port = 0;
  if (!absl::SimpleAtoi(port_text, &port) || port < 0 || port > 65535) {
    return "not HOST:PORT";
  }
  const bool v6 = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (v6) host = host.substr(1, host.size() - 2);
  sockaddr_storage storage = {};
  socklen_t length = 0;
  const std::string host_string(host);
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host_string.c_str(), &a->sin6_addr) != 1) {
      return "HOST must be an IP address";
    }
    length = sizeof(*a);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host_string.c_str(), &a->sin_addr) != 1) {
      return "HOST must be an IP address";
    }
    length = sizeof(*a);
  }
  const int fd = socket(storage.ss_family, SOCK_STREAM, 0);
  if (fd < 0) return strerror(errno);
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  std::string reason = "the listener could not be started";
  if (bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      listen(fd, 1) != 0) {
    reason = strerror(errno);
  }
  close(fd);
  return reason;
}

}  // namespace

class Metrics::Collector final : public prometheus::Collectable {
 public:
  explicit Collector(std::shared_ptr<GrpcMetrics> grpc) : grpc_(std::move(grpc)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<prometheus::MetricFamily> families;
    grpc_->Collect(&families);
    {
      absl::MutexLock lock(&mu_);
      for (const Callback& c : callbacks_) {
        prometheus::MetricFamily family;
        family.name = c.name;
        family.help = c.help;
        family.type = c.counter ? prometheus::MetricType::Counter
                                : prometheus::MetricType::Gauge;
        for (Sample& s : c.samples()) {
          prometheus::ClientMetric metric;
          for (auto& [name, value] : s.labels) {
            metric.label.push_back({std::move(name), std::move(value)});
          }
          (c.counter ? metric.counter.value : metric.gauge.value) = s.value;
          family.metric.push_back(std::move(metric));
        }
        families.push_back(std::move(family));
      }
    }
    CollectProcessMetrics(&families);
    return families;
  }

  void Add(Callback callback) {
    absl::MutexLock lock(&mu_);
    for (const Callback& c : callbacks_) {
      if (c.name == callback.name) {
        std::fprintf(stderr, "cqmux metrics: %s registered twice\n", c.name.c_str());
        std::abort();
      }
    }
    callbacks_.push_back(std::move(callback));
  }

 private:
  const std::shared_ptr<GrpcMetrics> grpc_;
  mutable absl::Mutex mu_;  // registration and scrapes only
  std::vector<Callback> callbacks_ ABSL_GUARDED_BY(mu_);
};

Metrics::Metrics()
    : grpc_(std::make_shared<GrpcMetrics>()),
      collector_(std::make_shared<Collector>(grpc_)) {}

Metrics::~Metrics() { Stop(); }

std::shared_ptr<CallObserver> Metrics::call_observer() const { return grpc_; }

void Metrics::AddCallback(std::string name, std::string help, bool counter,
                          SamplesFn samples) {
  if (!prometheus::CheckMetricName(name) || samples == nullptr) {
    std::fprintf(stderr, "cqmux metrics: invalid metric name \"%s\" or no callback\n",
                 name.c_str());
    std::abort();
  }
  collector_->Add(Callback{std::move(name), std::move(help), counter, std::move(samples)});
}

void Metrics::AddCounterCallback(std::string name, std::string help, ValueFn value) {
  AddCallback(std::move(name), std::move(help), true,
              [value = std::move(value)] { return std::vector<Sample>{{{}, value()}}; });
}

void Metrics::AddGaugeCallback(std::string name, std::string help, ValueFn value) {
  AddCallback(std::move(name), std::move(help), false,
              [value = std::move(value)] { return std::vector<Sample>{{{}, value()}}; });
}

void Metrics::AddCounterCallback(std::string name, std::string help, SamplesFn samples) {
  AddCallback(std::move(name), std::move(help), true, std::move(samples));
}

void Metrics::AddGaugeCallback(std::string name, std::string help, SamplesFn samples) {
  AddCallback(std::move(name), std::move(help), false, std::move(samples));
}

absl::Status Metrics::Listen(const std::string& address) {
  if (exposer_ != nullptr) return absl::FailedPreconditionError("already listening");
  try {
    // One thread answers scrapes; a second keeps a slow client from
    // holding up Prometheus.
    exposer_ = std::make_unique<prometheus::Exposer>(address, 2);
  } catch (const std::exception&) {
    return absl::UnavailableError(absl::StrCat(
        "cannot serve metrics on ", address, " (--metrics-listen): ",
        BindFailure(address)));
  }
  const std::vector<int> ports = exposer_->GetListeningPorts();
  port_ = ports.empty() ? 0 : ports.front();
  if (published_) exposer_->RegisterCollectable(collector_);
  return absl::OkStatus();
}

void Metrics::Publish() {
  if (published_) return;
  published_ = true;
  if (exposer_ != nullptr) exposer_->RegisterCollectable(collector_);
}

void Metrics::BeginStop() {
  if (exposer_ == nullptr || stopping_.joinable()) return;
  stopping_ = std::thread([exposer = std::move(exposer_)]() mutable { exposer.reset(); });
}

void Metrics::Stop() {
  if (stopping_.joinable()) stopping_.join();
  exposer_.reset();
}

std::string Metrics::Text() const {
  return prometheus::TextSerializer().Serialize(collector_->Collect());
}

}  // namespace cqmux
