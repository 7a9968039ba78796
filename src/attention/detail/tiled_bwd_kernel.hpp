// SPDX-License-Identifier: MIT
// Kernel body of the seed pseudo-code's tiled backward (launch: attention/tiled_backward.hpp).
// One team per (b, h, query tile i of Br rows), in three phases:
//   A. for each key tile j (K_j^T, V_j^T staged in scratch): the scores S_ij = Q_i K_j^T and
//      dP_ij = dO_i V_j^T go into the team's slice of a Br x N_kv workspace ("S_i^full");
//   B. per row: P_i = softmax(S_i^full scale), D_i = rowsum(dP_i o P_i), dS_i = P_i o (dP_i - D_i);
//   C. for each key tile j (K_j staged): dV_j += P_ij^T dO_i and dK_j += dS_ij^T Q_i scale by
//      atomics (every query tile adds into the same dK, dV rows), dQ_i += dS_ij K_j scale in
//      scratch, written once.
// The workspace is 2 x G x Br x N_kv: only G teams run at a time (the launch processes the
// league in chunks of G), each on its own slice.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/bwd_common.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail::bwd {

template <class ExecSpace, class T, class Mem>
struct TiledBwdKernel {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using Tile = ScratchTile<ExecSpace, T>;
  using Workspace = Kokkos::View<T***, Kokkos::LayoutRight, Mem>;  // (G, Br, N_kv)

  AttentionShape s;
  int Br = 0, Bc = 0, D = 0, Tr = 0;
  T scale = T(1);
  int level = 0;        // team scratch level (ScratchPlan)
  int team_offset = 0;  // first team of the current chunk; league_rank() is the workspace slot
  Tensor4<const T, Mem> Q, K, V, dO;
  Tensor4<T, Mem> dQ, dK, dV;
  Workspace WS, WdP;  // S_i^full then P_i; dP_i then dS_i

  static std::size_t scratch_bytes(int Br, int Bc, int D) {
    return 3 * scratch_tile_bytes<ExecSpace, T>(Br, D)     // Q_i, dO_i, dQ_i
           + 3 * scratch_tile_bytes<ExecSpace, T>(Bc, D);  // K_j^T / K_j, V_j^T / dK_j partial, dV_j partial
  }

