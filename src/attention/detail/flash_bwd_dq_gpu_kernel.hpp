// SPDX-License-Identifier: MIT
// The deterministic dQ pass of flash_backward (dq: separate) on a GPU for fp32 at D = 64 and 128:
// query-stationary and register-tiled with the forward's geometry (FlashFwdGpuGeometry, see
// flash_fwd_gpu_kernel.hpp). A team of 128 threads owns Br = 64 query rows and walks the key
// tiles of Bc = 64 keys; for each:
//   A. S = Q_i K_j^T and dP = dO_i V_j^T (8 x 4 per thread each), the four operands streamed
//      over D in transposed chunks of 16 with register prefetch;
//      P = exp(S scale - L_i) from the forward's log-sum-exp (no running max: L is final),
//      dS = P o (dP - D_i) scale, in registers, written to shared memory by key (dS^T);
//   B. dQ_i += dS K_j (8 x D/16 per thread), K_j streamed by rows in chunks of 16.
// dQ_i is written once at the end: no atomics, every sum in a fixed order, so the result is
// bitwise reproducible run to run. The flops are S, dP and dQ again (the key-tile pass computes
// S and dP for dK, dV): 3/5 of the atomic backward's, on the forward's register tiling instead
// of the generic kernel's 16 x 16 team-scratch tiles.
//
// Thread t: row group rg = t / 16 owns query rows 8 rg .. 8 rg + 7; cg = t % 16 owns S / dP
// columns 4 cg .. 4 cg + 3 of the key tile and dQ columns 4 cg .. 4 cg + 3 (+ 64 at D = 128).
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/fwd_exp2.hpp"
#include "attention/detail/gpu_tile_io.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail {

// Team scratch of the dQ pass in floats: one stage (Q^T, K^T, dO^T, V^T chunks [chunk][ld], or a
// K row chunk [chunk][D]) | dS^T [Bc][ld].
struct FlashBwdDqGpuGeometry {
  using F = FlashFwdGpuGeometry;
  static constexpr int Br = F::Br, Bc = F::Bc, threads = F::threads, chunk = F::chunk, ld = F::ld;
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t stage_floats(int D) {
    return std::size_t(4 * chunk * ld) > std::size_t(chunk * D) ? std::size_t(4 * chunk * ld) : std::size_t(chunk * D);
  }
  KOKKOS_INLINE_FUNCTION static constexpr std::size_t scratch_floats(int D) {
    return stage_floats(D) + std::size_t(Bc) * ld;
  }
  // The forward's register budget: three teams per SM at D = 64 (168 registers, some stack), two
  // at D = 128. Two teams at D = 64 (no stack) measured 1-2% slower (H200, attn_gpu_fp32_bwd).
  static constexpr unsigned min_teams_per_sm(int D) { return F::min_teams_per_sm(D); }
};

template <class ExecSpace, class Mem, int D>
struct FlashBwdDqGpuKernel {
  static_assert(D == 64 || D == 128, "register-tiled dQ pass: D is 64 or 128");
  using G = FlashBwdDqGpuGeometry;
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int Br = G::Br, Bc = G::Bc, NT = G::threads, KC = G::chunk, LD = G::ld;
  static constexpr int OC = D / 16;            // dQ columns per thread
  static constexpr int OV = OC / 4;            // ... as float4s 64 apart: 1 (D = 64) or 2 (D = 128)
  static constexpr int VPT = KC * D / 4 / NT;  // float4s of a K row chunk per thread
  using Io = GpuTileIo<NT, D>;

  AttentionShape shape;
  int Tr = 0;              // query tiles per head
  float scale = 1.f;       // softmax scale (folded into dS)
  float scale_log2 = 1.f;  // softmax scale * log2(e)
  Tensor4<const float, Mem> Q, K, V, dO;
  Tensor3<const float, Mem> L;     // forward log-sum-exp (natural log)
  Tensor3<const float, Mem> Dvec;  // D_i = rowsum(dO o O)
  Tensor4<float, Mem> dQ;          // overwritten

  static constexpr std::size_t scratch_bytes() { return G::scratch_floats(D) * sizeof(float) + 16; }

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    int const t = member.team_rank();
    int const rg = t / 16, cg = t % 16;
    int const bh = member.league_rank() / Tr, tile = member.league_rank() % Tr;
    int const b = bh / shape.H, h = bh % shape.H;
    int const q0 = tile * Br;
    int const q_len = q0 + Br <= shape.N ? Br : shape.N - q0;
    float const* const Qbh = Q.data() + std::size_t(bh) * shape.N * D;
    float const* const dObh = dO.data() + std::size_t(bh) * shape.N * D;
    float const* const Kbh = K.data() + std::size_t(bh) * shape.N_kv * D;
    float const* const Vbh = V.data() + std::size_t(bh) * shape.N_kv * D;

