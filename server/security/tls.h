// Server-side TLS and mutual TLS: the command line's certificate files turned
// into grpc::ServerCredentials for the engine (EngineOptions::credentials).
// The files are watched by gRPC's FileWatcherCertificateProvider and re-read
// every `refresh`, so a rotated certificate is served to new connections
// without a restart; connections already open keep the one they negotiated.
#ifndef CQMUX_SERVER_SECURITY_TLS_H_
#define CQMUX_SERVER_SECURITY_TLS_H_

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cqmux {

struct TlsOptions {
  std::string cert_file;       // PEM certificate chain, leaf first; "" = plaintext
  std::string key_file;        // PEM private key of the leaf certificate
  std::string client_ca_file;  // PEM CA bundle; set: clients must present a
                               // certificate it signed (mTLS)
  // How often the files are checked for changes. gRPC counts whole seconds:
  // rounded up, at least kMinTlsRefresh.
  absl::Duration refresh = absl::Seconds(10);

  bool enabled() const { return !cert_file.empty() || !key_file.empty(); }
  bool mutual() const { return !client_ca_file.empty(); }
};

inline constexpr absl::Duration kMinTlsRefresh = absl::Seconds(1);

// "plaintext", "tls" or "mtls", for logs.
const char* TlsMode(const TlsOptions& options);

// Checks that the options make sense and the files can be used now: cert and
// key both set (or neither), a client CA only with them, each file readable
// and holding a PEM block of the expected kind (CERTIFICATE, PRIVATE KEY).
// The message names the flag and the file, never a file's content.
absl::Status ValidateTlsOptions(const TlsOptions& options);

// Validates, then makes the credentials: TLS (mTLS with a client CA, which
// then requires and verifies a client certificate on every connection) backed
// by a FileWatcherCertificateProvider, or InsecureServerCredentials when TLS
// is not enabled.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options);

}  // namespace cqmux

#endif  // CQMUX_SERVER_SECURITY_TLS_H_
