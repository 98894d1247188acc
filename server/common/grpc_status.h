// absl::Status -> grpc::Status. The canonical codes are numerically the same
// in both libraries, so the conversion is a cast plus the message.
#ifndef CQMUX_SERVER_COMMON_GRPC_STATUS_H_
#define CQMUX_SERVER_COMMON_GRPC_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace cqmux {

inline grpc::Status ToGrpcStatus(const absl::Status& status) {
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()),
                      std::string(status.message()));
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_COMMON_GRPC_STATUS_H_
