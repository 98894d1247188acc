// Unit tests of the route adapters (json_routes.h) and the status mapping
// (http_status.h), with a fake Exchange: JSON in and out, unknown fields,
// the policy before the handler, the completion callback (inline, on a pool,
// from another thread later), and a ServerStream as SSE / NDJSON chunks.
#include "server/gateway/json_routes.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "books.pb.h"
#include "server/engine/blocking_pool.h"
#include "server/gateway/http_status.h"

namespace cqmux::gateway {
namespace {

class FakeExchange final : public Exchange {
 public:
  explicit FakeExchange(std::string body, std::string param = "")
      : body_(std::move(body)), param_(std::move(param)) {}
  const CallContext& call() const override { return call_; }
  absl::string_view body() const override { return body_; }
  absl::string_view path_param() const override { return param_; }
  const QueryParams& query() const override { return query_; }
  void Reply(HttpReply reply) override {
    reply_ = std::move(reply);
    replies_++;
    done_.Notify();
  }
  void Stream(std::string content_type, OpenSource open) override {
    type_ = std::move(content_type);
    source_ = open(Waker());
    done_.Notify();
  }

  HttpReply reply_;
  int replies_ = 0;
  std::string type_;
  std::unique_ptr<ChunkSource> source_;
  absl::Notification done_;

 private:
  const std::string body_;
  const std::string param_;
  const QueryParams query_;
  const CallContext call_;
};

grpc::Status InsertOk(const books::Book& book, books::Empty*, const CallContext&) {
  return book.id() == 1 ? grpc::Status::OK
                        : grpc::Status(grpc::StatusCode::ALREADY_EXISTS, "exists");
}

TEST(HttpStatusTest, MapsCodesLikeGrpcGateway) {
  using C = grpc::StatusCode;
  EXPECT_EQ(HttpStatusFromCode(C::OK), 200);
  EXPECT_EQ(HttpStatusFromCode(C::CANCELLED), 499);
  EXPECT_EQ(HttpStatusFromCode(C::UNKNOWN), 500);
  EXPECT_EQ(HttpStatusFromCode(C::INVALID_ARGUMENT), 400);
  EXPECT_EQ(HttpStatusFromCode(C::DEADLINE_EXCEEDED), 504);
  EXPECT_EQ(HttpStatusFromCode(C::NOT_FOUND), 404);
  EXPECT_EQ(HttpStatusFromCode(C::ALREADY_EXISTS), 409);
  EXPECT_EQ(HttpStatusFromCode(C::PERMISSION_DENIED), 403);
  EXPECT_EQ(HttpStatusFromCode(C::RESOURCE_EXHAUSTED), 429);
  EXPECT_EQ(HttpStatusFromCode(C::FAILED_PRECONDITION), 400);
  EXPECT_EQ(HttpStatusFromCode(C::ABORTED), 409);
  EXPECT_EQ(HttpStatusFromCode(C::OUT_OF_RANGE), 400);
  EXPECT_EQ(HttpStatusFromCode(C::UNIMPLEMENTED), 501);
  EXPECT_EQ(HttpStatusFromCode(C::INTERNAL), 500);
  EXPECT_EQ(HttpStatusFromCode(C::UNAVAILABLE), 503);
  EXPECT_EQ(HttpStatusFromCode(C::DATA_LOSS), 500);
  EXPECT_EQ(HttpStatusFromCode(C::UNAUTHENTICATED), 401);
}

TEST(HttpStatusTest, ErrorJsonEscapesTheMessage) {
  EXPECT_EQ(ErrorJson(grpc::Status(grpc::StatusCode::NOT_FOUND, "a \"b\"\\\n\x01")),
            R"({"code":5,"message":"a \"b\"\\\n\u0001"})");
}

TEST(ParseJsonTest, NamesUnknownFieldsAndAcceptsBothNameStyles) {
  books::Book book;
  EXPECT_TRUE(ParseJson(R"({"id": 3, "title": "T"})", &book).ok());
  EXPECT_EQ(book.id(), 3);
  grpc::Status bad = ParseJson(R"({"id": 3, "isbn": "x"})", &book);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(bad.error_message(), "unknown field \"isbn\" in books.Book");
  books::BookList list;
  bad = ParseJson(R"({"books": [{"id": 1}, {"id": 2, "pages": 3}]})", &list);
  EXPECT_EQ(bad.error_message(), "unknown field \"books.pages\" in books.BookList");
  EXPECT_EQ(ParseJson("[]", &book).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ParseJson("{", &book).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ParseJson("  ", &book).ok());  // no body: the empty message
}

TEST(ToJsonTest, PrintsLowerCamelCaseWithDefaults) {
  books::Book book;
  EXPECT_EQ(ToJson(book), R"({"id":0,"title":"","author":""})");
}

TEST(UnaryRouteTest, RepliesWithTheHandlersAnswer) {
  RouteHandler route = UnaryRoute<books::Book, books::Empty>(
      {.handler = Sync<books::Book, books::Empty>(InsertOk)});
  auto ok = std::make_shared<FakeExchange>(R"({"id": 1})");
  route(ok);
  EXPECT_EQ(ok->reply_.status, 200);
  EXPECT_EQ(ok->reply_.body, "{}");
  auto conflict = std::make_shared<FakeExchange>(R"({"id": 2})");
  route(conflict);
  EXPECT_EQ(conflict->reply_.status, 409);
  EXPECT_EQ(conflict->reply_.body, R"({"code":6,"message":"exists"})");
}

TEST(UnaryRouteTest, PolicyAndCheckRunBeforeTheHandler) {
  int handled = 0;
  MethodPolicy deny{[](const CallContext&) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "token");
  }};
  RouteHandler route = UnaryRoute<books::Book, books::Empty>(
      {.handler = Sync<books::Book, books::Empty>(
           [&](const books::Book&, books::Empty*, const CallContext&) {
             ++handled;
             return grpc::Status::OK;
           }),
       .policy = deny});
  auto exchange = std::make_shared<FakeExchange>("{}");
  route(exchange);
  EXPECT_EQ(exchange->reply_.status, 401);
  RouteHandler checked = UnaryRoute<books::Book, books::Empty>(
      {.handler = Sync<books::Book, books::Empty>(InsertOk),
       .check = [](const books::Book&, const CallContext&) {
         return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no");
       }});
  auto second = std::make_shared<FakeExchange>("{}");
  checked(second);
  EXPECT_EQ(second->reply_.status, 400);
  EXPECT_EQ(handled, 0);
}

