// What every subcommand of the cqmux CLI shares: the global flags turned into
// call options, channel and context set-up, and uniform error reporting.
#ifndef CQMUX_CLIENT_CLI_CALL_OPTIONS_H_
#define CQMUX_CLIENT_CLI_CALL_OPTIONS_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "channel_security.h"

namespace cqmux::cli {

// Exit codes: 0 success, 1 the call failed (or health is not SERVING),
// 2 the command line was wrong.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRpcError = 1;
inline constexpr int kExitUsage = 2;

struct CallOptions {
  std::string target = "localhost:50051";
  // Zero means "the command's default": 10s for calls that answer at once,
  // no deadline for `books watch`.
  absl::Duration timeout = absl::ZeroDuration();
  std::vector<std::pair<std::string, std::string>> metadata;
  bool json = false;
  // --tls and friends: plaintext unless set.
  client::ChannelSecurity security;
  // Sent as "authorization: Bearer <token>" on every call when not empty.
  std::string token;
};

// Parses one --metadata value, "key=value". Keys are lower-cased as gRPC
// requires; an empty key or a missing '=' is an error.
absl::StatusOr<std::pair<std::string, std::string>> ParseMetadata(absl::string_view kv);

std::shared_ptr<grpc::Channel> MakeChannel(const CallOptions& options);

// Applies metadata, the token and the deadline. `waits_for_events` marks calls whose
// length depends on other clients (watch): they get no default deadline.
void PrepareContext(const CallOptions& options, bool waits_for_events,
                    grpc::ClientContext* context);

// Prints "ACTION: CODE: message" to stderr and returns kExitRpcError.
int ReportRpcError(absl::string_view action, const grpc::Status& status);

// Prints "cqmux: message" (and a hint) to stderr and returns kExitUsage.
int ReportUsageError(absl::string_view message);

}  // namespace cqmux::cli

#endif  // CQMUX_CLIENT_CLI_CALL_OPTIONS_H_
