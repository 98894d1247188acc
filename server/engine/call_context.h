// What a handler may know about the call it serves, without seeing the
// completion-queue machinery: client metadata, the peer, cancellation.
#ifndef CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
#define CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_

#include <atomic>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/strings/string_view.h"

namespace cqmux {

class CallContext {
 public:
  // A context with no call behind it, for handler unit tests.
  CallContext() = default;
  // `cancelled`, if given, is set (from the call's queue thread) once the
  // call was cancelled; handlers running off the queue thread read it.
  explicit CallContext(const grpc::ServerContext* context,
                       const std::atomic<bool>* cancelled = nullptr)
      : context_(context), cancelled_(cancelled) {}

  // The first value the client sent for `key` (lower case), or "".
  absl::string_view Metadata(absl::string_view key) const;
  // e.g. "ipv4:127.0.0.1:53122"; "" without a call.
  std::string Peer() const;

  // Whether anybody still waits for this call's answer: false once its
  // deadline passed or (for calls served off the queue thread) it was
  // cancelled. A handler that is about to make a lasting change after slow
  // work (CreateUser after hashing) checks this last, so that a client told
  // DEADLINE_EXCEEDED does not find the change made anyway.
  bool Wanted() const;

 private:
  const grpc::ServerContext* context_ = nullptr;
  const std::atomic<bool>* cancelled_ = nullptr;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
