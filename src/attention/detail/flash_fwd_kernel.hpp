// SPDX-License-Identifier: MIT
// Kernel body of flash_forward: one team per (b, h, query tile), one pass over the K/V tiles with
// the online softmax, everything in team scratch.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention::detail {

template <class ExecSpace, class T, class Mem>
struct FlashFwdKernel {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using RB = FwdRegisterBlock<ExecSpace, T>;

  AttentionShape shape;
  FwdTilePlan plan;
  T scale_log2;  // softmax scale * log2(e)
  Tensor4<const T, Mem> Q, K, V;
  Tensor4<T, Mem> O;
  Tensor3<T, Mem> L;  // may be empty

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    constexpr int R = RB::R, W = RB::W;
    int const Br = plan.Br, Bc = plan.Bc, D = plan.D;
    int const BrP = plan.BrP, BcP = plan.BcP, DP = plan.DP, ldKt = plan.ldKt;
    HeadTile const t = head_tile(member.league_rank(), shape.H, plan.Tr);
    int const q0 = t.tile * Br;
    int const q_len = imin(Br, shape.N - q0);

    T* buf[5];
    carve_scratch<ExecSpace, T>(member, plan.level, scratch_counts(FlashFwdTag{}, plan), buf);
    T* const Qp = buf[0];        // (BrP, D) in panels of R rows
    T* const KVs = buf[1];       // K^T (D, ldKt), then V (BcP, DP)
    T* const Sp = buf[2];        // (BrP, BcP) in panels: scores S, then probabilities P
    T* const Os = buf[3];        // (BrP, DP): unnormalised O accumulator
    T* const m_i = buf[4];       // (BrP) running max of the raw scores
    T* const l_i = m_i + BrP;    // (BrP) running sum
    T* const alpha = l_i + BrP;  // (BrP) accumulator rescale factor of the current tile
    std::size_t const q_panel = std::size_t(D) * R, s_panel = std::size_t(BcP) * R;

    load_row_panels<R>(member, Q, t.b, t.h, q0, q_len, BrP, 0, D, D, Qp, q_panel);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, BrP / R), [&](int rb) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, R * DP), [&](int e) { Os[rb * R * DP + e] = T(0); });
      Kokkos::single(Kokkos::PerThread(member), [&]() { OnlineSoftmax<T, R>().store(m_i + rb * R, l_i + rb * R); });
    });

    // Causal: the last row of the tile sees the most keys; K/V tiles past its last key are
    // entirely above the diagonal for every row of the tile and are skipped, not masked.
    int const kv_end = imin(shape.N_kv, shape.last_key(q0 + q_len - 1) + 1);
    int const Tc_visible = kv_end > 0 ? ceil_div(kv_end, Bc) : 0;

    for (int j = 0; j < Tc_visible; ++j) {
      int const k0 = j * Bc;
      int const kv_len = imin(Bc, shape.N_kv - k0);
      member.team_barrier();  // the previous P V is done with KVs
      load_rows_transposed(member, K, t.b, t.h, k0, kv_len, BcP, D, KVs, ldKt);
      member.team_barrier();

      // S (BrP, BcP) = Q (BrP, D) K^T (D, BcP), raw q . k (the scale is folded into exp2).
      team_gemm<R, W, GemmUpdate::overwrite, true>(member, BrP, BcP, D, Qp, q_panel, KVs, ldKt, Sp, s_panel);
      member.team_barrier();

      // Online softmax per block of R rows; the visible keys of a row form the prefix
      // [0, n_valid) of the tile (clip of the last tile, causal diagonal). Padding rows see none.
      Kokkos::parallel_for(Kokkos::TeamThreadRange(member, BrP / R), [&](int rb) {
        int n_valid[R];
        for (int i = 0; i < R; ++i) {
          int const r = rb * R + i;
          n_valid[i] = r < q_len ? imax(0, imin(kv_len, shape.last_key(q0 + r) + 1 - k0)) : 0;
        }
        OnlineSoftmax<T, R> sm(m_i + rb * R, l_i + rb * R);
        T a[R];
        sm.rescale(member, Sp + rb * s_panel, BcP, n_valid, scale_log2, a);
        Kokkos::single(Kokkos::PerThread(member), [&]() {
          sm.store(m_i + rb * R, l_i + rb * R);
          for (int i = 0; i < R; ++i) alpha[rb * R + i] = a[i];
        });
      });
      // V replaces K^T (S no longer needs it); no barrier needed against the softmax rows,
      // which touch Sp and the row statistics only.
      load_rows(member, V, t.b, t.h, k0, kv_len, BcP, D, KVs, DP);
      member.team_barrier();

      // O~ (BrP, DP) = diag(alpha) O~ + P (BrP, BcP) V (BcP, DP)
      team_gemm<R, W, GemmUpdate::rescale_accumulate, false>(member, BrP, DP, BcP, Sp, s_panel, KVs, DP, Os, DP, alpha);
    }
    member.team_barrier();

    // O = O~ / l_i (one division per row), L_i = m_i scale ln 2 + ln l_i; a row that saw no key
    // (causal, N > N_kv) gets O = 0 and L = -inf.
    bool const store_L = L.size() > 0;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, q_len), [&](int r) {
      OnlineSoftmax<T, 1> const sm(m_i + r, l_i + r);
      T const inv_l = sm.inv_l(0);
      T* out = &O(t.b, t.h, q0 + r, 0);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { out[d] = Os[r * DP + d] * inv_l; });
      if (store_L) Kokkos::single(Kokkos::PerThread(member), [&]() { L(t.b, t.h, q0 + r) = sm.finalize(0, scale_log2); });
    });
  }
};

}  // namespace numlab::attention::detail
