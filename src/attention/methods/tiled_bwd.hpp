// SPDX-License-Identifier: MIT
// Method `tiled_bwd`: the seed pseudo-code's backward, P recomputed per query tile.
#pragma once

#include "attention/methods/backward_method.hpp"
#include "attention/tiled_backward.hpp"

namespace numlab::attention {

struct TiledBwdMethod {
  using Options = TileOptions;
  static constexpr char const* name = "tiled_bwd";
  static constexpr char const* doc = "tiled backward: recompute P per query tile, dK/dV accumulated across tiles";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    TileSizes const tiles = select_tiled_backward_tiles(o.tiles());
    PointResult r = run_backward(p, s, [&](Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
      tiled_backward<ExecSpace, T, Mem>(p.space, p.shape, tiles, p.Q, p.K, p.V, p.O, p.dO, dQ, dK, dV);
    });
    add_kernel_metrics(r, "team_scratch", tiles, "scalar team loops");
    return r;
  }
};

}  // namespace numlab::attention
