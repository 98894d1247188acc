// The subcommands of the cqmux CLI. Each takes the global call options and
// its positional arguments (the subcommand name removed) and returns the
// process exit code (see call_options.h).
#ifndef CQMUX_CLIENT_CLI_COMMANDS_H_
#define CQMUX_CLIENT_CLI_COMMANDS_H_

#include <string>
#include <string_view>
#include <vector>

#include "call_options.h"

namespace cqmux::cli {

using Args = std::vector<std::string>;

int RunCapitalize(const CallOptions& options, const Args& args);
int RunUsers(const CallOptions& options, const Args& args);
int RunBooks(const CallOptions& options, const Args& args);
int RunDisplacement(const CallOptions& options, const Args& args);
int RunStreamState(const CallOptions& options, const Args& args);
int RunOutliers(const CallOptions& options, const Args& args);
int RunHealth(const CallOptions& options, const Args& args);

// Help texts: the overview (`cqmux --help`) and one per subcommand
// (`cqmux books --help`); HelpFor returns "" for an unknown subcommand.
std::string OverviewHelp();
std::string HelpFor(std::string_view command);

}  // namespace cqmux::cli

#endif  // CQMUX_CLIENT_CLI_COMMANDS_H_
