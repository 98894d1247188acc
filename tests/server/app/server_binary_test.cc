// Process-level tests of the real cqmux-server binary: startup log, --help,
// bad flags (limits included), server reflection (list and describe every service), and a
// SIGTERM with a watch in flight that ends cleanly with exit code 0.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <google/protobuf/descriptor.pb.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "books.grpc.pb.h"
#include "defs.grpc.pb.h"
#include "health.grpc.pb.h"
#include "reflection.grpc.pb.h"
#include "users.grpc.pb.h"

extern char** environ;

namespace cqmux {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
namespace reflection = grpc::reflection::v1alpha;

// A child process whose stderr (and stdout) we read line by line.
class Child {
 public:
  explicit Child(std::vector<std::string> args) {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    // Never the default data directory, and no metrics listener, unless a
    // test asks (later flags win): these servers keep nothing, and servers
    // of tests running in parallel would all want the metrics port.
    args.insert(args.begin(), {"--store=memory", "--metrics-listen="});
    args.insert(args.begin(), CQMUX_SERVER_BINARY);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    close(fds[1]);
    out_ = fdopen(fds[0], "r");
  }
  ~Child() {
    if (pid_ > 0 && !reaped_) {
      kill(pid_, SIGKILL);
      Wait();
    }
    if (out_ != nullptr) fclose(out_);
  }

