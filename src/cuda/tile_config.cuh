// SPDX-License-Identifier: MIT
// Every tile choice of the CUDA FlashAttention kernels, per (element type, head dim, pass).
// The kernels take these as template parameters; change tiles here and nowhere else.
// Primary templates are keyed on D; specialise on T as well to tune bf16 and fp16 apart.
#pragma once

namespace numlab::cuda {

// Chosen by timing the alternatives on an H100 (docs/native-attention-kernels.md has the figures
// and the harness that measures them): bf16 and fp16 share tiles. Spills show in `-Xptxas -v`.

// Forward, mma.sync (flash_fwd_kernel.cuh; every GPU without sm_90a code): a CTA owns kBlockM query
// rows (each warp 16*MI consecutive rows, MI = kBlockM/(16*kNWarps)), streams K/V in kBlockN-row tiles
// through a 2-stage cp.async pipeline.
// Registers per thread ~ MI*(D/2 + kBlockN/2) accumulators; shared = (kBlockM + 4 kBlockN) * D * 2 bytes.
// D=64: kBlockN=128 spills and is slower; D=256: kBlockN=32, or 4 warps x 64 rows, is slower.
template <class T, int D> struct FwdTile;
template <class T> struct FwdTile<T, 64>  { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 4; };
template <class T> struct FwdTile<T, 128> { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 4; };
template <class T> struct FwdTile<T, 256> { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 8; };

// Forward on sm_90a, warp-specialised (flash_fwd_sm90_ws_kernel.cuh): one producer warpgroup (TMA)
// and kConsumerWarpGroups consumers of 64 query rows (kBlockM = 64 kConsumerWarpGroups), K/V in
// kBlockN-row tiles through kStages stages, one CTA per SM; consumers take turns issuing (kPingPong).
// Registers per consumer thread (240 with 2 consumers, 160 with 3) ~ D/2 (O) + kBlockN/2 (S) + kBlockN/4 (P).
// Shared = (kBlockM + 2 kStages kBlockN) * D * 2 bytes (+1 KB), at most 227 KiB.
// Measured on an H200 (bf16, B N = 16k; docs/native-attention-kernels.md): D=64 3 consumers x kBlockN 128
// beat 2 x 128 and 2 x 192 by 10-15%; D=128 kBlockN 128, 176 and 192 within 3% of each other (128 best
// causal); D=256 kBlockN 80 beat 64 by 4-10% (the largest tile the shared memory holds).
#ifndef NUMLAB_FA_WS_STAGES
#define NUMLAB_FA_WS_STAGES 2
#endif
#ifndef NUMLAB_FA_WS_PINGPONG
#define NUMLAB_FA_WS_PINGPONG 1
#endif
#ifndef NUMLAB_FA_WS_D64_WG
#define NUMLAB_FA_WS_D64_WG 3
#endif
#ifndef NUMLAB_FA_WS_D64_BN
#define NUMLAB_FA_WS_D64_BN 128
#endif
#ifndef NUMLAB_FA_WS_D128_BN
#define NUMLAB_FA_WS_D128_BN 128
#endif
#ifndef NUMLAB_FA_WS_D256_BN
#define NUMLAB_FA_WS_D256_BN 80
#endif
template <class T, int D> struct FwdSm90WsTile;
template <class T> struct FwdSm90WsTile<T, 64> {
  static constexpr int kConsumerWarpGroups = NUMLAB_FA_WS_D64_WG, kBlockN = NUMLAB_FA_WS_D64_BN, kStages = NUMLAB_FA_WS_STAGES;
  static constexpr bool kPingPong = NUMLAB_FA_WS_PINGPONG;
};
template <class T> struct FwdSm90WsTile<T, 128> {
  static constexpr int kConsumerWarpGroups = 2, kBlockN = NUMLAB_FA_WS_D128_BN, kStages = NUMLAB_FA_WS_STAGES;
  static constexpr bool kPingPong = NUMLAB_FA_WS_PINGPONG;
};
template <class T> struct FwdSm90WsTile<T, 256> {
  static constexpr int kConsumerWarpGroups = 2, kBlockN = NUMLAB_FA_WS_D256_BN, kStages = NUMLAB_FA_WS_STAGES;
  static constexpr bool kPingPong = NUMLAB_FA_WS_PINGPONG;
};

// Forward in fp32 (flash_fwd_fp32_kernel.cuh, mma.sync m16n8k8 tf32, every GPU): kNWarps warps of 16
// query rows (kBlockM = 16 kNWarps), K/V in kBlockN-row tiles, 2 stages, kMinBlocks CTAs per SM.
// Shared = (kBlockM + 4 kBlockN) (D + 4) * 4 bytes: D=64 102 KiB (2 CTAs per SM), D=128 198 KiB.
// Registers per thread ~ D/2 (O) + kBlockN/2 (S) + the split fragments.
#ifndef NUMLAB_FA_FP32_WARPS
#define NUMLAB_FA_FP32_WARPS 8
#endif
#ifndef NUMLAB_FA_FP32_BLOCK_N
#define NUMLAB_FA_FP32_BLOCK_N 64
#endif
// k-steps (8 deep) per tensor-core accumulation chain of S = Q K^T and of O += P V (at most
// kBlockN / 8: one chain per K/V tile); between chains fp32 adds that round.
#ifndef NUMLAB_FA_FP32_CHAIN_S
#define NUMLAB_FA_FP32_CHAIN_S 2
#endif
#ifndef NUMLAB_FA_FP32_CHAIN_PV
#define NUMLAB_FA_FP32_CHAIN_PV 4
#endif
#ifndef NUMLAB_FA_FP32_MIN_BLOCKS_D64
#define NUMLAB_FA_FP32_MIN_BLOCKS_D64 2
#endif
template <int D> struct FwdFp32Tile;
template <> struct FwdFp32Tile<64> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_WARPS, kBlockM = 16 * kNWarps, kBlockN = NUMLAB_FA_FP32_BLOCK_N,
                       kMinBlocks = NUMLAB_FA_FP32_MIN_BLOCKS_D64, kChainS = NUMLAB_FA_FP32_CHAIN_S,
                       kChainPV = NUMLAB_FA_FP32_CHAIN_PV;
};
template <> struct FwdFp32Tile<128> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_WARPS, kBlockM = 16 * kNWarps, kBlockN = NUMLAB_FA_FP32_BLOCK_N,
                       kMinBlocks = 1, kChainS = NUMLAB_FA_FP32_CHAIN_S, kChainPV = NUMLAB_FA_FP32_CHAIN_PV;
};

