// Beast sessions, routing and shutdown of the HTTP gateway; see
// http_gateway.h. Each connection runs on its own strand: every handler of a
// connection (reads, writes, answers posted from pools, stream wake-ups) runs
// serialized there, so a session needs no lock.
#include "server/gateway/http_gateway.h"

#include <atomic>
#include <cctype>
#include <functional>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "server/common/log.h"
#include "server/engine/call_context.h"
#include "server/gateway/http_status.h"

namespace cqmux::gateway {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

// Body limit of requests that match no route: read (to keep the connection
// usable) and answered 404.
constexpr size_t kUnroutedBodyBytes = 64 << 10;

std::string PercentDecode(absl::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '%' && i + 2 < in.size() &&
        std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      auto hex = [](char h) {
        return std::isdigit(static_cast<unsigned char>(h))
                   ? h - '0'
                   : std::tolower(static_cast<unsigned char>(h)) - 'a' + 10;
      };
      out += static_cast<char>(hex(in[i + 1]) * 16 + hex(in[i + 2]));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

Exchange::QueryParams ParseQuery(absl::string_view query) {
  Exchange::QueryParams params;
  for (absl::string_view part : absl::StrSplit(query, '&', absl::SkipEmpty())) {
    const size_t eq = part.find('=');
    params.emplace_back(PercentDecode(part.substr(0, eq), true),
                        eq == absl::string_view::npos
                            ? std::string()
                            : PercentDecode(part.substr(eq + 1), true));
  }
  return params;
}

// gRPC's timeout header format (grpc-gateway reads "Grpc-Timeout" too):
// up to 8 digits and a unit, H M S m u n.
std::optional<absl::Duration> ParseGrpcTimeout(absl::string_view text) {
  if (text.size() < 2 || text.size() > 9) return std::nullopt;
  int64_t value = 0;
  if (!absl::SimpleAtoi(text.substr(0, text.size() - 1), &value) || value < 0) {
    return std::nullopt;
  }
  switch (text.back()) {
    case 'H': return absl::Hours(value);
    case 'M': return absl::Minutes(value);
    case 'S': return absl::Seconds(value);
    case 'm': return absl::Milliseconds(value);
    case 'u': return absl::Microseconds(value);
    case 'n': return absl::Nanoseconds(value);
    default: return std::nullopt;
  }
}

std::string PeerName(const tcp::endpoint& endpoint) {
  const net::ip::address address = endpoint.address();
  return address.is_v4()
             ? absl::StrCat("ipv4:", address.to_string(), ":", endpoint.port())
             : absl::StrCat("ipv6:[", address.to_string(), "]:", endpoint.port());
}

// What the per-connection Exchange needs from its session, whatever the
// transport (plain TCP or TLS): answers are posted to the session's strand.
class SessionBase : public std::enable_shared_from_this<SessionBase> {
 public:
  virtual ~SessionBase() = default;
  virtual void Post(std::function<void()> fn) = 0;
  virtual void OnReply(uint64_t id, HttpReply reply) = 0;
  virtual void OnStream(uint64_t id, std::string type, Exchange::OpenSource open) = 0;
  virtual void OnWake(uint64_t id) = 0;
  virtual void CloseIfIdle() = 0;
  virtual void ForceClose() = 0;
};

class HttpExchange final : public Exchange, public CallBacking {
 public:
  HttpExchange(std::shared_ptr<SessionBase> session, uint64_t id,
               http::request<http::string_body> request, std::string peer,
               std::string param, QueryParams query, absl::Time deadline)
      : session_(std::move(session)), id_(id), peer_(std::move(peer)),
        param_(std::move(param)), query_(std::move(query)),
        deadline_(deadline), body_(std::move(request.body())) {
    for (const auto& field : request) {
      headers_.emplace_back(absl::AsciiStrToLower(std::string(field.name_string())),
                            std::string(field.value()));
    }
  }

  const CallContext& call() const override { return call_; }
  absl::string_view body() const override { return body_; }
  absl::string_view path_param() const override { return param_; }
  const QueryParams& query() const override { return query_; }

  void Reply(HttpReply reply) override {
    if (answered_.exchange(true)) return;
    auto session = session_;
    session->Post([session, id = id_, reply = std::move(reply)]() mutable {
      session->OnReply(id, std::move(reply));
    });
  }

  void Stream(std::string content_type, OpenSource open) override {
    if (answered_.exchange(true)) return;
    auto session = session_;
    session->Post([session, id = id_, type = std::move(content_type),
                   open = std::move(open)]() mutable {
      session->OnStream(id, std::move(type), std::move(open));
    });
  }

  // CallBacking:
  absl::string_view Metadata(absl::string_view key) const override {
    for (const auto& [name, value] : headers_) {
      if (name == key) return value;
    }
    return {};
  }
  std::string Peer() const override { return peer_; }
  bool Wanted() const override {
    return !gone_.load(std::memory_order_acquire) &&
           (deadline_ == absl::InfiniteFuture() || absl::Now() < deadline_);
  }

  // The client closed the connection: the call is no longer wanted.
  void MarkGone() { gone_.store(true, std::memory_order_release); }

 private:
  const std::shared_ptr<SessionBase> session_;
  const uint64_t id_;
  const std::string peer_;
  const std::string param_;
  const QueryParams query_;
  const absl::Time deadline_;
  const std::string body_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::atomic<bool> answered_{false};
  std::atomic<bool> gone_{false};
  const CallContext call_{static_cast<const CallBacking*>(this)};
};

// A stream's Waker target: resumes the session's pulling on its strand.
class StreamWake final : public WakeTarget {
 public:
  StreamWake(std::weak_ptr<SessionBase> session, uint64_t id)
      : session_(std::move(session)), id_(id) {}
  void Wake() override {
    if (std::shared_ptr<SessionBase> session = session_.lock()) {
      session->Post([session, id = id_] { session->OnWake(id); });
    }
  }

 private:
  const std::weak_ptr<SessionBase> session_;
  const uint64_t id_;
};

}  // namespace

class HttpGateway::Impl {
 public:
  Impl(HttpGatewayOptions options, std::vector<Route> routes)
      : options_(std::move(options)), routes_(std::move(routes)),
        ssl_(ssl::context::tls_server), acceptor_(ioc_) {}

