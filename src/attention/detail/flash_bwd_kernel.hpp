// SPDX-License-Identifier: MIT
// Kernel bodies of the FlashAttention-2 backward (launch: attention/flash_backward.hpp).
// Three team kernels, picked by tag:
//   RowDotTag: D_i = rowsum(dO_i o O_i), one team per (b, h, query tile);
//   KvTag:     one team per (b, h, key tile j): K_j, V_j stay in scratch, dK_j and dV_j
//              accumulate in scratch over the query tiles and are written once; with
//              atomic_dq it also adds dQ_i += dS K_j scale into dQ with atomics (FA2);
//   DqTag:     one team per (b, h, query tile i) that recomputes P and dS against every
//              key tile and writes dQ_i once: the deterministic alternative to the atomics.
// P is recomputed from the forward's log-sum-exp, P = exp(S scale - L_i), so nothing of
// size N x N_kv exists, only Br x Bc tiles.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/bwd_common.hpp"
#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail::bwd {

struct FlashBwdRowDotTag {};
struct FlashBwdKvTag {};
struct FlashBwdDqTag {};

template <class ExecSpace, class T, class Mem>
struct FlashBwdKernel {
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  using Tile = ScratchTile<ExecSpace, T>;
  using Vec = ScratchVec<ExecSpace, T>;

  AttentionShape s;
  int Br = 0, Bc = 0, D = 0, Tr = 0, Tc = 0;
  T scale = T(1);
  bool atomic_dq = true;  // KvTag: also accumulate dQ with atomics
  int level = 0;          // team scratch level (ScratchPlan)
  Tensor4<const T, Mem> Q, K, V, O, dO;
  Tensor3<const T, Mem> L;
  Tensor3<T, Mem> Dvec;  // D_i = rowsum(dO o O): written by RowDotTag, read by the others
  Tensor4<T, Mem> dQ, dK, dV;

  // ---- scratch sizes (the launch checks them against the backend before building policies)
  static std::size_t kv_scratch_bytes(int Br, int Bc, int D, bool atomic_dq) {
    return 2 * scratch_tile_bytes<ExecSpace, T>(D, Bc)                  // K_j^T, V_j^T
           + (atomic_dq ? scratch_tile_bytes<ExecSpace, T>(Bc, D) : 0)  // K_j
           + 2 * scratch_tile_bytes<ExecSpace, T>(Bc, D)                // dK_j, dV_j
           + 2 * scratch_tile_bytes<ExecSpace, T>(Br, D)                // Q_i, dO_i
           + 2 * scratch_tile_bytes<ExecSpace, T>(Br, Bc)               // P, dS
           + 2 * scratch_vec_bytes<ExecSpace, T>(Br);                   // L_i, D_i
  }
  static std::size_t dq_scratch_bytes(int Br, int Bc, int D) {
    return 3 * scratch_tile_bytes<ExecSpace, T>(Br, D)     // Q_i, dO_i, dQ_i
           + 2 * scratch_tile_bytes<ExecSpace, T>(D, Bc)   // K_j^T, V_j^T
           + scratch_tile_bytes<ExecSpace, T>(Bc, D)       // K_j
           + 2 * scratch_tile_bytes<ExecSpace, T>(Br, Bc)  // P, dS
           + 2 * scratch_vec_bytes<ExecSpace, T>(Br);      // L_i, D_i
  }

