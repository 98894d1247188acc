// The state machine of a client-streaming call: one Read in flight at a time,
// each message handed to the handler's sink and then discarded (the message
// object is reused), so memory does not grow with the stream's length.
#ifndef CQMUX_SERVER_ENGINE_CLIENT_STREAM_CALL_H_
#define CQMUX_SERVER_ENGINE_CLIENT_STREAM_CALL_H_

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

namespace cqmux {

template <class Base, class Req, class Resp>
using ClientStreamRequestFn = void (Base::*)(
    grpc::ServerContext*, grpc::ServerAsyncReader<Resp, Req>*,
    grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*);

template <class Base, class Req, class Resp>
struct ClientStreamSpec {
  Base* service;
  ClientStreamRequestFn<Base, Req, Resp> request;
  ClientStreamHandler<Req, Resp> handler;
  MethodPolicy policy;
};

template <class Base, class Req, class Resp>
class ClientStreamCall final : public EventHandler {
 public:
  using Spec = ClientStreamSpec<Base, Req, Resp>;

  explicit ClientStreamCall(CallPool<ClientStreamCall>* pool) : pool_(pool) {}

  void Request() {
    const Spec& spec = pool_->spec();
    context_.emplace();
    message_.emplace();
    response_.emplace();
    reader_.emplace(&*context_);
    context_->AsyncNotifyWhenDone(MakeTag(this, kDone));
    in_flight_ = 1;
    grpc::ServerCompletionQueue* cq = pool_->queue()->cq();
    (spec.service->*spec.request)(&*context_, &*reader_, cq, cq,
                                  MakeTag(this, kRequest));
  }

  void Reset() {
    done_ = finished_ = finish_ok_ = cancelled_ = false;
    sink_.reset();
    reader_.reset();
    response_.reset();
    message_.reset();
    context_.reset();
  }

  void OnEvent(uint8_t event, bool ok) override {
    --in_flight_;
    switch (event) {
      case kRequest:
        if (!ok) break;  // shutting down; the done tag will never come
        ++in_flight_;    // the done notification is armed now
        started_ = true;
        pool_->Started();
        pool_->PostRequest();
        observation_.Start(pool_->queue()->observer(), &pool_->info(), *context_);
        if (grpc::Status admitted = pool_->spec().policy.Admit(Context());
            !admitted.ok()) {
          Finish(admitted);  // without reading a message; no sink was opened
          break;
        }
        sink_ = pool_->spec().handler(Context());
        Read();
        break;
      case kRead:
        if (ok) observation_.Received();
        if (!ok) {
          // The client half-closed, or the call broke: Finish then fails and
          // the done notification says cancelled; OnFinished tells the sink.
          grpc::Status status = sink_->OnHalfClose(&*response_);
          Finish(status);
        } else if (grpc::Status too_large =
                       CheckRequestSize(pool_->info(), *message_);
                   !too_large.ok()) {
          Finish(too_large);  // each message is held to the method's limit
        } else if (grpc::Status status = sink_->OnMessage(*message_);
                   !status.ok()) {
          Finish(status);
        } else {
          Read();
        }
        break;
      case kDone:
        // IsCancelled may only be asked once this tag arrived.
        done_ = true;
        cancelled_ = context_->IsCancelled();
        MaybeReportFinished();
        break;
      case kFinish:
        finished_ = true;
        finish_ok_ = ok;
        MaybeReportFinished();
        break;
    }
    if (in_flight_ == 0) {
      sink_.reset();  // e.g. Finish never started: the request failed
      observation_.End();
      pool_->Release(this, std::exchange(started_, false));
    }
  }

 private:
  enum : uint8_t { kRequest, kRead, kFinish, kDone };

  CallContext Context() {
    return CallContext(&*context_, nullptr, observation_.events());
  }

  void Read() {
    message_->Clear();
    ++in_flight_;
    reader_->Read(&*message_, MakeTag(this, kRead));
  }

  // Once both the Finish and the done notification are back.
  void MaybeReportFinished() {
    if (!done_ || !finished_ || sink_ == nullptr) return;
    sink_->OnFinished(finish_ok_ && !cancelled_);
    sink_.reset();
  }

  void Finish(const grpc::Status& status) {
    ++in_flight_;
    observation_.Finishing(status);
    if (status.ok()) {
      observation_.Sent();
      reader_->Finish(*response_, status, MakeTag(this, kFinish));
    } else {
      reader_->FinishWithError(status, MakeTag(this, kFinish));
    }
  }

  CallPool<ClientStreamCall>* const pool_;
  std::optional<grpc::ServerContext> context_;
  std::optional<Req> message_;
  std::optional<Resp> response_;
  std::optional<grpc::ServerAsyncReader<Resp, Req>> reader_;
  std::unique_ptr<ClientStreamSink<Req, Resp>> sink_;
  CallObservation observation_;
  int in_flight_ = 0;
  bool started_ = false;
  bool done_ = false;
  bool finished_ = false;
  bool finish_ok_ = false;
  bool cancelled_ = false;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_CLIENT_STREAM_CALL_H_
