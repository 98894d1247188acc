// The metrics module through a whole in-process server: known calls of every
// kind (OK, errors, a call rejected by a limit, server and client streams),
// then a scrape over HTTP from the real /metrics listener, checked exactly
// against go-grpc-prometheus' names, labels and semantics; the cqmux_* and
// process_* metrics; a metrics port that cannot be bound; the per-queue
// coalescer and batch counts; pool rejections. Waits poll the scraped
// counts themselves, with a deadline.
#include "server/observability/metrics/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "books.grpc.pb.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/write_coalescer.h"
#include "tests/server/app/test_server.h"
#include "users.grpc.pb.h"

namespace cqmux {
namespace {

// GET /metrics on 127.0.0.1:port, HTTP/1.0 (no chunking); the body.
std::string Scrape(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    close(fd);
    ADD_FAILURE() << "cannot connect to the metrics port " << port;
    return "";
  }
  const std::string request = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  EXPECT_EQ(write(fd, request.data(), request.size()),
            static_cast<ssize_t>(request.size()));
  std::string response;
  char buffer[65536];
  ssize_t n;
  while ((n = read(fd, buffer, sizeof(buffer))) > 0) response.append(buffer, n);
  close(fd);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200") ||
              absl::StartsWith(response, "HTTP/1.0 200"))
      << response.substr(0, 200);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

// Series ("name{labels}") -> value, from Prometheus text.
std::map<std::string, double> Parse(const std::string& text) {
  std::map<std::string, double> series;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    if (absl::StartsWith(line, "#")) continue;
    const size_t space = line.rfind(' ');
    double value = 0;
    EXPECT_TRUE(absl::SimpleAtod(line.substr(space + 1), &value)) << line;
    series[std::string(line.substr(0, space))] = value;
  }
  return series;
}

std::string Labels(absl::string_view type, absl::string_view service,
                   absl::string_view method) {
  return absl::StrCat("{grpc_type=\"", type, "\",grpc_service=\"", service,
                      "\",grpc_method=\"", method, "\"");
}

class MetricsTest : public ::testing::Test {
 protected:
  static ServerConfig Config() {
    ServerConfig config = TestConfig();
    config.metrics_listen = "127.0.0.1:0";
    config.engine.max_message_bytes = 1024;  // a 2 KiB Capitalize is rejected
    return config;
  }

  // Scrapes until `series` has `value` (the server records a call's end
  // after the client has its answer), or the deadline passes.
  std::map<std::string, double> ScrapeUntil(int port, const std::string& series,
                                            double value) {
    const absl::Time deadline = absl::Now() + kTestDeadline;
    std::map<std::string, double> scraped;
    do {
      scraped = Parse(Scrape(port));
      if (scraped[series] == value) break;
    } while (absl::Now() < deadline);
    return scraped;
  }
};

