// The state machine of a unary call: request -> size check -> handler ->
// Finish, then back to its pool. A handler marked blocking runs on the
// BlockingPool instead of the queue thread (after its optional check, which
// runs on the queue thread) and the call is woken back onto its queue to
// finish.
#ifndef CQMUX_SERVER_ENGINE_UNARY_CALL_H_
#define CQMUX_SERVER_ENGINE_UNARY_CALL_H_

#include <memory>
#include <optional>

#include <grpcpp/completion_queue.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/async_unary_call.h>

#include "server/engine/blocking_pool.h"
#include "server/engine/call_pool.h"
#include "server/engine/event.h"
#include "server/engine/handlers.h"
#include "server/engine/waker.h"

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
  BlockingPool* blocking;  // null: the handler runs on the queue thread
  // Blocking handlers only, may be empty: runs on the queue thread first; a
  // non-OK status ends the call without queueing it for the pool.
  UnaryCheck<Req> check;
};

template <class Base, class Req, class Resp>
class UnaryCall final : public EventHandler {
 public:
  using Spec = UnarySpec<Base, Req, Resp>;

  explicit UnaryCall(CallPool<UnaryCall>* pool) : pool_(pool) {}

  void Request() {
    const Spec& spec = pool_->spec();
    context_.emplace();
    request_.emplace();
    response_.emplace();
    responder_.emplace(&*context_);
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
    switch (event) {
      case kRequest:
        if (!ok) {  // the server is shutting down
          pool_->Recycle(this);
          return;
        }
        pool_->Started();
        pool_->PostRequest();
        if (grpc::Status too_large =
                CheckRequestSize(pool_->info(), *request_);
            !too_large.ok()) {
          Finish(too_large);
        } else if (pool_->spec().blocking == nullptr) {
          Finish(pool_->spec().handler(*request_, &*response_,
                                       CallContext(&*context_)));
        } else {
          RunBlocking();
        }
        return;
      case kWake:
        // The blocking handler is done; its status is ours to read now.
        link_->OnAlarm();
        link_->Detach();
        Finish(status_);
        return;
      case kFinish:
        pool_->Ended(this);
        return;
    }
  }

 private:
  enum : uint8_t { kRequest, kWake, kFinish };

  void RunBlocking() {
    if (const UnaryCheck<Req>& check = pool_->spec().check; check) {
      // Cheap validation stays on the queue thread: a request that is bound
      // to fail never waits for (or occupies) a worker.
      if (grpc::Status rejected = check(*request_, CallContext(&*context_));
          !rejected.ok()) {
        Finish(rejected);
        return;
      }
    }
    link_ = std::make_shared<WakeLink>(pool_->queue(), this, kWake);
    auto job = [this] {
      status_ = pool_->spec().handler(*request_, &*response_,
                                      CallContext(&*context_));
      link_->Wake();
    };
    if (!pool_->spec().blocking->Submit(job)) {
      link_.reset();
      Finish(grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                          "server busy: too many slow requests queued, retry"));
    }
  }

  void Finish(const grpc::Status& status) {
    if (status.ok()) {
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
  std::shared_ptr<WakeLink> link_;  // only while a blocking handler runs
  grpc::Status status_;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_UNARY_CALL_H_
