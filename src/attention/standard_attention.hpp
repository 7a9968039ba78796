// SPDX-License-Identifier: MIT
// Method `standard`: the lab's baseline. Materialises S = Q K^T * scale and P = softmax(S) as
// [B,H,N,N_kv] Views: O(N^2) memory on purpose. S and O = P V are team-tiled kernels (tiles
// staged in team scratch), the softmax is parallel over (b, h, row) with the library exp.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/detail/standard_fwd_kernel.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

#include <string>

namespace numlab::attention {

// O = softmax(Q K^T * scale [+ causal mask]) V and L = log-sum-exp per row of the scaled scores
// (natural log; L may be an empty View). Q, O: [B,H,N,D]; K, V: [B,H,N_kv,D]; L: [B,H,N].
// Tiles of the two GEMM kernels from default_forward_tiles. Allocates S and P itself
// (WithoutInitializing) and fences `space` before freeing them.
template <class ExecSpace, class T, class Mem>
void standard_forward(ExecSpace const& space, AttentionShape const& shape, Tensor4<const T, Mem> Q,
                      Tensor4<const T, Mem> K, Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  detail::static_check_forward<ExecSpace, T, Mem>();
  char const* who = "numlab::attention::standard_forward";
  detail::check_forward_extents(who, shape, Q, K, V, O, L);
  FwdTilePlan const plan = plan_forward_tiles<ExecSpace, T>(
      StandardFwdTag{}, shape, default_forward_tiles<ExecSpace, T>(shape.D, StandardFwdTag{}));
  int const league_rows = shape.B * shape.H * plan.Tr;
  if (league_rows == 0) return;
  Kokkos::Profiling::pushRegion(who);
  using Kernel = detail::StandardFwdKernel<ExecSpace, T, Mem>;
  auto alloc = [&](std::string const& label) {
    return Tensor4<T, Mem>(Kokkos::view_alloc(space, Kokkos::WithoutInitializing, label), shape.B, shape.H, shape.N,
                           shape.N_kv);
  };
  Kernel kernel{shape,
                plan,
                T(shape.scale()),
                Q,
                K,
                V,
                O,
                L,
                alloc("numlab::attention::standard_fwd::S"),
                alloc("numlab::attention::standard_fwd::P")};
  if (shape.N_kv > 0) {
    auto const scores_bytes = detail::scratch_bytes<ExecSpace, T>(detail::scratch_counts_scores(plan));
    Kokkos::parallel_for("numlab::attention::standard_fwd::scores",
                         detail::forward_policy<detail::ScoresTag>(space, league_rows * plan.Tc, plan, scores_bytes),
                         kernel);
  }
  Kokkos::parallel_for("numlab::attention::standard_fwd::softmax",
                       detail::forward_policy<detail::SoftmaxTag>(space, league_rows, plan, 0), kernel);
  auto const pv_bytes = detail::scratch_bytes<ExecSpace, T>(detail::scratch_counts_pv(plan));
  Kokkos::parallel_for("numlab::attention::standard_fwd::pv",
                       detail::forward_policy<detail::PVTag>(space, league_rows, plan, pv_bytes), kernel);
  space.fence();  // before S and P are freed
  Kokkos::Profiling::popRegion();
}

// Same, on a default instance of Mem's execution space.
template <class T, class Mem>
void standard_forward(AttentionShape const& shape, Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K,
                      Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  standard_forward<typename Mem::execution_space, T, Mem>(typename Mem::execution_space{}, shape, Q, K, V, O, L);
}

}  // namespace numlab::attention
