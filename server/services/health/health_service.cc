// grpc.health.v1.Health on the engine; see health_service.h.
#include "server/services/health/health_service.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/common/quote.h"

namespace cqmux {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using Step = ServerStream<HealthCheckResponse>::Step;

namespace {

grpc::Status CheckServiceName(const std::string& service) {
  if (service.size() <= kMaxHealthServiceNameBytes) return grpc::Status::OK;
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("service name is longer than ",
                                   kMaxHealthServiceNameBytes, " bytes: ",
                                   QuoteInput(service)));
}

}  // namespace

class HealthService::WatchStream final : public ServerStream<HealthCheckResponse> {
 public:
  WatchStream(HealthService* health, std::string service, Waker waker)
      : health_(health), service_(std::move(service)), waker_(std::move(waker)) {
    absl::MutexLock lock(&health_->mu_);
    health_->watchers_.push_back(this);
  }
  ~WatchStream() override {
    absl::MutexLock lock(&health_->mu_);
    auto& all = health_->watchers_;
    all.erase(std::find(all.begin(), all.end(), this));
  }

  Step Next(HealthCheckResponse* message, grpc::Status* status) override {
    absl::MutexLock lock(&health_->mu_);
    const ServingStatus now = health_->StatusLocked(service_);
    if (!sent_any_ || now != last_sent_) {
      sent_any_ = true;
      last_sent_ = now;
      message->set_status(now);
      return Step::kWrite;
    }
    if (health_->shut_down_) {
      *status = grpc::Status::OK;
      return Step::kFinish;
    }
    return Step::kWait;
  }

  void Wake() const { waker_.Wake(); }

 private:
  HealthService* const health_;
  const std::string service_;
  const Waker waker_;
  bool sent_any_ = false;
  ServingStatus last_sent_ = HealthCheckResponse::UNKNOWN;
};

HealthService::ServingStatus HealthService::StatusLocked(
    const std::string& service) const {
  auto it = statuses_.find(service);
  return it == statuses_.end() ? HealthCheckResponse::SERVICE_UNKNOWN
                               : it->second;
}

void HealthService::WakeAllLocked() {
  for (WatchStream* watcher : watchers_) watcher->Wake();
}

void HealthService::SetStatus(const std::string& service, ServingStatus status) {
  absl::MutexLock lock(&mu_);
  if (draining_ || shut_down_) return;
  statuses_[service] = status;
  WakeAllLocked();
}

void HealthService::Drain() {
  absl::MutexLock lock(&mu_);
  draining_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  WakeAllLocked();
}

void HealthService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (auto& [name, status] : statuses_) status = HealthCheckResponse::NOT_SERVING;
  WakeAllLocked();
}

grpc::Status HealthService::Check(const HealthCheckRequest& request,
                                  HealthCheckResponse* response,
                                  const CallContext& /*call*/) {
  if (grpc::Status invalid = CheckServiceName(request.service()); !invalid.ok()) {
    return invalid;
  }
  absl::ReaderMutexLock lock(&mu_);
  const ServingStatus status = StatusLocked(request.service());
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("unknown service ",
                                     QuoteInput(request.service())));
  }
  response->set_status(status);
  return grpc::Status::OK;
}

std::unique_ptr<ServerStream<HealthCheckResponse>> HealthService::Watch(
    const HealthCheckRequest& request, const CallContext& /*call*/,
    Waker waker) {
  if (grpc::Status invalid = CheckServiceName(request.service()); !invalid.ok()) {
    return std::make_unique<FunctionStream<HealthCheckResponse>>(
        [invalid](HealthCheckResponse*, grpc::Status* status) {
          *status = invalid;
          return Step::kFinish;
        });
  }
  return std::make_unique<WatchStream>(this, request.service(), std::move(waker));
}

size_t HealthService::watcher_count() const {
  absl::ReaderMutexLock lock(&mu_);
  return watchers_.size();
}

}  // namespace cqmux
