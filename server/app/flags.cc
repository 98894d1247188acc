// Flag definitions, dash-spelling, and a --help that explains every flag.
#include "server/app/flags.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
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
ABSL_FLAG(int, max_message_bytes, 4 << 20,
          "Largest request message, in bytes, of every method but Detect (for "
          "a client stream: of each message). A larger one fails with "
          "RESOURCE_EXHAUSTED before any handler sees it. It also bounds the "
          "book store so that List's answer always fits: 4 MiB is the default "
          "receive limit of gRPC clients, so List is never too large for them, "
          "and holds thousands of books.");
ABSL_FLAG(int, max_detect_message_bytes, 64 << 20,
          "Largest pb.Outliers/Detect request in bytes; the default (64 MiB) "
          "fits a request of a million metrics. gRPC itself only has a "
          "server-wide limit, the larger of this and --max-message-bytes: a "
          "request to any method is buffered up to that size before it is "
          "rejected.");
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
          "Users the store may hold; CreateUser beyond that fails with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(bool, seed_books, true,
          "Start with the tutorial's book 123, \"A Tale of Two Cities\" by "
          "Charles Dickens, when the store is new (a new --data-dir, or "
          "--store=memory); a book deleted later stays deleted across "
          "restarts. --seed-books=false starts empty.");
ABSL_FLAG(int64_t, watch_backlog, 1024,
          "Books a Watch stream may fall behind the store before it is ended "
          "with RESOURCE_EXHAUSTED (other watchers are not affected).");
ABSL_FLAG(int64_t, max_books, 1000000,
          "Books the store may hold; Insert beyond that fails with "
          "RESOURCE_EXHAUSTED.");
ABSL_FLAG(std::string, store, "sqlite",
          "Where books and users live. sqlite: durable, in --data-dir (an "
          "embedded SQLite database in WAL mode; a write is answered once it "
          "is on disk, see --durability). postgres: in the PostgreSQL "
          "database of --postgres, shared by every replica pointed at it "
          "(README \"Shared store: PostgreSQL\"). memory: in RAM only, lost "
          "when the process stops (benchmarks, tests).");
ABSL_FLAG(std::string, postgres, "",
          "--store=postgres: the database, as a libpq connection string "
          "(\"host=db port=5432 dbname=cqmux user=cqmux\") or URI "
          "(postgresql://cqmux@db/cqmux). Empty: libpq's standard environment "
          "variables (PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD, "
          "PGSSLMODE, ...; a password is best kept in PGPASSFILE). The schema is "
          "created or migrated at startup; the database must be reachable "
          "then (exit code 1 otherwise).");
ABSL_FLAG(int64_t, postgres_pool_size, 4,
          "--store=postgres: connections (each served by its own thread) that "
          "run the store's statements; up to 256 more requests per connection "
          "wait for one, beyond that calls fail fast with RESOURCE_EXHAUSTED. "
          "Each replica also holds one more connection that listens for "
          "inserted books (Watch).");
ABSL_FLAG(absl::Duration, postgres_connect_timeout, absl::Seconds(5),
          "--store=postgres: how long one connection attempt may take (whole "
          "seconds, at least 2s: libpq's connect_timeout).");
ABSL_FLAG(absl::Duration, postgres_statement_timeout, absl::Seconds(5),
          "--store=postgres: longest a statement may run on the server "
          "(statement_timeout); one that runs longer fails with UNAVAILABLE. "
          "0 = no limit.");
ABSL_FLAG(std::string, data_dir, "/var/lib/cqmux",
          "Directory of the sqlite store (created if missing; the database "
          "is DIR/cqmux.db with its -wal file). One server per directory: a "
          "second one fails at startup. A file from a newer cqmux, or a "
          "corrupt or truncated one, is refused at startup (exit code 1).");
