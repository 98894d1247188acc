// Detect: decode (zero-copy) -> kernel -> hand-encoded packed response.
#include "server/services/outliers/outliers_service.h"

#include <cstdint>

#include <grpc/slice.h>
#include <grpcpp/support/slice.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "server/outliers/aligned_buffer.h"
#include "server/outliers/outliers.h"
#include "server/outliers/request_decoder.h"

namespace cqmux {
namespace {

using outliers::AlignedBuffer;

// Per-thread scratch reused across calls: a completion-queue thread handles
// one call at a time, so no allocation on the steady-state path.
struct Scratch {
  AlignedBuffer<double> values;
  AlignedBuffer<int64_t> indices;
};

// Larger buffers (from a huge request) are released after the call.
constexpr size_t kKeepElements = size_t{1} << 20;

Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

size_t VarintSize(uint32_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

uint8_t* WriteVarint(uint32_t v, uint8_t* p) {
  while (v >= 0x80) {
    *p++ = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  *p++ = static_cast<uint8_t>(v);
  return p;
}

}  // namespace

grpc::ByteBuffer EncodeOutliersResponse(const int64_t* indices, size_t count) {
  if (count == 0) {
    grpc::Slice empty;
    return grpc::ByteBuffer(&empty, 1);
  }
  size_t payload = 0;
  for (size_t i = 0; i < count; ++i) {
    payload += VarintSize(static_cast<uint32_t>(indices[i]));
  }
  const size_t total = 1 + VarintSize(static_cast<uint32_t>(payload)) + payload;
  grpc_slice raw = grpc_slice_malloc(total);
  uint8_t* p = GRPC_SLICE_START_PTR(raw);
  *p++ = 0x0A;  // field 1, length-delimited
  p = WriteVarint(static_cast<uint32_t>(payload), p);
  for (size_t i = 0; i < count; ++i) {
    p = WriteVarint(static_cast<uint32_t>(indices[i]), p);
  }
  grpc::Slice slice(raw, grpc::Slice::STEAL_REF);
  return grpc::ByteBuffer(&slice, 1);
}

namespace {

grpc::Status DetectOn(absl::string_view bytes, Scratch& scratch,
                      grpc::ByteBuffer* response, const CallContext& call) {
  absl::Status st = outliers::DecodeOutliersRequest(bytes, &scratch.values);
  if (!st.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        std::string(st.message()));
  }
  st = outliers::FindOutliers(
      absl::MakeConstSpan(scratch.values.data(), scratch.values.size()),
      &scratch.indices);
  if (!st.ok()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("metrics: ", st.message()));
  }
  call.AddEvent("outliers", {{"metrics", static_cast<int64_t>(scratch.values.size())},
                             {"outliers", static_cast<int64_t>(scratch.indices.size())}});
  *response =
      EncodeOutliersResponse(scratch.indices.data(), scratch.indices.size());
  return grpc::Status::OK;
}

}  // namespace

grpc::Status OutliersService::Detect(const grpc::ByteBuffer& request,
                                     grpc::ByteBuffer* response,
                                     const CallContext& call) const {
  Scratch& scratch = ThreadScratch();
  grpc::Status status;
  grpc::Slice slice;
  if (!request.Valid() || request.Length() == 0) {
    status = DetectOn(absl::string_view(), scratch, response, call);
  } else if (request.TrySingleSlice(&slice).ok() ||
             request.DumpToSingleSlice(&slice).ok()) {
    // One slice is read in place; a multi-slice message is copied once.
    status = DetectOn(
        absl::string_view(reinterpret_cast<const char*>(slice.begin()),
                          slice.size()),
        scratch, response, call);
  } else {
    status = grpc::Status(grpc::StatusCode::INTERNAL,
                          "cannot read the request bytes");
  }
  scratch.values.shrink_if_above(kKeepElements);
  scratch.indices.shrink_if_above(kKeepElements + outliers::kIndexPadding);
  return status;
}

std::string OutliersService::SimdTarget() {
  return outliers::DispatchTargetName();
}

}  // namespace cqmux
