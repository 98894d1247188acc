// Service construction and the method table; see server_app.h.
#include "server/app/server_app.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "books.grpc.pb.h"
#include "defs.grpc.pb.h"
#include "health.grpc.pb.h"
#include "outliers.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "unary.grpc.pb.h"
#include "users.grpc.pb.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

// users.proto declares only the Users service (its messages live in
// users_types.proto), so no code refers to users.pb.cc and the linker leaves
// it out of the static library's consumers: reflection could then list Users
// but not describe it. A reference to its descriptor table (declared in
// users.pb.h) keeps it.
[[maybe_unused]] static const void* volatile kKeepUsersProto =
    &descriptor_table_users_2eproto;

namespace cqmux {

absl::StatusOr<std::unique_ptr<ServerApp>> ServerApp::Create(
    ServerConfig config) {
  absl::StatusOr<PasswordHasher> hasher =
      PasswordHasher::FromProfile(config.password_hash);
  if (!hasher.ok()) return hasher.status();
  if (config.engine.credentials == nullptr) {
    absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
        MakeServerCredentials(config.tls);
    if (!credentials.ok()) return credentials.status();
    config.engine.credentials = *std::move(credentials);
  }
  // Tracing off installs nothing: the engine's calls then pay one null check.
  std::shared_ptr<tracing::Tracer> tracer;
  if (!config.tracing.otlp_endpoint.empty()) {
    absl::StatusOr<std::shared_ptr<tracing::Tracer>> made =
        tracing::MakeOtlpTracer(config.tracing);
    if (!made.ok()) return made.status();
    tracer = *std::move(made);
    config.engine.observers.push_back(tracer);
  }
  return std::unique_ptr<ServerApp>(
      new ServerApp(std::move(config), *hasher, std::move(tracer)));
}

ServerApp::ServerApp(ServerConfig config, PasswordHasher hasher,
                     std::shared_ptr<tracing::Tracer> tracer)
    : config_(std::move(config)),
      users_(hasher, config_.max_users),
      // List has the default message limit, so the store is bounded by it.
      books_(BooksOptions{config_.seed_books, config_.watch_backlog,
                          config_.max_books,
                          static_cast<size_t>(config_.engine.max_message_bytes)}),
      tracer_(std::move(tracer)),
      engine_(config_.engine) {
  SetLogLevel(config_.log_level);
  RegisterServices();
}

// One line per method: the RPC, the handler that serves it and, where it
// has them, the method's policy (e.g. `writes`: a bearer token is needed)
// and limits that differ from the engine's defaults.
void ServerApp::RegisterServices() {
  using std::bind_front;
  using Health = grpc::health::v1::Health::AsyncService;
  engine_.AddService<grpc::health::v1::Health>()
      .Unary(&Health::RequestCheck, bind_front(&HealthService::Check, &health_))
      .ServerStreaming(&Health::RequestWatch, bind_front(&HealthService::Watch, &health_));
  engine_.OnDrain([this] { health_.Drain(); });  // first: NOT_SERVING
  engine_.OnShutdown([this] { health_.Shutdown(); });

  using Fetch = rpc::Fetch::AsyncService;
  engine_.AddService<rpc::Fetch>()
      .Unary(&Fetch::RequestCapitalize, bind_front(&FetchService::Capitalize, &fetch_));

  using UsersAsync = Users::AsyncService;
  engine_.AddService<Users>()
      .BlockingUnary(&UsersAsync::RequestCreateUser, bind_front(&UsersService::CreateUser, &users_),
                     bind_front(&UsersService::CheckCreateUser, &users_))  // before the pool
      .ServerStreaming(&UsersAsync::RequestGetUsers, bind_front(&UsersService::GetUsers, &users_));

  using Displacement = my_package::DisplacementService::AsyncService;
  engine_.AddService<my_package::DisplacementService>()
      .Unary(&Displacement::RequestcomputeDisplacement,
             bind_front(&DisplacementService::ComputeDisplacement, &displacement_));

  using States = my_package::RequestStreaming::AsyncService;
  engine_.AddService<my_package::RequestStreaming>()
      .ClientStreaming(&States::Requeststream_state,
                       bind_front(&StateStreamService::OpenStateStream, &state_stream_));

  // Open to everybody unless --auth-tokens is set.
  const MethodPolicy writes = RequireBearerToken(config_.write_tokens);
  // Raw List: the store's serialized snapshot goes out as it is.
  using Books = books::BookService::WithRawMethod_List<books::BookService::AsyncService>;
  engine_.AddService<books::BookService, Books>()
      .Unary(&Books::RequestList, bind_front(&BooksService::ListSerialized, &books_))
      .Unary(&Books::RequestInsert, bind_front(&BooksService::Insert, &books_), writes)
      .Unary(&Books::RequestGet, bind_front(&BooksService::Get, &books_))
      .Unary(&Books::RequestDelete, bind_front(&BooksService::Delete, &books_), writes)
      .ServerStreaming(&Books::RequestWatch, bind_front(&BooksService::Watch, &books_));
  engine_.OnShutdown([this] { books_.Close(); });

  // Raw: Detect decodes the serialized request itself (zero copy); big ones
  // on the compute pool.
  using RawOutliers = pb::Outliers::WithRawMethod_Detect<pb::Outliers::Service>;
  engine_.AddService<pb::Outliers, RawOutliers>()
      .ComputeUnary(&RawOutliers::RequestDetect,
                    [this](const grpc::ByteBuffer& request, grpc::ByteBuffer* response,
                           const CallContext& call) {
                      return outliers_.Detect(request, response, call);
                    },
                    [limit = config_.detect_offload_bytes](const grpc::ByteBuffer& request) {
                      return request.Length() > limit;
                    })
      .MaxMessageBytes(config_.max_detect_message_bytes);  // a million metrics
}

absl::Status ServerApp::Start() {
  if (absl::Status started = engine_.Start(); !started.ok()) return started;
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  for (const std::string& name : engine_.service_names()) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  return absl::OkStatus();
}

void ServerApp::Shutdown() {
  const absl::Time started = absl::Now();
  engine_.Shutdown();
  if (tracer_ != nullptr) {
    // The grace period bounds the flush too, but a server whose calls took
    // all of it still gets a moment to send the spans of those calls.
    const absl::Time grace_end =
        started + config_.engine.drain_delay + config_.engine.shutdown_grace;
    tracer_->Shutdown(std::max(grace_end, absl::Now() + absl::Seconds(1)));
  }
}

}  // namespace cqmux
