// SPDX-License-Identifier: MIT
// FlashAttention forward: one CTA per (kBlockM query rows, head); K/V tiles stream through a
// 2-stage cp.async pipeline; S = Q K^T and O += P V on mma.sync m16n8k16 with fp32 accumulation;
// online softmax in base 2; writes O and the natural-log LSE per row.
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "warp_gemm.cuh"

#include <cmath>

namespace numlab::cuda::detail {

template <class T, int D>
struct FwdKernel {
  using Cfg = FwdTile<T, D>;
  static constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, NW = Cfg::kNWarps, NThreads = NW * 32;
  static constexpr int MI = BM / (16 * NW);  // 16-row m-tiles per warp
  static_assert(MI * 16 * NW == BM && BN % 16 == 0 && D % 64 == 0, "forward tile");
  static constexpr int kSmemBytes = (BM + 4 * BN) * D * int(sizeof(T));
};

template <class T, int D>
__global__ void __launch_bounds__(FwdKernel<T, D>::NThreads) flash_fwd_kernel(FwdParams p) {
  using K = FwdKernel<T, D>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, MI = K::MI;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw);
  T* sK = sQ + BM * D;      // [2][BN][D]
  T* sV = sK + 2 * BN * D;  // [2][BN][D]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  // Reverse order: with a causal mask the last query blocks are the heaviest, start them first.
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const T* q = static_cast<const T*>(p.q) + bh * N * D;
  const T* k = static_cast<const T*>(p.k) + bh * Nkv * D;
  const T* v = static_cast<const T*>(p.v) + bh * Nkv * D;
  T* o = static_cast<T*>(p.o) + bh * N * D;
  float* lse = p.lse + bh * N;

  // Keys this CTA can see: all, or (causal) up to the last row's diagonal m0 + BM - 1 + off.
  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  load_tile<T, BM, D, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  if (nb > 0) {
    load_tile<T, BN, D, NThreads>(sK, k, Nkv, k, tid);
    load_tile<T, BN, D, NThreads>(sV, v, Nkv, v, tid);
  }
  cp_async_commit();

  float acc_o[MI][D / 8][4];
  zero(acc_o);
  float row_m[MI][2], row_l[MI][2];
#pragma unroll
  for (int mi = 0; mi < MI; ++mi) row_m[mi][0] = row_m[mi][1] = -INFINITY, row_l[mi][0] = row_l[mi][1] = 0.f;
  const int wr0 = warp * 16 * MI;  // warp's first row within the block

  for (int j = 0; j < nb; ++j) {
    if (j + 1 < nb) {  // prefetch the next K/V tile into the other stage
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

    float s[MI][BN / 8][4];
    zero(s);
    warp_gemm_ss<T, MI, BN / 8, D, D, false, D, false>(s, sQ, wr0, cK, 0, lane);

    // Mask only the tiles that cross the key end or the causal diagonal.
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

    // Online softmax; each row lives in the 4 lanes of a quad.
#pragma unroll
    for (int mi = 0; mi < MI; ++mi)
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        float mx = row_m[mi][h];
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[mi][nt][2 * h], s[mi][nt][2 * h + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
        // A fully masked row so far keeps max -inf: shift by 0 so exp gives 0, not NaN.
        const float ms = mx == -INFINITY ? 0.f : mx * p.scale_log2;
        const float corr = ex2(row_m[mi][h] * p.scale_log2 - ms);
        row_m[mi][h] = mx;
        float sum = 0.f;
#pragma unroll
        for (int nt = 0; nt < BN / 8; ++nt) {
          s[mi][nt][2 * h] = ex2(fmaf(s[mi][nt][2 * h], p.scale_log2, -ms));
          s[mi][nt][2 * h + 1] = ex2(fmaf(s[mi][nt][2 * h + 1], p.scale_log2, -ms));
          sum += s[mi][nt][2 * h] + s[mi][nt][2 * h + 1];
        }
        row_l[mi][h] = row_l[mi][h] * corr + sum;  // quad-partial; reduced in the epilogue
#pragma unroll
        for (int dt = 0; dt < D / 8; ++dt) acc_o[mi][dt][2 * h] *= corr, acc_o[mi][dt][2 * h + 1] *= corr;
      }

    warp_gemm_rs<T, MI, BN / 8, D / 8, D>(acc_o, s, cV, 0, lane);
    __syncthreads();  // the next iteration's prefetch overwrites this stage
  }
  cp_async_wait<0>();

#pragma unroll
  for (int mi = 0; mi < MI; ++mi)
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float l = row_l[mi][h];
      l += __shfl_xor_sync(0xffffffffu, l, 1);
      l += __shfl_xor_sync(0xffffffffu, l, 2);
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const int row = m0 + wr0 + mi * 16 + (lane >> 2) + h * 8;
      if (row < N && (lane & 3) == 0) lse[row] = l > 0.f ? row_m[mi][h] * p.scale + logf(l) : -INFINITY;
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt) acc_o[mi][dt][2 * h] *= inv, acc_o[mi][dt][2 * h + 1] *= inv;
    }
  store_frag_global<T>(o, D, m0 + wr0, 0, N, acc_o, 1.f, lane);
}

}  // namespace numlab::cuda::detail
