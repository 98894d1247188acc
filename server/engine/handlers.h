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

// How an asynchronous unary handler completes its call: exactly once, from
// any thread, with the call's status, after the response is filled (it is
// sent as it is then). The handler may return long before that: while the
// answer is pending (e.g. a write waiting for its group commit) no thread is
// held, and the call stays alive on its queue until the completion arrives,
// so its queue cannot shut down under it. Calling it again, or never, is a
// bug: the call would never end and shutdown would wait for it forever.
class UnaryCompletion {
 public:
  virtual void Complete(grpc::Status status) = 0;

 protected:
  ~UnaryCompletion() = default;
};

class UnaryDone {
 public:
  UnaryDone() = default;
  explicit UnaryDone(UnaryCompletion* target) : target_(target) {}
  void operator()(grpc::Status status) const { target_->Complete(std::move(status)); }

  // For tests and adapters: a completion that runs `f` (on the completing
  // thread) and frees itself.
  static UnaryDone FromFunction(std::function<void(grpc::Status)> f) {
    struct Once final : UnaryCompletion {
      explicit Once(std::function<void(grpc::Status)> f) : f_(std::move(f)) {}
      void Complete(grpc::Status status) override {
        std::function<void(grpc::Status)> f = std::move(f_);
        delete this;
        f(std::move(status));
      }
      std::function<void(grpc::Status)> f_;
    };
    return UnaryDone(new Once(std::move(f)));
  }

 private:
  UnaryCompletion* target_ = nullptr;
};

// Asynchronous unary: start the work and return; `done` completes the call
// later (or right away, from within the handler: the engine then finishes
// the call without a wake-up round trip).
template <class Req, class Resp>
using AsyncUnaryHandler =
    std::function<void(const Req&, Resp*, const CallContext&, UnaryDone)>;

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
