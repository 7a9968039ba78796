// SPDX-License-Identifier: MIT
// FlashAttention-2 backward in fp32 on tensor cores (dtype fp32), main pass: one CTA per (kBlockN keys,
// head), 16 keys per warp, keeps K, V and the dK, dV accumulators and walks the query blocks (Q, dO and
// the row statistics in a 2-stage cp.async pipeline, fp32 rows padded to D + 4 floats):
//   S^T = K Q^T,  P^T = exp2(S^T scale log2(e) - LSE log2(e)),  dP^T = V dO^T,  dS^T = P^T o (dP^T - D),
//   dV += P^T dO,  dK += dS^T Q,  and in atomic mode dQ += dS K into an fp32 accumulator with atomics.
// Every product is 3xTF32 (or 1xTF32 for comparison) on mma.sync m16n8k8 (fp32_warp_mma.cuh). A warp
// owns whole rows of S^T (its 16 keys x the block's queries), so P^T and dS^T feed dV and dK from
// registers; for dQ, dS^T goes through shared memory (its keys stored kperm_pos-permuted).
#pragma once

#include "flash_fwd_fp32_kernel.cuh"
#include "flash_params.cuh"
#include "fp32_warp_mma.cuh"
#include "tile_config.cuh"

#include <cmath>
#include <type_traits>

namespace numlab::cuda::detail {

template <int D, int Terms, bool AtomicDq>
struct BwdFp32Kernel {
  using Cfg = BwdFp32Tile<D>;
  static constexpr int NW = Cfg::kNWarps, BN = 16 * NW, BM = Cfg::kBlockM, NThreads = NW * 32;
  static constexpr int LD = D + 4, LDS = BN + 4;  // rows of K, V, Q, dO; rows of dS (atomic mode)
  static constexpr int KS = Cfg::kChainS, PVS = Cfg::kChainPV > BM / 8 ? BM / 8 : Cfg::kChainPV;
  static constexpr int DQS = Cfg::kChainDq;
  // dQ (atomic mode): warps (WM x WD) over (BM queries x D), each 16 rows x NT3 8-column tiles.
  static constexpr int WM = BM / 16, WD = NW / WM, NT3 = D / WD / 8;
  static_assert(WM * WD == NW && NT3 * 8 * WD == D, "fp32 backward dQ warp grid: one 16-row tile per warp");
  static_assert(BM % 16 == 0 && D % 32 == 0 && (D / 8) % KS == 0 && (BM / 8) % PVS == 0 && (BN / 8) % DQS == 0,
                "fp32 backward tile");
  static constexpr int kSmemBytes =
      ((2 * BN + 4 * BM) * LD + (AtomicDq ? BM * LDS : 0) + 6 * BM) * int(sizeof(float));
};

// D/4 consecutive lanes own one row (16 bytes of O and dO each): D_i = rowsum(dO o O) in fp32, and
// LSE log2(e) in fp64 as hi + lo in fp32 (+inf, 0 where LSE = -inf: the row sees no key, so P = 0).
template <int D>
__global__ void __launch_bounds__(256) bwd_rowstat_fp32_kernel(const float* __restrict__ o,
                                                               const float* __restrict__ dout,
                                                               const float* __restrict__ lse, float* __restrict__ lse2,
                                                               float* __restrict__ lse2_lo, float* __restrict__ dvec,
                                                               long rows) {
  constexpr int G = D / 4;
  static_assert(G <= 32 && 32 % G == 0, "row group must fit a warp");
  const long gid = (long)blockIdx.x * blockDim.x + threadIdx.x;
  const long row = gid / G;
  const int c = int(gid % G) * 4;
  float acc = 0.f;
  if (row < rows) {
    const float4 a = *reinterpret_cast<const float4*>(o + row * D + c);
    const float4 b = *reinterpret_cast<const float4*>(dout + row * D + c);
    acc = fmaf(a.x, b.x, fmaf(a.y, b.y, fmaf(a.z, b.z, a.w * b.w)));
  }
#pragma unroll
  for (int s = G / 2; s > 0; s >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, s);
  if (row < rows && gid % G == 0) {
    const float l = lse[row];
    const double l2 = double(l) * 1.4426950408889634;
    const float hi = l == -INFINITY ? INFINITY : float(l2);
    lse2[row] = hi;
    lse2_lo[row] = l == -INFINITY ? 0.f : float(l2 - double(hi));
    dvec[row] = acc;
  }
}

// dQ = scale x the fp32 accumulator (atomic mode).
__global__ void __launch_bounds__(256) bwd_scale_dq_fp32_kernel(const float* __restrict__ acc, float* __restrict__ dq,
                                                                long n4, float scale) {
  for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (long)gridDim.x * blockDim.x) {
    float4 a = reinterpret_cast<const float4*>(acc)[i];
    a.x *= scale, a.y *= scale, a.z *= scale, a.w *= scale;
    reinterpret_cast<float4*>(dq)[i] = a;
  }
}

