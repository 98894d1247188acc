// Help texts of the cqmux CLI, kept in one place so they stay consistent.
#include <string>
#include <string_view>

#include "commands.h"

namespace cqmux::cli {
namespace {

constexpr std::string_view kGlobalFlags = R"txt(Global flags (before or after the subcommand):
  --target=HOST:PORT   server address (default $CQMUX_TARGET, else localhost:50051)
  --timeout=DURATION   per-call deadline, e.g. 500ms, 10s; default 10s, and no
                       deadline for `books watch`
  --metadata=KEY=VALUE request metadata; repeatable (e.g. --metadata=ip=127.0.0.1)
  --json               machine-readable output: one compact JSON document per
                       message on stdout, no headers
  --tls                TLS, verifying the server with the system's roots
  --tls-ca=FILE        PEM root certificate(s) of the server's CA (implies --tls)
  --tls-cert=FILE      PEM client certificate, for servers that require mutual
  --tls-key=FILE       TLS (--tls-client-ca), and its private key (imply --tls)
  --tls-server-name=NAME  name the server's certificate must carry instead of
                       the target's host (e.g. localhost for 127.0.0.1:50051)
  --token=TOKEN        write token for servers run with --auth-tokens (books
                       insert/delete), sent as "authorization: Bearer TOKEN" on
                       every call; default $CQMUX_TOKEN. --token-file=FILE reads
                       it from FILE's first line that is not blank or a # comment
  --helpfull           every flag, including the libraries'

Exit status: 0 success, 1 the call failed (message "ACTION: CODE: details" on
stderr) or health is not SERVING, 2 bad command line.
)txt";

constexpr std::string_view kCapitalize = R"txt(cqmux capitalize [TEXT...]
  Calls rpc.Fetch/Capitalize. With TEXT (words joined by spaces) prints the
  capitalized text once. Without TEXT runs the tutorial's loop: prompts "> ",
  reads a line from stdin, prints "< RESULT" and a blank line, until EOF.
)txt";

constexpr std::string_view kUsers = R"txt(cqmux users create NAME [--email=EMAIL] [--password-stdin]
  Calls Users/CreateUser; prints "User created: NAME (user_id N)".
  --password-stdin reads the password from the first line of stdin.
cqmux users get NAME|ID...
  Calls Users/GetUsers (server stream) for each user, by user_id when the
  argument is a number, else by username; prints each result as JSON. An
  unknown user ends the stream with NOT_FOUND after the earlier results.
)txt";

constexpr std::string_view kBooks = R"txt(cqmux books list                       List all books
cqmux books insert ID TITLE AUTHOR     Insert a book
cqmux books get ID                     Get a book by its ID
cqmux books delete ID                  Delete a book by its ID
cqmux books watch [--count=N]          Watch for inserted books (stderr says "watching for
                                       inserted books" once live); stop after N
  Calls books.BookService with the codelab client's output, e.g.
  "Server sent 2 book(s)." then the JSON, "Server response:" then the JSON,
  and errors such as "Get book (404): NOT_FOUND: No book with id 404 was found".
)txt";

constexpr std::string_view kDisplacement = R"txt(cqmux displacement X1 Y1 X2 Y2
  Calls my_package.DisplacementService/computeDisplacement from (X1,Y1) to
  (X2,Y2) (int32 coordinates); prints "distance: D". Put "--" before
  negative numbers: cqmux displacement -- -3 -4 0 0
)txt";

constexpr std::string_view kStreamState = R"txt(cqmux stream-state [STATUS:INFO...]
  Streams my_package.Data messages to my_package.RequestStreaming/stream_state
  (client stream), one per argument, or one per non-empty stdin line when no
  argument is given. STATUS is UNKNOWN, OK, THIRSTY, STARVED or TIRED (any
  case) or its number; INFO is optional. Prints "Sent N message(s).".
)txt";

constexpr std::string_view kOutliers = R"txt(cqmux outliers detect [FILE|-] [--random=N [--seed=S]]
  Calls pb.Outliers/Detect with the values of FILE (or stdin): numbers one per
  line or comma/space separated. --random=N sends N values like the tutorial's
  Go client (uniform in [0,40), with 97.3, 92.1, 93.2 at indices 7, 113, 835
  when they exist); --seed=S makes that series reproducible. Metrics are named
  --metric-name (default CPU) and one second apart. Prints "outliers at: [I...]".
)txt";

constexpr std::string_view kHealth = R"txt(cqmux health [SERVICE]
  Calls grpc.health.v1.Health/Check for SERVICE (default "", the server);
  prints the status and exits 0 only when it is SERVING.
)txt";

}  // namespace

std::string OverviewHelp() {
  std::string out =
      "cqmux: command-line client of the cqmux gRPC server.\n\n"
      "Usage: cqmux [FLAGS] SUBCOMMAND [ARGS...]\n\nSubcommands:\n";
  for (std::string_view text : {kCapitalize, kUsers, kBooks, kDisplacement, kStreamState,
                                kOutliers, kHealth}) {
    out.append(text);
  }
  out.append("\n");
  out.append(kGlobalFlags);
  out.append("\n'cqmux SUBCOMMAND --help' shows one subcommand.\n");
  return out;
}

std::string HelpFor(std::string_view command) {
  std::string_view text;
  if (command == "capitalize") text = kCapitalize;
  if (command == "users") text = kUsers;
  if (command == "books") text = kBooks;
  if (command == "displacement") text = kDisplacement;
  if (command == "stream-state") text = kStreamState;
  if (command == "outliers") text = kOutliers;
  if (command == "health") text = kHealth;
  if (text.empty()) return "";
  return std::string("Usage:\n") + std::string(text) + "\n" + std::string(kGlobalFlags);
}

}  // namespace cqmux::cli
