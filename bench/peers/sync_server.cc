// Peer 1: rpc.Fetch/Capitalize and pb.Outliers/Detect on gRPC C++'s
// synchronous API, written the way the gRPC C++ examples write a server
// (grpc::Service subclasses, default builder settings).
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "defs.grpc.pb.h"
#include "outliers.grpc.pb.h"

ABSL_FLAG(int, port, 50061, "TCP port to listen on (all addresses).");
ABSL_FLAG(int, cqs, 0,
          "Completion queues of the sync server (SyncServerOption::NUM_CQS); 0 = gRPC's default.");

class FetchService final : public rpc::Fetch::Service {
  grpc::Status Capitalize(grpc::ServerContext*, const rpc::Payload* request,
                          rpc::Payload* reply) override {
    std::string data = request->data();
    for (char& c : data) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    reply->set_id(request->id());
    reply->set_data(std::move(data));
    return grpc::Status::OK;
  }
};

class OutliersService final : public pb::Outliers::Service {
  grpc::Status Detect(grpc::ServerContext*, const pb::OutliersRequest* request,
                      pb::OutliersResponse* reply) override {
    std::vector<double> values;
    values.reserve(request->metrics_size());
    for (const pb::Metric& m : request->metrics()) values.push_back(m.value());
    if (values.empty()) return grpc::Status::OK;
    double sum = 0;
    for (double v : values) sum += v;
    const double mean = sum / values.size();
    double squares = 0;
    for (double v : values) squares += (v - mean) * (v - mean);
    const double std_dev = std::sqrt(squares / values.size());
    for (size_t i = 0; i < values.size(); ++i) {
      if (std::abs(values[i] - mean) > 2 * std_dev) reply->add_indices(static_cast<int>(i));
    }
    return grpc::Status::OK;
  }
};

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string address = absl::StrCat("0.0.0.0:", absl::GetFlag(FLAGS_port));
  FetchService fetch;
  OutliersService outliers;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(address, grpc::InsecureServerCredentials());
  builder.RegisterService(&fetch);
  builder.RegisterService(&outliers);
  if (absl::GetFlag(FLAGS_cqs) > 0) {
    builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS,
                                absl::GetFlag(FLAGS_cqs));
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "peer-sync: cannot listen on " << address << "\n";
    return 1;
  }
  std::cout << "peer-sync listening on " << address << std::endl;
  server->Wait();
}
