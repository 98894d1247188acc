// Flag definitions, dash-spelling, and a --help that explains every flag.
#include "server/app/flags.h"

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/match.h"
#include "absl/time/time.h"
#include "server/common/flag_help.h"
#include "server/security/bearer_tokens.h"
#include "server/security/tls.h"

ABSL_FLAG(std::vector<std::string>, listen, {"0.0.0.0:50051"},
          "Address to serve on, HOST:PORT ([::1]:PORT for IPv6, port 0 picks "
          "a free one). Repeat the flag (or separate with commas) to serve "
          "every service on several addresses, e.g. the tutorials' ports "
          "--listen=0.0.0.0:9778 --listen=0.0.0.0:9999.");
ABSL_FLAG(int, threads, 0,
          "Completion queues, each polled by one thread. 0 = one per CPU this "
          "process may run on (online CPUs unless limited by taskset).");
ABSL_FLAG(bool, pin_threads, false,
          "Pin queue thread i to the i-th CPU this process may run on.");
ABSL_FLAG(int, requests_per_queue, 16,
          "Requests kept posted per method per queue; one is re-posted as soon "
          "as a call arrives, so this bounds only how many calls can arrive "
          "within one poll, not concurrency. Also the cap of idle call objects "
          "kept for reuse per method per queue.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "On SIGINT/SIGTERM, how long in-flight calls may take to finish "
          "before they are cancelled (e.g. 10s, 500ms).");
ABSL_FLAG(absl::Duration, drain_delay, absl::ZeroDuration(),
          "On SIGINT/SIGTERM, how long health reports NOT_SERVING while new "
          "calls are still served, before the server stops taking calls and "
          "--shutdown-grace starts: time for load balancers and "
          "health-checking clients to move away (a few seconds behind a load "
          "balancer; 0 when nothing checks health).");
ABSL_FLAG(int, max_message_bytes, 64 << 20,
          "Largest request or response message in bytes; larger requests fail "
          "with RESOURCE_EXHAUSTED. The default (64 MiB) fits a Detect request "
          "of a million metrics.");
ABSL_FLAG(int, blocking_threads, 2,
          "Worker threads for deliberately slow handlers (password hashing in "
          "CreateUser), so that queue threads never block.");
ABSL_FLAG(int, blocking_queue, 256,
          "Slow requests that may wait for a worker; beyond that CreateUser "
          "fails fast with RESOURCE_EXHAUSTED instead of queueing without bound.");
ABSL_FLAG(int, compute_threads, 1,
          "Worker threads, at a lower CPU priority than the queue threads, "
          "for heavy requests (Detect above --detect-offload-bytes), so that "
          "a big request never holds up the small calls on its queue thread.");
ABSL_FLAG(int, compute_queue, 64,
          "Heavy requests that may wait for a compute thread; beyond that "
          "they fail fast with RESOURCE_EXHAUSTED.");
ABSL_FLAG(int64_t, detect_offload_bytes, 256 << 10,
          "Detect requests larger than this many bytes (about 25 bytes per "
          "metric: the default is ~10,000 metrics, ~0.1 ms of work) are "
          "decoded and computed on the compute pool; smaller ones on the "
          "queue thread, where they cost less than the hand-over.");
ABSL_FLAG(bool, coalesce_writes, false,
          "Send the responses of each batch of completion-queue events as one "
          "socket write per connection instead of one per response (fewer "
          "syscalls for many small calls; see BENCHMARKS.md). Buffers are "
          "bounded (64 KiB per connection) and flushed before a queue thread "
          "can block.");
ABSL_FLAG(std::string, password_hash, "interactive",
          "libsodium crypto_pwhash (Argon2id) cost profile for stored "
          "passwords: interactive (~64 MiB and tens of ms per hash), moderate, "
          "sensitive, or min (weak; for tests only).");
ABSL_FLAG(int64_t, max_users, 1000000,
          "Users the in-memory store may hold; CreateUser beyond that fails "
          "with RESOURCE_EXHAUSTED.");
ABSL_FLAG(bool, seed_books, true,
          "Start with the tutorial's book 123, \"A Tale of Two Cities\" by "
          "Charles Dickens. --seed-books=false starts empty.");
