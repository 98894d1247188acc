// The cqmux_* callback metrics; see app_metrics.h. Each is one
// Metrics::AddCounterCallback / AddGaugeCallback line reading a subsystem's
// own counters at scrape time.
#include "server/app/app_metrics.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "server/app/server_app.h"
#include "server/engine/blocking_pool.h"
#include "server/engine/write_coalescer.h"

namespace cqmux {
namespace {

// One sample per queue of a coalescer counter.
Metrics::SamplesFn PerQueue(const Engine& engine,
                            const std::atomic<uint64_t> coalesce::Stats::*counter) {
  return [&engine, counter] {
    std::vector<Metrics::Sample> samples;
    for (int q = 0; q < engine.num_queues(); ++q) {
      samples.push_back({{{"queue", absl::StrCat(q)}},
                         static_cast<double>((engine.coalesce_stats(q).*counter)
                                                 .load(std::memory_order_relaxed))});
    }
    return samples;
  };
}

// One sample per off-queue pool ("blocking", "compute").
Metrics::SamplesFn PerPool(const Engine& engine,
                           double (*value)(const BlockingPool&)) {
  return [&engine, value] {
    std::vector<Metrics::Sample> samples;
    for (const BlockingPool* pool : engine.pools()) {
      samples.push_back({{{"pool", pool->name()}}, value(*pool)});
    }
    return samples;
  };
}

}  // namespace

void RegisterAppMetrics(ServerApp& app, Metrics& metrics) {
  const Engine& engine = app.engine();
  metrics.AddGaugeCallback(
      "cqmux_calls_in_flight", "Calls being served right now, over all queues.",
      [&engine] { return static_cast<double>(engine.active_calls()); });

  metrics.AddGaugeCallback(
      "cqmux_pool_queued",
      "Requests waiting for a worker thread, per off-queue pool (blocking: "
      "CreateUser's password hashing; compute: large Detect requests).",
      PerPool(engine, [](const BlockingPool& p) { return static_cast<double>(p.queued()); }));
  metrics.AddGaugeCallback(
      "cqmux_pool_queue_limit",
      "Requests a pool may hold waiting (--blocking-queue, --compute-queue).",
      PerPool(engine,
              [](const BlockingPool& p) { return static_cast<double>(p.max_queued()); }));
  metrics.AddCounterCallback(
      "cqmux_pool_rejected_total",
      "Requests refused because the pool's queue was full (or the server was "
      "shutting down): their calls failed with RESOURCE_EXHAUSTED.",
      PerPool(engine,
              [](const BlockingPool& p) { return static_cast<double>(p.rejected()); }));

  BooksService& books = app.books();
  metrics.AddGaugeCallback("cqmux_books_watchers", "Open books.BookService/Watch streams.",
                           [&books] { return static_cast<double>(books.watcher_count()); });
  metrics.AddCounterCallback(
      "cqmux_books_watchers_cut_off_total",
      "Watch streams ended with RESOURCE_EXHAUSTED for falling more than "
      "--watch-backlog books behind.",
      [&books] { return static_cast<double>(books.watchers_cut_off()); });
  metrics.AddGaugeCallback("cqmux_books_stored", "Books in the book store.",
                           [&books] { return static_cast<double>(books.book_count()); });
  UsersService& users = app.users();
  metrics.AddGaugeCallback("cqmux_users_stored", "Users in the user store.",
                           [&users] { return static_cast<double>(users.store().size()); });

  if (const SqliteDatabase* database = app.database(); database != nullptr) {
    metrics.AddCounterCallback(
        "cqmux_store_writes_total",
        "Writes (book inserts and deletes, new users) the durable store committed.",
        [database] { return static_cast<double>(database->committed_writes()); });
    metrics.AddCounterCallback(
        "cqmux_store_commits_total",
        "Transactions (one fsync each with --durability=fsync) the durable store's "
        "writer committed: writes_total / commits_total is writes per fsync.",
        [database] { return static_cast<double>(database->commits()); });
  }
  if (const tracing::Tracer* tracer = app.tracer(); tracer != nullptr) {
    metrics.AddCounterCallback(
        "cqmux_trace_spans_exported_total", "Spans the OTLP collector accepted.",
        [tracer] { return static_cast<double>(tracer->spans_exported()); });
    metrics.AddCounterCallback(
        "cqmux_trace_spans_dropped_total",
        "Spans dropped: the export queue was full, an export failed, or the "
        "shutdown flush ran out of time.",
        [tracer] { return static_cast<double>(tracer->spans_dropped()); });
    metrics.AddCounterCallback(
        "cqmux_trace_export_failures_total", "OTLP export calls that failed.",
        [tracer] { return static_cast<double>(tracer->export_failures()); });
  }
  metrics.AddCounterCallback(
      "cqmux_coalesced_writes_total",
      "Socket writes gRPC made that --coalesce-writes buffered instead of "
      "sending at once, per queue thread.",
      PerQueue(engine, &coalesce::Stats::writes));
  metrics.AddCounterCallback("cqmux_coalesced_bytes_total",
                             "Bytes of those buffered writes, per queue thread.",
                             PerQueue(engine, &coalesce::Stats::bytes));
  metrics.AddCounterCallback(
      "cqmux_coalesced_flushes_total",
      "Buffered connections written out at the end of a batch, per queue "
      "thread: writes_total / flushes_total is how many writes each socket "
      "write replaced.",
      PerQueue(engine, &coalesce::Stats::flushes));
}

}  // namespace cqmux
