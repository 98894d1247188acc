// Google Benchmark harness for pb.Outliers/Detect: the kernel (scalar vs
// dispatched SIMD vs each compiled target) against a three-pass streaming
// read bound, the request decoder (protobuf vs zero-copy), and the handler.
#include <cstdint>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/support/slice.h>

#include "bench/outliers/read_bound.h"
#include "outliers.pb.h"
#include "server/outliers/outliers.h"
#include "server/outliers/request_decoder.h"
#include "server/services/outliers/outliers_service.h"

namespace cqmux {
namespace {

using outliers::AlignedBuffer;

// The tutorial's distribution: CPU load uniform in [0, 40) plus planted
// outliers, fixed seed.
const std::vector<double>& Values(size_t n) {
  static std::map<size_t, std::vector<double>> cache;
  std::vector<double>& v = cache[n];
  if (v.size() != n) {
    std::mt19937_64 rng(n);
    std::uniform_real_distribution<double> uniform(0, 40);
    v.resize(n);
    for (double& x : v) x = uniform(rng);
    for (size_t i = 7; i < n; i += 997) v[i] = 95;
  }
  return v;
}

std::string SerializedRequest(size_t n) {
  pb::OutliersRequest req;
  for (double v : Values(n)) {
    pb::Metric* m = req.add_metrics();
    m->mutable_time()->set_seconds(1590156791);
    m->set_name("CPU");
    m->set_value(v);
  }
  return req.SerializeAsString();
}

void SetValueCounters(benchmark::State& state, size_t values, size_t bytes) {
  const double iters = static_cast<double>(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(iters * bytes));
  state.counters["values"] = static_cast<double>(values);
  state.counters["ns/value"] = benchmark::Counter(
      iters * values * 1e-9, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_KernelScalar(benchmark::State& state) {
  const auto& v = Values(state.range(0));
  AlignedBuffer<int64_t> out;
  for (auto _ : state) {
    if (!outliers::FindOutliersScalar(v, &out).ok()) state.SkipWithError("failed");
    benchmark::DoNotOptimize(out.data());
  }
  SetValueCounters(state, v.size(), v.size() * 8);
}

void RunKernelSimd(benchmark::State& state, const std::vector<double>& v) {
  AlignedBuffer<int64_t> out;
  for (auto _ : state) {
    if (!outliers::FindOutliers(v, &out).ok()) state.SkipWithError("failed");
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(outliers::DispatchTargetName());
  SetValueCounters(state, v.size(), v.size() * 8);
}

void BM_KernelSimd(benchmark::State& state) {
  RunKernelSimd(state, Values(state.range(0)));
}

// The same values a billion higher: a huge mean with a small spread leaves
// no useful bound on the std after pass 1, so the kernel takes its fallback
// (numpy's exact variance in a second pass, then the same decision).
void BM_KernelSimdNoBound(benchmark::State& state) {
  std::vector<double> v = Values(state.range(0));
  for (double& x : v) x += 1e9;
  RunKernelSimd(state, v);
}

void BM_KernelTarget(benchmark::State& state, int64_t target) {
  outliers::ScopedTarget scoped(target);
  BM_KernelSimd(state);
}

// The dispatched target with pass 1 forced to read one memory stream, or
// lockstep leaves (two streams on AVX3), at every size: where FindOutliers
// switches (from the L2 cache size on) should be where these two cross.
void BM_KernelPass1OneStream(benchmark::State& state) {
  outliers::ScopedOneStreamThreshold streams(1);
  BM_KernelSimd(state);
}

void BM_KernelPass1Lockstep(benchmark::State& state) {
  outliers::ScopedOneStreamThreshold streams(SIZE_MAX);
  BM_KernelSimd(state);
}

// Three streaming passes over the values: the floor for mean, variance and
// compare. Bytes counted once per pass read.
void BM_ThreePassReadBound(benchmark::State& state) {
  const auto& v = Values(state.range(0));
  for (auto _ : state) {
    for (int pass = 0; pass < 3; ++pass) {
      benchmark::DoNotOptimize(bench::StreamingSum(v.data(), v.size()));
    }
  }
  SetValueCounters(state, v.size(), v.size() * 8);
}

void BM_DecodeProtobuf(benchmark::State& state) {
  const std::string bytes = SerializedRequest(state.range(0));
  AlignedBuffer<double> values;
  for (auto _ : state) {
    pb::OutliersRequest req;
    if (!req.ParseFromString(bytes)) state.SkipWithError("parse failed");
    values.clear();
    values.reserve(req.metrics_size());
    for (const auto& m : req.metrics()) values.push_back(m.value());
    benchmark::DoNotOptimize(values.data());
  }
  SetValueCounters(state, state.range(0), bytes.size());
}

void BM_DecodeProtobufReusedMessage(benchmark::State& state) {
  const std::string bytes = SerializedRequest(state.range(0));
  pb::OutliersRequest req;
  for (auto _ : state) {
    if (!req.ParseFromString(bytes)) state.SkipWithError("parse failed");
    benchmark::DoNotOptimize(req.metrics_size());
  }
  SetValueCounters(state, state.range(0), bytes.size());
}

void BM_DecodeZeroCopy(benchmark::State& state) {
  const std::string bytes = SerializedRequest(state.range(0));
  AlignedBuffer<double> values;
  for (auto _ : state) {
    if (!outliers::DecodeOutliersRequest(bytes, &values).ok()) {
      state.SkipWithError("decode failed");
    }
    benchmark::DoNotOptimize(values.data());
  }
  SetValueCounters(state, state.range(0), bytes.size());
}

void BM_DetectHandler(benchmark::State& state) {
  const std::string bytes = SerializedRequest(state.range(0));
  grpc::Slice slice(bytes.data(), bytes.size());
  const grpc::ByteBuffer request(&slice, 1);
  OutliersService service;
  for (auto _ : state) {
    grpc::ByteBuffer response;
    if (!service.Detect(request, &response).ok()) state.SkipWithError("failed");
    benchmark::DoNotOptimize(response.Length());
  }
  SetValueCounters(state, state.range(0), bytes.size());
}

// The response encoding alone: by hand vs through the generated message.
void BM_EncodeResponseDirect(benchmark::State& state) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < state.range(0); ++i) idx.push_back(i * 37);
  for (auto _ : state) {
    grpc::ByteBuffer b = EncodeOutliersResponse(idx.data(), idx.size());
    benchmark::DoNotOptimize(b.Length());
  }
}

void BM_EncodeResponseProtobuf(benchmark::State& state) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < state.range(0); ++i) idx.push_back(i * 37);
  for (auto _ : state) {
    pb::OutliersResponse resp;
    for (int64_t i : idx) resp.add_indices(static_cast<int32_t>(i));
    const std::string s = resp.SerializeAsString();
    grpc::Slice slice(s.data(), s.size());
    grpc::ByteBuffer b(&slice, 1);
    benchmark::DoNotOptimize(b.Length());
  }
}

const std::vector<int64_t> kKernelSizes = {1000, 10000, 100000, 1000000,
                                           10000000};

void Register() {
  for (int64_t n : kKernelSizes) {
    benchmark::RegisterBenchmark("BM_KernelScalar", BM_KernelScalar)->Arg(n);
    benchmark::RegisterBenchmark("BM_KernelSimd", BM_KernelSimd)->Arg(n);
    benchmark::RegisterBenchmark("BM_KernelSimdNoBound", BM_KernelSimdNoBound)->Arg(n);
    for (int64_t t : outliers::AvailableTargets()) {
      std::string name = "BM_KernelTarget/";
      name.append(outliers::TargetName(t));
      benchmark::RegisterBenchmark(name.c_str(), BM_KernelTarget, t)->Arg(n);
    }
    benchmark::RegisterBenchmark("BM_KernelPass1OneStream", BM_KernelPass1OneStream)->Arg(n);
    benchmark::RegisterBenchmark("BM_KernelPass1Lockstep", BM_KernelPass1Lockstep)->Arg(n);
    benchmark::RegisterBenchmark("BM_ThreePassReadBound", BM_ThreePassReadBound)->Arg(n);
  }
  for (int64_t n : {1000, 100000}) {
    benchmark::RegisterBenchmark("BM_DecodeProtobuf", BM_DecodeProtobuf)->Arg(n);
    benchmark::RegisterBenchmark("BM_DecodeProtobufReusedMessage",
                                 BM_DecodeProtobufReusedMessage)->Arg(n);
    benchmark::RegisterBenchmark("BM_DecodeZeroCopy", BM_DecodeZeroCopy)->Arg(n);
  }
  benchmark::RegisterBenchmark("BM_DetectHandler", BM_DetectHandler)->Arg(1000);
  for (int64_t n : {3, 100}) {
    benchmark::RegisterBenchmark("BM_EncodeResponseDirect", BM_EncodeResponseDirect)->Arg(n);
    benchmark::RegisterBenchmark("BM_EncodeResponseProtobuf", BM_EncodeResponseProtobuf)->Arg(n);
  }
}

}  // namespace
}  // namespace cqmux

int main(int argc, char** argv) {
  std::string targets;
  for (int64_t t : cqmux::outliers::AvailableTargets()) {
    if (!targets.empty()) targets.push_back(',');
    targets.append(cqmux::outliers::TargetName(t));
  }
  std::printf("outliers SIMD dispatch target: %s (available: %s)\n",
              cqmux::outliers::DispatchTargetName().c_str(), targets.c_str());
  benchmark::AddCustomContext("outliers_simd_target",
                              cqmux::outliers::DispatchTargetName());
  benchmark::AddCustomContext("outliers_available_targets", targets);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  cqmux::Register();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
