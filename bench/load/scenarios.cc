// Scenario requests, expected answers, checks and call state machines.
#include "scenarios.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "defs.pb.h"
#include "tutorial_metrics.h"
#include "unary.pb.h"

namespace cqmux::load {
namespace {

constexpr int kVariants = 64;
constexpr int kFixtureUsers = 4;

// Method paths, exactly as the generated stubs spell them.
const std::string kCapitalizeMethod = "/rpc.Fetch/Capitalize";
const std::string kCreateUserMethod = "/Users/CreateUser";
const std::string kDisplacementMethod = "/my_package.DisplacementService/computeDisplacement";
const std::string kBooksGetMethod = "/books.BookService/Get";
const std::string kBooksListMethod = "/books.BookService/List";
const std::string kBooksInsertMethod = "/books.BookService/Insert";
const std::string kDetectMethod = "/pb.Outliers/Detect";

grpc::Slice SliceOf(const google::protobuf::MessageLite& message) {
  return grpc::Slice(message.SerializeAsString());
}

template <typename Message>
bool Parse(grpc::ByteBuffer* buffer, Message* message) {
  return grpc::SerializationTraits<Message>::Deserialize(buffer, message).ok();
}

std::string Quote(std::string_view s, size_t limit = 40) {
  std::string out;
  for (unsigned char c : s.substr(0, limit)) {
    if (c >= 0x20 && c < 0x7f && c != '\\' && c != '"') {
      out.push_back(static_cast<char>(c));
    } else {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    }
  }
  if (s.size() > limit) out += "...";
  return absl::StrCat("\"", out, "\"");
}

bool SameBook(const books::Book& a, const books::Book& b) {
  return a.id() == b.id() && a.title() == b.title() && a.author() == b.author();
}

}  // namespace

const char* KindName(Kind kind) {
  switch (kind) {
    case Kind::kCapitalize: return "capitalize";
    case Kind::kCreateUser: return "create-user";
    case Kind::kGetUsers: return "get-users";
    case Kind::kDisplacement: return "displacement";
    case Kind::kStreamState: return "stream-state";
    case Kind::kBooksGet: return "books-get";
    case Kind::kBooksList: return "books-list";
    case Kind::kBooksInsert: return "books-insert";
    case Kind::kDetect: return "detect";
  }
  return "?";
}

std::string Capitalized(std::string_view data) {
  std::string out(data);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

absl::StatusOr<std::vector<int32_t>> ReferenceOutliers(const std::vector<double>& values) {
  std::vector<int32_t> out;
  if (values.empty()) return out;
  const double n = static_cast<double>(values.size());
  double sum = 0;
  for (double v : values) sum += v;
  const double mean = sum / n;
  double squares = 0;
  for (double v : values) squares += (v - mean) * (v - mean);
  const double threshold = 2 * std::sqrt(squares / n);
  if (threshold == 0) return out;  // all values equal: nothing exceeds the mean
  for (size_t i = 0; i < values.size(); ++i) {
    const double distance = std::abs(values[i] - mean);
    // Another summation order moves mean and std by a few ulps; refuse inputs
    // where that could flip a comparison rather than guess numpy's answer.
    if (std::abs(distance - threshold) <= 1e-9 * (std::abs(mean) + threshold)) {
      return absl::FailedPreconditionError(
          absl::StrCat("value ", i, " lies on the outlier threshold"));
    }
    if (distance > threshold) out.push_back(static_cast<int32_t>(i));
  }
  return out;
}

pb::OutliersRequest DetectRequest(int n) {
  pb::OutliersRequest request;
  std::vector<double> values;
  if (n == kTutorialMetricCount) {
    values.assign(kTutorialMetricValues, kTutorialMetricValues + kTutorialMetricCount);
  } else {
    std::mt19937_64 rng(20200522);
    std::uniform_real_distribution<double> below40(0, 40);
    values.resize(n);
    for (double& v : values) v = below40(rng);
    // Spikes where the tutorial puts them, scaled to n.
    const double spikes[] = {97.3, 92.1, 93.2};
    const int at[] = {7, 113, 835};
    for (int i = 0; i < 3 && n > 0; ++i) values[static_cast<int64_t>(at[i]) * n / 1000] = spikes[i];
  }
  for (double v : values) {
    pb::Metric* metric = request.add_metrics();
    metric->mutable_time()->set_seconds(kTutorialMetricSeconds);
    metric->set_name(kTutorialMetricName);
    metric->set_value(v);
  }
  return request;
}

float ExpectedDistance(int32_t x1, int32_t y1, int32_t x2, int32_t y2) {
  // Differences of int32 need 33 bits; doubles hold them exactly.
  const double dx = static_cast<double>(x2) - x1;
  const double dy = static_cast<double>(y2) - y1;
  return static_cast<float>(std::sqrt(dx * dx + dy * dy));
}

bool DistanceMatches(float got, float expected) {
  // A float sqrt of float inputs may differ from the correctly rounded result
  // by an ulp or two; anything more is a wrong answer.
  return std::abs(static_cast<double>(got) - expected) <=
         std::max(1e-6, 4.0e-7 * std::abs(static_cast<double>(expected)));
}

absl::StatusOr<std::pair<std::string, std::string>> FramedRequest(Kind kind, int payload_bytes,
                                                                 int metrics) {
  std::string message, method;
  if (kind == Kind::kCapitalize) {
    rpc::Payload p;
    p.set_id(1);
    std::string data;
    while (static_cast<int>(data.size()) < payload_bytes) data += "the quick brown fox jumps over the lazy dog. ";
    data.resize(std::max(payload_bytes, 0));
    p.set_data(data);
    message = p.SerializeAsString();
    method = kCapitalizeMethod;
  } else if (kind == Kind::kDetect) {
    message = DetectRequest(metrics).SerializeAsString();
    method = kDetectMethod;
  } else {
    return absl::InvalidArgumentError("only capitalize and detect requests can be written");
  }
  const uint32_t n = static_cast<uint32_t>(message.size());
  std::string framed = {'\0', static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                        static_cast<char>(n >> 8), static_cast<char>(n)};
  return std::make_pair(framed + message, method);
}

uint64_t MixId(int32_t id) {
  // splitmix64's finaliser: order-independent sums of it detect lost,
  // duplicated or foreign ids.
  uint64_t z = static_cast<uint32_t>(id) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void WatchHub::AddInserted(int32_t id) {
  inserted_sum_.fetch_add(MixId(id), std::memory_order_relaxed);
  inserted_.fetch_add(1, std::memory_order_release);
}

absl::Status PrepareShared(const std::vector<Kind>& kinds, int payload_bytes, int metrics,
                           int messages, bool watch, Shared* s) {
  auto uses = [&](Kind k) { return std::find(kinds.begin(), kinds.end(), k) != kinds.end(); };
  std::mt19937_64 rng(std::random_device{}());
  s->run_tag = absl::StrCat(absl::Hex(rng() & 0xffffffffffULL));

  if (uses(Kind::kCapitalize)) {
    if (payload_bytes < 0) return absl::InvalidArgumentError("--payload-bytes must be >= 0");
    // Every byte value appears across the variants, so a server that touches
    // anything but a-z is caught; letters dominate as in text.
    std::uniform_int_distribution<int> byte(0, 255), letter(0, 25), pick(0, 3);
    for (int v = 0; v < kVariants; ++v) {
      rpc::Payload p;
      p.set_id(static_cast<int32_t>(rng() & 0x7fffffff) * (v % 2 == 0 ? 1 : -1));
      std::string data(payload_bytes, '\0');
      for (char& c : data) {
        const int k = pick(rng);
        c = static_cast<char>(k == 0 ? byte(rng) : (k == 1 ? 'A' : 'a') + letter(rng));
      }
      p.set_data(data);
      s->capitalize.push_back({SliceOf(p), p.id(), Capitalized(data)});
    }
  }
  if (uses(Kind::kDisplacement)) {
    std::uniform_int_distribution<int32_t> coord(INT32_MIN, INT32_MAX), small(-1000, 1000);
    for (int v = 0; v < kVariants; ++v) {
      my_package::Displacement d;
      int32_t c[4];
      for (int32_t& x : c) x = v % 4 == 0 ? coord(rng) : small(rng);
      if (v == 1) c[0] = c[1] = INT32_MIN, c[2] = c[3] = INT32_MAX;  // ~6.07e9, needs 33 bits
      d.mutable_start()->set_x(c[0]);
      d.mutable_start()->set_y(c[1]);
      d.mutable_end()->set_x(c[2]);
      d.mutable_end()->set_y(c[3]);
      s->displacement.push_back({SliceOf(d), ExpectedDistance(c[0], c[1], c[2], c[3])});
    }
  }
  if (uses(Kind::kDetect)) {
    if (metrics < 0) return absl::InvalidArgumentError("--metrics must be >= 0");
    const pb::OutliersRequest request = DetectRequest(metrics);
    std::vector<double> values;
    for (const pb::Metric& m : request.metrics()) values.push_back(m.value());
    absl::StatusOr<std::vector<int32_t>> expected = ReferenceOutliers(values);
    if (!expected.ok()) return expected.status();
    if (metrics == kTutorialMetricCount && *expected != std::vector<int32_t>{7, 113, 835}) {
      return absl::InternalError("the tutorial's request must give outliers [7, 113, 835]");
    }
    s->detect_request = SliceOf(request);
    s->detect_expected = *std::move(expected);
  }
  if (uses(Kind::kStreamState)) {
    if (messages < 0) return absl::InvalidArgumentError("--messages must be >= 0");
    for (int i = 0; i < messages; ++i) {
      my_package::Data d;
      d.set_status(static_cast<my_package::Status>(i % 5));
      d.set_info(absl::StrCat("state report ", i));
      s->stream_messages.push_back(std::move(d));
    }
  }
  const auto deadline = [] { return std::chrono::system_clock::now() + std::chrono::seconds(10); };
  if (uses(Kind::kGetUsers)) {
    for (int i = 0; i < kFixtureUsers; ++i) {
      users::CreateUserRequest request;
      request.set_username(absl::StrCat("cqmux-load-", s->run_tag, "-fixture-", i));
      request.set_password("correct horse battery staple");
      request.set_email(absl::StrCat("fixture", i, "@example.com"));
      users::CreateUserResult result;
      grpc::ClientContext context;
      context.set_deadline(deadline());
      s->Authorize(&context);
      grpc::Status status = s->users[0]->CreateUser(&context, request, &result);
      if (!status.ok()) {
        return absl::UnavailableError(absl::StrCat("setup: Users/CreateUser failed: ",
                                                   status.error_code(), " ", status.error_message()));
      }
      if (result.user().username() != request.username() || result.user().user_id() == 0) {
        return absl::InternalError("setup: Users/CreateUser returned a wrong user");
      }
      s->fixture_users.push_back(result.user());
      // Half by name, half by id: the server must resolve both.
      users::User* wanted = s->get_users_request.add_user();
      if (i % 2 == 0) {
        wanted->set_username(result.user().username());
      } else {
        wanted->set_user_id(result.user().user_id());
      }
    }
  }
  const bool books = uses(Kind::kBooksGet) || uses(Kind::kBooksList) || uses(Kind::kBooksInsert);
  if (books) {
    // A block of ids of our own, far from the tutorial's 123; retried on a clash.
    for (int attempt = 0;; ++attempt) {
      const int32_t base = static_cast<int32_t>((1 << 28) + (rng() % (1 << 29)));
      books::Book book;
      book.set_id(base);
      book.set_title(absl::StrCat("cqmux-load/", s->run_tag, "/fixture"));
      book.set_author("cqmux-load");
      books::Empty empty;
      grpc::ClientContext context;
      context.set_deadline(deadline());
      s->Authorize(&context);
      grpc::Status status = s->books[0]->Insert(&context, book, &empty);
      if (status.error_code() == grpc::StatusCode::ALREADY_EXISTS && attempt < 5) continue;
      if (!status.ok()) {
        return absl::UnavailableError(absl::StrCat("setup: books.BookService/Insert failed: ",
                                                   status.error_code(), " ", status.error_message()));
      }
      s->fixture_book = book;
      s->next_book_id.store(base + 1);
      break;
    }
    books::BookIdRequest get;
    get.set_id(s->fixture_book.id());
    s->books_get_request = SliceOf(get);
    s->books_list_request = SliceOf(books::Empty());
  }
  if (watch) s->hub = std::make_unique<WatchHub>(absl::StrCat("cqmux-load/", s->run_tag, "/"));
  return absl::OkStatus();
}

// ---- Calls ------------------------------------------------------------------

grpc::ClientContext& Call::NewContext() {
  context_.emplace();
  if (shared_->call_timeout > absl::ZeroDuration()) {
    context_->set_deadline(absl::ToChronoTime(absl::Now() + shared_->call_timeout));
  }
  shared_->Authorize(&*context_);
  return *context_;
}

Outcome Call::FromStatus(const grpc::Status& status) {
  if (status.ok()) return {};
  return {Outcome::kError, status.error_code(), status.error_message()};
}

namespace {

// A unary call through the generic stub: the request bytes are built (or
// pre-serialized) by the subclass, the answer parsed and checked by it.
class UnaryCall : public Call {
 public:
  using Call::Call;

  void Start(grpc::CompletionQueue* cq, uint64_t seq, absl::Time intended) override {
    grpc::ByteBuffer request;
    Build(seq, intended, &request);
    response_.Clear();
    rpc_ = shared_->generic[channel_]->PrepareUnaryCall(&NewContext(), method(), request, cq);
    rpc_->StartCall();
    rpc_->Finish(&response_, &status_, this);
  }

  void Handle(bool /*ok: always true for a client Finish*/) override {
    rpc_.reset();
    if (!status_.ok()) return Done(FromStatus(status_));
    std::string wrong = Check(&response_);
    if (!wrong.empty()) return Done({Outcome::kWrong, grpc::StatusCode::OK, std::move(wrong)});
    Confirmed();
    Done({});
  }

 protected:
  virtual const std::string& method() const = 0;
  virtual void Build(uint64_t seq, absl::Time intended, grpc::ByteBuffer* request) = 0;
  // Empty when the answer is right, else what is wrong with it.
  virtual std::string Check(grpc::ByteBuffer* response) = 0;
  virtual void Confirmed() {}

 private:
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> rpc_;
  grpc::ByteBuffer response_;
  grpc::Status status_;
};

class CapitalizeCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kCapitalizeMethod; }
  void Build(uint64_t seq, absl::Time, grpc::ByteBuffer* request) override {
    variant_ = &shared_->capitalize[seq % shared_->capitalize.size()];
    grpc::Slice slice = variant_->request;
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    if (!Parse(response, &payload_)) return "capitalize: unparsable rpc.Payload";
    if (payload_.id() != variant_->id) {
      return absl::StrCat("capitalize: id ", payload_.id(), ", sent ", variant_->id);
    }
    if (payload_.data() != variant_->expected) {
      return absl::StrCat("capitalize: data ", Quote(payload_.data()), ", expected ",
                          Quote(variant_->expected));
    }
    return "";
  }
  const Shared::CapitalizeVariant* variant_ = nullptr;
  rpc::Payload payload_;
};

class DisplacementCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kDisplacementMethod; }
  void Build(uint64_t seq, absl::Time, grpc::ByteBuffer* request) override {
    variant_ = &shared_->displacement[seq % shared_->displacement.size()];
    grpc::Slice slice = variant_->request;
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    my_package::DisplacementResponse r;
    if (!Parse(response, &r)) return "displacement: unparsable DisplacementResponse";
    if (!DistanceMatches(r.distance(), variant_->expected)) {
      return absl::StrCat("displacement: distance ", r.distance(), ", expected ", variant_->expected);
    }
    return "";
  }
  const Shared::DisplacementVariant* variant_ = nullptr;
};

class DetectCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kDetectMethod; }
  void Build(uint64_t, absl::Time, grpc::ByteBuffer* request) override {
    grpc::Slice slice = shared_->detect_request;
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    if (!Parse(response, &r_)) return "detect: unparsable OutliersResponse";
    const auto& want = shared_->detect_expected;
    if (!std::equal(r_.indices().begin(), r_.indices().end(), want.begin(), want.end())) {
      return absl::StrCat("detect: indices [", absl::StrJoin(r_.indices(), ", "), "], expected [",
                          absl::StrJoin(want, ", "), "]");
    }
    return "";
  }
  pb::OutliersResponse r_;
};

class CreateUserCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kCreateUserMethod; }
  void Build(uint64_t seq, absl::Time, grpc::ByteBuffer* request) override {
    request_.set_username(absl::StrCat("cqmux-load-", shared_->run_tag, "-", seq));
    request_.set_password("correct horse battery staple");
    request_.set_email(absl::StrCat("user", seq, "@example.com"));
    grpc::Slice slice = SliceOf(request_);
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    users::CreateUserResult r;
    if (!Parse(response, &r)) return "create-user: unparsable CreateUserResult";
    if (r.user().username() != request_.username() || r.user().user_id() == 0) {
      return absl::StrCat("create-user: got user ", Quote(r.user().username()), " id ",
                          r.user().user_id(), " for ", Quote(request_.username()));
    }
    return "";
  }
  users::CreateUserRequest request_;
};

class BooksGetCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kBooksGetMethod; }
  void Build(uint64_t, absl::Time, grpc::ByteBuffer* request) override {
    grpc::Slice slice = shared_->books_get_request;
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    books::Book book;
    if (!Parse(response, &book)) return "books-get: unparsable Book";
    if (!SameBook(book, shared_->fixture_book)) {
      return absl::StrCat("books-get: got ", book.ShortDebugString(), ", expected ",
                          shared_->fixture_book.ShortDebugString());
    }
    return "";
  }
};

class BooksListCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kBooksListMethod; }
  void Build(uint64_t, absl::Time, grpc::ByteBuffer* request) override {
    grpc::Slice slice = shared_->books_list_request;
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    if (!Parse(response, &list_)) return "books-list: unparsable BookList";
    for (const books::Book& b : list_.books()) {
      if (SameBook(b, shared_->fixture_book)) return "";
    }
    return absl::StrCat("books-list: ", list_.books_size(), " books without the fixture ",
                        shared_->fixture_book.ShortDebugString());
  }
  books::BookList list_;
};

class BooksInsertCall final : public UnaryCall {
 public:
  using UnaryCall::UnaryCall;

 private:
  const std::string& method() const override { return kBooksInsertMethod; }
  void Build(uint64_t, absl::Time intended, grpc::ByteBuffer* request) override {
    book_.set_id(shared_->next_book_id.fetch_add(1, std::memory_order_relaxed));
    // Watchers recognise our books by the prefix and time delivery from the stamp.
    book_.set_title(absl::StrCat("cqmux-load/", shared_->run_tag, "/at ", absl::ToUnixNanos(intended)));
    book_.set_author("cqmux-load");
    grpc::Slice slice = SliceOf(book_);
    *request = grpc::ByteBuffer(&slice, 1);
  }
  std::string Check(grpc::ByteBuffer* response) override {
    books::Empty empty;
    if (!Parse(response, &empty)) return "books-insert: unparsable Empty";
    return "";
  }
  void Confirmed() override {
    if (shared_->hub) shared_->hub->AddInserted(book_.id());
  }
  books::Book book_;
};

