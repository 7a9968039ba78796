// SPDX-License-Identifier: MIT
// The lab's tiled forward WITHOUT online softmax, on mma.sync: two passes over the keys per
// CTA of kBlockM query rows (the flash forward's tiles, FwdTile<T, D>).
//   pass 1 (kOutput = false): S = Q K^T tile by tile; row max m_i and row sum l_i of exp(S - m_i)
//          (the sum rescaled when the max grows: the normaliser alone; no output is rescaled);
//          writes L_i = m_i + log l_i.
//   pass 2 (kOutput = true): S recomputed; P = exp(S - L_i), the exact softmax row, rounded to
//          the dtype once as standard attention rounds its P; O = P V accumulated in fp32, never
//          rescaled and never divided afterwards.
// Memory: O and L only (S is recomputed, not kept); work: 1.5x the flash forward's GEMM FLOPs.
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "warp_gemm.cuh"

#include <cmath>

namespace numlab::cuda::detail {

template <class T, int D, bool kOutput>
struct TiledFwdKernel {
  using Cfg = FwdTile<T, D>;
  static constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, NW = Cfg::kNWarps, NThreads = NW * 32;
  static constexpr int MI = BM / (16 * NW);  // 16-row m-tiles per warp
  static_assert(MI * 16 * NW == BM && BN % 16 == 0 && D % 64 == 0, "tiled forward tile");
  // Q, and 2 stages of K (pass 1) or of K and V (pass 2).
  static constexpr int kSmemBytes = (BM + (kOutput ? 4 : 2) * BN) * D * int(sizeof(T));
};

template <class T, int D, bool kOutput>
__global__ void __launch_bounds__(TiledFwdKernel<T, D, kOutput>::NThreads) tiled_fwd_kernel(FwdParams p) {
  using K = TiledFwdKernel<T, D, kOutput>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, MI = K::MI;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);  // (BM, D)
  T* sK = sQ + BM * D;                     // [2][BN][D]
  T* sV = sK + 2 * BN * D;                 // [2][BN][D], pass 2 only

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // heaviest (causal) query blocks first
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const T* q = static_cast<const T*>(p.q) + bh * N * D;
  const T* k = static_cast<const T*>(p.k) + bh * Nkv * D;
  const T* v = static_cast<const T*>(p.v) + bh * Nkv * D;
  float* lse = p.lse + bh * N;
  const int wr0 = warp * 16 * MI;  // warp's first row within the block

  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  load_tile<T, BM, D, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  if (nb > 0) {
    load_tile<T, BN, D, NThreads>(sK, k, Nkv, k, tid);
    if constexpr (kOutput) load_tile<T, BN, D, NThreads>(sV, v, Nkv, v, tid);
  }
  cp_async_commit();

  // Pass 1: running max and sum per row (quad-partial sums, reduced at the end).
  // Pass 2: L_i in base 2 per row, +inf for a row that sees no key (so P = 0 there).
  float row_m[MI][2], row_l[MI][2], row_L2[MI][2];
  float acc_o[kOutput ? MI : 1][kOutput ? D / 8 : 2][4];
  if constexpr (kOutput) zero(acc_o);
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      row_m[mi][h] = -INFINITY;
      row_l[mi][h] = 0.f;
      row_L2[mi][h] = INFINITY;
      if constexpr (kOutput) {
        const int row = m0 + wr0 + mi * 16 + (lane >> 2) + h * 8;
        const float L = row < N ? lse[row] : -INFINITY;
        row_L2[mi][h] = L == -INFINITY ? INFINITY : L * kLog2e;
      }
    }

  for (int j = 0; j < nb; ++j) {
    if (j + 1 < nb) {  // prefetch the next tile(s) into the other stage
      const int n1 = (j + 1) * BN, st = (j + 1) & 1;
      load_tile<T, BN, D, NThreads>(sK + st * BN * D, k + (size_t)n1 * D, Nkv - n1, k, tid);
      if constexpr (kOutput) load_tile<T, BN, D, NThreads>(sV + st * BN * D, v + (size_t)n1 * D, Nkv - n1, v, tid);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const T* cK = sK + (j & 1) * BN * D;
    const int n0 = j * BN;

    float s[MI][BN / 8][4];  // (16 MI, BN) scores of the warp, unscaled
    zero(s);
    warp_gemm_ss<T, MI, BN / 8, D, D, false, D, false>(s, sQ, wr0, cK, 0, lane);

    if (n0 + BN > Nkv || (p.causal && n0 + BN - 1 > m0 + off)) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int row = m0 + wr0 + mi * 16 + (lane >> 2) + (r >> 1) * 8;
            const int col = n0 + nt * 8 + (lane & 3) * 2 + (r & 1);
            if (col >= Nkv || (p.causal && col > row + off)) s[mi][nt][r] = -INFINITY;
          }
    }

    if constexpr (!kOutput) {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          float mx = row_m[mi][h];
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mi][nt][2 * h], s[mi][nt][2 * h + 1]));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
          mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
          const float ms = mx == -INFINITY ? 0.f : mx * p.scale_log2;  // a row masked so far: no NaN
          float sum = 0.f;
#pragma unroll
          for (int nt = 0; nt < BN / 8; ++nt)
            sum += ex2(fmaf(s[mi][nt][2 * h], p.scale_log2, -ms)) + ex2(fmaf(s[mi][nt][2 * h + 1], p.scale_log2, -ms));
          row_l[mi][h] = row_l[mi][h] * ex2(row_m[mi][h] * p.scale_log2 - ms) + sum;
          row_m[mi][h] = mx;
        }
      __syncthreads();  // the next iteration's prefetch overwrites this stage
    } else {
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) s[mi][nt][r] = ex2(fmaf(s[mi][nt][r], p.scale_log2, -row_L2[mi][r >> 1]));
      warp_gemm_rs<T, MI, BN / 8, D / 8, D>(acc_o, s, sV + (j & 1) * BN * D, 0, lane);
      __syncthreads();
    }
  }
  cp_async_wait<0>();

  if constexpr (!kOutput) {
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float l = row_l[mi][h];
        l += __shfl_xor_sync(0xffffffffu, l, 1);
        l += __shfl_xor_sync(0xffffffffu, l, 2);
        const int row = m0 + wr0 + mi * 16 + (lane >> 2) + h * 8;
        if (row < N && (lane & 3) == 0) lse[row] = l > 0.f ? row_m[mi][h] * p.scale + logf(l) : -INFINITY;
      }
  } else {
    store_frag_global<T>(static_cast<T*>(p.o) + bh * N * D, D, m0 + wr0, 0, N, acc_o, 1.f, lane);
  }
}

}  // namespace numlab::cuda::detail
