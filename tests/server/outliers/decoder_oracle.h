// The judge for the zero-copy decoder: protobuf's own parser.
#ifndef CQMUX_TESTS_SERVER_OUTLIERS_DECODER_ORACLE_H_
#define CQMUX_TESTS_SERVER_OUTLIERS_DECODER_ORACLE_H_

#include <string_view>
#include <vector>

#include <google/protobuf/stubs/logging.h>

#include "outliers.pb.h"

namespace cqmux::outliers {

struct OracleResult {
  bool ok = false;
  std::vector<double> values;
};

inline OracleResult ParseWithProtobuf(std::string_view bytes) {
  // protobuf logs every invalid UTF-8 string it rejects; the verdict is all
  // we need.
  [[maybe_unused]] static const bool kSilenced =
      (google::protobuf::SetLogHandler(nullptr), true);
  OracleResult r;
  pb::OutliersRequest req;
  r.ok = req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()));
  if (r.ok) {
    for (const pb::Metric& m : req.metrics()) r.values.push_back(m.value());
  }
  return r;
}

}  // namespace cqmux::outliers

#endif  // CQMUX_TESTS_SERVER_OUTLIERS_DECODER_ORACLE_H_
