// Read-only view of a call for handlers; see call_context.h.
#include "server/engine/call_context.h"

#include <chrono>

namespace cqmux {

absl::string_view CallContext::Metadata(absl::string_view key) const {
  if (context_ == nullptr) return {};
  const auto& metadata = context_->client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

std::string CallContext::Peer() const {
  return context_ == nullptr ? std::string() : context_->peer();
}

bool CallContext::Wanted() const {
  if (cancelled_ != nullptr && cancelled_->load(std::memory_order_acquire)) return false;
  // deadline() is fixed when the call arrives, so any thread may read it.
  return context_ == nullptr ||
         context_->deadline() > std::chrono::system_clock::now();
}

}  // namespace cqmux