ABSL_FLAG(std::string, durability, "fsync",
          "When the sqlite store answers a write. fsync: after the write's "
          "group commit was fsynced: it survives a process crash and a power "
          "cut (writes arriving while a commit runs share the next one). os: "
          "after it was handed to the operating system (synchronous=NORMAL, "
          "fsync only at checkpoints): it survives a process crash, but a "
          "power cut or kernel crash may lose the last writes (never corrupt "
          "the file).");
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
ABSL_FLAG(int, max_concurrent_streams, 1024,
          "Calls one connection may have open at once (HTTP/2 "
          "MAX_CONCURRENT_STREAMS). A client's further calls on that "
          "connection wait until one ends or their deadline passes. An open "
          "stream holds about 16-20 KiB of server memory, so 1024 caps a "
          "connection at about 20 MiB and still lets one client multiplex a "
          "thousand watches.");
ABSL_FLAG(int64_t, memory_quota_bytes, 0,
          "Memory gRPC may use for the whole server: connections, streams, "
          "call arenas, messages being received. Above it new connections are "
          "refused, idle ones closed and streams cancelled (RESOURCE_EXHAUSTED) "
          "until usage is back under. 0 = half of the memory this process may "
          "use (its cgroup's memory.max, else physical RAM; at least the "
          "largest message limit), leaving the rest to the stores, Detect's "
          "buffers and password hashing.");
ABSL_FLAG(absl::Duration, max_connection_idle, absl::InfiniteDuration(),
          "A connection without calls for this long is sent a GOAWAY and "
          "closed; a client that comes back reconnects on its next call "
          "without an error. Off (inf) by default: gRPC runs this and "
          "--max-connection-age as a filter on every call, ~7% of a small "
          "call's CPU, and the memory quota already closes idle connections "
          "when memory runs short. 0 or inf = never.");
ABSL_FLAG(absl::Duration, max_connection_age, absl::InfiniteDuration(),
          "A connection this old (gRPC adds +-10% jitter) is sent a GOAWAY so "
          "that its client reconnects, which lets load balancers spread "
          "clients over servers added since. New calls move to the new "
          "connection at once; calls already open keep running for "
          "--max-connection-age-grace. Set it (e.g. 1h: hours, see README "
          "\"Limits\") when clients reach the server through a TCP load "
          "balancer or DNS, which cannot rebalance long-lived HTTP/2 "
          "connections; off by default for the per-call cost above. 0 or inf "
          "= never.");
ABSL_FLAG(absl::Duration, max_connection_age_grace, absl::InfiniteDuration(),
          "How long calls open on a connection past --max-connection-age may "
          "continue before it is closed. The default (inf) never cuts a call: "
          "a Watch stream stays on its old connection until it ends, and only "
          "that connection lingers. A finite grace moves long-lived streams "
          "too, but they then end with UNAVAILABLE and must be reopened (a "
          "reopened Watch misses the books inserted in between).");
ABSL_FLAG(absl::Duration, keepalive_time, absl::Minutes(1),
          "Ping a connection after this long without activity to find clients "
          "that vanished without closing it (a dead peer would otherwise hold "
          "its streams, e.g. open watches, forever). inf = never.");
ABSL_FLAG(absl::Duration, keepalive_timeout, absl::Seconds(20),
          "Close a connection whose keepalive ping is not answered within this "
          "time.");
ABSL_FLAG(absl::Duration, min_client_ping_interval, absl::Seconds(10),
          "Keepalive enforcement: a client ping sooner than this after its "
          "previous one, with no data in between, is a strike. 10s admits the "
          "keepalive settings clients use (gRPC's Go and Java clients cannot "
          "ping more often) and stops ping floods.");
ABSL_FLAG(int, max_ping_strikes, 2,
          "Strikes (see --min-client-ping-interval) after which a connection "
          "is closed with GOAWAY ENHANCE_YOUR_CALM \"too_many_pings\" (the "
          "client's calls fail with UNAVAILABLE and gRPC clients slow their "
          "pings down). 0 = no enforcement.");