  KOKKOS_INLINE_FUNCTION void operator()(member_type const& m) const {
    const int slot = m.league_rank();
    const int t = team_offset + slot;
    // Heads vary fastest: the teams in flight together (a chunk of G) add into different heads'
    // dK/dV where there are enough heads. With query tiles fastest, the two threads of a host
    // both added every element of one head's dK/dV at the same time: the contended atomics made
    // two threads 4x slower than one.
    const int BH = s.B * s.H;
    const int bh = t % BH, i = t / BH;
    const int b = bh / s.H, h = bh % s.H;
    const int q0 = i * Br, nr = imin(Br, s.N - q0);

    auto scr = m.team_scratch(level);
    Tile Qs(scr, Br, D), dOs(scr, Br, D), dQs(scr, Br, D);  // (Br, D)
    Tile buf0(scr, Bc, D), buf1(scr, Bc, D), dVp(scr, Bc, D);
    // Phase A reads K_j^T, V_j^T (D, Bc); phase C reuses their memory for K_j and dK_j's partial (Bc, D).
    Tile Kt(buf0.data(), D, Bc), Vt(buf1.data(), D, Bc);
    Tile Ks(buf0.data(), Bc, D), dKp(buf1.data(), Bc, D);

    T* const S_full = &WS(slot, 0, 0);    // (Br, N_kv) row-major
    T* const dP_full = &WdP(slot, 0, 0);  // (Br, N_kv)
    const int ldw = s.N_kv;

    // Causal: key tiles past the last key the tile's last row sees are entirely masked.
    const int ncols = clamp_int(s.last_key(q0 + nr - 1) + 1, 0, s.N_kv);
    const int j_end = ceil_div(ncols, Bc);

    load_rows(m, Q, b, h, q0, nr, D, Qs.data(), D);
    load_rows(m, dO, b, h, q0, nr, D, dOs.data(), D);
    zero_tile(m, dQs.data(), nr, D, D);

    // ---- A: S_i^full and dP_i, tile by tile (only the columns each row sees are written)
    for (int j = 0; j < j_end; ++j) {
      const int k0 = j * Bc, nc = imin(Bc, s.N_kv - k0);
      m.team_barrier();  // previous users of the K/V tiles are done
      load_rows_transposed(m, K, b, h, k0, nc, D, Kt.data(), Bc);
      load_rows_transposed(m, V, b, h, k0, nc, D, Vt.data(), Bc);
      m.team_barrier();
      // Rows in pairs sharing the K_j^T, V_j^T loads; the pair runs to its longer row, so a row
      // may get one score past its last visible key: phase B zeroes it.
      for_row_pairs(m, nr, [&](int r, bool pair) {
        const int len = imax(visible_cols(s, q0 + r, k0, nc), pair ? visible_cols(s, q0 + r + 1, k0, nc) : 0);
        const int r2 = pair ? r + 1 : r;
        T* sA = S_full + r * ldw + k0;  // (len) rows r, r + 1
        T* sB = S_full + r2 * ldw + k0;
        T* pA = dP_full + r * ldw + k0;
        T* pB = dP_full + r2 * ldw + k0;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len), [=](int c) {
          sA[c] = sB[c] = T(0);
          pA[c] = pB[c] = T(0);
        });
        rows_axpy(m, pair, D, &Qs(r, 0), &Qs(r2, 0), 1, Kt.data(), Bc, len, sA, sB);
        rows_axpy(m, pair, D, &dOs(r, 0), &dOs(r2, 0), 1, Vt.data(), Bc, len, pA, pB);
      });
    }
    m.team_barrier();

    // ---- B: P_i = softmax(S_i^full scale) over the n visible keys, D_i, dS_i; one thread per
    // row. Masked columns up to ncols get P = dS = 0: the paired products of phase C read them.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
      const int n = visible_cols(s, q0 + r, 0, ncols);
      T* srow = S_full + r * ldw;
      T* prow = dP_full + r * ldw;
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, n, ncols), [=](int c) { srow[c] = prow[c] = T(0); });
      if (n == 0) return;  // fully masked row
      T mx = srow[0];
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(m, n), [&](int c, T& acc) { acc = srow[c] > acc ? srow[c] : acc; },
          Kokkos::Max<T>(mx));
      const T sc = scale, ms = mx * sc;
      T l = T(0);
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(m, n),
          [&](int c, T& acc) {
            const T e = kx::exp(softmax_exponent(srow[c] * sc - ms));
            srow[c] = e;
            acc += e;
          },
          l);
      const T inv_l = T(1) / l;
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, n), [&](int c) { srow[c] *= inv_l; });
      T Di = T(0);
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(m, n), [&](int c, T& acc) { acc += prow[c] * srow[c]; }, Di);
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, n), [&](int c) { prow[c] = srow[c] * (prow[c] - Di); });
    });

    // ---- C: dV, dK by atomics, dQ_i in scratch, tile by tile
    for (int j = 0; j < j_end; ++j) {
      const int k0 = j * Bc, nc = imin(Bc, s.N_kv - k0);
      m.team_barrier();  // phase B / the previous tile's users are done
      load_rows(m, K, b, h, k0, nc, D, Ks.data(), D);
      m.team_barrier();
      // dV_j += P_ij^T dO_i, dK_j += dS_ij^T Q_i scale: one thread per pair of key rows, query
      // rows that see neither key skipped; other query tiles add into the same rows, hence atomics.
      // Keys at or past ncols are seen by no row of the tile (and their workspace columns hold
      // nothing): they add nothing.
      for_row_pairs(m, imin(nc, ncols - k0), [&](int c, bool pair) {
        const int r0 = first_row_seeing(s, k0 + c, q0, nr);
        if (r0 == nr) return;
        const int c2 = pair ? c + 1 : c;
        T* dvA = &dVp(c, 0);  // (D) key rows c, c + 1
        T* dvB = &dVp(c2, 0);
        T* dkA = &dKp(c, 0);
        T* dkB = &dKp(c2, 0);
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [=](int d) {
          dvA[d] = dvB[d] = T(0);
          dkA[d] = dkB[d] = T(0);
        });
        T const* P0 = S_full + r0 * ldw + k0;  // P_i from row r0, column c (stride ldw)
        T const* dS0 = dP_full + r0 * ldw + k0;
        rows_axpy(m, pair, nr - r0, P0 + c, P0 + c2, ldw, &dOs(r0, 0), D, D, dvA, dvB);
        rows_axpy(m, pair, nr - r0, dS0 + c, dS0 + c2, ldw, &Qs(r0, 0), D, D, dkA, dkB);
        const T sc = scale;
        Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) {
          Kokkos::atomic_add(&dV(b, h, k0 + c, d), dvA[d]);
          Kokkos::atomic_add(&dK(b, h, k0 + c, d), sc * dkA[d]);
          if (pair) {
            Kokkos::atomic_add(&dV(b, h, k0 + c2, d), dvB[d]);
            Kokkos::atomic_add(&dK(b, h, k0 + c2, d), sc * dkB[d]);
          }
        });
      });
      // dQ_i += dS_ij K_j: this team owns the rows of dQ_i.
      for_row_pairs(m, nr, [&](int r, bool pair) {
        const int nv = imax(visible_cols(s, q0 + r, k0, nc), pair ? visible_cols(s, q0 + r + 1, k0, nc) : 0);
        const int r2 = pair ? r + 1 : r;
        rows_axpy(m, pair, nv, dP_full + r * ldw + k0, dP_full + r2 * ldw + k0, 1, Ks.data(), D, D, &dQs(r, 0),
                  &dQs(r2, 0));
      });
    }
    m.team_barrier();

    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) { dQ(b, h, q0 + r, d) = scale * dQs(r, d); });
    });
  }
};

}  // namespace numlab::attention::detail::bwd
