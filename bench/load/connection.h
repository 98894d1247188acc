// How cqmux-load opens its connections: by default its own TCP socket under a
// direct gRPC channel (no resolver, load balancer or retries per call, and a
// socket the engine can cork), otherwise an ordinary channel through gRPC's
// resolver, one TCP connection each (always with TLS: gRPC runs only
// plaintext channels directly on a socket).
#ifndef CQMUX_BENCH_LOAD_CONNECTION_H_
#define CQMUX_BENCH_LOAD_CONNECTION_H_

#include <memory>

#include <grpcpp/grpcpp.h>

#include "absl/status/statusor.h"
#include "load.h"

namespace cqmux::load {

struct Connection {
  std::shared_ptr<grpc::Channel> channel;
  int fd = -1;  // the socket when we connected it ourselves, else -1
};

// Opens connection number `index` to options.target and waits until it is ready.
absl::StatusOr<Connection> Connect(const Options& options, int index);

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_CONNECTION_H_
