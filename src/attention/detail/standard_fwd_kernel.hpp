// SPDX-License-Identifier: MIT
// Kernel bodies of standard_forward, the O(N^2) baseline: S = Q K^T * scale into a global
// [B,H,N,N_kv] View (team-tiled), P = softmax(S) row by row into a second one, then O = P V
// (team-tiled). Tag-dispatched operator() overloads of one functor.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_tiles.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

namespace numlab::attention::detail {

struct ScoresTag {};
struct SoftmaxTag {};
struct PVTag {};

template <class ExecSpace, class T, class Mem>
struct StandardFwdKernel {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using RB = FwdRegisterBlock<ExecSpace, T>;

  AttentionShape shape;
  FwdTilePlan plan;
  T scale;
  Tensor4<const T, Mem> Q, K, V;
  Tensor4<T, Mem> O;
  Tensor3<T, Mem> L;     // may be empty
  Tensor4<T, Mem> S, P;  // [B,H,N,N_kv]

  // Keys visible from the tile's last query row (causal), clipped to N_kv.
  KOKKOS_FUNCTION int visible_keys(int q0, int q_len) const {
    return imin(shape.N_kv, shape.last_key(q0 + q_len - 1) + 1);
  }

  // S tile (b, h, q tile, k tile) = Q_i K_j^T * scale; tiles above the causal diagonal are
  // skipped (the softmax never reads them).
  KOKKOS_FUNCTION void operator()(ScoresTag, member_type const& member) const {
    constexpr int R = RB::R, W = RB::W;
    int const Br = plan.Br, Bc = plan.Bc, D = plan.D, BrP = plan.BrP, BcP = plan.BcP;
    HeadTile const t = head_tile(member.league_rank() / plan.Tc, shape.H, plan.Tr);
    int const q0 = t.tile * Br, q_len = imin(Br, shape.N - q0);
    int const k0 = (member.league_rank() % plan.Tc) * Bc, kv_len = imin(Bc, shape.N_kv - k0);
    if (k0 >= visible_keys(q0, q_len)) return;

    T* buf[5];
    carve_scratch<ExecSpace, T>(member, plan.level, scratch_counts_scores(plan), buf);
    T* const Qp = buf[0];  // (BrP, D) in panels
    T* const Kt = buf[1];  // (D, ldKt)
    T* const St = buf[2];  // (BrP, BcP) in panels
    std::size_t const q_panel = std::size_t(D) * R, s_panel = std::size_t(BcP) * R;

    load_row_panels<R>(member, Q, t.b, t.h, q0, q_len, BrP, 0, D, D, Qp, q_panel);
    load_rows_transposed(member, K, t.b, t.h, k0, kv_len, BcP, D, Kt, plan.ldKt);
    member.team_barrier();
    team_gemm<R, W, GemmUpdate::overwrite, true>(member, BrP, BcP, D, Qp, q_panel, Kt, plan.ldKt, St, s_panel);
    member.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, q_len), [&](int r) {
      T const* in = St + (r / R) * s_panel + r % R;
      T* out = &S(t.b, t.h, q0 + r, k0);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, kv_len), [&](int c) { out[c] = in[c * R] * scale; });
    });
  }

  // P row i = softmax of S row i over its visible keys (exp of S - max, divided by the sum);
  // L_i = max + ln(sum). Teams of Br rows, one thread per row, lanes along the row.
  KOKKOS_FUNCTION void operator()(SoftmaxTag, member_type const& member) const {
    HeadTile const t = head_tile(member.league_rank(), shape.H, plan.Tr);
    int const q0 = t.tile * plan.Br, q_len = imin(plan.Br, shape.N - q0);
    bool const store_L = L.size() > 0;
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, q_len), [&](int r) {
      int const i = q0 + r;
      int const n_valid = imax(0, imin(shape.N_kv, shape.last_key(i) + 1));
      T const* s = &S(t.b, t.h, i, 0);
      T* p = &P(t.b, t.h, i, 0);
      T m = negative_infinity<T>();
      if (n_valid > 0)
        Kokkos::parallel_reduce(
            Kokkos::ThreadVectorRange(member, n_valid), [&](int j, T& mx) { mx = s[j] > mx ? s[j] : mx; },
            Kokkos::Max<T>(m));
      T sum = 0;
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(member, n_valid),
          [&](int j, T& acc) {
            T const e = numlab::kx::exp(s[j] - m);
            p[j] = e;
            acc += e;
          },
          sum);
      T const inv_sum = sum > T(0) ? T(1) / sum : T(0);  // a row that sees no key: P = 0
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n_valid), [&](int j) { p[j] *= inv_sum; });
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, n_valid, shape.N_kv), [&](int j) { p[j] = T(0); });
      if (store_L)
        Kokkos::single(Kokkos::PerThread(member),
                       [&]() { L(t.b, t.h, i) = sum > T(0) ? m + numlab::kx::log(sum) : negative_infinity<T>(); });
    });
  }

  // O tile (b, h, q tile) = P_i V, P and V tiles staged in scratch; P tiles above the causal
  // diagonal (all zero) are skipped.
  KOKKOS_FUNCTION void operator()(PVTag, member_type const& member) const {
    constexpr int R = RB::R, W = RB::W;
    int const Br = plan.Br, Bc = plan.Bc, D = plan.D, BrP = plan.BrP, BcP = plan.BcP, DP = plan.DP;
    HeadTile const t = head_tile(member.league_rank(), shape.H, plan.Tr);
    int const q0 = t.tile * Br, q_len = imin(Br, shape.N - q0);
    int const kv_end = visible_keys(q0, q_len);
    int const Tc_visible = kv_end > 0 ? ceil_div(kv_end, Bc) : 0;

    T* buf[5];
    carve_scratch<ExecSpace, T>(member, plan.level, scratch_counts_pv(plan), buf);
    T* const Pp = buf[0];  // (BrP, BcP) in panels
    T* const Vs = buf[1];  // (BcP, DP)
    T* const Os = buf[2];  // (BrP, DP)
    std::size_t const p_panel = std::size_t(BcP) * R;

    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, BrP / R), [&](int rb) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, R * DP), [&](int e) { Os[rb * R * DP + e] = T(0); });
    });
    for (int j = 0; j < Tc_visible; ++j) {
      int const k0 = j * Bc, kv_len = imin(Bc, shape.N_kv - k0);
      member.team_barrier();  // the previous GEMM is done with Pp, Vs
      load_row_panels<R>(member, P, t.b, t.h, q0, q_len, BrP, k0, kv_len, BcP, Pp, p_panel);
      load_rows(member, V, t.b, t.h, k0, kv_len, BcP, D, Vs, DP);
      member.team_barrier();
      team_gemm<R, W, GemmUpdate::accumulate, false>(member, BrP, DP, BcP, Pp, p_panel, Vs, DP, Os, DP);
    }
    member.team_barrier();
    Kokkos::parallel_for(Kokkos::TeamThreadRange(member, q_len), [&](int r) {
      T* out = &O(t.b, t.h, q0 + r, 0);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(member, D), [&](int d) { out[d] = Os[r * DP + d]; });
    });
  }
};

}  // namespace numlab::attention::detail
