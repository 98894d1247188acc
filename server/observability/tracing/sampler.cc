// Trace-id-ratio sampling; see sampler.h.
#include "server/observability/tracing/sampler.h"

#include <cmath>

namespace cqmux::tracing {

Sampler::Sampler(double ratio) {
  if (!(ratio > 0)) {  // also NaN
    never_ = true;
  } else if (ratio >= 1) {
    always_ = true;
  } else {
    // ratio * 2^64, below 2^64 because ratio < 1 (rounded as the SDKs do).
    bound_ = static_cast<uint64_t>(std::ldexp(ratio, 64) + 0.5);
  }
}

bool Sampler::SampleRoot(const TraceId& trace_id) const {
  if (always_) return true;
  if (never_) return false;
  uint64_t low = 0;
  for (int i = 8; i < 16; ++i) low = low << 8 | trace_id[i];
  return low < bound_;
}

}  // namespace cqmux::tracing
