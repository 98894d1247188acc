// `cqmux displacement` (unary) and `cqmux stream-state` (client stream): the
// two my_package tutorial services.
#include <iostream>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "json_output.h"
#include "request_streaming.grpc.pb.h"
#include "unary.grpc.pb.h"

namespace cqmux::cli {
namespace {

// "THIRSTY:need water", "thirsty", "2:..." -> Data.
bool ParseState(absl::string_view text, my_package::Data* data) {
  const size_t colon = text.find(':');
  const absl::string_view name = text.substr(0, colon);
  my_package::Status status;
  int number = 0;
  if (my_package::Status_Parse(absl::AsciiStrToUpper(name), &status)) {
    data->set_status(status);
  } else if (absl::SimpleAtoi(name, &number) && my_package::Status_IsValid(number)) {
    data->set_status(static_cast<my_package::Status>(number));
  } else {
    return false;
  }
  data->set_info(colon == absl::string_view::npos ? "" : std::string(text.substr(colon + 1)));
  return true;
}

}  // namespace

int RunDisplacement(const CallOptions& options, const Args& args) {
  int32_t c[4];
  if (args.size() != 4) return ReportUsageError("usage: cqmux displacement X1 Y1 X2 Y2");
  for (int i = 0; i < 4; ++i) {
    if (!absl::SimpleAtoi(args[i], &c[i])) {
      return ReportUsageError("coordinate \"" + args[i] + "\" is not an int32");
    }
  }
  my_package::Displacement request;
  request.mutable_start()->set_x(c[0]);
  request.mutable_start()->set_y(c[1]);
  request.mutable_end()->set_x(c[2]);
  request.mutable_end()->set_y(c[3]);
  auto stub = my_package::DisplacementService::NewStub(MakeChannel(options));
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  my_package::DisplacementResponse reply;
  const grpc::Status status = stub->computeDisplacement(&context, request, &reply);
  if (!status.ok()) return ReportRpcError("Compute displacement", status);
  if (options.json) {
    PrintMessage(reply, true);
  } else {
    std::cout << "distance: " << absl::StrCat(reply.distance()) << '\n';
  }
  return kExitOk;
}

int RunStreamState(const CallOptions& options, const Args& args) {
  auto stub = my_package::RequestStreaming::NewStub(MakeChannel(options));
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  my_package::Empty reply;
  auto writer = stub->stream_state(&context, &reply);
  int64_t sent = 0;
  auto send = [&](absl::string_view text) {
    my_package::Data data;
    if (!ParseState(text, &data)) {
      context.TryCancel();
      (void)writer->Finish();
      return ReportUsageError(absl::StrCat("\"", text,
                                           "\" is not STATUS[:INFO] (STATUS: UNKNOWN, OK, "
                                           "THIRSTY, STARVED, TIRED)"));
    }
    // A failed write means the call is over; Finish() below says why.
    if (writer->Write(data)) ++sent;
    return kExitOk;
  };
  if (!args.empty()) {
    for (const std::string& arg : args) {
      if (int rc = send(arg); rc != kExitOk) return rc;
    }
  } else {
    std::string line;
    while (std::getline(std::cin, line)) {
      absl::string_view trimmed = absl::StripAsciiWhitespace(line);
      if (trimmed.empty()) continue;
      if (int rc = send(trimmed); rc != kExitOk) return rc;
    }
  }
  writer->WritesDone();
  const grpc::Status status = writer->Finish();
  if (!status.ok()) return ReportRpcError("Stream state", status);
  if (options.json) {
    PrintMessage(reply, true);
  } else {
    std::cout << "Sent " << sent << " message(s).\n";
  }
  return kExitOk;
}

}  // namespace cqmux::cli
