// A deliberately tiny leveled logger for the server: one line per event on
// stderr, level chosen at startup. Debug lines cost one branch when disabled.
#ifndef CQMUX_SERVER_COMMON_LOG_H_
#define CQMUX_SERVER_COMMON_LOG_H_

#include <atomic>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace cqmux {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, absl::string_view message);

template <typename... Args>
void Log(LogLevel level, const absl::FormatSpec<Args...>& format,
         const Args&... args) {
  if (LogEnabled(level)) LogLine(level, absl::StrFormat(format, args...));
}

}  // namespace cqmux

#endif  // CQMUX_SERVER_COMMON_LOG_H_
