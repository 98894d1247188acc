// Input of `cqmux outliers detect`: numbers from text (one per line, or comma
// / whitespace separated) and the tutorial Go client's random series.
#ifndef CQMUX_CLIENT_CLI_OUTLIERS_INPUT_H_
#define CQMUX_CLIENT_CLI_OUTLIERS_INPUT_H_

#include <cstdint>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/status/statusor.h"

namespace cqmux::cli {

// Every token separated by commas, semicolons or whitespace must be a finite
// number; the error names the first token that is not (with its line).
absl::StatusOr<std::vector<double>> ParseValues(absl::string_view text);

// n values uniform in [0, 40) ("normally we're below 40% CPU") with the
// tutorial's outliers 97.3, 92.1 and 93.2 at indices 7, 113 and 835 when
// n is large enough. seed 0 means a random seed.
std::vector<double> TutorialValues(int64_t n, uint64_t seed);

}  // namespace cqmux::cli

#endif  // CQMUX_CLIENT_CLI_OUTLIERS_INPUT_H_