  absl::Status Start(int* port);
  void StopAccepting();
  void Shutdown(absl::Time deadline);

  size_t connections() const { return count_.load(); }
  const HttpGatewayOptions& options() const { return options_; }
  bool closing() const { return closing_.load(std::memory_order_acquire); }

  // The route for `method` `path`; *param gets a {param}'s value.
  // *method_mismatch: some route has this path with another method.
  const Route* Match(absl::string_view method, absl::string_view path,
                     std::string* param, bool* method_mismatch) const;

  void Register(SessionBase* session, std::weak_ptr<SessionBase> weak) {
    absl::MutexLock lock(&mu_);
    sessions_[session] = std::move(weak);
  }
  void Unregister(SessionBase* session) {
    absl::MutexLock lock(&mu_);
    sessions_.erase(session);
    count_.fetch_sub(1);
  }

 private:
  void Accept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  template <class Fn>
  void ForEachSession(Fn fn);

  // Order matters: the io_context is destroyed before the session registry
  // and the TLS context (its pending handlers own sessions, which unregister
  // as they go), and after the threads that run it.
  const HttpGatewayOptions options_;
  const std::vector<Route> routes_;
  absl::Mutex mu_;
  std::map<SessionBase*, std::weak_ptr<SessionBase>> sessions_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> count_{0};
  std::atomic<bool> closing_{false};
  std::atomic<bool> stopped_{false};
  ssl::context ssl_;
  bool tls_ = false;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  std::vector<std::thread> threads_;
};

namespace {

template <class Stream>
class Session final : public SessionBase {
 public:
  Session(HttpGateway::Impl* gateway, Stream stream, std::string peer, bool reject)
      : gateway_(gateway), stream_(std::move(stream)), peer_(std::move(peer)),
        reject_(reject), heartbeat_(stream_.get_executor()) {}
  ~Session() override { gateway_->Unregister(this); }

  void Run() {
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      ReadRequest();
    } else {
      Lowest().expires_after(absl::ToChronoNanoseconds(gateway_->options().idle_timeout));
      stream_.async_handshake(
          ssl::stream_base::server,
          [self = Self()](beast::error_code ec) {
            if (ec) return self->Close();
            self->ReadRequest();
          });
    }
  }

  void Post(std::function<void()> fn) override {
    net::post(stream_.get_executor(), std::move(fn));
  }

