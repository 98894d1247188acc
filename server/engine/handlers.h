// The shapes of business logic the engine can serve. Services implement these
// and never see a completion queue; the engine's call templates drive them.
#ifndef CQMUX_SERVER_ENGINE_HANDLERS_H_
#define CQMUX_SERVER_ENGINE_HANDLERS_H_

#include <functional>
#include <memory>
#include <utility>

#include <grpcpp/support/status.h>

#include "server/engine/call_context.h"
#include "server/engine/waker.h"

namespace cqmux {

// Unary: fill *response, return the call's status. A non-OK status sends no
// response message.
template <class Req, class Resp>
using UnaryHandler =
    std::function<grpc::Status(const Req&, Resp*, const CallContext&)>;

// A quick check of a unary request, run on the queue thread before a slow
// (blocking) handler is queued: OK lets the handler run, anything else is the
// call's status.
template <class Req>
using UnaryCheck = std::function<grpc::Status(const Req&, const CallContext&)>;

// The producing side of a server stream. Next() is called on the call's queue
// thread, never while a write is in flight, so at most one write is pending.
template <class Resp>
class ServerStream {
 public:
  enum class Step {
    kWrite,   // *message is the next message to send
    kWait,    // nothing to send yet: call the Waker when there is
    kFinish,  // end the call with *status
  };
  virtual ~ServerStream() = default;
  virtual Step Next(Resp* message, grpc::Status* status) = 0;
};

// Opens a server stream for one call. The Waker may be kept and called from
// any thread; it is a no-op once the call is over.
template <class Req, class Resp>
using ServerStreamHandler = std::function<std::unique_ptr<ServerStream<Resp>>(
    const Req&, const CallContext&, Waker)>;

// A server stream from a function, for streams whose state fits a lambda.
template <class Resp>
class FunctionStream final : public ServerStream<Resp> {
 public:
  using Step = typename ServerStream<Resp>::Step;
  explicit FunctionStream(std::function<Step(Resp*, grpc::Status*)> next)
      : next_(std::move(next)) {}
  Step Next(Resp* message, grpc::Status* status) override {
    return next_(message, status);
  }

 private:
  std::function<Step(Resp*, grpc::Status*)> next_;
};

// The consuming side of a client stream: called once per message, then once
// when the client half-closes. A non-OK status from OnMessage ends the call.
// A stream that breaks (cancelled, deadline, disconnect) may look like a
// half-close at first; OnFinished says at the end whether the call really
// completed, so lasting effects (counting the stream) belong there.
template <class Req, class Resp>
class ClientStreamSink {
 public:
  virtual ~ClientStreamSink() = default;
  virtual grpc::Status OnMessage(const Req& message) = 0;
  virtual grpc::Status OnHalfClose(Resp* response) = 0;
  // Last call: `completed` is true when the client got the final status
  // (the call was neither cancelled nor broken).
  virtual void OnFinished(bool completed) { (void)completed; }
};

template <class Req, class Resp>
using ClientStreamHandler =
    std::function<std::unique_ptr<ClientStreamSink<Req, Resp>>(
        const CallContext&)>;

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_HANDLERS_H_
