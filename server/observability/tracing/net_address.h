// Address and port of a call's two ends, for the span attributes
// network.peer.* (from ServerContext::peer()) and server.* (from the call's
// :authority). Pure string functions, unit-tested on their own.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_NET_ADDRESS_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_NET_ADDRESS_H_

#include <string>

#include "absl/strings/string_view.h"

namespace cqmux::tracing {

struct HostPort {
  std::string host;  // IPv6 without brackets
  int port = 0;      // 0: none
};

// gRPC's peer string: "ipv4:127.0.0.1:5555", "ipv6:[::1]:5555" (gRPC 1.51
// percent-encodes the brackets: "ipv6:%5B::1%5D:5555"), "unix:/path" (no
// port). Anything else: the whole string as the host, no port.
HostPort ParsePeer(absl::string_view peer);

// "host:port", "[::1]:port" or "host" (no port); a port that is not a
// number in 1..65535 is left out.
HostPort ParseHostPort(absl::string_view authority);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_NET_ADDRESS_H_
