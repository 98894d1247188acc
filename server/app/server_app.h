// The composition root: builds every service, binds it to one engine, and
// owns both. main() and the in-process integration tests use it alike.
#ifndef CQMUX_SERVER_APP_SERVER_APP_H_
#define CQMUX_SERVER_APP_SERVER_APP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/app/server_config.h"
#include "server/engine/engine.h"
#include "server/engine/method_policy.h"
#include "server/gateway/http_gateway.h"
#include "server/observability/metrics/metrics.h"
#include "server/observability/tracing/tracer.h"
#include "server/services/books/books_service.h"
#include "server/services/displacement/displacement_service.h"
#include "server/services/fetch/fetch_service.h"
#include "server/services/health/health_service.h"
#include "server/services/outliers/outliers_service.h"
#include "server/services/users/users_service.h"
#include "server/storage/postgres/postgres_database.h"
#include "server/storage/sqlite/sqlite_database.h"

namespace cqmux {

class ServerApp {
 public:
  // Fails on an invalid configuration (e.g. an unknown hash profile, TLS
  // files that cannot be used).
  static absl::StatusOr<std::unique_ptr<ServerApp>> Create(ServerConfig config);

  // Binds the ports (the metrics listener's first, gRPC, and HTTP unless
  // config.http.listen is empty) and starts serving; every service reports
  // SERVING.
  absl::Status Start();
  // Graceful shutdown: the engine shuts down (see Engine::Shutdown; health
  // reports NOT_SERVING first; with its shutdown hooks the HTTP gateway stops
  // accepting and the books hub's Close ends gRPC and HTTP watches alike; the
  // pools finish or drop HTTP jobs too), then HTTP requests still open get
  // what is left of the grace period. Once no call can write any more, the
  // store's writer commits what is queued and stops.
  // Then the spans still queued are exported, within --shutdown-grace (at
  // least one second after the engine stopped).
  void Shutdown();
  ~ServerApp();

  // The durable database (null with the memory and postgres stores).
  SqliteDatabase* database() { return database_.get(); }
  // The shared database (null unless --store=postgres).
  PostgresDatabase* postgres() { return postgres_.get(); }

  Engine& engine() { return engine_; }
  const ServerConfig& config() const { return config_; }
  UsersService& users() { return users_; }
  BooksService& books() { return books_; }
  StateStreamService& state_stream() { return state_stream_; }
  HealthService& health() { return health_; }
  // Null unless config.metrics_listen is set.
  Metrics* metrics() { return metrics_.get(); }
  // Null when the gateway is off.
  gateway::HttpGateway* http_gateway() { return http_gateway_.get(); }
  // The tracer when --otlp-endpoint is set, else null (e.g. for metrics of
  // spans exported and dropped).
  tracing::Tracer* tracer() { return tracer_.get(); }

 private:
  ServerApp(ServerConfig config, PasswordHasher hasher,
            std::unique_ptr<SqliteDatabase> database,
            std::unique_ptr<PostgresDatabase> postgres, std::unique_ptr<BookStore> books,
            std::unique_ptr<UserStore> users, std::shared_ptr<tracing::Tracer> tracer,
            std::unique_ptr<Metrics> metrics);
  void RegisterServices();
  // The HTTP/JSON mapping of every method (http_routes.cc): the same
  // service objects and policies as RegisterServices.
  std::vector<gateway::Route> HttpRoutes();

  const ServerConfig config_;
  // Before the services: its writer is stopped (in the destructor at the
  // latest) before the stores the services own are destroyed.
  std::unique_ptr<SqliteDatabase> database_;
  // Likewise: its workers and listener are stopped before the stores go.
  std::unique_ptr<PostgresDatabase> postgres_;
  HealthService health_;
  FetchService fetch_;
  UsersService users_;
  DisplacementService displacement_;
  StateStreamService state_stream_;
  BooksService books_;
  OutliersService outliers_;
  bool store_stopped_ = false;
  // books Insert and Delete, gRPC and HTTP alike: a bearer token when
  // --auth-tokens is set.
  const MethodPolicy writes_;
  // Before engine_: the engine (its queue threads) is gone before the tracer.
  std::shared_ptr<tracing::Tracer> tracer_;
  Engine engine_;  // destroyed before the services it calls
  // After the engine: its listener stops first, while everything its
  // callbacks read (engine, services, stores) still exists.
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<gateway::HttpGateway> http_gateway_;  // destroyed first
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_SERVER_APP_H_
