// /proc/self readers for process_metrics.h.
#include "server/observability/metrics/process_metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

namespace cqmux {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

void Add(std::vector<MetricFamily>* families, std::string name, std::string help,
         MetricType type, double value) {
  ClientMetric metric;
  if (type == MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  families->push_back(MetricFamily{std::move(name), std::move(help), type, {metric}});
}

bool ReadFile(const char* path, std::string* text) {
  std::ifstream in(path);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  *text = buffer.str();
  return true;
}

// Seconds since the epoch at boot (/proc/stat's btime), or 0.
double BootTime() {
  std::string stat;
  if (!ReadFile("/proc/stat", &stat)) return 0;
  for (absl::string_view line : absl::StrSplit(stat, '\n')) {
    if (absl::ConsumePrefix(&line, "btime ")) {
      double btime = 0;
      if (absl::SimpleAtod(line, &btime)) return btime;
    }
  }
  return 0;
}

}  // namespace

void CollectProcessMetrics(std::vector<MetricFamily>* families) {
  static const double kTicks = static_cast<double>(sysconf(_SC_CLK_TCK));
  static const double kPageSize = static_cast<double>(sysconf(_SC_PAGESIZE));
  static const double kBootTime = BootTime();

  // proc(5): the fields after the command name, which is in parentheses and
  // may itself contain spaces and parentheses.
  std::string stat;
  if (ReadFile("/proc/self/stat", &stat)) {
    const size_t end_of_name = stat.rfind(')');
    if (end_of_name != std::string::npos) {
      std::vector<absl::string_view> f = absl::StrSplit(
          absl::string_view(stat).substr(end_of_name + 1), ' ', absl::SkipEmpty());
      // f[0] is field 3 (state): field N is f[N - 3].
      auto field = [&f](size_t n, double* value) {
        return n - 3 < f.size() && absl::SimpleAtod(f[n - 3], value);
      };
      double utime = 0, stime = 0, threads = 0, start = 0, vsize = 0, rss = 0;
      if (field(14, &utime) && field(15, &stime)) {
        Add(families, "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            MetricType::Counter, (utime + stime) / kTicks);
      }
      if (field(20, &threads)) {
        Add(families, "process_threads", "Number of OS threads in the process.",
            MetricType::Gauge, threads);
      }
      if (field(22, &start) && kBootTime > 0) {
        Add(families, "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            MetricType::Gauge, kBootTime + start / kTicks);
      }
      if (field(23, &vsize)) {
        Add(families, "process_virtual_memory_bytes",
            "Virtual memory size in bytes.", MetricType::Gauge, vsize);
      }
      if (field(24, &rss)) {
        Add(families, "process_resident_memory_bytes",
            "Resident memory size in bytes.", MetricType::Gauge, rss * kPageSize);
      }
    }
  }

  if (DIR* dir = opendir("/proc/self/fd")) {
    int open = 0;
    while (const dirent* entry = readdir(dir)) {
      if (entry->d_name[0] != '.') ++open;
    }
    closedir(dir);
    // The directory stream's own descriptor was open while counting.
    Add(families, "process_open_fds", "Number of open file descriptors.",
        MetricType::Gauge, open > 0 ? open - 1 : 0);
  }
  rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    Add(families, "process_max_fds", "Maximum number of open file descriptors.",
        MetricType::Gauge, static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace cqmux
