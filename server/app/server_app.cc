// Service construction and the method table; see server_app.h.
#include "server/app/server_app.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "books.grpc.pb.h"
#include "server/app/app_metrics.h"
#include "defs.grpc.pb.h"
#include "health.grpc.pb.h"
#include "outliers.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/common/log.h"
#include "server/storage/postgres/postgres_book_store.h"
#include "server/storage/postgres/postgres_user_store.h"
#include "server/storage/sqlite/sqlite_book_store.h"
#include "server/storage/sqlite/sqlite_user_store.h"
#include "unary.grpc.pb.h"
#include "users.grpc.pb.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

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
  // List has the default message limit, so the book store is bounded by it.
  const size_t max_list_bytes = static_cast<size_t>(config.engine.max_message_bytes);
  std::unique_ptr<SqliteDatabase> database;
  std::unique_ptr<PostgresDatabase> postgres;
  std::unique_ptr<BookStore> books;
  std::unique_ptr<UserStore> users;
  if (config.store == StoreKind::kMemory) {
    books = std::make_unique<InMemoryBookStore>(config.max_books, max_list_bytes);
    users = std::make_unique<InMemoryUserStore>(config.max_users);
  } else if (config.store == StoreKind::kPostgres) {
    absl::StatusOr<std::unique_ptr<PostgresDatabase>> opened =
        PostgresDatabase::Open(config.postgres);
    if (!opened.ok()) return opened.status();
    postgres = *std::move(opened);
    absl::StatusOr<std::unique_ptr<PostgresBookStore>> book_store =
        PostgresBookStore::Open(postgres.get(), config.max_books, max_list_bytes);
    if (!book_store.ok()) return book_store.status();
    absl::StatusOr<std::unique_ptr<PostgresUserStore>> user_store =
        PostgresUserStore::Open(postgres.get(), config.max_users);
    if (!user_store.ok()) return user_store.status();
    books = *std::move(book_store);
    users = *std::move(user_store);
    Log(LogLevel::kInfo, "store: postgres %s (schema %s, pool of %d), %d books, %d users",
        postgres->where(), postgres->created() ? "created" : "up to date",
        config.postgres.pool_size, books->size(), users->size());
  } else {
    absl::StatusOr<std::unique_ptr<SqliteDatabase>> opened =
        SqliteDatabase::Open(SqliteOptions{config.data_dir, config.durability});
    if (!opened.ok()) return opened.status();
    database = *std::move(opened);
    absl::StatusOr<std::unique_ptr<SqliteBookStore>> book_store =
        SqliteBookStore::Open(database.get(), config.max_books, max_list_bytes);
    if (!book_store.ok()) return book_store.status();
    absl::StatusOr<std::unique_ptr<SqliteUserStore>> user_store =
        SqliteUserStore::Open(database.get(), config.max_users);
    if (!user_store.ok()) return user_store.status();
    books = *std::move(book_store);
    users = *std::move(user_store);
    Log(LogLevel::kInfo, "store: %s (%s, %s), %d books, %d users", database->path(),
        database->created() ? "created" : "opened",
        config.durability == Durability::kFsync ? "durability fsync" : "durability os",
        books->size(), users->size());
  }
  // HTTPS with the gRPC side's certificate (and client CA for mTLS).
  config.http.tls_cert_file = config.tls.cert_file;
  config.http.tls_key_file = config.tls.key_file;
  config.http.tls_client_ca_file = config.tls.client_ca_file;
  // Tracing off installs nothing: the engine's calls then pay one null check.
  std::shared_ptr<tracing::Tracer> tracer;
  if (!config.tracing.otlp_endpoint.empty()) {
    absl::StatusOr<std::shared_ptr<tracing::Tracer>> made =
        tracing::MakeOtlpTracer(config.tracing);
    if (!made.ok()) return made.status();
    tracer = *std::move(made);
    config.engine.observers.push_back(tracer);
  }
  std::unique_ptr<Metrics> metrics;
  if (!config.metrics_listen.empty()) {
    metrics = std::make_unique<Metrics>();
    config.engine.observers.push_back(metrics->call_observer());
  }
  return std::unique_ptr<ServerApp>(new ServerApp(std::move(config), *hasher,
                                                  std::move(database), std::move(postgres),
                                                  std::move(books),
                                                  std::move(users), std::move(tracer),
                                                  std::move(metrics)));
}