  void OnReply(uint64_t id, HttpReply reply) override {
    if (id != exchange_id_ || state_ != State::kServing) return;
    WriteReply(std::move(reply));
  }

  void OnStream(uint64_t id, std::string type, Exchange::OpenSource open) override {
    if (id != exchange_id_ || state_ != State::kServing) return;
    state_ = State::kStreaming;
    sse_ = type == "text/event-stream";
    head_ = {};
    head_.result(http::status::ok);
    head_.version(11);
    head_.set(http::field::server, "cqmux");
    head_.set(http::field::content_type, type);
    head_.set(http::field::cache_control, "no-cache");
    head_.set("X-Accel-Buffering", "no");  // proxies: do not buffer the stream
    head_.chunked(true);
    head_.keep_alive(false);  // the connection ends with the stream
    source_ = open(Waker(std::make_shared<StreamWake>(weak_from_this(), id)));
    if (source_ == nullptr) ended_ = true;
    serializer_.emplace(head_);
    writing_ = true;
    Lowest().expires_after(Idle());
    http::async_write_header(stream_, *serializer_,
                             [self = Self()](beast::error_code ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->Close();
                               self->Pump();
                             });
    WatchPeer();
    if (sse_) ArmHeartbeat();
  }

  void OnWake(uint64_t id) override {
    if (id == exchange_id_ && state_ == State::kStreaming) Pump();
  }

  void CloseIfIdle() override {
    Post([self = Self()] {
      if (self->state_ == State::kReading && self->buffer_.size() == 0 &&
          (!self->parser_ || !self->parser_->got_some())) {
        self->Close();
      }
    });
  }

  void ForceClose() override {
    Post([self = Self()] { self->Close(); });
  }

 private:
  enum class State { kReading, kServing, kWriting, kStreaming, kClosed };

  std::shared_ptr<Session> Self() {
    return std::static_pointer_cast<Session>(shared_from_this());
  }
  beast::tcp_stream& Lowest() { return beast::get_lowest_layer(stream_); }
  std::chrono::nanoseconds Idle() const {
    return absl::ToChronoNanoseconds(gateway_->options().idle_timeout);
  }

  void ReadRequest() {
    state_ = State::kReading;
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(gateway_->options().max_header_bytes));
    // Beast checks Content-Length against the body limit as soon as the
    // header is parsed, before the route (and so its limit) is known: no
    // limit here (boost::none would compare as "exceeded" in Boost 1.74),
    // the route's is applied in OnHeader.
    parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
    Lowest().expires_after(Idle());
    http::async_read_header(stream_, buffer_, *parser_,
                            [self = Self()](beast::error_code ec, size_t) {
                              self->OnHeader(ec);
                            });
  }

