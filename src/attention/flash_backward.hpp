// SPDX-License-Identifier: MIT
// FlashAttention-2 backward (Dao 2023, Algorithm 2) as Kokkos team kernels.
// Inputs Q, K, V, O, dO and the forward's log-sum-exp L; outputs dQ, dK, dV (overwritten).
//   1. D_i = rowsum(dO_i o O_i), a [B,H,N] workspace (O(N)).
//   2. One team per (b, h, key tile j of Bc rows): K_j, V_j in team scratch; for every query
//      tile i of Br rows that is not entirely masked: P = exp(Q_i K_j^T scale - L_i),
//      dV_j += P^T dO_i, dP = dO_i V_j^T, dS = P o (dP - D_i), dK_j += dS^T Q_i scale,
//      and (FlashBwdDq::atomic) dQ_i += dS K_j scale by atomic adds. dK_j, dV_j live in
//      scratch and are written once: no atomics for them.
//   3. (FlashBwdDq::separate) one team per (b, h, query tile i) recomputes P and dS against
//      every key tile and writes dQ_i once: no floating-point atomics anywhere, so the result
//      is bitwise reproducible run to run, at 1.4x the flops (S and dP computed twice). With the
//      register-tiled key-tile pass, the dQ pass is register-tiled too
//      (detail/flash_bwd_dq_gpu_kernel.hpp, the forward's 64 x 64 tiling).
// No buffer of size N x N_kv: memory is O(N) beyond the inputs and outputs.
// The kernels are chosen by select_flash_backward (kernel_select.hpp): on a GPU, fp32 at D = 64 /
// 128 runs step 2 as the register-tiled kernel of detail/flash_bwd_gpu_kernel.hpp.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/bwd_common.hpp"
#include "attention/detail/flash_bwd_kernel.hpp"
#include "attention/detail/flash_bwd_gpu_kernel.hpp"
#include "attention/detail/flash_bwd_dq_gpu_kernel.hpp"
#include "attention/detail/fwd_backend.hpp"
#include "attention/kernel_select.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace numlab::attention {

template <class ExecSpace, class T>
FlashBwdSelection select_flash_backward(AttentionShape const& s, FlashBwdKernel kernel, TileSizes tiles) {
  FlashBwdSelection sel;
  if (detail::register_tiled_runs<ExecSpace, T>("numlab::attention::flash_backward", kernel, s.D, tiles)) {
    sel.kernel = FlashBwdKernel::register_tiled;
    sel.tiles = flash_bwd_gpu_tiles(s.D);
    sel.variant = "teams/SM " + std::to_string(detail::flash_gpu_min_teams_per_sm);
    // The dQ pass (dq separate): register-tiled, query-stationary, at the forward's tiles.
    sel.dq_tiles = TileSizes{detail::FlashBwdDqGpuGeometry::Br, detail::FlashBwdDqGpuGeometry::Bc};
    return sel;
  }
  sel.kernel = FlashBwdKernel::team_scratch;
  sel.tiles = sel.dq_tiles = fill_tiles(tiles, kDefaultBackwardTiles);
  sel.variant = "scalar team loops";
  return sel;
}

