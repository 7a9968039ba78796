// SPDX-License-Identifier: MIT
// Shared timing / memory / accuracy harness of the attention methods: a
// forward or backward method only says how to run itself once.
#pragma once

#include "attention/flash_attention.hpp"
#include "attention/problem.hpp"
#include "attention/tile_size.hpp"
#include "core/interrupt.hpp"
#include "core/memory_tracker.hpp"
#include "core/timing.hpp"

namespace numlab::attention {

inline Schema tile_options(std::vector<ParamSpec> extra = {}) {
  Schema s;
  s.params = {int_param("tile_q", "query rows per team tile (Br)", 64, 1, 1 << 16),
              int_param("tile_k", "key/value rows per scratch tile (Bc)", 64, 1, 1 << 16)};
  for (auto& e : extra) s.params.push_back(std::move(e));
  return s;
}

inline TileSizes tiles_of(PointSpec const& pt) {
  return {static_cast<int>(get_int(pt.options, "tile_q")), static_cast<int>(get_int(pt.options, "tile_k"))};
}

template <class T>
void add_error_metrics(PointResult& r, std::string const& name, ErrorNorms const& e) {
  r.metrics[name + "_max_abs_error"] = e.max_abs;
  r.metrics[name + "_rel_fro_error"] = e.rel_fro;
}

// Runs `once()` warmup + repetitions times, each inside a fresh memory scope;
// `once` allocates its outputs and workspace itself so they are attributed to
// the method, and `release()` frees the previous run's outputs before the scope
// opens. Records times, TFLOP/s and the peaks; returns after the last run so the
// caller can read that run's outputs.
template <class ExecSpace, class Release, class Once>
void time_method(ExecSpace const& space, RunSettings const& s, double flops, std::string const& prefix, PointResult& r,
                 Release&& release, Once&& once) {
  std::vector<double> times;
  std::int64_t peak_device = 0, peak_rss = -1;
  std::string const mem = ExecSpace::memory_space::name();
  for (int rep = 0; rep < s.warmup + s.repetitions; ++rep) {
    check_interrupt();
    space.fence();  // nothing of the previous repetition still in flight
    release();
    bool rss_ok = reset_host_peak_rss();
    std::int64_t rss0 = host_rss_bytes();
    MemoryScope scope(mem);
    double t = once();
    if (rep >= s.warmup) {
      times.push_back(t);
      peak_device = std::max(peak_device, scope.peak_above_baseline());
      if (rss_ok) peak_rss = std::max(peak_rss, host_peak_rss_bytes() - rss0);
    }
  }
  auto st = summarize(times);
  r.metrics[prefix + "_seconds_median"] = st.median;
  r.metrics[prefix + "_seconds_min"] = st.min;
  r.metrics[prefix + "_seconds_mean"] = st.mean;
  r.metrics[prefix + "_tflops"] = st.median > 0 ? flops / st.median * 1e-12 : 0.0;
  r.metrics["flops"] = flops;
  r.metrics["peak_device_bytes"] = peak_device;
  r.metrics["peak_host_rss_bytes"] = peak_rss;
  r.metrics["memory_space"] = mem;
  r.arrays["times_seconds"] = times;
}

// Forward state for the backward methods: flash forward in T, untimed, once per problem.
// Tiles: the heuristic's choice for this backend, so it fits any team scratch.
// Stored only once the forward succeeded, so a failure is not taken for a state.
template <class ExecSpace, class T>
void ensure_forward_state(AttentionProblem<ExecSpace, T>& p) {
  if (p.O.extent(0) > 0) return;
  using Mem = typename ExecSpace::memory_space;
  auto const& sh = p.shape;
  Tensor4<T, Mem> O("numlab::attention::O_fwd", sh.B, sh.H, sh.N, sh.D);
  Tensor3<T, Mem> L("numlab::attention::L_fwd", sh.B, sh.H, sh.N);
  flash_forward<ExecSpace, T, Mem>(p.space, sh, default_forward_tiles<ExecSpace, T>(sh.D), p.Q, p.K, p.V, O, L);
  p.space.fence();
  p.O = O;
  p.L = L;
}

}  // namespace numlab::attention
