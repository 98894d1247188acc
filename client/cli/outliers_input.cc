// Parsing and generation of outlier-detection input values.
#include "outliers_input.h"

#include <cmath>
#include <random>
#include <string>

#include "absl/random/random.h"
#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cqmux::cli {

absl::StatusOr<std::vector<double>> ParseValues(absl::string_view text) {
  std::vector<double> values;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    for (absl::string_view token :
         absl::StrSplit(line, absl::ByAnyChar(", \t\r;"), absl::SkipEmpty())) {
      double value = 0;
      if (!absl::SimpleAtod(token, &value) || !std::isfinite(value)) {
        return absl::InvalidArgumentError(
            absl::StrCat("line ", line_number, ": \"", token, "\" is not a finite number"));
      }
      values.push_back(value);
    }
  }
  return values;
}

std::vector<double> TutorialValues(int64_t n, uint64_t seed) {
  std::vector<double> values(static_cast<size_t>(n));
  if (seed == 0) {
    absl::BitGen gen;
    for (double& v : values) v = absl::Uniform(gen, 0.0, 40.0);
  } else {
    std::mt19937_64 gen(seed);
    std::uniform_real_distribution<double> dist(0.0, 40.0);
    for (double& v : values) v = dist(gen);
  }
  const std::pair<int64_t, double> outliers[] = {{7, 97.3}, {113, 92.1}, {835, 93.2}};
  for (const auto& [index, value] : outliers) {
    if (index < n) values[static_cast<size_t>(index)] = value;
  }
  return values;
}

}  // namespace cqmux::cli
