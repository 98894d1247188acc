// The composition root: builds every service, binds it to one engine, and
// owns both. main() and the in-process integration tests use it alike.
#ifndef CQMUX_SERVER_APP_SERVER_APP_H_
#define CQMUX_SERVER_APP_SERVER_APP_H_

#include <memory>

#include "absl/status/statusor.h"
#include "server/app/server_config.h"
#include "server/engine/engine.h"
#include "server/observability/tracing/tracer.h"
#include "server/services/books/books_service.h"
#include "server/services/displacement/displacement_service.h"
#include "server/services/fetch/fetch_service.h"
#include "server/services/health/health_service.h"
#include "server/services/outliers/outliers_service.h"
#include "server/services/users/users_service.h"

namespace cqmux {

class ServerApp {
 public:
  // Fails on an invalid configuration (e.g. an unknown hash profile, TLS
  // files that cannot be used).
  static absl::StatusOr<std::unique_ptr<ServerApp>> Create(ServerConfig config);

  // Binds the ports and starts serving; every service reports SERVING.
  absl::Status Start();
  // Graceful shutdown (see Engine::Shutdown); health reports NOT_SERVING first.
  // Then the spans still queued are exported, within --shutdown-grace (at
  // least one second after the engine stopped).
  void Shutdown();

  Engine& engine() { return engine_; }
  const ServerConfig& config() const { return config_; }
  UsersService& users() { return users_; }
  BooksService& books() { return books_; }
  StateStreamService& state_stream() { return state_stream_; }
  HealthService& health() { return health_; }
  // The tracer when --otlp-endpoint is set, else null (e.g. for metrics of
  // spans exported and dropped).
  tracing::Tracer* tracer() { return tracer_.get(); }

 private:
  ServerApp(ServerConfig config, PasswordHasher hasher,
            std::shared_ptr<tracing::Tracer> tracer);
  void RegisterServices();

  const ServerConfig config_;
  HealthService health_;
  FetchService fetch_;
  UsersService users_;
  DisplacementService displacement_;
  StateStreamService state_stream_;
  BooksService books_;
  OutliersService outliers_;
  // Before engine_: the engine (its queue threads) is gone before the tracer.
  std::shared_ptr<tracing::Tracer> tracer_;
  Engine engine_;  // last: destroyed first, while the services still exist
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_SERVER_APP_H_
