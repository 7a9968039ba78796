// SPDX-License-Identifier: MIT
// Deterministic dQ pass of the fp32 backward (dtype fp32, `dq: separate`): one CTA per (kBlockM query
// rows, head), 16 rows per warp, walks the key blocks like the forward (flash_fwd_fp32_kernel.cuh) and
// keeps dQ in registers, so no floating-point atomics are needed:
//   S = Q K^T, P = exp2(S scale log2(e) - LSE log2(e)), dP = dO V^T, dS = P o (dP - D), dQ += dS K,
// every product 3xTF32 on mma.sync m16n8k8 (fp32_warp_mma.cuh), dS K from registers as the forward's P V.
// It recomputes S and dP (the main pass computes them too): ~2/5 more FLOPs for reproducibility.
#pragma once

#include "flash_bwd_fp32_kernel.cuh"

namespace numlab::cuda::detail {

template <int D, int Terms>
struct BwdFp32DqKernel {
  using Cfg = BwdFp32DqTile<D>;
  static constexpr int NW = Cfg::kNWarps, BM = 16 * NW, BN = Cfg::kBlockN, NThreads = NW * 32, LD = D + 4;
  static constexpr int KS = Cfg::kChainS, PVS = Cfg::kChainPV > BN / 8 ? BN / 8 : Cfg::kChainPV;
  static_assert(BN % 16 == 0 && (D / 8) % KS == 0 && (BN / 8) % PVS == 0, "fp32 dQ tile");
  static constexpr int kSmemBytes = (2 * BM + 4 * BN) * LD * int(sizeof(float));
};

template <int D, int Terms>
__global__ void __launch_bounds__(BwdFp32DqKernel<D, Terms>::NThreads) flash_bwd_fp32_dq_kernel(BwdParams p) {
  using K = BwdFp32DqKernel<D, Terms>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, LD = K::LD, NT = BN / 8, DT = D / 8;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* sQ = reinterpret_cast<float*>(smem_raw);
  float* sdO = sQ + BM * LD;
  float* sK = sdO + BM * LD;     // [2][BN][LD]
  float* sV = sK + 2 * BN * LD;  // [2][BN][LD]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // causal: the heaviest query blocks first
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const float* q = static_cast<const float*>(p.q) + bh * N * D;
  const float* k = static_cast<const float*>(p.k) + bh * Nkv * D;
  const float* v = static_cast<const float*>(p.v) + bh * Nkv * D;
  const float* dout = static_cast<const float*>(p.dout) + bh * N * D;
  float* dq = static_cast<float*>(p.dq) + bh * N * D;
  const int wr0 = warp * 16;

  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  load_tile_f32<BM, D, LD, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  load_tile_f32<BM, D, LD, NThreads>(sdO, dout + (size_t)m0 * D, N - m0, dout, tid);
  if (nb > 0) {
    load_tile_f32<BN, D, LD, NThreads>(sK, k, Nkv, k, tid);
    load_tile_f32<BN, D, LD, NThreads>(sV, v, Nkv, v, tid);
  }
  cp_async_commit();

  // Per row: LSE log2(e) (+inf for rows past N or that see no key, so P = 0) and D_i.
  float l2[2], l2_lo[2], dv_row[2];
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = m0 + wr0 + g + h * 8;
    l2[h] = r < N ? p.lse2[bh * N + r] : INFINITY;
    l2_lo[h] = r < N ? p.lse2_lo[bh * N + r] : 0.f;
    dv_row[h] = r < N ? p.dvec[bh * N + r] : 0.f;
  }

  float acc[DT][4];
#pragma unroll
  for (int i = 0; i < DT; ++i) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
  for (int j = 0; j < nb; ++j) {
    if (j + 1 < nb) {
      const int n1 = (j + 1) * BN, st = (j + 1) & 1;
      load_tile_f32<BN, D, LD, NThreads>(sK + st * BN * LD, k + (size_t)n1 * D, Nkv - n1, k, tid);
      load_tile_f32<BN, D, LD, NThreads>(sV + st * BN * LD, v + (size_t)n1 * D, Nkv - n1, v, tid);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const float* cK = sK + (j & 1) * BN * LD;
    const float* cV = sV + (j & 1) * BN * LD;
    const int n0 = j * BN;

    float s[NT][4], dp[NT][4];
    mma_abt<Terms, NT, D / 8, K::KS, LD>(s, sQ + wr0 * LD, cK, lane);
    mma_abt<Terms, NT, D / 8, K::KS, LD>(dp, sdO + wr0 * LD, cV, lane);
    const bool mask = n0 + BN > Nkv || (p.causal && n0 + BN - 1 > m0 + off);
    auto ds_tile = [&](auto masked) {  // the mask in its own code path (flash_bwd_kernel.cuh says why)
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int h = r >> 1;
          float pv = softmax_p(s[nt][r], p.scale_log2, p.scale_log2_lo, l2[h], l2_lo[h]);
          if constexpr (decltype(masked)::value) {
            const int row = m0 + wr0 + g + h * 8;
            const int col = n0 + nt * 8 + 2 * t + (r & 1);
            if (col >= Nkv || (p.causal && col > row + off)) pv = 0.f;
          }
          s[nt][r] = pv * (dp[nt][r] - dv_row[h]);  // dS
        }
    };
    if (mask) ds_tile(std::true_type{});
    else ds_tile(std::false_type{});
    mma_frag_b<Terms, NT, DT, K::PVS, LD>(acc, s, cK, lane);
    __syncthreads();  // the next prefetch overwrites this stage
  }
  cp_async_wait<0>();
  store_rows_f32(dq, m0 + wr0, N, acc, p.scale, lane);
}

}  // namespace numlab::cuda::detail