    float* const stage =
        static_cast<float*>(member.team_scratch(0).get_shmem_aligned(G::scratch_floats(D) * sizeof(float), 16));
    float* const Qs = stage;            // phase A: Q^T chunk [KC][LD]
    float* const Ks = Qs + KC * LD;     //          K^T chunk
    float* const dOs = Ks + KC * LD;    //          dO^T chunk
    float* const Vs = dOs + KC * LD;    //          V^T chunk
    float* const Krows = stage;         // phase B: K rows [KC][D]
    float* const dSt = stage + G::stage_floats(D);  // dS by key [Bc][LD] (offset: a multiple of 4 floats)

    // Per row: the last key it sees (-1: none, or a padding row), L in log2 units and D_i.
    int last[8];
    float lq[8], di[8];
    for (int i = 0; i < 8; ++i) {
      int const q = q0 + 8 * rg + i;
      bool const row = q < shape.N;
      last[i] = row ? imin_(shape.last_key(q), shape.N_kv - 1) : -1;
      lq[i] = row ? float(L(b, h, q)) * log2e_v<float> : 0.f;
      di[i] = row ? float(Dvec(b, h, q)) : 0.f;
    }

    float acc[8][OC];
    for (int i = 0; i < 8; ++i)
      for (int c = 0; c < OC; ++c) acc[i][c] = 0.f;

    // Causal: key tiles past the last key of the tile's last row are skipped.
    int const kv_end = imin_(shape.N_kv, shape.last_key(q0 + q_len - 1) + 1);
    int const n_tiles = kv_end > 0 ? (kv_end + Bc - 1) / Bc : 0;

    for (int kt = 0; kt < n_tiles; ++kt) {
      int const k0 = kt * Bc;
      int const kv_len = k0 + Bc <= shape.N_kv ? Bc : shape.N_kv - k0;

      // ---- A: S = Q K^T and dP = dO V^T (8 x 4 per thread each), streamed over D.
      float s[8][4], dp[8][4];
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) s[i][j] = dp[i][j] = 0.f;
      Float4 qr[2], kr[2], dr[2], vr[2];
      Io::template fetch_cols<Br>(Qbh, q0, q_len, 0, t, qr);
      Io::template fetch_cols<Bc>(Kbh, k0, kv_len, 0, t, kr);
      Io::template fetch_cols<Br>(dObh, q0, q_len, 0, t, dr);
      Io::template fetch_cols<Bc>(Vbh, k0, kv_len, 0, t, vr);
      for (int c0 = 0; c0 < D; c0 += KC) {
        member.team_barrier();  // the stage is free (previous chunk, or the last tile's phase B)
        Io::template store_cols_transposed<Br, LD>(qr, t, Qs);
        Io::template store_cols_transposed<Bc, LD>(kr, t, Ks);
        Io::template store_cols_transposed<Br, LD>(dr, t, dOs);
        Io::template store_cols_transposed<Bc, LD>(vr, t, Vs);
        member.team_barrier();
        if (c0 + KC < D) {  // the next chunk travels while this one is multiplied
          Io::template fetch_cols<Br>(Qbh, q0, q_len, c0 + KC, t, qr);
          Io::template fetch_cols<Bc>(Kbh, k0, kv_len, c0 + KC, t, kr);
          Io::template fetch_cols<Br>(dObh, q0, q_len, c0 + KC, t, dr);
          Io::template fetch_cols<Bc>(Vbh, k0, kv_len, c0 + KC, t, vr);
        }
        NUMLAB_FLASH_FWD_GPU_UNROLL_K
        for (int k = 0; k < KC; ++k) {
          Float4 const a0 = *reinterpret_cast<Float4 const*>(Qs + k * LD + 8 * rg);
          Float4 const a1 = *reinterpret_cast<Float4 const*>(Qs + k * LD + 8 * rg + 4);
          Float4 const bk = *reinterpret_cast<Float4 const*>(Ks + k * LD + 4 * cg);
          Float4 const d0 = *reinterpret_cast<Float4 const*>(dOs + k * LD + 8 * rg);
          Float4 const d1 = *reinterpret_cast<Float4 const*>(dOs + k * LD + 8 * rg + 4);
          Float4 const bv = *reinterpret_cast<Float4 const*>(Vs + k * LD + 4 * cg);
          for (int j = 0; j < 4; ++j) {
            for (int i = 0; i < 4; ++i) {
              s[i][j] += a0.v[i] * bk.v[j];
              s[i + 4][j] += a1.v[i] * bk.v[j];
              dp[i][j] += d0.v[i] * bv.v[j];
              dp[i + 4][j] += d1.v[i] * bv.v[j];
            }
          }
        }
      }

