// Method names from generated class names, and the oversized-request status;
// see method_info.h.
#include "server/engine/method_info.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace cqmux {

std::string MethodNameFromClassName(std::string_view class_name) {
  // The outermost class comes first; its template arguments (the other
  // methods' classes) follow it.
  size_t best = std::string_view::npos;
  size_t prefix_size = 0;
  for (std::string_view prefix : {"WithAsyncMethod_", "WithRawMethod_"}) {
    const size_t at = class_name.find(prefix);
    if (at < best) {
      best = at;
      prefix_size = prefix.size();
    }
  }
  if (best == std::string_view::npos) return "";
  const size_t begin = best + prefix_size;
  size_t end = begin;
  while (end < class_name.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(class_name[end])) ||
          class_name[end] == '_')) {
    ++end;
  }
  return std::string(class_name.substr(begin, end - begin));
}

grpc::Status RequestTooLarge(const MethodInfo& info, size_t bytes) {
  return grpc::Status(
      grpc::StatusCode::RESOURCE_EXHAUSTED,
      absl::StrCat(info.path(), ": the request is ", bytes,
                   " bytes, more than this method accepts (",
                   info.max_request_bytes, " bytes)"));
}

}  // namespace cqmux