// Users/GetUsers: one result per requested user, in request order.
class GetUsersCall final : public Call {
 public:
  using Call::Call;

  void Start(grpc::CompletionQueue* cq, uint64_t, absl::Time) override {
    received_ = 0;
    wrong_.clear();
    reader_ = shared_->users[channel_]->PrepareAsyncGetUsers(&NewContext(),
                                                             shared_->get_users_request, cq);
    state_ = State::kStarting;
    reader_->StartCall(this);
  }

  void Handle(bool ok) override {
    switch (state_) {
      case State::kStarting:
      case State::kReading:
        if (state_ == State::kReading && ok) CheckResult();
        if (ok) {
          state_ = State::kReading;
          reader_->Read(&result_, this);
          return;
        }
        state_ = State::kFinishing;
        reader_->Finish(&status_, this);
        return;
      case State::kFinishing:
        reader_.reset();
        if (!status_.ok()) return Done(FromStatus(status_));
        if (wrong_.empty() && received_ != static_cast<int>(shared_->fixture_users.size())) {
          wrong_ = absl::StrCat("get-users: ", received_, " results for ",
                                shared_->fixture_users.size(), " users");
        }
        if (!wrong_.empty()) return Done({Outcome::kWrong, grpc::StatusCode::OK, wrong_});
        return Done({});
    }
  }