ABSL_FLAG(int64_t, watch_backlog, 1024,
          "Books a Watch stream may fall behind the store before it is ended "
          "with RESOURCE_EXHAUSTED (other watchers are not affected).");
ABSL_FLAG(int64_t, max_books, 1000000,
          "Books the in-memory store may hold; Insert beyond that fails with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain (leaf first) for TLS on every --listen address; "
          "needs --tls-key. Empty: plaintext. The files are re-read when they "
          "change (see --tls-refresh), so a certificate is rotated without a "
          "restart: replace them atomically (rename, or swap a symlinked "
          "directory); new connections get the new one, open ones keep theirs.");
ABSL_FLAG(std::string, tls_key, "",
          "PEM private key of --tls-cert (readable only by the server's user).");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA certificate(s) for mutual TLS: every client must present a "
          "certificate signed by one of them, or the handshake fails (for every "
          "method, health included). Needs --tls-cert and --tls-key; re-read "
          "like them.");
ABSL_FLAG(absl::Duration, tls_refresh, absl::Seconds(10),
          "How often the --tls-* files are checked for changes: a rotated "
          "certificate is served to new connections at most this long after "
          "the files changed. Whole seconds (rounded up), at least 1s.");
ABSL_FLAG(std::string, auth_tokens, "",
          "File of bearer tokens, one per line (blank lines and lines starting "
          "with # are ignored; a token is printable ASCII without spaces). "
          "When set, books.BookService/Insert and /Delete need the metadata "
          "\"authorization: Bearer TOKEN\" with one of them, else "
          "UNAUTHENTICATED; every other method stays open. Read at startup; "
          "an unreadable file or one without a token is an error. Tokens are "
          "never logged.");
ABSL_FLAG(std::string, log_level, "info",
          "Least severe log level printed: debug, info, warning or error. "
          "debug logs each CreateUser call's metadata (never the password).");

namespace cqmux {
namespace {

constexpr char kUsage[] =
    "cqmux-server: one asynchronous gRPC server multiplexing rpc.Fetch, Users, "
    "books.BookService, my_package.DisplacementService, "
    "my_package.RequestStreaming and pb.Outliers, plus grpc.health.v1.Health "
    "and server reflection.\n\nUsage: cqmux-server [--flag=value ...]";

// "--shutdown-grace=1s" -> "--shutdown_grace=1s"; repeated --listen values
// are merged so that each occurrence adds an address.
std::vector<std::string> NormalizeArgs(int argc, char** argv) {
  std::vector<std::string> args = {argv[0]};
  std::vector<std::string> listen;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") {
      for (; i < argc; ++i) args.push_back(argv[i]);
      break;
    }
    if (absl::StartsWith(arg, "--")) {
      const size_t eq = arg.find('=');
      std::string name = arg.substr(2, eq == std::string::npos ? arg.npos : eq - 2);
      absl::StrReplaceAll({{"-", "_"}}, &name);
      std::string value;
      bool has_value = eq != std::string::npos;
      if (has_value) value = arg.substr(eq + 1);
      if (name == "listen") {
        if (!has_value && i + 1 < argc) value = argv[++i];
        for (absl::string_view a : absl::StrSplit(value, ',', absl::SkipEmpty())) {
          listen.emplace_back(a);
        }
        continue;
      }
      arg = "--" + name + (has_value ? "=" + value : "");
    }
    args.push_back(std::move(arg));
  }
  if (!listen.empty()) args.push_back("--listen=" + absl::StrJoin(listen, ","));
  return args;
}

[[noreturn]] void Fail(const std::string& message) {
  std::fprintf(stderr, "cqmux-server: %s (see --help)\n", message.c_str());
  std::exit(1);
}

}  // namespace

