// The state machine of a unary call: request -> size check -> admission
// policy -> handler -> Finish, then back to its pool. A method bound with a pool (slow or heavy handlers) runs its
// handler there instead of on the queue thread, and the call is woken back
// onto its queue to finish; this is the engine's one way of doing work off the
// queue threads. A method bound with an asynchronous handler (AsyncUnary)
// parks the same way until the handler's UnaryDone wakes it, without a pool
// thread waiting in between.
#ifndef CQMUX_SERVER_ENGINE_UNARY_CALL_H_
#define CQMUX_SERVER_ENGINE_UNARY_CALL_H_

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include <grpcpp/completion_queue.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/async_unary_call.h>

#include "absl/time/clock.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/call_observer.h"
#include "server/engine/call_pool.h"
#include "server/engine/event.h"
#include "server/engine/handlers.h"
#include "server/engine/method_policy.h"
#include "server/engine/waker.h"
#include "server/common/log.h"

namespace cqmux {

template <class Base, class Req, class Resp>
using UnaryRequestFn = void (Base::*)(grpc::ServerContext*, Req*,
                                      grpc::ServerAsyncResponseWriter<Resp>*,
                                      grpc::CompletionQueue*,
                                      grpc::ServerCompletionQueue*, void*);

template <class Base, class Req, class Resp>
struct UnarySpec {
  Base* service;
  UnaryRequestFn<Base, Req, Resp> request;
  UnaryHandler<Req, Resp> handler;
  // Where the handler runs instead of the queue thread; null: on the queue
  // thread.
  BlockingPool* pool = nullptr;
  // Checks before the handler (e.g. a write token), on the queue thread.
  MethodPolicy policy = {};
  // With a pool: which requests go to it (null: every one); the others are
  // served on the queue thread.
  std::function<bool(const Req&)> offload_if = nullptr;
  // With a pool, may be empty: runs on the queue thread first; a non-OK
  // status ends the call without queueing it for the pool.
  UnaryCheck<Req> check = nullptr;
  // Set instead of `handler`: completes through a UnaryDone (with a pool:
  // started on a pool thread, which it leaves before completing).
  AsyncUnaryHandler<Req, Resp> async_handler = nullptr;
};

template <class Base, class Req, class Resp>
class UnaryCall final : public EventHandler, private UnaryCompletion {
 public:
  using Spec = UnarySpec<Base, Req, Resp>;

  explicit UnaryCall(CallPool<UnaryCall>* pool) : pool_(pool) {}

  void Request() {
    const Spec& spec = pool_->spec();
    context_.emplace();
    request_.emplace();
    response_.emplace();
    responder_.emplace(&*context_);
    cancelled_.store(false, std::memory_order_relaxed);
    in_flight_ = 1;
    // Off-queue work must learn of a cancellation (see RunOffQueue); the
    // done notification has to be armed before the call is requested.
    if (spec.pool != nullptr) context_->AsyncNotifyWhenDone(MakeTag(this, kDone));
    grpc::ServerCompletionQueue* cq = pool_->queue()->cq();
    (spec.service->*spec.request)(&*context_, &*request_, &*responder_, cq, cq,
                                  MakeTag(this, kRequest));
  }

  void Reset() {
    link_.reset();
    responder_.reset();
    response_.reset();
    request_.reset();
    context_.reset();
  }

  void OnEvent(uint8_t event, bool ok) override {
    --in_flight_;
    switch (event) {
      case kRequest: {
        if (!ok) break;  // shutting down; the done tag will never come
        const Spec& spec = pool_->spec();
        if (spec.pool != nullptr) ++in_flight_;  // the done notification
        started_ = true;
        pool_->Started();
        pool_->PostRequest();
        observation_.Start(pool_->queue()->observer(), &pool_->info(), *context_);
        observation_.Received();
        if (grpc::Status too_large = CheckRequestSize(pool_->info(), *request_);
            !too_large.ok()) {
          Finish(too_large);
        } else if (grpc::Status admitted = spec.policy.Admit(Context());
                   !admitted.ok()) {
          Finish(admitted);
        } else if (spec.pool != nullptr && (!spec.offload_if || spec.offload_if(*request_))) {
          RunOffQueue(spec.pool);
        } else if (spec.async_handler) {
          RunAsync();
        } else {
          Finish(spec.handler(*request_, &*response_, Context()));
        }
        break;
      }
      case kWake:
        // The off-queue job is done; its status is ours to read now.
        link_->OnAlarm();
        link_->Detach();
        Finish(status_);
        break;
      case kDone:
        // IsCancelled may only be asked once this tag arrived.
        if (context_->IsCancelled()) cancelled_.store(true, std::memory_order_release);
        break;
      case kFinish:
        break;
    }
    if (in_flight_ == 0) {
      observation_.End();
      pool_->Release(this, std::exchange(started_, false));
    }
  }

 private:
  enum : uint8_t { kRequest, kWake, kFinish, kDone };
  // Who finishes an asynchronous call: the handler's starter, if the
  // completion came before the starter returned, else the completion's wake.
  enum : int { kStarting, kCompletedEarly, kStarted, kCompleted };

