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
    PointResult r = run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      tiled_forward<ExecSpace, T, Mem>(p.space, p.shape, tiles_of(pt), p.Q, p.K, p.V, O, L);
    });
    // The score workspace holds G (concurrent teams) x tile_q x N_kv: record G so the memory
    // law can be checked on any backend (host: one team per thread; GPU: hundreds).
    FwdTilePlan const plan = plan_forward_tiles<ExecSpace, T>(TiledFwdTag{}, p.shape, tiles_of(pt));
    int const league = p.shape.B * p.shape.H * plan.Tr;
    if (league > 0) r.metrics["concurrent_teams"] = std::int64_t(tiled_forward_concurrent_teams<ExecSpace, T>(p.space, plan, league));
    return r;
  }
};

}  // namespace numlab::attention
