// Everything cqmux-server can be told at startup, as one value: filled from
// the command line by flags.cc, or directly by tests.
#ifndef CQMUX_SERVER_APP_SERVER_CONFIG_H_
#define CQMUX_SERVER_APP_SERVER_CONFIG_H_

#include <cstddef>
#include <string>

#include "server/common/log.h"
#include "server/engine/engine.h"

namespace cqmux {

struct ServerConfig {
  EngineOptions engine;
  // pb.Outliers/Detect's request limit; every other method has
  // engine.max_message_bytes.
  int max_detect_message_bytes = 64 << 20;
  LogLevel log_level = LogLevel::kInfo;
  std::string password_hash = "interactive";
  size_t max_users = 1000000;
  bool seed_books = true;
  size_t watch_backlog = 1024;
  size_t max_books = 1000000;
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_SERVER_CONFIG_H_
