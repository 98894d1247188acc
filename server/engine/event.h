// How completion-queue tags are encoded: a pointer to the object that owns the
// operation, with the operation's kind in the low three bits. One object can
// have several operations in flight (a read, a write, the done notification,
// an alarm) without allocating a tag object for each.
#ifndef CQMUX_SERVER_ENGINE_EVENT_H_
#define CQMUX_SERVER_ENGINE_EVENT_H_

#include <cstdint>

namespace cqmux {

// Anything that receives completion-queue events. Objects with a vtable are at
// least 8-byte aligned, which leaves three tag bits free.
class EventHandler {
 public:
  virtual void OnEvent(uint8_t event, bool ok) = 0;

 protected:
  ~EventHandler() = default;
};

inline constexpr uintptr_t kEventBits = 7;

inline void* MakeTag(EventHandler* handler, uint8_t event) {
  return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(handler) | event);
}

inline void DispatchTag(void* tag, bool ok) {
  const uintptr_t bits = reinterpret_cast<uintptr_t>(tag);
  reinterpret_cast<EventHandler*>(bits & ~kEventBits)
      ->OnEvent(static_cast<uint8_t>(bits & kEventBits), ok);
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_EVENT_H_
