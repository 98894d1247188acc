// The outliers tutorial's 1,000-metric request (its Go client's dummyData):
// values below 40 with outliers at indices 7, 113 and 835, every timestamp
// 2020-05-22T14:13:11Z (the client discards t.Add's result), name "CPU".
#ifndef CQMUX_BENCH_LOAD_TUTORIAL_METRICS_H_
#define CQMUX_BENCH_LOAD_TUTORIAL_METRICS_H_

#include <cstdint>

namespace cqmux::load {

inline constexpr int kTutorialMetricCount = 1000;
inline constexpr int64_t kTutorialMetricSeconds = 1590156791;  // 2020-05-22T14:13:11Z
inline constexpr const char* kTutorialMetricName = "CPU";
extern const double kTutorialMetricValues[kTutorialMetricCount];

}  // namespace cqmux::load

#endif  // CQMUX_BENCH_LOAD_TUTORIAL_METRICS_H_
