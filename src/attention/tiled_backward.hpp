// SPDX-License-Identifier: MIT
// The lab's tiled backward (seed pseudo-code, course-readme "Backward"): per query tile
// Q_i of Br = tile_q rows, recompute the full Br x N_kv block S_i^full tile by tile over
// K/V tiles of Bc = tile_k rows staged in team scratch, P_i = softmax(S_i^full scale),
// then dV += P_i^T dO_i, dP_i = dO_i V^T, dS_i = P_i o (dP_i - rowsum(dP_i o P_i)),
// dQ_i = dS_i K scale, dK += dS_i^T Q_i scale. Outputs dQ, dK, dV are overwritten.
//
// Parallel over (b, h, query tile) teams. dK and dV collect contributions from every query
// tile of a head, so they accumulate with atomic adds (order-dependent rounding: not bitwise
// reproducible on parallel backends); dQ_i is written once by its team.
//
// Memory: the Br x N_kv blocks S_i^full and dP_i live in global memory, one slice per team
// that runs at the same time. The league is processed in chunks of G teams,
//   G = concurrency() / (threads per team), at most the league and at most what fits in
//       kTiledBwdWorkspaceBudget,
// so the workspace is 2 G Br N_kv elements: O(G tile_q N_kv), not O(N N_kv). On a host
// backend G is the number of threads; on a GPU it is the number of resident teams.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/bwd_common.hpp"
#include "attention/detail/tiled_bwd_kernel.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace numlab::attention {

// Upper bound on the workspace of tiled_backward (bytes); G shrinks to fit (at least 1 team).
inline constexpr std::size_t kTiledBwdWorkspaceBudget = std::size_t(1) << 30;

template <class ExecSpace, class T, class Mem>
void tiled_backward(ExecSpace const& space, AttentionShape const& shape, TileSizes tiles,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> Q, detail::bwd::identity_t<Tensor4<const T, Mem>> K,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> V, detail::bwd::identity_t<Tensor4<const T, Mem>> O,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> dO, Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK,
                    Tensor4<T, Mem> dV) {
  static_assert(Kokkos::is_execution_space<ExecSpace>::value, "tiled_backward: ExecSpace must be an execution space");
  static_assert(detail::bwd::is_real_v<T>, "tiled_backward: T must be float or double");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, Mem>::accessible,
                "tiled_backward: the views' memory space must be accessible from ExecSpace");
  constexpr char const* who = "numlab::attention::tiled_backward";
  detail::bwd::check_shape_and_tiles(who, shape, tiles);
  // O is not needed: the seed recomputes P and uses rowsum(dP o P) for D_i. Checked anyway so
  // every backward takes the same arguments.
  detail::bwd::check_backward_views(who, shape, Q, K, V, O, dO, dQ, dK, dV);

  using Kernel = detail::bwd::TiledBwdKernel<ExecSpace, T, Mem>;
  // A tile never needs more rows than the problem has: clipping keeps small problems within
  // the scratch limit whatever tiles were asked for.
  const int Br = std::max(1, std::min(tiles.tile_q, shape.N)), Bc = std::max(1, std::min(tiles.tile_k, shape.N_kv));
  const int D = shape.D;
  const auto plan = detail::bwd::plan_scratch<ExecSpace, T>(who, Kernel::scratch_bytes(Br, Bc, D), tiles, D);

  // dK, dV are sums over query tiles (atomics); dQ rows nobody writes (N = 0) stay zero.
  Kokkos::deep_copy(space, dK, T(0));
  Kokkos::deep_copy(space, dV, T(0));
  if (shape.B == 0 || shape.H == 0 || shape.N == 0 || shape.N_kv == 0) {
    Kokkos::deep_copy(space, dQ, T(0));
    return;
  }

  Kernel k;
  k.s = shape;
  k.Br = Br;
  k.Bc = Bc;
  k.D = D;
  k.Tr = detail::bwd::ceil_div(shape.N, Br);
  k.scale = static_cast<T>(shape.scale());
  k.level = plan.level;
  k.Q = Q;
  k.K = K;
  k.V = V;
  k.dO = dO;
  k.dQ = dQ;
  k.dK = dK;
  k.dV = dV;
  const int teams = shape.B * shape.H * k.Tr;

  // G: teams resident at once on this backend, capped by the league and the workspace budget.
  const int team_size =
      detail::bwd::team_policy<ExecSpace>(space, 1, plan).team_size_recommended(k, Kokkos::ParallelForTag());
  const int threads_per_team = std::max(1, team_size * detail::bwd::vector_length<ExecSpace>());
  const std::size_t slice_bytes = 2 * std::size_t(Br) * std::size_t(shape.N_kv) * sizeof(T);
  int G = std::max(1, int(space.concurrency()) / threads_per_team);
  G = std::min(G, teams);
  G = int(std::max<std::size_t>(1, std::min<std::size_t>(G, kTiledBwdWorkspaceBudget / slice_bytes)));

  k.WS = typename Kernel::Workspace(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::tiled_bwd::S"),
                                    G, Br, shape.N_kv);
  k.WdP = typename Kernel::Workspace(
      Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::tiled_bwd::dP"), G, Br, shape.N_kv);
  for (int first = 0; first < teams; first += G) {
    k.team_offset = first;
    Kokkos::parallel_for("numlab::attention::tiled_bwd::query_tiles",
                         detail::bwd::team_policy<ExecSpace>(space, std::min(G, teams - first), plan), k);
  }
}

// Same, on a default instance of the views' execution space.
template <class T, class Mem>
void tiled_backward(AttentionShape const& shape, TileSizes tiles, detail::bwd::identity_t<Tensor4<const T, Mem>> Q,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> K, detail::bwd::identity_t<Tensor4<const T, Mem>> V,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> O, detail::bwd::identity_t<Tensor4<const T, Mem>> dO,
                    Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
  using ExecSpace = typename Tensor4<T, Mem>::execution_space;
  tiled_backward<ExecSpace, T, Mem>(ExecSpace{}, shape, tiles, Q, K, V, O, dO, dQ, dK, dV);
}

}  // namespace numlab::attention
