// One finished SERVER span as the tracer hands it to the exporter: plain
// data, recorded on a queue thread, read only by the export thread.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_DATA_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_DATA_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "server/engine/method_info.h"
#include "server/observability/tracing/trace_context.h"

namespace cqmux::tracing {

// The names of a bound method, copied once per engine so that spans can
// point at them without copying strings (and outlive the engine's tables).
struct MethodNames {
  std::string path;     // "rpc.Fetch/Capitalize": the span name
  std::string service;  // rpc.service
  std::string method;   // rpc.method
  MethodKind kind = MethodKind::kUnary;
};

// Inline storage for the common case (an event or two, two attributes
// each): no allocation per event on the queue thread.
struct SpanEvent {
  int64_t time_ns = 0;
  std::string name;
  absl::InlinedVector<std::pair<std::string, int64_t>, 2> attributes;
};

struct SpanData {
  TraceId trace_id{};
  SpanId span_id{};
  SpanId parent_span_id{};  // all zero: a root span
  bool has_remote_parent = false;
  std::string trace_state;
  const MethodNames* method = nullptr;
  int64_t start_ns = 0;  // Unix epoch nanoseconds
  int64_t end_ns = 0;
  int status_code = 0;  // grpc::StatusCode
  std::string status_message;
  // From ServerContext::peer(); port 0 = none (e.g. a unix socket).
  std::string peer_address;
  int peer_port = 0;
  // From the call's :authority; port 0 = none given.
  std::string server_address;
  int server_port = 0;
  // What the queue thread recorded: gRPC's peer string and the :authority,
  // parsed into the four fields above by the export thread (the tracer
  // does, before the exporter sees the span), off the calls' path.
  std::string raw_peer;
  std::string raw_authority;
  absl::InlinedVector<SpanEvent, 2> events;
  uint32_t dropped_events = 0;
};

// Whether the OpenTelemetry RPC conventions make a server span with this
// gRPC status an Error: UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL,
// UNAVAILABLE, DATA_LOSS. Other codes are the client's doing: Unset.
bool IsServerError(int status_code);

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_SPAN_DATA_H_
