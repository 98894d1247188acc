// A whole cqmux server (ServerApp) on 127.0.0.1 with an ephemeral port, for
// integration tests, plus small helpers for calls with deadlines.
#ifndef CQMUX_TESTS_SERVER_APP_TEST_SERVER_H_
#define CQMUX_TESTS_SERVER_APP_TEST_SERVER_H_

#include <cstdlib>
#include <memory>
#include <string>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/app/server_app.h"

namespace cqmux {

inline constexpr absl::Duration kTestDeadline = absl::Seconds(30);

// Defaults for tests: two queues, a fast password hash, a short grace.
inline ServerConfig TestConfig() {
  ServerConfig config;
  config.engine.listen = {"127.0.0.1:0"};
  config.engine.threads = 2;
  config.engine.shutdown_grace = absl::Seconds(2);
  config.password_hash = "min";
  config.log_level = LogLevel::kWarning;
  // The whole suite also runs with write coalescing on (see CMakeLists.txt).
  config.engine.coalesce_writes = std::getenv("CQMUX_TEST_COALESCE_WRITES") != nullptr;
  return config;
}

class TestServer {
 public:
  explicit TestServer(ServerConfig config = TestConfig()) {
    auto app = ServerApp::Create(std::move(config));
    EXPECT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    absl::Status started = app_->Start();
    EXPECT_TRUE(started.ok()) << started;
    target_ = absl::StrCat("127.0.0.1:", app_->engine().ports()[0]);
  }
  ~TestServer() { app_->Shutdown(); }

  ServerApp& app() { return *app_; }
  const std::string& target() const { return target_; }

  // A channel with its own connection per `index`.
  std::shared_ptr<grpc::Channel> Channel(int index = 0) const {
    grpc::ChannelArguments args;
    args.SetInt("cqmux.test.channel", index);
    return grpc::CreateCustomChannel(target_, grpc::InsecureChannelCredentials(), args);
  }

 private:
  std::unique_ptr<ServerApp> app_;
  std::string target_;
};

inline std::unique_ptr<grpc::ClientContext> Deadline(
    absl::Duration timeout = kTestDeadline) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

}  // namespace cqmux

#endif  // CQMUX_TESTS_SERVER_APP_TEST_SERVER_H_
