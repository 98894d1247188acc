// The HTTP/JSON route table (google.api.http style): one entry per method,
// bound to the same service functions and policies as the gRPC method table
// in server_app.cc. README "HTTP gateway" and the OpenAPI document
// (server/gateway/assets/openapi.json) describe the same table; a test calls
// every route the document lists.
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "books.pb.h"
#include "defs.pb.h"
#include "health.pb.h"
#include "outliers.pb.h"
#include "server/app/server_app.h"
#include "server/gateway/assets.h"
#include "server/gateway/json_routes.h"
#include "unary.pb.h"
#include "users_types.pb.h"

namespace cqmux {
namespace {

using gateway::BindNothing;
using gateway::Exchange;
using gateway::HttpReply;
using gateway::Route;
using gateway::StreamFormat;
using gateway::StreamRoute;
using gateway::Async;
using gateway::Sync;
using gateway::UnaryRoute;
using std::bind_front;

// {id} of /v1/books/{id}: an int32, as the JSON mapping of BookIdRequest.
grpc::Status BindBookId(const Exchange& exchange, books::BookIdRequest* request) {
  int32_t id = 0;
  if (!absl::SimpleAtoi(exchange.path_param(), &id)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("book id must be an integer, not \"",
                                     std::string(exchange.path_param()), "\""));
  }
  request->set_id(id);
  return grpc::Status::OK;
}

// ?username=a&username=b&user_id=1: one User per parameter, in order (the
// stream answers in request order). Proto and JSON names are both accepted,
// as in grpc-gateway's query mapping.
grpc::Status BindUserQuery(const Exchange& exchange, users::GetUsersRequest* request) {
  for (const auto& [name, value] : exchange.query()) {
    if (name == "username") {
      request->add_user()->set_username(value);
    } else if (name == "user_id" || name == "userId") {
      uint32_t id = 0;
      if (!absl::SimpleAtoi(value, &id)) {
        return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                            absl::StrCat("user_id must be an unsigned integer, not \"",
                                         value, "\""));
      }
      request->add_user()->set_user_id(id);
    } else {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("unknown query parameter \"", name,
                                       "\" (expected username or user_id)"));
    }
  }
  if (request->user_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "name at least one user: ?username=NAME or ?user_id=ID, repeatable");
  }
  return grpc::Status::OK;
}

// A fixed document (console, OpenAPI).
Route Static(std::string path, std::string content_type, absl::string_view body) {
  return Route{"GET", std::move(path), 0,
               [content_type = std::move(content_type), body](std::shared_ptr<Exchange> exchange) {
                 exchange->Reply(HttpReply{200, content_type, std::string(body)});
               }};
}

}  // namespace

