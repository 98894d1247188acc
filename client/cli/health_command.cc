// `cqmux health [SERVICE]`: grpc.health.v1.Health/Check.
#include <iostream>

#include "commands.h"
#include "health.grpc.pb.h"
#include "json_output.h"

namespace cqmux::cli {

int RunHealth(const CallOptions& options, const Args& args) {
  if (args.size() > 1) return ReportUsageError("usage: cqmux health [SERVICE]");
  grpc::health::v1::HealthCheckRequest request;
  if (!args.empty()) request.set_service(args[0]);
  auto stub = grpc::health::v1::Health::NewStub(MakeChannel(options));
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  grpc::health::v1::HealthCheckResponse reply;
  const grpc::Status status = stub->Check(&context, request, &reply);
  if (!status.ok()) {
    return ReportRpcError("Health check (" + request.service() + ")", status);
  }
  if (options.json) {
    PrintMessage(reply, true);
  } else {
    std::cout << grpc::health::v1::HealthCheckResponse::ServingStatus_Name(reply.status())
              << '\n';
  }
  return reply.status() == grpc::health::v1::HealthCheckResponse::SERVING ? kExitOk
                                                                          : kExitRpcError;
}

}  // namespace cqmux::cli