// dQ, dK, dV of attention with the kernels of `sel` (select_flash_backward).
template <class ExecSpace, class T, class Mem>
void flash_backward(ExecSpace const& space, AttentionShape const& shape, FlashBwdSelection const& sel,
                    FlashBwdDq dq_mode, detail::bwd::identity_t<Tensor4<const T, Mem>> Q,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> K, detail::bwd::identity_t<Tensor4<const T, Mem>> V,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> O, detail::bwd::identity_t<Tensor3<const T, Mem>> L,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> dO, Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK,
                    Tensor4<T, Mem> dV) {
  static_assert(Kokkos::is_execution_space<ExecSpace>::value, "flash_backward: ExecSpace must be an execution space");
  static_assert(detail::bwd::is_real_v<T>, "flash_backward: T must be float or double");
  static_assert(Kokkos::SpaceAccessibility<ExecSpace, Mem>::accessible,
                "flash_backward: the views' memory space must be accessible from ExecSpace");
  constexpr char const* who = "numlab::attention::flash_backward";
  TileSizes const tiles = sel.tiles;
  detail::bwd::check_shape_and_tiles(who, shape, tiles);
  detail::bwd::check_backward_views(who, shape, Q, K, V, O, dO, dQ, dK, dV);
  if (L.extent(0) != std::size_t(shape.B) || L.extent(1) != std::size_t(shape.H) || L.extent(2) != std::size_t(shape.N))
    throw std::invalid_argument(std::string(who) + ": L must have extents [B,H,N]");

  using Kernel = detail::bwd::FlashBwdKernel<ExecSpace, T, Mem>;
  const bool atomic = dq_mode == FlashBwdDq::atomic;
  const int D = shape.D;
  const bool gpu_kernel = sel.kernel == FlashBwdKernel::register_tiled;
  if (gpu_kernel) {
    if (auto why = register_tiled_backward_constraint<ExecSpace, T>(D, tiles); !why.empty())
      throw std::invalid_argument(std::string(who) + ": " + why);
    if (!(detail::all_contiguous(Q, K, V, dO, dQ, dK, dV)))
      throw std::invalid_argument(std::string(who) + ": kernel register_tiled needs contiguous views");
  }
  // The register-tiled dQ pass has its own fixed tiles and scratch (34,832 B, under the 40,936 B
  // Kokkos 4.6 gives a team on an H200).
  TileSizes const dq_tiles = atomic || gpu_kernel ? tiles : sel.dq_tiles;
  // A tile never needs more rows than the problem has: clipping keeps small problems within
  // the scratch limit whatever tiles were asked for.
  const int Br = std::max(1, std::min(dq_tiles.tile_q, shape.N));
  const int Bc = std::max(1, std::min(dq_tiles.tile_k, shape.N_kv));
  // Validate every pass's scratch before launching anything.
  const auto kv_plan =
      gpu_kernel ? detail::bwd::ScratchPlan{}
                 : detail::bwd::plan_scratch<ExecSpace, T>(who, Kernel::kv_scratch_bytes(Br, Bc, D, atomic), tiles, D);
  const auto dq_plan =
      atomic || gpu_kernel ? detail::bwd::ScratchPlan{}
             : detail::bwd::plan_scratch<ExecSpace, T>(who, Kernel::dq_scratch_bytes(Br, Bc, D), dq_tiles, D);

  if (shape.B == 0 || shape.H == 0 || shape.N == 0 || shape.N_kv == 0) {
    // No query rows or no keys: every gradient is zero (a row that sees no key has P = 0).
    Kokkos::deep_copy(space, dQ, T(0));
    Kokkos::deep_copy(space, dK, T(0));
    Kokkos::deep_copy(space, dV, T(0));
    return;
  }

  Kernel k;
  k.s = shape;
  k.Br = Br;
  k.Bc = Bc;
  k.D = D;
  k.Tr = detail::bwd::ceil_div(shape.N, Br);
  k.Tc = detail::bwd::ceil_div(shape.N_kv, Bc);
  k.scale = static_cast<T>(shape.scale());
  k.atomic_dq = atomic;
  k.Q = Q;
  k.K = K;
  k.V = V;
  k.O = O;
  k.dO = dO;
  k.L = L;
  k.dQ = dQ;
  k.dK = dK;
  k.dV = dV;
  k.Dvec = Tensor3<T, Mem>(Kokkos::view_alloc(Kokkos::WithoutInitializing, "numlab::attention::flash_bwd::D_i"),
                           shape.B, shape.H, shape.N);
  const int BH = shape.B * shape.H;

  Kokkos::parallel_for("numlab::attention::flash_bwd::row_dot",
                       detail::bwd::team_policy<ExecSpace, detail::bwd::FlashBwdRowDotTag>(space, BH * k.Tr, {}), k);
  if (atomic) Kokkos::deep_copy(space, dQ, T(0));
  if (gpu_kernel) {
    if constexpr (!detail::is_host_exec_v<ExecSpace> && std::is_same_v<T, float>) {
      if (D == 64) {
        detail::launch_flash_bwd_gpu<ExecSpace, Mem, 64>(space, shape, atomic, Q, K, V, dO, L, k.Dvec, dQ, dK, dV);
        if (!atomic) detail::launch_flash_bwd_dq_gpu<ExecSpace, Mem, 64>(space, shape, Q, K, V, dO, L, k.Dvec, dQ);
      } else {
        detail::launch_flash_bwd_gpu<ExecSpace, Mem, 128>(space, shape, atomic, Q, K, V, dO, L, k.Dvec, dQ, dK, dV);
        if (!atomic) detail::launch_flash_bwd_dq_gpu<ExecSpace, Mem, 128>(space, shape, Q, K, V, dO, L, k.Dvec, dQ);
      }
    }
  } else {
    k.level = kv_plan.level;
    Kokkos::parallel_for("numlab::attention::flash_bwd::key_tiles",
                         detail::bwd::team_policy<ExecSpace, detail::bwd::FlashBwdKvTag>(space, BH * k.Tc, kv_plan), k);
  }
  if (!atomic && !gpu_kernel) {
    k.level = dq_plan.level;
    Kokkos::parallel_for("numlab::attention::flash_bwd::query_tiles",
                         detail::bwd::team_policy<ExecSpace, detail::bwd::FlashBwdDqTag>(space, BH * k.Tr, dq_plan), k);
  }
}

