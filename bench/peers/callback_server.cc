// Peer 2: rpc.Fetch/Capitalize and pb.Outliers/Detect on gRPC C++'s callback
// API (CallbackService, the default ServerUnaryReactor), as the gRPC C++
// callback examples write it.
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

ABSL_FLAG(int, port, 50062, "TCP port to listen on (all addresses).");

class FetchService final : public rpc::Fetch::CallbackService {
  grpc::ServerUnaryReactor* Capitalize(grpc::CallbackServerContext* context,
                                       const rpc::Payload* request, rpc::Payload* reply) override {
    std::string data = request->data();
    for (char& c : data) {
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    reply->set_id(request->id());
    reply->set_data(std::move(data));
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

class OutliersService final : public pb::Outliers::CallbackService {
  grpc::ServerUnaryReactor* Detect(grpc::CallbackServerContext* context,
                                   const pb::OutliersRequest* request,
                                   pb::OutliersResponse* reply) override {
    std::vector<double> values;
    values.reserve(request->metrics_size());
    for (const pb::Metric& m : request->metrics()) values.push_back(m.value());
    if (!values.empty()) {
      double sum = 0;
      for (double v : values) sum += v;
      const double mean = sum / values.size();
      double squares = 0;
      for (double v : values) squares += (v - mean) * (v - mean);
      const double std_dev = std::sqrt(squares / values.size());
      for (size_t i = 0; i < values.size(); ++i) {
        if (std::abs(values[i] - mean) > 2 * std_dev) reply->add_indices(static_cast<int>(i));
      }
    }
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
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
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    std::cerr << "peer-callback: cannot listen on " << address << "\n";
    return 1;
  }
  std::cout << "peer-callback listening on " << address << std::endl;
  server->Wait();
}
