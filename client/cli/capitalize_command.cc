// `cqmux capitalize`: rpc.Fetch/Capitalize, one-shot or the tutorial's loop.
#include <iostream>
#include <string>

#include "absl/strings/str_join.h"
#include "commands.h"
#include "defs.grpc.pb.h"
#include "json_output.h"

namespace cqmux::cli {
namespace {

grpc::Status Capitalize(rpc::Fetch::Stub& stub, const CallOptions& options,
                        const std::string& text, rpc::Payload* reply) {
  grpc::ClientContext context;
  PrepareContext(options, /*waits_for_events=*/false, &context);
  rpc::Payload request;
  request.set_data(text);
  return stub.Capitalize(&context, request, reply);
}

}  // namespace

int RunCapitalize(const CallOptions& options, const Args& args) {
  auto stub = rpc::Fetch::NewStub(MakeChannel(options));
  rpc::Payload reply;
  if (!args.empty()) {
    const grpc::Status status = Capitalize(*stub, options, absl::StrJoin(args, " "), &reply);
    if (!status.ok()) return ReportRpcError("Capitalize", status);
    if (options.json) {
      PrintMessage(reply, /*compact=*/true);
    } else {
      std::cout << reply.data() << '\n';
    }
    return kExitOk;
  }
  // The tutorial's client: "> " prompt, "< RESULT" and an empty line.
  std::string line;
  while (true) {
    if (!options.json) std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    const grpc::Status status = Capitalize(*stub, options, line, &reply);
    if (!status.ok()) return ReportRpcError("Capitalize", status);
    if (options.json) {
      PrintMessage(reply, /*compact=*/true);
    } else {
      std::cout << "< " << reply.data() << "\n\n";
    }
  }
  if (!options.json) std::cout << '\n';
  return kExitOk;
}

}  // namespace cqmux::cli
