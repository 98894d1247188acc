// rpc.Fetch: the capitalize tutorial's service.
#ifndef CQMUX_SERVER_SERVICES_FETCH_FETCH_SERVICE_H_
#define CQMUX_SERVER_SERVICES_FETCH_FETCH_SERVICE_H_

#include <grpcpp/support/status.h>

#include "defs.pb.h"
#include "server/engine/call_context.h"

namespace cqmux {

class FetchService {
 public:
  // Same id; data with ASCII a-z upper-cased, every other byte unchanged
  // (data is bytes, not text: UTF-8 sequences pass through untouched).
  grpc::Status Capitalize(const rpc::Payload& request, rpc::Payload* response,
                          const CallContext& call);
};

}  // namespace cqmux

#endif  // CQMUX_SERVER_SERVICES_FETCH_FETCH_SERVICE_H_
