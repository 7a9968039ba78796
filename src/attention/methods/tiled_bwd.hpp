// SPDX-License-Identifier: MIT
// Method `tiled_bwd`: the seed pseudo-code's backward, P recomputed per query tile.
#pragma once

#include "attention/methods/backward_method.hpp"
#include "attention/tiled_backward.hpp"

namespace numlab::attention {

struct TiledBwdMethod {
  static MethodDef def() {
    return {"tiled_bwd", "tiled backward: recompute P per query tile, dK/dV accumulated across tiles",
            tile_options()};
  }
  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, PointSpec const& pt, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    return run_backward(p, s, [&](Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
      tiled_backward<ExecSpace, T, Mem>(p.space, p.shape, tiles_of(pt), p.Q, p.K, p.V, p.O, p.dO, dQ, dK, dV);
    });
  }
};

}  // namespace numlab::attention