ABSL_FLAG(bool, permit_keepalive_without_calls, true,
          "Let clients ping connections that have no call, within "
          "--min-client-ping-interval, which keeps idle connections alive "
          "through NATs and load balancers; the server then pings idle "
          "connections too. false counts such pings as strikes unless two "
          "hours apart (gRPC's default).");
ABSL_FLAG(int, max_metadata_bytes, 8 << 10,
          "Largest request metadata (HTTP/2 header list) in bytes; gRPC "
          "rejects larger requests. This is gRPC's own default, made "
          "explicit: it bounds client-chosen values such as CreateUser's ip.");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9464",
          "Admin listener for Prometheus: HOST:PORT (HOST an IP address, "
          "[::1]:PORT for IPv6, port 0 picks a free one) serving the metrics "
          "at http://HOST:PORT/metrics, plaintext and without authentication "
          "(keep it off public networks). Separate from --listen, so that "
          "scrapes need no gRPC and do not count as calls. 9464 is the port "
          "OpenTelemetry's Prometheus exporters use. A port that cannot be "
          "bound stops the server at startup. Empty: no metrics, and calls are "
          "not counted at all.");
ABSL_FLAG(std::string, http_listen, "",
          "Address of the HTTP/JSON gateway and web console, HOST:PORT (e.g. "
          "0.0.0.0:8080; port 0 picks a free one). Empty (the default): no "
          "HTTP side, so that several servers on one machine never collide on "
          "a fixed port. It serves the same services as gRPC in this process "
          "(README \"HTTP gateway\"), with the same limits, --auth-tokens "
          "and TLS: with --tls-cert it serves HTTPS only, with the same "
          "certificate (read at startup: rotating it needs a restart for "
          "HTTP) and, with --tls-client-ca, needs client certificates too.");
ABSL_FLAG(int, http_threads, 1,
          "Event-loop threads of the HTTP gateway. Slow and heavy requests "
          "(CreateUser, big Detects) never run on them: they go to the "
          "blocking and compute pools like their gRPC twins.");
ABSL_FLAG(int64_t, http_max_connections, 10000,
          "Open HTTP connections (each Server-Sent Events watch holds one); "
          "a connection beyond that is answered 503 and closed.");
ABSL_FLAG(absl::Duration, http_idle_timeout, absl::Seconds(60),
          "An HTTP keep-alive connection without a request for this long is "
          "closed; also how long a request may take to arrive and an answer "
          "to be written. Open event streams are not idle: they send a "
          "comment every 15s.");
ABSL_FLAG(std::string, otlp_endpoint, "",
          "Send a trace span of every sampled call to this OpenTelemetry "
          "collector over OTLP/HTTP with protobuf: HOST:PORT or "
          "http://HOST:PORT (POST to /v1/traces) or http://HOST:PORT/PATH (a "
          "collector's or Jaeger's OTLP/HTTP port is usually 4318; plaintext "
          "only). Empty: tracing off, at no cost. Spans are sent in batches "
          "from a background thread; when the collector is slow or down they "
          "are dropped (and counted), never waited for.");
ABSL_FLAG(std::string, service_name, "cqmux",
          "The service.name of the spans' resource, which tracing backends "
          "list traces by (with --otlp-endpoint).");
ABSL_FLAG(double, trace_sample_ratio, 1.0,
          "Share of calls without a trace parent that are traced, 0 to 1 "
          "(OpenTelemetry's TraceIdRatioBased: decided from the trace id). A "
          "call whose client sent a parent (W3C traceparent) follows the "
          "parent's sampled flag instead (with --otlp-endpoint).");
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

// Bytes this process may use: its cgroup's (v2) memory.max if it has one,
// else physical RAM.
int64_t AvailableMemory() {
  int64_t physical = static_cast<int64_t>(sysconf(_SC_PHYS_PAGES)) *
                     static_cast<int64_t>(sysconf(_SC_PAGESIZE));
  std::ifstream cgroup("/sys/fs/cgroup/memory.max");
  int64_t limit = 0;
  std::string text;
  if (cgroup >> text && absl::SimpleAtoi(text, &limit) && limit > 0) {
    return physical > 0 ? std::min(limit, physical) : limit;
  }
  return physical;
}

