// The engine: one grpc::Server, N completion queues each polled by one thread,
// and generic call state machines. Services are bound to it method by method:
//
//   engine.AddService<rpc::Fetch>()
//       .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, handler);
//
// A call is requested, served and finished on one queue's thread; a method
// keeps --requests-per-queue requests posted on every queue and reposts one
// as soon as a call arrives, so a burst never waits for a slot.
//
// Limits are engine configuration: transport limits in EngineOptions, and
// per-method ones as attributes of the registration line:
//
//   engine.AddService<pb::Outliers, RawOutliers>()
//       .Unary(&RawOutliers::RequestDetect, handler)
//       .MaxMessageBytes(64 << 20);
#ifndef CQMUX_SERVER_ENGINE_ENGINE_H_
#define CQMUX_SERVER_ENGINE_ENGINE_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/call_observer.h"
#include "server/engine/call_pool.h"
#include "server/engine/client_stream_call.h"
#include "server/engine/handlers.h"
#include "server/engine/method_info.h"
#include "server/engine/method_policy.h"
#include "server/engine/queue.h"
#include "server/engine/server_stream_call.h"
#include "server/engine/unary_call.h"

namespace cqmux {

struct EngineOptions {
  std::vector<std::string> listen = {"0.0.0.0:50051"};
  int threads = 0;  // 0: one queue per online CPU
  bool pin_threads = false;
  int requests_per_queue = 16;
  absl::Duration shutdown_grace = absl::Seconds(10);
  // On Shutdown, how long the drain hooks' news (health NOT_SERVING) has to
  // reach load balancers while new calls are still served.
  absl::Duration drain_delay = absl::ZeroDuration();
  // Largest request of a method whose registration line sets no limit of its
  // own (ServiceBinding::MaxMessageBytes). gRPC's server-wide receive and
  // send limits are the largest per-method limit; smaller ones are enforced
  // by the call templates before the handler runs.
  int max_message_bytes = 4 << 20;
  // Slow handlers (BlockingUnary: password hashing).
  int blocking_threads = 2;
  int blocking_queue = 256;
  // Heavy requests (ComputeUnary: big Detects), at a lower CPU priority than
  // the queue threads.
  int compute_threads = 1;
  int compute_queue = 64;
  // Send the socket writes of each drained batch of events as one write per
  // connection (see write_coalescer.h). Process-wide once any engine sets it.
  bool coalesce_writes = false;
  // Transport security of every listener (e.g. TLS, see server/security/).
  // Null: plaintext (grpc::InsecureServerCredentials).
  std::shared_ptr<grpc::ServerCredentials> credentials;

  // Transport limits (HTTP/2 and gRPC channel arguments; README "Limits").
  // Streams one connection may have open at once (SETTINGS_MAX_CONCURRENT_
  // STREAMS); a client's further streams wait until one ends.
  int max_concurrent_streams = 1024;
  // Memory gRPC may use for the whole server (connections, streams, call
  // arenas, buffered messages); over it, new connections are refused and
  // streams are cancelled until usage is back under. 0: no quota.
  int64_t memory_quota_bytes = 0;
  // A connection without calls for this long is sent a GOAWAY (the client
  // reconnects on its next call). Infinite: never.
  //
  // Both timers are off by default: gRPC 1.51 implements them with a filter
  // on every call of every connection, which costs ~7% of a small unary
  // call's CPU (BENCHMARKS.md, section 7), and the memory quota already
  // closes idle connections when memory runs short.
  absl::Duration max_connection_idle = absl::InfiniteDuration();
  // A connection this old (gRPC adds +-10% jitter) is sent a GOAWAY so that
  // clients reconnect and load balancers can rebalance; calls already open
  // continue for max_connection_age_grace, then the connection is closed.
  // Infinite: never.
  absl::Duration max_connection_age = absl::InfiniteDuration();
  absl::Duration max_connection_age_grace = absl::InfiniteDuration();
  // Server-side keepalive: ping a quiet connection after keepalive_time and
  // close it if no answer comes within keepalive_timeout. Infinite: off.
  absl::Duration keepalive_time = absl::Minutes(1);
  absl::Duration keepalive_timeout = absl::Seconds(20);
  // Keepalive enforcement: a client ping sooner than this after the previous
  // one (with no data in between) is a strike; more than max_ping_strikes
  // strikes close the connection (GOAWAY ENHANCE_YOUR_CALM "too_many_pings").
  absl::Duration min_client_ping_interval = absl::Seconds(10);
  int max_ping_strikes = 2;
  // Whether clients may ping connections that have no call (and whether the
  // server's own keepalive pings them).
  bool permit_keepalive_without_calls = true;
  // Largest header block (metadata) of a request.
  int max_metadata_bytes = 8 << 10;

