// SPDX-License-Identifier: MIT
// Harness of the forward methods: allocate O and L inside the method's memory
// scope, time the kernel, check O and L against the fp64 reference.
#pragma once

#include "attention/methods/harness.hpp"
#include "attention/standard_baseline.hpp"

namespace numlab::attention {

// kernel(O, L) runs the method once on p's inputs.
template <class ExecSpace, class T, class Kernel>
PointResult run_forward(AttentionProblem<ExecSpace, T>& p, RunSettings const& s, Kernel&& kernel) {
  using Mem = typename ExecSpace::memory_space;
  auto const& sh = p.shape;
  PointResult r;
  Tensor4<T, Mem> O;
  Tensor3<T, Mem> L;
  auto release = [&] {
    O = {};
    L = {};
  };
  time_method(p.space, s, attention_forward_flops(sh), "forward", r, release, [&] {
    O = Tensor4<T, Mem>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::O"), sh.B, sh.H, sh.N,
                        sh.D);
    L = Tensor3<T, Mem>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::L"), sh.B, sh.H, sh.N);
    return fenced_seconds(p.space, [&] { kernel(O, L); });
  });
  r.status = "ok";
  mark_nonfinite(r, {{"O", count_nonfinite(p.space, O)}, {"L", count_nonfinite_lse(p.space, L, sh)}});
  mark_invalid_inputs(r, p.invalid_forward_inputs);  // a forward reads Q, K, V
  // The inputs the method reads (Q, K, V), allocated before its memory scope: the device
  // footprint of a forward call is inputs_device_bytes + peak_device_bytes.
  r.metrics["inputs_device_bytes"] = std::int64_t((p.Q.size() + p.K.size() + p.V.size()) * sizeof(T));
  if (p.reference) {
    add_error_metrics(r, "O", compare<T, Mem>(O, p.reference->O));
    add_error_metrics(r, "L", compare<T, Mem>(L, p.reference->L));
  }
  add_vs_standard_forward(r, p, O, L);
  if (s.save_outputs) {
    r.arrays["O"] = to_doubles(O);
    r.array_shapes["O"] = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N), std::size_t(sh.D)};
    r.arrays["L"] = to_doubles(L);
    r.array_shapes["L"] = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N)};
  }
  return r;
}

}  // namespace numlab::attention
