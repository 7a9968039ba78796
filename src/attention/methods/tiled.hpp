// SPDX-License-Identifier: MIT
// Method `tiled`: the lab's tiling without online softmax (O(tile_q * N) memory).
#pragma once

#include "attention/methods/forward_method.hpp"
#include "attention/native/native_methods.hpp"
#include "attention/tiled_attention.hpp"

namespace numlab::attention {

struct TiledMethod {
  using Options = TileOptions;
  static constexpr char const* name = "tiled";
  static constexpr char const* doc = "per query tile the full score block, exact softmax, then P V: O(tile_q N) memory";

  template <class ExecSpace, class T>
  static PointResult run(AttentionProblem<ExecSpace, T>& p, Options const& o, RunSettings const& s) {
    using Mem = typename ExecSpace::memory_space;
    TileSizes const tiles = select_forward_tiles<ExecSpace, T>(TiledFwdTag{}, p.shape.D, o.tiles());
    PointResult r = run_forward(p, s, [&](Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
      tiled_forward<ExecSpace, T, Mem>(p.space, p.shape, tiles, p.Q, p.K, p.V, O, L);
    });
    add_kernel_metrics(r, "team_scratch", tiles, detail::team_scratch_variant<ExecSpace, T>());
    // The score workspace holds G (concurrent teams) x tile_q x N_kv: record G so the memory
    // law can be checked on any backend (host: one team per thread; GPU: hundreds).
    FwdTilePlan const plan = plan_forward_tiles<ExecSpace, T>(TiledFwdTag{}, p.shape, tiles);
    int const league = p.shape.B * p.shape.H * plan.Tr;
    if (league > 0)
      r.metrics["concurrent_teams"] = std::int64_t(tiled_forward_concurrent_teams<ExecSpace, T>(p.space, plan, league));
    return r;
  }
  // cuda_native: two passes (row max/sum, then O = P V with the exact P), S recomputed, not kept.
  static PointResult run(native::Problem& p, Options const& o, RunSettings const& s) {
    return native::run_tiled(p, o, s);
  }
};

}  // namespace numlab::attention
