// SPDX-License-Identifier: MIT
// Method `flash_bwd`: FlashAttention-2 backward from the log-sum-exp, parallel
// over key tiles; dQ by atomics or by a separate deterministic pass.
#pragma once

#include "attention/flash_backward.hpp"
#include "attention/methods/backward_method.hpp"

namespace numlab::attention {

struct FlashBwdMethod {
  static MethodDef def() {
    return {"flash_bwd", "FlashAttention-2 backward: recompute P from L, D_i = rowsum(dO o O), no N^2 buffer",
            tile_options({choice_param("dq", "dQ accumulation: atomic adds, or a separate pass (deterministic)",
                                       {"atomic", "separate"}, "atomic")})};
  }
  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, PointSpec const& pt, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    auto mode = get_string(pt.options, "dq") == "atomic" ? FlashBwdDq::atomic : FlashBwdDq::separate;
    return run_backward(p, s, [&](Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
      flash_backward<ExecSpace, T, Mem>(p.space, p.shape, tiles_of(pt), mode, p.Q, p.K, p.V, p.O, p.L, p.dO, dQ,
                                        dK, dV);
    });
  }
};

}  // namespace numlab::attention