TEST_F(MetricsTest, CountsEveryKindOfCallExactly) {
  TestServer server(Config());
  Metrics* metrics = server.app().metrics();
  ASSERT_NE(metrics, nullptr);
  const int port = metrics->port();
  ASSERT_GT(port, 0);

  // Unary: 5 OK, 1 over the message limit (rejected before the handler).
  auto fetch = rpc::Fetch::NewStub(server.Channel());
  for (int i = 0; i < 5; ++i) {
    rpc::Payload request, response;
    request.set_data("hello");
    ASSERT_TRUE(fetch->Capitalize(Deadline().get(), request, &response).ok());
  }
  {
    rpc::Payload request, response;
    request.set_data(std::string(2048, 'a'));
    EXPECT_EQ(fetch->Capitalize(Deadline().get(), request, &response).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  // Unary errors: 2 NOT_FOUND.
  auto books = books::BookService::NewStub(server.Channel());
  for (int i = 0; i < 2; ++i) {
    books::BookIdRequest request;
    request.set_id(404);
    books::Book response;
    EXPECT_EQ(books->Get(Deadline().get(), request, &response).error_code(),
              grpc::StatusCode::NOT_FOUND);
  }
  // A user (on the blocking pool), then a server stream of 3 results.
  auto users = Users::NewStub(server.Channel());
  users::CreateUserRequest create;
  create.set_username("ann");
  create.set_password("correct horse");
  create.set_email("ann@example.com");
  users::CreateUserResult created;
  ASSERT_TRUE(users->CreateUser(Deadline().get(), create, &created).ok());
  {
    users::GetUsersRequest request;
    for (int i = 0; i < 3; ++i) *request.add_user() = created.user();
    auto context = Deadline();
    auto reader = users->GetUsers(context.get(), request);
    users::GetUsersResult result;
    int results = 0;
    while (reader->Read(&result)) ++results;
    ASSERT_TRUE(reader->Finish().ok());
    ASSERT_EQ(results, 3);
  }
  // A client stream of 4 messages.
  auto states = my_package::RequestStreaming::NewStub(server.Channel());
  {
    auto context = Deadline();
    my_package::Empty response;
    auto writer = states->stream_state(context.get(), &response);
    for (int i = 0; i < 4; ++i) {
      my_package::Data data;
      data.set_status(my_package::THIRSTY);
      data.set_info("water");
      ASSERT_TRUE(writer->Write(data));
    }
    ASSERT_TRUE(writer->WritesDone());
    ASSERT_TRUE(writer->Finish().ok());
  }

  const std::string capitalize = Labels("unary", "rpc.Fetch", "Capitalize");
  const std::string get = Labels("unary", "books.BookService", "Get");
  const std::string get_users = Labels("server_stream", "Users", "GetUsers");
  const std::string stream_state =
      Labels("client_stream", "my_package.RequestStreaming", "stream_state");
  // The client stream ended last: once it is counted, everything is.
  std::map<std::string, double> m = ScrapeUntil(
      port, "grpc_server_handled_total" + stream_state + ",grpc_code=\"OK\"}", 1);

  EXPECT_EQ(m["grpc_server_started_total" + capitalize + "}"], 6);
  EXPECT_EQ(m["grpc_server_handled_total" + capitalize + ",grpc_code=\"OK\"}"], 5);
  EXPECT_EQ(m["grpc_server_handled_total" + capitalize + ",grpc_code=\"ResourceExhausted\"}"], 1);
  EXPECT_EQ(m["grpc_server_msg_received_total" + capitalize + "}"], 6);
  EXPECT_EQ(m["grpc_server_msg_sent_total" + capitalize + "}"], 5);
  EXPECT_EQ(m["grpc_server_handling_seconds_count" + capitalize + "}"], 6);
  EXPECT_EQ(m["grpc_server_handling_seconds_bucket" + capitalize + ",le=\"+Inf\"}"], 6);
  EXPECT_GT(m["grpc_server_handling_seconds_sum" + capitalize + "}"], 0);
  EXPECT_LE(m["grpc_server_handling_seconds_bucket" + capitalize + ",le=\"0.005\"}"], 6);

  EXPECT_EQ(m["grpc_server_started_total" + get + "}"], 2);
  EXPECT_EQ(m["grpc_server_handled_total" + get + ",grpc_code=\"NotFound\"}"], 2);
  EXPECT_EQ(m["grpc_server_handled_total" + get + ",grpc_code=\"OK\"}"], 0);
  EXPECT_EQ(m["grpc_server_msg_sent_total" + get + "}"], 0);

  EXPECT_EQ(m["grpc_server_handled_total" + Labels("unary", "Users", "CreateUser") +
              ",grpc_code=\"OK\"}"], 1);
  EXPECT_EQ(m["grpc_server_msg_received_total" + get_users + "}"], 1);
  EXPECT_EQ(m["grpc_server_msg_sent_total" + get_users + "}"], 3);
  EXPECT_EQ(m["grpc_server_handled_total" + get_users + ",grpc_code=\"OK\"}"], 1);
  EXPECT_EQ(m["grpc_server_msg_received_total" + stream_state + "}"], 4);
  EXPECT_EQ(m["grpc_server_msg_sent_total" + stream_state + "}"], 1);

  // Every method with every code is there from the start, as
  // go-grpc-prometheus' InitializeMetrics makes it.
  const std::string displacement =
      Labels("unary", "my_package.DisplacementService", "computeDisplacement");
  EXPECT_EQ(m.count("grpc_server_handled_total" + displacement + ",grpc_code=\"DataLoss\"}"), 1u);
  EXPECT_EQ(m.count("grpc_server_started_total" +
                    Labels("server_stream", "books.BookService", "Watch") + "}"), 1u);

  // Per queue: the calls add up to every call started.
  double started = 0, per_queue = 0;
  for (const auto& [series, value] : m) {
    if (absl::StartsWith(series, "grpc_server_started_total{")) started += value;
    if (absl::StartsWith(series, "cqmux_queue_calls_total{")) per_queue += value;
  }
  EXPECT_EQ(started, 6 + 2 + 1 + 1 + 1);
  EXPECT_EQ(per_queue, started);
  EXPECT_EQ(m.count("cqmux_queue_calls_total{queue=\"1\"}"), 1u);

  EXPECT_EQ(m["cqmux_users_stored"], 1);
  EXPECT_EQ(m["cqmux_books_stored"], 1);  // the seed book
  EXPECT_EQ(m["cqmux_books_watchers"], 0);
  EXPECT_EQ(m["cqmux_books_watchers_cut_off_total"], 0);
  EXPECT_EQ(m["cqmux_pool_rejected_total{pool=\"blocking\"}"], 0);
  EXPECT_EQ(m["cqmux_pool_queue_limit{pool=\"blocking\"}"], 256);
  EXPECT_EQ(m.count("cqmux_pool_queued{pool=\"compute\"}"), 1u);
  EXPECT_GT(m["process_resident_memory_bytes"], 1 << 20);
  EXPECT_GT(m["process_open_fds"], 3);
  EXPECT_GT(m["process_threads"], 2);
  EXPECT_GT(m["process_cpu_seconds_total"], 0);
  EXPECT_GT(m["process_start_time_seconds"], absl::ToUnixSeconds(absl::Now()) - 3600);
  EXPECT_GT(m["process_max_fds"], 0);

  // The text the module serves in-process is the same exposition.
  EXPECT_TRUE(absl::StrContains(metrics->Text(), "# TYPE grpc_server_handling_seconds histogram"));
}

TEST_F(MetricsTest, CoalescedWritesAndBatchesArePerQueue) {
  ServerConfig config = Config();
  config.engine.coalesce_writes = true;
  TestServer server(config);
  const int port = server.app().metrics()->port();
  auto fetch = rpc::Fetch::NewStub(server.Channel());
  for (int i = 0; i < 10; ++i) {
    rpc::Payload request, response;
    request.set_data("hello");
    ASSERT_TRUE(fetch->Capitalize(Deadline().get(), request, &response).ok());
  }
  std::map<std::string, double> m = ScrapeUntil(
      port,
      "grpc_server_handled_total" + Labels("unary", "rpc.Fetch", "Capitalize") +
          ",grpc_code=\"OK\"}",
      10);
  double writes = 0, bytes = 0, flushes = 0, batches = 0, events = 0;
  for (int q = 0; q < 2; ++q) {
    const std::string queue = absl::StrCat("{queue=\"", q, "\"}");
    writes += m["cqmux_coalesced_writes_total" + queue];
    bytes += m["cqmux_coalesced_bytes_total" + queue];
    flushes += m["cqmux_coalesced_flushes_total" + queue];
    batches += m["cqmux_queue_batch_events_count" + queue];
    events += m["cqmux_queue_batch_events_sum" + queue];
  }
  // Responses are written from the queue thread's batches (buffered), though
  // gRPC may also write some from its own threads (unbuffered): at least one
  // was buffered, and every buffered connection was flushed once per batch.
  EXPECT_GE(writes, 1);
  EXPECT_GE(flushes, 1);
  EXPECT_LE(flushes, writes);
  EXPECT_GE(bytes, writes * 9);  // an HTTP/2 frame header is 9 bytes
  EXPECT_GE(batches, 1);  // the last batch may still be running at the scrape
  EXPECT_GE(events, batches);
}

TEST_F(MetricsTest, WithoutCoalescingThereAreNoBatchesOrCoalescedWrites) {
  ServerConfig config = Config();
  config.engine.coalesce_writes = false;
  coalesce::SetEnabled(false);  // process-wide: an earlier test may have set it
  TestServer server(config);
  auto fetch = rpc::Fetch::NewStub(server.Channel());
  rpc::Payload request, response;
  ASSERT_TRUE(fetch->Capitalize(Deadline().get(), request, &response).ok());
  std::map<std::string, double> m = ScrapeUntil(
      server.app().metrics()->port(),
      "grpc_server_handled_total" + Labels("unary", "rpc.Fetch", "Capitalize") +
          ",grpc_code=\"OK\"}",
      1);
  EXPECT_EQ(m["grpc_server_handled_total" + Labels("unary", "rpc.Fetch", "Capitalize") +
              ",grpc_code=\"OK\"}"], 1);
  EXPECT_EQ(m["cqmux_queue_batch_events_count{queue=\"0\"}"] +
                m["cqmux_queue_batch_events_count{queue=\"1\"}"], 0);
  EXPECT_EQ(m["cqmux_coalesced_writes_total{queue=\"0\"}"] +
                m["cqmux_coalesced_writes_total{queue=\"1\"}"], 0);
}

TEST_F(MetricsTest, ATakenPortFailsTheStartWithTheReason) {
  Metrics first;
  ASSERT_TRUE(first.Listen("127.0.0.1:0").ok());
  const std::string taken = absl::StrCat("127.0.0.1:", first.port());

  Metrics second;
  absl::Status status = second.Listen(taken);
  EXPECT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), taken)) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "--metrics-listen")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "Address already in use")) << status;

  ServerConfig config = Config();
  config.metrics_listen = taken;
  auto app = ServerApp::Create(config);
  ASSERT_TRUE(app.ok());
  absl::Status started = (*app)->Start();
  EXPECT_FALSE(started.ok());
  EXPECT_TRUE(absl::StrContains(started.message(), "Address already in use")) << started;
  EXPECT_TRUE((*app)->engine().ports().empty());  // gRPC never listened
}

