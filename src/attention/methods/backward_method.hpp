// SPDX-License-Identifier: MIT
// Harness of the backward methods: forward state (O, L) made once per problem,
// dQ, dK, dV allocated inside the method's memory scope, checked against the
// fp64 reference gradients.
#pragma once

#include "attention/methods/harness.hpp"
#include "attention/standard_baseline.hpp"

namespace numlab::attention {

// kernel(dQ, dK, dV) runs the method once on p's inputs and forward state.
template <class ExecSpace, class T, class Kernel>
PointResult run_backward(AttentionProblem<ExecSpace, T>& p, RunSettings const& s, Kernel&& kernel) {
  using Mem = typename ExecSpace::memory_space;
  auto const& sh = p.shape;
  ensure_forward_state(p);
  PointResult r;
  Tensor4<T, Mem> dQ, dK, dV;
  auto release = [&] {
    dQ = {};
    dK = {};
    dV = {};
  };
  time_method(p.space, s, attention_backward_flops(sh), "backward", r, release, [&] {
    // Zero-initialised: methods that accumulate with atomics rely on it.
    dQ = Tensor4<T, Mem>("numlab::attention::dQ", sh.B, sh.H, sh.N, sh.D);
    dK = Tensor4<T, Mem>("numlab::attention::dK", sh.B, sh.H, sh.N_kv, sh.D);
    dV = Tensor4<T, Mem>("numlab::attention::dV", sh.B, sh.H, sh.N_kv, sh.D);
    return fenced_seconds(p.space, [&] { kernel(dQ, dK, dV); });
  });
  r.status = "ok";
  mark_nonfinite(r, {{"dQ", count_nonfinite(p.space, dQ)}, {"dK", count_nonfinite(p.space, dK)},
                     {"dV", count_nonfinite(p.space, dV)}});
  mark_invalid_inputs(r, p.invalid_inputs);  // a backward reads dO too
  // Inputs of the backward (Q, K, V, O, L, dO), allocated before its memory scope.
  r.metrics["inputs_device_bytes"] =
      std::int64_t((p.Q.size() + p.K.size() + p.V.size() + p.O.size() + p.L.size() + p.dO.size()) * sizeof(T));
  if (p.reference) {
    add_error_metrics(r, "dQ", compare<T, Mem>(dQ, p.reference->dQ));
    add_error_metrics(r, "dK", compare<T, Mem>(dK, p.reference->dK));
    add_error_metrics(r, "dV", compare<T, Mem>(dV, p.reference->dV));
  }
  add_vs_standard_backward(r, p, dQ, dK, dV);
  if (s.save_outputs) {
    std::vector<std::size_t> q = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N), std::size_t(sh.D)};
    std::vector<std::size_t> kv = {std::size_t(sh.B), std::size_t(sh.H), std::size_t(sh.N_kv), std::size_t(sh.D)};
    r.arrays["dQ"] = to_doubles(dQ);
    r.array_shapes["dQ"] = q;
    r.arrays["dK"] = to_doubles(dK);
    r.array_shapes["dK"] = kv;
    r.arrays["dV"] = to_doubles(dV);
    r.array_shapes["dV"] = kv;
  }
  return r;
}

}  // namespace numlab::attention
