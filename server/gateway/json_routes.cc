// JSON conversion and pool hand-off for the route adapters; see json_routes.h.
#include "server/gateway/json_routes.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"

namespace cqmux::gateway {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

// protobuf 3.21 reports an unknown field as "Cannot find field." without
// its name. On that error path only, the body is parsed again as a
// google.protobuf.Struct and walked against the descriptor to name the first
// field the message does not have (e.g. "book.isbn").
std::string FindUnknownField(const google::protobuf::Struct& object,
                             const Descriptor* descriptor,
                             const std::string& prefix) {
  for (const auto& [key, value] : object.fields()) {
    const FieldDescriptor* field = descriptor->FindFieldByName(key);
    if (field == nullptr) {
      for (int i = 0; i < descriptor->field_count(); ++i) {
        if (descriptor->field(i)->json_name() == key) field = descriptor->field(i);
      }
    }
    if (field == nullptr) return prefix + key;
    if (field->type() != FieldDescriptor::TYPE_MESSAGE ||
        field->message_type()->full_name().rfind("google.protobuf.", 0) == 0) {
      continue;  // well-known types have their own JSON forms
    }
    const std::string path = absl::StrCat(prefix, key, ".");
    if (value.has_struct_value()) {
      std::string found = FindUnknownField(value.struct_value(), field->message_type(), path);
      if (!found.empty()) return found;
    } else if (value.has_list_value()) {
      for (const auto& item : value.list_value().values()) {
        if (!item.has_struct_value()) continue;
        std::string found = FindUnknownField(item.struct_value(), field->message_type(), path);
        if (!found.empty()) return found;
      }
    }
  }
  return "";
}

}  // namespace

grpc::Status ParseJson(absl::string_view json, google::protobuf::Message* message) {
  if (json.find_first_not_of(" \t\r\n") == absl::string_view::npos) {
    return grpc::Status::OK;  // no body: the empty message
  }
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;  // a typo must not pass silently
  const auto parsed = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), message, options);
  if (parsed.ok()) return grpc::Status::OK;
  const std::string type = message->GetDescriptor()->full_name();
  google::protobuf::Struct object;
  if (google::protobuf::util::JsonStringToMessage(
          google::protobuf::StringPiece(json.data(), json.size()), &object)
          .ok()) {
    const std::string unknown = FindUnknownField(object, message->GetDescriptor(), "");
    if (!unknown.empty()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("unknown field \"", unknown, "\" in ", type));
    }
  } else if (json.find_first_not_of(" \t\r\n") != absl::string_view::npos &&
             json[json.find_first_not_of(" \t\r\n")] != '{') {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("the body must be a JSON object (", type, ")"));
  }
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                      absl::StrCat("invalid JSON for ", type, ": ",
                                   std::string(parsed.message())));
}

std::string ToJson(const google::protobuf::Message& message) {
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;  // {"id":0}, not {}
  options.preserve_proto_field_names = false;    // lowerCamelCase
  std::string out;
  if (!google::protobuf::util::MessageToJsonString(message, &out, options).ok()) {
    return "{}";  // only invalid UTF-8 in a string field can get here
  }
  return out;
}

namespace internal {

void RunOnPool(BlockingPool* pool, const std::shared_ptr<Exchange>& exchange,
               std::function<void()> job) {
  const bool queued = pool->Submit([exchange, job = std::move(job)](bool run) {
    if (!run) {
      exchange->Reply(ErrorReply(grpc::Status(
          grpc::StatusCode::UNAVAILABLE,
          "server shutting down: the request was not processed")));
    } else if (!exchange->call().Wanted()) {
      exchange->Reply(ErrorReply(grpc::Status(
          grpc::StatusCode::DEADLINE_EXCEEDED,
          "the client left or its deadline passed while the request waited for a worker")));
    } else {
      job();
    }
  });
  if (!queued) {
    exchange->Reply(ErrorReply(grpc::Status(
        grpc::StatusCode::RESOURCE_EXHAUSTED,
        "server busy: too many slow requests queued for the " + pool->name() +
            " pool, retry")));
  }
}

}  // namespace internal
}  // namespace cqmux::gateway
