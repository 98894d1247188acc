// The engine: worker threads, each polling its own completion queue and
// driving its share of the call slots (closed loop) or of the arrival rate
// (open loop), and the coordinator that times the phases and merges results.
#include "load.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sched.h>
#include <sys/resource.h>


#include <algorithm>
#include <array>
#include <iostream>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "connection.h"
#include "open_loop.h"
#include "scenarios.h"

namespace cqmux::load {
namespace {

constexpr size_t kMaxWrongExamples = 5;
constexpr int kCodeCount = 17;  // grpc::StatusCode OK .. UNAUTHENTICATED
constexpr auto kSetupTimeout = absl::Seconds(10);

std::string CodeName(grpc::StatusCode code) {
  const int c = static_cast<int>(code);
  if (c < 0 || c >= kCodeCount) return absl::StrCat("CODE_", c);
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(c));
}

// The default mixed workload: mostly the cheap unary calls, some streams and
// writes, a little of the expensive password hashing.
constexpr std::pair<Kind, double> kDefaultMix[] = {
    {Kind::kCapitalize, 30}, {Kind::kDetect, 10},     {Kind::kDisplacement, 15},
    {Kind::kBooksGet, 15},   {Kind::kBooksList, 2},   {Kind::kBooksInsert, 5},
    {Kind::kGetUsers, 10},   {Kind::kStreamState, 10}, {Kind::kCreateUser, 3},
};

std::optional<Kind> KindByName(absl::string_view name) {
  for (int k = 0; k < kKindCount; ++k) {
    if (name == KindName(static_cast<Kind>(k))) return static_cast<Kind>(k);
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<std::pair<Kind, double>>> ParseMix(const std::string& mix) {
  std::vector<std::pair<Kind, double>> out;
  if (mix.empty()) return std::vector<std::pair<Kind, double>>(std::begin(kDefaultMix), std::end(kDefaultMix));
  for (absl::string_view item : absl::StrSplit(mix, ',', absl::SkipWhitespace())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(item, ':');
    std::optional<Kind> kind = KindByName(kv.first);
    double weight = 0;
    if (!kind || !absl::SimpleAtod(kv.second, &weight) || weight < 0) {
      return absl::InvalidArgumentError(absl::StrCat("--mix: bad item '", item, "' (want kind:weight)"));
    }
    if (weight > 0) out.emplace_back(*kind, weight);
  }
  if (out.empty()) return absl::InvalidArgumentError("--mix has no positive weight");
  return out;
}

absl::Duration ProcessCpu() {
  rusage u;
  getrusage(RUSAGE_SELF, &u);
  return absl::DurationFromTimeval(u.ru_utime) + absl::DurationFromTimeval(u.ru_stime);
}

int AffinityCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

// What the coordinator shares with the workers. Times are written before `go`
// is released and only read after it is acquired.
struct RunState {
  const Options* options = nullptr;
  Shared* shared = nullptr;
  bool open_loop = false;
  bool mixed = false;
  std::vector<Kind> kinds;
  std::vector<double> weights;
  absl::Time start, measure_start, end;
  std::atomic<bool> go{false};
  std::atomic<bool> abort{false};
  std::atomic<bool> cancel_watchers{false};
  std::atomic<int64_t> requests_left{0};
  std::atomic<int> workers_issuing{0};
  absl::Notification all_issued;
};

struct KindCounters {
  int64_t calls = 0, ok = 0, wrong = 0;
  std::array<int64_t, kCodeCount> errors{};
  Histogram latency_ns;
};

class Worker;

// One call in flight at a time; owns one Call object per kind it has used.
class Slot final : public CallHost {
 public:
  Slot(Worker* worker, Shared* shared, int channel)
      : worker_(worker), shared_(shared), channel_(channel) {}

  void Launch(Kind kind, grpc::CompletionQueue* cq, uint64_t seq, absl::Time intended,
              absl::Time started) {
    std::unique_ptr<Call>& call = calls_[static_cast<int>(kind)];
    if (!call) call = MakeCall(kind, this, shared_, channel_);
    current_ = call.get();
    kind_ = kind;
    intended_ = intended;
    started_ = started;
    current_->Start(cq, seq, intended);
  }
  void CallDone(Call* call, Outcome outcome) override;
  void Cancel() {
    if (current_) current_->TryCancel();
  }

  Kind kind() const { return kind_; }
  absl::Time intended() const { return intended_; }
  absl::Time started() const { return started_; }
  bool busy() const { return current_ != nullptr; }
  void SetIdle() { current_ = nullptr; }

 private:
  Worker* worker_;
  Shared* shared_;
  int channel_;
  std::array<std::unique_ptr<Call>, kKindCount> calls_;
  Call* current_ = nullptr;
  Kind kind_ = Kind::kCapitalize;
  absl::Time intended_, started_;
};

class Worker {
 public:
  Worker(int index, int count, RunState* run)
      : index_(index), count_(count), run_(run), rng_(std::random_device{}()),
        pick_(run->weights.begin(), run->weights.end()) {
    for (int k = 0; k < kKindCount; ++k) {
      if (std::find(run->kinds.begin(), run->kinds.end(), static_cast<Kind>(k)) != run->kinds.end()) {
        counters_[k].emplace();
      }
    }
  }

  void AddSlot(int channel) {
    slots_.push_back(std::make_unique<Slot>(this, run_->shared, channel));
    const int fd = run_->shared->fds[channel];
    if (fd >= 0 && std::find(fds_.begin(), fds_.end(), fd) == fds_.end()) fds_.push_back(fd);
  }
  void AddWatcher(int channel) {
    watchers_.push_back(std::make_unique<Watcher>(run_->shared, channel, &delivery_ns_, &measure_start_));
  }

  void Run();
  void Finished(Slot* slot, Outcome outcome);
  void AddTo(Report* report, std::vector<KindReport>* kinds) const;
  absl::Time last_completion() const { return last_completion_; }
  const std::vector<std::unique_ptr<Watcher>>& watchers() const { return watchers_; }

  std::atomic<int64_t> progress_calls{0};
  std::atomic<int64_t> progress_failures{0};

 private:
  // Whether a call intended to start at `intended` may start at `now`.
  bool MayIssue(absl::Time now, absl::Time intended);
  void Issue(Slot* slot, absl::Time intended, absl::Time now);
  void Poll(absl::Time deadline);
  void SetCork(bool on);
  void StopIssuing(absl::Time now) {
    if (!stopping_) {
      stopping_ = true;
      stop_time_ = now;
    }
  }

  const int index_;
  const int count_;
  RunState* run_;
  grpc::CompletionQueue cq_;
  std::vector<std::unique_ptr<Slot>> slots_;
  std::vector<Slot*> idle_;
  std::vector<std::unique_ptr<Watcher>> watchers_;
  std::vector<int> fds_;  // sockets of this worker's channels, for corking
  std::mt19937_64 rng_;
  std::discrete_distribution<int> pick_;
  std::optional<OpenLoopSchedule> schedule_;
  absl::Time measure_start_ = absl::InfiniteFuture();
  absl::Time end_ = absl::InfiniteFuture();
  uint64_t seq_ = 0;
  int inflight_ = 0;
  int create_users_in_flight_ = 0;
  bool stopping_ = false;
  absl::Time stop_time_;
  bool drain_cancelled_ = false;

  // Results, owned by this thread until it is joined.
  std::array<std::optional<KindCounters>, kKindCount> counters_;
  Histogram latency_ns_;
  Histogram delivery_ns_;
  int64_t warmup_calls_ = 0;
  int64_t warmup_failures_ = 0;
  int64_t max_backlog_ = 0;
  int64_t cancelled_at_drain_ = 0;
  absl::Time last_completion_ = absl::InfinitePast();
  std::vector<std::string> wrong_examples_;
};

void Slot::CallDone(Call*, Outcome outcome) { worker_->Finished(this, std::move(outcome)); }

void Worker::Poll(absl::Time deadline) {
  void* tag;
  bool ok;
  if (cq_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline)) != grpc::CompletionQueue::GOT_EVENT) {
    return;
  }
  static_cast<Tag*>(tag)->Handle(ok);
  // Drain what else is ready without blocking. gRPC C++ sends every call with
  // its own sendmsg; corking our sockets while the batch's completions start
  // new calls makes them leave in few segments, as h2load and grpc-go write,
  // instead of one packet per call for the server to receive. Uncorking at
  // the end of the batch flushes before this thread can block.
  constexpr int kMaxBatch = 64;  // keeps the open-loop schedule checked often
  bool corked = false;
  const auto now = std::chrono::system_clock::time_point();  // in the past: do not block
  for (int n = 1; n < kMaxBatch && cq_.AsyncNext(&tag, &ok, now) == grpc::CompletionQueue::GOT_EVENT; ++n) {
    if (!corked && run_->options->cork) {
      SetCork(true);
      corked = true;
    }
    static_cast<Tag*>(tag)->Handle(ok);
  }
  if (corked) SetCork(false);
}

void Worker::SetCork(bool on) {
  const int value = on ? 1 : 0;
  for (int fd : fds_) setsockopt(fd, IPPROTO_TCP, TCP_CORK, &value, sizeof(value));
}

bool Worker::MayIssue(absl::Time now, absl::Time intended) {
  if (stopping_) return false;
  if (now >= end_ || run_->abort.load(std::memory_order_relaxed) ||
      (run_->options->interrupt && run_->options->interrupt->load(std::memory_order_relaxed))) {
    StopIssuing(now);
    return false;
  }
  if (run_->options->requests > 0 && intended >= measure_start_ &&
      run_->requests_left.fetch_sub(1, std::memory_order_relaxed) <= 0) {
    StopIssuing(now);
    return false;
  }
  return true;
}

void Worker::Issue(Slot* slot, absl::Time intended, absl::Time now) {
  Kind kind = run_->kinds[0];
  if (run_->mixed) {
    // Password hashing makes CreateUser ~1000x slower than the rest: in a
    // closed loop it would soon hold every slot, so a mix keeps at most one
    // of it in flight per thread.
    for (int tries = 0; tries < 64; ++tries) {
      kind = run_->kinds[pick_(rng_)];
      if (kind != Kind::kCreateUser || create_users_in_flight_ == 0) break;
    }
    if (kind == Kind::kCreateUser && create_users_in_flight_ > 0) {
      for (Kind k : run_->kinds) {
        if (k != Kind::kCreateUser) kind = k;
      }
    }
    if (kind == Kind::kCreateUser) ++create_users_in_flight_;
  }
  ++inflight_;
  // Unique across workers: user names and such derive from it.
  const uint64_t seq = (static_cast<uint64_t>(index_) << 40) | seq_++;
  slot->Launch(kind, &cq_, seq, intended, now);
}

void Worker::Finished(Slot* slot, Outcome outcome) {
  const absl::Time now = absl::Now();
  --inflight_;
  if (run_->mixed && slot->kind() == Kind::kCreateUser) --create_users_in_flight_;
  const bool measured = slot->intended() >= measure_start_;
  const bool good = outcome.type == Outcome::kOk;
  if (measured) {
    // Open loop charges the time the call waited for its turn as well.
    const absl::Time from = run_->open_loop ? slot->intended() : slot->started();
    const int64_t ns = absl::ToInt64Nanoseconds(now - from);
    latency_ns_.Record(ns);
    KindCounters& k = *counters_[static_cast<int>(slot->kind())];
    if (run_->mixed) k.latency_ns.Record(ns);
    ++k.calls;
    if (good) {
      ++k.ok;
    } else if (outcome.type == Outcome::kWrong) {
      ++k.wrong;
    } else {
      ++k.errors[std::clamp(static_cast<int>(outcome.code), 0, kCodeCount - 1)];
      if (stopping_ && drain_cancelled_ && outcome.code == grpc::StatusCode::CANCELLED) {
        ++cancelled_at_drain_;
      }
    }
    last_completion_ = now;
  } else {
    ++warmup_calls_;
    if (!good) ++warmup_failures_;
  }
  if (outcome.type == Outcome::kWrong && wrong_examples_.size() < kMaxWrongExamples) {
    wrong_examples_.push_back(std::move(outcome.detail));
  }
  progress_calls.fetch_add(1, std::memory_order_relaxed);
  if (!good) progress_failures.fetch_add(1, std::memory_order_relaxed);

  slot->SetIdle();
  if (!run_->open_loop && MayIssue(now, now)) {
    Issue(slot, now, now);
  } else {
    idle_.push_back(slot);
  }
}

void Worker::Run() {
  for (auto& w : watchers_) w->Start(&cq_);
  // Serve the watchers' start-up until the coordinator says go (or gives up).
  while (!run_->go.load(std::memory_order_acquire) && !run_->abort.load(std::memory_order_acquire)) {
    Poll(absl::Now() + absl::Milliseconds(5));
  }
  measure_start_ = run_->measure_start;
  end_ = run_->end;
  const Options& o = *run_->options;
  absl::Time now = absl::Now();
  for (auto& s : slots_) idle_.push_back(s.get());
  if (slots_.empty()) StopIssuing(now);  // a thread that only serves watchers
  if (run_->open_loop) {
    schedule_.emplace(o.rate / count_, run_->start, static_cast<double>(index_) / count_);
  } else {
    while (!idle_.empty() && MayIssue(now, now)) {
      Slot* slot = idle_.back();
      idle_.pop_back();
      Issue(slot, now, now);
    }
  }
  bool issuing_done = false;
  bool watchers_cancelled = false;
  while (true) {
    now = absl::Now();
    if (!stopping_ && now >= end_) StopIssuing(now);
    if (schedule_ && !stopping_) {
      absl::Time intended;
      while (!idle_.empty() && schedule_->NextIntendedStart() <= now &&
             MayIssue(now, schedule_->NextIntendedStart()) && schedule_->TakeDue(now, &intended)) {
        Slot* slot = idle_.back();
        idle_.pop_back();
        Issue(slot, intended, now);
      }
      max_backlog_ = std::max(max_backlog_, schedule_->Backlog(now));
    }
    if (stopping_ && inflight_ > 0 && !drain_cancelled_ && now - stop_time_ > o.drain_timeout) {
      for (auto& s : slots_) {
        if (s->busy()) s->Cancel();
      }
      drain_cancelled_ = true;
    }
    if (stopping_ && inflight_ == 0 && !issuing_done) {
      issuing_done = true;
      if (run_->workers_issuing.fetch_sub(1, std::memory_order_acq_rel) == 1) run_->all_issued.Notify();
    }
    if (issuing_done && !watchers_cancelled && run_->cancel_watchers.load(std::memory_order_acquire)) {
      for (auto& w : watchers_) w->TryCancel();
      watchers_cancelled = true;
    }
    if (issuing_done && std::all_of(watchers_.begin(), watchers_.end(),
                                    [](const auto& w) { return w->finished(); })) {
      break;
    }
    // Open loop with a free slot: wake for the next arrival. gRPC timers are
    // millisecond-grained, so the last stretch is polled without blocking.
    absl::Time deadline = now + absl::Milliseconds(20);
    if (schedule_ && !stopping_ && !idle_.empty()) {
      const absl::Time next = schedule_->NextIntendedStart();
      deadline = next - now > absl::Milliseconds(2) ? next - absl::Milliseconds(2) : now;
    }
    if (!stopping_ && end_ < deadline) deadline = std::max(end_, now);
    Poll(deadline);
  }
  cq_.Shutdown();
  void* tag;
  bool ok;
  while (cq_.Next(&tag, &ok)) {
  }
}

void Worker::AddTo(Report* report, std::vector<KindReport>* kinds) const {
  report->latency_ns.Merge(latency_ns_);
  report->delivery_ns.Merge(delivery_ns_);
  report->warmup_calls += warmup_calls_;
  report->warmup_failures += warmup_failures_;
  report->max_backlog += max_backlog_;
  report->cancelled_at_drain += cancelled_at_drain_;
  for (int k = 0; k < kKindCount; ++k) {
    if (!counters_[k]) continue;
    const KindCounters& c = *counters_[k];
    auto it = std::find_if(kinds->begin(), kinds->end(),
                           [&](const KindReport& r) { return r.kind == KindName(static_cast<Kind>(k)); });
    if (it == kinds->end()) {
      kinds->push_back({});
      it = kinds->end() - 1;
      it->kind = KindName(static_cast<Kind>(k));
    }
    it->calls += c.calls;
    it->ok += c.ok;
    it->wrong += c.wrong;
    for (int code = 0; code < kCodeCount; ++code) {
      if (c.errors[code] > 0) it->errors[CodeName(static_cast<grpc::StatusCode>(code))] += c.errors[code];
    }
    it->latency_ns.Merge(c.latency_ns);
  }
  for (const std::string& e : wrong_examples_) {
    if (report->wrong_examples.size() < kMaxWrongExamples) report->wrong_examples.push_back(e);
  }
}

absl::Status Validate(const Options& o) {
  if (o.target.empty()) return absl::InvalidArgumentError("--target is required");
  if (o.connections < 1) return absl::InvalidArgumentError("--connections must be >= 1");
  if (o.concurrency < 1) return absl::InvalidArgumentError("--concurrency must be >= 1");
  if (o.threads < 0) return absl::InvalidArgumentError("--threads must be >= 0");
  if (o.rate < 0) return absl::InvalidArgumentError("--rate must be >= 0");
  if (o.requests < 0) return absl::InvalidArgumentError("--requests must be >= 0");
  if (o.requests == 0 && o.duration <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--duration must be > 0 (or give --requests)");
  }
  if (o.warmup < absl::ZeroDuration()) return absl::InvalidArgumentError("--warmup must be >= 0");
  if (o.watchers < 0) return absl::InvalidArgumentError("--watchers must be >= 0");
  return absl::OkStatus();
}

// Polls `done` until it holds or `timeout` passes; used only for the
// coordinator's bounded waits on counters the workers bump at high rates.
template <typename Pred>
bool AwaitFor(absl::Duration timeout, Pred done) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() >= give_up) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

}  // namespace

