// SPDX-License-Identifier: MIT
// Kernel body of tiled_forward (the lab's "no online softmax"): one team per (b, h, query tile)
// builds the full score block of its rows in a global workspace slot, takes an exact softmax
// over the full rows, then P V tile by tile.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention::detail {

template <class ExecSpace, class T, class Mem>
struct TiledFwdKernel {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using RB = FwdRegisterBlock<ExecSpace, T>;

  AttentionShape shape;
  FwdTilePlan plan;
  T scale_log2;      // softmax scale * log2(e)
  int league_first;  // league index of this launch's team 0 (the league runs in chunks)
  Tensor4<const T, Mem> Q, K, V;
  Tensor4<T, Mem> O;
  Tensor3<T, Mem> L;  // may be empty
  // (G, BrP, Tc * BcP) score/probability blocks, one slot per team of a launch, each in panels
  // of R rows: element (r, c) of slot g at [g][r / R][c][r % R].
  Kokkos::View<T*, Mem> workspace;

  KOKKOS_FUNCTION std::size_t row_length() const { return std::size_t(plan.Tc) * plan.BcP; }

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    constexpr int R = RB::R, W = RB::W;
    int const Br = plan.Br, Bc = plan.Bc, D = plan.D;
    int const BrP = plan.BrP, BcP = plan.BcP, DP = plan.DP, ldKt = plan.ldKt;
    HeadTile const t = head_tile(league_first + member.league_rank(), shape.H, plan.Tr);
    int const q0 = t.tile * Br;
    int const q_len = imin(Br, shape.N - q0);

    T* buf[5];
    carve_scratch<ExecSpace, T>(member, plan.level, scratch_counts(TiledFwdTag{}, plan), buf);
    T* const Qp = buf[0];          // (BrP, D) in panels of R rows
    T* const KVs = buf[1];         // K^T (D, ldKt), or V (BcP, DP)
    T* const Os = buf[2];          // (BrP, DP)
    T* const m_row = buf[3];       // (BrP) row max, log2 units
    T* const l_row = m_row + BrP;  // (BrP) row sum
    std::size_t const q_panel = std::size_t(D) * R;
    std::size_t const s_panel = row_length() * R;  // panel stride of the workspace slot
    T* const Sfull = workspace.data() + std::size_t(member.league_rank()) * BrP * row_length();  // (BrP, Tc BcP)

    load_row_panels<R>(member, Q, t.b, t.h, q0, q_len, BrP, 0, D, D, Qp, q_panel);

    // Causal: K/V tiles past the last key of the tile's last row are skipped, not masked.
    int const kv_end = imin(shape.N_kv, shape.last_key(q0 + q_len - 1) + 1);
    int const Tc_visible = kv_end > 0 ? ceil_div(kv_end, Bc) : 0;

    // 1. S_i^full (BrP, Tc_visible BcP) = Q_i K^T, one K tile (in scratch) at a time.
    for (int j = 0; j < Tc_visible; ++j) {
      int const k0 = j * Bc;
      member.team_barrier();  // the previous tile's GEMM is done with KVs
      load_rows_transposed(member, K, t.b, t.h, k0, imin(Bc, shape.N_kv - k0), BcP, D, KVs, ldKt);
      member.team_barrier();
      team_gemm<R, W, GemmUpdate::overwrite, true>(member, BrP, BcP, D, Qp, q_panel, KVs, ldKt,
                                                   Sfull + std::size_t(j) * BcP * R, s_panel);
    }
    member.team_barrier();

    // 2. P_i = softmax(S_i^full) over each full row: exact max, exp, sum, normalise (no
    // rescaling: the whole row is at hand). Row r sees keys [0, n_valid) of the row; the row is
    // walked tile by tile so full tiles take the unmasked (vectorised) loops.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, BrP / R), [&](int rb) {
      T* const S_rb = Sfull + rb * s_panel;
      int n_valid[R];
      for (int i = 0; i < R; ++i) {
        int const r = rb * R + i;
        n_valid[i] = r < q_len ? imax(0, imin(shape.N_kv, shape.last_key(q0 + r) + 1)) : 0;
      }
      auto tile_valid = [&](int j, int(&nv)[R]) {
        for (int i = 0; i < R; ++i) nv[i] = imax(0, imin(Bc, n_valid[i] - j * Bc));  // padding columns Bc..BcP masked
      };
      T m[R], m_safe[R], l[R];
      for (int i = 0; i < R; ++i) m[i] = negative_infinity<T>();
      for (int j = 0; j < Tc_visible; ++j) {
        int nv[R];
        tile_valid(j, nv);
        RowBlock<T, R> const mx = visible_row_max(member, S_rb + std::size_t(j) * BcP * R, BcP, nv);
        for (int i = 0; i < R; ++i) m[i] = mx.v[i] > m[i] ? mx.v[i] : m[i];
      }
      for (int i = 0; i < R; ++i) {
        m_safe[i] = safe_max(m[i]);  // raw scores: exp2_rows subtracts, then scales
        l[i] = T(0);
      }
      for (int j = 0; j < Tc_visible; ++j) {
        int nv[R];
        tile_valid(j, nv);
        T* const P_j = S_rb + std::size_t(j) * BcP * R;
        exp2_rows(member, P_j, BcP, nv, scale_log2, m_safe);
        RowBlock<T, R> const sum = row_sum<R>(member, P_j, BcP);
        for (int i = 0; i < R; ++i) l[i] += sum.v[i];
      }
      T inv_l[R];
      for (int i = 0; i < R; ++i) inv_l[i] = l[i] > T(0) ? T(1) / l[i] : T(0);  // no key: P = 0
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, Tc_visible * BcP), [&](int c) {
        for (int i = 0; i < R; ++i) S_rb[c * R + i] *= inv_l[i];
      });
      Kokkos::single(Kokkos::PerThread(member), [&]() {
        for (int i = 0; i < R; ++i) {
          m_row[rb * R + i] = m[i];
          l_row[rb * R + i] = l[i];
        }
      });
    });

    // 3. O_i (BrP, DP) = P_i V, one V tile (in scratch) at a time.
    for (int j = 0; j < Tc_visible; ++j) {
      int const k0 = j * Bc;
      member.team_barrier();  // softmax rows done / the previous tile's GEMM is done with KVs
      load_rows(member, V, t.b, t.h, k0, imin(Bc, shape.N_kv - k0), BcP, D, KVs, DP);
      member.team_barrier();
      T const* P_j = Sfull + std::size_t(j) * BcP * R;
      if (j == 0)
        team_gemm<R, W, GemmUpdate::overwrite, false>(member, BrP, DP, BcP, P_j, s_panel, KVs, DP, Os, DP);
      else
        team_gemm<R, W, GemmUpdate::accumulate, false>(member, BrP, DP, BcP, P_j, s_panel, KVs, DP, Os, DP);
    }
    member.team_barrier();

    // 4. Store O_i and L_i = m_i ln 2 + ln l_i; a row that sees no key gets O = 0, L = -inf.
    bool const store_L = L.size() > 0;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, q_len), [&](int r) {
      T* out = &O(t.b, t.h, q0 + r, 0);
      if (Tc_visible > 0)
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { out[d] = Os[r * DP + d]; });
      else
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { out[d] = T(0); });
      if (store_L)
        Kokkos::single(Kokkos::PerThread(member), [&]() {
          OnlineSoftmax<T, 1> const stats(m_row + r, l_row + r);  // only for its finalize()
          L(t.b, t.h, q0 + r) = stats.finalize(0, scale_log2);
        });
    });
  }
};

}  // namespace numlab::attention::detail