TEST_F(MetricsTest, NoListenerMeansNoObserver) {
  ServerConfig config = TestConfig();
  config.metrics_listen = "";
  TestServer server(config);
  EXPECT_EQ(server.app().metrics(), nullptr);
}

TEST_F(MetricsTest, CallbackMetricsWithAndWithoutLabels) {
  Metrics metrics;
  double spans = 0;
  metrics.AddCounterCallback("cqmux_spans_exported_total", "Spans exported.",
                             [&spans] { return spans; });
  metrics.AddGaugeCallback("cqmux_things", "Things by kind.", [] {
    return std::vector<Metrics::Sample>{{{{"kind", "a"}}, 1}, {{{"kind", "b"}}, 2}};
  });
  spans = 42;
  std::map<std::string, double> m = Parse(metrics.Text());
  EXPECT_EQ(m["cqmux_spans_exported_total"], 42);
  EXPECT_EQ(m["cqmux_things{kind=\"a\"}"], 1);
  EXPECT_EQ(m["cqmux_things{kind=\"b\"}"], 2);
  EXPECT_TRUE(absl::StrContains(metrics.Text(), "# TYPE cqmux_spans_exported_total counter"));
  EXPECT_TRUE(absl::StrContains(metrics.Text(), "# TYPE cqmux_things gauge"));
  // Published only once asked to: before, the port answers 404.
  ASSERT_TRUE(metrics.Listen("127.0.0.1:0").ok());
  metrics.Publish();
  EXPECT_EQ(Parse(Scrape(metrics.port()))["cqmux_spans_exported_total"], 42);
}

TEST(BlockingPoolCountsTest, RejectionsAreCounted) {
  BlockingPool pool("test", 1, 1);
  absl::Notification running, release;
  ASSERT_TRUE(pool.Submit([&](bool) {
    running.Notify();
    release.WaitForNotification();
  }));
  running.WaitForNotification();          // the thread is busy
  ASSERT_TRUE(pool.Submit([](bool) {}));   // the one queued slot
  EXPECT_EQ(pool.queued(), 1u);
  EXPECT_FALSE(pool.Submit([](bool) {}));  // full
  EXPECT_FALSE(pool.Submit([](bool) {}));
  EXPECT_EQ(pool.rejected(), 2u);
  EXPECT_EQ(pool.max_queued(), 1u);
  release.Notify();
  pool.Drain();
}

}  // namespace
}  // namespace cqmux
