// SPDX-License-Identifier: MIT
// FlashAttention forward for Hopper (sm_90a): the algorithm of flash_fwd_kernel.cuh on warpgroup MMAs.
// A CTA of kWarpGroups warpgroups owns 64 query rows per group; S = Q K^T runs with Q and K from
// shared memory, O += P V with P from registers (the S accumulator layout is the A-operand layout).
// K and V stream through 2-stage cp.async rings in the 128-byte-swizzle layout wgmma reads, each tile
// stored as D/64 slabs of [rows][64]. Per iteration j the S GEMM of tile j+1 and the P V GEMM of
// tile j are issued back to back, and the softmax of tile j+1 runs while the P V GEMM is in flight:
//   issue S_{j+1} = Q K_{j+1}^T;  issue O += P_j V_j;  wait S;  softmax(S_{j+1});  wait O;  rescale O.
// No warp specialisation or TMA: every thread issues cp.async, and barriers keep the warpgroups in step.
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "warp_gemm.cuh"
#include "wgmma_sm90.cuh"

#include <cmath>

namespace numlab::cuda::detail {

template <class T, int D>
struct FwdSm90Kernel {
  using Cfg = FwdSm90Tile<T, D>;
  static constexpr int NWG = Cfg::kWarpGroups, BM = 64 * NWG, BN = Cfg::kBlockN, NThreads = 128 * NWG;
  static_assert(BN % 64 == 0 && D % 64 == 0 && D <= 256, "sm90 forward tile");
  // Q, 2 stages of K and V, and slack to align the tiles to the 1024-byte swizzle atom.
  static constexpr int kSmemBytes = (BM + 4 * BN) * D * int(sizeof(T)) + 1024;
};

// R x D tile of a row-major [rows, D] tensor into D/64 slabs of [R][64] with the 128-byte swizzle;
// rows >= valid_rows are zero-filled.
template <class T, int R, int D, int NThreads>
__device__ __forceinline__ void load_tile_slabs(T* s, const T* g, int valid_rows, const T* fallback, int tid) {
  constexpr int kChunks = D / 8;
#pragma unroll
  for (int i = 0; i < (R * kChunks + NThreads - 1) / NThreads; ++i) {
    const int c = tid + i * NThreads;
    if ((R * kChunks) % NThreads != 0 && c >= R * kChunks) break;
    const int r = c / kChunks, ch = c % kChunks;
    const bool ok = r < valid_rows;
    cp_async16(s + (ch >> 3) * R * 64 + swz<64>(r, (ch & 7) * 8), ok ? g + (size_t)r * D + ch * 8 : fallback, ok);
  }
}

template <class T, int D>
__global__ void __launch_bounds__(FwdSm90Kernel<T, D>::NThreads, FwdSm90Kernel<T, D>::Cfg::kMinBlocks) flash_fwd_sm90_kernel(FwdParams p) {
#if NUMLAB_HAS_WGMMA
  using K = FwdSm90Kernel<T, D>;
  constexpr int BM = K::BM, BN = K::BN, NThreads = K::NThreads;
  extern __shared__ unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023));
  T* sK = sQ + BM * D;      // [2][D/64][BN][64]
  T* sV = sK + 2 * BN * D;  // [2][D/64][BN][64]

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // heaviest causal blocks first
  const size_t bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const T* q = static_cast<const T*>(p.q) + bh * N * D;
  const T* k = static_cast<const T*>(p.k) + bh * Nkv * D;
  const T* v = static_cast<const T*>(p.v) + bh * Nkv * D;
  T* o = static_cast<T*>(p.o) + bh * N * D;
  float* lse = p.lse + bh * N;

  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;
  const int wr0 = warp * 16;  // warp's first row: warpgroup w/4 owns rows 64(w/4).., its warp w%4 16 of them

  auto load_k = [&](int j) {
    load_tile_slabs<T, BN, D, NThreads>(sK + (j & 1) * BN * D, k + (size_t)j * BN * D, Nkv - j * BN, k, tid);
  };
  auto load_v = [&](int j) {
    load_tile_slabs<T, BN, D, NThreads>(sV + (j & 1) * BN * D, v + (size_t)j * BN * D, Nkv - j * BN, v, tid);
  };
  // cp.async groups: {Q, K_0}, {V_0, K_1}, then per iteration j {K_{j+2}, V_{j+1}}: at iteration j the
  // group holding K_{j+1} and V_j is the second newest.
  load_tile_slabs<T, BM, D, NThreads>(sQ, q + (size_t)m0 * D, N - m0, q, tid);
  if (nb > 0) load_k(0);
  cp_async_commit();
  if (nb > 0) load_v(0);
  if (nb > 1) load_k(1);
  cp_async_commit();

  float acc_o[1][D / 8][4], s[BN / 8][4];
  uint32_t pf[BN / 16][4];  // P of the tile in flight, as m64k16 A fragments
  zero(acc_o);
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
  float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};

  const uint32_t q_addr = smem_u32(sQ) + (warp >> 2) * 64 * 128;
  auto issue_s = [&](int j) {  // s = Q K_j^T
    const uint32_t k_addr = smem_u32(sK + (j & 1) * BN * D);
    reg_fence(s);
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks)
      Wgmma<T, BN>::ss(s, gmma_desc(q_addr + (ks >> 2) * BM * 128 + (ks & 3) * 32, 16, 1024),
                       gmma_desc(k_addr + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024), ks > 0);
    wgmma_commit();
  };
  // Online softmax of tile j in s (masked where it crosses the key end or the causal diagonal);
  // s becomes exp2(s * scale_log2 - m_new), returns the factor for the rows' old O and l.
  auto softmax = [&](int j, float (&corr)[2]) {
    const int n0 = j * BN;
    if (n0 + BN > Nkv || (p.causal && n0 + BN - 1 > m0 + off)) {
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt)
#pragma unroll
        for (int r = 0; r < 4; ++r) {
          const int row = m0 + wr0 + (lane >> 2) + (r >> 1) * 8;
          const int col = n0 + nt * 8 + (lane & 3) * 2 + (r & 1);
          if (col >= Nkv || (p.causal && col > row + off)) s[nt][r] = -INFINITY;
        }
    }
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      float mx = row_m[h];
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * h], s[nt][2 * h + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float ms = mx == -INFINITY ? 0.f : mx * p.scale_log2;  // fully masked so far: exp -> 0, not NaN
      corr[h] = ex2(row_m[h] * p.scale_log2 - ms);
      row_m[h] = mx;
      float sum = 0.f;
#pragma unroll
      for (int nt = 0; nt < BN / 8; ++nt) {
        s[nt][2 * h] = ex2(fmaf(s[nt][2 * h], p.scale_log2, -ms));
        s[nt][2 * h + 1] = ex2(fmaf(s[nt][2 * h + 1], p.scale_log2, -ms));
        sum += s[nt][2 * h] + s[nt][2 * h + 1];
      }
      row_l[h] = row_l[h] * corr[h] + sum;  // quad-partial; reduced in the epilogue
    }
  };
  auto pack_p = [&]() {
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk) {
      pf[kk][0] = pack2<T>(s[2 * kk][0], s[2 * kk][1]);
      pf[kk][1] = pack2<T>(s[2 * kk][2], s[2 * kk][3]);
      pf[kk][2] = pack2<T>(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pf[kk][3] = pack2<T>(s[2 * kk + 1][2], s[2 * kk + 1][3]);
    }
  };

  auto issue_pv = [&](int j) {  // acc_o += P V_j
    const uint32_t v_addr = smem_u32(sV + (j & 1) * BN * D);
    reg_fence(acc_o[0]);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      Wgmma<T, D>::rs_tb(acc_o[0], pf[kk], gmma_desc(v_addr + kk * 16 * 128, BN * 128, 1024));
    wgmma_commit();
  };

  if (nb > 0) {
    cp_async_wait<1>();
    fence_proxy_async();
    __syncthreads();
    issue_s(0);
    wgmma_wait<0>();
    reg_fence(s);
    float corr[2];
    softmax(0, corr);  // O is still zero: nothing to rescale
    pack_p();
  }
  // The last tile is peeled off: a conditional S GEMM inside the loop makes ptxas serialize the wgmmas.
  for (int j = 0; j + 1 < nb; ++j) {
    __syncthreads();  // every warpgroup is done with K_j and V_{j-1}: their stages can be refilled
    if (j + 2 < nb) load_k(j + 2);
    load_v(j + 1);
    cp_async_commit();
    cp_async_wait<1>();  // K_{j+1}, V_j
    fence_proxy_async();
    __syncthreads();
    issue_s(j + 1);
    issue_pv(j);
    float corr[2];
    wgmma_wait<1>();
    reg_fence(s);
    softmax(j + 1, corr);
    wgmma_wait<0>();
    reg_fence(acc_o[0]);
    reg_fence(pf);
    pack_p();
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt)
      acc_o[0][dt][0] *= corr[0], acc_o[0][dt][1] *= corr[0], acc_o[0][dt][2] *= corr[1], acc_o[0][dt][3] *= corr[1];
  }
  cp_async_wait<0>();
  if (nb > 0) {
    fence_proxy_async();
    __syncthreads();  // V_{nb-1} landed for every thread
    issue_pv(nb - 1);
    wgmma_wait<0>();
    reg_fence(acc_o[0]);
    reg_fence(pf);
  }

#pragma unroll
  for (int h = 0; h < 2; ++h) {
    float l = row_l[h];
    l += __shfl_xor_sync(0xffffffffu, l, 1);
    l += __shfl_xor_sync(0xffffffffu, l, 2);
    const float inv = l > 0.f ? 1.f / l : 0.f;
    const int row = m0 + wr0 + (lane >> 2) + h * 8;
    if (row < N && (lane & 3) == 0) lse[row] = l > 0.f ? row_m[h] * p.scale + logf(l) : -INFINITY;
#pragma unroll
    for (int dt = 0; dt < D / 8; ++dt) acc_o[0][dt][2 * h] *= inv, acc_o[0][dt][2 * h + 1] *= inv;
  }
  store_frag_global<T>(o, D, m0 + wr0, 0, N, acc_o, 1.f, lane);
#else
  (void)p;
  __trap();  // launched only where the sm_90a code exists (flash_launch_impl.cuh checks)
#endif
}

}  // namespace numlab::cuda::detail
