// The human summary and the JSON form of a Report (JSON through protobuf's
// Struct and its JSON printer).
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "load.h"

namespace cqmux::load {
namespace {

double Us(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

std::string LatencyLine(const Histogram& h) {
  return absl::StrFormat("p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  mean %.1f",
                         Us(h.ValueAtPercentile(50)), Us(h.ValueAtPercentile(90)),
                         Us(h.ValueAtPercentile(99)), Us(h.ValueAtPercentile(99.9)), Us(h.max()),
                         h.mean() / 1000.0);
}

std::string Codes(const std::map<std::string, int64_t>& errors) {
  return absl::StrJoin(errors, ", ", [](std::string* out, const auto& e) {
    absl::StrAppend(out, e.first, " ", e.second);
  });
}

google::protobuf::Value Num(double v) {
  google::protobuf::Value value;
  value.set_number_value(v);
  return value;
}
google::protobuf::Value Str(const std::string& v) {
  google::protobuf::Value value;
  value.set_string_value(v);
  return value;
}
google::protobuf::Value Bool(bool v) {
  google::protobuf::Value value;
  value.set_bool_value(v);
  return value;
}
google::protobuf::Value Obj(google::protobuf::Struct s) {
  google::protobuf::Value value;
  *value.mutable_struct_value() = std::move(s);
  return value;
}

google::protobuf::Struct LatencyStruct(const Histogram& h) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  f["count"] = Num(static_cast<double>(h.count()));
  f["p50_us"] = Num(Us(h.ValueAtPercentile(50)));
  f["p90_us"] = Num(Us(h.ValueAtPercentile(90)));
  f["p99_us"] = Num(Us(h.ValueAtPercentile(99)));
  f["p999_us"] = Num(Us(h.ValueAtPercentile(99.9)));
  f["max_us"] = Num(Us(h.max()));
  f["min_us"] = Num(Us(h.min()));
  f["mean_us"] = Num(h.mean() / 1000.0);
  f["relative_error"] = Num(h.relative_error());
  return s;
}

google::protobuf::Struct CodesStruct(const std::map<std::string, int64_t>& errors) {
  google::protobuf::Struct s;
  for (const auto& [code, n] : errors) (*s.mutable_fields())[code] = Num(static_cast<double>(n));
  return s;
}

}  // namespace

void PrintReport(const Report& r, std::ostream& out) {
  const Options& o = r.options;
  out << absl::StrFormat("cqmux-load: %s against %s (%s), %s, %d calls in flight over %d connection%s, %d thread%s\n",
                         o.scenario, o.target, o.security.mode(),
                         r.open_loop ? absl::StrFormat("open loop at %.0f calls/s", o.rate) : "closed loop",
                         o.concurrency, o.connections, o.connections == 1 ? "" : "s", r.threads,
                         r.threads == 1 ? "" : "s");
  out << absl::StrFormat("  %.2f s measured after %.1f s warm-up (%d calls)\n", r.elapsed_s,
                         absl::ToDoubleSeconds(o.warmup), r.warmup_calls);
  out << absl::StrFormat("  calls %d: ok %d, wrong %d, errors %d\n", r.calls, r.ok, r.wrong,
                         r.calls - r.ok - r.wrong);
  out << absl::StrFormat("  throughput %.1f calls/s (this client: %.1f us CPU per call)\n", r.calls_per_s,
                         r.client_cpu_us_per_call);
  out << absl::StrFormat("  latency us: %s (relative error <= %.2g%s)\n", LatencyLine(r.latency_ns),
                         r.latency_ns.relative_error(),
                         r.open_loop ? ", from each call's intended start" : "");
  if (!r.errors.empty()) out << "  errors by code: " << Codes(r.errors) << "\n";
  if (r.warmup_failures > 0) out << "  failures during warm-up: " << r.warmup_failures << "\n";
  if (r.open_loop) out << "  largest backlog of due calls waiting for a slot: " << r.max_backlog << "\n";
  if (r.cancelled_at_drain > 0) {
    out << "  cancelled after the drain timeout: " << r.cancelled_at_drain << "\n";
  }
  if (r.kinds.size() > 1) {
    for (const KindReport& k : r.kinds) {
      out << absl::StrFormat("  %-13s calls %d ok %d wrong %d%s%s; latency us %s\n", k.kind, k.calls,
                             k.ok, k.wrong, k.errors.empty() ? "" : " errors: ", Codes(k.errors),
                             LatencyLine(k.latency_ns));
    }
  }
  if (r.watchers > 0) {
    out << absl::StrFormat("  watchers %d, complete %d; books inserted %d, deliveries %d\n", r.watchers,
                           r.watchers_complete, r.books_inserted, r.deliveries);
    out << "  delivery latency us: " << LatencyLine(r.delivery_ns) << "\n";
    if (!r.watcher_errors.empty()) out << "  watch streams failed: " << Codes(r.watcher_errors) << "\n";
  }
  for (const std::string& e : r.wrong_examples) out << "  wrong: " << e << "\n";
  out << (r.clean() ? "  every answer checked: all right\n" : "  FAILURES: see above\n");
}

std::string ReportJson(const Report& r) {
  google::protobuf::Struct s;
  auto& f = *s.mutable_fields();
  const Options& o = r.options;
  f["scenario"] = Str(o.scenario);
  f["target"] = Str(o.target);
  f["transport"] = Str(o.security.mode());
  f["connections"] = Num(o.connections);
  f["concurrency"] = Num(o.concurrency);
  f["threads"] = Num(r.threads);
  f["open_loop"] = Bool(r.open_loop);
  f["rate"] = Num(o.rate);
  f["warmup_s"] = Num(absl::ToDoubleSeconds(o.warmup));
  f["elapsed_s"] = Num(r.elapsed_s);
  f["calls"] = Num(static_cast<double>(r.calls));
  f["ok"] = Num(static_cast<double>(r.ok));
  f["wrong"] = Num(static_cast<double>(r.wrong));
  f["errors"] = Obj(CodesStruct(r.errors));
  f["calls_per_s"] = Num(r.calls_per_s);
  f["latency"] = Obj(LatencyStruct(r.latency_ns));
  f["warmup_calls"] = Num(static_cast<double>(r.warmup_calls));
  f["warmup_failures"] = Num(static_cast<double>(r.warmup_failures));
  f["max_backlog"] = Num(static_cast<double>(r.max_backlog));
  f["cancelled_at_drain"] = Num(static_cast<double>(r.cancelled_at_drain));
  f["clean"] = Bool(r.clean());
  f["client_cpu_us_per_call"] = Num(r.client_cpu_us_per_call);
  google::protobuf::Struct kinds;
  for (const KindReport& k : r.kinds) {
    google::protobuf::Struct ks;
    auto& kf = *ks.mutable_fields();
    kf["calls"] = Num(static_cast<double>(k.calls));
    kf["ok"] = Num(static_cast<double>(k.ok));
    kf["wrong"] = Num(static_cast<double>(k.wrong));
    kf["errors"] = Obj(CodesStruct(k.errors));
    if (r.kinds.size() > 1) kf["latency"] = Obj(LatencyStruct(k.latency_ns));
    (*kinds.mutable_fields())[k.kind] = Obj(std::move(ks));
  }
  f["kinds"] = Obj(std::move(kinds));
  if (r.watchers > 0) {
    google::protobuf::Struct w;
    auto& wf = *w.mutable_fields();
    wf["watchers"] = Num(r.watchers);
    wf["complete"] = Num(r.watchers_complete);
    wf["books_inserted"] = Num(static_cast<double>(r.books_inserted));
    wf["deliveries"] = Num(static_cast<double>(r.deliveries));
    wf["delivery_latency"] = Obj(LatencyStruct(r.delivery_ns));
    wf["errors"] = Obj(CodesStruct(r.watcher_errors));
    f["watch"] = Obj(std::move(w));
  }
  google::protobuf::ListValue examples;
  for (const std::string& e : r.wrong_examples) *examples.add_values() = Str(e);
  *f["wrong_examples"].mutable_list_value() = std::move(examples);
  std::string json;
  google::protobuf::util::JsonPrintOptions print;
  print.add_whitespace = false;
  (void)google::protobuf::util::MessageToJsonString(s, &json, print);
  return json;
}

}  // namespace cqmux::load
