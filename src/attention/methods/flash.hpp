// SPDX-License-Identifier: MIT
// Method `flash`: one pass with online softmax, keeps the log-sum-exp (O(N D) memory).
#pragma once

#include "attention/flash_attention.hpp"
#include "attention/methods/forward_method.hpp"

namespace numlab::attention {

struct FlashMethod {
  static MethodDef def() {
    return {"flash", "FlashAttention-2 forward: online softmax, K/V tiles in team scratch, O(N D) memory",
            tile_options()};
  }
  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, PointSpec const& pt, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    return run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      flash_forward<ExecSpace, T, Mem>(p.space, p.shape, tiles_of(pt), p.Q, p.K, p.V, O, L);
    });
  }
};

}  // namespace numlab::attention