 private:
  void CheckResult() {
    const int i = received_++;
    if (!wrong_.empty()) return;
    if (i >= static_cast<int>(shared_->fixture_users.size())) {
      wrong_ = "get-users: more results than requested users";
      return;
    }
    const users::User& want = shared_->fixture_users[i];
    if (result_.user().username() != want.username() || result_.user().user_id() != want.user_id()) {
      wrong_ = absl::StrCat("get-users: result ", i, " is ", result_.user().ShortDebugString(),
                            ", expected ", want.ShortDebugString());
    }
  }

  enum class State { kStarting, kReading, kFinishing } state_ = State::kStarting;
  std::unique_ptr<grpc::ClientAsyncReader<users::GetUsersResult>> reader_;
  users::GetUsersResult result_;
  grpc::Status status_;
  int received_ = 0;
  std::string wrong_;
};

// my_package.RequestStreaming/stream_state: --messages writes, one at a time.
class StreamStateCall final : public Call {
 public:
  using Call::Call;

  void Start(grpc::CompletionQueue* cq, uint64_t, absl::Time) override {
    sent_ = 0;
    writer_ = shared_->streaming[channel_]->PrepareAsyncstream_state(&NewContext(), &response_, cq);
    state_ = State::kStarting;
    writer_->StartCall(this);
  }

