// What a handler may know about the call it serves, without seeing the
// completion-queue machinery (a gRPC call, or through CallBacking an HTTP
// request of server/gateway): client metadata, the peer, cancellation; and
// the one thing it may tell observers: events (e.g. "Data in", len=5).
#ifndef CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
#define CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_

#include <atomic>
#include <initializer_list>
#include <string>

#include <grpcpp/server_context.h>

#include "absl/strings/string_view.h"
#include "server/engine/call_observer.h"

namespace cqmux {

// A call that is not a gRPC call (an HTTP request served by server/gateway):
// whoever serves it provides what CallContext would otherwise read from the
// grpc::ServerContext. Any thread may call these while the call is open.
class CallBacking {
 public:
  // The first value of header/metadata `key` (lower case), or "".
  virtual absl::string_view Metadata(absl::string_view key) const = 0;
  virtual std::string Peer() const = 0;
  // False once the caller went away or its deadline passed.
  virtual bool Wanted() const = 0;

 protected:
  ~CallBacking() = default;
};

class CallContext {
 public:
  // A context with no call behind it, for handler unit tests.
  CallContext() = default;
  // `cancelled`, if given, is set (from the call's queue thread) once the
  // call was cancelled; handlers running off the queue thread read it.
  // `events`, if given, receives AddEvent()s (an observer's sampled span).
  explicit CallContext(const grpc::ServerContext* context,
                       const std::atomic<bool>* cancelled = nullptr,
                       CallEventSink* events = nullptr)
      : context_(context), cancelled_(cancelled), events_(events) {}
  // A call served by something other than gRPC. The gRPC path above never
  // touches `backing_`: its cost stays one null check in the rare accessors.
  explicit CallContext(const CallBacking* backing,
                       CallEventSink* events = nullptr)
      : backing_(backing), events_(events) {}

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

  // Records a named event with integer attributes on the call's trace, if
  // it is being traced; otherwise costs a null check. Build attributes only
  // here, in the call's argument list, so that an untraced call pays for
  // nothing else either.
  void AddEvent(absl::string_view name,
                std::initializer_list<EventAttribute> attributes = {}) const {
    if (events_ != nullptr) {
      events_->AddEvent(name, absl::Span<const EventAttribute>(
                                  attributes.begin(), attributes.size()));
    }
  }
  bool traced() const { return events_ != nullptr; }

 private:
  const grpc::ServerContext* context_ = nullptr;
  const std::atomic<bool>* cancelled_ = nullptr;
  const CallBacking* backing_ = nullptr;
  CallEventSink* events_ = nullptr;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CALL_CONTEXT_H_
