// What a handler may know about the call it serves, without seeing the
// completion-queue machinery: client metadata, the peer, cancellation.
#ifndef CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
#define CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_

#include <string>

#include <grpcpp/server_context.h>

#include "absl/strings/string_view.h"

namespace cqmux {

class CallContext {
 public:
  // A context with no call behind it, for handler unit tests.
  CallContext() = default;
  explicit CallContext(const grpc::ServerContext* context) : context_(context) {}

  // The first value the client sent for `key` (lower case), or "".
  absl::string_view Metadata(absl::string_view key) const;
  // e.g. "ipv4:127.0.0.1:53122"; "" without a call.
  std::string Peer() const;

 private:
  const grpc::ServerContext* context_ = nullptr;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
