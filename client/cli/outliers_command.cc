// `cqmux outliers detect`: pb.Outliers/Detect on values from a file, stdin or
// the tutorial's random series.
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "commands.h"
#include "json_output.h"
#include "outliers.grpc.pb.h"
#include "outliers_input.h"

ABSL_FLAG(int64_t, random, 0,
          "outliers detect: send N random values like the tutorial's Go client.");
ABSL_FLAG(uint64_t, seed, 0, "outliers detect --random: generator seed (0 = random).");
ABSL_FLAG(std::string, metric_name, "CPU", "outliers detect: name of every metric sent.");

namespace cqmux::cli {

int RunOutliers(const CallOptions& options, const Args& args) {
  if (args.empty() || args[0] != "detect" || args.size() > 2) {
    return ReportUsageError("usage: cqmux outliers detect [FILE|-] [--random=N]");
  }
  const int64_t random = absl::GetFlag(FLAGS_random);
  std::vector<double> values;
  if (random < 0) return ReportUsageError("--random must not be negative");
  if (random > 0) {
    if (args.size() == 2) return ReportUsageError("give either FILE or --random, not both");
    values = TutorialValues(random, absl::GetFlag(FLAGS_seed));
  } else {
    std::stringstream text;
    if (args.size() == 2 && args[1] != "-") {
      std::ifstream file(args[1]);
      if (!file) return ReportUsageError("cannot read " + args[1]);
      text << file.rdbuf();
    } else {
      text << std::cin.rdbuf();
    }
    auto parsed = ParseValues(text.str());
    if (!parsed.ok()) return ReportUsageError(parsed.status().message());
    values = *std::move(parsed);
  }

  pb::OutliersRequest request;
  const std::string name = absl::GetFlag(FLAGS_metric_name);
  // One second apart (the tutorial meant to do this but discarded t.Add's result).
  const int64_t start = absl::ToUnixSeconds(absl::Now());
  for (size_t i = 0; i < values.size(); ++i) {
    pb::Metric* metric = request.add_metrics();
    metric->mutable_time()->set_seconds(start + static_cast<int64_t>(i));
    metric->set_name(name);
    metric->set_value(values[i]);
  }
  auto stub = pb::Outliers::NewStub(MakeChannel(options));
  grpc::ClientContext context;
  PrepareContext(options, false, &context);
  pb::OutliersResponse reply;
  const grpc::Status status = stub->Detect(&context, request, &reply);
  if (!status.ok()) return ReportRpcError("Detect outliers", status);
  if (options.json) {
    PrintMessage(reply, true);
  } else {
    std::cout << "outliers at: [" << absl::StrJoin(reply.indices(), " ") << "]\n";
  }
  return kExitOk;
}

}  // namespace cqmux::cli
