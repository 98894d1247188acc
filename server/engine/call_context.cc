// Read-only view of a call for handlers; see call_context.h.
#include "server/engine/call_context.h"

#include <chrono>

namespace cqmux {

absl::string_view CallContext::Metadata(absl::string_view key) const {
  if (context_ == nullptr) {
    return backing_ == nullptr ? absl::string_view() : backing_->Metadata(key);
  }
  const auto& metadata = context_->client_metadata();
  auto it = metadata.find(grpc::string_ref(key.data(), key.size()));
  if (it == metadata.end()) return {};
  return absl::string_view(it->second.data(), it->second.size());
}

std::string CallContext::Peer() const {
  if (context_ == nullptr) {
    return backing_ == nullptr ? std::string() : backing_->Peer();
  }
  return context_->peer();
}

bool CallContext::Wanted() const {
  if (backing_ != nullptr) return backing_->Wanted();
  if (cancelled_ != nullptr && cancelled_->load(std::memory_order_acquire)) return false;
  // deadline() is fixed when the call arrives, so any thread may read it.
  return context_ == nullptr ||
         context_->deadline() > std::chrono::system_clock::now();
}

}  // namespace cqmux
