// SPDX-License-Identifier: MIT
// Method `standard_bwd`: the backward of materialised attention on BLAS (P and dS as
// [B,H,N,N_kv] buffers), the baseline every backward is compared with.
#pragma once

#include "attention/methods/backward_method.hpp"
#include "attention/methods/standard.hpp"
#include "attention/standard_backward.hpp"

namespace numlab::attention {

struct StandardBwdMethod {
  using Options = MaxGibOptions;
  static constexpr char const* name = "standard_bwd";
  static constexpr char const* doc =
      "backward of materialised attention on BLAS: P recomputed, dP and dS as N^2 buffers, O(N^2) memory";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    if (auto skip = skip_over_max_gib(p.shape, sizeof(T), 2, o.max_gib, "P and dS")) return *skip;
    PointResult r = run_backward(p, s, [&](Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
      standard_backward<ExecSpace, T, Mem>(p.space, p.shape, p.Q, p.K, p.V, p.O, p.dO, dQ, dK, dV);
    });
    add_kernel_metrics(r, "blas", {0, 0}, detail::head_gemm_library<ExecSpace>());
    return r;
  }
  // cuda_native: cuBLAS, the S/P and dP/dS [B,H,N,N_kv] fp32 buffers.
  static PointResult run(native::Problem& p, Options const& o, RunSettings const& s) {
    if (auto skip = skip_over_max_gib(native::shape_of(p), sizeof(float), 2, o.max_gib, "S/P and dP/dS (fp32)"))
      return *skip;
    return native::run_standard_bwd(p, o, s);
  }
};

}  // namespace numlab::attention
