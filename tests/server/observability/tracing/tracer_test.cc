// The tracer through real gRPC calls to a whole in-process server (ServerApp)
// with a fake exporter: span names, ids and attributes, the services'
// events, statuses, the bounded queue's drops while the exporter is stuck,
// export failures, and the shutdown flush (and its deadline). Also the OTLP
// encoding of those spans. Waits are on the tracer's own counters, bounded.
#include "server/observability/tracing/tracer.h"

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/client_context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "defs.grpc.pb.h"
#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "outliers.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/observability/tracing/otlp_encoding.h"
#include "server/observability/tracing/otlp_exporter.h"
#include "server/observability/tracing/trace_context.h"
#include "tests/server/app/test_server.h"

namespace cqmux::tracing {
namespace {

using ::testing::ElementsAre;
using ::testing::Pair;

constexpr absl::Duration kWait = absl::Seconds(20);

// What the fake exporter was given, and how it behaves; shared with the
// test, which outlives nothing the tracer owns.
struct FakeCollector {
  absl::Mutex mu;
  std::vector<SpanData> spans ABSL_GUARDED_BY(mu);
  int exports ABSL_GUARDED_BY(mu) = 0;
  bool open ABSL_GUARDED_BY(mu) = true;  // false: Export waits (a stuck collector)
  bool fail ABSL_GUARDED_BY(mu) = false;

  void SetOpen(bool value) {
    absl::MutexLock lock(&mu);
    open = value;
  }
  int Exports() {
    absl::MutexLock lock(&mu);
    return exports;
  }
  std::vector<SpanData> Spans() {
    absl::MutexLock lock(&mu);
    return spans;
  }
};

class FakeExporter final : public SpanExporter {
 public:
  explicit FakeExporter(std::shared_ptr<FakeCollector> collector)
      : collector_(std::move(collector)) {}
  absl::Status Export(const std::vector<SpanData>& spans, absl::Time /*deadline*/) override {
    absl::MutexLock lock(&collector_->mu);
    ++collector_->exports;
    collector_->mu.Await(absl::Condition(&collector_->open));
    if (collector_->fail) return absl::UnavailableError("collector down");
    collector_->spans.insert(collector_->spans.end(), spans.begin(), spans.end());
    return absl::OkStatus();
  }

