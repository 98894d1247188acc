// Cross-thread wake-ups for calls. A call never leaves its queue's thread, so
// whoever has news for it (a store publishing an insert, a worker finishing a
// slow handler) wakes it: an immediate grpc::Alarm on the call's own queue.
//
// The Waker handed out is a shared handle: it stays safe to call after the
// call has finished (it then does nothing), and at most one alarm per call is
// in flight however many threads wake it at once.
#ifndef CQMUX_SERVER_ENGINE_WAKER_H_
#define CQMUX_SERVER_ENGINE_WAKER_H_

#include <cstdint>
#include <memory>
#include <mutex>

#include <grpcpp/alarm.h>

#include "server/engine/event.h"

namespace cqmux {

class Queue;

// Whatever a Waker wakes: a gRPC call's WakeLink, or (server/gateway) an
// HTTP connection's stream. Wake() may be called from any thread, also after
// the call is over (it then does nothing).
class WakeTarget {
 public:
  virtual void Wake() = 0;

 protected:
  ~WakeTarget() = default;
};

// `final`: calls through a WakeLink itself (the engine's) are direct.
class WakeLink final : public WakeTarget {
 public:
  WakeLink(Queue* queue, EventHandler* target, uint8_t event);

  // Any thread. Sets the alarm unless one is already pending, the call has
  // detached, or the queue is closed.
  void Wake() override;

  // Queue thread, when the alarm event arrives: allows the next alarm.
  void OnAlarm();

  // Queue thread, when the call is done with waking. Returns true if an alarm
  // is still pending: the call must wait for that event before it is reused.
  bool Detach();

 private:
  Queue* const queue_;
  uint8_t const event_;
  std::mutex mu_;
  EventHandler* target_;  // null once detached
  bool armed_ = false;
  grpc::Alarm alarm_;
};

// The handle given to services.
class Waker {
 public:
  Waker() = default;
  explicit Waker(std::shared_ptr<WakeTarget> target)
      : target_(std::move(target)) {}
  void Wake() const {
    if (target_) target_->Wake();
  }

 private:
  std::shared_ptr<WakeTarget> target_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_WAKER_H_
