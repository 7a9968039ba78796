// SPDX-License-Identifier: MIT
// FlashAttention forward for Hopper (sm_90a), warp-specialised as in FlashAttention-3: a producer
// warpgroup brings Q and the K/V tiles by TMA into a kStages-deep shared-memory ring whose stages are
// handed over by mbarriers (full: the bytes landed; empty: every consumer warp is done reading), and
// kConsumerWarpGroups consumer warpgroups of 64 query rows each compute, with the registers the
// producer gave up (setmaxnreg). No CTA-wide barrier after the start.
//   Within a consumer: issue S_{j+1} = Q K_{j+1}^T and O += P_j V_j back to back, softmax S_{j+1}
//   while P_j V_j runs, then rescale O (FlashAttention-3's intra-warpgroup overlap). S = Q K^T takes Q
//   and K from shared memory; O += P V takes P from registers (the S accumulator layout is the A
//   operand's) and V MN-major.
//   Between consumers (kPingPong): the issue points take turns through named barriers, so that one
//   warpgroup's softmax runs under the other's GEMMs.
// Tiles live in shared memory as D/64 slabs of [rows][64] in the 128-byte swizzle (wgmma_sm90.cuh's
// canonical layout), which is exactly what TMA with the 128-byte swizzle writes.
#pragma once

#include "flash_params.cuh"
#include "tile_config.cuh"
#include "tma_sm90.cuh"
#include "warp_gemm.cuh"
#include "wgmma_sm90.cuh"

#include <cmath>

#if NUMLAB_HAS_TMA
namespace numlab::cuda::detail {

// Kernel parameters: the pointers and sizes, and the tensor maps of Q, K and V (built per launch).
struct FwdTmaParams {
  FwdParams p;
  CUtensorMap q, k, v;
};

template <class T, int D>
struct FwdSm90WsKernel {
  using Cfg = FwdSm90WsTile<T, D>;
  static constexpr int NWG = Cfg::kConsumerWarpGroups, BM = 64 * NWG, BN = Cfg::kBlockN, S = Cfg::kStages;
  static constexpr int NThreads = 128 * (NWG + 1);
  // 2 or 3 consumers: the register split below is for one CTA of 384 or 512 threads.
  static_assert(BN % 16 == 0 && BN <= 256 && D % 64 == 0 && D <= 256 && NWG >= 2 && NWG <= 3, "ws forward tile");
  // Registers per thread after setmaxnreg: 65536 per SM, one CTA per SM.
  static constexpr int kProducerRegs = NWG == 3 ? 32 : 24;
  static constexpr int kConsumerRegs = NWG == 3 ? 160 : 240;
  static_assert(128 * kProducerRegs + 128 * NWG * kConsumerRegs <= 65536, "register split");
  static constexpr int kQBytes = BM * D * 2, kKVBytes = BN * D * 2;
  // Q, S stages of K and of V, 1 + 4S mbarriers, and slack to align the tiles to the 1024-byte atom.
  static constexpr int kSmemBytes = kQBytes + 2 * S * kKVBytes + (1 + 4 * S) * 8 + 1024;
  static_assert(kSmemBytes <= 227 * 1024, "ws forward tile: more shared memory than a Hopper CTA can have");
};

template <class T, int D>
__global__ void __launch_bounds__(FwdSm90WsKernel<T, D>::NThreads, 1)
    flash_fwd_sm90_ws_kernel(const __grid_constant__ FwdTmaParams tp) {
#if NUMLAB_HAS_WGMMA
  using K = FwdSm90WsKernel<T, D>;
  constexpr int NWG = K::NWG, BM = K::BM, BN = K::BN, S = K::S;
  const FwdParams& p = tp.p;
  extern __shared__ unsigned char smem_raw[];
  T* sQ = reinterpret_cast<T*>(smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023));
  T* sK = sQ + BM * D;      // [S][D/64][BN][64]
  T* sV = sK + S * BN * D;  // [S][D/64][BN][64]
  uint64_t* bar_q = reinterpret_cast<uint64_t*>(sV + S * BN * D);
  uint64_t* full_k = bar_q + 1;
  uint64_t* full_v = full_k + S;
  uint64_t* empty_k = full_v + S;
  uint64_t* empty_v = empty_k + S;

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = tid >> 7;
  const int m0 = (gridDim.x - 1 - blockIdx.x) * BM;  // heaviest causal blocks first
  const int bh = blockIdx.y;
  const int N = p.N, Nkv = p.N_kv, off = Nkv - N;
  const int n_end = p.causal ? min(Nkv, m0 + BM + off) : Nkv;
  const int nb = n_end > 0 ? (n_end + BN - 1) / BN : 0;

  if (tid == 0) {
    mbar_init(bar_q, 1);
#pragma unroll
    for (int s = 0; s < S; ++s) {
      mbar_init(&full_k[s], 1);
      mbar_init(&full_v[s], 1);
      mbar_init(&empty_k[s], 4 * NWG);  // one arrival per consumer warp
      mbar_init(&empty_v[s], 4 * NWG);
    }
    mbar_init_fence();
  }
  __syncthreads();

