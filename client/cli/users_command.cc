// `cqmux users create|get`: Users/CreateUser and the Users/GetUsers stream.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "json_output.h"
#include "users.grpc.pb.h"

ABSL_FLAG(std::string, email, "", "users create: the user's email address.");
ABSL_FLAG(bool, password_stdin, false,
          "users create: read the password from the first line of stdin.");

namespace cqmux::cli {
namespace {

int Create(::Users::Stub& stub, const CallOptions& options, const Args& args) {
  if (args.size() != 1) return ReportUsageError("usage: cqmux users create NAME [--email=E]");
  users::CreateUserRequest request;
  request.set_username(args[0]);
  request.set_email(absl::GetFlag(FLAGS_email));
  if (absl::GetFlag(FLAGS_password_stdin)) {
    std::string password;
    std::getline(std::cin, password);
    if (!password.empty() && password.back() == '\r') password.pop_back();
    request.set_password(password);
  }
  grpc::ClientContext context;
  PrepareContext(options, /*waits_for_events=*/false, &context);
  users::CreateUserResult reply;
  const grpc::Status status = stub.CreateUser(&context, request, &reply);
  if (!status.ok()) return ReportRpcError(absl::StrCat("Create user (", args[0], ")"), status);
  if (options.json) {
    PrintMessage(reply, /*compact=*/true);
  } else {
    std::cout << "User created: " << reply.user().username() << " (user_id "
              << reply.user().user_id() << ")\n";
  }
  return kExitOk;
}

int Get(::Users::Stub& stub, const CallOptions& options, const Args& args) {
  if (args.empty()) return ReportUsageError("usage: cqmux users get NAME|ID...");
  users::GetUsersRequest request;
  for (const std::string& arg : args) {
    users::User* user = request.add_user();
    uint32_t id = 0;
    if (absl::SimpleAtoi(arg, &id)) {
      user->set_user_id(id);
    } else {
      user->set_username(arg);
    }
  }
  grpc::ClientContext context;
  PrepareContext(options, /*waits_for_events=*/false, &context);
  auto reader = stub.GetUsers(&context, request);
  users::GetUsersResult result;
  while (reader->Read(&result)) PrintMessage(result, options.json);
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError("Get users", status);
  return kExitOk;
}

}  // namespace

int RunUsers(const CallOptions& options, const Args& args) {
  if (args.empty()) return ReportUsageError("usage: cqmux users create|get ...");
  auto stub = ::Users::NewStub(MakeChannel(options));
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "create") return Create(*stub, options, rest);
  if (args[0] == "get") return Get(*stub, options, rest);
  return ReportUsageError("unknown users subcommand \"" + args[0] + "\"");
}

}  // namespace cqmux::cli