  void Handle(bool ok) override {
    switch (state_) {
      case State::kStarting:
      case State::kWriting:
        // A failed write means the stream is over: Finish tells why.
        if (ok && sent_ < shared_->stream_messages.size()) {
          state_ = State::kWriting;
          writer_->Write(shared_->stream_messages[sent_++], this);
          return;
        }
        if (ok) {
          state_ = State::kClosing;
          writer_->WritesDone(this);
          return;
        }
        [[fallthrough]];
      case State::kClosing:
        state_ = State::kFinishing;
        writer_->Finish(&status_, this);
        return;
      case State::kFinishing:
        writer_.reset();
        return Done(FromStatus(status_));
    }
  }

 private:
  enum class State { kStarting, kWriting, kClosing, kFinishing } state_ = State::kStarting;
  std::unique_ptr<grpc::ClientAsyncWriter<my_package::Data>> writer_;
  my_package::Empty response_;
  grpc::Status status_;
  size_t sent_ = 0;
};

}  // namespace

std::unique_ptr<Call> MakeCall(Kind kind, CallHost* host, Shared* shared, int channel) {
  switch (kind) {
    case Kind::kCapitalize: return std::make_unique<CapitalizeCall>(host, shared, channel);
    case Kind::kCreateUser: return std::make_unique<CreateUserCall>(host, shared, channel);
    case Kind::kGetUsers: return std::make_unique<GetUsersCall>(host, shared, channel);
    case Kind::kDisplacement: return std::make_unique<DisplacementCall>(host, shared, channel);
    case Kind::kStreamState: return std::make_unique<StreamStateCall>(host, shared, channel);
    case Kind::kBooksGet: return std::make_unique<BooksGetCall>(host, shared, channel);
    case Kind::kBooksList: return std::make_unique<BooksListCall>(host, shared, channel);
    case Kind::kBooksInsert: return std::make_unique<BooksInsertCall>(host, shared, channel);
    case Kind::kDetect: return std::make_unique<DetectCall>(host, shared, channel);
  }
  return nullptr;
}

// ---- Watcher ----------------------------------------------------------------

Watcher::Watcher(Shared* shared, int channel, Histogram* delivery_ns,
                 const absl::Time* measure_start)
    : shared_(shared), channel_(channel), delivery_ns_(delivery_ns), measure_start_(measure_start) {}

void Watcher::Start(grpc::CompletionQueue* cq) {
  shared_->Authorize(&context_);
  auto& stubs = shared_->watch_books.empty() ? shared_->books : shared_->watch_books;
  reader_ = stubs[channel_]->PrepareAsyncWatch(&context_, books::Empty(), cq);
  reader_->StartCall(this);
}

void Watcher::Handle(bool ok) {
  switch (state_) {
    case State::kStarting:
    case State::kReading:
      if (state_ == State::kReading && ok) {
        const std::string& title = book_.title();
        const std::string& prefix = shared_->hub->prefix();
        if (absl::StartsWith(title, prefix)) {
          absl::string_view rest = absl::string_view(title).substr(prefix.size());
          int64_t stamp = 0;
          if (rest == "marker") {
            if (!saw_marker_) shared_->hub->markers_seen.fetch_add(1, std::memory_order_release);
            saw_marker_ = true;
          } else if (absl::ConsumePrefix(&rest, "at ") && absl::SimpleAtoi(rest, &stamp)) {
            ++count_;
            sum_ += MixId(book_.id());
            chain_ = (chain_ ^ static_cast<uint32_t>(book_.id())) * 0x100000001b3ULL;  // FNV-1a step: order-sensitive
            shared_->hub->deliveries.fetch_add(1, std::memory_order_relaxed);
            const absl::Time inserted = absl::FromUnixNanos(stamp);
            if (inserted >= *measure_start_) {
              delivery_ns_->Record(absl::ToInt64Nanoseconds(absl::Now() - inserted));
            }
          } else {
            ++bad_;
          }
        }
      }
      if (ok) {
        state_ = State::kReading;
        reader_->Read(&book_, this);
        return;
      }
      state_ = State::kFinishing;
      reader_->Finish(&status_, this);
      return;
    case State::kFinishing:
      reader_.reset();
      finished_ = true;
      if (!cancelled_) shared_->hub->watchers_ended.fetch_add(1, std::memory_order_release);
      return;
  }
}

}  // namespace cqmux::load
