// rpc.Fetch/Capitalize; see fetch_service.h.
#include "server/services/fetch/fetch_service.h"

#include <string>

namespace cqmux {

grpc::Status FetchService::Capitalize(const rpc::Payload& request,
                                      rpc::Payload* response,
                                      const CallContext& call) {
  // The tutorial's annotation: the payload's length, on the call's span.
  call.AddEvent("Data in", {{"len", static_cast<int64_t>(request.data().size())}});
  response->set_id(request.id());
  std::string* data = response->mutable_data();
  data->assign(request.data());
  for (char& c : *data) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - ('a' - 'A'));
  }
  return grpc::Status::OK;
}

}  // namespace cqmux