// P = 2^(s scale log2(e) - LSE log2(e)) with both factors as hi + lo: the exponent to fp32 accuracy
// (the hi fma is exact up to its final rounding; the lo terms are ~2^-24 of theirs).
__device__ __forceinline__ float softmax_p(float s, float c_hi, float c_lo, float l2_hi, float l2_lo) {
  return softmax_exp2(fmaf(s, c_lo, fmaf(s, c_hi, -l2_hi) - l2_lo));
}

// The warp's 16 rows x D of C fragments, times mul, to a row-major fp32 [rows, D] tensor; rows >= valid skipped.
template <int NT>
__device__ __forceinline__ void store_rows_f32(float* g, int r0, int valid, const float (&acc)[NT][4], float mul,
                                               int lane) {
#pragma unroll
  for (int h = 0; h < 2; ++h) {
    const int r = r0 + (lane >> 2) + h * 8;
    if (r >= valid) continue;
#pragma unroll
    for (int nt = 0; nt < NT; ++nt)
      *reinterpret_cast<float2*>(g + (size_t)r * (NT * 8) + nt * 8 + 2 * (lane & 3)) =
          make_float2(acc[nt][2 * h] * mul, acc[nt][2 * h + 1] * mul);
  }
}

template <int D, int Terms, bool AtomicDq>
__global__ void __launch_bounds__(BwdFp32Kernel<D, Terms, AtomicDq>::NThreads, 1)
    flash_bwd_fp32_kernel(BwdParams p) {
  using K = BwdFp32Kernel<D, Terms, AtomicDq>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, LD = K::LD, LDS = K::LDS;
  constexpr int NQ = BM / 8, DT = D / 8, WD = K::WD, NT3 = K::NT3;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* sK = reinterpret_cast<float*>(smem_raw);
  float* sV = sK + BN * LD;
  float* sQ = sV + BN * LD;         // [2][BM][LD]
  float* sdO = sQ + 2 * BM * LD;    // [2][BM][LD]
  float* sStat = sdO + 2 * BM * LD;  // [2][LSE log2(e) hi, D_i, lo][BM] (0 past N)
  float* sdS = sStat + 6 * BM;       // [BM][LDS], atomic mode: dS, keys kperm_pos-permuted per 8

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * BN;
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const float* q = static_cast<const float*>(p.q) + bh * N * D;
  const float* k = static_cast<const float*>(p.k) + bh * Nkv * D;
  const float* v = static_cast<const float*>(p.v) + bh * Nkv * D;
  const float* dout = static_cast<const float*>(p.dout) + bh * N * D;
  const float* lse2 = p.lse2 + bh * N;
  const float* dvec = p.dvec + bh * N;
  const float* lse2_lo = p.lse2_lo + bh * N;
  float* dq_accum = AtomicDq ? p.dq_accum + bh * N * D : nullptr;
  float* dk = static_cast<float*>(p.dk) + bh * Nkv * D;
  float* dv = static_cast<float*>(p.dv) + bh * Nkv * D;
  const int kr = warp * 16;  // the warp's first key within the block

  float acc_dv[DT][4], acc_dk[DT][4];
#pragma unroll
  for (int i = 0; i < DT; ++i)
#pragma unroll
    for (int r = 0; r < 4; ++r) acc_dv[i][r] = acc_dk[i][r] = 0.f;

  // Causal: key n0 is first seen by query n0 - off (< N, as n0 < N_kv: every block has queries to walk).
  const int q_first = p.causal ? max(0, n0 - off) : 0;
  const int mb_begin = q_first / BM, mb_end = (N + BM - 1) / BM;

  auto load_q_block = [&](int mb, int st) {
    const int m0 = mb * BM;
    load_tile_f32<BM, D, LD, NThreads>(sQ + st * BM * LD, q + (size_t)m0 * D, N - m0, q, tid);
    load_tile_f32<BM, D, LD, NThreads>(sdO + st * BM * LD, dout + (size_t)m0 * D, N - m0, dout, tid);
    // Rows past N read as zeros: their Q and dO rows are zero too, so P = 1 multiplies zeros and dS = 0.
    for (int i = tid; i < BM; i += NThreads) {
      const bool ok = m0 + i < N;
      cp_async4(sStat + st * 3 * BM + i, lse2 + (ok ? m0 + i : 0), ok);
      cp_async4(sStat + st * 3 * BM + BM + i, dvec + (ok ? m0 + i : 0), ok);
      cp_async4(sStat + st * 3 * BM + 2 * BM + i, lse2_lo + (ok ? m0 + i : 0), ok);
    }
  };

  load_tile_f32<BN, D, LD, NThreads>(sK, k + (size_t)n0 * D, Nkv - n0, k, tid);
  load_tile_f32<BN, D, LD, NThreads>(sV, v + (size_t)n0 * D, Nkv - n0, v, tid);
  load_q_block(mb_begin, 0);
  cp_async_commit();

  for (int mb = mb_begin; mb < mb_end; ++mb) {
    const int st = (mb - mb_begin) & 1;
    if (mb + 1 < mb_end) load_q_block(mb + 1, st ^ 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const float* cQ = sQ + st * BM * LD;
    const float* cdO = sdO + st * BM * LD;
    const float* cL = sStat + st * 3 * BM;
    const float* cDv = cL + BM;
    const float* cLlo = cL + 2 * BM;
    const int m0 = mb * BM;

    float s[NQ][4], dp[NQ][4];
    mma_abt<Terms, NQ, D / 8, K::KS, LD>(s, sK + kr * LD, cQ, lane);
    mma_abt<Terms, NQ, D / 8, K::KS, LD>(dp, sV + kr * LD, cdO, lane);

    // P^T and dS^T. Masked: tiles crossing the causal diagonal, and keys past N_kv (zero-filled K gives
    // S = 0, whose exp(-LSE) may overflow). The mask in its own code path (flash_bwd_kernel.cuh says why).
    const bool mask = (p.causal && n0 + BN - 1 > m0 + off) || n0 + BN > Nkv;
    auto p_and_ds = [&](auto masked) {
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int ql = nt * 8 + 2 * t + (r & 1);
          float pv = softmax_p(s[nt][r], p.scale_log2, p.scale_log2_lo, cL[ql], cLlo[ql]);
          if constexpr (decltype(masked)::value) {
            const int key = n0 + kr + g + (r >> 1) * 8;
            if (key >= Nkv || (p.causal && key > m0 + ql + off)) pv = 0.f;
          }
          s[nt][r] = pv;
          dp[nt][r] = pv * (dp[nt][r] - cDv[ql]);
        }
    };
    if (mask) p_and_ds(std::true_type{});
    else p_and_ds(std::false_type{});

    mma_frag_b<Terms, NQ, DT, K::PVS, LD>(acc_dv, s, cdO, lane);
    mma_frag_b<Terms, NQ, DT, K::PVS, LD>(acc_dk, dp, cQ, lane);

    if constexpr (AtomicDq) {
      // dS^T (this warp's 16 keys) -> sdS[query][key position]: key kr + g + 8 h sits in chunk
      // (kr + 8 h) / 8 at kperm_pos(g); the 32 lanes of a store hit 32 banks (LDS % 32 == 4).
      const int pos = kperm_pos(g);
#pragma unroll
      for (int nt = 0; nt < NQ; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r)
          sdS[(nt * 8 + 2 * t + (r & 1)) * LDS + kr + (r >> 1) * 8 + pos] = dp[nt][r];
      __syncthreads();
      const int qr = (warp / WD) * 16, dc = (warp % WD) * NT3 * 8;
      float dq[NT3][4];
#pragma unroll
      for (int i = 0; i < NT3; ++i) dq[i][0] = dq[i][1] = dq[i][2] = dq[i][3] = 0.f;
      mma_ab_perm<Terms, BN / 8, NT3, K::DQS, LDS, LD>(dq, sdS + qr * LDS, sK + dc, lane);
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int r = m0 + qr + g + h * 8;
        if (r >= N) continue;
#pragma unroll
        for (int nt = 0; nt < NT3; ++nt) {
          float* dst = dq_accum + (size_t)r * D + dc + nt * 8 + 2 * t;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
          atomicAdd(reinterpret_cast<float2*>(dst), make_float2(dq[nt][2 * h], dq[nt][2 * h + 1]));
#else
          atomicAdd(dst, dq[nt][2 * h]);
          atomicAdd(dst + 1, dq[nt][2 * h + 1]);
#endif
        }
      }
    }
    __syncthreads();  // the next prefetch overwrites this Q/dO stage (and the next dS overwrites sdS)
  }
  cp_async_wait<0>();

  store_rows_f32(dv, n0 + kr, Nkv, acc_dv, 1.f, lane);
  store_rows_f32(dk, n0 + kr, Nkv, acc_dk, p.scale, lane);
}

}  // namespace numlab::cuda::detail
