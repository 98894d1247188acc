// The engine's limits: every method of a registered service must be bound,
// or Start() fails naming the one that is not.
#include <atomic>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "books.grpc.pb.h"
#include "defs.grpc.pb.h"
#include "request_streaming.grpc.pb.h"
#include "server/engine/engine.h"
#include "users.grpc.pb.h"

// users.proto's descriptor (the Users service) is only linked if referenced;
// Engine::Start needs it to check that every method is bound.
[[maybe_unused]] static const void* volatile kKeepUsersProto =
    &descriptor_table_users_2eproto;

namespace cqmux {
namespace {

using ::testing::HasSubstr;
UnaryHandler<rpc::Payload, rpc::Payload> Echo(std::atomic<int>* calls) {
  return [calls](const rpc::Payload& in, rpc::Payload* out, const CallContext&) {
    ++*calls;
    *out = in;
    return grpc::Status::OK;
  };
}

// ---- Every method must be bound ---------------------------------------------

template <class Req, class Resp>
UnaryHandler<Req, Resp> Ok() {
  return [](const Req&, Resp*, const CallContext&) { return grpc::Status::OK; };
}

TEST(EngineBindingTest, MethodNamesComeFromTheGeneratedClasses) {
  EXPECT_EQ(GeneratedMethodName<books::BookService::WithAsyncMethod_Watch<
                books::BookService::Service>>(),
            "Watch");
  EXPECT_EQ(GeneratedMethodName<books::BookService::AsyncService>(), "List");
  EXPECT_EQ(GeneratedMethodName<my_package::RequestStreaming::AsyncService>(),
            "stream_state");
  EXPECT_EQ(MethodNameFromClassName("ns::S::WithRawMethod_Detect<ns::S::Service>"),
            "Detect");
  EXPECT_EQ(MethodNameFromClassName("SomethingHandWritten"), "");
}

TEST(EngineBindingTest, StartFailsNamingTheUnboundMethod) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine engine(options);
  using Books = books::BookService::AsyncService;
  engine.AddService<books::BookService>()
      .Unary(&Books::RequestList, Ok<books::Empty, books::BookList>())
      .Unary(&Books::RequestInsert, Ok<books::Book, books::Empty>())
      .Unary(&Books::RequestGet, Ok<books::BookIdRequest, books::Book>())
      .Unary(&Books::RequestDelete, Ok<books::BookIdRequest, books::Empty>());
  // Watch is left out.
  absl::Status started = engine.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(started.message(), "books.BookService/Watch is not bound");
  EXPECT_TRUE(engine.ports().empty()) << "nothing was bound to a port";
}

TEST(EngineBindingTest, EveryUnboundMethodIsNamedAndDuplicatesAreRejected) {
  EngineOptions options;
  options.listen = {"127.0.0.1:0"};
  options.threads = 1;
  Engine engine(options);
  std::atomic<int> calls{0};
  engine.AddService<rpc::Fetch>()
      .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, Echo(&calls))
      .Unary(&rpc::Fetch::AsyncService::RequestCapitalize, Echo(&calls));
  engine.AddService<Users>();  // neither method
  absl::Status started = engine.Start();
  EXPECT_EQ(started.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(started.message(), HasSubstr("rpc.Fetch/Capitalize is bound twice"));
  EXPECT_THAT(started.message(), HasSubstr("Users/CreateUser is not bound"));
  EXPECT_THAT(started.message(), HasSubstr("Users/GetUsers is not bound"));
}

}  // namespace
}  // namespace cqmux
