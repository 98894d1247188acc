// What the engine knows about a bound method apart from its call template:
// which method of which service it is, for Start()'s every-method-is-bound
// check and for error messages.
#ifndef CQMUX_SERVER_ENGINE_METHOD_INFO_H_
#define CQMUX_SERVER_ENGINE_METHOD_INFO_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <type_traits>

#include <google/protobuf/message.h>

namespace cqmux {

enum class MethodKind { kUnary, kServerStreaming, kClientStreaming };

struct MethodInfo {
  std::string service;  // e.g. "books.BookService"
  std::string method;   // e.g. "List"; "" if it could not be told
  MethodKind kind = MethodKind::kUnary;
  // Full protobuf names of the message types; "" for raw (ByteBuffer) ones.
  std::string request_type;
  std::string response_type;

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

}  // namespace cqmux

#endif  // CQMUX_SERVER_ENGINE_METHOD_INFO_H_
