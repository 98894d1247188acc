// Command-line flags of cqmux-server. Flags are spelled with dashes
// (--shutdown-grace); the underscore spelling absl uses is accepted too.
#ifndef CQMUX_SERVER_APP_FLAGS_H_
#define CQMUX_SERVER_APP_FLAGS_H_

#include "absl/status/statusor.h"
#include "server/app/server_config.h"

namespace cqmux {

// Parses argv. Prints --help / --version itself and exits 0; exits 1 with a
// message on an unknown flag or an invalid value.
ServerConfig ParseServerFlags(int argc, char** argv);

}  // namespace cqmux

#endif  // CQMUX_SERVER_APP_FLAGS_H_