const std::vector<std::string>& ScenarioNames() {
  static const auto* names = new std::vector<std::string>{
      "capitalize",  "create-user", "get-users",    "displacement", "stream-state", "books-get",
      "books-list",  "books-insert", "watch-fanout", "detect",       "mixed"};
  return *names;
}

absl::StatusOr<Report> Run(const Options& options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  RunState run;
  run.options = &options;
  run.open_loop = options.rate > 0;
  int watchers = 0;
  if (options.scenario == "mixed") {
    absl::StatusOr<std::vector<std::pair<Kind, double>>> mix = ParseMix(options.mix);
    if (!mix.ok()) return mix.status();
    for (auto [kind, weight] : *mix) {
      run.kinds.push_back(kind);
      run.weights.push_back(weight);
    }
    run.mixed = true;
    const bool inserts = std::find(run.kinds.begin(), run.kinds.end(), Kind::kBooksInsert) != run.kinds.end();
    watchers = inserts ? options.watchers : 0;
  } else if (options.scenario == "watch-fanout") {
    run.kinds = {Kind::kBooksInsert};
    watchers = options.watchers;
  } else if (std::optional<Kind> kind = KindByName(options.scenario)) {
    run.kinds = {*kind};
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown --scenario '", options.scenario, "'"));
  }
  if (run.weights.empty()) run.weights = {1};

  const int threads = std::max(1, std::min(options.threads > 0 ? options.threads : AffinityCpus(),
                                           std::max(options.concurrency, watchers)));

  Shared shared;
  shared.call_timeout = options.call_timeout;
  if (!options.token.empty()) shared.authorization = client::BearerValue(options.token);
  for (int c = 0; c < options.connections; ++c) {
    absl::StatusOr<Connection> connection = Connect(options, c);
    if (!connection.ok()) return connection.status();
    std::shared_ptr<grpc::Channel> channel = std::move(connection->channel);
    shared.fds.push_back(connection->fd);
    shared.generic.push_back(std::make_unique<grpc::GenericStub>(channel));
    shared.users.push_back(Users::NewStub(channel));
    shared.streaming.push_back(my_package::RequestStreaming::NewStub(channel));
    shared.books.push_back(books::BookService::NewStub(channel));
    shared.channels.push_back(std::move(channel));
  }
  if (watchers > 0 && !options.watch_target.empty()) {
    Options watch_options = options;
    watch_options.target = options.watch_target;
    for (int c = 0; c < options.connections; ++c) {
      absl::StatusOr<Connection> connection = Connect(watch_options, c);
      if (!connection.ok()) return connection.status();
      shared.watch_books.push_back(books::BookService::NewStub(connection->channel));
      // Kept open for the run; not in `fds`: nothing is corked on a watch channel.
      shared.channels.push_back(std::move(connection->channel));
    }
  }
  if (absl::Status s = PrepareShared(run.kinds, options.payload_bytes, options.metrics,
                                     options.messages, watchers > 0, &shared);
      !s.ok()) {
    return s;
  }
  run.shared = &shared;

  std::vector<std::unique_ptr<Worker>> workers;
  for (int t = 0; t < threads; ++t) workers.push_back(std::make_unique<Worker>(t, threads, &run));
  for (int i = 0; i < options.concurrency; ++i) {
    workers[i % threads]->AddSlot(i % options.connections);
  }
  for (int i = 0; i < watchers; ++i) workers[i % threads]->AddWatcher(i % options.connections);
  run.workers_issuing.store(threads);
  run.requests_left.store(options.requests);

  std::vector<std::thread> pool;
  for (auto& w : workers) pool.emplace_back([w = w.get()] { w->Run(); });
  auto stop_all = [&] {
    run.abort.store(true, std::memory_order_release);
    run.cancel_watchers.store(true, std::memory_order_release);
    for (auto& t : pool) t.join();
  };

  if (watchers > 0) {
    // Marker books prove every Watch was accepted before the load starts. A
    // Watch is registered some time after the client started it, so markers
    // are inserted until every watcher has seen one.
    const absl::Time give_up = absl::Now() + kSetupTimeout;
    int seen = 0;
    while ((seen = shared.hub->markers_seen.load(std::memory_order_acquire)) < watchers) {
      if (absl::Now() >= give_up) {
        stop_all();
        return absl::DeadlineExceededError(
            absl::StrCat("setup: only ", seen, " of ", watchers, " watchers saw a marker book"));
      }
      books::Book marker;
      marker.set_id(shared.next_book_id.fetch_add(1));
      marker.set_title(shared.hub->prefix() + "marker");
      marker.set_author("cqmux-load");
      books::Empty empty;
      grpc::ClientContext context;
      context.set_deadline(absl::ToChronoTime(absl::Now() + kSetupTimeout));
      shared.Authorize(&context);
      const grpc::Status status = shared.books[0]->Insert(&context, marker, &empty);
      if (!status.ok()) {
        stop_all();
        return absl::UnavailableError(absl::StrCat("setup: marker insert failed: ", status.error_message()));
      }
      AwaitFor(absl::Milliseconds(50),
               [&] { return shared.hub->markers_seen.load(std::memory_order_acquire) == watchers; });
    }
  }

  const absl::Duration cpu_at_start = ProcessCpu();
  run.start = absl::Now();
  run.measure_start = run.start + options.warmup;
  run.end = options.requests > 0 ? absl::InfiniteFuture() : run.measure_start + options.duration;
  run.go.store(true, std::memory_order_release);

  int64_t last_calls = 0;
  absl::Time last = run.start;
  while (!run.all_issued.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    if (!options.progress) continue;
    int64_t calls = 0, failures = 0;
    for (auto& w : workers) {
      calls += w->progress_calls.load(std::memory_order_relaxed);
      failures += w->progress_failures.load(std::memory_order_relaxed);
    }
    const absl::Time now = absl::Now();
    std::cerr << absl::StrFormat("[%6.1fs] %d calls, %.0f calls/s, %d failed\n",
                                 absl::ToDoubleSeconds(now - run.start), calls,
                                 (calls - last_calls) / absl::ToDoubleSeconds(now - last), failures);
    last_calls = calls;
    last = now;
  }
  if (watchers > 0) {
    // Every watcher still open must see every book we inserted.
    AwaitFor(absl::Seconds(10), [&] {
      const int64_t live = watchers - shared.hub->watchers_ended.load();
      return shared.hub->deliveries.load() >= live * shared.hub->inserted();
    });
  }
  run.cancel_watchers.store(true, std::memory_order_release);
  for (auto& t : pool) t.join();
  const absl::Duration cpu_used = ProcessCpu() - cpu_at_start;

  Report report;
  report.options = options;
  report.threads = threads;
  report.open_loop = run.open_loop;
  absl::Time last_completion = run.measure_start;
  for (auto& w : workers) {
    w->AddTo(&report, &report.kinds);
    last_completion = std::max(last_completion, w->last_completion());
  }
  for (const KindReport& k : report.kinds) {
    report.calls += k.calls;
    report.ok += k.ok;
    report.wrong += k.wrong;
    for (const auto& [code, n] : k.errors) report.errors[code] += n;
  }
  report.elapsed_s = absl::ToDoubleSeconds(last_completion - run.measure_start);
  report.calls_per_s = report.elapsed_s > 0 ? report.calls / report.elapsed_s : 0;
  if (report.calls + report.warmup_calls > 0) {
    report.client_cpu_us_per_call =
        absl::ToDoubleMicroseconds(cpu_used) / static_cast<double>(report.calls + report.warmup_calls);
  }

  if (watchers > 0) {
    const WatchHub& hub = *shared.hub;
    report.watchers = watchers;
    report.books_inserted = hub.inserted();
    report.deliveries = hub.deliveries.load();
    std::optional<uint64_t> order;  // the order every watcher must share
    int index = 0;
    auto note = [&](std::string what) {
      if (report.wrong_examples.size() < kMaxWrongExamples) report.wrong_examples.push_back(std::move(what));
    };
    for (auto& worker : workers) {
      for (const auto& w : worker->watchers()) {
        const int i = index++;
        const grpc::StatusCode code = w->status().error_code();
        if (code != grpc::StatusCode::OK && code != grpc::StatusCode::CANCELLED) {
          ++report.watcher_errors[CodeName(code)];
          note(absl::StrCat("watcher ", i, " ended with ", CodeName(code), ": ", w->status().error_message()));
        } else if (w->count() != hub.inserted() || w->sum() != hub.inserted_sum()) {
          note(absl::StrCat("watcher ", i, " saw ", w->count(), " of ", hub.inserted(),
                            " inserted books (or not the same ones)"));
        } else if (w->duplicates_or_foreign() > 0) {
          note(absl::StrCat("watcher ", i, " saw ", w->duplicates_or_foreign(), " malformed books of this run"));
        } else if (order && *order != w->chain()) {
          note(absl::StrCat("watcher ", i, " saw the books in a different order"));
        } else {
          order = w->chain();
          ++report.watchers_complete;
        }
      }
    }
  }
  return report;
}

}  // namespace cqmux::load
