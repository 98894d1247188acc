// Prints protobuf messages as the tutorials' clients do: pretty JSON with a
// two-space indent (Go's json.MarshalIndent layout) or, with --json, one
// compact JSON document per line.
#ifndef CQMUX_CLIENT_CLI_JSON_OUTPUT_H_
#define CQMUX_CLIENT_CLI_JSON_OUTPUT_H_

#include <google/protobuf/message.h>

#include <string>
#include <string_view>

namespace cqmux::cli {

// Compact JSON with the proto field names (user_id, not userId).
std::string CompactJson(const google::protobuf::Message& message);

// Re-indents compact JSON with two spaces per level; "{}" and "[]" stay empty.
std::string IndentJson(std::string_view compact);

// Writes the message to stdout, pretty or compact, followed by a newline.
void PrintMessage(const google::protobuf::Message& message, bool compact);

}  // namespace cqmux::cli

#endif  // CQMUX_CLIENT_CLI_JSON_OUTPUT_H_