  void OnHeader(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec == http::error::header_limit) {
      return Fail(431, grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                    absl::StrCat("request headers larger than ",
                                                 gateway_->options().max_header_bytes,
                                                 " bytes")));
    }
    if (ec) return Close();
    const auto& header = parser_->get();
    const absl::string_view target(header.target().data(), header.target().size());
    const size_t question = target.find('?');
    path_ = std::string(target.substr(0, question));
    query_ = question == absl::string_view::npos ? "" : std::string(target.substr(question + 1));
    bool mismatch = false;
    route_ = gateway_->Match(
        absl::string_view(header.method_string().data(), header.method_string().size()),
        path_, &param_, &mismatch);
    method_mismatch_ = mismatch;
    const size_t limit =
        route_ != nullptr && !reject_ ? route_->max_body_bytes : kUnroutedBodyBytes;
    if (parser_->content_length() && *parser_->content_length() > limit) {
      return OnBody(http::error::body_limit);  // said before the body is sent
    }
    parser_->body_limit(limit);  // chunked bodies
    if (parser_->is_done()) return OnBody({});
    const auto expect = header.find(http::field::expect);
    if (expect != header.end() && beast::iequals(expect->value(), "100-continue")) {
      // curl sends this for bodies over 1 KiB and would wait a second.
      continue_ = std::make_shared<http::response<http::empty_body>>(http::status::continue_, 11);
      http::async_write(stream_, *continue_, [self = Self()](beast::error_code ec, size_t) {
        if (ec) return self->Close();
        self->ReadBody();
      });
      return;
    }
    ReadBody();
  }

  void ReadBody() {
    http::async_read(stream_, buffer_, *parser_,
                     [self = Self()](beast::error_code ec, size_t) { self->OnBody(ec); });
  }

  void OnBody(beast::error_code ec) {
    if (state_ == State::kClosed) return;
    if (ec == http::error::body_limit) {
      return Fail(429, grpc::Status(
                           grpc::StatusCode::RESOURCE_EXHAUSTED,
                           absl::StrCat("request body larger than ",
                                        route_ != nullptr ? route_->max_body_bytes
                                                          : kUnroutedBodyBytes,
                                        " bytes, the limit of ",
                                        route_ != nullptr ? route_->path : "this path")));
    }
    if (ec) return Close();
    Dispatch();
  }

  void Dispatch() {
    http::request<http::string_body> request = parser_->release();
    parser_.reset();
    keep_alive_ = request.keep_alive();
    state_ = State::kServing;
    if (reject_) {
      keep_alive_ = false;
      return WriteReply(ErrorReply(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          absl::StrCat("too many HTTP connections (", gateway_->options().max_connections,
                       "), retry"))));
    }
    if (route_ == nullptr) {
      HttpReply reply = ErrorReply(
          method_mismatch_
              ? grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                             absl::StrCat("method ", std::string(request.method_string()),
                                          " is not allowed on ", path_))
              : grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("no route for ", path_)));
      if (method_mismatch_) reply.status = 405;
      return WriteReply(std::move(reply));
    }
    absl::Time deadline = absl::InfiniteFuture();
    if (auto timeout = request.find("grpc-timeout"); timeout != request.end()) {
      std::optional<absl::Duration> parsed =
          ParseGrpcTimeout(absl::string_view(timeout->value().data(), timeout->value().size()));
      if (!parsed) {
        return WriteReply(ErrorReply(grpc::Status(
            grpc::StatusCode::INVALID_ARGUMENT,
            "Grpc-Timeout must be digits and a unit (H, M, S, m, u, n), e.g. 500m")));
      }
      deadline = absl::Now() + *parsed;
    }
    exchange_ = std::make_shared<HttpExchange>(
        shared_from_this(), ++exchange_id_, std::move(request), peer_,
        PercentDecode(param_, false), ParseQuery(query_), deadline);
    try {
      route_->handler(exchange_);
    } catch (const std::exception& e) {
      Log(LogLevel::kError, "http %s: handler threw: %s", path_, e.what());
      exchange_->Reply(ErrorReply(grpc::Status(grpc::StatusCode::INTERNAL, "internal error")));
    }
  }

  void WriteReply(HttpReply reply) {
    state_ = State::kWriting;
    res_ = {};
    res_.version(11);
    res_.result(static_cast<unsigned>(reply.status));
    res_.set(http::field::server, "cqmux");
    res_.set(http::field::content_type, reply.content_type);
    res_.body() = std::move(reply.body);
    res_.keep_alive(keep_alive_ && !gateway_->closing());
    res_.prepare_payload();
    Lowest().expires_after(Idle());
    http::async_write(stream_, res_,
                      [self = Self()](beast::error_code ec, size_t) { self->OnWritten(ec); });
  }

  void OnWritten(beast::error_code ec) {
    exchange_.reset();
    if (ec || !res_.keep_alive()) return Close();
    ReadRequest();
  }

  // An error answered before any route ran; the connection cannot be reused
  // (the rest of the request is unread).
  void Fail(int status, const grpc::Status& error) {
    keep_alive_ = false;
    HttpReply reply = ErrorReply(error);
    reply.status = status;
    WriteReply(std::move(reply));
  }

  // While a stream is open nothing else is read; a read still notices the
  // client leaving (EOF or reset) and ends the stream at once.
  void WatchPeer() {
    stream_.async_read_some(peer_buffer_.prepare(512),
                            [self = Self()](beast::error_code ec, size_t) {
                              if (self->state_ != State::kStreaming) return;
                              if (ec) {
                                if (self->exchange_) self->exchange_->MarkGone();
                                return self->Close();
                              }
                              self->peer_buffer_.clear();  // ignored
                              self->WatchPeer();
                            });
  }

  void ArmHeartbeat() {
    heartbeat_.expires_after(absl::ToChronoNanoseconds(gateway_->options().sse_heartbeat));
    heartbeat_.async_wait([self = Self()](beast::error_code ec) {
      if (ec || self->state_ != State::kStreaming) return;
      self->heartbeat_due_ = true;
      self->Pump();
      self->ArmHeartbeat();
    });
  }

  // Pulls what the source has (up to 64 KiB per write) and writes it as one
  // chunk; ends the body once the source does.
  void Pump() {
    if (writing_ || state_ != State::kStreaming) return;
    out_.clear();
    while (!ended_ && source_ != nullptr && out_.size() < (64 << 10)) {
      std::string chunk;
      const ChunkSource::Step step = source_->Next(&chunk);
      if (step == ChunkSource::Step::kChunk) {
        out_ += chunk;
      } else if (step == ChunkSource::Step::kEnd) {
        ended_ = true;
        source_.reset();
      } else {
        break;
      }
    }
    if (out_.empty() && heartbeat_due_ && !ended_) out_ = ": keep-alive\n\n";
    heartbeat_due_ = false;
    if (!out_.empty()) {
      writing_ = true;
      Lowest().expires_after(Idle());
      net::async_write(stream_, http::make_chunk(net::buffer(out_)),
                       [self = Self()](beast::error_code ec, size_t) {
                         self->writing_ = false;
                         if (ec) return self->Close();
                         self->Pump();
                       });
      return;
    }
    if (ended_) {
      writing_ = true;
      Lowest().expires_after(Idle());
      net::async_write(stream_, http::make_chunk_last(),
                       [self = Self()](beast::error_code, size_t) {
                         self->writing_ = false;
                         self->Close();
                       });
      return;
    }
    // Waiting for the source: no deadline (the heartbeat finds dead peers).
    Lowest().expires_never();
  }

  void Close() {
    if (state_ == State::kClosed) return;
    state_ = State::kClosed;
    if (exchange_) exchange_->MarkGone();
    exchange_.reset();
    source_.reset();  // e.g. unsubscribes a watch
    heartbeat_.cancel();
    beast::error_code ignored;
    Lowest().socket().shutdown(tcp::socket::shutdown_both, ignored);
    Lowest().close();
  }

  HttpGateway::Impl* const gateway_;
  Stream stream_;
  const std::string peer_;
  const bool reject_;  // over --http-max-connections: answer 503 and close
  net::steady_timer heartbeat_;
  beast::flat_buffer buffer_;
  beast::flat_buffer peer_buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  std::shared_ptr<http::response<http::empty_body>> continue_;
  State state_ = State::kReading;
  const Route* route_ = nullptr;
  bool method_mismatch_ = false;
  std::string path_;
  std::string query_;
  std::string param_;
  bool keep_alive_ = true;
  uint64_t exchange_id_ = 0;
  std::shared_ptr<HttpExchange> exchange_;
  http::response<http::string_body> res_;
  // Streaming:
  http::response<http::empty_body> head_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  std::unique_ptr<ChunkSource> source_;
  std::string out_;
  bool sse_ = false;
  bool writing_ = false;
  bool ended_ = false;
  bool heartbeat_due_ = false;
};

