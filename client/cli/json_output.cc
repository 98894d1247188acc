// JSON printing of responses (protobuf's printer plus a two-space re-indent).
#include "json_output.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>

namespace cqmux::cli {

std::string CompactJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string out;
  // Printing a valid message cannot fail; an empty string would show it.
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

std::string IndentJson(std::string_view compact) {
  std::string out;
  int depth = 0;
  bool in_string = false;
  bool escaped = false;
  auto newline = [&] {
    out.push_back('\n');
    out.append(2 * depth, ' ');
  };
  for (size_t i = 0; i < compact.size(); ++i) {
    const char c = compact[i];
    if (in_string) {
      out.push_back(c);
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        out.push_back(c);
        break;
      case '{':
      case '[':
        if (i + 1 < compact.size() && (compact[i + 1] == '}' || compact[i + 1] == ']')) {
          out.push_back(c);
          out.push_back(compact[++i]);
        } else {
          out.push_back(c);
          ++depth;
          newline();
        }
        break;
      case '}':
      case ']':
        --depth;
        newline();
        out.push_back(c);
        break;
      case ',':
        out.push_back(c);
        newline();
        break;
      case ':':
        out.append(": ");
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

void PrintMessage(const google::protobuf::Message& message, bool compact) {
  const std::string json = CompactJson(message);
  std::cout << (compact ? json : IndentJson(json)) << '\n';
}

}  // namespace cqmux::cli
