// Per-(method, queue) owner of call objects. A finished call goes back to its
// pool and is reused for a later request on the same queue, so steady-state
// serving allocates no call objects; the idle list is capped so a burst does
// not leave memory behind. Only the queue's thread touches a pool.
#ifndef CQMUX_SERVER_ENGINE_CALL_POOL_H_
#define CQMUX_SERVER_ENGINE_CALL_POOL_H_

#include <cstddef>
#include <vector>

#include "server/engine/method_info.h"
#include "server/engine/queue.h"

namespace cqmux {

template <class Call>
class CallPool final : public CallPoolBase {
 public:
  using Spec = typename Call::Spec;

  CallPool(Queue* queue, const Spec* spec, const MethodInfo* info,
           size_t max_idle)
      : queue_(queue), spec_(spec), info_(info), max_idle_(max_idle) {}
  ~CallPool() override {
    for (Call* call : idle_) delete call;
  }

  Queue* queue() const { return queue_; }
  const Spec& spec() const { return *spec_; }
  const MethodInfo& info() const { return *info_; }

  void PostRequest() override {
    Call* call;
    if (idle_.empty()) {
      call = new Call(this);
    } else {
      call = idle_.back();
      idle_.pop_back();
    }
    if (queue_->IfAccepting([call] { call->Request(); })) {
      queue_->RequestPosted();
    } else {
      Recycle(call);
    }
  }

  // A posted request matched a call.
  void Started() {
    queue_->RequestReturned();
    queue_->CallStarted();
  }
  // A started call has nothing in flight any more.
  void Ended(Call* call) {
    queue_->CallEnded();
    Recycle(call);
  }
  // The call has nothing in flight any more. Not started: its request came
  // back unmatched (the server is shutting down).
  void Release(Call* call, bool started) {
    if (started) {
      Ended(call);
    } else {
      queue_->RequestReturned();
      Recycle(call);
    }
  }

  // A call object with nothing in flight (never started, or ended).
  void Recycle(Call* call) {
    if (idle_.size() < max_idle_) {
      call->Reset();
      idle_.push_back(call);
    } else {
      delete call;
    }
  }

 private:
  Queue* const queue_;
  const Spec* const spec_;
  const MethodInfo* const info_;
  const size_t max_idle_;
  std::vector<Call*> idle_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CALL_POOL_H_