// With the kernel select_flash_backward picks for `tiles` (kernel auto).
template <class ExecSpace, class T, class Mem>
void flash_backward(ExecSpace const& space, AttentionShape const& shape, TileSizes tiles, FlashBwdDq dq_mode,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> Q, detail::bwd::identity_t<Tensor4<const T, Mem>> K,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> V, detail::bwd::identity_t<Tensor4<const T, Mem>> O,
                    detail::bwd::identity_t<Tensor3<const T, Mem>> L, detail::bwd::identity_t<Tensor4<const T, Mem>> dO,
                    Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
  FlashBwdSelection sel = select_flash_backward<ExecSpace, T>(shape, FlashBwdKernel::automatic, tiles);
  // The register-tiled kernel reads contiguous views; others take the team-scratch kernel.
  if (sel.kernel == FlashBwdKernel::register_tiled &&
      !(detail::all_contiguous(Q, K, V, dO, dQ, dK, dV)))
    sel = select_flash_backward<ExecSpace, T>(shape, FlashBwdKernel::team_scratch, tiles);
  flash_backward<ExecSpace, T, Mem>(space, shape, sel, dq_mode, Q, K, V, O, L, dO, dQ, dK, dV);
}

// Same, on a default instance of the views' execution space.
template <class T, class Mem>
void flash_backward(AttentionShape const& shape, TileSizes tiles, FlashBwdDq dq_mode,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> Q, detail::bwd::identity_t<Tensor4<const T, Mem>> K,
                    detail::bwd::identity_t<Tensor4<const T, Mem>> V, detail::bwd::identity_t<Tensor4<const T, Mem>> O,
                    detail::bwd::identity_t<Tensor3<const T, Mem>> L, detail::bwd::identity_t<Tensor4<const T, Mem>> dO,
                    Tensor4<T, Mem> dQ, Tensor4<T, Mem> dK, Tensor4<T, Mem> dV) {
  using ExecSpace = typename Tensor4<T, Mem>::execution_space;
  flash_backward<ExecSpace, T, Mem>(ExecSpace{}, shape, tiles, dq_mode, Q, K, V, O, L, dO, dQ, dK, dV);
}

}  // namespace numlab::attention
