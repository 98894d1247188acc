// Channel/context set-up and error reporting shared by every subcommand.
#include "call_options.h"

#include <iostream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cqmux::cli {

absl::StatusOr<std::pair<std::string, std::string>> ParseMetadata(absl::string_view kv) {
  const size_t eq = kv.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metadata wants key=value, got \"", kv, "\""));
  }
  return std::make_pair(absl::AsciiStrToLower(kv.substr(0, eq)),
                        std::string(kv.substr(eq + 1)));
}

std::shared_ptr<grpc::Channel> MakeChannel(const CallOptions& options) {
  if (!options.security.tls) {
    return grpc::CreateChannel(options.target, grpc::InsecureChannelCredentials());
  }
  grpc::ChannelArguments args;
  options.security.Apply(&args);
  return grpc::CreateCustomChannel(options.target, options.security.credentials, args);
}

void PrepareContext(const CallOptions& options, bool waits_for_events,
                    grpc::ClientContext* context) {
  for (const auto& [key, value] : options.metadata) context->AddMetadata(key, value);
  if (!options.token.empty()) {
    context->AddMetadata("authorization", client::BearerValue(options.token));
  }
  absl::Duration timeout = options.timeout;
  if (timeout == absl::ZeroDuration() && !waits_for_events) timeout = absl::Seconds(10);
  if (timeout > absl::ZeroDuration()) {
    context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  }
}

int ReportRpcError(absl::string_view action, const grpc::Status& status) {
  std::cerr << action << ": "
            << absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code()))
            << ": " << status.error_message() << std::endl;
  return kExitRpcError;
}

int ReportUsageError(absl::string_view message) {
  std::cerr << "cqmux: " << message << "\nRun 'cqmux --help' for usage." << std::endl;
  return kExitUsage;
}

}  // namespace cqmux::cli
