// Hand-written protobuf encoding of OTLP spans; see otlp_encoding.h.
#include "server/observability/tracing/otlp_encoding.h"

#include <cstring>

#include "absl/strings/string_view.h"

namespace cqmux::tracing {
namespace {

// Protobuf wire types.
constexpr int kVarint = 0;
constexpr int kFixed64 = 1;
constexpr int kLen = 2;
constexpr int kFixed32 = 5;

// Field numbers of the OTLP subset (otlp/opentelemetry/proto/...).
namespace f {
constexpr int kRequestResourceSpans = 1;
constexpr int kResourceSpansResource = 1, kResourceSpansScopeSpans = 2;
constexpr int kResourceAttributes = 1;
constexpr int kScopeSpansScope = 1, kScopeSpansSpans = 2;
constexpr int kScopeName = 1, kScopeVersion = 2;
constexpr int kKeyValueKey = 1, kKeyValueValue = 2;
constexpr int kAnyString = 1, kAnyInt = 3;
constexpr int kSpanTraceId = 1, kSpanSpanId = 2, kSpanTraceState = 3, kSpanParentSpanId = 4,
              kSpanName = 5, kSpanKind = 6, kSpanStart = 7, kSpanEnd = 8, kSpanAttributes = 9,
              kSpanEvents = 11, kSpanDroppedEvents = 12, kSpanStatus = 15, kSpanFlags = 16;
constexpr int kEventTime = 1, kEventName = 2, kEventAttributes = 3;
constexpr int kStatusMessage = 2, kStatusCode = 3;
}  // namespace f

constexpr int kSpanKindServer = 2;
constexpr int kStatusCodeError = 2;
// W3C flags (sampled: every exported span is) and OTLP's "the parent's
// remoteness is known" bit 8, with bit 9 when the parent is remote.
constexpr uint32_t kSampled = 0x01;
constexpr uint32_t kHasIsRemote = 0x100;
constexpr uint32_t kIsRemote = 0x200;

int VarintSize(uint64_t v) {
  int n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

// Appends to a std::string. A nested message is opened with a one-byte
// length placeholder and closed by writing its length there, moving the
// message's bytes when the length needs more than one byte (spans and the
// batch's two outer messages: a memmove each).
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  void Varint(uint64_t v) {
    char buf[10];
    int n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, static_cast<size_t>(n));
  }
  void Tag(int field, int wire_type) {
    Varint(static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
  }
  void String(int field, absl::string_view s) {
    Tag(field, kLen);
    Varint(s.size());
    out_->append(s.data(), s.size());
  }
  void Bytes(int field, const uint8_t* data, size_t size) {
    String(field, absl::string_view(reinterpret_cast<const char*>(data), size));
  }
  void VarintField(int field, uint64_t v) {
    Tag(field, kVarint);
    Varint(v);
  }
  void Fixed64(int field, uint64_t v) {
    Tag(field, kFixed64);
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_->append(buf, 8);
  }
  void Fixed32(int field, uint32_t v) {
    Tag(field, kFixed32);
    char buf[4];
    for (int i = 0; i < 4; ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out_->append(buf, 4);
  }

  // Returns the position of the length placeholder, for End().
  size_t Begin(int field) {
    Tag(field, kLen);
    out_->push_back('\0');
    return out_->size();
  }
  void End(size_t start) {
    const size_t len = out_->size() - start;
    const int n = VarintSize(len);
    if (n > 1) {
      out_->insert(start, static_cast<size_t>(n - 1), '\0');
    }
    char* p = out_->data() + start - 1;
    uint64_t v = len;
    while (v >= 0x80) {
      *p++ = static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    *p = static_cast<char>(v);
  }

  // A KeyValue attribute in field `field` of the current message.
  void StringAttribute(int field, absl::string_view key, absl::string_view value) {
    const size_t kv = Begin(field);
    String(f::kKeyValueKey, key);
    const size_t any = Begin(f::kKeyValueValue);
    String(f::kAnyString, value);
    End(any);
    End(kv);
  }
  void IntAttribute(int field, absl::string_view key, int64_t value) {
    const size_t kv = Begin(field);
    String(f::kKeyValueKey, key);
    const size_t any = Begin(f::kKeyValueValue);
    VarintField(f::kAnyInt, static_cast<uint64_t>(value));
    End(any);
    End(kv);
  }

 private:
  std::string* const out_;
};

void EncodeSpan(const SpanData& data, Writer& w) {
  w.Bytes(f::kSpanTraceId, data.trace_id.data(), data.trace_id.size());
  w.Bytes(f::kSpanSpanId, data.span_id.data(), data.span_id.size());
  if (!data.trace_state.empty()) w.String(f::kSpanTraceState, data.trace_state);
  if (data.has_remote_parent) {
    w.Bytes(f::kSpanParentSpanId, data.parent_span_id.data(), data.parent_span_id.size());
  }
  w.String(f::kSpanName, data.method != nullptr ? absl::string_view(data.method->path)
                                                : absl::string_view("unknown"));
  w.VarintField(f::kSpanKind, kSpanKindServer);
  w.Fixed64(f::kSpanStart, static_cast<uint64_t>(data.start_ns));
  w.Fixed64(f::kSpanEnd, static_cast<uint64_t>(data.end_ns));
  // The RPC semantic conventions' server span.
  w.StringAttribute(f::kSpanAttributes, "rpc.system", "grpc");
  if (data.method != nullptr) {
    w.StringAttribute(f::kSpanAttributes, "rpc.service", data.method->service);
    w.StringAttribute(f::kSpanAttributes, "rpc.method", data.method->method);
  }
  w.IntAttribute(f::kSpanAttributes, "rpc.grpc.status_code", data.status_code);
  if (!data.server_address.empty()) {
    w.StringAttribute(f::kSpanAttributes, "server.address", data.server_address);
  }
  if (data.server_port != 0) w.IntAttribute(f::kSpanAttributes, "server.port", data.server_port);
  if (!data.peer_address.empty()) {
    w.StringAttribute(f::kSpanAttributes, "network.peer.address", data.peer_address);
  }
  if (data.peer_port != 0) {
    w.IntAttribute(f::kSpanAttributes, "network.peer.port", data.peer_port);
  }
  for (const SpanEvent& e : data.events) {
    const size_t event = w.Begin(f::kSpanEvents);
    w.Fixed64(f::kEventTime, static_cast<uint64_t>(e.time_ns));
    w.String(f::kEventName, e.name);
    for (const auto& [key, value] : e.attributes) w.IntAttribute(f::kEventAttributes, key, value);
    w.End(event);
  }
  if (data.dropped_events != 0) w.VarintField(f::kSpanDroppedEvents, data.dropped_events);
  if (IsServerError(data.status_code)) {
    const size_t status = w.Begin(f::kSpanStatus);
    if (!data.status_message.empty()) w.String(f::kStatusMessage, data.status_message);
    w.VarintField(f::kStatusCode, kStatusCodeError);
    w.End(status);
  }
  w.Fixed32(f::kSpanFlags,
            kSampled | kHasIsRemote | (data.has_remote_parent ? kIsRemote : 0));
}

}  // namespace

void EncodeExportRequest(const ResourceInfo& resource, const std::vector<SpanData>& spans,
                         std::string* out) {
  out->clear();
  Writer w(out);
  const size_t resource_spans = w.Begin(f::kRequestResourceSpans);
  const size_t r = w.Begin(f::kResourceSpansResource);
  w.StringAttribute(f::kResourceAttributes, "service.name", resource.service_name);
  if (!resource.service_version.empty()) {
    w.StringAttribute(f::kResourceAttributes, "service.version", resource.service_version);
  }
  if (!resource.host_name.empty()) {
    w.StringAttribute(f::kResourceAttributes, "host.name", resource.host_name);
  }
  w.End(r);
  const size_t scope_spans = w.Begin(f::kResourceSpansScopeSpans);
  const size_t scope = w.Begin(f::kScopeSpansScope);
  w.String(f::kScopeName, "cqmux");
  if (!resource.service_version.empty()) w.String(f::kScopeVersion, resource.service_version);
  w.End(scope);
  for (const SpanData& span : spans) {
    const size_t s = w.Begin(f::kScopeSpansSpans);
    EncodeSpan(span, w);
    w.End(s);
  }
  w.End(scope_spans);
  w.End(resource_spans);
}

}  // namespace cqmux::tracing