 private:
  std::shared_ptr<FakeCollector> collector_;
};

// Polls `condition` (a counter of the code under test) until it holds.
template <class F>
bool WaitUntil(F condition) {
  const absl::Time deadline = absl::Now() + kWait;
  while (!condition()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return true;
}

// A server whose engine has `tracer` as its observer (as ServerApp::Create
// installs one for --otlp-endpoint, but with the fake exporter).
class TracedServer {
 public:
  explicit TracedServer(TracerOptions options, int threads = 2)
      : collector_(std::make_shared<FakeCollector>()),
        tracer_(std::make_shared<Tracer>(options,
                                         std::make_unique<FakeExporter>(collector_))) {
    ServerConfig config = TestConfig();
    config.engine.threads = threads;
    config.engine.observers.push_back(tracer_);
    server_ = std::make_unique<TestServer>(std::move(config));
  }

  FakeCollector& collector() { return *collector_; }
  Tracer& tracer() { return *tracer_; }
  TestServer& server() { return *server_; }

  // The app's shutdown order: the engine first, then the tracer's flush.
  void Stop(absl::Duration flush) {
    server_->app().Shutdown();
    tracer_->Shutdown(absl::Now() + flush);
  }

  grpc::Status Capitalize(const std::string& data,
                          std::map<std::string, std::string> metadata = {}) {
    auto stub = rpc::Fetch::NewStub(server_->Channel());
    auto context = Deadline();
    for (const auto& [k, v] : metadata) context->AddMetadata(k, v);
    rpc::Payload request;
    request.set_data(data);
    rpc::Payload response;
    return stub->Capitalize(context.get(), request, &response);
  }

 private:
  std::shared_ptr<FakeCollector> collector_;
  std::shared_ptr<Tracer> tracer_;
  std::unique_ptr<TestServer> server_;
};

// The hand-written encoding of `spans`, parsed back with the messages
// generated from otlp/: a malformed encoding fails the parse.
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest Encoded(
    const ResourceInfo& resource, const std::vector<SpanData>& spans) {
  std::string bytes = "left over from the previous batch";
  EncodeExportRequest(resource, spans, &bytes);
  opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest request;
  EXPECT_TRUE(request.ParseFromString(bytes));
  EXPECT_EQ(request.SerializeAsString().size(), bytes.size());  // every byte is a known field
  return request;
}

TracerOptions Options() {
  TracerOptions options;
  options.batch_delay = absl::Hours(1);  // nothing leaves before the flush
  return options;
}

std::map<std::string, int64_t> EventAttributes(const SpanEvent& event) {
  return {event.attributes.begin(), event.attributes.end()};
}

TEST(TracerTest, CapitalizeSpanHasTheConventionsAttributesAndDataIn) {
  TracedServer traced(Options());
  const std::string parent =
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  ASSERT_TRUE(traced.Capitalize("hello", {{"traceparent", parent},
                                          {"tracestate", "rojo=1"}}).ok());
  traced.Stop(kWait);
  const std::vector<SpanData> spans = traced.collector().Spans();
  ASSERT_EQ(spans.size(), 1u);
  const SpanData& span = spans[0];
  ASSERT_NE(span.method, nullptr);
  EXPECT_EQ(span.method->path, "rpc.Fetch/Capitalize");
  EXPECT_EQ(span.method->service, "rpc.Fetch");
  EXPECT_EQ(span.method->method, "Capitalize");
  EXPECT_EQ(ToHex(span.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ToHex(span.parent_span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(span.has_remote_parent);
  EXPECT_NE(ToHex(span.span_id), "00f067aa0ba902b7");
  EXPECT_EQ(span.trace_state, "rojo=1");
  EXPECT_EQ(span.status_code, 0);
  EXPECT_EQ(span.peer_address, "127.0.0.1");
  EXPECT_GT(span.peer_port, 0);
  EXPECT_EQ(span.server_address, "127.0.0.1");
  EXPECT_EQ(span.server_port, traced.server().app().engine().ports()[0]);
  EXPECT_LE(span.start_ns, span.end_ns);
  ASSERT_EQ(span.events.size(), 1u);
  EXPECT_EQ(span.events[0].name, "Data in");
  EXPECT_THAT(span.events[0].attributes, ElementsAre(Pair("len", 5)));
  EXPECT_EQ(traced.tracer().spans_exported(), 1);
  EXPECT_EQ(traced.tracer().spans_dropped(), 0);

  // The same span as OTLP.
  const auto request = Encoded({"svc", "1.2.3", "host1"}, spans);
  ASSERT_EQ(request.resource_spans_size(), 1);
  const auto& rs = request.resource_spans(0);
  std::map<std::string, std::string> resource;
  for (const auto& kv : rs.resource().attributes()) resource[kv.key()] = kv.value().string_value();
  EXPECT_EQ(resource, (std::map<std::string, std::string>{
                          {"service.name", "svc"}, {"service.version", "1.2.3"},
                          {"host.name", "host1"}}));
  ASSERT_EQ(rs.scope_spans_size(), 1);
  EXPECT_EQ(rs.scope_spans(0).scope().name(), "cqmux");
  EXPECT_EQ(rs.scope_spans(0).scope().version(), "1.2.3");
  ASSERT_EQ(rs.scope_spans(0).spans_size(), 1);
  const auto& otlp = rs.scope_spans(0).spans(0);
  EXPECT_EQ(otlp.name(), "rpc.Fetch/Capitalize");
  EXPECT_EQ(otlp.trace_id(), std::string(span.trace_id.begin(), span.trace_id.end()));
  EXPECT_EQ(otlp.span_id(), std::string(span.span_id.begin(), span.span_id.end()));
  EXPECT_EQ(otlp.parent_span_id(),
            std::string(span.parent_span_id.begin(), span.parent_span_id.end()));
  EXPECT_EQ(otlp.start_time_unix_nano(), static_cast<uint64_t>(span.start_ns));
  EXPECT_EQ(otlp.end_time_unix_nano(), static_cast<uint64_t>(span.end_ns));
  ASSERT_EQ(otlp.events_size(), 1);
  EXPECT_EQ(otlp.events(0).name(), "Data in");
  EXPECT_EQ(otlp.events(0).time_unix_nano(), static_cast<uint64_t>(span.events[0].time_ns));
  ASSERT_EQ(otlp.events(0).attributes_size(), 1);
  EXPECT_EQ(otlp.events(0).attributes(0).key(), "len");
  EXPECT_EQ(otlp.events(0).attributes(0).value().int_value(), 5);
  EXPECT_EQ(otlp.dropped_events_count(), 0u);
  EXPECT_EQ(otlp.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(otlp.trace_state(), "rojo=1");
  EXPECT_EQ(otlp.flags(), 0x301u);  // sampled, parent is remote
  std::map<std::string, std::string> attributes;
  for (const auto& kv : otlp.attributes()) {
    attributes[kv.key()] = kv.value().has_string_value()
                               ? kv.value().string_value()
                               : std::to_string(kv.value().int_value());
  }
  EXPECT_EQ(attributes["rpc.system"], "grpc");
  EXPECT_EQ(attributes["rpc.service"], "rpc.Fetch");
  EXPECT_EQ(attributes["rpc.method"], "Capitalize");
  EXPECT_EQ(attributes["rpc.grpc.status_code"], "0");
  EXPECT_EQ(attributes["server.address"], "127.0.0.1");
  EXPECT_EQ(attributes["network.peer.address"], "127.0.0.1");
  EXPECT_EQ(attributes["server.port"], std::to_string(span.server_port));
  EXPECT_EQ(attributes["network.peer.port"], std::to_string(span.peer_port));
  EXPECT_EQ(otlp.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_UNSET);
}

TEST(TracerTest, RootsUnsampledParentsAndRatioZero) {
  TracerOptions options = Options();
  options.sample_ratio = 0;
  TracedServer traced(options);
  ASSERT_TRUE(traced.Capitalize("root").ok());  // ratio 0: no span
  ASSERT_TRUE(traced.Capitalize("unsampled", {{"traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"}}).ok());
  ASSERT_TRUE(traced.Capitalize("sampled", {{"traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}).ok());
  // A malformed traceparent is no parent: a root, which ratio 0 drops.
  ASSERT_TRUE(traced.Capitalize("malformed", {{"traceparent",
      "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01"}}).ok());
  traced.Stop(kWait);
  const std::vector<SpanData> spans = traced.collector().Spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_THAT(spans[0].events[0].attributes, ElementsAre(Pair("len", 7)));
}

TEST(TracerTest, RootSpansGetFreshIdsAndAMalformedParentIsIgnored) {
  TracedServer traced(Options());
  ASSERT_TRUE(traced.Capitalize("a").ok());
  ASSERT_TRUE(traced.Capitalize("bb", {{"traceparent",
      "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01"}}).ok());
  traced.Stop(kWait);
  const std::vector<SpanData> spans = traced.collector().Spans();
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_NE(ToHex(spans[0].trace_id), ToHex(spans[1].trace_id));
  for (const SpanData& span : spans) {
    EXPECT_FALSE(span.has_remote_parent);
    EXPECT_EQ(ToHex(span.parent_span_id), "0000000000000000");
    EXPECT_NE(ToHex(span.trace_id), "0af7651916cd43dd8448eb211c80319c");
  }
}

TEST(TracerTest, DetectAddsMetricAndOutlierCounts) {
  TracedServer traced(Options());
  auto stub = pb::Outliers::NewStub(traced.server().Channel());
  pb::OutliersRequest request;
  for (double v : {1.0, 2.0, 100.0, 1.0, 3.0, 200.0, 1.0, 1.0, 2.0, 1.0, 2.0, 1.0}) {
    request.add_metrics()->set_value(v);
  }
  pb::OutliersResponse response;
  auto context = Deadline();
  ASSERT_TRUE(stub->Detect(context.get(), request, &response).ok());
  // Invalid input is the client's error: INVALID_ARGUMENT, status Unset.
  request.add_metrics()->set_value(std::numeric_limits<double>::quiet_NaN());
  auto bad = Deadline();
  EXPECT_EQ(stub->Detect(bad.get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  traced.Stop(kWait);
  std::vector<SpanData> spans = traced.collector().Spans();
  ASSERT_EQ(spans.size(), 2u);
  // Spans are queued when gRPC reports each answer sent, possibly after the
  // client has its answer and made the next call: order by status.
  if (spans[0].status_code != 0) std::swap(spans[0], spans[1]);
  EXPECT_EQ(spans[0].method->path, "pb.Outliers/Detect");
  ASSERT_EQ(spans[0].events.size(), 1u);
  EXPECT_EQ(spans[0].events[0].name, "outliers");
  EXPECT_EQ(EventAttributes(spans[0].events[0]),
            (std::map<std::string, int64_t>{{"metrics", 12}, {"outliers", 1}}));
  EXPECT_EQ(spans[1].status_code, static_cast<int>(grpc::StatusCode::INVALID_ARGUMENT));
  EXPECT_TRUE(spans[1].events.empty());
  EXPECT_FALSE(IsServerError(spans[1].status_code));
}

TEST(TracerTest, ServerErrorsAreErrorsWithTheirMessage) {
  for (grpc::StatusCode code :
       {grpc::StatusCode::UNKNOWN, grpc::StatusCode::DEADLINE_EXCEEDED,
        grpc::StatusCode::UNIMPLEMENTED, grpc::StatusCode::INTERNAL,
        grpc::StatusCode::UNAVAILABLE, grpc::StatusCode::DATA_LOSS}) {
    EXPECT_TRUE(IsServerError(code)) << code;
  }
  for (grpc::StatusCode code :
       {grpc::StatusCode::OK, grpc::StatusCode::CANCELLED,
        grpc::StatusCode::INVALID_ARGUMENT, grpc::StatusCode::NOT_FOUND,
        grpc::StatusCode::ALREADY_EXISTS, grpc::StatusCode::PERMISSION_DENIED,
        grpc::StatusCode::RESOURCE_EXHAUSTED, grpc::StatusCode::FAILED_PRECONDITION,
        grpc::StatusCode::ABORTED, grpc::StatusCode::OUT_OF_RANGE,
        grpc::StatusCode::UNAUTHENTICATED}) {
    EXPECT_FALSE(IsServerError(code)) << code;
  }
  SpanData span;
  span.status_code = static_cast<int>(grpc::StatusCode::INTERNAL);
  span.status_message = "cannot read the request bytes";
  span.dropped_events = 3;
  span.start_ns = 1;
  span.end_ns = std::numeric_limits<int64_t>::max();  // 8 bytes of fixed64
  span.events.resize(40);  // a span of more than 16 KiB: 3-byte lengths
  for (SpanEvent& e : span.events) {
    e.time_ns = 2;
    e.name = std::string(400, 'e');
    e.attributes.emplace_back("n", -1);  // a 10-byte varint
  }
  const auto request = Encoded({"svc", "", ""}, {span, span});
  ASSERT_EQ(request.resource_spans(0).scope_spans(0).spans_size(), 2);
  const auto& otlp = request.resource_spans(0).scope_spans(0).spans(0);
  EXPECT_EQ(otlp.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(otlp.status().message(), "cannot read the request bytes");
  EXPECT_EQ(otlp.parent_span_id(), "");  // a root
  EXPECT_EQ(otlp.flags(), 0x101u);         // sampled, parent not remote
  EXPECT_EQ(otlp.dropped_events_count(), 3u);
  EXPECT_EQ(otlp.end_time_unix_nano(), static_cast<uint64_t>(span.end_ns));
  ASSERT_EQ(otlp.events_size(), 40);
  EXPECT_EQ(otlp.events(39).name(), span.events[39].name);
  EXPECT_EQ(otlp.events(39).attributes(0).value().int_value(), -1);
  EXPECT_EQ(otlp.name(), "unknown");  // no method
  EXPECT_EQ(request.resource_spans(0).scope_spans(0).spans(1).SerializeAsString(),
            otlp.SerializeAsString());
}

TEST(TracerTest, AFullQueueDropsAndCountsWhileCallsGoOn) {
  TracerOptions options;
  options.max_queued_spans = 3;
  options.max_batch_spans = 1;  // the first span goes out alone...
  options.batch_delay = absl::Milliseconds(1);
  TracedServer traced(options, /*threads=*/1);  // the bound is per queue thread
  traced.collector().SetOpen(false);  // ...and its export hangs
  ASSERT_TRUE(traced.Capitalize("first").ok());
  ASSERT_TRUE(WaitUntil([&] { return traced.collector().Exports() == 1; }));
  // Queue threads never wait for the stuck export: every call is answered.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(traced.Capitalize("more").ok());
  ASSERT_TRUE(WaitUntil([&] { return traced.tracer().spans_dropped() == 7; }))
      << traced.tracer().spans_dropped();
  traced.collector().SetOpen(true);
  ASSERT_TRUE(WaitUntil([&] { return traced.tracer().spans_exported() == 4; }))
      << traced.tracer().spans_exported();
  traced.Stop(kWait);
  EXPECT_EQ(traced.tracer().spans_exported(), 4);
  EXPECT_EQ(traced.tracer().spans_dropped(), 7);
  EXPECT_EQ(traced.tracer().export_failures(), 0);
  EXPECT_EQ(traced.collector().Spans().size(), 4u);
}

TEST(TracerTest, FailedExportsAreCountedAsDropped) {
  TracedServer traced(Options());
  {
    absl::MutexLock lock(&traced.collector().mu);
    traced.collector().fail = true;
  }
  ASSERT_TRUE(traced.Capitalize("a").ok());
  ASSERT_TRUE(traced.Capitalize("b").ok());
  traced.Stop(kWait);
  EXPECT_EQ(traced.tracer().spans_exported(), 0);
  EXPECT_EQ(traced.tracer().spans_dropped(), 2);
  EXPECT_EQ(traced.tracer().export_failures(), 1);
}

TEST(TracerTest, ShutdownFlushesEveryQueuedSpanInBatches) {
  TracerOptions options = Options();
  options.max_batch_spans = 4;
  TracedServer traced(options);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(traced.Capitalize("x").ok());
  // batch_delay is an hour and 10 spans are 2 full batches and a partial
  // one: only the flush sends the last two (4 + 4 may leave before).
  traced.Stop(kWait);
  EXPECT_EQ(traced.tracer().spans_exported(), 10);
  EXPECT_EQ(traced.collector().Spans().size(), 10u);
  EXPECT_EQ(traced.collector().Exports(), 3);
  EXPECT_EQ(traced.tracer().spans_dropped(), 0);
}

TEST(TracerTest, ShutdownPastItsDeadlineDropsWhatIsLeft) {
  TracedServer traced(Options());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(traced.Capitalize("x").ok());
  traced.Stop(-absl::Seconds(1));  // the grace period is already over
  EXPECT_EQ(traced.tracer().spans_exported(), 0);
  EXPECT_EQ(traced.tracer().spans_dropped(), 3);
  EXPECT_EQ(traced.collector().Exports(), 0);
}

TEST(TracerTest, StreamsEndWithTheirMessageCounts) {
  TracedServer traced(Options());
  auto stub = my_package::RequestStreaming::NewStub(traced.server().Channel());
  my_package::Empty response;
  auto context = Deadline();
  auto writer = stub->stream_state(context.get(), &response);
  my_package::Data data;
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(writer->Write(data));
  ASSERT_TRUE(writer->WritesDone());
  ASSERT_TRUE(writer->Finish().ok());
  traced.Stop(kWait);
  const std::vector<SpanData> spans = traced.collector().Spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].method->path, "my_package.RequestStreaming/stream_state");
  ASSERT_EQ(spans[0].events.size(), 1u);
  EXPECT_EQ(spans[0].events[0].name, "messages");
  EXPECT_EQ(EventAttributes(spans[0].events[0]),
            (std::map<std::string, int64_t>{{"received", 4}, {"sent", 1}}));
}

std::string Url(const std::string& endpoint) {
  absl::StatusOr<OtlpEndpoint> e = ParseOtlpEndpoint(endpoint);
  if (!e.ok()) return std::string(e.status().message());
  return e->host + " " + std::to_string(e->port) + " " + e->path;
}

TEST(OtlpEndpointTest, Endpoints) {
  EXPECT_EQ(Url("localhost:4318"), "localhost 4318 /v1/traces");
  EXPECT_EQ(Url("http://collector:4318/"), "collector 4318 /v1/traces");
  EXPECT_EQ(Url("HTTP://collector:4318"), "collector 4318 /v1/traces");
  EXPECT_EQ(Url("[::1]:4318"), "::1 4318 /v1/traces");
  EXPECT_EQ(Url("http://collector:4318/custom/traces"), "collector 4318 /custom/traces");
  EXPECT_FALSE(ParseOtlpEndpoint("https://collector:4318").ok());
  EXPECT_FALSE(ParseOtlpEndpoint("collector").ok());
  EXPECT_FALSE(ParseOtlpEndpoint(":4318").ok());
  EXPECT_FALSE(ParseOtlpEndpoint("collector:0").ok());
  EXPECT_FALSE(ParseOtlpEndpoint("http://collector:4318/a b").ok());
}

}  // namespace
}  // namespace cqmux::tracing
