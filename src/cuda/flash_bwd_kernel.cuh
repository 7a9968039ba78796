// SPDX-License-Identifier: MIT
// FlashAttention-2 backward, main pass: one CTA per (kBlockN keys, head) keeps K, V and the dK, dV
// accumulators on chip and walks the query blocks (Q, dO and row statistics in a cp.async ring):
//   S^T = K Q^T,  P^T = exp(S^T - LSE) (recomputed, never stored globally),  dP^T = V dO^T,
//   dS^T = P^T o (dP^T - D),  dV += P^T dO,  dK += dS^T Q,  and in atomic mode dQ += dS K
// added to an fp32 accumulator with atomics. P^T and dS^T go through shared memory so that each
// GEMM can split its output over the warps its own way (tile_config.cuh).
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "warp_gemm.cuh"

#include <cmath>
#include <type_traits>

namespace numlab::cuda::detail {

template <class T, int D>
struct BwdKernel {
  using Cfg = BwdTile<T, D>;
  static constexpr int BM = Cfg::kBlockM, BN = Cfg::kBlockN, NW = Cfg::kNWarps, NThreads = NW * 32;
  // S^T / dP^T: warps (WN1 x WM1) over (keys x queries)
  static constexpr int WN1 = Cfg::kWarpsKeyS, WM1 = NW / WN1, MT1 = BN / WN1 / 16, NT1 = BM / WM1 / 8;
  // dV / dK: warps (WN2 x WD2) over (keys x D)
  static constexpr int WN2 = Cfg::kWarpsKeyKV, WD2 = NW / WN2, MT2 = BN / WN2 / 16, NT2 = D / WD2 / 8;
  // dQ: warps (WM3 x WD3) over (queries x D)
  static constexpr int WM3 = Cfg::kWarpsQdQ, WD3 = NW / WM3, MT3 = BM / WM3 / 16, NT3 = D / WD3 / 8;
  static_assert(MT1 * 16 * WN1 == BN && NT1 * 8 * WM1 == BM && NT1 % 2 == 0, "S^T warp grid");
  static_assert(MT2 * 16 * WN2 == BN && NT2 * 8 * WD2 == D && NT2 % 2 == 0, "dK/dV warp grid");
  static_assert(MT3 * 16 * WM3 == BM && NT3 * 8 * WD3 == D && NT3 % 2 == 0, "dQ warp grid");
  // dQ is computed in kDqParts column slices so that its accumulator fits beside dK, dV.
  static constexpr int DQP = Cfg::kDqParts, NT3P = NT3 / DQP;
  static_assert(NT3P * DQP == NT3 && NT3P % 2 == 0, "dQ column slices");
  static_assert(BM % 64 == 0, "P^T/dS^T rows are kBlockM wide and swizzled");
  // Q/dO/row-statistics stages; with 3 the prefetch never targets a stage another warp may still read,
  // so the loop needs no barrier at its end.
  static constexpr int ST = Cfg::kStages;
  static_assert(ST == 2 || ST == 3, "Q/dO stages");
  static constexpr int kSmemBytes = (2 * BN + 2 * ST * BM) * D * int(sizeof(T)) + 2 * BN * BM * int(sizeof(T)) +
                                    2 * ST * BM * int(sizeof(float));
};

template <class T, int D>
__global__ void __launch_bounds__(BwdKernel<T, D>::NThreads) flash_bwd_kernel(BwdParams p) {
  using K = BwdKernel<T, D>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads, ST = K::ST;
  constexpr int WM1 = K::WM1, MT1 = K::MT1, NT1 = K::NT1;
  constexpr int WD2 = K::WD2, MT2 = K::MT2, NT2 = K::NT2;
  constexpr int WD3 = K::WD3, MT3 = K::MT3, NT3 = K::NT3, NT3P = K::NT3P;
  extern __shared__ __align__(128) unsigned char smem_raw[];
  T* sK = reinterpret_cast<T*>(smem_raw);
  T* sV = sK + BN * D;
  T* sQ = sV + BN * D;        // [ST][BM][D]
  T* sdO = sQ + ST * BM * D;  // [ST][BM][D]
  T* sP = sdO + ST * BM * D;  // P^T  [BN][BM]
  T* sdS = sP + BN * BM;      // dS^T [BN][BM]
  float* sStat = reinterpret_cast<float*>(sdS + BN * BM);  // [ST][LSE * log2(e), D_i][BM] (0 past N)

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int n0 = blockIdx.x * BN;
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const T* q = static_cast<const T*>(p.q) + bh * N * D;
  const T* k = static_cast<const T*>(p.k) + bh * Nkv * D;
  const T* v = static_cast<const T*>(p.v) + bh * Nkv * D;
  const T* dout = static_cast<const T*>(p.dout) + bh * N * D;
  const float* lse2 = p.lse2 + bh * N;
  const float* dvec = p.dvec + bh * N;
  float* dq_accum = p.dq_accum + bh * N * D;
  T* dk = static_cast<T*>(p.dk) + bh * Nkv * D;
  T* dv = static_cast<T*>(p.dv) + bh * Nkv * D;

  // Warp tiles of the three GEMM shapes.
  const int kr1 = (warp / WM1) * MT1 * 16, qc1 = (warp % WM1) * NT1 * 8;
  const int kr2 = (warp / WD2) * MT2 * 16, dc2 = (warp % WD2) * NT2 * 8;
  const int qr3 = (warp / WD3) * MT3 * 16, dc3 = (warp % WD3) * NT3 * 8;

  // P^T/dS^T store offsets, swz<BM> without per-store math: the rows kr1 + 16 mt + lane/4 + 8 h share
  // row % 8, and the warp's chunks c0 + nt (c0 = qc1/8, a multiple of the power of two NT1) swizzle
  // to (the swizzled chunk of nt = 0) ^ nt.
  static_assert((NT1 & (NT1 - 1)) == 0, "NT1 must be a power of two");
  const int st_c0 = qc1 >> 3, st_row = kr1 + (lane >> 2);
  const int st_y = (st_c0 & ~7) | ((st_c0 ^ st_row) & 7), st_base = st_row * BM + (lane & 3) * 2;

  float acc_dv[MT2][NT2][4], acc_dk[MT2][NT2][4];
  zero(acc_dv);
  zero(acc_dk);

  // Causal: key n0 is first seen by query n0 - off.
  const int q_first = p.causal ? max(0, n0 - off) : 0;
  const int mb_begin = q_first / BM, mb_end = (N + BM - 1) / BM;
  if (q_first >= N) {  // no query sees these keys: zero gradients
    store_frag_global<T>(dv, D, n0 + kr2, dc2, Nkv, acc_dv, 1.f, lane);
    store_frag_global<T>(dk, D, n0 + kr2, dc2, Nkv, acc_dk, 1.f, lane);
    return;
  }

  auto load_q_block = [&](int mb, int st) {
    const int m0 = mb * BM;
    load_tile<T, BM, D, NThreads>(sQ + st * BM * D, q + (size_t)m0 * D, N - m0, q, tid);
    load_tile<T, BM, D, NThreads>(sdO + st * BM * D, dout + (size_t)m0 * D, N - m0, dout, tid);
    // Row statistics asynchronously too: a plain load would stall the warp (and, at the next barrier,
    // the CTA) for a global-memory round trip per query block. Rows past N read as zeros, which is
    // harmless: their Q and dO rows are zero too, so P = 1 multiplies zeros and dS = 0.
    for (int i = tid; i < BM; i += NThreads) {
      const bool ok = m0 + i < N;
      cp_async4(sStat + st * 2 * BM + i, lse2 + (ok ? m0 + i : 0), ok);
      cp_async4(sStat + st * 2 * BM + BM + i, dvec + (ok ? m0 + i : 0), ok);
    }
  };

  load_tile<T, BN, D, NThreads>(sK, k + (size_t)n0 * D, Nkv - n0, k, tid);
  load_tile<T, BN, D, NThreads>(sV, v + (size_t)n0 * D, Nkv - n0, v, tid);
  load_q_block(mb_begin, 0);
  cp_async_commit();

  for (int mb = mb_begin; mb < mb_end; ++mb) {
    const int st = (mb - mb_begin) % ST;
    if (mb + 1 < mb_end) load_q_block(mb + 1, st + 1 == ST ? 0 : st + 1);
    cp_async_commit();
    cp_async_wait<1>();
    __syncthreads();
    const T* cQ = sQ + st * BM * D;
    const T* cdO = sdO + st * BM * D;
    const float* cL = sStat + st * 2 * BM;
    const float* cDv = cL + BM;
    const int m0 = mb * BM;

    // P^T = exp2(S^T * scale*log2e - LSE*log2e). Masked: tiles crossing the causal diagonal, and
    // keys past N_kv (zero-filled K gives S = 0, whose exp(-LSE) may overflow).
    float s[MT1][NT1][4];
    zero(s);
    warp_gemm_ss<T, MT1, NT1, D, D, false, D, false>(s, sK, kr1, cQ, qc1, lane);
    const bool mask = (p.causal && n0 + BN - 1 > m0 + off) || n0 + BN > Nkv;
    // The mask in its own code path: merged into one, the compiler if-converts it into per-element
    // predicate bookkeeping that every (mostly unmasked) tile pays for.
    auto exp_scores = [&](auto masked) {
#pragma unroll
      for (int mt = 0; mt < MT1; ++mt)
#pragma unroll
        for (int nt = 0; nt < NT1; ++nt)
#pragma unroll
          for (int r = 0; r < 4; ++r) {
            const int ql = qc1 + nt * 8 + (lane & 3) * 2 + (r & 1);
            float pv = ex2(fmaf(s[mt][nt][r], p.scale_log2, -cL[ql]));
            if constexpr (decltype(masked)::value) {
              const int key = n0 + kr1 + mt * 16 + (lane >> 2) + (r >> 1) * 8;
              if (key >= Nkv || (p.causal && key > m0 + ql + off)) pv = 0.f;
            }
            s[mt][nt][r] = pv;
          }
    };
    if (mask) exp_scores(std::true_type{});
    else exp_scores(std::false_type{});
    float dp[MT1][NT1][4];
    zero(dp);
    warp_gemm_ss<T, MT1, NT1, D, D, false, D, false>(dp, sV, kr1, cdO, qc1, lane);
#pragma unroll
    for (int mt = 0; mt < MT1; ++mt)
#pragma unroll
      for (int nt = 0; nt < NT1; ++nt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int col = qc1 + nt * 8 + (lane & 3) * 2;
          const float p0 = s[mt][nt][2 * h], p1 = s[mt][nt][2 * h + 1];
          const float ds0 = p0 * (dp[mt][nt][2 * h] - cDv[col]);
          const float ds1 = p1 * (dp[mt][nt][2 * h + 1] - cDv[col + 1]);
          // swz<BM>(kr1 + 16 mt + lane/4 + 8 h, col):
          const int o = st_base + (mt * 16 + h * 8) * BM + (st_y ^ nt) * 8;
          *reinterpret_cast<uint32_t*>(sP + o) = pack2<T>(p0, p1);
          *reinterpret_cast<uint32_t*>(sdS + o) = pack2<T>(ds0, ds1);
        }
    __syncthreads();

    warp_gemm_ss<T, MT2, NT2, BM, BM, false, D, true>(acc_dv, sP, kr2, cdO, dc2, lane);
    warp_gemm_ss<T, MT2, NT2, BM, BM, false, D, true>(acc_dk, sdS, kr2, cQ, dc2, lane);

    // dQ(rows m0..) += dS K, summed over key blocks by fp32 atomics
    for (int c0 = dc3; !p.deterministic && c0 < dc3 + NT3 * 8; c0 += NT3P * 8) {
      float dq[MT3][NT3P][4];
      zero(dq);
      warp_gemm_ss<T, MT3, NT3P, BN, BM, true, D, true>(dq, sdS, qr3, sK, c0, lane);
#pragma unroll
      for (int mt = 0; mt < MT3; ++mt)
#pragma unroll
        for (int h = 0; h < 2; ++h) {
          const int r = m0 + qr3 + mt * 16 + (lane >> 2) + h * 8;
          if (r >= N) continue;
#pragma unroll
          for (int nt = 0; nt < NT3P; ++nt) {
            float* dst = dq_accum + (size_t)r * D + c0 + nt * 8 + (lane & 3) * 2;
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
            atomicAdd(reinterpret_cast<float2*>(dst), make_float2(dq[mt][nt][2 * h], dq[mt][nt][2 * h + 1]));
#else
            atomicAdd(dst, dq[mt][nt][2 * h]);
            atomicAdd(dst + 1, dq[mt][nt][2 * h + 1]);
#endif
          }
        }
    }
    if (ST == 2) __syncthreads();  // the next prefetch overwrites this Q/dO stage
  }
  cp_async_wait<0>();

  store_frag_global<T>(dv, D, n0 + kr2, dc2, Nkv, acc_dv, 1.f, lane);
  store_frag_global<T>(dk, D, n0 + kr2, dc2, Nkv, acc_dk, p.scale, lane);
}

}  // namespace numlab::cuda::detail