  // Who sees every call (metrics, traces; call_observer.h), in order. Empty:
  // calls are not observed, which costs a null check per call event.
  std::vector<std::shared_ptr<CallObserver>> observers;
};

// A method's call template, instantiated on every queue at Start().
class MethodBase {
 public:
  explicit MethodBase(MethodInfo info) : info_(std::move(info)) {}
  virtual ~MethodBase() = default;
  virtual std::unique_ptr<CallPoolBase> CreatePool(Queue* queue,
                                                   size_t max_idle) const = 0;
  // Mutable until Start(); read-only (and read by every queue) after.
  MethodInfo& info() { return info_; }
  const MethodInfo& info() const { return info_; }

 private:
  MethodInfo info_;
};

template <class Call>
class Method final : public MethodBase {
 public:
  Method(MethodInfo info, typename Call::Spec spec)
      : MethodBase(std::move(info)), spec_(std::move(spec)) {}
  std::unique_ptr<CallPoolBase> CreatePool(Queue* queue,
                                           size_t max_idle) const override {
    return std::make_unique<CallPool<Call>>(queue, &spec_, &info(), max_idle);
  }

 private:
  const typename Call::Spec spec_;
};

class Engine;

// Binds the methods of one generated async service. Every method of the
// service must be bound: an unbound async method would leave its calls
// waiting forever. Each method may carry a MethodPolicy (method_policy.h),
// e.g. an admission check, which the engine applies before the handler.
template <class Service>
class ServiceBinding {
 public:
  ServiceBinding(Engine* engine, Service* service, std::string service_name)
      : engine_(engine), service_(service),
        service_name_(std::move(service_name)) {}

  template <class Base, class Req, class Resp>
  ServiceBinding& Unary(UnaryRequestFn<Base, Req, Resp> request,
                        std::type_identity_t<UnaryHandler<Req, Resp>> handler,
                        MethodPolicy policy = {});

  // For handlers that answer later, from any thread (e.g. a write completed
  // by the store's writer once its group commit is durable): the handler
  // starts the work on the queue thread and returns; its UnaryDone finishes
  // the call on its own queue. No thread waits in between.
  template <class Base, class Req, class Resp>
  ServiceBinding& AsyncUnary(UnaryRequestFn<Base, Req, Resp> request,
                             std::type_identity_t<AsyncUnaryHandler<Req, Resp>> handler,
                             MethodPolicy policy = {});

  // BlockingUnary whose handler, once its slow part ran on the blocking
  // pool, hands the rest to another asynchronous step (e.g. a password hash,
  // then its insert waiting for the group commit) and returns: the pool
  // thread never waits for that step.
  template <class Base, class Req, class Resp>
  ServiceBinding& BlockingAsyncUnary(
      UnaryRequestFn<Base, Req, Resp> request,
      std::type_identity_t<AsyncUnaryHandler<Req, Resp>> handler,
      std::type_identity_t<UnaryCheck<Req>> check = nullptr,
      MethodPolicy policy = {});

  // For handlers that are slow on purpose (e.g. password hashing): they run
  // on the engine's blocking pool, never on a queue thread. `check`, if
  // given, runs on the queue thread first, so that a request that fails
  // validation never waits for a worker.
  template <class Base, class Req, class Resp>
  ServiceBinding& BlockingUnary(
      UnaryRequestFn<Base, Req, Resp> request,
      std::type_identity_t<UnaryHandler<Req, Resp>> handler,
      std::type_identity_t<UnaryCheck<Req>> check = nullptr,
      MethodPolicy policy = {});

  // For handlers whose cost grows with the request (e.g. a Detect of a
  // million metrics): requests for which `heavy` is true run on the engine's
  // compute pool, the others on the queue thread. One heavy request then
  // never holds a queue thread, and so never the small calls behind it.
  template <class Base, class Req, class Resp>
  ServiceBinding& ComputeUnary(
      UnaryRequestFn<Base, Req, Resp> request,
      std::type_identity_t<UnaryHandler<Req, Resp>> handler,
      std::type_identity_t<std::function<bool(const Req&)>> heavy,
      MethodPolicy policy = {});

