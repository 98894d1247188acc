// The state machine of a server-streaming call. The handler's ServerStream is
// pulled one message at a time, so exactly one write is ever in flight; a
// stream with nothing to say waits for its Waker instead of polling. The done
// notification frees the stream as soon as the client cancels, disconnects or
// runs out of deadline.
#ifndef CQMUX_SERVER_ENGINE_SERVER_STREAM_CALL_H_
#define CQMUX_SERVER_ENGINE_SERVER_STREAM_CALL_H_

#include <memory>
#include <optional>
#include <utility>

#include <grpcpp/completion_queue.h>
#include <grpcpp/server_context.h>
#include <grpcpp/support/async_stream.h>

#include "server/engine/call_observer.h"
#include "server/engine/call_pool.h"
#include "server/engine/event.h"
#include "server/engine/handlers.h"
#include "server/engine/method_policy.h"
#include "server/engine/waker.h"

namespace cqmux {

template <class Base, class Req, class Resp>
using ServerStreamRequestFn =
    void (Base::*)(grpc::ServerContext*, Req*, grpc::ServerAsyncWriter<Resp>*,
                   grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);

template <class Base, class Req, class Resp>
struct ServerStreamSpec {
  Base* service;
  ServerStreamRequestFn<Base, Req, Resp> request;
  ServerStreamHandler<Req, Resp> handler;
  MethodPolicy policy;
};

template <class Base, class Req, class Resp>
class ServerStreamCall final : public EventHandler {
 public:
  using Spec = ServerStreamSpec<Base, Req, Resp>;
  using Step = typename ServerStream<Resp>::Step;

  explicit ServerStreamCall(CallPool<ServerStreamCall>* pool) : pool_(pool) {}

  void Request() {
    const Spec& spec = pool_->spec();
    context_.emplace();
    request_.emplace();
    response_.emplace();
    writer_.emplace(&*context_);
    context_->AsyncNotifyWhenDone(MakeTag(this, kDone));
    in_flight_ = 1;
    writing_ = finishing_ = detached_ = headers_sent_ = message_pending_ = false;
    grpc::ServerCompletionQueue* cq = pool_->queue()->cq();
    (spec.service->*spec.request)(&*context_, &*request_, &*writer_, cq, cq,
                                  MakeTag(this, kRequest));
  }

  void Reset() {
    stream_.reset();
    link_.reset();
    writer_.reset();
    response_.reset();
    request_.reset();
    context_.reset();
  }

  void OnEvent(uint8_t event, bool ok) override {
    // Alarms that fired before the call detached its link were never counted.
    if (event != kWake || detached_) --in_flight_;
    switch (event) {
      case kRequest:
        if (!ok) break;  // shutting down; the done tag will never come
        ++in_flight_;    // the done notification is armed now
        started_ = true;
        pool_->Started();
        pool_->PostRequest();
        observation_.Start(pool_->queue()->observer(), &pool_->info(), *context_);
        observation_.Received();
        link_ = std::make_shared<WakeLink>(pool_->queue(), this, kWake);
        if (grpc::Status too_large = CheckRequestSize(pool_->info(), *request_);
            !too_large.ok()) {
          Finish(too_large);  // the handler never sees it
          break;
        }
        if (grpc::Status admitted = pool_->spec().policy.Admit(Context());
            !admitted.ok()) {
          Finish(admitted);  // no stream was opened
          break;
        }
        stream_ = pool_->spec().handler(*request_, Context(), Waker(link_));
        Pump();
        break;
      case kWake:
        if (!detached_) {
          link_->OnAlarm();
          Pump();
        }
        break;
      case kWrite:
        writing_ = false;
        if (!ok) {
          stream_.reset();  // the stream is broken: stop producing
        } else if (std::exchange(message_pending_, false)) {
          observation_.Sent();
        }
        Pump();
        break;
      case kDone:
        if (context_->IsCancelled()) stream_.reset();  // free it right away
        Pump();
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
  enum : uint8_t { kRequest, kWrite, kFinish, kDone, kWake };

  CallContext Context() {
    return CallContext(&*context_, nullptr, observation_.events());
  }

  void Pump() {
    if (writing_ || finishing_) return;
    if (stream_ == nullptr) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "call cancelled"));
      return;
    }
    response_->Clear();
    grpc::Status status;
    switch (stream_->Next(&*response_, &status)) {
      case Step::kWrite:
        writing_ = true;
        message_pending_ = true;
        headers_sent_ = true;
        ++in_flight_;
        writer_->Write(*response_, MakeTag(this, kWrite));
        return;
      case Step::kWait:
        // A stream that has to wait (a watch) tells the client it is live by
        // sending its headers now; this counts as the one write in flight.
        if (!headers_sent_) {
          writing_ = true;
          headers_sent_ = true;
          ++in_flight_;
          writer_->SendInitialMetadata(MakeTag(this, kWrite));
        }
        return;
      case Step::kFinish:
        Finish(status);
        return;
    }
  }

  void Finish(const grpc::Status& status) {
    finishing_ = true;
    observation_.Finishing(status);
    stream_.reset();
    detached_ = true;
    if (link_->Detach()) ++in_flight_;  // wait for the pending alarm
    ++in_flight_;
    writer_->Finish(status, MakeTag(this, kFinish));
  }

  CallPool<ServerStreamCall>* const pool_;
  std::optional<grpc::ServerContext> context_;
  std::optional<Req> request_;
  std::optional<Resp> response_;
  std::optional<grpc::ServerAsyncWriter<Resp>> writer_;
  std::unique_ptr<ServerStream<Resp>> stream_;
  std::shared_ptr<WakeLink> link_;
  CallObservation observation_;
  int in_flight_ = 0;
  bool started_ = false;
  bool writing_ = false;
  bool finishing_ = false;
  bool detached_ = false;
  bool headers_sent_ = false;
  bool message_pending_ = false;  // the write in flight is a message
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_SERVER_STREAM_CALL_H_