std::vector<Route> ServerApp::HttpRoutes() {
  const size_t small = static_cast<size_t>(config_.engine.max_message_bytes);
  const size_t detect = static_cast<size_t>(config_.max_detect_message_bytes);
  std::vector<Route> routes;

  routes.push_back(Static("/", "text/html; charset=utf-8", gateway::ConsoleHtml()));
  routes.push_back(Static("/v1/openapi.json", "application/json", gateway::OpenApiJson()));

  // grpc.health.v1 Check of the whole server: 200 while SERVING, 503 while
  // draining or shutting down, so that HTTP load balancers move away.
  routes.push_back(Route{"GET", "/healthz", 0, [this](std::shared_ptr<Exchange> exchange) {
    grpc::health::v1::HealthCheckRequest request;
    grpc::health::v1::HealthCheckResponse response;
    grpc::Status status = health_.Check(request, &response, exchange->call());
    if (!status.ok()) return exchange->Reply(gateway::ErrorReply(status));
    const bool serving = response.status() == grpc::health::v1::HealthCheckResponse::SERVING;
    exchange->Reply(HttpReply{serving ? 200 : 503, "application/json", gateway::ToJson(response)});
  }});

  // books.BookService: the List handler of the message form (the gRPC table
  // binds its raw twin), the others exactly as bound there.
  routes.push_back(Route{"GET", "/v1/books", small,
                         UnaryRoute<books::Empty, books::BookList>(
                             {.bind = BindNothing<books::Empty>,
                              .handler = Async<books::Empty, books::BookList>(
                                  bind_front(&BooksService::List, &books_))})});
  routes.push_back(Route{"POST", "/v1/books", small,
                         UnaryRoute<books::Book, books::Empty>(
                             {.handler = Async<books::Book, books::Empty>(
                                  bind_front(&BooksService::Insert, &books_)),
                              .policy = writes_})});
  routes.push_back(Route{"GET", "/v1/books/{id}", small,
                         UnaryRoute<books::BookIdRequest, books::Book>(
                             {.bind = BindBookId,
                              .handler = Async<books::BookIdRequest, books::Book>(
                                  bind_front(&BooksService::Get, &books_))})});
  routes.push_back(Route{"DELETE", "/v1/books/{id}", small,
                         UnaryRoute<books::BookIdRequest, books::Empty>(
                             {.bind = BindBookId,
                              .handler = Async<books::BookIdRequest, books::Empty>(
                                  bind_front(&BooksService::Delete, &books_)),
                              .policy = writes_})});
  routes.push_back(Route{"GET", "/v1/books:watch", small,
                         StreamRoute<books::Empty, books::Book>(
                             {.handler = bind_front(&BooksService::Watch, &books_),
                              .format = StreamFormat::kServerSentEvents})});

  // Users: CreateUser hashes on the engine's blocking pool after its quick
  // check on the HTTP thread, as BlockingAsyncUnary does for gRPC; its write
  // then completes the request once durable.
  routes.push_back(Route{"POST", "/v1/users", small,
                         UnaryRoute<users::CreateUserRequest, users::CreateUserResult>(
                             {.handler = Async<users::CreateUserRequest, users::CreateUserResult>(
                                  bind_front(&UsersService::CreateUser, &users_)),
                              .check = bind_front(&UsersService::CheckCreateUser, &users_),
                              .handler_pool = engine_.blocking_pool()})});
  routes.push_back(Route{"GET", "/v1/users", small,
                         StreamRoute<users::GetUsersRequest, users::GetUsersResult>(
                             {.bind = BindUserQuery,
                              .handler = bind_front(&UsersService::GetUsers, &users_),
                              .format = StreamFormat::kNdjson})});

  routes.push_back(Route{"POST", "/v1/fetch:capitalize", small,
                         UnaryRoute<rpc::Payload, rpc::Payload>(
                             {.handler = Sync<rpc::Payload, rpc::Payload>(
                                  bind_front(&FetchService::Capitalize, &fetch_))})});
  routes.push_back(Route{"POST", "/v1/displacement", small,
                         UnaryRoute<my_package::Displacement, my_package::DisplacementResponse>(
                             {.handler = Sync<my_package::Displacement,
                                              my_package::DisplacementResponse>(
                                  bind_front(&DisplacementService::ComputeDisplacement,
                                             &displacement_))})});

  // Detect: the service's own decoder and kernel, fed the request's wire
  // bytes (JSON -> OutliersRequest -> bytes); big bodies are parsed, served
  // and encoded on the compute pool, never on the event loop.
  auto detect_handler = [this](const pb::OutliersRequest& request, pb::OutliersResponse* response,
                               const CallContext&) -> grpc::Status {
    std::string bytes = request.SerializeAsString();
    grpc::Slice slice(bytes);
    grpc::ByteBuffer in(&slice, 1);
    grpc::ByteBuffer out;
    if (grpc::Status status = outliers_.Detect(in, &out); !status.ok()) return status;
    grpc::Slice answer;
    if (!out.DumpToSingleSlice(&answer).ok() ||
        !response->ParseFromArray(answer.begin(), static_cast<int>(answer.size()))) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "cannot read Detect's answer");
    }
    return grpc::Status::OK;
  };
  routes.push_back(Route{"POST", "/v1/outliers:detect", detect,
                         UnaryRoute<pb::OutliersRequest, pb::OutliersResponse>(
                             {.handler = Sync<pb::OutliersRequest, pb::OutliersResponse>(
                                  detect_handler),
                              .heavy_pool = engine_.compute_pool(),
                              .heavy = [limit = config_.detect_offload_bytes](size_t body) {
                                return body > limit;
                              }})});
  return routes;
}

}  // namespace cqmux