  template <class Base, class Req, class Resp>
  ServiceBinding& ServerStreaming(
      ServerStreamRequestFn<Base, Req, Resp> request,
      std::type_identity_t<ServerStreamHandler<Req, Resp>> handler,
      MethodPolicy policy = {});

  template <class Base, class Req, class Resp>
  ServiceBinding& ClientStreaming(
      ClientStreamRequestFn<Base, Req, Resp> request,
      std::type_identity_t<ClientStreamHandler<Req, Resp>> handler,
      MethodPolicy policy = {});

  // Attribute of the method bound just before: its requests (each message of
  // a client stream) may be up to `bytes` long instead of EngineOptions'
  // max_message_bytes. A larger one fails with RESOURCE_EXHAUSTED before the
  // handler runs.
  ServiceBinding& MaxMessageBytes(int bytes);

 private:
  template <class Call, class Base, class Req, class Resp>
  ServiceBinding& Add(MethodKind kind, typename Call::Spec spec);

  Engine* const engine_;
  Service* const service_;
  const std::string service_name_;
  MethodBase* last_ = nullptr;
};

class Engine {
 public:
  explicit Engine(EngineOptions options);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();  // Shutdown()s if still running

  // Registers the generated service `Outer` (e.g. rpc::Fetch) in the form
  // `Service`: its AsyncService by default, or e.g. a WithRawMethod_ variant.
  template <class Outer, class Service = typename Outer::AsyncService>
  ServiceBinding<Service> AddService() {
    auto service = std::make_unique<Service>();
    Service* raw = service.get();
    services_.push_back({Outer::service_full_name(), std::move(service)});
    return ServiceBinding<Service>(this, raw, Outer::service_full_name());
  }

  // Run in order when graceful shutdown begins, before drain_delay during
  // which new calls are still served: the place to report NOT_SERVING.
  void OnDrain(std::function<void()> hook);

  // Run in order once the server stops taking calls, before in-flight calls
  // are waited for: the place to end long-lived streams (e.g. close watch
  // hubs).
  void OnShutdown(std::function<void()> hook);

  // Binds the ports and starts the queue threads. Fails if a port cannot be
  // bound.
  absl::Status Start();

  // Ports bound, in --listen order (useful with port 0).
  const std::vector<int>& ports() const { return ports_; }
  int num_queues() const { return static_cast<int>(queues_.size()); }
  const EngineOptions& options() const { return options_; }
  std::vector<std::string> service_names() const;
  // Calls being served right now, over all queues (approximate while busy).
  int64_t active_calls() const;
  // Requests posted for new calls whose tags were not handled yet.
  int64_t posted_requests() const;

  // Graceful shutdown: the drain hooks run and new calls are still served for
  // drain_delay; then no new calls, the shutdown hooks run, in-flight calls
  // (off-queue jobs included) get the grace period and are then cancelled;
  // off-queue jobs still waiting for a thread are dropped unrun, every queue
  // is drained and every call object freed. Returns within drain_delay +
  // grace + the longest single job. Idempotent; blocks until done. Must not
  // be called from a queue thread.
  void Shutdown();

  // Ends a Shutdown()'s drain delay now (e.g. a second SIGTERM). Any thread.
  void EndDrain() { drain_cut_.Notify(); }

  // The pools of off-queue work that exist (blocking, compute), for metrics.
  std::vector<const BlockingPool*> pools() const;

  // What queue `queue`'s write-coalescing batches did (coalesce::Stats);
  // after Start(), until the engine is destroyed.
  const coalesce::Stats& coalesce_stats(int queue) const {
    return queues_[static_cast<size_t>(queue)]->coalesce_stats();
  }

  // Pools of off-queue work, created with the first method that needs them
  // (null until then). For tests.
  BlockingPool* blocking_pool_for_testing() { return blocking_pool_.get(); }
  BlockingPool* compute_pool_for_testing() { return compute_pool_.get(); }