absl::StatusOr<tcp::endpoint> ResolveListen(net::io_context& ioc, const std::string& listen) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen=", listen, ": expected HOST:PORT"));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  int port = 0;
  if (!absl::SimpleAtoi(listen.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("--http-listen=", listen, ": bad port"));
  }
  beast::error_code ec;
  tcp::resolver resolver(ioc);
  auto results = resolver.resolve(host.empty() ? "0.0.0.0" : host, std::to_string(port),
                                  tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--http-listen=", listen, ": cannot resolve ", host, ": ", ec.message()));
  }
  return results.begin()->endpoint();
}

}  // namespace

const Route* HttpGateway::Impl::Match(absl::string_view method, absl::string_view path,
                                      std::string* param, bool* method_mismatch) const {
  *method_mismatch = false;
  for (const Route& route : routes_) {
    const size_t brace = route.path.find('{');
    bool path_matches;
    if (brace == std::string::npos) {
      path_matches = path == route.path;
    } else {
      const absl::string_view prefix(route.path.data(), brace);
      path_matches = absl::StartsWith(path, prefix) && path.size() > prefix.size() &&
                     path.substr(prefix.size()).find('/') == absl::string_view::npos;
      if (path_matches) *param = std::string(path.substr(prefix.size()));
    }
    if (!path_matches) continue;
    if (method == route.method) return &route;
    *method_mismatch = true;
  }
  return nullptr;
}