  // The next line of output, or "" at EOF.
  std::string ReadLine() {
    char buffer[4096];
    if (fgets(buffer, sizeof(buffer), out_) == nullptr) return "";
    std::string line = buffer;
    output_ += line;
    return line;
  }
  std::string ReadAll() {
    while (!ReadLine().empty()) {
    }
    return output_;
  }
  void Signal(int sig) { kill(pid_, sig); }
  // The exit code, or 128 + signal.
  int Wait() {
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
  bool reaped_ = false;
  FILE* out_ = nullptr;
  std::string output_;
};

// Starts the server on an ephemeral port and returns the port it logged.
int StartAndGetPort(Child& child) {
  for (std::string line = child.ReadLine(); !line.empty(); line = child.ReadLine()) {
    const size_t at = line.find("(ports ");
    if (at == std::string::npos) continue;
    int port = 0;
    std::string digits = line.substr(at + 7, line.find_first_of(" )", at + 7) - at - 7);
    EXPECT_TRUE(absl::SimpleAtoi(digits, &port)) << line;
    return port;
  }
  ADD_FAILURE() << "no startup line";
  return 0;
}

std::unique_ptr<grpc::ClientContext> Deadline() {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return context;
}

TEST(ServerBinaryTest, HelpExplainsEveryFlag) {
  Child child({"--help"});
  const std::string help = child.ReadAll();
  EXPECT_EQ(child.Wait(), 0);
  for (const char* flag :
       {"--listen", "--threads", "--pin-threads", "--requests-per-queue",
        "--shutdown-grace", "--max-message-bytes", "--blocking-threads",
        "--blocking-queue", "--password-hash", "--max-users", "--seed-books",
        "--watch-backlog", "--max-books", "--log-level", "--coalesce-writes",
        "--max-detect-message-bytes", "--max-concurrent-streams",
        "--memory-quota-bytes", "--max-connection-idle", "--max-connection-age",
        "--max-connection-age-grace", "--keepalive-time", "--keepalive-timeout",
        "--min-client-ping-interval", "--max-ping-strikes",
        "--permit-keepalive-without-calls", "--max-metadata-bytes", "--store",
        "--data-dir", "--durability", "--metrics-listen"}) {
    EXPECT_THAT(help, HasSubstr(absl::StrCat("  ", flag, " (default: "))) << flag;
  }
}

// README.md's "Server flags" block is --help's output, verbatim.
TEST(ServerBinaryTest, ReadmeShowsTheHelpVerbatim) {
  Child child({"--help"});
  const std::string help = child.ReadAll();
  EXPECT_EQ(child.Wait(), 0);
  std::ifstream file(CQMUX_README);
  std::stringstream readme;
  readme << file.rdbuf();
  const std::string text = readme.str();
  const std::string marker = "`cqmux-server --help` prints this:\n\n```\n";
  const size_t begin = text.find(marker);
  ASSERT_NE(begin, std::string::npos);
  const size_t start = begin + marker.size();
  const size_t end = text.find("```\n", start);
  ASSERT_NE(end, std::string::npos);
  EXPECT_EQ(text.substr(start, end - start), help)
      << "regenerate the block with: build/bin/cqmux-server --help";
}

TEST(ServerBinaryTest, BadFlagsExitWithAnError) {
  {
    Child child({"--no-such-flag=1"});
    EXPECT_THAT(child.ReadAll(), HasSubstr("Unknown command line flag"));
    EXPECT_EQ(child.Wait(), 1);
  }
  {
    Child child({"--threads=-3"});
    EXPECT_THAT(child.ReadAll(), HasSubstr("--threads must be"));
    EXPECT_EQ(child.Wait(), 1);
  }
  {
    Child child({"--max-concurrent-streams=0"});
    EXPECT_THAT(child.ReadAll(), HasSubstr("--max-concurrent-streams must be at least 1"));
    EXPECT_EQ(child.Wait(), 1);
  }
  {
    Child child({"--memory-quota-bytes=1048576"});
    EXPECT_THAT(child.ReadAll(),
                HasSubstr("--memory-quota-bytes must be at least the largest message limit"));
    EXPECT_EQ(child.Wait(), 1);
  }
  {
    Child child({"--keepalive-time=0s"});
    EXPECT_THAT(child.ReadAll(), HasSubstr("--keepalive-time must be positive"));
    EXPECT_EQ(child.Wait(), 1);
  }
  {
    Child child({"--listen=127.0.0.1:0", "--password-hash=fast"});
    EXPECT_THAT(child.ReadAll(), HasSubstr("unknown password hash profile"));
    EXPECT_EQ(child.Wait(), 1);
  }
}

// The limit flags reach the engine: the startup log states them, and a
// request over --max-message-bytes is refused by the real binary.
TEST(ServerBinaryTest, LimitFlagsAreLoggedAndApplied) {
  Child child({"--listen=127.0.0.1:0", "--threads=1", "--max-message-bytes=65536",
               "--max-concurrent-streams=64", "--memory-quota-bytes=134217728",
               "--max-connection-idle=30m", "--max-connection-age=2h",
               "--max-connection-age-grace=5s"});
  const int port = StartAndGetPort(child);
  EXPECT_THAT(child.ReadLine(),
              HasSubstr("limits: requests up to 65536 bytes (Detect 67108864), 64 "
                        "streams per connection, memory quota 128 MiB, idle 30m, "
                        "age 2h + grace 5s"));
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  rpc::Payload in, out;
  in.set_data(std::string(70000, 'x'));
  auto context = Deadline();
  grpc::Status status = rpc::Fetch::NewStub(channel)->Capitalize(context.get(), in, &out);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(status.error_message(), HasSubstr("more than this method accepts (65536 bytes)"));
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0);
}

TEST(ServerBinaryTest, PortInUseExitsWithAClearError) {
  Child first({"--listen=127.0.0.1:0", "--threads=1"});
  const int port = StartAndGetPort(first);
  Child second({absl::StrCat("--listen=127.0.0.1:", port), "--threads=1"});
  EXPECT_THAT(second.ReadAll(), HasSubstr("could not"));
  EXPECT_EQ(second.Wait(), 1);
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
}

// The metrics port the server logged ("metrics at http://HOST:PORT/metrics").
int MetricsPort(Child& child) {
  for (std::string line = child.ReadLine(); !line.empty(); line = child.ReadLine()) {
    const size_t at = line.find("metrics at http://");
    if (at == std::string::npos) continue;
    const size_t colon = line.find(':', at + 18);
    int port = 0;
    EXPECT_TRUE(absl::SimpleAtoi(
        line.substr(colon + 1, line.find('/', colon) - colon - 1), &port)) << line;
    return port;
  }
  ADD_FAILURE() << "no metrics line";
  return 0;
}

TEST(ServerBinaryTest, MetricsPortInUseExitsWithAClearError) {
  Child first({"--listen=127.0.0.1:0", "--threads=1", "--metrics-listen=127.0.0.1:0"});
  const int port = MetricsPort(first);
  ASSERT_GT(port, 0);
  Child second({"--listen=127.0.0.1:0", "--threads=1",
                absl::StrCat("--metrics-listen=127.0.0.1:", port)});
  const std::string out = second.ReadAll();
  EXPECT_THAT(out, HasSubstr(absl::StrCat("cannot serve metrics on 127.0.0.1:", port,
                                          " (--metrics-listen): Address already in use")));
  EXPECT_THAT(out, Not(HasSubstr("listening on")));
  EXPECT_EQ(second.Wait(), 1);
  first.Signal(SIGTERM);
  EXPECT_EQ(first.Wait(), 0);
}

TEST(ServerBinaryTest, EmptyMetricsListenTurnsMetricsOff) {
  Child child({"--listen=127.0.0.1:0", "--threads=1"});
  StartAndGetPort(child);
  EXPECT_THAT(child.ReadLine(), HasSubstr("limits:"));
  EXPECT_THAT(child.ReadLine(), HasSubstr("metrics off (--metrics-listen is empty)"));
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0);
}

