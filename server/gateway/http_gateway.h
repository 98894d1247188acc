// The HTTP/1.1 side of cqmux: a small Boost.Beast server on its own Asio
// event loop (a bounded number of threads), serving a route table built by
// the app from the same service objects the gRPC method table binds. It
// never runs slow work on its loop: routes hand that to the engine's pools
// (json_routes.h) and their answers come back to the connection's strand.
//
//   HttpGateway gateway(options, routes);
//   gateway.Start();            // binds, serves
//   gateway.StopAccepting();    // shutdown begins: no new connections
//   gateway.Shutdown(deadline); // in-flight requests finish or are cut
#ifndef CQMUX_SERVER_GATEWAY_HTTP_GATEWAY_H_
#define CQMUX_SERVER_GATEWAY_HTTP_GATEWAY_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/gateway/exchange.h"

namespace cqmux::gateway {

struct HttpGatewayOptions {
  std::string listen;  // HOST:PORT; port 0 picks a free one
  int threads = 1;     // event-loop threads
  size_t max_connections = 10000;
  // A keep-alive connection with no request for this long is closed; also
  // bounds how long one request's headers and body may take to arrive.
  absl::Duration idle_timeout = absl::Seconds(60);
  size_t max_header_bytes = 16 << 10;
  // PEM files; both set: HTTPS only.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Set: clients must present a certificate signed by one of these (mTLS).
  std::string tls_client_ca_file;
  // Server-Sent Events streams send a comment this often, so that dead
  // peers are found and proxies keep the stream open.
  absl::Duration sse_heartbeat = absl::Seconds(15);
};

class HttpGateway {
 public:
  HttpGateway(HttpGatewayOptions options, std::vector<Route> routes);
  ~HttpGateway();  // Shutdown(now) if still running
  HttpGateway(const HttpGateway&) = delete;
  HttpGateway& operator=(const HttpGateway&) = delete;

  // Binds and starts the loop threads. Fails if the address cannot be bound
  // or the TLS files cannot be used.
  absl::Status Start();
  int port() const { return port_; }

  // Closes the listener; idle keep-alive connections are closed and every
  // later answer carries "Connection: close". Any thread; idempotent.
  void StopAccepting();
  // Waits until every connection is done (streams end when their services
  // end them, e.g. the books hub's Close) or `deadline`, then closes what is
  // left and stops the threads. Idempotent.
  void Shutdown(absl::Time deadline);

  // Open connections (for tests and logs).
  size_t connections() const;

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace cqmux::gateway

#endif  // CQMUX_SERVER_GATEWAY_HTTP_GATEWAY_H_
