// The engine: one grpc::Server, N completion queues each polled by one thread,
// and generic call state machines. Services are bound to it method by method:
//
//   engine.AddService<rpc::Fetch>()
//       .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, handler);
//
// A call is requested, served and finished on one queue's thread; a method
// keeps --requests-per-queue requests posted on every queue and reposts one
// as soon as a call arrives, so a burst never waits for a slot.
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
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/call_pool.h"
#include "server/engine/client_stream_call.h"
#include "server/engine/handlers.h"
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
  int max_message_bytes = 64 << 20;
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
};

// A method's call template, instantiated on every queue at Start().
class MethodBase {
 public:
  virtual ~MethodBase() = default;
  virtual std::unique_ptr<CallPoolBase> CreatePool(Queue* queue,
                                                   size_t max_idle) const = 0;
};

template <class Call>
class Method final : public MethodBase {
 public:
  explicit Method(typename Call::Spec spec) : spec_(std::move(spec)) {}
  std::unique_ptr<CallPoolBase> CreatePool(Queue* queue,
                                           size_t max_idle) const override {
    return std::make_unique<CallPool<Call>>(queue, &spec_, max_idle);
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
  ServiceBinding(Engine* engine, Service* service)
      : engine_(engine), service_(service) {}

  template <class Base, class Req, class Resp>
  ServiceBinding& Unary(UnaryRequestFn<Base, Req, Resp> request,
                        std::type_identity_t<UnaryHandler<Req, Resp>> handler,
                        MethodPolicy policy = {});

  // For handlers that are slow on purpose (e.g. password hashing): they run
  // on the engine's blocking pool, never on a queue thread.
  template <class Base, class Req, class Resp>
  ServiceBinding& BlockingUnary(
      UnaryRequestFn<Base, Req, Resp> request,
      std::type_identity_t<UnaryHandler<Req, Resp>> handler,
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

 private:
  template <class Call>
  ServiceBinding& Add(typename Call::Spec spec);

  Engine* const engine_;
  Service* const service_;
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
    return ServiceBinding<Service>(this, raw);
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

  // Pools of off-queue work, created with the first method that needs them
  // (null until then). For tests.
  BlockingPool* blocking_pool_for_testing() { return blocking_pool_.get(); }
  BlockingPool* compute_pool_for_testing() { return compute_pool_.get(); }

 private:
  template <class Service>
  friend class ServiceBinding;

  void AddMethod(std::unique_ptr<MethodBase> method) {
    methods_.push_back(std::move(method));
  }
  BlockingPool* blocking_pool();
  BlockingPool* compute_pool();

  struct RegisteredService {
    std::string name;
    std::unique_ptr<grpc::Service> service;
  };

  const EngineOptions options_;
  std::vector<RegisteredService> services_;
  std::vector<std::unique_ptr<MethodBase>> methods_;
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
template <class Call>
ServiceBinding<Service>& ServiceBinding<Service>::Add(typename Call::Spec spec) {
  engine_->AddMethod(std::make_unique<Method<Call>>(std::move(spec)));
  return *this;
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::Unary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>>(
      {service_, request, std::move(handler), nullptr, std::move(policy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::BlockingUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>>(
      {service_, request, std::move(handler), engine_->blocking_pool(),
       std::move(policy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ComputeUnary(
    UnaryRequestFn<Base, Req, Resp> request,
    std::type_identity_t<UnaryHandler<Req, Resp>> handler,
    std::type_identity_t<std::function<bool(const Req&)>> heavy, MethodPolicy policy) {
  return Add<UnaryCall<Base, Req, Resp>>({service_, request, std::move(handler),
                                          engine_->compute_pool(), std::move(policy),
                                          std::move(heavy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ServerStreaming(
    ServerStreamRequestFn<Base, Req, Resp> request,
    std::type_identity_t<ServerStreamHandler<Req, Resp>> handler,
    MethodPolicy policy) {
  return Add<ServerStreamCall<Base, Req, Resp>>(
      {service_, request, std::move(handler), std::move(policy)});
}

template <class Service>
template <class Base, class Req, class Resp>
ServiceBinding<Service>& ServiceBinding<Service>::ClientStreaming(
    ClientStreamRequestFn<Base, Req, Resp> request,
    std::type_identity_t<ClientStreamHandler<Req, Resp>> handler,
    MethodPolicy policy) {
  return Add<ClientStreamCall<Base, Req, Resp>>(
      {service_, request, std::move(handler), std::move(policy)});
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_ENGINE_H_
