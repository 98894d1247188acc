// See flag_help.h.
#include "server/common/flag_help.h"

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"

namespace cqmux {

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const absl::string_view arg = argv[i];
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-h" || arg == "--helpfull") return true;
  }
  return false;
}

void PrintFlagHelp(absl::string_view usage, absl::string_view defined_in,
                   absl::string_view footer) {
  std::vector<const absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::StrContains(flag->Filename(), defined_in)) flags.push_back(flag);
  }
  std::sort(flags.begin(), flags.end(),
            [](auto* a, auto* b) { return a->Name() < b->Name(); });
  std::printf("%.*s\n\nFlags:\n", static_cast<int>(usage.size()), usage.data());
  for (const absl::CommandLineFlag* flag : flags) {
    std::printf("  --%s (default: %s)\n",
                absl::StrReplaceAll(flag->Name(), {{"_", "-"}}).c_str(),
                flag->DefaultValue().c_str());
    std::printf("      %s\n", flag->Help().c_str());
  }
  std::printf("\n  --help     Print this help and exit.\n%.*s",
              static_cast<int>(footer.size()), footer.data());
}

}  // namespace cqmux
