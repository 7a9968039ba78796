// SPDX-License-Identifier: MIT
// Method `flash_bwd`: FlashAttention-2 backward from the log-sum-exp, parallel
// over key tiles; dQ by atomics or by a separate deterministic pass.
#pragma once

#include "attention/flash_backward.hpp"
#include "attention/methods/backward_method.hpp"
#include "attention/native/native_methods.hpp"

namespace numlab::attention {

struct FlashBwdMethod {
  using Options = FlashBwdOptions;
  static constexpr char const* name = "flash_bwd";
  static constexpr char const* doc =
      "FlashAttention-2 backward: recompute P from L, D_i = rowsum(dO o O), no N^2 buffer";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    FlashBwdSelection const sel = select_flash_backward<ExecSpace, T>(p.shape, o.kernel, o.tiles());
    PointResult r = run_backward(p, s, [&](Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
      flash_backward<ExecSpace, T, Mem>(p.space, p.shape, sel, o.dq, p.Q, p.K, p.V, p.O, p.L, p.dO, dQ, dK, dV);
    });
    std::string variant = sel.variant;
    if (o.dq == FlashBwdDq::separate && sel.kernel == FlashBwdKernel::register_tiled)
      variant += "; dQ pass register_tiled " + detail::tiles_text(sel.dq_tiles);
    add_kernel_metrics(r, enum_name(sel.kernel), sel.tiles, variant);
    return r;
  }
  static PointResult run(native::Problem& p, Options const& o, RunSettings const& s) {
    return native::run_flash_bwd(p, o, s);
  }
};

}  // namespace numlab::attention