TEST(ServerBinaryTest, ReflectionListsAndDescribesEveryService) {
  Child child({"--listen=127.0.0.1:0", "--threads=1"});
  const int port = StartAndGetPort(child);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = reflection::ServerReflection::NewStub(channel);
  auto context = Deadline();
  auto stream = stub->ServerReflectionInfo(context.get());

  reflection::ServerReflectionRequest request;
  request.set_list_services("");
  ASSERT_TRUE(stream->Write(request));
  reflection::ServerReflectionResponse response;
  ASSERT_TRUE(stream->Read(&response));
  std::set<std::string> services;
  for (const auto& s : response.list_services_response().service()) services.insert(s.name());
  const std::vector<std::string> ours = {
      "rpc.Fetch", "Users", "books.BookService", "my_package.DisplacementService",
      "my_package.RequestStreaming", "pb.Outliers", "grpc.health.v1.Health"};
  for (const std::string& name : ours) EXPECT_EQ(services.count(name), 1u) << name;

  // Describe: the file defining each service, with its methods.
  for (const std::string& name : ours) {
    if (name == "grpc.health.v1.Health") continue;
    request.set_file_containing_symbol(name);
    ASSERT_TRUE(stream->Write(request));
    ASSERT_TRUE(stream->Read(&response));
    ASSERT_TRUE(response.has_file_descriptor_response()) << name << ": " << response.ShortDebugString();
    bool found = false;
    for (const std::string& bytes : response.file_descriptor_response().file_descriptor_proto()) {
      google::protobuf::FileDescriptorProto file;
      ASSERT_TRUE(file.ParseFromString(bytes));
      for (const auto& service : file.service()) {
        const std::string full =
            file.package().empty() ? service.name() : file.package() + "." + service.name();
        if (full == name) found = service.method_size() > 0;
      }
    }
    EXPECT_TRUE(found) << name;
  }
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0);
}

TEST(ServerBinaryTest, SigtermDrainsInFlightCallsAndExitsZero) {
  Child child({"--listen=127.0.0.1:0", "--threads=2", "--shutdown-grace=5s"});
  const int port = StartAndGetPort(child);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto books_stub = books::BookService::NewStub(channel);
  auto watch_context = Deadline();
  auto watch = books_stub->Watch(watch_context.get(), books::Empty());
  // The watch is accepted once an insert reaches it.
  books::Book book;
  book.set_id(9);
  book.set_title("t");
  book.set_author("a");
  books::Empty empty;
  auto context = Deadline();
  ASSERT_TRUE(books_stub->Insert(context.get(), book, &empty).ok());
  books::Book seen;
  ASSERT_TRUE(watch->Read(&seen));
  EXPECT_EQ(seen.id(), 9);

  auto health = grpc::health::v1::Health::NewStub(channel);
  grpc::health::v1::HealthCheckRequest check;
  grpc::health::v1::HealthCheckResponse status;
  context = Deadline();
  ASSERT_TRUE(health->Check(context.get(), check, &status).ok());
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  child.Signal(SIGTERM);
  EXPECT_FALSE(watch->Read(&seen));
  grpc::Status end = watch->Finish();
  EXPECT_TRUE(end.ok() || end.error_code() == grpc::StatusCode::UNAVAILABLE)
      << end.error_code() << " " << end.error_message();
  EXPECT_EQ(child.Wait(), 0);
  EXPECT_THAT(child.ReadAll(), HasSubstr("shutdown complete"));
}

