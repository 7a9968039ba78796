// SPDX-License-Identifier: MIT
// Kernel body of flash_backward's key-tile pass on a GPU for fp32 at D = 64 and 128, register-
// tiled like the forward (flash_fwd_gpu_kernel.hpp). The generic kernel (flash_bwd_kernel.hpp)
// keeps every tile in team scratch and pays a shared-memory access per FMA; under Kokkos 4.6's
// 40,936 bytes of CUDA team scratch its tiles shrink to 16 x 16, so it reloads K_j, V_j for
// every 16 queries. Here a team of 128 threads owns Bc keys (FlashBwdGpuGeometry<D>) with dK_j
// and dV_j in registers, and for every query tile of Br rows:
//   A. S^T = K_j Q_i^T and dP^T = V_j dO_i^T (Bc x Br), each thread a KA x QA block of both,
//      K, V, Q, dO streamed over D in transposed chunks of 16 with register prefetch;
//      P = exp(S scale - L_i), dS = P o (dP - D_i) scale, in registers;
//   B. dV_j += P^T dO_i and dK_j += dS^T Q_i, P and dS read back from shared memory by query
//      row, dO_i and Q_i streamed by rows;
//   C. (atomic dQ) dQ_i += dS K_j, dS read back by key, K_j streamed by rows; the thread's
//      QC x D/16 block of dQ_i is added to global memory with atomics.
// dK_j, dV_j are written once at the end. Nothing of size N x N_kv exists.
//
// Thread t: key group rg = t / 16 owns keys KA rg .. KA rg + KA - 1 (S^T, dP^T, dK, dV) and
// query rows QC rg .. QC rg + QC - 1 of dQ; cg = t % 16 owns S^T columns cg + 16 j (conflict-free
// reads and writes) and the D columns 4 cg .. 4 cg + 3 (+ 64 at D = 128) of dK, dV and dQ.
#pragma once

#include "attention/attention_types.hpp"
#include "attention/detail/gpu_tile_io.hpp"
#include "attention/detail/fwd_exp2.hpp"
#include "attention/online_softmax.hpp"
#include "attention/tile_size.hpp"

#include "core/kokkos_ext/compat.hpp"

#include <Kokkos_Core.hpp>

#include <cstddef>

namespace numlab::attention::detail {

template <class ExecSpace, class Mem, int D>
struct FlashBwdGpuKernel {
  using G = FlashBwdGpuGeometry<D>;
  using member_type = typename Kokkos::TeamPolicy<ExecSpace>::member_type;
  static constexpr int Br = G::Br, Bc = G::Bc, NT = G::threads, KC = G::chunk, RC = G::row_chunk;
  static constexpr int LDK = G::ldk, LDQ = G::ldq;
  static constexpr int KA = Bc / 8;    // keys per thread: 8 (D = 64) or 4
  static constexpr int QA = Br / 16;   // S^T columns per thread: 2 or 4
  static constexpr int QC = Br / 8;    // dQ rows per thread: 4 or 8
  static constexpr int DC = D / 16;    // dK, dV, dQ columns per thread: 4 or 8
  static constexpr int OV = D / 64;    // ... as float4 groups 64 apart
  static constexpr int FR = RC * D / 4 / NT;  // float4s per thread of a row chunk: 2
  using Io = GpuTileIo<NT, D>;
  static_assert(KA % 4 == 0 && QC % 4 == 0 && FR * NT * 4 == RC * D, "geometry");

  AttentionShape shape;
  int Tc = 0;            // key tiles per head
  float scale = 1.f;     // softmax scale (folded into dS)
  float scale_log2 = 1.f;
  bool atomic_dq = true;  // phase C: dQ by atomics (else the caller computes dQ separately)
  Tensor4<const float, Mem> Q, K, V, dO;
  Tensor3<const float, Mem> L;     // forward log-sum-exp (natural log)
  Tensor3<const float, Mem> Dvec;  // D_i = rowsum(dO o O)
  Tensor4<float, Mem> dQ, dK, dV;  // dQ zeroed by the caller when atomic_dq

  static constexpr std::size_t scratch_bytes() { return G::scratch_floats() * sizeof(float) + 16; }

