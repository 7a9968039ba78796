// SPDX-License-Identifier: MIT
// Shared timing / memory / accuracy harness of the attention methods: a
// forward or backward method only says how to run itself once.
#pragma once

#include "attention/flash_attention.hpp"
#include "attention/methods/method_options.hpp"
#include "attention/problem.hpp"
#include "attention/tile_size.hpp"
#include "core/interrupt.hpp"
#include "core/memory_tracker.hpp"
#include "core/repeat_timed.hpp"
#include "core/timing.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <type_traits>
#include <utility>

namespace numlab::attention {

// <name>_max_abs_error<suffix>, <name>_rel_fro_error<suffix>.
inline void add_error_metrics(PointResult& r, std::string const& name, ErrorNorms const& e,
                              std::string const& suffix = "") {
  r.metrics[name + "_max_abs_error" + suffix] = e.max_abs;
  r.metrics[name + "_rel_fro_error" + suffix] = e.rel_fro;
}

// Runs `once()` warmup + repetitions times, each inside a fresh memory scope;
// `once` allocates its outputs and workspace itself so they are attributed to
// the method, and `release()` frees the previous run's outputs before the scope
// opens. Records times, TFLOP/s and the peaks; returns after the last run so the
// caller can read that run's outputs.
template <class ExecSpace, class Release, class Once>
void time_method(ExecSpace const& space, RunSettings const& s, double flops, std::string const& prefix, PointResult& r,
                 Release&& release, Once&& once) {
  std::int64_t peak_device = 0, peak_rss = -1;
  std::string const mem = ExecSpace::memory_space::name();
  std::vector<double> const times = repeat_timed(s, [&](bool timed) {
    space.fence();  // nothing of the previous repetition still in flight
    release();
    bool rss_ok = reset_host_peak_rss();
    std::int64_t rss0 = host_rss_bytes();
    MemoryScope scope(mem);
    double t = once();
    if (timed) {
      peak_device = std::max(peak_device, scope.peak_above_baseline());
      if (rss_ok) peak_rss = std::max(peak_rss, host_peak_rss_bytes() - rss0);
    }
    return t;
  });
  add_time_metrics(r, prefix, times, flops);
  r.metrics["peak_device_bytes"] = peak_device;
  r.metrics["peak_host_rss_bytes"] = peak_rss;
  r.metrics["memory_space"] = mem;
  r.arrays["times_seconds"] = times;
}

// Elements of v (contiguous) that are NaN or infinite; with allow_minus_inf, -inf is not counted
// (the log-sum-exp of a row that sees no key).
template <class ExecSpace, class View>
std::int64_t count_nonfinite(ExecSpace const& space, View const& v, bool allow_minus_inf = false) {
  using T = std::remove_const_t<typename View::value_type>;
  T const* data = v.data();
  std::int64_t n = 0;
  Kokkos::parallel_reduce(
      "numlab::attention::count_nonfinite", Kokkos::RangePolicy<ExecSpace>(space, 0, v.span()),
      KOKKOS_LAMBDA(std::size_t i, std::int64_t & c) {
        T const x = data[i];
        bool const bad = !kx::isfinite(x) && !(allow_minus_inf && x < T(0) && !(x != x));
        c += bad ? 1 : 0;
      },
      n);
  return n;
}

// Like count_nonfinite for a log-sum-exp L [B,H,N]: -inf is right only in rows that see no key
// (causal with N_kv < N: rows i with i + N_kv - N < 0).
template <class ExecSpace, class View>
std::int64_t count_nonfinite_lse(ExecSpace const& space, View const& L, AttentionShape const& sh) {
  using T = std::remove_const_t<typename View::value_type>;
  T const* data = L.data();
  int const N = sh.N, offset = sh.N_kv - sh.N;
  bool const causal = sh.causal, no_keys = sh.N_kv == 0;
  std::int64_t n = 0;
  Kokkos::parallel_reduce(
      "numlab::attention::count_nonfinite_lse", Kokkos::RangePolicy<ExecSpace>(space, 0, L.span()),
      KOKKOS_LAMBDA(std::size_t idx, std::int64_t & c) {
        T const x = data[idx];
        int const i = N > 0 ? int(idx % std::size_t(N)) : 0;
        bool const sees_none = no_keys || (causal && i + offset < 0);
        bool const bad = !kx::isfinite(x) && !(sees_none && x < T(0) && !(x != x));
        c += bad ? 1 : 0;
      },
      n);
  return n;
}

// A finished point whose outputs hold NaN or infinities is not `ok`: status nonfinite, and which
// outputs and how many elements in the reason (and <X>_nonfinite_count).
inline void mark_nonfinite(PointResult& r, std::vector<std::pair<std::string, std::int64_t>> const& counts) {
  std::string why;
  for (auto const& [name, n] : counts) {
    if (n == 0) continue;
    r.metrics[name + "_nonfinite_count"] = n;
    why += (why.empty() ? "" : "; ") + name + ": " + std::to_string(n) + " NaN or infinite values";
  }
  if (!why.empty()) {
    r.status = "nonfinite";
    r.reason = why;
  }
}

// A point whose inputs are not finite (the problem's list of them, "" if none) is invalid_input,
// whatever its outputs.
inline void mark_invalid_inputs(PointResult& r, std::string const& invalid) {
  if (invalid.empty() || !(r.status == "ok" || r.status == "nonfinite")) return;
  r.status = "invalid_input";
  r.reason = "the inputs are not finite (" + invalid + ")" + (r.reason.empty() ? std::string() : "; outputs: " + r.reason);
}

// What ran: the kernel, its tiles (0 where the kernel has none) and its compile-time variant.
inline void add_kernel_metrics(PointResult& r, std::string const& kernel, TileSizes tiles, std::string const& variant) {
  r.metrics["kernel_run"] = kernel;
  r.metrics["tile_q_run"] = std::int64_t(tiles.tile_q);
  r.metrics["tile_k_run"] = std::int64_t(tiles.tile_k);
  r.metrics["kernel_variant"] = variant;
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
