// grpc.health.v1.Health served from the engine's own queues. gRPC's built-in
// health service is a callback-API service, and registering any callback
// service in gRPC 1.51 starts extra threads that poll the same sockets as the
// queue threads: on one core it halved unary throughput (BENCHMARKS.md).
//
// Semantics follow the gRPC health-checking protocol: Check answers the
// current status or NOT_FOUND; Watch sends the current status (SERVICE_UNKNOWN
// for an unknown name) and then every change, and ends with the last status
// when the server shuts down.
#ifndef CQMUX_SERVER_SERVICES_HEALTH_HEALTH_SERVICE_H_
#define CQMUX_SERVER_SERVICES_HEALTH_HEALTH_SERVICE_H_

#include <memory>
#include <string>
#include <vector>

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "health.pb.h"
#include "server/engine/call_context.h"
#include "server/engine/handlers.h"

namespace cqmux {

// Longest service name Check and Watch accept (bytes); longer names are
// INVALID_ARGUMENT. A watch keeps its name for its whole life, so this bounds
// what each open watch holds.
inline constexpr size_t kMaxHealthServiceNameBytes = 256;

class HealthService {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Any thread. "" is the server as a whole.
  void SetStatus(const std::string& service, ServingStatus status);
  // Draining (shutdown is coming, calls are still served): everything
  // NOT_SERVING from now on, so that load balancers and health-checking
  // clients move away; open watches are told and stay open. Later SetStatus
  // calls are ignored.
  void Drain();
  // Shutdown: everything NOT_SERVING from now on, and open watches end after
  // sending it. Later SetStatus calls are ignored.
  void Shutdown();

  grpc::Status Check(const grpc::health::v1::HealthCheckRequest& request,
                     grpc::health::v1::HealthCheckResponse* response,
                     const CallContext& call);
  std::unique_ptr<ServerStream<grpc::health::v1::HealthCheckResponse>> Watch(
      const grpc::health::v1::HealthCheckRequest& request,
      const CallContext& call, Waker waker);

  size_t watcher_count() const;

 private:
  class WatchStream;

  // SERVICE_UNKNOWN for a name never set.
  ServingStatus StatusLocked(const std::string& service) const
      ABSL_SHARED_LOCKS_REQUIRED(mu_);
  void WakeAllLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, ServingStatus> statuses_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  // Open watches; a stream removes itself when the engine destroys it.
  std::vector<WatchStream*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_HEALTH_HEALTH_SERVICE_H_
