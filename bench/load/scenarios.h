// What each scenario sends and how each answer is checked: request builders
// with their expected answers (pure, testable without a server), and the
// asynchronous call state machines that the engine's workers drive.
#ifndef CQMUX_BENCH_LOAD_SCENARIOS_H_
#define CQMUX_BENCH_LOAD_SCENARIOS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/generic_stub.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "books.grpc.pb.h"
#include "histogram.h"
#include "outliers.pb.h"
#include "request_streaming.grpc.pb.h"
#include "users.grpc.pb.h"

namespace cqmux::load {

enum class Kind {
  kCapitalize,
  kCreateUser,
  kGetUsers,
  kDisplacement,
  kStreamState,
  kBooksGet,
  kBooksList,
  kBooksInsert,
  kDetect,
};
inline constexpr int kKindCount = 9;
const char* KindName(Kind kind);

// ---- Pure helpers (unit-tested) -------------------------------------------

// ASCII a-z upper-cased, every other byte unchanged: the Capitalize contract.
std::string Capitalized(std::string_view data);
// numpy's np.where(|d - d.mean()| > 2 * d.std()) with population std, computed
// plainly in two passes. Fails if a value lies so close to the threshold that
// the summation order (numpy's is pairwise) could change the answer.
absl::StatusOr<std::vector<int32_t>> ReferenceOutliers(const std::vector<double>& values);
// The detect request: the tutorial's 1,000 metrics for n == 1000, otherwise
// values uniform in [0, 40) from a fixed seed with three spikes near 95.
pb::OutliersRequest DetectRequest(int n);
// The float distance the DisplacementService must return.
float ExpectedDistance(int32_t x1, int32_t y1, int32_t x2, int32_t y2);
bool DistanceMatches(float got, float expected);

// One request of a unary scenario framed as gRPC sends it (flag byte, 4-byte
// big-endian length, message), and its method path: a body for h2load.
absl::StatusOr<std::pair<std::string, std::string>> FramedRequest(Kind kind, int payload_bytes,
                                                                 int metrics);

// The outcome of one call.
struct Outcome {
  enum Type { kOk, kWrong, kError } type = kOk;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string detail;  // what was wrong, for kWrong and kError
};

// ---- Shared per-run state ---------------------------------------------------

// Books inserted by this run and what every watcher saw of them.
class WatchHub {
 public:
  explicit WatchHub(std::string prefix) : prefix_(std::move(prefix)) {}
  const std::string& prefix() const { return prefix_; }
  void AddInserted(int32_t id);
  int64_t inserted() const { return inserted_.load(std::memory_order_acquire); }
  uint64_t inserted_sum() const { return inserted_sum_.load(std::memory_order_acquire); }
  std::atomic<int> markers_seen{0};
  // Books delivered to all watchers together.
  std::atomic<int64_t> deliveries{0};
  std::atomic<int> watchers_ended{0};  // streams over before we cancelled them

 private:
  std::string prefix_;
  std::atomic<int64_t> inserted_{0};
  std::atomic<uint64_t> inserted_sum_{0};
};

uint64_t MixId(int32_t id);

// Stubs, fixtures and pre-serialized requests shared by every call of a run.
struct Shared {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<int> fds;  // each channel's socket when we connected it ourselves, else -1
  std::vector<std::unique_ptr<grpc::GenericStub>> generic;
  std::vector<std::unique_ptr<Users::Stub>> users;
  std::vector<std::unique_ptr<my_package::RequestStreaming::Stub>> streaming;
  std::vector<std::unique_ptr<books::BookService::Stub>> books;
  // The watchers' own stubs with --watch-target (else empty: they use `books`).
  std::vector<std::unique_ptr<books::BookService::Stub>> watch_books;
  absl::Duration call_timeout;
  std::string authorization;  // "Bearer TOKEN" with --token, else ""
  std::string run_tag;  // unique per run: user names and book titles carry it

  // Every call's context gets the token (one metadata entry) when there is one.
  void Authorize(grpc::ClientContext* context) const {
    if (!authorization.empty()) context->AddMetadata("authorization", authorization);
  }

  // capitalize
  struct CapitalizeVariant {
    grpc::Slice request;
    int32_t id;
    std::string expected;
  };
  std::vector<CapitalizeVariant> capitalize;
  // displacement
  struct DisplacementVariant {
    grpc::Slice request;
    float expected;
  };
  std::vector<DisplacementVariant> displacement;
  // detect
  grpc::Slice detect_request;
  std::vector<int32_t> detect_expected;
  // users created at setup, and the GetUsers request naming them
  std::vector<users::User> fixture_users;
  users::GetUsersRequest get_users_request;
  // books
  books::Book fixture_book;
  grpc::Slice books_get_request;
  grpc::Slice books_list_request;
  std::atomic<int32_t> next_book_id{0};
  std::unique_ptr<WatchHub> hub;
  // stream-state
  std::vector<my_package::Data> stream_messages;
};

// Fills everything the chosen kinds need, making setup calls (users, books)
// through channel 0.
absl::Status PrepareShared(const std::vector<Kind>& kinds, int payload_bytes, int metrics,
                           int messages, bool watch, Shared* shared);

// ---- Call state machines ----------------------------------------------------

// Every completion-queue tag is a Tag.
class Tag {
 public:
  virtual void Handle(bool ok) = 0;

 protected:
  ~Tag() = default;
};

class Call;
class CallHost {
 public:
  virtual void CallDone(Call* call, Outcome outcome) = 0;

 protected:
  ~CallHost() = default;
};

// One kind of call, re-used call after call by one slot.
class Call : public Tag {
 public:
  Call(CallHost* host, Shared* shared, int channel)
      : host_(host), shared_(shared), channel_(channel) {}
  virtual ~Call() = default;
  // Starts a new call; seq is unique within the run.
  virtual void Start(grpc::CompletionQueue* cq, uint64_t seq, absl::Time intended) = 0;
  void TryCancel() {
    if (context_) context_->TryCancel();
  }

 protected:
  grpc::ClientContext& NewContext();
  void Done(Outcome outcome) { host_->CallDone(this, std::move(outcome)); }
  static Outcome FromStatus(const grpc::Status& status);

  CallHost* host_;
  Shared* shared_;
  int channel_;
  std::optional<grpc::ClientContext> context_;
};

std::unique_ptr<Call> MakeCall(Kind kind, CallHost* host, Shared* shared, int channel);

// A long-lived Watch stream; counts and checks what it receives.
class Watcher : public Tag {
 public:
  Watcher(Shared* shared, int channel, Histogram* delivery_ns, const absl::Time* measure_start);
  void Start(grpc::CompletionQueue* cq);
  void TryCancel() {
    cancelled_ = true;
    context_.TryCancel();
  }
  bool finished() const { return finished_; }
  const grpc::Status& status() const { return status_; }
  int64_t count() const { return count_; }
  uint64_t sum() const { return sum_; }
  uint64_t chain() const { return chain_; }
  int64_t duplicates_or_foreign() const { return bad_; }
  void Handle(bool ok) override;

 private:
  enum class State { kStarting, kReading, kFinishing } state_ = State::kStarting;
  Shared* shared_;
  int channel_;
  Histogram* delivery_ns_;
  const absl::Time* measure_start_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReader<books::Book>> reader_;
  books::Book book_;
  grpc::Status status_;
  bool finished_ = false;
  bool saw_marker_ = false;
  bool cancelled_ = false;
  int64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t chain_ = 0;
  int64_t bad_ = 0;
};

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_SCENARIOS_H_
