// Server construction, queue threads and the shutdown sequence; see engine.h.
#include "server/engine/engine.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <climits>
#include <map>
#include <optional>

#include <google/protobuf/descriptor.h>
#include <grpc/grpc.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/resource_quota.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/common/log.h"
#include "server/engine/write_coalescer.h"

namespace cqmux {
namespace {

// CPUs this process may run on, in order (all online CPUs unless restricted
// by taskset or a cgroup).
std::vector<int> AllowedCpus() {
  std::vector<int> cpus;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
    }
  }
  if (cpus.empty()) cpus.push_back(0);
  return cpus;
}

void PinCurrentThread(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
    Log(LogLevel::kWarning, "could not pin queue thread to CPU %d", cpu);
  }
}

const char* KindName(MethodKind kind) {
  switch (kind) {
    case MethodKind::kUnary: return "unary";
    case MethodKind::kServerStreaming: return "server-streaming";
    case MethodKind::kClientStreaming: return "client-streaming";
  }
  return "?";
}

std::optional<MethodKind> KindOf(const google::protobuf::MethodDescriptor& m) {
  if (m.client_streaming() && m.server_streaming()) return std::nullopt;
  if (m.client_streaming()) return MethodKind::kClientStreaming;
  if (m.server_streaming()) return MethodKind::kServerStreaming;
  return MethodKind::kUnary;
}

// A duration as a gRPC channel argument in milliseconds, clamped to int.
int Millis(absl::Duration d) {
  const int64_t ms = absl::ToInt64Milliseconds(d);
  return static_cast<int>(std::clamp<int64_t>(ms, 0, INT_MAX));
}

// The transport limits of EngineOptions as channel arguments. gRPC's own
// defaults apply to what is left unset (infinite age and idle time).
void ApplyTransportLimits(const EngineOptions& o, grpc::ServerBuilder& b) {
  b.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, o.max_concurrent_streams);
  b.AddChannelArgument(GRPC_ARG_MAX_METADATA_SIZE, o.max_metadata_bytes);
  if (o.max_connection_idle != absl::InfiniteDuration()) {
    b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS,
                         Millis(o.max_connection_idle));
  }
  if (o.max_connection_age != absl::InfiniteDuration()) {
    b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_MS,
                         Millis(o.max_connection_age));
  }
  if (o.max_connection_age_grace != absl::InfiniteDuration()) {
    b.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS,
                         Millis(o.max_connection_age_grace));
  }
  // INT_MAX is gRPC's "never" for keepalive.
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                       o.keepalive_time == absl::InfiniteDuration()
                           ? INT_MAX
                           : Millis(o.keepalive_time));
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                       Millis(o.keepalive_timeout));
  b.AddChannelArgument(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
                       Millis(o.min_client_ping_interval));
  b.AddChannelArgument(GRPC_ARG_HTTP2_MAX_PING_STRIKES, o.max_ping_strikes);
  b.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS,
                       o.permit_keepalive_without_calls ? 1 : 0);
  if (o.memory_quota_bytes > 0) {
    // The builder keeps its own reference to the quota.
    grpc::ResourceQuota quota("cqmux");
    quota.Resize(static_cast<size_t>(o.memory_quota_bytes));
    b.SetResourceQuota(quota);
  }
}

}  // namespace

Engine::Engine(EngineOptions options) : options_(std::move(options)) {}

Engine::~Engine() {
  Shutdown();
  // The server goes first, then the queues (their pools free idle calls,
  // which point into methods_), then the services the server referenced.
  server_.reset();
  queues_.clear();
  methods_.clear();
  services_.clear();
}

std::vector<const BlockingPool*> Engine::pools() const {
  std::vector<const BlockingPool*> pools;
  for (const BlockingPool* pool : {blocking_pool_.get(), compute_pool_.get()}) {
    if (pool != nullptr) pools.push_back(pool);
  }
  return pools;
}

void Engine::OnDrain(std::function<void()> hook) {
  drain_hooks_.push_back(std::move(hook));
}

void Engine::OnShutdown(std::function<void()> hook) {
  shutdown_hooks_.push_back(std::move(hook));
}

BlockingPool* Engine::blocking_pool() {
  if (blocking_pool_ == nullptr) {
    blocking_pool_ = std::make_unique<BlockingPool>(
        "blocking", options_.blocking_threads,
        static_cast<size_t>(options_.blocking_queue));
  }
  return blocking_pool_.get();
}

BlockingPool* Engine::compute_pool() {
  if (compute_pool_ == nullptr) {
    // Nice 5: under contention the queue threads get ~3x this pool's CPU
    // share, so small calls keep flowing while a heavy request computes.
    compute_pool_ = std::make_unique<BlockingPool>(
        "compute", options_.compute_threads,
        static_cast<size_t>(options_.compute_queue), /*nice=*/5);
  }
  return compute_pool_.get();
}

