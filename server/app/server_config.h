// Everything cqmux-server can be told at startup, as one value: filled from
// the command line by flags.cc, or directly by tests.
#ifndef CQMUX_SERVER_APP_SERVER_CONFIG_H_
#define CQMUX_SERVER_APP_SERVER_CONFIG_H_

#include <cstddef>
#include <memory>
#include <string>

#include "server/common/log.h"
#include "server/engine/engine.h"
#include "server/gateway/http_gateway.h"
#include "server/observability/tracing/tracing.h"
#include "server/security/bearer_tokens.h"
#include "server/security/tls.h"
#include "server/storage/postgres/postgres_database.h"
#include "server/storage/sqlite/sqlite_database.h"

namespace cqmux {

enum class StoreKind { kSqlite, kMemory, kPostgres };

struct ServerConfig {
  // engine.credentials is made from `tls` by ServerApp::Create unless set.
  EngineOptions engine;
  TlsOptions tls;
  // The HTTP/JSON gateway and console; http.listen "" = off. Its TLS files
  // are taken from `tls` by ServerApp::Create (one certificate for both).
  gateway::HttpGatewayOptions http;
  // Set: books Insert and Delete need one of these bearer tokens.
  std::shared_ptr<const BearerTokens> write_tokens;
  // pb.Outliers/Detect's request limit; every other method has
  // engine.max_message_bytes.
  int max_detect_message_bytes = 64 << 20;
  LogLevel log_level = LogLevel::kInfo;
  std::string password_hash = "interactive";
  size_t max_users = 1000000;
  bool seed_books = true;
  size_t watch_backlog = 1024;
  size_t max_books = 1000000;
  // Where books and users live. The command line defaults to sqlite under
  // /var/lib/cqmux (flags.cc); a config built in code (the in-process tests)
  // defaults to memory, so that no test writes to a shared directory.
  StoreKind store = StoreKind::kMemory;
  std::string data_dir;
  Durability durability = Durability::kFsync;
  // --store=postgres: the connection (conninfo "" = libpq's PG* variables),
  // pool size and timeouts.
  PostgresOptions postgres;
  // Detect requests larger than this (serialized bytes) are served on the
  // compute pool instead of a queue thread.
  size_t detect_offload_bytes = 256 << 10;
  // Admin listener serving Prometheus metrics at /metrics (HOST:PORT, port 0
  // picks a free one). Empty: no metrics at all, calls are not observed.
  std::string metrics_listen;
  // Traces: off (no observer installed) while tracing.otlp_endpoint is empty.
  tracing::TracingOptions tracing;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_SERVER_CONFIG_H_