ServerConfig ParseServerFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) {
    PrintFlagHelp(kUsage, "server/app/flags.cc",
                  "\nSignals: SIGINT or SIGTERM start a graceful shutdown (health "
                  "goes NOT_SERVING, new calls are still served for "
                  "--drain-delay, then in-flight calls get --shutdown-grace, "
                  "slow requests still queued are dropped); the exit code is "
                  "0.\n");
    std::exit(0);
  }
  absl::SetProgramUsageMessage(kUsage);
  std::vector<std::string> normalized = NormalizeArgs(argc, argv);
  std::vector<char*> raw;
  for (std::string& a : normalized) raw.push_back(a.data());
  std::vector<char*> rest = absl::ParseCommandLine(static_cast<int>(raw.size()), raw.data());
  if (rest.size() > 1) Fail(std::string("unexpected argument \"") + rest[1] + "\"");

  ServerConfig config;
  config.engine.listen = absl::GetFlag(FLAGS_listen);
  if (config.engine.listen.empty()) Fail("--listen needs at least one HOST:PORT");
  config.engine.threads = absl::GetFlag(FLAGS_threads);
  if (config.engine.threads < 0 || config.engine.threads > 1024) {
    Fail("--threads must be between 0 and 1024");
  }
  config.engine.pin_threads = absl::GetFlag(FLAGS_pin_threads);
  config.engine.requests_per_queue = absl::GetFlag(FLAGS_requests_per_queue);
  if (config.engine.requests_per_queue < 1 || config.engine.requests_per_queue > 10000) {
    Fail("--requests-per-queue must be between 1 and 10000");
  }
  config.engine.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  if (config.engine.shutdown_grace < absl::ZeroDuration()) {
    Fail("--shutdown-grace must not be negative");
  }
  config.engine.drain_delay = absl::GetFlag(FLAGS_drain_delay);
  if (config.engine.drain_delay < absl::ZeroDuration()) {
    Fail("--drain-delay must not be negative");
  }
  config.engine.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (config.engine.max_message_bytes < 1024) Fail("--max-message-bytes must be at least 1024");
  config.engine.blocking_threads = absl::GetFlag(FLAGS_blocking_threads);
  if (config.engine.blocking_threads < 1) Fail("--blocking-threads must be at least 1");
  config.engine.blocking_queue = absl::GetFlag(FLAGS_blocking_queue);
  if (config.engine.blocking_queue < 1) Fail("--blocking-queue must be at least 1");
  config.engine.compute_threads = absl::GetFlag(FLAGS_compute_threads);
  if (config.engine.compute_threads < 1) Fail("--compute-threads must be at least 1");
  config.engine.compute_queue = absl::GetFlag(FLAGS_compute_queue);
  if (config.engine.compute_queue < 1) Fail("--compute-queue must be at least 1");
  const int64_t offload = absl::GetFlag(FLAGS_detect_offload_bytes);
  if (offload < 0) Fail("--detect-offload-bytes must not be negative");
  config.detect_offload_bytes = static_cast<size_t>(offload);
  config.engine.coalesce_writes = absl::GetFlag(FLAGS_coalesce_writes);
  config.password_hash = absl::GetFlag(FLAGS_password_hash);
  const int64_t max_users = absl::GetFlag(FLAGS_max_users);
  if (max_users < 1) Fail("--max-users must be at least 1");
  config.max_users = static_cast<size_t>(max_users);
  config.seed_books = absl::GetFlag(FLAGS_seed_books);
  const int64_t backlog = absl::GetFlag(FLAGS_watch_backlog);
  if (backlog < 1) Fail("--watch-backlog must be at least 1");
  config.watch_backlog = static_cast<size_t>(backlog);
  const int64_t max_books = absl::GetFlag(FLAGS_max_books);
  if (max_books < 1) Fail("--max-books must be at least 1");
  config.max_books = static_cast<size_t>(max_books);
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &config.log_level)) {
    Fail("--log-level must be debug, info, warning or error");
  }
  config.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  config.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config.tls.refresh = absl::GetFlag(FLAGS_tls_refresh);
  if (config.tls.refresh < kMinTlsRefresh) {
    Fail("--tls-refresh must be at least " + absl::FormatDuration(kMinTlsRefresh));
  }
  if (absl::Status tls = ValidateTlsOptions(config.tls); !tls.ok()) {
    Fail(std::string(tls.message()));
  }
  if (const std::string path = absl::GetFlag(FLAGS_auth_tokens); !path.empty()) {
    absl::StatusOr<BearerTokens> tokens = BearerTokens::FromFile(path);
    if (!tokens.ok()) Fail(std::string(tokens.status().message()));
    config.write_tokens = std::make_shared<const BearerTokens>(*std::move(tokens));
  }
  return config;
}

}  // namespace cqmux
