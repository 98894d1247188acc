// Route adapters: a service's unary or server-streaming handler (the same
// function the gRPC method table binds) as an HTTP/JSON route, in the style
// of google.api.http transcoding. JSON goes through protobuf's JSON utilities
// with lowerCamelCase names (proto3 JSON and grpc-gateway's default; proto
// names are accepted on input too) and unpopulated fields printed.
//
// Every unary route is driven through a completion callback (AsyncUnary):
// synchronous handlers are wrapped (Sync, or a pool hand-off), so a handler
// that completes later from another thread (the store branch's
// AsyncUnaryHandler/UnaryDone) plugs in with one adapter.
#ifndef CQMUX_SERVER_GATEWAY_JSON_ROUTES_H_
#define CQMUX_SERVER_GATEWAY_JSON_ROUTES_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include <google/protobuf/message.h>
#include <grpcpp/support/status.h>

#include "absl/strings/string_view.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/call_context.h"
#include "server/engine/handlers.h"
#include "server/engine/method_policy.h"
#include "server/gateway/exchange.h"
#include "server/gateway/http_status.h"

namespace cqmux::gateway {

// JSON -> message. An empty body is the empty message. Malformed JSON, a
// wrong type or an unknown field: INVALID_ARGUMENT naming what is wrong.
grpc::Status ParseJson(absl::string_view json, google::protobuf::Message* message);
std::string ToJson(const google::protobuf::Message& message);

// Called exactly once, from any thread, with the handler's status.
using UnaryDoneFn = std::function<void(grpc::Status)>;
template <class Req, class Resp>
using AsyncUnary =
    std::function<void(const Req&, Resp*, const CallContext&, UnaryDoneFn)>;

// Fills the request from the HTTP request (body, path parameter, query).
template <class Req>
using Binder = std::function<grpc::Status(const Exchange&, Req*)>;

template <class Req>
grpc::Status BindBody(const Exchange& exchange, Req* request) {
  return ParseJson(exchange.body(), request);
}

template <class Req>
grpc::Status BindNothing(const Exchange& /*exchange*/, Req* /*request*/) {
  return grpc::Status::OK;
}

// A synchronous handler as a completion-callback one (runs inline).
template <class Req, class Resp>
AsyncUnary<Req, Resp> Sync(UnaryHandler<Req, Resp> handler) {
  return [handler = std::move(handler)](const Req& request, Resp* response,
                                        const CallContext& call,
                                        UnaryDoneFn done) {
    done(handler(request, response, call));
  };
}

// An engine-style asynchronous handler (a durable write: it completes once
// its group commit is on disk, from the store's writer thread) as a
// completion-callback one.
template <class Req, class Resp>
AsyncUnary<Req, Resp> Async(AsyncUnaryHandler<Req, Resp> handler) {
  return [handler = std::move(handler)](const Req& request, Resp* response,
                                        const CallContext& call,
                                        UnaryDoneFn done) {
    handler(request, response, call, UnaryDone::FromFunction(std::move(done)));
  };
}

template <class Req, class Resp>
struct UnaryRouteSpec {
  Binder<Req> bind = BindBody<Req>;
  AsyncUnary<Req, Resp> handler{};
  // The same policy object as the method's gRPC registration line.
  MethodPolicy policy{};
  // Quick validation on the HTTP thread, before the handler is queued.
  UnaryCheck<Req> check{};
  // Set: the handler runs on this pool (slow on purpose: CreateUser's
  // hashing); binding and `check` stay on the HTTP thread.
  BlockingPool* handler_pool = nullptr;
  // Set: requests whose body is `heavy` are decoded, served and encoded on
  // this pool (big Detects), so the event loop never parses megabytes.
  BlockingPool* heavy_pool = nullptr;
  std::function<bool(size_t body_bytes)> heavy{};
};

namespace internal {

// Hands `job` to `pool`; the exchange is answered if it cannot run.
void RunOnPool(BlockingPool* pool, const std::shared_ptr<Exchange>& exchange,
               std::function<void()> job);

}  // namespace internal

template <class Req, class Resp>
RouteHandler UnaryRoute(UnaryRouteSpec<Req, Resp> spec) {
  auto s = std::make_shared<const UnaryRouteSpec<Req, Resp>>(std::move(spec));
  // Request and response live until the handler completes.
  struct State {
    Req request;
    Resp response;
  };
  auto serve = [s](std::shared_ptr<Exchange> exchange, bool may_offload) {
    auto state = std::make_shared<State>();
    if (grpc::Status bound = s->bind(*exchange, &state->request); !bound.ok()) {
      exchange->Reply(ErrorReply(bound));
      return;
    }
    if (s->check) {
      if (grpc::Status ok = s->check(state->request, exchange->call()); !ok.ok()) {
        exchange->Reply(ErrorReply(ok));
        return;
      }
    }
    auto handle = [s, state, exchange] {
      s->handler(state->request, &state->response, exchange->call(),
                 [state, exchange](grpc::Status status) {
                   exchange->Reply(status.ok()
                                       ? HttpReply{200, "application/json",
                                                   ToJson(state->response)}
                                       : ErrorReply(status));
                 });
    };
    if (may_offload && s->handler_pool != nullptr) {
      internal::RunOnPool(s->handler_pool, exchange, std::move(handle));
    } else {
      handle();
    }
  };
  return [s, serve](std::shared_ptr<Exchange> exchange) {
    if (grpc::Status admitted = s->policy.Admit(exchange->call()); !admitted.ok()) {
      exchange->Reply(ErrorReply(admitted));
      return;
    }
    if (s->heavy_pool != nullptr && s->heavy && s->heavy(exchange->body().size())) {
      internal::RunOnPool(s->heavy_pool, exchange,
                          [serve, exchange] { serve(exchange, false); });
      return;
    }
    serve(std::move(exchange), true);
  };
}

enum class StreamFormat {
  kServerSentEvents,  // "data: <json>\n\n" per message; errors as "event: error"
  kNdjson,            // {"result": <json>}\n per message, {"error": {...}}\n
};

// One streamed call: the engine's ServerStream pulled by the connection.
template <class Req, class Resp>
class JsonStreamSource final : public ChunkSource {
 public:
  JsonStreamSource(std::shared_ptr<Exchange> exchange,
                   std::unique_ptr<Req> request, StreamFormat format)
      : exchange_(std::move(exchange)), request_(std::move(request)),
        format_(format) {}

