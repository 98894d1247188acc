// What the C++ clients (the cqmux CLI and cqmux-load) share to reach a server
// that serves TLS or mutual TLS and needs a write token: their --tls* flags
// turned into channel credentials and arguments, and the token read from a
// file. Files are read once, here, so that a bad path is reported before any
// call is made.
#ifndef CQMUX_CLIENT_COMMON_CHANNEL_SECURITY_H_
#define CQMUX_CLIENT_COMMON_CHANNEL_SECURITY_H_

#include <memory>
#include <string>

#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace cqmux::client {

// The flags, as given.
struct TlsFlags {
  bool tls = false;         // --tls: TLS with the system's root certificates
  std::string ca_file;      // --tls-ca: PEM roots that sign the server (implies --tls)
  std::string cert_file;    // --tls-cert: PEM client certificate for mTLS (implies --tls)
  std::string key_file;     // --tls-key: its private key
  std::string server_name;  // --tls-server-name: name to verify instead of the target's host
};

struct ChannelSecurity {
  bool tls = false;
  std::shared_ptr<grpc::ChannelCredentials> credentials;  // insecure when !tls
  std::string server_name;

  // Sets GRPC_SSL_TARGET_NAME_OVERRIDE_ARG when a server name was given.
  void Apply(grpc::ChannelArguments* args) const;
  // "plaintext", "tls" or "mtls".
  const char* mode() const;
  bool mutual = false;
};

// Checks the combination (--tls-cert and --tls-key together; --tls-server-name
// only with TLS) and reads the files. Errors name the flag and the file.
absl::StatusOr<ChannelSecurity> MakeChannelSecurity(const TlsFlags& flags);

// The token of a token file: its first line that is neither blank nor a
// comment ('#'), trimmed (the server's --auth-tokens format, so the same file
// can be used on both sides when it holds one token).
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Checks a token given on the command line or in the environment: printable
// ASCII without spaces, at most 4096 bytes. `source` names it in the error.
absl::Status CheckToken(absl::string_view token, absl::string_view source);

// "Bearer " + token: the value of the "authorization" metadata.
std::string BearerValue(absl::string_view token);

}  // namespace cqmux::client

#endif  // CQMUX_CLIENT_COMMON_CHANNEL_SECURITY_H_
