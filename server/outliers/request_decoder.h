// Zero-copy decoding of a serialized pb.OutliersRequest: the `value` of every
// Metric, in order, straight from the wire bytes into an aligned array,
// without materialising any protobuf message. Accepts and rejects exactly
// what protobuf's own parser (3.21, recursion limit 100) accepts and rejects.
#ifndef CQMUX_SERVER_OUTLIERS_REQUEST_DECODER_H_
#define CQMUX_SERVER_OUTLIERS_REQUEST_DECODER_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "server/outliers/aligned_buffer.h"

namespace cqmux::outliers {

// Replaces `values` with metrics[i].value for every metric of the request.
// Malformed input gives INVALID_ARGUMENT; it never reads outside `bytes`.
absl::Status DecodeOutliersRequest(absl::string_view bytes,
                                   AlignedBuffer<double>* values);

}  // namespace cqmux::outliers

#endif  // CQMUX_SERVER_OUTLIERS_REQUEST_DECODER_H_
