// SPDX-License-Identifier: MIT
// FlashAttention forward in fp32 on tensor cores (dtype fp32): one CTA per (kBlockM query rows, head),
// 16 rows per warp; K/V tiles stream through a 2-stage cp.async pipeline into fp32 shared memory; both
// products on mma.sync m16n8k8 tf32 with every operand split into TF32 parts in registers (mma_tf32.cuh:
// 3xTF32 = fp32-level products, or 1xTF32 for comparison); the online softmax in fp32 as in the
// 16-bit kernels (flash_fwd_kernel.cuh); writes fp32 O and the natural-log LSE per row.
#pragma once

#include "flash_params.cuh"
#include "mma_sm80.cuh"
#include "mma_tf32.cuh"
#include "tile_config.cuh"

#include <cmath>

namespace numlab::cuda::detail {

// The softmax's exponentials: 0 = ex2.approx.ftz (MUFU.EX2), 1 = exp2f (libdevice), 2 = 2^x by FMAs
// (x = n + f, |f| <= 1/2, Taylor to degree 7: relative error < 1e-8 before rounding; 0 below 2^-125).
#ifndef NUMLAB_FA_FP32_EXP
#define NUMLAB_FA_FP32_EXP 0
#endif
__device__ __forceinline__ float exp2_fma(float x) {
  if (!(x >= -125.f)) return 0.f;  // -inf (masked), and below 2^-125 (q 2^n stays normal)
  const float n = rintf(x), f = x - n;  // exact
  float q = 1.525273380405984e-05f;
  q = fmaf(q, f, 1.540353039338161e-04f);
  q = fmaf(q, f, 1.3333558146428443e-03f);
  q = fmaf(q, f, 9.618129107628477e-03f);
  q = fmaf(q, f, 5.550410866482158e-02f);
  q = fmaf(q, f, 2.402265069591007e-01f);
  q = fmaf(q, f, 6.931471805599453e-01f);
  q = fmaf(q, f, 1.0f);
  return __int_as_float(__float_as_int(q) + (int(n) << 23));
}
__device__ __forceinline__ float softmax_exp2(float x) {
  return NUMLAB_FA_FP32_EXP == 2 ? exp2_fma(x) : NUMLAB_FA_FP32_EXP == 1 ? exp2f(x) : ex2(x);
}

template <int D, int Terms>
struct FwdFp32Kernel {
  using Cfg = FwdFp32Tile<D>;
  static constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, NW = Cfg::kNWarps, NThreads = NW * 32;
  // Rows padded by 4 floats: the 8 rows of an ldmatrix 8x4-float matrix fall in 8 distinct groups of
  // 4 banks, and the V reads (rows 2t, 2t + 1, column g) in 32 distinct banks.
  static constexpr int LD = D + 4;
  // k-steps (of 8) per tensor-core accumulation chain: S = Q K^T, O += P V.
  static constexpr int KS = Cfg::kChainS, PVS = Cfg::kChainPV > BN / 8 ? BN / 8 : Cfg::kChainPV;
  static_assert(BM == 16 * NW && BN % 16 == 0 && D % 32 == 0 && (D / 8) % KS == 0 && (BN / 8) % PVS == 0,
                "fp32 forward tile");
  static constexpr int kSmemBytes = (BM + 4 * BN) * LD * int(sizeof(float));
};

// R x D fp32 tile of a row-major [rows, D] tensor into shared rows of LD floats; rows >= valid_rows
// are zero-filled (fallback: any readable address, never dereferenced).
template <int R, int D, int LD, int NThreads>
__device__ __forceinline__ void load_tile_f32(float* s, const float* g, int valid_rows, const float* fallback,
                                              int tid) {
  constexpr int kChunks = D / 4;
  static_assert((R * kChunks) % NThreads == 0, "tile chunks must split evenly over the threads");
#pragma unroll
  for (int i = 0; i < R * kChunks / NThreads; ++i) {
    const int c = tid + i * NThreads;
    const int r = c / kChunks, ch = c % kChunks;
    const bool ok = r < valid_rows;
    cp_async16(s + r * LD + ch * 4, ok ? g + (size_t)r * D + ch * 4 : fallback, ok);
  }
}

template <int D, int Terms>
__global__ void __launch_bounds__(FwdFp32Kernel<D, Terms>::NThreads, FwdFp32Kernel<D, Terms>::Cfg::kMinBlocks)
    flash_fwd_fp32_kernel(FwdParams p) {
  using K = FwdFp32Kernel<D, Terms>;
  using Split = Tf32Split<Terms>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, LD = K::LD;
  constexpr int NT = BN / 8, DT = D / 8, KS = K::KS, PVS = K::PVS;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* sQ = reinterpret_cast<float*>(smem_raw);
  float* sK = sQ + BM * LD;      // [2][BN][LD]
  float* sV = sK + 2 * BN * LD;  // [2][BN][LD]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  // Reverse order: with a causal mask the last query blocks are the heaviest, start them first.
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const float* q = static_cast<const float*>(p.q) + bh * N * D;
  const float* k = static_cast<const float*>(p.k) + bh * Nkv * D;
  const float* v = static_cast<const float*>(p.v) + bh * Nkv * D;
  float* o = static_cast<float*>(p.o) + bh * N * D;
  float* lse = p.lse + bh * N;

  // Keys this CTA can see: all, or (causal) up to the last row's diagonal m0 + BM - 1 + off.
  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  load_tile_f32<BM, D, LD, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  if (nb > 0) {
    load_tile_f32<BN, D, LD, NThreads>(sK, k, Nkv, k, tid);
    load_tile_f32<BN, D, LD, NThreads>(sV, v, Nkv, v, tid);
  }
  cp_async_commit();

  float acc_o[DT][4];
#pragma unroll
  for (int dt = 0; dt < DT; ++dt) acc_o[dt][0] = acc_o[dt][1] = acc_o[dt][2] = acc_o[dt][3] = 0.f;
  // Per row: the running max of S, that times scale log2(e) rounded (the shift of every exponent), the sum.
  float row_m[2] = {-INFINITY, -INFINITY}, row_ms[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};
  const int wr0 = warp * 16;  // warp's first row within the block

  // ldmatrix (b16 x4) on fp32 rows: register j of a lane holds float (lane/4, lane%4) of 8x4-float
  // matrix j, which is the m16n8k8 tf32 fragment layout. Q (A): matrices (rows 0-7 | 8-15) x (cols
  // 0-3 | 4-7) in the order a0..a3; K (B of two n-tiles): (cols 0-3 | 4-7) x (keys 0-7 | 8-15).
  const uint32_t q_addr = smem_u32(sQ + (wr0 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + (lane >> 4) * 4);
  const int k_off = ((lane & 7) + (lane >> 4) * 8) * LD + ((lane >> 3) & 1) * 4;
  // P V: the C fragment of S holds keys 2t, 2t + 1 of each 8-key chunk, so the k index of the A
  // fragment is permuted (t -> key 2t, t + 4 -> key 2t + 1) and V's rows are read in the same order.
  const int v_off = 2 * t * LD + g;

  for (int j = 0; j < nb; ++j) {
    if (j + 1 < nb) {  // prefetch the next K/V tile into the other stage
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

    // S = Q K^T in chains of KS k-steps: each chain starts from zero in the tensor cores, which add
    // into their accumulator with truncation, and is added to S by a rounding fp32 add (one long
    // chain biases |S| low by ~chain/2 ulps).
    float s[NT][4];
    const uint32_t k_addr = smem_u32(cK + k_off);
#pragma unroll
    for (int kg = 0; kg < D / 8; kg += KS) {
      Split a[KS][4];
#pragma unroll
      for (int i = 0; i < KS; ++i) {
        uint32_t qa[4];
        ldsm_x4(qa, q_addr + uint32_t((kg + i) * 32));
#pragma unroll
        for (int r = 0; r < 4; ++r) a[i][r] = Split(__uint_as_float(qa[r]));
      }
#pragma unroll
      for (int np = 0; np < NT / 2; ++np) {
        float c[2][4] = {};
#pragma unroll
        for (int i = 0; i < KS; ++i) {
          uint32_t kb[4];
          ldsm_x4(kb, k_addr + uint32_t((np * 16 * LD + (kg + i) * 8) * 4));
          const Split b0(__uint_as_float(kb[0])), b1(__uint_as_float(kb[1])), b2(__uint_as_float(kb[2])),
              b3(__uint_as_float(kb[3]));
          mma_split<Terms>(c[0], a[i], b0, b1);
          mma_split<Terms>(c[1], a[i], b2, b3);
        }
#pragma unroll
        for (int h = 0; h < 2; ++h)
#pragma unroll
          for (int r = 0; r < 4; ++r) s[2 * np + h][r] = kg == 0 ? c[h][r] : s[2 * np + h][r] + c[h][r];
      }
    }

    // Mask only the tiles that cross the key end or the causal diagonal.
    if (n0 + BN > Nkv || (p.causal && n0 + BN - 1 > m0 + off)) {
#pragma unroll
      for (int nt = 0; nt < NT; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int row = m0 + wr0 + g + (r >> 1) * 8;
          const int col = n0 + nt * 8 + t * 2 + (r & 1);
          if (col >= Nkv || (p.causal && col > row + off)) s[nt][r] = -INFINITY;
        }
    }

    // Online softmax in base 2; each row lives in the 4 lanes of a quad.
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = row_m[h];
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      // A fully masked row so far keeps max -inf: shift by 0 so exp gives 0, not NaN.
      const float ms = mx == -INFINITY ? 0.f : mx * p.scale_log2;
      // The rescale from the exact difference of the two rounded shifts (no FMA: exp2(fma(m_old, c,
      // -ms)) is 2^(rounding error of ms) != 1 when the max did not move, and that factor compounds
      // over every K/V tile: L was off by up to 2.3e-5 at N = 8k).
      const float corr = row_ms[h] == ms ? 1.f : row_ms[h] == -INFINITY ? 0.f : softmax_exp2(__fsub_rn(row_ms[h], ms));
      row_ms[h] = mx == -INFINITY ? -INFINITY : ms;
      row_m[h] = mx;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < NT; ++nt) {
        s[nt][2 * h] = softmax_exp2(fmaf(s[nt][2 * h], p.scale_log2, -ms));
        s[nt][2 * h + 1] = softmax_exp2(fmaf(s[nt][2 * h + 1], p.scale_log2, -ms));
        sum += s[nt][2 * h] + s[nt][2 * h + 1];
      }
      row_l[h] = row_l[h] * corr + sum;  // quad-partial; reduced in the epilogue
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) acc_o[dt][2 * h] *= corr, acc_o[dt][2 * h + 1] *= corr;
    }

    // O += P V, P from registers (fp32, split like every operand), 8 keys per k-step, in chains of PVS
    // k-steps per 8 output columns, each added to O by a rounding fp32 add (as for S).
#pragma unroll
    for (int kg = 0; kg < NT; kg += PVS) {
      Split pa[PVS][4];
#pragma unroll
      for (int i = 0; i < PVS; ++i) {
        pa[i][0] = Split(s[kg + i][0]), pa[i][1] = Split(s[kg + i][2]), pa[i][2] = Split(s[kg + i][1]);
        pa[i][3] = Split(s[kg + i][3]);
      }
#pragma unroll
      for (int dt = 0; dt < DT; ++dt) {
        float c[4] = {};
#pragma unroll
        for (int i = 0; i < PVS; ++i) {
          const float* vr = cV + (kg + i) * 8 * LD + v_off + dt * 8;
          const Split b0(vr[0]), b1(vr[LD]);
          mma_split<Terms>(c, pa[i], b0, b1);
        }
#pragma unroll
        for (int r = 0; r < 4; ++r) acc_o[dt][r] += c[r];
      }
    }
    __syncthreads();  // the next iteration's prefetch overwrites this stage
  }
  cp_async_wait<0>();

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float l = row_l[h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float div = l > 0.f ? l : 1.f;  // a true division, as softmax in fp32 divides
    const int row = m0 + wr0 + g + h * 8;
    if (row >= N) continue;
    // L = shift ln 2 + ln l (the shift the exponents were taken against), in fp64: one rounding.
    if (t == 0) lse[row] = l > 0.f ? float(double(row_ms[h]) * 0.6931471805599453 + log(double(l))) : -INFINITY;
#pragma unroll
    for (int dt = 0; dt < DT; ++dt)
      *reinterpret_cast<float2*>(o + (size_t)row * D + dt * 8 + 2 * t) =
          make_float2(acc_o[dt][2 * h] / div, acc_o[dt][2 * h + 1] / div);
  }
}

}  // namespace numlab::cuda::detail