// 0 and inf both mean "never" for the connection timers.
absl::Duration NeverIfZero(absl::Duration d) {
  return d == absl::ZeroDuration() ? absl::InfiniteDuration() : d;
}

void ParseTransportFlags(ServerConfig* config) {
  EngineOptions& e = config->engine;
  e.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  if (e.max_concurrent_streams < 1) Fail("--max-concurrent-streams must be at least 1");

  const int64_t largest_message =
      std::max(e.max_message_bytes, config->max_detect_message_bytes);
  e.memory_quota_bytes = absl::GetFlag(FLAGS_memory_quota_bytes);
  if (e.memory_quota_bytes < 0) Fail("--memory-quota-bytes must not be negative");
  if (e.memory_quota_bytes == 0) {
    e.memory_quota_bytes = std::max(AvailableMemory() / 2, largest_message);
  } else if (e.memory_quota_bytes < largest_message) {
    Fail(absl::StrCat("--memory-quota-bytes must be at least the largest message "
                      "limit (", largest_message, " bytes): a request that "
                      "large must fit"));
  }

  e.max_connection_idle = NeverIfZero(absl::GetFlag(FLAGS_max_connection_idle));
  e.max_connection_age = NeverIfZero(absl::GetFlag(FLAGS_max_connection_age));
  e.max_connection_age_grace = absl::GetFlag(FLAGS_max_connection_age_grace);
  if (e.max_connection_idle < absl::ZeroDuration() ||
      e.max_connection_age < absl::ZeroDuration() ||
      e.max_connection_age_grace < absl::ZeroDuration()) {
    Fail("--max-connection-idle, --max-connection-age and "
         "--max-connection-age-grace must not be negative");
  }
  e.keepalive_time = absl::GetFlag(FLAGS_keepalive_time);
  if (e.keepalive_time <= absl::ZeroDuration()) {
    Fail("--keepalive-time must be positive (inf turns keepalive off)");
  }
  e.keepalive_timeout = absl::GetFlag(FLAGS_keepalive_timeout);
  if (e.keepalive_timeout <= absl::ZeroDuration() ||
      e.keepalive_timeout == absl::InfiniteDuration()) {
    Fail("--keepalive-timeout must be positive and finite");
  }
  e.min_client_ping_interval = absl::GetFlag(FLAGS_min_client_ping_interval);
  if (e.min_client_ping_interval < absl::ZeroDuration()) {
    Fail("--min-client-ping-interval must not be negative");
  }
  e.max_ping_strikes = absl::GetFlag(FLAGS_max_ping_strikes);
  if (e.max_ping_strikes < 0) Fail("--max-ping-strikes must not be negative");
  e.permit_keepalive_without_calls = absl::GetFlag(FLAGS_permit_keepalive_without_calls);
  e.max_metadata_bytes = absl::GetFlag(FLAGS_max_metadata_bytes);
  if (e.max_metadata_bytes < 1024) Fail("--max-metadata-bytes must be at least 1024");
}

}  // namespace

