// OTLP encoding and the gRPC exporter; see otlp_exporter.h.
#include "server/observability/tracing/otlp_exporter.h"

#include <utility>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <google/protobuf/arena.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "server/observability/tracing/net_address.h"

namespace cqmux::tracing {
namespace {

namespace otlp_collector = opentelemetry::proto::collector::trace::v1;
namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;

template <class Message>
void AddString(Message* m, absl::string_view key, absl::string_view value) {
  otlp_common::KeyValue* kv = m->add_attributes();
  kv->set_key(key.data(), key.size());
  kv->mutable_value()->set_string_value(value.data(), value.size());
}

template <class Message>
void AddInt(Message* m, absl::string_view key, int64_t value) {
  otlp_common::KeyValue* kv = m->add_attributes();
  kv->set_key(key.data(), key.size());
  kv->mutable_value()->set_int_value(value);
}

std::string Bytes(const uint8_t* data, size_t size) {
  return std::string(reinterpret_cast<const char*>(data), size);
}

// W3C flags (sampled: every exported span is) and OTLP's "the parent's
// remoteness is known" bit 8, with bit 9 when the parent is remote.
constexpr uint32_t kSampled = 0x01;
constexpr uint32_t kHasIsRemote = 0x100;
constexpr uint32_t kIsRemote = 0x200;

void EncodeSpan(const SpanData& data, otlp_trace::Span* span) {
  span->set_trace_id(Bytes(data.trace_id.data(), data.trace_id.size()));
  span->set_span_id(Bytes(data.span_id.data(), data.span_id.size()));
  if (data.has_remote_parent) {
    span->set_parent_span_id(Bytes(data.parent_span_id.data(), data.parent_span_id.size()));
  }
  if (!data.trace_state.empty()) span->set_trace_state(data.trace_state);
  span->set_flags(kSampled | kHasIsRemote | (data.has_remote_parent ? kIsRemote : 0));
  span->set_kind(otlp_trace::Span::SPAN_KIND_SERVER);
  span->set_start_time_unix_nano(static_cast<uint64_t>(data.start_ns));
  span->set_end_time_unix_nano(static_cast<uint64_t>(data.end_ns));
  // The RPC semantic conventions' server span.
  AddString(span, "rpc.system", "grpc");
  if (data.method != nullptr) {
    span->set_name(data.method->path);
    AddString(span, "rpc.service", data.method->service);
    AddString(span, "rpc.method", data.method->method);
  } else {
    span->set_name("unknown");
  }
  AddInt(span, "rpc.grpc.status_code", data.status_code);
  if (!data.server_address.empty()) AddString(span, "server.address", data.server_address);
  if (data.server_port != 0) AddInt(span, "server.port", data.server_port);
  if (!data.peer_address.empty()) AddString(span, "network.peer.address", data.peer_address);
  if (data.peer_port != 0) AddInt(span, "network.peer.port", data.peer_port);
  for (const SpanEvent& e : data.events) {
    otlp_trace::Span::Event* event = span->add_events();
    event->set_time_unix_nano(static_cast<uint64_t>(e.time_ns));
    event->set_name(e.name);
    for (const auto& [key, value] : e.attributes) AddInt(event, key, value);
  }
  if (data.dropped_events != 0) span->set_dropped_events_count(data.dropped_events);
  if (IsServerError(data.status_code)) {
    span->mutable_status()->set_code(otlp_trace::Status::STATUS_CODE_ERROR);
    span->mutable_status()->set_message(data.status_message);
  }
}

class OtlpGrpcExporter final : public SpanExporter {
 public:
  OtlpGrpcExporter(const std::string& target, ResourceInfo resource)
      : resource_(std::move(resource)),
        stub_(otlp_collector::TraceService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}

  absl::Status Export(const std::vector<SpanData>& spans, absl::Time deadline) override {
    // The batch's ~15 messages per span live in an arena whose first block
    // is reused from batch to batch: building and freeing the request costs
    // no malloc/free per message, which matters because the export thread
    // shares the server's CPUs.
    google::protobuf::ArenaOptions options;
    options.initial_block = arena_block_.data();
    options.initial_block_size = arena_block_.size();
    google::protobuf::Arena arena(options);
    auto* request =
        google::protobuf::Arena::CreateMessage<otlp_collector::ExportTraceServiceRequest>(&arena);
    EncodeExportRequest(resource_, spans, request);
    otlp_collector::ExportTraceServiceResponse response;
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(deadline));
    // No wait_for_ready: with the collector down a batch fails at once
    // (counted, dropped) instead of holding the export thread, and shutdown
    // is not held up by a receiver that is not there.
    const grpc::Status status = stub_->Export(&context, *request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(absl::StrCat(
          "OTLP Export: ", status.error_code(), " ", status.error_message()));
    }
    if (response.has_partial_success() && response.partial_success().rejected_spans() > 0) {
      return absl::DataLossError(absl::StrCat(
          "OTLP Export: the receiver rejected ",
          response.partial_success().rejected_spans(), " spans: ",
          response.partial_success().error_message()));
    }
    return absl::OkStatus();
  }

 private:
  const ResourceInfo resource_;
  const std::unique_ptr<otlp_collector::TraceService::Stub> stub_;
  // Enough for a full batch of 512 typical spans (~600 bytes each).
  std::vector<char> arena_block_ = std::vector<char>(size_t{512} << 10);
};

}  // namespace

void EncodeExportRequest(const ResourceInfo& resource, const std::vector<SpanData>& spans,
                         otlp_collector::ExportTraceServiceRequest* request) {
  otlp_trace::ResourceSpans* rs = request->add_resource_spans();
  auto* r = rs->mutable_resource();
  AddString(r, "service.name", resource.service_name);
  if (!resource.service_version.empty()) {
    AddString(r, "service.version", resource.service_version);
  }
  if (!resource.host_name.empty()) AddString(r, "host.name", resource.host_name);
  otlp_trace::ScopeSpans* scope_spans = rs->add_scope_spans();
  scope_spans->mutable_scope()->set_name("cqmux");
  scope_spans->mutable_scope()->set_version(resource.service_version);
  scope_spans->mutable_spans()->Reserve(static_cast<int>(spans.size()));
  for (const SpanData& span : spans) EncodeSpan(span, scope_spans->add_spans());
}

absl::StatusOr<std::string> OtlpTarget(const std::string& endpoint) {
  absl::string_view rest = endpoint;
  if (absl::StartsWithIgnoreCase(rest, "https://")) {
    return absl::InvalidArgumentError(
        "--otlp-endpoint: https:// is not supported (the exporter speaks plaintext "
        "OTLP/gRPC; run a collector next to the server)");
  }
  if (absl::StartsWithIgnoreCase(rest, "http://")) rest.remove_prefix(7);
  while (absl::EndsWith(rest, "/")) rest.remove_suffix(1);
  const HostPort hp = ParseHostPort(rest);
  if (hp.host.empty() || hp.port == 0 || absl::StrContains(rest, '/')) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--otlp-endpoint must be HOST:PORT or http://HOST:PORT (OTLP/gRPC, "
        "usually port 4317), not \"", endpoint, "\""));
  }
  return std::string(rest);
}

std::unique_ptr<SpanExporter> MakeOtlpGrpcExporter(const std::string& target,
                                                   ResourceInfo resource) {
  return std::make_unique<OtlpGrpcExporter>(target, std::move(resource));
}

}  // namespace cqmux::tracing
