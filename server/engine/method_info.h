// What the engine knows about a bound method apart from its call template:
// which method of which service it is (for Start()'s every-method-is-bound
// check and for error messages) and its per-method limits, which are
// attributes of the registration line (ServiceBinding::MaxMessageBytes).
#ifndef CQMUX_SERVER_ENGINE_METHOD_INFO_H_
#define CQMUX_SERVER_ENGINE_METHOD_INFO_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include <google/protobuf/message.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/status.h>

namespace cqmux {

enum class MethodKind { kUnary, kServerStreaming, kClientStreaming };

struct MethodInfo {
  std::string service;  // e.g. "books.BookService"
  std::string method;   // e.g. "List"; "" if it could not be told
  MethodKind kind = MethodKind::kUnary;
  // Full protobuf names of the message types; "" for raw (ByteBuffer) ones.
  std::string request_type;
  std::string response_type;
  // Largest request message accepted; 0 until Start() resolves it (the
  // registration line's MaxMessageBytes, else EngineOptions'
  // max_message_bytes).
  size_t max_request_bytes = 0;
  // Set by Start(): false when gRPC's server-wide limit (the largest
  // per-method one) already enforces this method's, so the hot path skips
  // measuring the request.
  bool check_request_size = false;
  // Set by Start(): the method's position among the engine's bound methods
  // (observers keep per-method state in arrays indexed by it).
  int index = -1;

  // "books.BookService/List", as the descriptor and error messages name it.
  std::string path() const { return service + "/" + method; }
};

// The name of the RPC a generated Request<Method> function serves, from the
// class that declares it. protoc's gRPC plugin declares RequestFoo in a class
// template named WithAsyncMethod_Foo (WithRawMethod_Foo for a raw method), so
// the declaring class's name says which method it is; grpc::Service exposes
// no method table in 1.51. Start() checks the result against the service's
// descriptor, so a name this cannot tell is reported, never guessed.
std::string MethodNameFromClassName(std::string_view class_name);

namespace internal {
template <class T>
std::string_view PrettyTypeName() {
  return __PRETTY_FUNCTION__;  // "... [with T = ns::Outer::WithAsyncMethod_Foo<...>]"
}
}  // namespace internal

template <class Base>
std::string GeneratedMethodName() {
  return MethodNameFromClassName(internal::PrettyTypeName<Base>());
}

template <class Message>
std::string MessageTypeName() {
  if constexpr (std::is_base_of_v<google::protobuf::Message, Message>) {
    return Message::descriptor()->full_name();
  } else {
    return "";
  }
}

// The serialized size of a request as the handler will see it: the bytes of
// a raw request, protobuf's serialized size of a parsed one (a walk over the
// parsed fields; cheaper than the parse that preceded it).
inline size_t RequestBytes(const grpc::ByteBuffer& request) {
  return request.Length();
}
inline size_t RequestBytes(const google::protobuf::MessageLite& request) {
  return request.ByteSizeLong();
}

// RESOURCE_EXHAUSTED naming the method, the size and the limit.
grpc::Status RequestTooLarge(const MethodInfo& info, size_t bytes);

// OK, or RESOURCE_EXHAUSTED if `request` is larger than its method accepts.
// Called by the call templates before a handler sees the request.
template <class Req>
grpc::Status CheckRequestSize(const MethodInfo& info, const Req& request) {
  if (!info.check_request_size) return grpc::Status::OK;
  const size_t bytes = RequestBytes(request);
  if (bytes <= info.max_request_bytes) return grpc::Status::OK;
  return RequestTooLarge(info, bytes);
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_METHOD_INFO_H_