ServerApp::ServerApp(ServerConfig config, PasswordHasher hasher,
                     std::unique_ptr<SqliteDatabase> database,
                     std::unique_ptr<PostgresDatabase> postgres, std::unique_ptr<BookStore> books,
                     std::unique_ptr<UserStore> users, std::shared_ptr<tracing::Tracer> tracer,
                     std::unique_ptr<Metrics> metrics)
    : config_(std::move(config)),
      database_(std::move(database)),
      postgres_(std::move(postgres)),
      users_(hasher, std::move(users)),
      books_(BooksOptions{config_.seed_books, config_.watch_backlog, config_.max_books,
                          static_cast<size_t>(config_.engine.max_message_bytes)},
             std::move(books)),
      writes_(RequireBearerToken(config_.write_tokens)),
      tracer_(std::move(tracer)),
      engine_(config_.engine),
      metrics_(std::move(metrics)) {
  SetLogLevel(config_.log_level);
  RegisterServices();
  if (!config_.http.listen.empty()) {
    http_gateway_ = std::make_unique<gateway::HttpGateway>(config_.http, HttpRoutes());
    // Like gRPC: HTTP requests are still taken during the drain delay
    // (/healthz answers 503 then), no new connections once it is over.
    engine_.OnShutdown([this] { http_gateway_->StopAccepting(); });
  }
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
      .BlockingAsyncUnary(&UsersAsync::RequestCreateUser,
                          bind_front(&UsersService::CreateUser, &users_),
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

  // writes_: open to everybody unless --auth-tokens is set.
  const MethodPolicy& writes = writes_;
  // Raw List: the store's serialized snapshot goes out as it is.
  using Books = books::BookService::WithRawMethod_List<books::BookService::AsyncService>;
  engine_.AddService<books::BookService, Books>()
      .AsyncUnary(&Books::RequestList, bind_front(&BooksService::ListSerialized, &books_))
      .AsyncUnary(&Books::RequestInsert, bind_front(&BooksService::Insert, &books_), writes)
      .AsyncUnary(&Books::RequestGet, bind_front(&BooksService::Get, &books_))
      .AsyncUnary(&Books::RequestDelete, bind_front(&BooksService::Delete, &books_), writes)
      .ServerStreaming(&Books::RequestWatch, bind_front(&BooksService::Watch, &books_));
  engine_.OnShutdown([this] { books_.Close(); });
  // The server stops taking calls: the metrics listener stops meanwhile
  // (it takes civetweb up to 2 s), not after the grace period.
  engine_.OnShutdown([this] {
    if (metrics_ != nullptr) metrics_->BeginStop();
  });

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
  // Bound first, so that a taken metrics port fails the start before any
  // client could reach the gRPC port.
  if (metrics_ != nullptr) {
    if (absl::Status listening = metrics_->Listen(config_.metrics_listen);
        !listening.ok()) {
      return listening;
    }
  }
  if (absl::Status started = engine_.Start(); !started.ok()) return started;
  if (http_gateway_ != nullptr) {
    if (absl::Status started = http_gateway_->Start(); !started.ok()) {
      engine_.Shutdown();
      return started;
    }
  }
  if (metrics_ != nullptr) {
    RegisterAppMetrics(*this, *metrics_);
    metrics_->Publish();  // the engine's queues and pools exist now
  }
  health_.SetStatus("", grpc::health::v1::HealthCheckResponse::SERVING);
  for (const std::string& name : engine_.service_names()) {
    health_.SetStatus(name, grpc::health::v1::HealthCheckResponse::SERVING);
  }
  if (postgres_ != nullptr) {
    // The services that need the shared database follow its reachability
    // (told now, then on every change); the others, and the server as a
    // whole (""), stay SERVING. After Drain() health ignores this.
    postgres_->SetAvailabilityListener([this](bool available) {
      const auto status = available ? grpc::health::v1::HealthCheckResponse::SERVING
                                    : grpc::health::v1::HealthCheckResponse::NOT_SERVING;
      health_.SetStatus(books::BookService::service_full_name(), status);
      health_.SetStatus(Users::service_full_name(), status);
    });
  }
  return absl::OkStatus();
}

void ServerApp::Shutdown() {
  const absl::Time grace_end =
      absl::Now() + config_.engine.drain_delay + config_.engine.shutdown_grace;
  engine_.Shutdown();
  if (http_gateway_ != nullptr) http_gateway_->Shutdown(grace_end);
  if (tracer_ != nullptr) {
    // The grace period bounds the flush too, but a server whose calls took
    // all of it still gets a moment to send the spans of those calls.
    tracer_->Shutdown(std::max(grace_end, absl::Now() + absl::Seconds(1)));
  }
  // Every call, gRPC or HTTP, has ended now, so every write a call queued
  // was answered (its completion woke the call), and none can be queued any
  // more.
  if (metrics_ != nullptr) metrics_->Stop();
  if (postgres_ != nullptr && !store_stopped_) {
    store_stopped_ = true;
    postgres_->SetAvailabilityListener(nullptr);
    postgres_->Stop();  // answers every queued job, closes its connections
    Log(LogLevel::kInfo, "store: postgres connections closed");
  }
  if (database_ != nullptr && !store_stopped_) {
    store_stopped_ = true;
    database_->Stop();
    const uint64_t commits = database_->commits();
    const uint64_t writes = database_->committed_writes();
    Log(LogLevel::kInfo, "store: %d writes in %d commits (%.1f writes per commit)", writes,
        commits, commits == 0 ? 0.0 : static_cast<double>(writes) / static_cast<double>(commits));
  }
}

ServerApp::~ServerApp() { Shutdown(); }

}  // namespace cqmux
