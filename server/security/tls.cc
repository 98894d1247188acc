// TLS options -> grpc::ServerCredentials; see tls.h.
#include "server/security/tls.h"

#include <fstream>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cqmux {
namespace {

// Reads `path` (bounded: certificates and keys are small) and checks that it
// holds a PEM block whose label ends with `label` ("CERTIFICATE" matches
// "-----BEGIN CERTIFICATE-----", "PRIVATE KEY" also "RSA PRIVATE KEY" and
// "EC PRIVATE KEY"). Never quotes the content: it may be a private key.
absl::Status CheckPemFile(const char* flag, const std::string& path,
                          absl::string_view label) {
  constexpr std::streamsize kMaxBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read \"", path, "\""));
  }
  std::string content(static_cast<size_t>(kMaxBytes) + 1, '\0');
  in.read(content.data(), kMaxBytes + 1);
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read \"", path, "\""));
  }
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > static_cast<size_t>(kMaxBytes)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", path, "\" is larger than 1 MiB"));
  }
  size_t begin = 0;
  while ((begin = content.find("-----BEGIN ", begin)) != std::string::npos) {
    const size_t end = content.find("-----", begin + 11);
    if (end == std::string::npos) break;
    const absl::string_view found(content.data() + begin + 11, end - begin - 11);
    if (absl::EndsWith(found, label) &&
        content.find(absl::StrCat("-----END ", found, "-----"), end) != std::string::npos) {
      return absl::OkStatus();
    }
    begin = end;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      flag, ": \"", path, "\" holds no PEM ", label, " (-----BEGIN ... ", label,
      "-----)"));
}

}  // namespace

const char* TlsMode(const TlsOptions& options) {
  if (!options.enabled()) return "plaintext";
  return options.mutual() ? "mtls" : "tls";
}

absl::Status ValidateTlsOptions(const TlsOptions& options) {
  if (!options.enabled()) {
    if (options.mutual()) {
      return absl::InvalidArgumentError(
          "--tls-client-ca needs --tls-cert and --tls-key (mTLS is TLS with "
          "client certificates)");
    }
    return absl::OkStatus();
  }
  if (options.cert_file.empty()) {
    return absl::InvalidArgumentError("--tls-key needs --tls-cert");
  }
  if (options.key_file.empty()) {
    return absl::InvalidArgumentError("--tls-cert needs --tls-key");
  }
  if (options.refresh < kMinTlsRefresh) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-refresh must be at least ", absl::FormatDuration(kMinTlsRefresh)));
  }
  if (absl::Status s = CheckPemFile("--tls-cert", options.cert_file, "CERTIFICATE");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckPemFile("--tls-key", options.key_file, "PRIVATE KEY");
      !s.ok()) {
    return s;
  }
  if (options.mutual()) {
    if (absl::Status s =
            CheckPemFile("--tls-client-ca", options.client_ca_file, "CERTIFICATE");
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsOptions& options) {
  if (absl::Status valid = ValidateTlsOptions(options); !valid.ok()) return valid;
  if (!options.enabled()) return grpc::InsecureServerCredentials();
  const int64_t refresh_s =
      absl::ToInt64Seconds(absl::Ceil(options.refresh, absl::Seconds(1)));
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      options.key_file, options.cert_file, options.client_ca_file,
      static_cast<unsigned int>(refresh_s));
  grpc::experimental::TlsServerCredentialsOptions tls(provider);
  tls.watch_identity_key_cert_pairs();
  if (options.mutual()) {
    tls.watch_root_certs();
    tls.set_cert_request_type(GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  } else {
    tls.set_cert_request_type(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  }
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::experimental::TlsServerCredentials(tls);
  if (credentials == nullptr) {
    return absl::InternalError("gRPC could not make TLS server credentials");
  }
  return credentials;
}

}  // namespace cqmux
