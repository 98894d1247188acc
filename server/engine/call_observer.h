// How the engine lets observability see every call without services knowing:
// metrics, traces and access logs implement CallObserver; the call templates
// tell its per-queue half when a call starts, when a message is received or
// sent and when the call ends. Handlers may add events (the tutorial's
// "Data in") through their CallContext, which forwards them to the call's
// CallEventSink if an observer set one (a sampled span); otherwise an event
// costs a null check.
//
// Threading: a QueueObserver is created for one queue and called only from
// that queue's thread, so per-queue state needs no atomics that every call
// writes. The one exception is CallEventSink::AddEvent, which a handler
// running off the queue thread (a pool job) may call; the engine orders it
// with the call's other hooks (the job's wake-up), so a sink is never used
// by two threads at once.
#ifndef CQMUX_SERVER_ENGINE_CALL_OBSERVER_H_
#define CQMUX_SERVER_ENGINE_CALL_OBSERVER_H_

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/engine/method_info.h"

namespace cqmux {

// One attribute of a call event, e.g. {"len", 5}.
struct EventAttribute {
  absl::string_view key;
  int64_t value;
};

// Receives the events of one call (e.g. a span being recorded).
class CallEventSink {
 public:
  virtual void AddEvent(absl::string_view name,
                        absl::Span<const EventAttribute> attributes) = 0;

 protected:
  ~CallEventSink() = default;
};

// What the observers know of one call; lives in the call object, is reset
// for every call, and is passed to every hook of that call.
struct ObservedCall {
  const MethodInfo* method = nullptr;
  // absl::GetCurrentTimeNanos() when the call's request arrived.
  int64_t start_ns = 0;
  // Set by at most one observer in OnCallStart (the tracer, for a sampled
  // call) and owned by it until OnCallEnd; handlers' events go there.
  CallEventSink* events = nullptr;
};

// The observer's half on one queue; see the threading note above.
class QueueObserver {
 public:
  virtual ~QueueObserver() = default;
  // The call's request arrived (before any limit or policy check, so that
  // rejected calls are seen too). `context` gives metadata and the peer.
  virtual void OnCallStart(ObservedCall& call,
                           const grpc::ServerContext& context) = 0;
  virtual void OnMessageReceived(ObservedCall& call) = 0;
  virtual void OnMessageSent(ObservedCall& call) = 0;
  // The call has nothing in flight any more; `status` is the one it was
  // finished with (a broken stream's CANCELLED included). Last hook.
  virtual void OnCallEnd(ObservedCall& call, const grpc::Status& status) = 0;
  // Queue-level, with write coalescing on (Queue::RunBatched): the queue
  // thread handled `events` events in one drained batch. Without coalescing
  // every event is its own batch and this is not called.
  virtual void OnBatch(int events) { (void)events; }
};

class CallObserver {
 public:
  virtual ~CallObserver() = default;
  // Called by Engine::Start() once per queue, before any call. `methods`
  // are every bound method; MethodInfo::index is each one's position.
  virtual std::unique_ptr<QueueObserver> ForQueue(
      int queue_index, absl::Span<const MethodInfo* const> methods) = 0;
};

// One QueueObserver for several: each hook is passed on in order.
std::unique_ptr<QueueObserver> FanOut(
    std::vector<std::unique_ptr<QueueObserver>> observers);

// The call templates' side: a null observer is the unobserved call's fast
// path, a null check per hook.
class CallObservation {
 public:
  void Start(QueueObserver* observer, const MethodInfo* method,
             const grpc::ServerContext& context);
  void Received() {
    if (observer_ != nullptr) observer_->OnMessageReceived(call_);
  }
  void Sent() {
    if (observer_ != nullptr) observer_->OnMessageSent(call_);
  }
  // Remembers the status the call is finished with, for End().
  void Finishing(const grpc::Status& status) {
    if (observer_ != nullptr) status_ = status;
  }
  // Once per started call; forgets the call.
  void End() {
    if (observer_ == nullptr) return;
    observer_->OnCallEnd(call_, status_);
    observer_ = nullptr;
    call_ = ObservedCall();
    status_ = grpc::Status();
  }
  CallEventSink* events() const { return call_.events; }

 private:
  QueueObserver* observer_ = nullptr;
  ObservedCall call_;
  grpc::Status status_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CALL_OBSERVER_H_
