// SPDX-License-Identifier: MIT
// The one repetition loop of every method: warmup runs, then timed runs, an interrupt check
// before each; and the one writer of the time metrics. The timer is the caller's (a fenced
// wall clock, fenced_seconds in core/timing.hpp, or CUDA events on the native path).
#pragma once

#include "core/experiment.hpp"
#include "core/interrupt.hpp"
#include "core/timing.hpp"

#include <array>
#include <cstddef>
#include <string>
#include <type_traits>
#include <vector>

namespace numlab {

// Runs once() s.warmup + s.repetitions times; once(bool timed) is told whether the run is one of
// the timed ones. once returns the seconds of its timed region (a double), or of several regions
// (std::array<double, K>, e.g. setup and solve); the seconds of the timed repetitions are
// returned, one series per region. The last run's state is the caller's to read afterwards.
template <class Once>
auto repeat_timed(RunSettings const& s, Once&& once) {
  auto call = [&](bool timed) {
    if constexpr (std::is_invocable_v<Once&, bool>)
      return once(timed);
    else
      return once();
  };
  using R = std::decay_t<decltype(call(true))>;
  if constexpr (std::is_same_v<R, double>) {
    std::vector<double> times;
    for (int rep = 0; rep < s.warmup + s.repetitions; ++rep) {
      check_interrupt();
      double t = call(rep >= s.warmup);
      if (rep >= s.warmup) times.push_back(t);
    }
    return times;
  } else {
    constexpr std::size_t K = std::tuple_size_v<R>;
    std::array<std::vector<double>, K> times;
    for (int rep = 0; rep < s.warmup + s.repetitions; ++rep) {
      check_interrupt();
      R t = call(rep >= s.warmup);
      if (rep >= s.warmup)
        for (std::size_t k = 0; k < K; ++k) times[k].push_back(t[k]);
    }
    return times;
  }
}

// <prefix>_seconds_median|min|mean of the timed repetitions; with flops >= 0 also flops and
// <prefix>_tflops at the median.
inline void add_time_metrics(PointResult& r, std::string const& prefix, std::vector<double> const& times,
                             double flops = -1) {
  TimeStats const st = summarize(times);
  r.metrics[prefix + "_seconds_median"] = st.median;
  r.metrics[prefix + "_seconds_min"] = st.min;
  r.metrics[prefix + "_seconds_mean"] = st.mean;
  if (flops >= 0) {
    r.metrics["flops"] = flops;
    r.metrics[prefix + "_tflops"] = st.median > 0 ? flops / st.median * 1e-12 : 0.0;
  }
}

}  // namespace numlab
