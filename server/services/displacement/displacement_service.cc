// Displacement and request-streaming services; see displacement_service.h.
#include "server/services/displacement/displacement_service.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/common/log.h"
#include "server/common/quote.h"

namespace cqmux {

grpc::Status DisplacementService::ComputeDisplacement(
    const my_package::Displacement& request,
    my_package::DisplacementResponse* response, const CallContext& /*call*/) {
  // int32 differences need 33 bits; doubles hold them exactly.
  const double dx = static_cast<double>(request.end().x()) - request.start().x();
  const double dy = static_cast<double>(request.end().y()) - request.start().y();
  response->set_distance(static_cast<float>(std::hypot(dx, dy)));
  return grpc::Status::OK;
}

uint64_t StateCounts::total() const {
  uint64_t sum = unrecognized;
  for (uint64_t n : by_status) sum += n;
  return sum;
}

class StateStreamService::Sink final
    : public ClientStreamSink<my_package::Data, my_package::Empty> {
 public:
  explicit Sink(StateStreamService* service) : service_(service) {}

  grpc::Status OnMessage(const my_package::Data& message) override {
    if (message.info().size() > kMaxStateInfoBytes) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("info of message #", counts_.total() + 1,
                       " is longer than ", kMaxStateInfoBytes, " bytes: ",
                       QuoteInput(message.info())));
    }
    const int status = message.status();
    if (status >= 0 && status < static_cast<int>(counts_.by_status.size())) {
      ++counts_.by_status[static_cast<size_t>(status)];
    } else {
      ++counts_.unrecognized;
    }
    return grpc::Status::OK;
  }

  grpc::Status OnHalfClose(my_package::Empty* /*response*/) override {
    return grpc::Status::OK;
  }

  // Only a stream the client completed counts; a cancelled one is dropped.
  void OnFinished(bool completed) override {
    Log(LogLevel::kDebug,
        "stream_state %s: %d messages (UNKNOWN %d OK %d THIRSTY %d STARVED %d "
        "TIRED %d unrecognized %d)",
        completed ? "completed" : "cancelled, not counted", counts_.total(),
        counts_.by_status[0], counts_.by_status[1], counts_.by_status[2],
        counts_.by_status[3], counts_.by_status[4], counts_.unrecognized);
    if (completed) service_->Add(counts_);
  }

 private:
  StateStreamService* const service_;
  StateCounts counts_;
};

std::unique_ptr<ClientStreamSink<my_package::Data, my_package::Empty>>
StateStreamService::OpenStateStream(const CallContext& /*call*/) {
  return std::make_unique<Sink>(this);
}

StateCounts StateStreamService::totals() const {
  absl::MutexLock lock(&mu_);
  return totals_;
}

bool StateStreamService::AwaitTotal(uint64_t messages, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [this, messages]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return totals_.total() >= messages;
  };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

void StateStreamService::Add(const StateCounts& counts) {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < counts.by_status.size(); ++i) {
    totals_.by_status[i] += counts.by_status[i];
  }
  totals_.unrecognized += counts.unrecognized;
}

}  // namespace cqmux
