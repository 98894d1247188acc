// my_package.DisplacementService and my_package.RequestStreaming: the
// displacement tutorials' unary and client-streaming services.
#ifndef CQMUX_SERVER_SERVICES_DISPLACEMENT_DISPLACEMENT_SERVICE_H_
#define CQMUX_SERVER_SERVICES_DISPLACEMENT_DISPLACEMENT_SERVICE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <grpcpp/support/status.h>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "request_streaming.pb.h"
#include "server/engine/call_context.h"
#include "server/engine/handlers.h"
#include "unary.pb.h"

namespace cqmux {

class DisplacementService {
 public:
  // Euclidean distance between start and end, computed in double from the
  // exact integer differences (no int32 overflow), returned as float.
  grpc::Status ComputeDisplacement(const my_package::Displacement& request,
                                   my_package::DisplacementResponse* response,
                                   const CallContext& call);
};

// Longest Data.info stream_state accepts (bytes). The service only counts
// states and never keeps the text, but a client-controlled field gets a
// documented bound like every other.
inline constexpr size_t kMaxStateInfoBytes = 1024;

// Tallies of one stream_state call: messages per Status value; values outside
// the enum (proto3 enums are open) are counted as unrecognized.
struct StateCounts {
  std::array<uint64_t, 5> by_status{};
  uint64_t unrecognized = 0;
  uint64_t total() const;
};

class StateStreamService {
 public:
  // One sink per call: reads until the client half-closes, keeps only the
  // counts (constant memory), returns Empty. A message whose info is longer
  // than kMaxStateInfoBytes ends the call with INVALID_ARGUMENT (and its
  // counts are not added to the totals).
  std::unique_ptr<ClientStreamSink<my_package::Data, my_package::Empty>>
  OpenStateStream(const CallContext& call);

  // Counts from every completed stream, for tests and logs.
  StateCounts totals() const;
  // Waits until completed streams have counted at least `messages` messages,
  // or `timeout`; returns whether they had. A stream is counted once the
  // server saw it complete, which may be just after its client saw OK.
  bool AwaitTotal(uint64_t messages, absl::Duration timeout) const;

 private:
  class Sink;
  void Add(const StateCounts& counts);

  mutable absl::Mutex mu_;
  StateCounts totals_ ABSL_GUARDED_BY(mu_);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_DISPLACEMENT_DISPLACEMENT_SERVICE_H_
