// What an HTTP route handler sees of one request, and how it answers: a
// whole reply, or a body streamed chunk by chunk (Server-Sent Events, NDJSON).
// The gateway's connection code implements it (http_gateway.cc); route
// adapters (json_routes.h) and tests only see this interface.
#ifndef CQMUX_SERVER_GATEWAY_EXCHANGE_H_
#define CQMUX_SERVER_GATEWAY_EXCHANGE_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "server/engine/call_context.h"
#include "server/engine/waker.h"

namespace cqmux::gateway {

struct HttpReply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
};

// A streamed response body, pulled by the connection on its own thread, one
// chunk at a time, never while a write is in flight (like ServerStream).
class ChunkSource {
 public:
  enum class Step {
    kChunk,  // *chunk is the next piece of the body
    kWait,   // nothing yet: the Waker given at Stream() resumes pulling
    kEnd,    // the body is complete
  };
  virtual ~ChunkSource() = default;
  virtual Step Next(std::string* chunk) = 0;
};

class Exchange {
 public:
  using QueryParams = std::vector<std::pair<std::string, std::string>>;
  using OpenSource = std::function<std::unique_ptr<ChunkSource>(Waker)>;

  virtual ~Exchange() = default;

  // The request as a handler's CallContext: headers as metadata (lower-case
  // names), the peer, Wanted() false once the client is gone or its
  // Grpc-Timeout passed.
  virtual const CallContext& call() const = 0;
  virtual absl::string_view body() const = 0;
  // The value of the route's {param} segment ("" without one), unescaped.
  virtual absl::string_view path_param() const = 0;
  // The query string's parameters in order, percent-decoded.
  virtual const QueryParams& query() const = 0;

  // Exactly one of these, once, from any thread.
  virtual void Reply(HttpReply reply) = 0;
  // Answers 200 with a chunked body of `content_type`; the headers go out at
  // once (an EventSource knows it is live). `open` runs on the connection's
  // thread and gets the Waker that resumes a source that said kWait.
  virtual void Stream(std::string content_type, OpenSource open) = 0;
};

using RouteHandler = std::function<void(std::shared_ptr<Exchange>)>;

struct Route {
  std::string method;  // "GET", "POST", "DELETE"
  // "/v1/books" or, with one parameter as the last segment, "/v1/books/{id}".
  std::string path;
  size_t max_body_bytes = 0;
  RouteHandler handler;
};

}  // namespace cqmux::gateway

#endif  // CQMUX_SERVER_GATEWAY_EXCHANGE_H_