  // UnaryDone's target: any thread, once.
  void Complete(grpc::Status status) override {
    // A handler that completes twice would race the finished call (or a
    // later call reusing this object): stop at the first sign of it rather
    // than corrupt memory.
    if (const int state = async_state_.load(std::memory_order_acquire);
        state == kCompletedEarly || state == kCompleted) {
      LogLine(LogLevel::kError, "bug: an asynchronous unary handler completed its call twice");
      std::abort();
    }
    status_ = std::move(status);
    int expected = kStarting;
    if (async_state_.compare_exchange_strong(expected, kCompletedEarly,
                                             std::memory_order_acq_rel)) {
      return;  // the starter is still in the handler and will finish
    }
    async_state_.store(kCompleted, std::memory_order_release);
    link_->Wake();
  }

  // Runs the asynchronous handler on the queue thread. The call stays alive
  // (its wake counted in flight) until the completion comes.
  //
  // The wake link (a grpc::Alarm and its allocation) is made only after the
  // handler returned without completing: a handler that answers inline (a
  // read from RAM) costs no more than a synchronous one. A completion that
  // comes before StartedAsync() never touches the link (it sees kStarting),
  // and one that comes after sees it: StartedAsync() publishes link_.
  void RunAsync() {
    ++in_flight_;  // the completion's wake
    async_state_.store(kStarting, std::memory_order_relaxed);
    pool_->spec().async_handler(*request_, &*response_, Context(), UnaryDone(this));
    if (async_state_.load(std::memory_order_acquire) == kStarting) {
      link_ = std::make_shared<WakeLink>(pool_->queue(), this, kWake);
      if (StartedAsync()) return;
      // Completed between the check and StartedAsync(): no wake was set.
      link_->Detach();
      link_.reset();
    }
    // Completed from within the handler: no wake was set.
    --in_flight_;
    Finish(status_);
  }

  // After the handler returned: false if it completed already (no wake
  // will come), true if the completion will wake the call.
  bool StartedAsync() {
    int expected = kStarting;
    return async_state_.compare_exchange_strong(expected, kStarted,
                                                std::memory_order_acq_rel);
  }

  CallContext Context(const std::atomic<bool>* cancelled = nullptr) {
    return CallContext(&*context_, cancelled, observation_.events());
  }

  // Hands the handler to `pool` and parks the call until the job wakes it.
  // The job runs the handler only if the call is still wanted when a thread
  // picks it up (not cancelled, deadline not passed), so a backlog never
  // works for clients that are gone, and a request the client was told
  // failed is never carried out. A job the pool drops (shutdown past its
  // grace period) completes the call without running.
  void RunOffQueue(BlockingPool* pool) {
    if (const UnaryCheck<Req>& check = pool_->spec().check; check) {
      // Cheap validation stays on the queue thread: a request that is bound
      // to fail never waits for (or occupies) a worker.
      if (grpc::Status rejected = check(*request_, Context());
          !rejected.ok()) {
        Finish(rejected);
        return;
      }
    }
    link_ = std::make_shared<WakeLink>(pool_->queue(), this, kWake);
    ++in_flight_;  // the job's wake
    // A traced call records how long it waited for a worker.
    const int64_t queued_ns =
        observation_.events() != nullptr ? absl::GetCurrentTimeNanos() : 0;
    auto job = [this, queued_ns](bool run) {
      if (!run) {
        status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE,
                               "server shutting down: the request was not processed");
      } else if (cancelled_.load(std::memory_order_acquire)) {
        status_ = grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled before it ran");
      } else if (!CallContext(&*context_).Wanted()) {
        status_ = grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                               "deadline passed while the request waited for a worker");
      } else {
        const CallContext context = Context(&cancelled_);
        if (queued_ns != 0) {
          context.AddEvent("worker started",
                           {{"queued_us", (absl::GetCurrentTimeNanos() - queued_ns) / 1000}});
        }
        if (pool_->spec().async_handler) {
          // The handler leaves this thread before its answer is ready (e.g.
          // a hash computed here, then a write waiting for its group
          // commit): the completion wakes the call, unless it came before
          // the handler returned.
          async_state_.store(kStarting, std::memory_order_relaxed);
          pool_->spec().async_handler(*request_, &*response_, context, UnaryDone(this));
          if (StartedAsync()) return;
        } else {
          status_ = pool_->spec().handler(*request_, &*response_, context);
        }
      }
      link_->Wake();
    };
    if (!pool->Submit(std::move(job))) {
      --in_flight_;
      link_.reset();
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "server busy: too many slow requests queued for the " +
                              pool->name() + " pool, retry"));
    }
  }

  void Finish(const grpc::Status& status) {
    ++in_flight_;
    observation_.Finishing(status);
    if (status.ok()) {
      observation_.Sent();
      responder_->Finish(*response_, status, MakeTag(this, kFinish));
    } else {
      responder_->FinishWithError(status, MakeTag(this, kFinish));
    }
  }

  CallPool<UnaryCall>* const pool_;
  std::optional<grpc::ServerContext> context_;
  std::optional<Req> request_;
  std::optional<Resp> response_;
  std::optional<grpc::ServerAsyncResponseWriter<Resp>> responder_;
  std::shared_ptr<WakeLink> link_;  // only while an off-queue job or async handler is pending
  grpc::Status status_;             // written by the job, read after its wake
  std::atomic<int> async_state_{kStarting};
  std::atomic<bool> cancelled_{false};
  CallObservation observation_;
  int in_flight_ = 0;
  bool started_ = false;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_UNARY_CALL_H_
