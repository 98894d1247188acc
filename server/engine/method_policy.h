// What a method's registration line may add to its handler, enforced by the
// engine's call templates so that handlers never see it:
//
//   engine.AddService<books::BookService>()
//       .Unary(&Books::RequestGet, get_handler)                // open
//       .Unary(&Books::RequestInsert, insert_handler, writes); // admitted by `writes`
//
// A policy is an attribute of the method, fixed at registration; the engine
// knows nothing about what a check checks (tokens, peers, ...).
#ifndef CQMUX_SERVER_ENGINE_METHOD_POLICY_H_
#define CQMUX_SERVER_ENGINE_METHOD_POLICY_H_

#include <functional>

#include <grpcpp/support/status.h>

#include "server/engine/call_context.h"

namespace cqmux {

// Decides whether a call may reach its handler. Called on the call's queue
// thread as soon as the call has arrived (client metadata is there, the
// request message of a unary or server-streaming call too, but it is not
// shown to the check), before the handler runs and before a blocking handler
// is queued. A non-OK status ends the call with that status at once; the
// handler never runs. It must be cheap and must not block.
using AdmissionCheck = std::function<grpc::Status(const CallContext&)>;

struct MethodPolicy {
  AdmissionCheck admit;  // null: every call is admitted

  grpc::Status Admit(const CallContext& call) const {
    return admit ? admit(call) : grpc::Status::OK;
  }
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_METHOD_POLICY_H_
