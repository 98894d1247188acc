// The OTLP/HTTP exporter on Boost.Beast; see otlp_exporter.h.
#include "server/observability/tracing/otlp_exporter.h"

#include <chrono>
#include <optional>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "server/observability/tracing/net_address.h"

namespace cqmux::tracing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

class OtlpHttpExporter final : public SpanExporter {
 public:
  OtlpHttpExporter(OtlpEndpoint endpoint, ResourceInfo resource)
      : endpoint_(std::move(endpoint)),
        resource_(std::move(resource)),
        host_header_(absl::StrContains(endpoint_.host, ':')
                         ? absl::StrCat("[", endpoint_.host, "]:", endpoint_.port)
                         : absl::StrCat(endpoint_.host, ":", endpoint_.port)) {}

  absl::Status Export(const std::vector<SpanData>& spans, absl::Time deadline) override {
    EncodeExportRequest(resource_, spans, &body_);
    const Clock::time_point until =
        Clock::now() + absl::ToChronoNanoseconds(std::max(deadline - absl::Now(),
                                                          absl::ZeroDuration()));
    // A kept-alive connection the collector closed meanwhile fails at the
    // first write or read: once, on a fresh connection, the batch is sent
    // again (nothing of it was answered, so the collector did not take it).
    const bool reused = socket_.is_open();
    Result result = Post(until);
    if (!result.status.ok() && reused && !result.answered && Clock::now() < until) {
      result = Post(until);
    }
    return result.status;
  }

 private:
  struct Result {
    absl::Status status;
    bool answered = false;  // some of a response arrived
  };

  // Runs the io_context until the operation `start` begins has completed
  // or `until` passed (then cancels it); its error code.
  template <class Start>
  beast::error_code Run(Start start, Clock::time_point until) {
    std::optional<beast::error_code> result;
    start([&result](beast::error_code ec, auto&&...) { result = ec; });
    io_.restart();
    io_.run_until(until);
    if (!result.has_value()) {
      beast::error_code ignored;
      resolver_.cancel();
      socket_.close(ignored);
      io_.restart();
      io_.run();
      return asio::error::timed_out;
    }
    return *result;
  }

  Result Post(Clock::time_point until) {
    beast::error_code ec;
    if (!socket_.is_open()) {
      tcp::resolver::results_type addresses;
      ec = Run([&](auto handler) {
        resolver_.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                                [&addresses, handler](beast::error_code e,
                                                      tcp::resolver::results_type r) mutable {
                                  addresses = std::move(r);
                                  handler(e);
                                });
      }, until);
      if (ec) return Failed("resolving", ec);
      ec = Run([&](auto handler) { asio::async_connect(socket_, addresses, handler); }, until);
      if (ec) return Failed("connecting to", ec);
      socket_.set_option(tcp::no_delay(true), ec);
      buffer_.clear();
    }
    http::request<http::string_body> request{http::verb::post, endpoint_.path, 11};
    request.set(http::field::host, host_header_);
    request.set(http::field::content_type, "application/x-protobuf");
    request.set(http::field::user_agent, "cqmux");
    request.body() = std::move(body_);
    request.prepare_payload();
    ec = Run([&](auto handler) { http::async_write(socket_, request, handler); }, until);
    body_ = std::move(request.body());  // keeps its capacity for the next batch
    if (ec) return Failed("sending to", ec);
    http::response_parser<http::string_body> parser;
    parser.body_limit(1 << 20);
    ec = Run([&](auto handler) { http::async_read(socket_, buffer_, parser, handler); }, until);
    const bool answered = parser.got_some();
    if (ec) {
      Result r = Failed("reading the answer of", ec);
      r.answered = answered;
      return r;
    }
    const http::response<http::string_body>& response = parser.get();
    if (!response.keep_alive()) Close();
    Result r;
    r.answered = true;
    const unsigned code = response.result_int();
    if (code < 200 || code > 299) {
      r.status = absl::UnavailableError(absl::StrCat(
          "OTLP/HTTP POST ", endpoint_.path, " to ", host_header_, ": HTTP ", code, " ",
          std::string(response.reason())));
      return r;
    }
    opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse answer;
    if (!response.body().empty() && answer.ParseFromString(response.body()) &&
        answer.has_partial_success() && answer.partial_success().rejected_spans() > 0) {
      r.status = absl::DataLossError(absl::StrCat(
          "OTLP Export: the receiver rejected ", answer.partial_success().rejected_spans(),
          " spans: ", answer.partial_success().error_message()));
    }
    return r;
  }

  Result Failed(absl::string_view what, const beast::error_code& ec) {
    Close();
    return {absl::UnavailableError(absl::StrCat("OTLP/HTTP: ", what, " ", host_header_, ": ",
                                                ec.message())),
            false};
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  const OtlpEndpoint endpoint_;
  const ResourceInfo resource_;
  const std::string host_header_;
  // Export thread only.
  asio::io_context io_{1};
  tcp::resolver resolver_{io_};
  tcp::socket socket_{io_};
  beast::flat_buffer buffer_;
  std::string body_;  // the encoded batch; its capacity is reused
};

}  // namespace

absl::StatusOr<OtlpEndpoint> ParseOtlpEndpoint(const std::string& endpoint) {
  absl::string_view rest = endpoint;
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    return absl::InvalidArgumentError(
        "--otlp-endpoint: https:// is not supported (the exporter speaks plaintext "
        "OTLP/HTTP; run a collector next to the server)");
  }
  if (absl::StartsWithIgnoreCase(rest, "http://")) rest.remove_prefix(7);
  std::string path = "/v1/traces";
  if (const size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    absl::string_view given = rest.substr(slash);
    rest = rest.substr(0, slash);
    if (given != "/") path = std::string(given);
  }
  const HostPort hp = ParseHostPort(rest);
  if (hp.host.empty() || hp.port == 0 || absl::StrContains(path, ' ')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--otlp-endpoint must be HOST:PORT, http://HOST:PORT or http://HOST:PORT/PATH "
        "(OTLP/HTTP with protobuf, usually port 4318), not \"", endpoint, "\""));
  }
  return OtlpEndpoint{hp.host, hp.port, std::move(path)};
}

std::unique_ptr<SpanExporter> MakeOtlpHttpExporter(OtlpEndpoint endpoint,
                                                   ResourceInfo resource) {
  return std::make_unique<OtlpHttpExporter>(std::move(endpoint), std::move(resource));
}

}  // namespace cqmux::tracing