  if (wg == 0) {  // producer
    setmaxnreg_dec<K::kProducerRegs>();
    if (warp == 0 && lane == 0 && nb > 0) {
      tma_prefetch_map(&tp.q);
      tma_prefetch_map(&tp.k);
      tma_prefetch_map(&tp.v);
      mbar_arrive_expect_tx(bar_q, K::kQBytes);
#pragma unroll
      for (int c = 0; c < D / 64; ++c) tma_load_3d(sQ + c * BM * 64, &tp.q, bar_q, c * 64, m0, bh);
      auto load = [&](const CUtensorMap* map, T* ring, uint64_t* full, uint64_t* empty, int j) {
        const int st = j % S;
        mbar_wait(&empty[st], ((j / S) & 1) ^ 1);
        mbar_arrive_expect_tx(&full[st], K::kKVBytes);
#pragma unroll
        for (int c = 0; c < D / 64; ++c) tma_load_3d(ring + st * BN * D + c * BN * 64, map, &full[st], c * 64, j * BN, bh);
      };
      // Consumption order: K_0, then K_{j+1} before V_j.
      load(&tp.k, sK, full_k, empty_k, 0);
      for (int j = 0; j < nb; ++j) {
        if (j + 1 < nb) load(&tp.k, sK, full_k, empty_k, j + 1);
        load(&tp.v, sV, full_v, empty_v, j);
      }
    }
    return;
  }

  // Consumers.
  setmaxnreg_inc<K::kConsumerRegs>();
  const int cw = wg - 1;                // consumer warpgroup: rows 64 cw .. 64 cw + 63 of the tile
  const int wr0 = (warp - 4) * 16;      // this warp's first row in the tile
  T* o = static_cast<T*>(p.o) + size_t(bh) * N * D;
  float* lse = p.lse + size_t(bh) * N;

  float acc_o[1][D / 8][4], s[BN / 8][4];
  uint32_t pf[BN / 16][4];  // P of the tile in flight, as m64k16 A fragments
  zero(acc_o);
#pragma unroll
  for (int nt = 0; nt < BN / 8; ++nt) s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
  float row_m[2] = {-INFINITY, -INFINITY}, row_l[2] = {0.f, 0.f};

  // Ping-pong: warpgroup cw issues after bar 1 + cw and hands the turn to the next one. The last
  // warpgroup opens the first turn; its last hand-over is left out so that every barrier's arrivals
  // match its waits.
  constexpr bool kPing = K::Cfg::kPingPong && NWG > 1;
  auto turn_wait = [&]() {
    if constexpr (kPing) named_bar_sync(1 + cw, 256);
  };
  auto turn_pass = [&](bool last) {
    if constexpr (kPing) {
      if (!(last && cw == NWG - 1)) named_bar_arrive(1 + (cw + 1) % NWG, 256);
    }
  };
  auto release = [&](uint64_t* empty, int j) {
    if (lane == 0) mbar_arrive(&empty[j % S]);
  };

  const uint32_t q_addr = smem_u32(sQ) + cw * 64 * 128;
  auto issue_s = [&](int j) {  // s = Q K_j^T
    const uint32_t k_addr = smem_u32(sK + (j % S) * BN * D);
    reg_fence(s);
    wgmma_fence();
#pragma unroll
    for (int ks = 0; ks < D / 16; ++ks)
      Wgmma<T, BN>::ss(s, gmma_desc(q_addr + (ks >> 2) * BM * 128 + (ks & 3) * 32, 16, 1024),
                       gmma_desc(k_addr + (ks >> 2) * BN * 128 + (ks & 3) * 32, 16, 1024), ks > 0);
    wgmma_commit();
  };
  auto issue_pv = [&](int j) {  // acc_o += P V_j
    const uint32_t v_addr = smem_u32(sV + (j % S) * BN * D);
    reg_fence(acc_o[0]);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < BN / 16; ++kk)
      Wgmma<T, D>::rs_tb(acc_o[0], pf[kk], gmma_desc(v_addr + kk * 16 * 128, BN * 128, 1024));
    wgmma_commit();
  };
  // Online softmax of tile j in s (masked where it crosses the key end or the causal diagonal);
  // s becomes exp2(s * scale_log2 - m_new); corr is the factor for the rows' old O and l.
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

  if (nb > 0) {
    if constexpr (kPing) {
      if (cw == NWG - 1) named_bar_arrive(1, 256);  // warpgroup 0 takes the first turn
    }
    mbar_wait(bar_q, 0);
    mbar_wait(&full_k[0], 0);
    turn_wait();
    issue_s(0);
    turn_pass(false);
    wgmma_wait<0>();
    reg_fence(s);
    release(empty_k, 0);
    float corr[2];
    softmax(0, corr);  // O is still zero: nothing to rescale
    pack_p();
    // The last tile is peeled off: a conditional S GEMM inside the loop made ptxas serialize the wgmmas.
    for (int j = 0; j + 1 < nb; ++j) {
      mbar_wait(&full_k[(j + 1) % S], ((j + 1) / S) & 1);
      mbar_wait(&full_v[j % S], (j / S) & 1);
      turn_wait();
      issue_s(j + 1);
      issue_pv(j);
      turn_pass(false);
      wgmma_wait<1>();
      reg_fence(s);
      release(empty_k, j + 1);
      softmax(j + 1, corr);
      wgmma_wait<0>();
      reg_fence(acc_o[0]);
      reg_fence(pf);
      release(empty_v, j);
      pack_p();
#pragma unroll
      for (int dt = 0; dt < D / 8; ++dt)
        acc_o[0][dt][0] *= corr[0], acc_o[0][dt][1] *= corr[0], acc_o[0][dt][2] *= corr[1], acc_o[0][dt][3] *= corr[1];
    }
    mbar_wait(&full_v[(nb - 1) % S], ((nb - 1) / S) & 1);
    turn_wait();
    issue_pv(nb - 1);
    turn_pass(true);
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
  (void)tp;
  __trap();  // launched only where the sm_90a code exists (flash_launch_impl.cuh checks)
#endif
}

}  // namespace numlab::cuda::detail
#endif  // NUMLAB_HAS_TMA