std::vector<std::string> Engine::service_names() const {
  std::vector<std::string> names;
  for (const RegisteredService& s : services_) names.push_back(s.name);
  return names;
}

absl::Status Engine::CheckBindings() const {
  std::vector<std::string> errors = binding_errors_;
  // Bound methods by service, then by name.
  std::map<std::string, std::map<std::string, const MethodInfo*>> bound;
  for (const auto& method : methods_) {
    const MethodInfo& info = method->info();
    if (info.method.empty()) {
      errors.push_back(absl::StrCat(
          info.service, ": cannot tell which method a binding serves (not a "
          "protoc-generated WithAsyncMethod_/WithRawMethod_ class)"));
      continue;
    }
    if (!bound[info.service].emplace(info.method, &info).second) {
      errors.push_back(absl::StrCat(info.path(), " is bound twice"));
    }
  }
  for (const RegisteredService& service : services_) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(
            service.name);
    if (descriptor == nullptr) {
      errors.push_back(absl::StrCat(
          "no descriptor for ", service.name,
          " in the generated pool, so its methods cannot be checked (link its "
          ".pb.cc: reference its descriptor_table_..._2eproto)"));
      continue;
    }
    std::map<std::string, const MethodInfo*>& mine = bound[service.name];
    for (int i = 0; i < descriptor->method_count(); ++i) {
      const google::protobuf::MethodDescriptor& m = *descriptor->method(i);
      auto it = mine.find(m.name());
      if (it == mine.end()) {
        errors.push_back(absl::StrCat(service.name, "/", m.name(), " is not bound"));
        continue;
      }
      const MethodInfo& info = *it->second;
      mine.erase(it);
      const std::optional<MethodKind> kind = KindOf(m);
      if (!kind.has_value() || *kind != info.kind) {
        errors.push_back(absl::StrCat(info.path(), " is bound as ",
                                      KindName(info.kind),
                                      ", which it is not"));
      } else if ((!info.request_type.empty() &&
                  info.request_type != m.input_type()->full_name()) ||
                 (!info.response_type.empty() &&
                  info.response_type != m.output_type()->full_name())) {
        errors.push_back(absl::StrCat(info.path(),
                                      " is bound with the wrong message types"));
      }
    }
    for (const auto& [name, info] : mine) {
      errors.push_back(absl::StrCat(info->path(), " is not a method of ",
                                    service.name));
    }
  }
  if (errors.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrJoin(errors, "; "));
}

int Engine::ResolveMessageLimits() {
  size_t largest = static_cast<size_t>(options_.max_message_bytes);
  for (auto& method : methods_) {
    MethodInfo& info = method->info();
    if (info.max_request_bytes == 0) {
      info.max_request_bytes = static_cast<size_t>(options_.max_message_bytes);
    }
    largest = std::max(largest, info.max_request_bytes);
  }
  for (auto& method : methods_) {
    MethodInfo& info = method->info();
    info.check_request_size = info.max_request_bytes < largest;
  }
  return static_cast<int>(std::min<size_t>(largest, INT_MAX));
}