absl::Status HttpGateway::Impl::Start(int* port) {
  absl::StatusOr<tcp::endpoint> endpoint = ResolveListen(ioc_, options_.listen);
  if (!endpoint.ok()) return endpoint.status();
  if (!options_.tls_cert_file.empty()) {
    beast::error_code ec;
    ssl_.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                     ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                     ssl::context::no_tlsv1_1);
    ssl_.use_certificate_chain_file(options_.tls_cert_file, ec);
    if (!ec) ssl_.use_private_key_file(options_.tls_key_file, ssl::context::pem, ec);
    if (!ec && !options_.tls_client_ca_file.empty()) {
      ssl_.load_verify_file(options_.tls_client_ca_file, ec);
      ssl_.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
    }
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("HTTP gateway TLS: cannot use the certificate files: ", ec.message()));
    }
    tls_ = true;
  }
  beast::error_code ec;
  acceptor_.open(endpoint->protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(*endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("--http-listen=", options_.listen, ": ", ec.message()));
  }
  *port = acceptor_.local_endpoint().port();
  Accept();
  for (int i = 0; i < std::max(1, options_.threads); ++i) {
    threads_.emplace_back([this] { ioc_.run(); });
  }
  return absl::OkStatus();
}

void HttpGateway::Impl::Accept() {
  acceptor_.async_accept(net::make_strand(ioc_),
                         [this](beast::error_code ec, tcp::socket socket) {
                           OnAccept(ec, std::move(socket));
                         });
}

void HttpGateway::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (closing()) return;
  if (ec) {
    if (ec == net::error::operation_aborted) return;
    Log(LogLevel::kWarning, "http accept: %s", ec.message());
    return Accept();
  }
  beast::error_code ignored;
  // Over the limit: the connection is still read (one request, headers and
  // a small body) and answered 503, so that the client sees why; closing it
  // unread could reset it before the client reads anything.
  const bool reject = count_.load() >= options_.max_connections;
  socket.set_option(tcp::no_delay(true), ignored);
  const tcp::endpoint remote = socket.remote_endpoint(ignored);
  count_.fetch_add(1);
  std::shared_ptr<SessionBase> session;
  if (tls_) {
    auto s = std::make_shared<Session<beast::ssl_stream<beast::tcp_stream>>>(
        this, beast::ssl_stream<beast::tcp_stream>(std::move(socket), ssl_), PeerName(remote),
        reject);
    Register(s.get(), s);
    s->Run();
  } else {
    auto s = std::make_shared<Session<beast::tcp_stream>>(
        this, beast::tcp_stream(std::move(socket)), PeerName(remote), reject);
    Register(s.get(), s);
    s->Run();
  }
  Accept();
}

template <class Fn>
void HttpGateway::Impl::ForEachSession(Fn fn) {
  std::vector<std::shared_ptr<SessionBase>> live;
  {
    absl::MutexLock lock(&mu_);
    for (auto& [raw, weak] : sessions_) {
      if (auto s = weak.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) fn(*s);
}

void HttpGateway::Impl::StopAccepting() {
  if (closing_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
  });
  ForEachSession([](SessionBase& s) { s.CloseIfIdle(); });
}

void HttpGateway::Impl::Shutdown(absl::Time deadline) {
  StopAccepting();
  if (stopped_.exchange(true)) return;
  while (count_.load() > 0 && absl::Now() < deadline) {
    // Idle keep-alive connections that were mid-request when StopAccepting
    // ran are closed once they answer (Connection: close); poll briefly.
    absl::SleepFor(absl::Milliseconds(5));
  }
  ForEachSession([](SessionBase& s) { s.ForceClose(); });
  const absl::Time cut = absl::Now() + absl::Seconds(1);
  while (count_.load() > 0 && absl::Now() < cut) absl::SleepFor(absl::Milliseconds(5));
  ioc_.stop();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
}

HttpGateway::HttpGateway(HttpGatewayOptions options, std::vector<Route> routes)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(routes))) {}

HttpGateway::~HttpGateway() { Shutdown(absl::Now()); }

absl::Status HttpGateway::Start() { return impl_->Start(&port_); }
void HttpGateway::StopAccepting() { impl_->StopAccepting(); }
void HttpGateway::Shutdown(absl::Time deadline) { impl_->Shutdown(deadline); }
size_t HttpGateway::connections() const { return impl_->connections(); }

}  // namespace cqmux::gateway
