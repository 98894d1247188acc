// pb.Outliers/Detect, registered as a raw method: the handler reads the
// serialized OutliersRequest straight from gRPC's byte buffer (no Metric
// objects), runs the SIMD detector and writes the OutliersResponse bytes.
#ifndef CQMUX_SERVER_SERVICES_OUTLIERS_OUTLIERS_SERVICE_H_
#define CQMUX_SERVER_SERVICES_OUTLIERS_OUTLIERS_SERVICE_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

#include "server/engine/call_context.h"

namespace cqmux {

class OutliersService {
 public:
  static constexpr char kDetectMethod[] = "/pb.Outliers/Detect";

  // request: a serialized pb.OutliersRequest; response: a serialized
  // pb.OutliersResponse with the indices of the values farther than two
  // population standard deviations from the mean, exactly as numpy computes
  // them. Malformed bytes or a NaN/Inf value give INVALID_ARGUMENT (the
  // latter naming the first bad index). Thread-safe. A traced call gets the
  // event "outliers" with the number of metrics and of outliers.
  grpc::Status Detect(const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                      const CallContext& call = CallContext()) const;

  // The SIMD target the detector dispatches to on this CPU, for the log.
  static std::string SimdTarget();
};

// A serialized pb.OutliersResponse with these indices (packed field 1), as
// protobuf would write it; an empty buffer (one empty slice) for none.
grpc::ByteBuffer EncodeOutliersResponse(const int64_t* indices, size_t count);

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_OUTLIERS_OUTLIERS_SERVICE_H_
