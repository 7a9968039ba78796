// SPDX-License-Identifier: MIT
// The errors of a method against standard attention in the same dtype on the same inputs
// (<X>_max_abs_vs_standard, <X>_rel_fro_vs_standard): the comparison the lab asks for ("is tiled
// closer to standard than flash?"), which errors against fp64 cannot answer when both are at
// rounding level. Forward outputs O, L against `standard` (kernel auto: blas), gradients against
// `standard_bwd`, each computed once per problem, untimed, outside any method's memory scope.
#pragma once

#include "attention/methods/method_options.hpp"
#include "attention/problem.hpp"
#include "attention/reference.hpp"
#include "attention/standard_backward.hpp"
#include "attention/standard_blas.hpp"
#include "core/experiment.hpp"

#include <fmt/format.h>

#include <string>

namespace numlab::attention {

namespace detail {

// Whether the baselines' two [B,H,N,N_kv] buffers fit the O(N^2) methods' default max_gib;
// else the reason is kept in the baseline.
template <class ExecSpace, class T>
bool baseline_fits(AttentionProblem<ExecSpace, T>& p) {
  auto const& sh = p.shape;
  double const gib = 2.0 * sh.B * sh.H * double(sh.N) * double(sh.N_kv) * sizeof(T) / double(1 << 30);
  double const max_gib = MaxGibOptions{}.max_gib;
  if (gib <= max_gib) return true;
  p.baseline.skipped = fmt::format("the standard baseline's two N^2 buffers need {:.1f} GiB > {}", gib, max_gib);
  return false;
}

template <class View>
auto host_copy(View const& v) {
  return Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), v);
}

// <name>_max_abs_vs_standard, <name>_rel_fro_vs_standard of x against the baseline's b (same T).
template <class XV, class BV>
void add_vs_standard(PointResult& r, std::string const& name, XV const& x, BV const& b) {
  ErrorNorms const e = detail::ref::error_norms(host_copy(x), b);
  r.metrics[name + "_max_abs_vs_standard"] = e.max_abs;
  r.metrics[name + "_rel_fro_vs_standard"] = e.rel_fro;
}

}  // namespace detail

// O and L of standard (blas) on p's inputs, made once.
template <class ExecSpace, class T>
bool ensure_standard_forward_baseline(AttentionProblem<ExecSpace, T>& p) {
  using Mem = typename ExecSpace::memory_space;
  if (p.baseline.forward_made) return true;
  if (!detail::baseline_fits(p)) return false;
  auto const& sh = p.shape;
  Tensor4<T, Mem> O("numlab::attention::baseline::O", sh.B, sh.H, sh.N, sh.D);
  Tensor3<T, Mem> L("numlab::attention::baseline::L", sh.B, sh.H, sh.N);
  standard_forward_blas<ExecSpace, T, Mem>(p.space, sh, p.Q, p.K, p.V, O, L);
  p.space.fence();
  p.baseline.O = detail::host_copy(O);
  p.baseline.L = detail::host_copy(L);
  p.baseline.forward_made = true;
  return true;
}

// dQ, dK, dV of standard_bwd on p's inputs, made once.
template <class ExecSpace, class T>
bool ensure_standard_backward_baseline(AttentionProblem<ExecSpace, T>& p) {
  using Mem = typename ExecSpace::memory_space;
  if (p.baseline.backward_made) return true;
  if (!detail::baseline_fits(p)) return false;
  auto const& sh = p.shape;
  Tensor4<T, Mem> dQ("numlab::attention::baseline::dQ", sh.B, sh.H, sh.N, sh.D);
  Tensor4<T, Mem> dK("numlab::attention::baseline::dK", sh.B, sh.H, sh.N_kv, sh.D);
  Tensor4<T, Mem> dV("numlab::attention::baseline::dV", sh.B, sh.H, sh.N_kv, sh.D);
  Tensor4<const T, Mem> const O = p.O.extent(0) > 0 ? p.O : p.Q;  // not read; same extents as Q
  standard_backward<ExecSpace, T, Mem>(p.space, sh, p.Q, p.K, p.V, O, p.dO, dQ, dK, dV);
  p.space.fence();
  p.baseline.dQ = detail::host_copy(dQ);
  p.baseline.dK = detail::host_copy(dK);
  p.baseline.dV = detail::host_copy(dV);
  p.baseline.backward_made = true;
  return true;
}

// The vs-standard metrics of a forward's O and L (nothing unless the problem asks for them).
template <class ExecSpace, class T, class Mem>
void add_vs_standard_forward(PointResult& r, AttentionProblem<ExecSpace, T>& p, Tensor4<T, Mem> O,
                             Tensor3<T, Mem> L) {
  if (!p.vs_standard) return;
  if (!ensure_standard_forward_baseline(p)) {
    r.metrics["vs_standard_skipped"] = p.baseline.skipped;
    return;
  }
  detail::add_vs_standard(r, "O", O, p.baseline.O);
  detail::add_vs_standard(r, "L", L, p.baseline.L);
}

// The vs-standard metrics of a backward's dQ, dK, dV.
template <class ExecSpace, class T, class Mem>
void add_vs_standard_backward(PointResult& r, AttentionProblem<ExecSpace, T>& p, Tensor4<T, Mem> dQ,
                              Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
  if (!p.vs_standard) return;
  if (!ensure_standard_backward_baseline(p)) {
    r.metrics["vs_standard_skipped"] = p.baseline.skipped;
    return;
  }
  detail::add_vs_standard(r, "dQ", dQ, p.baseline.dQ);
  detail::add_vs_standard(r, "dK", dK, p.baseline.dK);
  detail::add_vs_standard(r, "dV", dV, p.baseline.dV);
}

}  // namespace numlab::attention
