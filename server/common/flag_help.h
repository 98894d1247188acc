// A --help for our command-line tools that lists only their own flags (absl's
// lists every library's too and exits with status 1, where tools exit 0).
#ifndef CQMUX_SERVER_COMMON_FLAG_HELP_H_
#define CQMUX_SERVER_COMMON_FLAG_HELP_H_

#include "absl/strings/string_view.h"

namespace cqmux {

// True when argv holds --help, -h or --helpfull (before any "--").
bool WantsHelp(int argc, char** argv);

// Prints `usage`, then every absl flag defined in a file whose path contains
// `defined_in`, sorted, dash-spelled, with its default and help text, then
// `footer`; all to stdout.
void PrintFlagHelp(absl::string_view usage, absl::string_view defined_in,
                   absl::string_view footer);

}  // namespace cqmux

#endif  // CQMUX_SERVER_COMMON_FLAG_HELP_H_
