// SPDX-License-Identifier: MIT
// Deterministic dQ pass of the backward: one CTA per (kBlockM query rows, head) walks the key
// blocks like the forward and keeps dQ in registers, so no floating-point atomics are needed:
//   S = Q K^T, P = exp(S - LSE), dP = dO V^T, dS = P o (dP - D), dQ += dS K.
// It recomputes S and dP (the main pass computes them too): ~2/5 more FLOPs for reproducibility.
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "warp_gemm.cuh"

#include <cmath>
#include <type_traits>

namespace numlab::cuda::detail {

template <class T, int D>
struct BwdDqKernel {
  using Cfg = BwdDqTile<T, D>;
  static constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, NW = Cfg::kNWarps, NThreads = NW * 32;
  static constexpr int MI = BM / (16 * NW);
  static_assert(MI * 16 * NW == BM && BN % 16 == 0, "dQ tile");
  static constexpr int kSmemBytes = (2 * BM + 4 * BN) * D * int(sizeof(T));
};

template <class T, int D>
__global__ void __launch_bounds__(BwdDqKernel<T, D>::NThreads) flash_bwd_dq_kernel(BwdParams p) {
  using K = BwdDqKernel<T, D>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, MI = K::MI;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sdO = sQ + BM * D;
  T* sK = sdO + BM * D;     // [2][BN][D]
  T* sV = sK + 2 * BN * D;  // [2][BN][D]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const T* q = static_cast<const T*>(p.q) + bh * N * D;
  const T* k = static_cast<const T*>(p.k) + bh * Nkv * D;
  const T* v = static_cast<const T*>(p.v) + bh * Nkv * D;
  const T* dout = static_cast<const T*>(p.dout) + bh * N * D;
  T* dq = static_cast<T*>(p.dq) + bh * N * D;
  const int wr0 = warp * 16 * MI;

  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  load_tile<T, BM, D, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  load_tile<T, BM, D, NThreads>(sdO, dout + (size_t)m0 * D, N - m0, dout, tid);
  if (nb > 0) {
    load_tile<T, BN, D, NThreads>(sK, k, Nkv, k, tid);
    load_tile<T, BN, D, NThreads>(sV, v, Nkv, v, tid);
  }
  cp_async_commit();

  // Per-row LSE (base 2; +inf for rows past N or that see no key, so P = 0) and D_i.
  float l2[MI][2], dv_row[MI][2];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int r = m0 + wr0 + mi * 16 + (lane >> 2) + h * 8;
      l2[mi][h] = r < N ? p.lse2[bh * N + r] : INFINITY;
      dv_row[mi][h] = r < N ? p.dvec[bh * N + r] : 0.f;
    }

  float acc[MI][D / 8][4];
  zero(acc);
  for (int j = 0; j < nb; ++j) {
    if (j + 1 < nb) {
      const int n1 = (j + 1) * BN, st = (j + 1) & 1;
      load_tile<T, BN, D, NThreads>(sK + st * BN * D, k + (size_t)n1 * D, Nkv - n1, k, tid);
      load_tile<T, BN, D, NThreads>(sV + st * BN * D, v + (size_t)n1 * D, Nkv - n1, v, tid);
    }
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const T* cK = sK + (j & 1) * BN * D;
    const T* cV = sV + (j & 1) * BN * D;
    const int n0 = j * BN;

    float s[MI][BN / 8][4], dp[MI][BN / 8][4];
    zero(s);
    zero(dp);
    warp_gemm_ss<T, MI, BN / 8, D, D, false, D, false>(s, sQ, wr0, cK, 0, lane);
    warp_gemm_ss<T, MI, BN / 8, D, D, false, D, false>(dp, sdO, wr0, cV, 0, lane);
    const bool mask = n0 + BN > Nkv || (p.causal && n0 + BN - 1 > m0 + off);
    auto ds_tile = [&](auto masked) {  // the mask in its own code path (flash_bwd_kernel.cuh says why)
#pragma unroll
      for (int mi = 0; mi < MI; ++mi)
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int h = r >> 1;
            float pv = ex2(fmaf(s[mi][nt][r], p.scale_log2, -l2[mi][h]));
            if constexpr (decltype(masked)::value) {
              const int row = m0 + wr0 + mi * 16 + (lane >> 2) + h * 8;
              const int col = n0 + nt * 8 + (lane & 3) * 2 + (r & 1);
              if (col >= Nkv || (p.causal && col > row + off)) pv = 0.f;
            }
            s[mi][nt][r] = pv * (dp[mi][nt][r] - dv_row[mi][h]);  // dS
          }
    };
    if (mask) ds_tile(std::true_type{});
    else ds_tile(std::false_type{});
    warp_gemm_rs<T, MI, BN / 8, D / 8, D>(acc, s, cK, 0, lane);
    __syncthreads();
  }
  cp_async_wait<0>();
  store_frag_global<T>(dq, D, m0 + wr0, 0, N, acc, p.scale, lane);
}

}  // namespace numlab::cuda::detail