// The crash: CreateUser calls queued behind one hashing thread when
// SIGTERM comes with a short grace. The process used to abort (an operation
// started on a shut-down completion queue) or run every queued hash first.
// Now: exit code 0, every client answered, and the hashes still queued when
// the grace ran out were dropped unrun instead of being worked through. (How long the exit takes depends on the
// hash that was running, so the test counts work, not seconds.)
TEST(ServerBinaryTest, SigtermWithHashesQueuedExitsZeroAndDropsThem) {
  Child child({"--listen=127.0.0.1:0", "--threads=2", "--blocking-threads=1",
               "--shutdown-grace=100ms", "--password-hash=moderate", "--log-level=debug"});
  const int port = StartAndGetPort(child);
  auto stub = Users::NewStub(grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                                 grpc::InsecureChannelCredentials()));
  constexpr int kCalls = 16;  // "moderate" is ~0.5 s a hash: 8 s of queued work
  std::vector<std::thread> clients;
  std::atomic<int> answered{0};
  std::atomic<int> unavailable{0};
  for (int i = 0; i < kCalls; ++i) {
    clients.emplace_back([&, i] {
      users::CreateUserRequest request;
      request.set_username(absl::StrCat("user", i));
      request.set_password("secret");
      users::CreateUserResult result;
      auto context = Deadline();
      grpc::Status status = stub->CreateUser(context.get(), request, &result);
      // Queued calls end UNAVAILABLE: gRPC cancels what is left when the
      // grace ends ("Cancelling all calls"), and a job the pool drops
      // answers "not processed" if its client is still there.
      if (status.error_code() == grpc::StatusCode::UNAVAILABLE) ++unavailable;
      ++answered;
    });
  }
  // The first hash has started (the handler logs each call at debug level
  // on the worker): the one worker is busy and the other calls queue up.
  int hashes_started = 0;
  for (std::string line = child.ReadLine(); line.find("CreateUser username=") == std::string::npos;
       line = child.ReadLine()) {
    ASSERT_FALSE(line.empty()) << "the server ended before hashing";
  }
  ++hashes_started;
  child.Signal(SIGTERM);
  EXPECT_EQ(child.Wait(), 0);
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(answered.load(), kCalls);
  const std::string rest = child.ReadAll();
  for (size_t at = rest.find("CreateUser username="); at != std::string::npos;
       at = rest.find("CreateUser username=", at + 1)) {
    ++hashes_started;
  }
  // One worker: the hash that was running, perhaps one more that it picked
  // up within the 100 ms grace; the calls queued behind them were dropped
  // unrun and their clients told UNAVAILABLE.
  EXPECT_LE(hashes_started, 2);
  EXPECT_GE(unavailable.load(), kCalls - hashes_started);
}

// --drain-delay: after SIGTERM, health says NOT_SERVING at once while calls
// are still served until the delay is over; a second SIGTERM ends the delay.
TEST(ServerBinaryTest, DrainDelayKeepsServingWhileHealthSaysNotServing) {
  Child child({"--listen=127.0.0.1:0", "--drain-delay=60s", "--shutdown-grace=1s"});
  const int port = StartAndGetPort(child);
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto health = grpc::health::v1::Health::NewStub(channel);
  auto watch_context = Deadline();
  grpc::health::v1::HealthCheckRequest everything;
  auto watch = health->Watch(watch_context.get(), everything);
  grpc::health::v1::HealthCheckResponse status;
  ASSERT_TRUE(watch->Read(&status));
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  child.Signal(SIGTERM);
  ASSERT_TRUE(watch->Read(&status));  // the drain began
  EXPECT_EQ(status.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  auto fetch = rpc::Fetch::NewStub(channel);
  rpc::Payload in, out;
  in.set_data("drain");
  auto context = Deadline();
  ASSERT_TRUE(fetch->Capitalize(context.get(), in, &out).ok());
  EXPECT_EQ(out.data(), "DRAIN");

  const absl::Time second = absl::Now();
  child.Signal(SIGTERM);  // no need to wait the 60 s
  EXPECT_FALSE(watch->Read(&status));
  EXPECT_EQ(child.Wait(), 0);
  EXPECT_LT(absl::Now() - second, absl::Seconds(10));
  EXPECT_THAT(child.ReadAll(), HasSubstr("second signal: drain delay ended"));
}

}  // namespace
}  // namespace cqmux
