// libFuzzer target: the zero-copy decoder must accept exactly the inputs
// protobuf's parser accepts and extract the same values, bit for bit.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <string_view>

#include "server/outliers/request_decoder.h"
#include "tests/server/outliers/decoder_oracle.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const cqmux::outliers::OracleResult want =
      cqmux::outliers::ParseWithProtobuf(bytes);
  cqmux::outliers::AlignedBuffer<double> got;
  const absl::Status st = cqmux::outliers::DecodeOutliersRequest(
      absl::string_view(bytes.data(), bytes.size()), &got);
  if (st.ok() != want.ok) {
    std::fprintf(stderr, "verdict differs: protobuf %s, decoder %s\n",
                 want.ok ? "accepts" : "rejects", st.ToString().c_str());
    std::abort();
  }
  if (!st.ok()) return 0;
  if (got.size() != want.values.size()) {
    std::fprintf(stderr, "metric count differs: %zu vs %zu\n", got.size(),
                 want.values.size());
    std::abort();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::memcmp(&got[i], &want.values[i], 8) != 0) {
      std::fprintf(stderr, "value %zu differs\n", i);
      std::abort();
    }
  }
  return 0;
}
