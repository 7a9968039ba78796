// SPDX-License-Identifier: MIT
// Method `tiled`: the lab's tiled forward without online softmax. Per query tile (Br = tile_q
// rows) the full score block Br x N_kv is built K tile by K tile (Bc = tile_k rows staged in team
// scratch), then an exact softmax over the full rows, then P V tile by tile. The score block
// lives in a global workspace for only G teams at a time (tiled_forward_concurrent_teams):
// O(G tile_q N_kv) memory, not O(B H N N_kv).
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/detail/tiled_fwd_kernel.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>

namespace numlab::attention {

// O = softmax(Q K^T * scale [+ causal mask]) V and L = log-sum-exp per row of the scaled scores
// (natural log; L may be an empty View). Q, O: [B,H,N,D]; K, V: [B,H,N_kv,D]; L: [B,H,N].
// Tiles must fit the team scratch (plan_forward_tiles throws std::invalid_argument otherwise;
// default_forward_tiles<ExecSpace, T>(D, TiledFwdTag{}) picks tiles that fit).
// Allocates the (G, tile_q, N_kv) workspace itself and fences `space` before freeing it.
template <class ExecSpace, class T, class Mem>
void tiled_forward(ExecSpace const& space, AttentionShape const& shape, TileSizes tiles, Tensor4<const T, Mem> Q,
                   Tensor4<const T, Mem> K, Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  detail::static_check_forward<ExecSpace, T, Mem>();
  char const* who = "numlab::attention::tiled_forward";
  detail::check_forward_extents(who, shape, Q, K, V, O, L);
  FwdTilePlan const plan = plan_forward_tiles<ExecSpace, T>(TiledFwdTag{}, shape, tiles);
  int const league = shape.B * shape.H * plan.Tr;
  if (league == 0) return;
  Kokkos::Profiling::pushRegion(who);
  int const G = tiled_forward_concurrent_teams<ExecSpace, T>(space, plan, league);
  using Kernel = detail::TiledFwdKernel<ExecSpace, T, Mem>;
  Kernel kernel{shape, plan, softmax_scale_log2<T>(shape.scale()), 0, Q, K, V, O, L, {}};
  kernel.workspace = Kokkos::View<T*, Mem>(
      Kokkos::view_alloc(space, Kokkos::WithoutInitializing, "numlab::attention::tiled_fwd::S_workspace"),
      std::size_t(G) * plan.BrP * kernel.row_length());
  // Launches on one instance run in order, so the chunks reuse the workspace slots safely.
  for (int first = 0; first < league; first += G) {
    kernel.league_first = first;
    Kokkos::parallel_for("numlab::attention::tiled_fwd",
                         detail::forward_policy(space, std::min(G, league - first), plan, plan.scratch_bytes), kernel);
  }
  space.fence();  // before the workspace is freed
  Kokkos::Profiling::popRegion();
}

// Same, on a default instance of Mem's execution space.
template <class T, class Mem>
void tiled_forward(AttentionShape const& shape, TileSizes tiles, Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K,
                   Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  tiled_forward<typename Mem::execution_space, T, Mem>(typename Mem::execution_space{}, shape, tiles, Q, K, V, O, L);
}

}  // namespace numlab::attention
