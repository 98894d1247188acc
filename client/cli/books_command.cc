// `cqmux books ...`: books.BookService with the codelab client's output.
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "books.grpc.pb.h"
#include "commands.h"
#include "json_output.h"

ABSL_FLAG(int64_t, count, 0, "books watch: stop after this many books (0 = never).");

namespace cqmux::cli {
namespace {

bool ParseId(const std::string& text, int32_t* id) { return absl::SimpleAtoi(text, id); }

// The codelab prints a header line and then the response as indented JSON.
void PrintResponse(const CallOptions& options, const std::string& header,
                   const google::protobuf::Message& message) {
  if (!options.json) std::cout << header << '\n';
  PrintMessage(message, options.json);
}

int List(books::BookService::Stub& stub, const CallOptions& options) {
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  books::BookList reply;
  const grpc::Status status = stub.List(&context, books::Empty(), &reply);
  if (!status.ok()) return ReportRpcError("List books", status);
  PrintResponse(options, absl::StrCat("Server sent ", reply.books_size(), " book(s)."), reply);
  return kExitOk;
}

int Insert(books::BookService::Stub& stub, const CallOptions& options, const Args& args) {
  books::Book book;
  int32_t id = 0;
  if (args.size() != 3) return ReportUsageError("usage: cqmux books insert ID TITLE AUTHOR");
  if (!ParseId(args[0], &id)) return ReportUsageError("Provided ID " + args[0] + " invalid");
  book.set_id(id);
  book.set_title(args[1]);
  book.set_author(args[2]);
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  books::Empty reply;
  const grpc::Status status = stub.Insert(&context, book, &reply);
  if (!status.ok()) return ReportRpcError(absl::StrCat("Insert book (", id, ")"), status);
  PrintResponse(options, "Server response:", reply);
  return kExitOk;
}

int GetOrDelete(books::BookService::Stub& stub, const CallOptions& options, const Args& args,
                bool del) {
  const char* verb = del ? "delete" : "get";
  int32_t id = 0;
  if (args.size() != 1) return ReportUsageError(absl::StrCat("usage: cqmux books ", verb, " ID"));
  if (!ParseId(args[0], &id)) return ReportUsageError("Provided ID " + args[0] + " invalid");
  books::BookIdRequest request;
  request.set_id(id);
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  grpc::Status status;
  if (del) {
    books::Empty reply;
    status = stub.Delete(&context, request, &reply);
    if (status.ok()) PrintResponse(options, "Server response:", reply);
  } else {
    books::Book reply;
    status = stub.Get(&context, request, &reply);
    if (status.ok()) PrintResponse(options, "Server response:", reply);
  }
  if (!status.ok()) {
    return ReportRpcError(absl::StrCat(del ? "Delete book (" : "Get book (", id, ")"), status);
  }
  return kExitOk;
}

int Watch(books::BookService::Stub& stub, const CallOptions& options, const Args& args) {
  if (!args.empty()) return ReportUsageError("usage: cqmux books watch [--count=N]");
  const int64_t count = absl::GetFlag(FLAGS_count);
  if (count < 0) return ReportUsageError("--count must not be negative");
  grpc::ClientContext context;
  PrepareContext(options, /*waits_for_events=*/true, &context);
  auto reader = stub.Watch(&context, books::Empty());
  // cqmux sends a watch's headers once the watch is registered: from then on
  // every inserted book reaches it. Saying so lets a script (or a person)
  // insert without racing the watch's start.
  reader->WaitForInitialMetadata();
  std::cerr << "watching for inserted books" << std::endl;
  books::Book book;
  int64_t received = 0;
  while ((count == 0 || received < count) && reader->Read(&book)) {
    ++received;
    PrintResponse(options, "Server stream data received:", book);
    std::cout.flush();
  }
  if (count != 0 && received == count) {
    // Done by our own choice: cancel the stream rather than wait for its end.
    context.TryCancel();
    (void)reader->Finish();
    return kExitOk;
  }
  const grpc::Status status = reader->Finish();
  if (!status.ok()) return ReportRpcError("Watch books", status);
  return kExitOk;
}

}  // namespace

int RunBooks(const CallOptions& options, const Args& args) {
  if (args.empty()) return ReportUsageError("usage: cqmux books list|insert|get|delete|watch");
  auto stub = books::BookService::NewStub(MakeChannel(options));
  const Args rest(args.begin() + 1, args.end());
  const std::string& sub = args[0];
  if (sub == "list") {
    if (!rest.empty()) return ReportUsageError("usage: cqmux books list");
    return List(*stub, options);
  }
  if (sub == "insert") return Insert(*stub, options, rest);
  if (sub == "get") return GetOrDelete(*stub, options, rest, /*del=*/false);
  if (sub == "delete") return GetOrDelete(*stub, options, rest, /*del=*/true);
  if (sub == "watch") return Watch(*stub, options, rest);
  return ReportUsageError("unknown books subcommand \"" + sub + "\"");
}

}  // namespace cqmux::cli