// Backward in fp32 (flash_bwd_fp32_kernel.cuh, mma.sync m16n8k8 tf32, every GPU): kNWarps warps of 16
// keys (kBlockN = 16 kNWarps) keep K, V and their dK, dV accumulators; Q, dO and the row statistics
// of kBlockM query rows stream through 2 cp.async stages. In atomic mode dS^T goes through shared
// memory for dQ = dS K, split over (kBlockM / 16) x (16 kNWarps / kBlockM) warps over (kBlockM x D).
// Shared = (2 kBlockN + 4 kBlockM) (D + 4) 4 + kBlockM (kBlockN + 4) 4 (atomic mode) + 24 kBlockM bytes:
// D=64 (4 warps, kBlockM 32) 78 KiB, D=128 (8 warps, kBlockM 32) 215 KiB. Registers per thread ~ D (dK,
// dV) + kBlockM/2 (S^T, dP^T) + splits. The deterministic dQ pass (flash_bwd_fp32_dq_kernel.cuh) has the
// forward's shape: kNWarps warps of 16 query rows, K and V in kBlockN-row tiles, 2 stages; shared
// (32 kNWarps + 4 kBlockN) (D + 4) 4 bytes. Measured on an H200 (bench_fp32_bwd.py, SDPA efficient
// fp32 bwd = 1): D=64 with 8 warps 1.44-1.48x, 4 warps 1.53-1.57x; D=128 kBlockM 16 1.10-1.13x, 32
// 1.17-1.20x, 4 warps x kBlockM 64 0.46x (spills); dQ pass at D=128 4 warps x 64 keys 0.65-0.68x,
// 8 warps x 32 keys 0.81-0.84x (at D=64 1.00-1.03x against 1.05-1.08x for 4 x 64).
#ifndef NUMLAB_FA_FP32_BWD_WARPS_D64
#define NUMLAB_FA_FP32_BWD_WARPS_D64 4
#endif
#ifndef NUMLAB_FA_FP32_BWD_WARPS_D128
#define NUMLAB_FA_FP32_BWD_WARPS_D128 8
#endif
#ifndef NUMLAB_FA_FP32_BWD_BLOCK_M_D64
#define NUMLAB_FA_FP32_BWD_BLOCK_M_D64 32
#endif
#ifndef NUMLAB_FA_FP32_BWD_BLOCK_M_D128
#define NUMLAB_FA_FP32_BWD_BLOCK_M_D128 32
#endif
#ifndef NUMLAB_FA_FP32_DQ_WARPS_D64
#define NUMLAB_FA_FP32_DQ_WARPS_D64 4
#endif
#ifndef NUMLAB_FA_FP32_DQ_BLOCK_N_D64
#define NUMLAB_FA_FP32_DQ_BLOCK_N_D64 64
#endif
#ifndef NUMLAB_FA_FP32_DQ_WARPS_D128
#define NUMLAB_FA_FP32_DQ_WARPS_D128 8
#endif
#ifndef NUMLAB_FA_FP32_DQ_BLOCK_N_D128
#define NUMLAB_FA_FP32_DQ_BLOCK_N_D128 32
#endif
// k-steps per tensor-core accumulation chain of S^T and dP^T (over D), of dV, dK (over the query
// block) and of dQ (over the key block), as kChainS / kChainPV in the forward.
#ifndef NUMLAB_FA_FP32_BWD_CHAIN_S
#define NUMLAB_FA_FP32_BWD_CHAIN_S 2
#endif
#ifndef NUMLAB_FA_FP32_BWD_CHAIN_PV
#define NUMLAB_FA_FP32_BWD_CHAIN_PV 4
#endif
#ifndef NUMLAB_FA_FP32_BWD_CHAIN_DQ
#define NUMLAB_FA_FP32_BWD_CHAIN_DQ 4
#endif
template <int D> struct BwdFp32Tile;
template <> struct BwdFp32Tile<64> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_BWD_WARPS_D64, kBlockM = NUMLAB_FA_FP32_BWD_BLOCK_M_D64,
                       kChainS = NUMLAB_FA_FP32_BWD_CHAIN_S, kChainPV = NUMLAB_FA_FP32_BWD_CHAIN_PV,
                       kChainDq = NUMLAB_FA_FP32_BWD_CHAIN_DQ;
};
template <> struct BwdFp32Tile<128> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_BWD_WARPS_D128, kBlockM = NUMLAB_FA_FP32_BWD_BLOCK_M_D128,
                       kChainS = NUMLAB_FA_FP32_BWD_CHAIN_S, kChainPV = NUMLAB_FA_FP32_BWD_CHAIN_PV,
                       kChainDq = NUMLAB_FA_FP32_BWD_CHAIN_DQ;
};
template <int D> struct BwdFp32DqTile;
template <> struct BwdFp32DqTile<64> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_DQ_WARPS_D64, kBlockN = NUMLAB_FA_FP32_DQ_BLOCK_N_D64,
                       kChainS = NUMLAB_FA_FP32_BWD_CHAIN_S, kChainPV = NUMLAB_FA_FP32_BWD_CHAIN_PV;
};
template <> struct BwdFp32DqTile<128> {
  static constexpr int kNWarps = NUMLAB_FA_FP32_DQ_WARPS_D128, kBlockN = NUMLAB_FA_FP32_DQ_BLOCK_N_D128,
                       kChainS = NUMLAB_FA_FP32_BWD_CHAIN_S, kChainPV = NUMLAB_FA_FP32_BWD_CHAIN_PV;
};