TEST(UnaryRouteTest, AsyncHandlerCompletesFromAnotherThread) {
  // The shape the store branch's AsyncUnaryHandler plugs into.
  std::thread worker;
  RouteHandler route = UnaryRoute<books::Book, books::Book>(
      {.handler = [&](const books::Book& in, books::Book* out, const CallContext&,
                      UnaryDoneFn done) {
         worker = std::thread([&in, out, done] {
           out->set_id(in.id() + 1);
           done(grpc::Status::OK);
         });
       }});
  auto exchange = std::make_shared<FakeExchange>(R"({"id": 41})");
  route(exchange);
  exchange->done_.WaitForNotification();
  worker.join();
  EXPECT_EQ(exchange->reply_.body, R"({"id":42,"title":"","author":""})");
  EXPECT_EQ(exchange->replies_, 1);
}

TEST(UnaryRouteTest, PoolHandOffAndAFullPool) {
  BlockingPool pool("test", 1, 1);
  absl::Notification release;
  RouteHandler route = UnaryRoute<books::Book, books::Empty>(
      {.handler = Sync<books::Book, books::Empty>(
           [&](const books::Book&, books::Empty*, const CallContext&) {
             release.WaitForNotification();
             return grpc::Status::OK;
           }),
       .handler_pool = &pool});
  auto running = std::make_shared<FakeExchange>("{}");
  route(running);  // takes the thread
  auto queued = std::make_shared<FakeExchange>("{}");
  // Wait until the first job left the queue, so that this one fills it.
  while (pool.queued() != 0) std::this_thread::yield();
  route(queued);
  auto refused = std::make_shared<FakeExchange>("{}");
  route(refused);  // the backlog (1) is full: answered at once
  EXPECT_EQ(refused->reply_.status, 429);
  release.Notify();
  running->done_.WaitForNotification();
  queued->done_.WaitForNotification();
  EXPECT_EQ(running->reply_.status, 200);
  EXPECT_EQ(queued->reply_.status, 200);
}

TEST(StreamRouteTest, FramesMessagesAndTheFinalError) {
  for (StreamFormat format : {StreamFormat::kServerSentEvents, StreamFormat::kNdjson}) {
    RouteHandler route = StreamRoute<books::Empty, books::Book>(
        {.handler = [](const books::Empty&, const CallContext&, Waker) {
           using Step = ServerStream<books::Book>::Step;
           return std::make_unique<FunctionStream<books::Book>>(
               [n = 0](books::Book* book, grpc::Status* status) mutable {
                 if (n++ == 0) {
                   book->set_id(7);
                   return Step::kWrite;
                 }
                 *status = grpc::Status(grpc::StatusCode::NOT_FOUND, "gone");
                 return Step::kFinish;
               });
         },
         .format = format});
    auto exchange = std::make_shared<FakeExchange>("");
    route(exchange);
    ASSERT_NE(exchange->source_, nullptr);
    std::vector<std::string> chunks;
    std::string chunk;
    while (exchange->source_->Next(&chunk) == ChunkSource::Step::kChunk) chunks.push_back(chunk);
    if (format == StreamFormat::kServerSentEvents) {
      EXPECT_EQ(exchange->type_, "text/event-stream");
      EXPECT_EQ(chunks, (std::vector<std::string>{
                            "data: {\"id\":7,\"title\":\"\",\"author\":\"\"}\n\n",
                            "event: error\ndata: {\"code\":5,\"message\":\"gone\"}\n\n"}));
    } else {
      EXPECT_EQ(exchange->type_, "application/x-ndjson");
      EXPECT_EQ(chunks, (std::vector<std::string>{
                            "{\"result\":{\"id\":7,\"title\":\"\",\"author\":\"\"}}\n",
                            "{\"error\":{\"code\":5,\"message\":\"gone\"}}\n"}));
    }
    // The source holds its exchange (the CallContext); the gateway's session
    // drops the source when the stream ends, as this fake must too.
    exchange->source_.reset();
  }
}

}  // namespace
}  // namespace cqmux::gateway
