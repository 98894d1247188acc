// Peer and authority parsing; see net_address.h.
#include "server/observability/tracing/net_address.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"

namespace cqmux::tracing {

HostPort ParseHostPort(absl::string_view authority) {
  HostPort result;
  absl::string_view host = authority;
  absl::string_view port;
  if (absl::StartsWith(authority, "[")) {
    const size_t close = authority.find(']');
    if (close == absl::string_view::npos) {
      result.host = std::string(authority);
      return result;
    }
    host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      port = authority.substr(close + 2);
    }
  } else {
    const size_t colon = authority.rfind(':');
    // More than one colon without brackets: a bare IPv6 address, no port.
    if (colon != absl::string_view::npos && authority.find(':') == colon) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }
  result.host = std::string(host);
  int number = 0;
  if (!port.empty() && absl::SimpleAtoi(port, &number) && number > 0 &&
      number <= 65535) {
    result.port = number;
  }
  return result;
}

HostPort ParsePeer(absl::string_view peer) {
  if (absl::ConsumePrefix(&peer, "unix:")) return HostPort{std::string(peer), 0};
  if (absl::ConsumePrefix(&peer, "ipv4:")) return ParseHostPort(peer);
  if (absl::ConsumePrefix(&peer, "ipv6:")) {
    if (absl::StrContains(peer, '%')) {
      return ParseHostPort(absl::StrReplaceAll(peer, {{"%5B", "["}, {"%5D", "]"},
                                                      {"%5b", "["}, {"%5d", "]"},
                                                      {"%25", "%"}}));
    }
    return ParseHostPort(peer);
  }
  return HostPort{std::string(peer), 0};
}

}  // namespace cqmux::tracing