ServerConfig ParseServerFlags(int argc, char** argv) {
  if (WantsHelp(argc, argv)) {
    PrintFlagHelp(kUsage, "server/app/flags.cc",
                  "\nSignals: SIGINT or SIGTERM start a graceful shutdown (health "
                  "goes NOT_SERVING, new calls are still served for "
                  "--drain-delay, then in-flight calls get --shutdown-grace, "
                  "slow requests still queued are dropped, and every write "
                  "already handed to the store is committed and answered "
                  "before it closes); the exit code is 0.\n");
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
  config.max_detect_message_bytes = absl::GetFlag(FLAGS_max_detect_message_bytes);
  if (config.max_detect_message_bytes < 1024) {
    Fail("--max-detect-message-bytes must be at least 1024");
  }
  ParseTransportFlags(&config);
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
  const std::string store = absl::GetFlag(FLAGS_store);
  if (store == "sqlite") {
    config.store = StoreKind::kSqlite;
  } else if (store == "memory") {
    config.store = StoreKind::kMemory;
  } else if (store == "postgres") {
    config.store = StoreKind::kPostgres;
  } else {
    Fail("--store must be sqlite, postgres or memory");
  }
  config.postgres.conninfo = absl::GetFlag(FLAGS_postgres);
  const int64_t pool_size = absl::GetFlag(FLAGS_postgres_pool_size);
  if (pool_size < 1 || pool_size > 256) Fail("--postgres-pool-size must be between 1 and 256");
  config.postgres.pool_size = static_cast<size_t>(pool_size);
  config.postgres.max_queued = config.postgres.pool_size * 256;
  config.postgres.connect_timeout = absl::GetFlag(FLAGS_postgres_connect_timeout);
  if (config.postgres.connect_timeout <= absl::ZeroDuration() ||
      config.postgres.connect_timeout == absl::InfiniteDuration()) {
    Fail("--postgres-connect-timeout must be positive and finite");
  }
  config.postgres.statement_timeout = absl::GetFlag(FLAGS_postgres_statement_timeout);
  if (config.postgres.statement_timeout < absl::ZeroDuration() ||
      config.postgres.statement_timeout == absl::InfiniteDuration()) {
    Fail("--postgres-statement-timeout must not be negative or infinite (0 = no limit)");
  }
  config.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (config.store == StoreKind::kSqlite && config.data_dir.empty()) {
    Fail("--data-dir must not be empty");
  }
  const std::string durability = absl::GetFlag(FLAGS_durability);
  if (durability == "fsync") {
    config.durability = Durability::kFsync;
  } else if (durability == "os") {
    config.durability = Durability::kOs;
  } else {
    Fail("--durability must be fsync or os");
  }
  config.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &config.log_level)) {
    Fail("--log-level must be debug, info, warning or error");
  }
  config.tracing.otlp_endpoint = absl::GetFlag(FLAGS_otlp_endpoint);
  config.tracing.service_name = absl::GetFlag(FLAGS_service_name);
  if (config.tracing.service_name.empty()) Fail("--service-name must not be empty");
  config.tracing.sample_ratio = absl::GetFlag(FLAGS_trace_sample_ratio);
  if (!(config.tracing.sample_ratio >= 0 && config.tracing.sample_ratio <= 1)) {
    Fail("--trace-sample-ratio must be between 0 and 1");
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
  config.http.listen = absl::GetFlag(FLAGS_http_listen);
  config.http.threads = absl::GetFlag(FLAGS_http_threads);
  if (config.http.threads < 1 || config.http.threads > 64) {
    Fail("--http-threads must be between 1 and 64");
  }
  const int64_t http_connections = absl::GetFlag(FLAGS_http_max_connections);
  if (http_connections < 1) Fail("--http-max-connections must be at least 1");
  config.http.max_connections = static_cast<size_t>(http_connections);
  config.http.idle_timeout = absl::GetFlag(FLAGS_http_idle_timeout);
  if (config.http.idle_timeout <= absl::ZeroDuration() ||
      config.http.idle_timeout == absl::InfiniteDuration()) {
    Fail("--http-idle-timeout must be positive and finite");
  }
  if (const std::string path = absl::GetFlag(FLAGS_auth_tokens); !path.empty()) {
    absl::StatusOr<BearerTokens> tokens = BearerTokens::FromFile(path);
    if (!tokens.ok()) Fail(std::string(tokens.status().message()));
    config.write_tokens = std::make_shared<const BearerTokens>(*std::move(tokens));
  }
  return config;
}

}  // namespace cqmux
