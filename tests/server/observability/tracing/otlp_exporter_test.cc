// The OTLP/HTTP exporter against a real HTTP/1.1 server in the test process
// (Boost.Beast, on an ephemeral port): what it POSTs, the kept-alive
// connection and reconnecting when the collector closed it, and failures
// (HTTP errors, rejected spans, nothing listening) as errors, never hangs.
#include "server/observability/tracing/otlp_exporter.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"

namespace cqmux::tracing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// One request as the collector saw it.
struct Seen {
  std::string target;
  std::string content_type;
  std::string body;
  int connection = 0;  // which accepted connection it came on (1, 2, ...)
};

// A blocking HTTP/1.1 server on one thread, one connection at a time.
class FakeCollector {
 public:
  // close_after: requests served per connection before the server closes
  // it (without telling the client); 0 = never.
  FakeCollector(int close_after, unsigned status, std::string answer)
      : close_after_(close_after), status_(status), answer_(std::move(answer)) {
    acceptor_.open(tcp::v4());
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.bind({asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeCollector() {
    stopping_ = true;
    beast::error_code ec;
    tcp::socket wake(io_);
    wake.connect({asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port_)},
                 ec);  // unblocks accept
    thread_.join();
  }

  int port() const { return port_; }
  std::vector<Seen> seen() {
    absl::MutexLock lock(&mu_);
    return seen_;
  }

 private:
  void Serve() {
    for (int connection = 1; !stopping_; ++connection) {
      tcp::socket socket(io_);
      beast::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      beast::flat_buffer buffer;
      for (int served = 0; close_after_ == 0 || served < close_after_; ++served) {
        http::request<http::string_body> request;
        http::read(socket, buffer, request, ec);
        if (ec) break;
        {
          absl::MutexLock lock(&mu_);
          seen_.push_back({std::string(request.target()),
                           std::string(request[http::field::content_type]), request.body(),
                           connection});
        }
        http::response<http::string_body> response{static_cast<http::status>(status_), 11};
        response.set(http::field::content_type, "application/x-protobuf");
        response.body() = answer_;
        response.prepare_payload();
        http::write(socket, response, ec);
        if (ec) break;
      }
      socket.close(ec);
    }
  }

  const int close_after_;
  const unsigned status_;
  const std::string answer_;
  asio::io_context io_;
  tcp::acceptor acceptor_{io_};
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  absl::Mutex mu_;
  std::vector<Seen> seen_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

std::vector<SpanData> Spans(int n) {
  std::vector<SpanData> spans(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    spans[static_cast<size_t>(i)].span_id[0] = static_cast<uint8_t>(i + 1);
    spans[static_cast<size_t>(i)].trace_id[0] = 1;
  }
  return spans;
}

std::unique_ptr<SpanExporter> Exporter(int port, const std::string& path = "") {
  absl::StatusOr<OtlpEndpoint> endpoint =
      ParseOtlpEndpoint("http://127.0.0.1:" + std::to_string(port) + path);
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  return MakeOtlpHttpExporter(*endpoint, {"svc", "1.0", "host"});
}

int SpansIn(const std::string& body) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  if (!request.ParseFromString(body)) return -1;
  return request.resource_spans(0).scope_spans(0).spans_size();
}

absl::Time Soon() { return absl::Now() + absl::Seconds(20); }

TEST(OtlpHttpExporterTest, PostsProtobufOnOneKeptAliveConnection) {
  FakeCollector collector(0, 200, "");
  auto exporter = Exporter(collector.port());
  ASSERT_TRUE(exporter->Export(Spans(3), Soon()).ok());
  ASSERT_TRUE(exporter->Export(Spans(2), Soon()).ok());
  const std::vector<Seen> seen = collector.seen();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/v1/traces");
  EXPECT_EQ(seen[0].content_type, "application/x-protobuf");
  EXPECT_EQ(SpansIn(seen[0].body), 3);
  EXPECT_EQ(SpansIn(seen[1].body), 2);
  EXPECT_EQ(seen[1].connection, 1);  // the same connection
}

TEST(OtlpHttpExporterTest, ReconnectsWhenTheCollectorClosedTheConnection) {
  FakeCollector collector(1, 200, "");  // closes after every answer, silently
  auto exporter = Exporter(collector.port(), "/custom/path");
  for (int i = 1; i <= 3; ++i) ASSERT_TRUE(exporter->Export(Spans(i), Soon()).ok()) << i;
  const std::vector<Seen> seen = collector.seen();
  ASSERT_EQ(seen.size(), 3u);  // each batch once, each on a new connection
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(seen[static_cast<size_t>(i)].target, "/custom/path");
    EXPECT_EQ(SpansIn(seen[static_cast<size_t>(i)].body), i + 1);
    EXPECT_EQ(seen[static_cast<size_t>(i)].connection, i + 1);
  }
}

TEST(OtlpHttpExporterTest, AnHttpErrorIsAnError) {
  FakeCollector collector(0, 503, "");
  auto exporter = Exporter(collector.port());
  const absl::Status status = exporter->Export(Spans(1), Soon());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("HTTP 503"), std::string::npos) << status;
  EXPECT_TRUE(exporter->Export(Spans(1), Soon()).code() == absl::StatusCode::kUnavailable);
  EXPECT_EQ(collector.seen().size(), 2u);  // no retry of an answered batch
}

TEST(OtlpHttpExporterTest, RejectedSpansAreAnError) {
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse answer;
  answer.mutable_partial_success()->set_rejected_spans(2);
  answer.mutable_partial_success()->set_error_message("too old");
  FakeCollector collector(0, 200, answer.SerializeAsString());
  const absl::Status status = Exporter(collector.port())->Export(Spans(3), Soon());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("rejected 2 spans: too old"), std::string::npos) << status;
}

TEST(OtlpHttpExporterTest, NothingListeningFailsAtOnce) {
  int port;
  {
    FakeCollector gone(0, 200, "");
    port = gone.port();
  }  // closed: connecting is refused
  auto exporter = Exporter(port);
  const absl::Status status = exporter->Export(Spans(1), Soon());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(status.message().find("connecting to 127.0.0.1:"), std::string::npos) << status;
}

TEST(OtlpHttpExporterTest, APassedDeadlineFailsWithoutWaiting) {
  FakeCollector collector(0, 200, "");
  const absl::Status status =
      Exporter(collector.port())->Export(Spans(1), absl::Now() - absl::Seconds(1));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable) << status;
}

}  // namespace
}  // namespace cqmux::tracing
