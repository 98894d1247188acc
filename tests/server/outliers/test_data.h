// Test fixtures shared by the outliers tests: the numpy reference vectors
// (numpy_vectors.bin, from gen_numpy_vectors.py) and the values of the
// tutorial's 1,000-metric request (bench/load/tutorial_values.txt, from
// bench/load/tools/tutorial_values.go; cqmux-load sends the same values).
#ifndef CQMUX_TESTS_SERVER_OUTLIERS_TEST_DATA_H_
#define CQMUX_TESTS_SERVER_OUTLIERS_TEST_DATA_H_

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace cqmux::outliers::testing {

struct NumpyCase {
  std::string name;
  std::vector<double> values;
  double mean = 0;
  double std = 0;
  std::vector<int64_t> indices;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::vector<NumpyCase> LoadNumpyCases(const std::string& path) {
  const std::string bytes = ReadFile(path);
  size_t pos = 0;
  auto take = [&](void* dst, size_t n) {
    if (bytes.size() - pos < n) throw std::runtime_error("truncated " + path);
    if (n == 0) return;
    std::memcpy(dst, bytes.data() + pos, n);
    pos += n;
  };
  uint32_t count;
  take(&count, 4);
  std::vector<NumpyCase> cases(count);
  for (NumpyCase& c : cases) {
    uint32_t name_len;
    take(&name_len, 4);
    c.name.resize(name_len);
    take(c.name.data(), name_len);
    uint64_t n;
    take(&n, 8);
    c.values.resize(n);
    take(c.values.data(), n * 8);
    take(&c.mean, 8);
    take(&c.std, 8);
    uint64_t k;
    take(&k, 8);
    c.indices.resize(k);
    take(c.indices.data(), k * 8);
  }
  if (pos != bytes.size()) throw std::runtime_error("trailing bytes in " + path);
  return cases;
}

inline std::vector<double> LoadTutorialValues(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::vector<double> values;
  std::string line;
  while (std::getline(in, line)) {
    const uint64_t bits = std::stoull(line, nullptr, 16);
    double v;
    std::memcpy(&v, &bits, 8);
    values.push_back(v);
  }
  return values;
}

inline uint64_t Bits(double v) {
  uint64_t b;
  std::memcpy(&b, &v, 8);
  return b;
}

}  // namespace cqmux::outliers::testing

#endif  // CQMUX_TESTS_SERVER_OUTLIERS_TEST_DATA_H_
