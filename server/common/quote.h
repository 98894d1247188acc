// Client input inside error messages and logs: a short, escaped prefix, so a
// hostile client can neither make a status message as large as its request
// nor put control characters into a log line.
#ifndef CQMUX_SERVER_COMMON_QUOTE_H_
#define CQMUX_SERVER_COMMON_QUOTE_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace cqmux {

// How much of a client's value a message quotes.
inline constexpr size_t kQuotedPrefixBytes = 32;

// `input` in double quotes, C-escaped (quotes, backslashes, control and
// non-ASCII bytes as \xNN); longer input is cut after `max_bytes` bytes and
// the total length added: "aaaa..."... (16777216 bytes).
std::string QuoteInput(absl::string_view input,
                       size_t max_bytes = kQuotedPrefixBytes);

}  // namespace cqmux

#endif  // CQMUX_SERVER_COMMON_QUOTE_H_
