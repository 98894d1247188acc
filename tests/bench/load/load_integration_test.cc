// The load engine run in-process against small gRPC servers defined here:
// counts add up with the server's own, errors are counted by status code,
// wrong answers are caught, and the open loop keeps its schedule.
#include <atomic>
#include <cmath>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "defs.grpc.pb.h"
#include "load.h"
#include "outliers.grpc.pb.h"

namespace cqmux::load {
namespace {

// Capitalize on the callback API. Every `error_every`-th call fails (cycling
// through two codes) and every `wrong_every`-th answers wrongly; the service
// counts what it did so the test can compare.
class CapitalizeService final : public rpc::Fetch::CallbackService {
 public:
  CapitalizeService(int error_every = 0, int wrong_every = 0)
      : error_every_(error_every), wrong_every_(wrong_every) {}

  grpc::ServerUnaryReactor* Capitalize(grpc::CallbackServerContext* context,
                                       const rpc::Payload* request, rpc::Payload* reply) override {
    const int n = ++calls;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    if (error_every_ > 0 && n % error_every_ == 0) {
      const bool first = (n / error_every_) % 2 == 1;
      (first ? resource_exhausted : invalid_argument)++;
      reactor->Finish(first ? grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy")
                            : grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no"));
      return reactor;
    }
    std::string data = request->data();
    for (char& c : data) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (wrong_every_ > 0 && n % wrong_every_ == 0) {
      data = request->data();  // forgot to capitalize
      ++wrong;
    }
    reply->set_id(request->id());
    reply->set_data(data);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> resource_exhausted{0};
  std::atomic<int64_t> invalid_argument{0};
  std::atomic<int64_t> wrong{0};

 private:
  const int error_every_;
  const int wrong_every_;
};

// Detect with the plain two-pass formula; `off_by_one` shifts every index.
class DetectService final : public pb::Outliers::CallbackService {
 public:
  explicit DetectService(bool off_by_one = false) : off_by_one_(off_by_one) {}
  grpc::ServerUnaryReactor* Detect(grpc::CallbackServerContext* context,
                                   const pb::OutliersRequest* request,
                                   pb::OutliersResponse* reply) override {
    ++calls;
    const int n = request->metrics_size();
    double sum = 0, squares = 0;
    for (const auto& m : request->metrics()) sum += m.value();
    const double mean = n ? sum / n : 0;
    for (const auto& m : request->metrics()) squares += (m.value() - mean) * (m.value() - mean);
    const double sd = n ? std::sqrt(squares / n) : 0;
    for (int i = 0; i < n; ++i) {
      if (std::abs(request->metrics(i).value() - mean) > 2 * sd) reply->add_indices(i + off_by_one_);
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int64_t> calls{0};

 private:
  const bool off_by_one_;
};

class TestServer {
 public:
  explicit TestServer(grpc::Service* service) {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() { server_->Shutdown(); }
  std::string target() const { return absl::StrCat("127.0.0.1:", port_); }
  bool started() const { return server_ != nullptr && port_ > 0; }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

Options Base(const TestServer& server) {
  Options o;
  o.target = server.target();
  o.connections = 2;
  o.concurrency = 8;
  o.threads = 2;
  o.warmup = absl::ZeroDuration();
  o.progress = false;
  return o;
}

int64_t Sum(const std::map<std::string, int64_t>& m) {
  int64_t n = 0;
  for (const auto& [k, v] : m) n += v;
  return n;
}

TEST(LoadIntegrationTest, ClosedLoopForADurationCountsEveryCall) {
  CapitalizeService service;
  TestServer server(&service);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.duration = absl::Seconds(2);
  o.warmup = absl::Milliseconds(300);
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->clean());
  EXPECT_GT(r->calls, 0);
  EXPECT_EQ(r->calls, r->ok);
  EXPECT_EQ(r->wrong, 0);
  EXPECT_TRUE(r->errors.empty());
  EXPECT_GT(r->warmup_calls, 0);
  // Every call the server saw was counted once, measured or warm-up.
  EXPECT_EQ(service.calls.load(), r->calls + r->warmup_calls);
  EXPECT_EQ(r->latency_ns.count(), r->calls);
  EXPECT_GE(r->elapsed_s, 2.0);
  ASSERT_EQ(r->kinds.size(), 1u);
  EXPECT_EQ(r->kinds[0].kind, "capitalize");
  EXPECT_EQ(r->kinds[0].calls, r->calls);
  EXPECT_GT(r->latency_ns.ValueAtPercentile(50), 0);
  EXPECT_LE(r->latency_ns.ValueAtPercentile(50), r->latency_ns.ValueAtPercentile(99));
}

TEST(LoadIntegrationTest, ResolverChannelsWithoutCorkWorkToo) {
  CapitalizeService service;
  TestServer server(&service);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.direct_sockets = false;
  o.requests = 1000;
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->clean());
  EXPECT_EQ(r->ok, 1000);
  EXPECT_EQ(service.calls.load(), 1000);

  o.direct_sockets = true;
  o.cork = false;
  r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->clean());
  EXPECT_EQ(service.calls.load(), 2000);
}

TEST(LoadIntegrationTest, RequestCountIsExact) {
  CapitalizeService service;
  TestServer server(&service);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.requests = 3000;
  o.payload_bytes = 1000;
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->clean());
  EXPECT_EQ(r->calls, 3000);
  EXPECT_EQ(r->ok, 3000);
  EXPECT_EQ(service.calls.load(), 3000);
  const std::string json = ReportJson(*r);
  EXPECT_NE(json.find("\"calls\":3000"), std::string::npos) << json;
  EXPECT_NE(json.find("\"p99_us\""), std::string::npos) << json;
}

TEST(LoadIntegrationTest, ErrorsAreCountedByCodeAndWrongAnswersApart) {
  CapitalizeService service(/*error_every=*/5, /*wrong_every=*/7);
  TestServer server(&service);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.requests = 2000;
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->clean());
  EXPECT_EQ(service.calls.load(), 2000);
  EXPECT_EQ(r->calls, 2000);
  ASSERT_EQ(r->errors.size(), 2u);
  EXPECT_EQ(r->errors["RESOURCE_EXHAUSTED"], service.resource_exhausted.load());
  EXPECT_EQ(r->errors["INVALID_ARGUMENT"], service.invalid_argument.load());
  EXPECT_EQ(r->errors["RESOURCE_EXHAUSTED"] + r->errors["INVALID_ARGUMENT"], 400);
  EXPECT_EQ(r->wrong, service.wrong.load());
  EXPECT_GT(r->wrong, 200);
  EXPECT_EQ(r->ok + r->wrong + Sum(r->errors), r->calls);
  ASSERT_FALSE(r->wrong_examples.empty());
  EXPECT_NE(r->wrong_examples[0].find("capitalize: data"), std::string::npos);
}

TEST(LoadIntegrationTest, UnreachableServerIsASetupError) {
  // A port from a server that has shut down: nothing listens there any more.
  std::string target;
  {
    CapitalizeService service;
    TestServer server(&service);
    target = server.target();
  }
  Options o;
  o.target = target;
  o.requests = 1;
  o.connect_timeout = absl::Milliseconds(300);
  o.progress = false;
  absl::StatusOr<Report> r = load::Run(o);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
}

TEST(LoadIntegrationTest, DetectChecksIndicesOfTheTutorialRequest) {
  DetectService good;
  TestServer server(&good);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.scenario = "detect";
  o.requests = 200;
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->clean());
  EXPECT_EQ(r->ok, 200);