  KOKKOS_FUNCTION void operator()(member_type const& member) const {
    int const t = member.team_rank();
    int const rg = t / 16, cg = t % 16;
    int const bh = member.league_rank() / Tc, kt = member.league_rank() % Tc;
    int const b = bh / shape.H, h = bh % shape.H;
    int const k0 = kt * Bc;
    int const kv_len = k0 + Bc <= shape.N_kv ? Bc : shape.N_kv - k0;
    float const* const Qbh = Q.data() + std::size_t(bh) * shape.N * D;
    float const* const dObh = dO.data() + std::size_t(bh) * shape.N * D;
    float const* const Kbh = K.data() + std::size_t(bh) * shape.N_kv * D;
    float const* const Vbh = V.data() + std::size_t(bh) * shape.N_kv * D;

    float* const stage =
        static_cast<float*>(member.team_scratch(0).get_shmem_aligned(G::scratch_floats() * sizeof(float), 16));
    float* const Kt = stage;              // phase A: K^T chunk [KC][LDK]
    float* const Vt = Kt + KC * LDK;      //          V^T chunk [KC][LDK]
    float* const Qt = Vt + KC * LDK;      //          Q^T chunk [KC][LDQ]
    float* const dOt = Qt + KC * LDQ;     //          dO^T chunk [KC][LDQ]
    float* const rows0 = stage;           // phases B, C: dO rows / K rows [RC][D]
    float* const rows1 = stage + RC * D;  // phase B: Q rows [RC][D]
    float* const Ps = stage + G::stage_floats();  // P by query row [Br][LDK] (offsets: multiples of 4 floats)
    float* const dSq = Ps + Br * LDK;             // dS by query row [Br][LDK]
    float* const dSk = dSq + Br * LDK;            // dS by key [Bc][LDQ]

    float dk[KA][DC], dv[KA][DC];
    for (int i = 0; i < KA; ++i)
      for (int c = 0; c < DC; ++c) dk[i][c] = dv[i][c] = 0.f;

    float const log2e = log2e_v<float>;
    int const n_qt = (shape.N + Br - 1) / Br;
    for (int qt = 0; qt < n_qt; ++qt) {
      int const q0 = qt * Br;
      int const q_len = q0 + Br <= shape.N ? Br : shape.N - q0;
      // Causal: a query tile whose last row sees no key of this tile contributes nothing.
      if (kv_len <= 0 || shape.last_key(q0 + q_len - 1) < k0) continue;

      // ---- A: S^T and dP^T (KA x QA per thread), streamed over D.
      float s[KA][QA], dp[KA][QA];
      for (int i = 0; i < KA; ++i)
        for (int j = 0; j < QA; ++j) s[i][j] = dp[i][j] = 0.f;
      Float4 kr[Bc / 32], vr[Bc / 32], qr[Br / 32], dr[Br / 32];
      Io::template fetch_cols<Bc>(Kbh, k0, kv_len, 0, t, kr);
      Io::template fetch_cols<Bc>(Vbh, k0, kv_len, 0, t, vr);
      Io::template fetch_cols<Br>(Qbh, q0, q_len, 0, t, qr);
      Io::template fetch_cols<Br>(dObh, q0, q_len, 0, t, dr);
      for (int c0 = 0; c0 < D; c0 += KC) {
        member.team_barrier();  // the stage is free (previous chunk, or the last tile's phase C)
        Io::template store_cols_transposed<Bc, LDK>(kr, t, Kt);
        Io::template store_cols_transposed<Bc, LDK>(vr, t, Vt);
        Io::template store_cols_transposed<Br, LDQ>(qr, t, Qt);
        Io::template store_cols_transposed<Br, LDQ>(dr, t, dOt);
        member.team_barrier();
        if (c0 + KC < D) {  // the next chunk travels while this one is multiplied
          Io::template fetch_cols<Bc>(Kbh, k0, kv_len, c0 + KC, t, kr);
          Io::template fetch_cols<Bc>(Vbh, k0, kv_len, c0 + KC, t, vr);
          Io::template fetch_cols<Br>(Qbh, q0, q_len, c0 + KC, t, qr);
          Io::template fetch_cols<Br>(dObh, q0, q_len, c0 + KC, t, dr);
        }
        for (int k = 0; k < KC; ++k) {
          float a[KA], av[KA], bq[QA], bd[QA];
          for (int f = 0; f < KA / 4; ++f) {
            Float4 const x = *reinterpret_cast<Float4 const*>(Kt + k * LDK + KA * rg + 4 * f);
            Float4 const y = *reinterpret_cast<Float4 const*>(Vt + k * LDK + KA * rg + 4 * f);
            for (int u = 0; u < 4; ++u) {
              a[4 * f + u] = x.v[u];
              av[4 * f + u] = y.v[u];
            }
          }
          for (int j = 0; j < QA; ++j) {
            bq[j] = Qt[k * LDQ + cg + 16 * j];
            bd[j] = dOt[k * LDQ + cg + 16 * j];
          }
          for (int i = 0; i < KA; ++i)
            for (int j = 0; j < QA; ++j) {
              s[i][j] += a[i] * bq[j];
              dp[i][j] += av[i] * bd[j];
            }
        }
      }

      // The first row chunk of dO_i and Q_i for phase B travels during the elementwise step.
      Float4 dor[FR], qrr[FR];
      Io::template fetch_rows<RC>(dObh, q0, q_len, t, dor);
      Io::template fetch_rows<RC>(Qbh, q0, q_len, t, qrr);

      // P = exp(S scale - L), 0 where masked (past N or N_kv, above the causal diagonal);
      // dS = P o (dP - D_i) * scale (the scale of dK = dS^T Q scale and dQ = dS K scale).
      for (int j = 0; j < QA; ++j) {
        int const q = q0 + cg + 16 * j;
        bool const row = q < shape.N;
        int const last = row ? (shape.last_key(q) < shape.N_kv - 1 ? shape.last_key(q) : shape.N_kv - 1) : -1;
        float const lq = row ? float(L(b, h, q)) * log2e : 0.f;
        float const dq = row ? float(Dvec(b, h, q)) : 0.f;
        for (int i = 0; i < KA; ++i) {
          float const p = k0 + KA * rg + i <= last ? numlab::kx::exp2(softmax_exponent(s[i][j] * scale_log2 - lq)) : 0.f;
          s[i][j] = p;
          dp[i][j] = p * (dp[i][j] - dq) * scale;
        }
      }
      for (int j = 0; j < QA; ++j) {
        int const qrow = cg + 16 * j;
        for (int f = 0; f < KA / 4; ++f) {
          *reinterpret_cast<Float4*>(Ps + qrow * LDK + KA * rg + 4 * f) =
              Float4{{s[4 * f][j], s[4 * f + 1][j], s[4 * f + 2][j], s[4 * f + 3][j]}};
          *reinterpret_cast<Float4*>(dSq + qrow * LDK + KA * rg + 4 * f) =
              Float4{{dp[4 * f][j], dp[4 * f + 1][j], dp[4 * f + 2][j], dp[4 * f + 3][j]}};
        }
        for (int i = 0; i < KA; ++i) dSk[(KA * rg + i) * LDQ + qrow] = dp[i][j];
      }

      // ---- B: dV_j += P^T dO_i, dK_j += dS^T Q_i, streamed over the tile's query rows.
      for (int r0 = 0; r0 < Br; r0 += RC) {
        member.team_barrier();  // P, dS written; phase A's (or the last chunk's) stage reads done
        Io::template store_rows<RC>(dor, t, rows0);
        Io::template store_rows<RC>(qrr, t, rows1);
        member.team_barrier();
        if (r0 + RC < Br) {
          Io::template fetch_rows<RC>(dObh, q0 + r0 + RC, q_len - r0 - RC, t, dor);
          Io::template fetch_rows<RC>(Qbh, q0 + r0 + RC, q_len - r0 - RC, t, qrr);
        }
        for (int r = 0; r < RC; ++r) {
          float p[KA], ds[KA];
          for (int f = 0; f < KA / 4; ++f) {
            Float4 const x = *reinterpret_cast<Float4 const*>(Ps + (r0 + r) * LDK + KA * rg + 4 * f);
            Float4 const y = *reinterpret_cast<Float4 const*>(dSq + (r0 + r) * LDK + KA * rg + 4 * f);
            for (int u = 0; u < 4; ++u) {
              p[4 * f + u] = x.v[u];
              ds[4 * f + u] = y.v[u];
            }
          }
          for (int ov = 0; ov < OV; ++ov) {
            Float4 const o = *reinterpret_cast<Float4 const*>(rows0 + r * D + 64 * ov + 4 * cg);
            Float4 const x = *reinterpret_cast<Float4 const*>(rows1 + r * D + 64 * ov + 4 * cg);
            for (int u = 0; u < 4; ++u)
              for (int i = 0; i < KA; ++i) {
                dv[i][4 * ov + u] += p[i] * o.v[u];
                dk[i][4 * ov + u] += ds[i] * x.v[u];
              }
          }
        }
      }

      // ---- C: dQ_i += dS K_j (QC x D/16 per thread), streamed over the tile's keys; atomics.
      if (atomic_dq) {
        float acc[QC][DC];
        for (int i = 0; i < QC; ++i)
          for (int c = 0; c < DC; ++c) acc[i][c] = 0.f;
        Float4 kk[FR];
        Io::template fetch_rows<RC>(Kbh, k0, kv_len, t, kk);
        for (int c0 = 0; c0 < Bc; c0 += RC) {
          member.team_barrier();  // phase B's (or the last chunk's) stage reads done
          Io::template store_rows<RC>(kk, t, rows0);
          member.team_barrier();
          if (c0 + RC < Bc) Io::template fetch_rows<RC>(Kbh, k0 + c0 + RC, kv_len - c0 - RC, t, kk);
          for (int k = 0; k < RC; ++k) {
            float a[QC];
            for (int f = 0; f < QC / 4; ++f) {
              Float4 const x = *reinterpret_cast<Float4 const*>(dSk + (c0 + k) * LDQ + QC * rg + 4 * f);
              for (int u = 0; u < 4; ++u) a[4 * f + u] = x.v[u];
            }
            for (int ov = 0; ov < OV; ++ov) {
              Float4 const x = *reinterpret_cast<Float4 const*>(rows0 + k * D + 64 * ov + 4 * cg);
              for (int u = 0; u < 4; ++u)
                for (int i = 0; i < QC; ++i) acc[i][4 * ov + u] += a[i] * x.v[u];
            }
          }
        }
        for (int i = 0; i < QC; ++i) {
          int const q = q0 + QC * rg + i;
          if (q >= shape.N) break;
          float* out = dQ.data() + (std::size_t(bh) * shape.N + q) * D;
          for (int ov = 0; ov < OV; ++ov)
            for (int u = 0; u < 4; ++u) Kokkos::atomic_add(out + 64 * ov + 4 * cg + u, acc[i][4 * ov + u]);
        }
      }
    }

    for (int i = 0; i < KA; ++i) {
      int const key = k0 + KA * rg + i;
      if (key >= shape.N_kv) break;
      float* outk = dK.data() + (std::size_t(bh) * shape.N_kv + key) * D;
      float* outv = dV.data() + (std::size_t(bh) * shape.N_kv + key) * D;
      for (int ov = 0; ov < OV; ++ov) {
        *reinterpret_cast<Float4*>(outk + 64 * ov + 4 * cg) =
            Float4{{dk[i][4 * ov], dk[i][4 * ov + 1], dk[i][4 * ov + 2], dk[i][4 * ov + 3]}};
        *reinterpret_cast<Float4*>(outv + 64 * ov + 4 * cg) =
            Float4{{dv[i][4 * ov], dv[i][4 * ov + 1], dv[i][4 * ov + 2], dv[i][4 * ov + 3]}};
      }
    }
  }
};

// dK, dV (and dQ += by atomics when atomic_dq; dQ must be zero then) of one backward call.
// Dvec holds D_i = rowsum(dO o O). Views contiguous [B,H,*,D].
template <class ExecSpace, class Mem, int D>
void launch_flash_bwd_gpu(ExecSpace const& space, AttentionShape const& shape, bool atomic_dq,
                          Tensor4<const float, Mem> Q, Tensor4<const float, Mem> K, Tensor4<const float, Mem> V,
                          Tensor4<const float, Mem> dO, Tensor3<const float, Mem> L, Tensor3<const float, Mem> Dvec,
                          Tensor4<float, Mem> dQ, Tensor4<float, Mem> dK, Tensor4<float, Mem> dV) {
  using Kernel = FlashBwdGpuKernel<ExecSpace, Mem, D>;
  using G = FlashBwdGpuGeometry<D>;
  int const Tc = (shape.N_kv + G::Bc - 1) / G::Bc;
  int const league = shape.B * shape.H * Tc;
  if (league == 0) return;
  Kernel k;
  k.shape = shape;
  k.Tc = Tc;
  k.scale = float(shape.scale());
  k.scale_log2 = softmax_scale_log2<float>(shape.scale());
  k.atomic_dq = atomic_dq;
  k.Q = Q;
  k.K = K;
  k.V = V;
  k.dO = dO;
  k.L = L;
  k.Dvec = Dvec;
  k.dQ = dQ;
  k.dK = dK;
  k.dV = dV;
  // 128 threads with up to 170 registers each (at the default of three teams per SM).
  using Bounds = Kokkos::LaunchBounds<G::threads, flash_gpu_min_teams_per_sm>;
  Kokkos::TeamPolicy<ExecSpace, Bounds> policy(space, league, G::threads, 1);
  policy.set_scratch_size(0, Kokkos::PerTeam(Kernel::scratch_bytes()));
  Kokkos::parallel_for("numlab::attention::flash_bwd_gpu::key_tiles", policy, k);
}

}  // namespace numlab::attention::detail
