// gRPC status codes as HTTP statuses, the way grpc-gateway's runtime maps
// them (runtime/errors.go, HTTPStatusFromCode), and the JSON error body
// {"code": <grpc code>, "message": "..."} every failed route answers with.
#ifndef CQMUX_SERVER_GATEWAY_HTTP_STATUS_H_
#define CQMUX_SERVER_GATEWAY_HTTP_STATUS_H_

#include <string>

#include <grpcpp/support/status.h>

#include "server/gateway/exchange.h"

namespace cqmux::gateway {

int HttpStatusFromCode(grpc::StatusCode code);

// {"code":5,"message":"..."}: the message JSON-escaped.
std::string ErrorJson(const grpc::Status& status);

// The reply for a failed call: mapped status, ErrorJson body.
HttpReply ErrorReply(const grpc::Status& status);

}  // namespace cqmux::gateway

#endif  // CQMUX_SERVER_GATEWAY_HTTP_STATUS_H_
