// SPDX-License-Identifier: MIT
// Timing discipline: fence, start, run, fence, stop; keep every repetition,
// report min / median / mean.
#pragma once

#include <algorithm>
#include <chrono>
#include <numeric>
#include <vector>

namespace numlab {

struct TimeStats {
  double min = 0, median = 0, mean = 0, max = 0;
};

inline TimeStats summarize(std::vector<double> t) {
  TimeStats s;
  if (t.empty()) return s;
  std::sort(t.begin(), t.end());
  s.min = t.front();
  s.max = t.back();
  std::size_t n = t.size();
  s.median = n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  s.mean = std::accumulate(t.begin(), t.end(), 0.0) / double(n);
  return s;
}

// Wall time of f() on `space`, with the device drained before and after so
// asynchronous launches are charged to the region that issued them.
template <class ExecSpace, class F>
double fenced_seconds(ExecSpace const& space, F&& f) {
  space.fence();
  auto t0 = std::chrono::steady_clock::now();
  f();
  space.fence();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace numlab