  DetectService bad(/*off_by_one=*/true);
  TestServer bad_server(&bad);
  o.target = bad_server.target();
  o.requests = 20;
  r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->wrong, 20);
  ASSERT_FALSE(r->wrong_examples.empty());
  EXPECT_EQ(r->wrong_examples[0], "detect: indices [8, 114, 836], expected [7, 113, 835]");
}

TEST(LoadIntegrationTest, OpenLoopKeepsToItsSchedule) {
  CapitalizeService service;
  TestServer server(&service);
  ASSERT_TRUE(server.started());
  Options o = Base(server);
  o.rate = 4000;
  o.requests = 1000;
  absl::StatusOr<Report> r = load::Run(o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->open_loop);
  EXPECT_TRUE(r->clean());
  EXPECT_EQ(r->calls, 1000);
  EXPECT_EQ(service.calls.load(), 1000);
  // 1,000 arrivals at 4,000/s cannot all have started before 0.25 s: the
  // generator did not run ahead of the schedule.
  EXPECT_GE(r->elapsed_s, 999.0 / 4000 - 1e-3);
}

TEST(LoadIntegrationTest, BadOptionsAreRejected) {
  Options o;
  o.scenario = "nope";
  EXPECT_EQ(load::Run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o.scenario = "mixed";
  o.mix = "capitalize:x";
  EXPECT_EQ(load::Run(o).status().code(), absl::StatusCode::kInvalidArgument);
  o = Options();
  o.concurrency = 0;
  EXPECT_EQ(load::Run(o).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace cqmux::load
