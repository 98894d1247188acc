// Entry point of the `cqmux` CLI: parses the global flags and dispatches to
// a subcommand (see help.cc for the grammar).
#include <cstring>
#include <deque>
#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/time/time.h"
#include "call_options.h"
#include "commands.h"

ABSL_FLAG(std::string, target, "",
          "Server address, HOST:PORT (default $CQMUX_TARGET, else localhost:50051).");
ABSL_FLAG(absl::Duration, timeout, absl::ZeroDuration(),
          "Per-call deadline (e.g. 500ms, 10s); 0 = 10s, and none for `books watch`.");
ABSL_FLAG(std::vector<std::string>, metadata, {},
          "Request metadata KEY=VALUE; repeat the flag for several entries.");
ABSL_FLAG(bool, json, false, "One compact JSON document per message, no headers.");
ABSL_FLAG(bool, tls, false, "Connect with TLS, verifying the server with the system's roots.");
ABSL_FLAG(std::string, tls_ca, "", "PEM root certificate(s) that sign the server's (implies --tls).");
ABSL_FLAG(std::string, tls_cert, "", "PEM client certificate for mutual TLS (implies --tls).");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls-cert.");
ABSL_FLAG(std::string, tls_server_name, "",
          "Name the server's certificate must carry, instead of the target's host.");
ABSL_FLAG(std::string, token, "",
          "Write token, sent as metadata \"authorization: Bearer TOKEN\" (default $CQMUX_TOKEN).");
ABSL_FLAG(std::string, token_file, "", "File whose first non-comment line is the write token.");

namespace {

bool IsHelpFlag(std::string_view arg) {
  return arg == "--help" || arg == "-help" || arg == "-h" || arg == "--h";
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cqmux::cli;
  absl::SetProgramUsageMessage(OverviewHelp());

  // --help is ours (absl's would list library flags instead of subcommands),
  // and --metadata accumulates across repetitions, which absl flags do not do.
  std::vector<char*> rest = {argv[0]};
  std::vector<std::string> metadata;
  std::deque<std::string> dashed;  // stable storage for rewritten flags
  bool help = false;
  std::string first_positional;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) rest.push_back(argv[i]);
      break;
    }
    if (IsHelpFlag(arg)) {
      help = true;
    } else if (arg.starts_with("--metadata=")) {
      metadata.emplace_back(arg.substr(std::strlen("--metadata=")));
    } else if (arg == "--metadata" && i + 1 < argc) {
      metadata.emplace_back(argv[++i]);
    } else if (arg.starts_with("--") && arg.size() > 2) {
      // Accept --password-stdin for --password_stdin (absl names are identifiers).
      std::string& flag = dashed.emplace_back(arg);
      for (size_t c = 2; c < flag.size() && flag[c] != '='; ++c) {
        if (flag[c] == '-') flag[c] = '_';
      }
      rest.push_back(flag.data());
    } else {
      if (first_positional.empty() && !arg.starts_with("-")) first_positional = arg;
      rest.push_back(argv[i]);
    }
  }
  if (help) {
    const std::string sub = HelpFor(first_positional);
    std::cout << (sub.empty() ? OverviewHelp() : sub);
    return kExitOk;
  }

  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(rest.size()),
                                                         rest.data());
  CallOptions options;
  options.target = absl::GetFlag(FLAGS_target);
  if (options.target.empty()) {
    const char* env = std::getenv("CQMUX_TARGET");
    options.target = env != nullptr && *env != '\0' ? env : "localhost:50051";
  }
  options.timeout = absl::GetFlag(FLAGS_timeout);
  options.json = absl::GetFlag(FLAGS_json);
  for (const std::string& entry : absl::GetFlag(FLAGS_metadata)) metadata.push_back(entry);
  for (const std::string& entry : metadata) {
    auto kv = ParseMetadata(entry);
    if (!kv.ok()) return ReportUsageError(kv.status().message());
    options.metadata.push_back(*std::move(kv));
  }
  if (options.timeout < absl::ZeroDuration()) {
    return ReportUsageError("--timeout must not be negative");
  }
  cqmux::client::TlsFlags tls;
  tls.tls = absl::GetFlag(FLAGS_tls);
  tls.ca_file = absl::GetFlag(FLAGS_tls_ca);
  tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  tls.key_file = absl::GetFlag(FLAGS_tls_key);
  tls.server_name = absl::GetFlag(FLAGS_tls_server_name);
  absl::StatusOr<cqmux::client::ChannelSecurity> security = cqmux::client::MakeChannelSecurity(tls);
  if (!security.ok()) return ReportUsageError(security.status().message());
  options.security = *std::move(security);
  // The token: --token, else --token-file, else $CQMUX_TOKEN.
  const std::string token = absl::GetFlag(FLAGS_token);
  const std::string token_file = absl::GetFlag(FLAGS_token_file);
  if (!token.empty() && !token_file.empty()) {
    return ReportUsageError("give --token or --token-file, not both");
  }
  if (!token.empty()) {
    if (absl::Status ok = cqmux::client::CheckToken(token, "--token"); !ok.ok()) {
      return ReportUsageError(ok.message());
    }
    options.token = token;
  } else if (!token_file.empty()) {
    absl::StatusOr<std::string> read = cqmux::client::ReadTokenFile(token_file);
    if (!read.ok()) return ReportUsageError(read.status().message());
    options.token = *std::move(read);
  } else if (const char* env = std::getenv("CQMUX_TOKEN"); env != nullptr && *env != '\0') {
    if (absl::Status ok = cqmux::client::CheckToken(env, "$CQMUX_TOKEN"); !ok.ok()) {
      return ReportUsageError(ok.message());
    }
    options.token = env;
  }

  if (positional.size() < 2) {
    std::cerr << OverviewHelp();
    return kExitUsage;
  }
  const std::string command = positional[1];
  const Args args(positional.begin() + 2, positional.end());
  if (command == "capitalize") return RunCapitalize(options, args);
  if (command == "users") return RunUsers(options, args);
  if (command == "books") return RunBooks(options, args);
  if (command == "displacement") return RunDisplacement(options, args);
  if (command == "stream-state") return RunStreamState(options, args);
  if (command == "outliers") return RunOutliers(options, args);
  if (command == "health") return RunHealth(options, args);
  return ReportUsageError("unknown subcommand \"" + command + "\"");
}
