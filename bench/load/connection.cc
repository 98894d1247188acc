// Connection set-up for cqmux-load: our own TCP sockets under direct
// channels, or resolver-backed channels for other target forms.
#include "connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <grpcpp/create_channel_posix.h>

#include "absl/strings/str_cat.h"

namespace cqmux::load {
namespace {

// Connects a TCP socket to HOST:PORT (or [V6]:PORT). Returns -1 with an empty
// error when the target is not of that form (gRPC's resolver is used then),
// -1 with a message when connecting failed.
int ConnectTcp(const std::string& target, absl::Duration timeout, std::string* error) {
  std::string host, port;
  if (!target.empty() && target[0] == '[') {
    const size_t close = target.find(']');
    if (close == std::string::npos || close + 1 >= target.size() || target[close + 1] != ':') return -1;
    host = target.substr(1, close - 1);
    port = target.substr(close + 2);
  } else {
    const size_t colon = target.rfind(':');
    if (colon == std::string::npos || target.find(':') != colon ||
        target.find('/') != std::string::npos) {
      return -1;
    }
    host = target.substr(0, colon);
    port = target.substr(colon + 1);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    *error = gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) continue;
    int rc = connect(fd, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int err = ETIMEDOUT;
      socklen_t len = sizeof(err);
      if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) == 1) {
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      *error = std::strerror(errno);
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd >= 0) {
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  return fd;
}

}  // namespace

absl::StatusOr<Connection> Connect(const Options& options, int index) {
  grpc::ChannelArguments args;
  // A load generator must not resend (a retry would hide a failure), and
  // the retry filter costs ~15 % of the client's CPU per call.
  args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);
  // Without deadlines the client needs no deadline filter either.
  if (options.call_timeout == absl::ZeroDuration()) args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
  args.SetMaxReceiveMessageSize(-1);
  args.SetMaxSendMessageSize(-1);
  Connection c;
  if (options.direct_sockets && !options.security.tls) {
    std::string error;
    c.fd = ConnectTcp(options.target, options.connect_timeout, &error);
    if (c.fd < 0 && !error.empty()) {
      return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target, ": ", error));
    }
    // gRPC owns the socket from here on; it is connected already, so the
    // direct channel needs (and has) no connectivity state to wait for.
    if (c.fd >= 0) {
      c.channel = grpc::CreateCustomInsecureChannelFromFd(options.target, c.fd, args);
      return c;
    }
  }
  // Distinct arguments and a private subchannel pool: one TCP connection per channel.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("cqmux_load.connection", index);
  options.security.Apply(&args);
  c.channel = grpc::CreateCustomChannel(
      options.target,
      options.security.credentials != nullptr ? options.security.credentials
                                              : grpc::InsecureChannelCredentials(),
      args);
  if (!c.channel->WaitForConnected(absl::ToChronoTime(absl::Now() + options.connect_timeout))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", options.target));
  }
  return c;
}

}  // namespace cqmux::load