  void Open(const ServerStreamHandler<Req, Resp>& handler, Waker waker) {
    stream_ = handler(*request_, exchange_->call(), std::move(waker));
  }

  Step Next(std::string* chunk) override {
    if (done_ || stream_ == nullptr) return Step::kEnd;
    Resp message;
    grpc::Status status;
    switch (stream_->Next(&message, &status)) {
      case ServerStream<Resp>::Step::kWrite:
        *chunk = format_ == StreamFormat::kServerSentEvents
                     ? "data: " + ToJson(message) + "\n\n"
                     : "{\"result\":" + ToJson(message) + "}\n";
        return Step::kChunk;
      case ServerStream<Resp>::Step::kWait:
        return Step::kWait;
      case ServerStream<Resp>::Step::kFinish:
        done_ = true;
        stream_.reset();  // e.g. unsubscribes a watch at once
        if (status.ok()) return Step::kEnd;
        *chunk = format_ == StreamFormat::kServerSentEvents
                     ? "event: error\ndata: " + ErrorJson(status) + "\n\n"
                     : "{\"error\":" + ErrorJson(status) + "}\n";
        return Step::kChunk;
    }
    return Step::kEnd;
  }

 private:
  const std::shared_ptr<Exchange> exchange_;  // owns the CallContext
  const std::unique_ptr<Req> request_;        // outlives stream_
  const StreamFormat format_;
  std::unique_ptr<ServerStream<Resp>> stream_;
  bool done_ = false;
};

template <class Req, class Resp>
struct StreamRouteSpec {
  Binder<Req> bind = BindNothing<Req>;
  ServerStreamHandler<Req, Resp> handler{};
  MethodPolicy policy{};
  StreamFormat format = StreamFormat::kNdjson;
};

template <class Req, class Resp>
RouteHandler StreamRoute(StreamRouteSpec<Req, Resp> spec) {
  auto s = std::make_shared<const StreamRouteSpec<Req, Resp>>(std::move(spec));
  return [s](std::shared_ptr<Exchange> exchange) {
    if (grpc::Status admitted = s->policy.Admit(exchange->call()); !admitted.ok()) {
      exchange->Reply(ErrorReply(admitted));
      return;
    }
    auto request = std::make_unique<Req>();
    if (grpc::Status bound = s->bind(*exchange, request.get()); !bound.ok()) {
      exchange->Reply(ErrorReply(bound));
      return;
    }
    const char* type = s->format == StreamFormat::kServerSentEvents
                           ? "text/event-stream"
                           : "application/x-ndjson";
    // The handler opens its stream on the connection's thread, with a
    // Waker that resumes the connection.
    exchange->Stream(type, [s, exchange, request = std::shared_ptr<Req>(
                                             std::move(request))](Waker waker) mutable {
      auto source = std::make_unique<JsonStreamSource<Req, Resp>>(
          exchange, std::make_unique<Req>(std::move(*request)), s->format);
      source->Open(s->handler, std::move(waker));
      return std::unique_ptr<ChunkSource>(std::move(source));
    });
  };
}

}  // namespace cqmux::gateway

#endif  // CQMUX_SERVER_GATEWAY_JSON_ROUTES_H_