  // Rows r (and r + 1 with `pair`) of the (i, j) block: S = Q_i K_j^T and dP = dO_i V_j^T over
  // the keys the rows see, then in place P = exp(S scale - L_i) and dS = P o (dP - D_i);
  // masked columns get P = dS = 0 (the products below rely on it). One team thread per pair.
  KOKKOS_INLINE_FUNCTION void block_rows(member_type const& m, int r, bool pair, int q0, int k0, int nc, Tile const& Qs,
                                         Tile const& dOs, Tile const& Kt, Tile const& Vt, Vec const& L_i,
                                         Vec const& D_i, Tile const& P, Tile const& dS) const {
    const int nvA = visible_cols(s, q0 + r, k0, nc);
    const int nvB = pair ? visible_cols(s, q0 + r + 1, k0, nc) : 0;
    const int len = imax(nvA, nvB);  // the pair's products run to the longer row
    T* pA = &P(r, 0);                // (Bc) rows r, r + 1
    T* pB = pair ? &P(r + 1, 0) : pA;
    T* dsA = &dS(r, 0);
    T* dsB = pair ? &dS(r + 1, 0) : dsA;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, nc), [=](int c) {
      pA[c] = pB[c] = T(0);
      dsA[c] = dsB[c] = T(0);
    });
    if (len == 0) return;  // also every row of a fully masked query (L = -inf never read)
    T const* qB = pair ? &Qs(r + 1, 0) : nullptr;
    T const* oB = pair ? &dOs(r + 1, 0) : nullptr;
    rows_axpy(m, pair, D, &Qs(r, 0), qB, 1, Kt.data(), Bc, len, pA, pB);
    rows_axpy(m, pair, D, &dOs(r, 0), oB, 1, Vt.data(), Bc, len, dsA, dsB);
    finish_row(m, nvA, len, L_i(r), D_i(r), pA, dsA);
    if (pair) finish_row(m, nvB, len, L_i(r + 1), D_i(r + 1), pB, dsB);
  }

  // p = exp(S scale - L_r), ds = p (dP - D_r) on the nv visible columns; zero on [nv, len).
  KOKKOS_INLINE_FUNCTION void finish_row(member_type const& m, int nv, int len, T Lr, T Dr, T* p, T* ds) const {
    const T sc = scale;
    Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, len), [=](int c) {
      const bool seen = c < nv;
      const T pc = seen ? kx::exp(softmax_exponent(p[c] * sc - Lr)) : T(0);
      p[c] = pc;
      ds[c] = seen ? pc * (ds[c] - Dr) : T(0);
    });
  }

  KOKKOS_INLINE_FUNCTION void load_query_tile(member_type const& m, int b, int h, int q0, int nr, Tile const& Qs,
                                              Tile const& dOs, Vec const& L_i, Vec const& D_i) const {
    load_rows(m, Q, b, h, q0, nr, D, Qs.data(), D);
    load_rows(m, dO, b, h, q0, nr, D, dOs.data(), D);
    Kokkos::parallel_for(Kokkos::TeamVectorRange(m, nr), [&](int r) {
      L_i(r) = L(b, h, q0 + r);
      D_i(r) = Dvec(b, h, q0 + r);
    });
  }

  // ---- D_i = rowsum(dO o O) for the rows of one query tile
  KOKKOS_INLINE_FUNCTION void operator()(FlashBwdRowDotTag, member_type const& m) const {
    const int bh = m.league_rank() / Tr, i = m.league_rank() % Tr;
    const int b = bh / s.H, h = bh % s.H;
    const int q0 = i * Br, nr = imin(Br, s.N - q0);
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
      T sum = T(0);
      Kokkos::parallel_reduce(
          Kokkos::ThreadVectorRange(m, D), [&](int d, T& acc) { acc += dO(b, h, q0 + r, d) * O(b, h, q0 + r, d); },
          sum);
      Kokkos::single(Kokkos::PerThread(m), [&] { Dvec(b, h, q0 + r) = sum; });
    });
  }

  // ---- one key tile j: dK_j, dV_j (and dQ by atomics)
  KOKKOS_INLINE_FUNCTION void operator()(FlashBwdKvTag, member_type const& m) const {
    const int bh = m.league_rank() / Tc, j = m.league_rank() % Tc;
    const int b = bh / s.H, h = bh % s.H;
    const int k0 = j * Bc, nc = imin(Bc, s.N_kv - k0);

    auto scr = m.team_scratch(level);
    Tile Kt(scr, D, Bc), Vt(scr, D, Bc);              // (D, Bc): K_j^T, V_j^T
    Tile Ks = atomic_dq ? Tile(scr, Bc, D) : Tile();  // (Bc, D): K_j for dQ_i += dS K_j
    Tile dKs(scr, Bc, D), dVs(scr, Bc, D);            // (Bc, D): accumulators
    Tile Qs(scr, Br, D), dOs(scr, Br, D);             // (Br, D); Qs doubles as the dQ_i partial
    Tile P(scr, Br, Bc), dS(scr, Br, Bc);             // (Br, Bc)
    Vec L_i(scr, Br), D_i(scr, Br);                   // (Br)

    load_rows_transposed(m, K, b, h, k0, nc, D, Kt.data(), Bc);
    load_rows_transposed(m, V, b, h, k0, nc, D, Vt.data(), Bc);
    if (atomic_dq) load_rows(m, K, b, h, k0, nc, D, Ks.data(), D);
    zero_tile(m, dKs.data(), nc, D, D);
    zero_tile(m, dVs.data(), nc, D, D);
    m.team_barrier();

    // Causal: query tiles whose last row does not reach key k0 are entirely masked; skip them.
    const int i_begin = s.causal ? imax(0, k0 - (s.N_kv - s.N)) / Br : 0;
    for (int i = i_begin; i < Tr; ++i) {
      const int q0 = i * Br, nr = imin(Br, s.N - q0);
      load_query_tile(m, b, h, q0, nr, Qs, dOs, L_i, D_i);
      m.team_barrier();

      for_row_pairs(m, nr,
                    [&](int r, bool pair) { block_rows(m, r, pair, q0, k0, nc, Qs, dOs, Kt, Vt, L_i, D_i, P, dS); });
      m.team_barrier();

      // dV_j += P^T dO_i, dK_j += dS^T Q_i: one thread per pair of key rows c, c + 1; query rows
      // above the first one that sees key k0 + c have P = dS = 0 and are skipped.
      for_row_pairs(m, nc, [&](int c, bool pair) {
        const int r0 = first_row_seeing(s, k0 + c, q0, nr);
        if (r0 == nr) return;
        const int c2 = pair ? c + 1 : c;
        rows_axpy(m, pair, nr - r0, &P(r0, c), &P(r0, c2), Bc, &dOs(r0, 0), D, D, &dVs(c, 0), &dVs(c2, 0));
        rows_axpy(m, pair, nr - r0, &dS(r0, c), &dS(r0, c2), Bc, &Qs(r0, 0), D, D, &dKs(c, 0), &dKs(c2, 0));
      });

      if (atomic_dq) {
        m.team_barrier();  // every thread is done reading Q_i: reuse it for dQ_i's partial
        // dQ_i += dS K_j scale: several key-tile teams add into the same rows, hence atomics.
        for_row_pairs(m, nr, [&](int r, bool pair) {
          const int nvA = visible_cols(s, q0 + r, k0, nc);
          const int nvB = pair ? visible_cols(s, q0 + r + 1, k0, nc) : 0;
          if (imax(nvA, nvB) == 0) return;
          const int r2 = pair ? r + 1 : r;
          T* dqA = &Qs(r, 0);  // (D)
          T* dqB = &Qs(r2, 0);
          Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [=](int d) { dqA[d] = dqB[d] = T(0); });
          rows_axpy(m, pair, imax(nvA, nvB), &dS(r, 0), &dS(r2, 0), 1, Ks.data(), D, D, dqA, dqB);
          const T sc = scale;
          Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) {
            if (nvA > 0) Kokkos::atomic_add(&dQ(b, h, q0 + r, d), sc * dqA[d]);
            if (pair && nvB > 0) Kokkos::atomic_add(&dQ(b, h, q0 + r + 1, d), sc * dqB[d]);
          });
        });
      }
      m.team_barrier();  // before the next Q_i, dO_i overwrite the tiles
    }

    // The only write of dK_j, dV_j: no atomics, no other team owns these rows.
    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nc), [&](int c) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) {
        dK(b, h, k0 + c, d) = scale * dKs(c, d);
        dV(b, h, k0 + c, d) = dVs(c, d);
      });
    });
  }

  // ---- one query tile i: dQ_i = sum_j dS_ij K_j scale, written once (deterministic)
  KOKKOS_INLINE_FUNCTION void operator()(FlashBwdDqTag, member_type const& m) const {
    const int bh = m.league_rank() / Tr, i = m.league_rank() % Tr;
    const int b = bh / s.H, h = bh % s.H;
    const int q0 = i * Br, nr = imin(Br, s.N - q0);

    auto scr = m.team_scratch(level);
    Tile Qs(scr, Br, D), dOs(scr, Br, D), dQs(scr, Br, D);  // (Br, D)
    Tile Kt(scr, D, Bc), Vt(scr, D, Bc);                    // (D, Bc)
    Tile Ks(scr, Bc, D);                                    // (Bc, D)
    Tile P(scr, Br, Bc), dS(scr, Br, Bc);                   // (Br, Bc)
    Vec L_i(scr, Br), D_i(scr, Br);                         // (Br)

    load_query_tile(m, b, h, q0, nr, Qs, dOs, L_i, D_i);
    zero_tile(m, dQs.data(), nr, D, D);
    // Causal: key tiles past the last key the tile's last row sees are entirely masked.
    const int last = s.last_key(q0 + nr - 1);
    const int j_end = s.causal ? (last < 0 ? 0 : imin(Tc, last / Bc + 1)) : Tc;
    m.team_barrier();

    for (int j = 0; j < j_end; ++j) {
      const int k0 = j * Bc, nc = imin(Bc, s.N_kv - k0);
      load_rows_transposed(m, K, b, h, k0, nc, D, Kt.data(), Bc);
      load_rows_transposed(m, V, b, h, k0, nc, D, Vt.data(), Bc);
      load_rows(m, K, b, h, k0, nc, D, Ks.data(), D);
      m.team_barrier();
      for_row_pairs(m, nr,
                    [&](int r, bool pair) { block_rows(m, r, pair, q0, k0, nc, Qs, dOs, Kt, Vt, L_i, D_i, P, dS); });
      // A barrier although the rows stay with their thread: every vector lane reads whole dS
      // rows, written lane by lane, and GPU lanes are only ordered by a synchronisation.
      m.team_barrier();
      for_row_pairs(m, nr, [&](int r, bool pair) {
        const int nv = imax(visible_cols(s, q0 + r, k0, nc), pair ? visible_cols(s, q0 + r + 1, k0, nc) : 0);
        const int r2 = pair ? r + 1 : r;
        rows_axpy(m, pair, nv, &dS(r, 0), &dS(r2, 0), 1, Ks.data(), D, D, &dQs(r, 0), &dQs(r2, 0));
      });
      m.team_barrier();
    }

    Kokkos::parallel_for(Kokkos::TeamThreadRange(m, nr), [&](int r) {
      Kokkos::parallel_for(Kokkos::ThreadVectorRange(m, D), [&](int d) { dQ(b, h, q0 + r, d) = scale * dQs(r, d); });
    });
  }
};

}  // namespace numlab::attention::detail::bwd
