// The parent a call's span joins, read from the call's metadata: W3C Trace
// Context (`traceparent`, `tracestate`) and gRPC's binary `grpc-trace-bin`
// (the OpenCensus format the tutorial's clients send). Pure functions, no
// gRPC: unit-tested on their own.
#ifndef CQMUX_SERVER_OBSERVABILITY_TRACING_TRACE_CONTEXT_H_
#define CQMUX_SERVER_OBSERVABILITY_TRACING_TRACE_CONTEXT_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace cqmux::tracing {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// A remote parent: ids (never all zero) and whether it was sampled.
struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  bool sampled = false;
  // W3C tracestate, kept only with a valid traceparent; "" otherwise.
  std::string trace_state;
};

// The longest tracestate kept; a longer one is dropped whole. W3C lets a
// vendor limit what it propagates, and asks for at least 512 characters.
inline constexpr size_t kMaxTraceStateBytes = 512;

// Parses a `traceparent` value as the W3C Trace Context specification (level
// 1) says: version-traceid-parentid-flags in lowercase hex, version ff and
// all-zero ids invalid. A version above 00 is parsed as a future version:
// its first four fields as 00's, and anything after them must start with
// "-". nullopt for a malformed value (the call then starts a new trace).
std::optional<SpanContext> ParseTraceparent(absl::string_view value);

// Whether `value` is a tracestate we pass on: at most kMaxTraceStateBytes,
// at most 32 list members of the form key=value (keys lowercase
// [a-z0-9_-*/], optionally tenant@system; values printable ASCII without
// ',' and '='), blanks around members allowed.
bool ValidTraceState(absl::string_view value);

// Parses the OpenCensus binary context gRPC sends as `grpc-trace-bin`
// (gRPC C++ hands it to the server already base64-decoded): version 0, then
// fields by id: 0 = 16-byte trace id, 1 = 8-byte span id, 2 = 1-byte trace
// options (bit 0: sampled). Trace id and span id are required; unknown
// field ids end the parse (the format says later fields may follow).
std::optional<SpanContext> ParseGrpcTraceBin(absl::string_view bytes);

// Lowercase hex, e.g. for logs and tests.
std::string ToHex(const uint8_t* data, size_t size);
inline std::string ToHex(const TraceId& id) { return ToHex(id.data(), id.size()); }
inline std::string ToHex(const SpanId& id) { return ToHex(id.data(), id.size()); }

}  // namespace cqmux::tracing

#endif  // CQMUX_SERVER_OBSERVABILITY_TRACING_TRACE_CONTEXT_H_
