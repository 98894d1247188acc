// Everything cqmux-server can be told at startup, as one value: filled from
// the command line by flags.cc, or directly by tests.
#ifndef CQMUX_SERVER_APP_SERVER_CONFIG_H_
#define CQMUX_SERVER_APP_SERVER_CONFIG_H_

#include <cstddef>
#include <memory>
#include <string>

#include "server/common/log.h"
#include "server/engine/engine.h"
#include "server/observability/tracing/tracing.h"
#include "server/security/bearer_tokens.h"
#include "server/security/tls.h"

namespace cqmux {

struct ServerConfig {
  // engine.credentials is made from `tls` by ServerApp::Create unless set.
  EngineOptions engine;
  TlsOptions tls;
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
  // Detect requests larger than this (serialized bytes) are served on the
  // compute pool instead of a queue thread.
  size_t detect_offload_bytes = 256 << 10;
  // Traces: off (no observer installed) while tracing.otlp_endpoint is empty.
  tracing::TracingOptions tracing;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_SERVER_CONFIG_H_