      // P = exp(S scale - L), 0 where masked (past N or N_kv, above the causal diagonal), as the
      // key-tile pass computes it; dS = P o (dP - D_i) * scale, stored by key for phase B.
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 4; ++j) {
          float const p =
              k0 + 4 * cg + j <= last[i] ? numlab::kx::exp2(softmax_exponent(s[i][j] * scale_log2 - lq[i])) : 0.f;
          dp[i][j] = p * (dp[i][j] - di[i]) * scale;
        }
      for (int j = 0; j < 4; ++j) {
        float* dst = dSt + (4 * cg + j) * LD + 8 * rg;
        *reinterpret_cast<Float4*>(dst) = Float4{{dp[0][j], dp[1][j], dp[2][j], dp[3][j]}};
        *reinterpret_cast<Float4*>(dst + 4) = Float4{{dp[4][j], dp[5][j], dp[6][j], dp[7][j]}};
      }

      // ---- B: dQ (8 x D/16 per thread) += dS K, streamed over the tile's keys in chunks of 16.
      Float4 kk[VPT];
      Io::template fetch_rows<KC>(Kbh, k0, kv_len, t, kk);
      for (int kc = 0; kc < Bc; kc += KC) {
        member.team_barrier();  // phase A's (or the last chunk's) stage reads done
        Io::template store_rows<KC>(kk, t, Krows);
        member.team_barrier();  // (and dS^T written)
        if (kc + KC < Bc) Io::template fetch_rows<KC>(Kbh, k0 + kc + KC, kv_len - kc - KC, t, kk);
        NUMLAB_FLASH_FWD_GPU_UNROLL_K
        for (int k = 0; k < KC; ++k) {
          Float4 const p0 = *reinterpret_cast<Float4 const*>(dSt + (kc + k) * LD + 8 * rg);
          Float4 const p1 = *reinterpret_cast<Float4 const*>(dSt + (kc + k) * LD + 8 * rg + 4);
          for (int ov = 0; ov < OV; ++ov) {
            Float4 const x = *reinterpret_cast<Float4 const*>(Krows + k * D + 64 * ov + 4 * cg);
            for (int u = 0; u < 4; ++u) {
              for (int i = 0; i < 4; ++i) acc[i][4 * ov + u] += p0.v[i] * x.v[u];
              for (int i = 0; i < 4; ++i) acc[i + 4][4 * ov + u] += p1.v[i] * x.v[u];
            }
          }
        }
      }
    }

    // Every row of the tile is written, also one that sees no key (dQ = 0 there).
    for (int i = 0; i < 8; ++i) {
      int const q = q0 + 8 * rg + i;
      if (q >= shape.N) break;
      float* out = dQ.data() + (std::size_t(bh) * shape.N + q) * D;
      for (int ov = 0; ov < OV; ++ov)
        *reinterpret_cast<Float4*>(out + 64 * ov + 4 * cg) =
            Float4{{acc[i][4 * ov], acc[i][4 * ov + 1], acc[i][4 * ov + 2], acc[i][4 * ov + 3]}};
    }
  }

 private:
  KOKKOS_INLINE_FUNCTION static int imin_(int a, int b) { return a < b ? a : b; }
};

// dQ of one backward call (dq: separate). Dvec holds D_i = rowsum(dO o O). Views contiguous [B,H,*,D].
template <class ExecSpace, class Mem, int D>
void launch_flash_bwd_dq_gpu(ExecSpace const& space, AttentionShape const& shape, Tensor4<const float, Mem> Q,
                             Tensor4<const float, Mem> K, Tensor4<const float, Mem> V, Tensor4<const float, Mem> dO,
                             Tensor3<const float, Mem> L, Tensor3<const float, Mem> Dvec, Tensor4<float, Mem> dQ) {
  using Kernel = FlashBwdDqGpuKernel<ExecSpace, Mem, D>;
  using G = FlashBwdDqGpuGeometry;
  int const Tr = (shape.N + G::Br - 1) / G::Br;
  int const league = shape.B * shape.H * Tr;
  if (league == 0) return;
  Kernel k;
  k.shape = shape;
  k.Tr = Tr;
  k.scale = float(shape.scale());
  k.scale_log2 = softmax_scale_log2<float>(shape.scale());
  k.Q = Q;
  k.K = K;
  k.V = V;
  k.dO = dO;
  k.L = L;
  k.Dvec = Dvec;
  k.dQ = dQ;
  // The forward's register budget per head dim (three teams per SM at D = 64, two at D = 128).
  using Bounds = Kokkos::LaunchBounds<G::threads, G::min_teams_per_sm(D)>;
  Kokkos::TeamPolicy<ExecSpace, Bounds> policy(space, league, G::threads, 1);
  policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes()));
  Kokkos::parallel_for("numlab::attention::flash_bwd_gpu::query_tiles", policy, k);
}

}  // namespace numlab::attention::detail
