// SPDX-License-Identifier: MIT
// Method `flash`: FlashAttention-2 forward. One pass over K/V with the online softmax, one team
// per (b, h, query tile), the Q tile and the current K/V tile in team scratch, no global
// workspace: O(N D) memory beyond the inputs and outputs.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/flash_fwd_gpu_kernel.hpp"
#include "attention/detail/flash_fwd_kernel.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/kernel_select.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention {

// O = softmax(Q K^T * scale [+ causal mask]) V and L = log-sum-exp per row of the scaled scores
// (natural log; L may be an empty View). Q, O: [B,H,N,D]; K, V: [B,H,N_kv,D]; L: [B,H,N].
// The kernel and its tiles come from select_flash_forward (kernel_select.hpp): tile_q query rows
// per team (Br), tile_k keys per scratch tile (Bc); team_scratch tiles must fit the team scratch
// (plan_forward_tiles throws std::invalid_argument otherwise). The softmax statistics are kept in
// T. Asynchronous on `space` (fence before reading O, L).
template <class ExecSpace, class T, class Mem>
void flash_forward(ExecSpace const& space, AttentionShape const& shape, FlashFwdSelection const& sel,
                   Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K, Tensor4<const T, Mem> V, Tensor4<T, Mem> O,
                   Tensor3<T, Mem> L) {
  detail::static_check_forward<ExecSpace, T, Mem>();
  char const* who = "numlab::attention::flash_forward";
  detail::check_forward_extents(who, shape, Q, K, V, O, L);
  if (sel.kernel == FlashFwdKernel::register_tiled) {
    if (auto why = register_tiled_forward_constraint<ExecSpace, T>(shape.D, sel.tiles); !why.empty())
      throw std::invalid_argument(std::string(who) + ": " + why);
    if (!(detail::all_contiguous(Q, K, V, O)))
      throw std::invalid_argument(std::string(who) + ": kernel register_tiled needs contiguous views");
    if constexpr (!detail::is_host_exec_v<ExecSpace> && std::is_same_v<T, float>) {
      if (shape.D == 64)
        detail::launch_flash_fwd_gpu<ExecSpace, Mem, 64>(space, shape, Q, K, V, O, L);
      else
        detail::launch_flash_fwd_gpu<ExecSpace, Mem, 128>(space, shape, Q, K, V, O, L);
    }
    return;
  }
  if (sel.kernel != FlashFwdKernel::team_scratch)
    throw std::invalid_argument(std::string(who) + ": kernel " + enum_name(sel.kernel) +
                                " is not a Kokkos kernel (use select_flash_forward)");
  FwdTilePlan const plan = plan_forward_tiles<ExecSpace, T>(FlashFwdTag{}, shape, sel.tiles);
  int const league = shape.B * shape.H * plan.Tr;
  if (league == 0) return;
  Kokkos::Profiling::pushRegion(who);
  detail::FlashFwdKernel<ExecSpace, T, Mem> kernel{shape, plan, softmax_scale_log2<T>(shape.scale()), Q, K, V, O, L};
  Kokkos::parallel_for("numlab::attention::flash_fwd", detail::forward_policy(space, league, plan, plan.scratch_bytes),
                       kernel);
  Kokkos::Profiling::popRegion();
}

// With the kernel select_flash_forward picks for `tiles` (kernel auto; the team-scratch kernel
// where the views are not contiguous).
template <class ExecSpace, class T, class Mem>
void flash_forward(ExecSpace const& space, AttentionShape const& shape, TileSizes tiles, Tensor4<const T, Mem> Q,
                   Tensor4<const T, Mem> K, Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  FlashFwdSelection sel = select_flash_forward<ExecSpace, T>(shape, FlashFwdKernel::automatic, tiles);
  if (sel.kernel == FlashFwdKernel::register_tiled &&
      !(detail::all_contiguous(Q, K, V, O)))
    sel = select_flash_forward<ExecSpace, T>(shape, FlashFwdKernel::team_scratch, tiles);
  flash_forward<ExecSpace, T, Mem>(space, shape, sel, Q, K, V, O, L);
}

// Same, on a default instance of Mem's execution space.
template <class T, class Mem>
void flash_forward(AttentionShape const& shape, TileSizes tiles, Tensor4<const T, Mem> Q, Tensor4<const T, Mem> K,
                   Tensor4<const T, Mem> V, Tensor4<T, Mem> O, Tensor3<T, Mem> L) {
  flash_forward<typename Mem::execution_space, T, Mem>(typename Mem::execution_space{}, shape, tiles, Q, K, V, O, L);
}

}  // namespace numlab::attention
