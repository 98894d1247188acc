// Peer strings as gRPC 1.51 spells them and :authority values, to the
// network.peer.* and server.* attributes.
#include "server/observability/tracing/net_address.h"

#include <gtest/gtest.h>

namespace cqmux::tracing {
namespace {

void ExpectHostPort(const HostPort& got, const std::string& host, int port) {
  EXPECT_EQ(got.host, host);
  EXPECT_EQ(got.port, port);
}

TEST(NetAddressTest, Peers) {
  ExpectHostPort(ParsePeer("ipv4:127.0.0.1:5555"), "127.0.0.1", 5555);
  ExpectHostPort(ParsePeer("ipv6:[::1]:5555"), "::1", 5555);
  ExpectHostPort(ParsePeer("ipv6:%5B::1%5D:5555"), "::1", 5555);
  ExpectHostPort(ParsePeer("ipv6:%5Bfe80::1%25eth0%5D:80"), "fe80::1%eth0", 80);
  ExpectHostPort(ParsePeer("unix:/run/cqmux.sock"), "/run/cqmux.sock", 0);
  ExpectHostPort(ParsePeer("something-else"), "something-else", 0);
  ExpectHostPort(ParsePeer(""), "", 0);
}

TEST(NetAddressTest, Authorities) {
  ExpectHostPort(ParseHostPort("localhost:50051"), "localhost", 50051);
  ExpectHostPort(ParseHostPort("example.com"), "example.com", 0);
  ExpectHostPort(ParseHostPort("[::1]:443"), "::1", 443);
  ExpectHostPort(ParseHostPort("[::1]"), "::1", 0);
  ExpectHostPort(ParseHostPort("::1"), "::1", 0);  // bare IPv6: no port
  ExpectHostPort(ParseHostPort("host:0"), "host", 0);
  ExpectHostPort(ParseHostPort("host:65536"), "host", 0);
  ExpectHostPort(ParseHostPort("host:port"), "host", 0);
}

}  // namespace
}  // namespace cqmux::tracing