// Backward (dK, dV and, in atomic mode, dQ): a CTA owns kBlockN keys and walks all query blocks of
// kBlockM rows. Its five GEMMs are split over the warps as a 2-D warp grid each:
//   S^T, dP^T  (kBlockN x kBlockM):  kWarpsKeyS  x (kNWarps / kWarpsKeyS)
//   dV, dK     (kBlockN x D):        kWarpsKeyKV x (kNWarps / kWarpsKeyKV)
//   dQ         (kBlockM x D):        kWarpsQdQ   x (kNWarps / kWarpsQdQ), in kDqParts column slices
// Q, dO, LSE and D_i stream through kStages (2 or 3) cp.async stages; 3 saves a barrier per block.
// Shared = (2 kBlockN + 2 kStages kBlockM) * D * 2 + 4 kBlockN kBlockM + 8 kStages kBlockM bytes
// (K, V, the Q and dO stages, P^T, dS^T, LSE and D_i). kBlockM must be a multiple of 64.
// D=64: kBlockM=128 beats 64. D=128, 256: the warp grids of FlashAttention-2's sm80/sm90 backward
// (dQ 2 x 4 warps; at D=256 also dK/dV 2 x 4) need fewer ldmatrix per mma than 4 x 2 and are faster;
// D=128's 8 x 1 grids (kDqParts 2) are slower. D=256 needs kDqParts=2 to keep dQ beside dK, dV in
// registers without spilling; 3 stages don't fit its shared memory.
template <class T, int D> struct BwdTile;
template <class T> struct BwdTile<T, 64> {
  static constexpr int kBlockM = 128, kBlockN = 128, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 4, kWarpsQdQ = 4,
                       kDqParts = 1, kStages = 3;
};
template <class T> struct BwdTile<T, 128> {
  static constexpr int kBlockM = 64, kBlockN = 128, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 4, kWarpsQdQ = 2,
                       kDqParts = 1, kStages = 3;
};
template <class T> struct BwdTile<T, 256> {
  static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 2, kWarpsQdQ = 2,
                       kDqParts = 2, kStages = 2;
};

// Deterministic dQ pass: a CTA owns kBlockM query rows (16 per warp) and walks the key blocks,
// like the forward, keeping dQ in registers (no atomics).
template <class T, int D> struct BwdDqTile;
template <class T> struct BwdDqTile<T, 64>  { static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 4; };
template <class T> struct BwdDqTile<T, 128> { static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 4; };
template <class T> struct BwdDqTile<T, 256> { static constexpr int kBlockM = 64, kBlockN = 32, kNWarps = 4; };

}  // namespace numlab::cuda