absl::Status Engine::Start() {
  if (started_) return absl::FailedPreconditionError("engine already started");
  if (options_.listen.empty()) {
    return absl::InvalidArgumentError("no address to listen on");
  }
  if (options_.max_message_bytes <= 0 || options_.max_concurrent_streams <= 0) {
    return absl::InvalidArgumentError(
        "max_message_bytes and max_concurrent_streams must be positive");
  }
  if (absl::Status bound = CheckBindings(); !bound.ok()) return bound;
  if (options_.coalesce_writes) coalesce::SetEnabled(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  grpc::ServerBuilder builder;
  // Without this, gRPC sets SO_REUSEPORT and a second server silently shares
  // a port that is already taken.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // gRPC 1.51 has only server-wide message limits: they are set to the
  // largest per-method one, and the call templates hold every method with a
  // smaller limit to its own (method_info.h).
  const int largest_message = ResolveMessageLimits();
  builder.SetMaxReceiveMessageSize(largest_message);
  builder.SetMaxSendMessageSize(largest_message);
  ApplyTransportLimits(options_, builder);
  ports_.assign(options_.listen.size(), 0);
  const std::shared_ptr<grpc::ServerCredentials> credentials =
      options_.credentials != nullptr ? options_.credentials
                                      : grpc::InsecureServerCredentials();
  for (size_t i = 0; i < options_.listen.size(); ++i) {
    builder.AddListeningPort(options_.listen[i], credentials, &ports_[i]);
  }
  for (RegisteredService& s : services_) builder.RegisterService(s.service.get());

  const std::vector<int> cpus = AllowedCpus();
  const int threads = options_.threads > 0 ? options_.threads
                                           : static_cast<int>(cpus.size());
  for (int i = 0; i < threads; ++i) {
    queues_.push_back(std::make_unique<Queue>(i, builder.AddCompletionQueue()));
  }

  server_ = builder.BuildAndStart();
  if (server_ == nullptr) {
    queues_.clear();
    return absl::UnavailableError(
        absl::StrCat("could not start the server on ",
                     absl::StrJoin(options_.listen, ", "),
                     " (address in use, or not a valid HOST:PORT?)"));
  }
  for (size_t i = 0; i < ports_.size(); ++i) {
    if (ports_[i] == 0) {
      server_->Shutdown();
      for (auto& q : queues_) q->Close();
      for (auto& q : queues_) q->Run();
      server_.reset();
      queues_.clear();
      return absl::UnavailableError(
          absl::StrCat("could not listen on ", options_.listen[i],
                       " (address in use, or not a valid HOST:PORT?)"));
    }
  }
  started_ = true;

  std::vector<const MethodInfo*> method_infos;
  for (auto& method : methods_) {
    method->info().index = static_cast<int>(method_infos.size());
    method_infos.push_back(&method->info());
  }
  if (!options_.observers.empty()) {
    for (auto& queue : queues_) {
      std::vector<std::unique_ptr<QueueObserver>> observers;
      for (const auto& observer : options_.observers) {
        observers.push_back(observer->ForQueue(queue->index(), method_infos));
      }
      queue->SetObserver(FanOut(std::move(observers)));
    }
  }
  const size_t max_idle = static_cast<size_t>(options_.requests_per_queue);
  for (auto& queue : queues_) {
    for (auto& method : methods_) {
      std::unique_ptr<CallPoolBase> pool = method->CreatePool(queue.get(), max_idle);
      for (int i = 0; i < options_.requests_per_queue; ++i) pool->PostRequest();
      queue->AddPool(std::move(pool));
    }
  }
  for (auto& queue : queues_) {
    Queue* q = queue.get();
    const int cpu = cpus[static_cast<size_t>(q->index()) % cpus.size()];
    const bool pin = options_.pin_threads;
    threads_.emplace_back([q, cpu, pin] {
      if (pin) PinCurrentThread(cpu);
      q->Run();
    });
  }
  return absl::OkStatus();
}

int64_t Engine::active_calls() const {
  int64_t total = 0;
  for (const auto& queue : queues_) total += queue->active_calls();
  return total;
}

int64_t Engine::posted_requests() const {
  int64_t total = 0;
  for (const auto& queue : queues_) total += queue->posted_requests();
  return total;
}

void Engine::Shutdown() {
  std::lock_guard<std::mutex> lock(shutdown_mu_);
  if (!started_ || stopped_) return;
  stopped_ = true;
  // Load balancers learn first (health NOT_SERVING) and get drain_delay to
  // move their clients away while calls are still served.
  for (auto& hook : drain_hooks_) hook();
  if (options_.drain_delay > absl::ZeroDuration()) {
    (void)drain_cut_.WaitForNotificationWithTimeout(options_.drain_delay);
  }
  // Requests stay posted until Server::Shutdown fails them: a call that
  // arrives before the client saw the GOAWAY is still served, where one
  // left unmatched would be cancelled by gRPC when shutdown begins.
  for (auto& hook : shutdown_hooks_) hook();
  // Server::Shutdown also waits for every connection to close, and an idle
  // client may not read its socket for seconds (gRPC clients poll idle
  // channels every 5 s), which would hold the exit for the whole grace
  // period. Once every call of ours has ended, and every posted request has
  // come back (Server::Shutdown fails the unmatched ones; a matched one
  // becomes a call), there is nothing left to wait for: disconnect whoever
  // is still connected.
  const absl::Time deadline = absl::Now() + options_.shutdown_grace;
  // Off-queue work not started by the end of the grace period never starts:
  // at that moment every call is cancelled.
  for (BlockingPool* pool : {blocking_pool_.get(), compute_pool_.get()}) {
    if (pool != nullptr) pool->DropFrom(deadline);
  }
  absl::Notification server_down;
  std::thread reaper([this, &server_down] {
    while (!server_down.WaitForNotificationWithTimeout(absl::Milliseconds(5))) {
      if (active_calls() == 0 && posted_requests() == 0) {
        grpc_server_cancel_all_calls(server_->c_server());
        return;
      }
    }
  });
  server_->Shutdown(absl::ToChronoTime(deadline));
  server_down.Notify();
  reaper.join();
  // The grace period is over and every call was cancelled: off-queue jobs
  // still waiting for a thread are dropped (each completes its call unrun),
  // the ones running finish; both wake their calls through alarms, which the
  // queues still take (a queue shuts down only once it has no live call).
  for (BlockingPool* pool : {blocking_pool_.get(), compute_pool_.get()}) {
    if (pool == nullptr) continue;
    pool->DropQueued();
    pool->Drain();
  }
  for (auto& queue : queues_) queue->Close();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

}  // namespace cqmux
