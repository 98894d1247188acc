// TLS flags -> channel credentials, and token files; see channel_security.h.
#include "channel_security.h"

#include <fstream>

#include <grpc/grpc_security_constants.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cqmux::client {
namespace {

absl::StatusOr<std::string> ReadSmallFile(absl::string_view flag, const std::string& path) {
  constexpr std::streamsize kMaxBytes = 1 << 20;
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read \"", path, "\""));
  std::string content(static_cast<size_t>(kMaxBytes) + 1, '\0');
  in.read(content.data(), kMaxBytes + 1);
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(flag, ": cannot read \"", path, "\""));
  content.resize(static_cast<size_t>(in.gcount()));
  if (content.size() > static_cast<size_t>(kMaxBytes)) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": \"", path, "\" is larger than 1 MiB"));
  }
  return content;
}

absl::StatusOr<std::string> ReadPem(absl::string_view flag, const std::string& path,
                                    absl::string_view label) {
  absl::StatusOr<std::string> pem = ReadSmallFile(flag, path);
  if (pem.ok() && pem->find(absl::StrCat(label, "-----")) == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", path, "\" holds no PEM ", label));
  }
  return pem;
}

absl::string_view Trim(absl::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

}  // namespace

void ChannelSecurity::Apply(grpc::ChannelArguments* args) const {
  if (tls && !server_name.empty()) {
    args->SetSslTargetNameOverride(server_name);
  }
}

const char* ChannelSecurity::mode() const {
  if (!tls) return "plaintext";
  return mutual ? "mtls" : "tls";
}

absl::StatusOr<ChannelSecurity> MakeChannelSecurity(const TlsFlags& flags) {
  ChannelSecurity out;
  out.tls = flags.tls || !flags.ca_file.empty() || !flags.cert_file.empty() ||
            !flags.key_file.empty();
  if (!out.tls) {
    if (!flags.server_name.empty()) {
      return absl::InvalidArgumentError("--tls-server-name needs --tls (or --tls-ca)");
    }
    out.credentials = grpc::InsecureChannelCredentials();
    return out;
  }
  if (flags.cert_file.empty() != flags.key_file.empty()) {
    return absl::InvalidArgumentError(flags.cert_file.empty() ? "--tls-key needs --tls-cert"
                                                              : "--tls-cert needs --tls-key");
  }
  grpc::SslCredentialsOptions ssl;
  if (!flags.ca_file.empty()) {
    absl::StatusOr<std::string> ca = ReadPem("--tls-ca", flags.ca_file, "CERTIFICATE");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!flags.cert_file.empty()) {
    absl::StatusOr<std::string> cert = ReadPem("--tls-cert", flags.cert_file, "CERTIFICATE");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadPem("--tls-key", flags.key_file, "PRIVATE KEY");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
    out.mutual = true;
  }
  out.credentials = grpc::SslCredentials(ssl);
  out.server_name = flags.server_name;
  return out;
}

absl::Status CheckToken(absl::string_view token, absl::string_view source) {
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat(source, " is empty"));
  if (token.size() > 4096) {
    return absl::InvalidArgumentError(absl::StrCat(source, " is longer than 4096 bytes"));
  }
  for (char c : token) {
    if (c <= ' ' || c >= 0x7f) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, " must be printable ASCII without spaces"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadSmallFile("--token-file", path);
  if (!text.ok()) return text.status();
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    line = Trim(line);
    if (line.empty() || line.front() == '#') continue;
    const std::string source = absl::StrCat("the token in \"", path, "\"");
    if (absl::Status ok = CheckToken(line, source); !ok.ok()) return ok;
    return std::string(line);
  }
  return absl::InvalidArgumentError(absl::StrCat("--token-file: \"", path, "\" has no token"));
}

std::string BearerValue(absl::string_view token) { return absl::StrCat("Bearer ", token); }

}  // namespace cqmux::client