  // The pools themselves, created on first use. Call before Start() (while
  // wiring: creation is not thread-safe). The HTTP gateway hands its slow
  // and heavy requests to these same bounded pools, so limits and shutdown
  // (DropFrom, DropQueued, Drain in Shutdown()) cover them too.
  BlockingPool* blocking_pool();
  BlockingPool* compute_pool();

 private:
  template <class Service>
  friend class ServiceBinding;

  MethodBase* AddMethod(std::unique_ptr<MethodBase> method) {
    methods_.push_back(std::move(method));
    return methods_.back().get();
  }
  void AddBindingError(std::string error) {
    binding_errors_.push_back(std::move(error));
  }
  // Start() steps: every method of every service bound exactly once; each
  // method's request limit resolved against the server-wide one.
  absl::Status CheckBindings() const;
  int ResolveMessageLimits();

  struct RegisteredService {
    std::string name;
    std::unique_ptr<grpc::Service> service;
  };

  const EngineOptions options_;
  std::vector<RegisteredService> services_;
  std::vector<std::unique_ptr<MethodBase>> methods_;
  std::vector<std::string> binding_errors_;  // reported by Start()
  std::vector<std::function<void()>> drain_hooks_;
  std::vector<std::function<void()>> shutdown_hooks_;
  std::unique_ptr<BlockingPool> blocking_pool_;
  std::unique_ptr<BlockingPool> compute_pool_;
  std::unique_ptr<grpc::Server> server_;
  std::vector<std::unique_ptr<Queue>> queues_;
  std::vector<std::thread> threads_;
  std::vector<int> ports_;
  std::mutex shutdown_mu_;
  absl::Notification drain_cut_;
  bool started_ = false;
  bool stopped_ = false;
};

template <class Service>
template <class Call, class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::Add(
    MethodKind kind, typename Call::Spec spec) {
  MethodInfo info;
  info.service = service_name_;
  info.method = GeneratedMethodName<Base>();
  info.kind = kind;
  info.request_type = MessageTypeName<Req>();
  info.response_type = MessageTypeName<Resp>();
  last_ = engine_->AddMethod(
      std::make_unique<Method<Call>>(std::move(info), std::move(spec)));
  return *this;
}

template <class Service>
ServiceBinding<Service>& ServiceBinding<Service>::MaxMessageBytes(int bytes) {
  if (last_ == nullptr || bytes <= 0) {
    engine_->AddBindingError(absl::StrCat(
        service_name_, ": MaxMessageBytes(", bytes,
        ") needs a method bound before it and a positive size"));
  } else {
    last_->info().max_request_bytes = static_cast<size_t>(bytes);
  }
  return *this;
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::Unary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kUnary, {service_, request, std::move(handler), nullptr, std::move(policy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::AsyncUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<AsyncUnaryHandler<Req, Resp>> handler, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kUnary, {service_, request, nullptr, nullptr, std::move(policy), nullptr,
                           nullptr, std::move(handler)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::BlockingAsyncUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<AsyncUnaryHandler<Req, Resp>> handler,
    std::type_identity_t<UnaryCheck<Req>> check, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kUnary, {service_, request, nullptr, engine_->blocking_pool(),
                           std::move(policy), nullptr, std::move(check), std::move(handler)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::BlockingUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler,
    std::type_identity_t<UnaryCheck<Req>> check, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kUnary, {service_, request, std::move(handler), engine_->blocking_pool(),
                           std::move(policy), nullptr, std::move(check)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ComputeUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler,
    std::type_identity_t<std::function<bool(const Req&)>> heavy, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kUnary, {service_, request, std::move(handler), engine_->compute_pool(),
                           std::move(policy), std::move(heavy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ServerStreaming(
    ServerStreamRequestFn<Base, Req, Resp> request,
    std::type_identity_t<ServerStreamHandler<Req, Resp>> handler,
    MethodPolicy policy) {
  return Add<ServerStreamCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kServerStreaming, {service_, request, std::move(handler), std::move(policy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ClientStreaming(
    ClientStreamRequestFn<Base, Req, Resp> request,
    std::type_identity_t<ClientStreamHandler<Req, Resp>> handler,
    MethodPolicy policy) {
  return Add<ClientStreamCall<Base, Req, Resp>, Base, Req, Resp>(
      MethodKind::kClientStreaming, {service_, request, std::move(handler), std::move(policy)});
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_ENGINE_H_
