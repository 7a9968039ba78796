// SPDX-License-Identifier: MIT
// Method `tiled`: the lab's tiling without online softmax (O(tile_q * N) memory).
#pragma once

#include "attention/methods/forward_method.hpp"
#include "attention/tiled_attention.hpp"

namespace numlab::attention {

struct TiledMethod {
  static MethodDef def() {
    return {"tiled", "per query tile the full score block, exact softmax, then P V: O(tile_q N) memory",
            tile_options()};
  }
  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, PointSpec const& pt, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    return run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      tiled_forward<ExecSpace, T, Mem>(p.space, p.shape, tiles_of(pt), p.Q, p.K, p.V, O, L);
    });
  }
};

}  // namespace numlab::attention
