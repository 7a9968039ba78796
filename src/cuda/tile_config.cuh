// SPDX-License-Identifier: MIT
// Every tile choice of the CUDA FlashAttention kernels, per (element type, head dim, pass).
// The kernels take these as template parameters; change tiles here and nowhere else.
// Primary templates are keyed on D; specialise on T as well to tune bf16 and fp16 apart.
#pragma once

namespace numlab::cuda {

// Chosen on an H100 (src/cuda/dev/NOTES.md has the measurements of the alternatives): bf16 and
// fp16 share tiles. Every kernel is ~240-255 registers/thread; spills show in `-Xptxas -v`.

// Forward: a CTA owns kBlockM query rows (each warp 16*MI consecutive rows, MI = kBlockM/(16*kNWarps)),
// streams K/V in kBlockN-row tiles through a 2-stage cp.async pipeline.
// Registers per thread ~ MI*(D/2 + kBlockN/2) accumulators; shared = (kBlockM + 4 kBlockN) * D * 2 bytes.
// D=64: kBlockN=128 spilled and ran 8% slower; D=256: kBlockN=32 ran 11% slower, 4 warps x 64 rows 44%.
template <class T, int D> struct FwdTile;
template <class T> struct FwdTile<T, 64>  { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 4; };
template <class T> struct FwdTile<T, 128> { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 4; };
template <class T> struct FwdTile<T, 256> { static constexpr int kBlockM = 128, kBlockN = 64, kNWarps = 8; };

// Backward (dK, dV and, in atomic mode, dQ): a CTA owns kBlockN keys and walks all query blocks of
// kBlockM rows. Its five GEMMs are split over the warps as a 2-D warp grid each:
//   S^T, dP^T  (kBlockN x kBlockM):  kWarpsKeyS  x (kNWarps / kWarpsKeyS)
//   dV, dK     (kBlockN x D):        kWarpsKeyKV x (kNWarps / kWarpsKeyKV)
//   dQ         (kBlockM x D):        kWarpsQdQ   x (kNWarps / kWarpsQdQ), in kDqParts column slices
// Shared = (2 kBlockN + 4 kBlockM) * D * 2 + 4 kBlockN kBlockM (+ 16 kBlockM) bytes
// (K, V, 2 stages of Q and dO, P^T, dS^T, LSE and D_i). kBlockM must be a multiple of 64.
// D=64: kBlockM=128 ran 9% faster than 64; D=128: 8x1 warp grids (kDqParts 2) ran 9% slower.
// D=256 needs kDqParts=2 to keep dQ beside dK, dV in registers without spilling.
template <class T, int D> struct BwdTile;
template <class T> struct BwdTile<T, 64> {
  static constexpr int kBlockM = 128, kBlockN = 128, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 4, kWarpsQdQ = 4, kDqParts = 1;
};
template <class T> struct BwdTile<T, 128> {
  static constexpr int kBlockM = 64, kBlockN = 128, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 4, kWarpsQdQ = 4, kDqParts = 1;
};
template <class T> struct BwdTile<T, 256> {
  static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 8, kWarpsKeyS = 4, kWarpsKeyKV = 4, kWarpsQdQ = 4, kDqParts = 2;
};

// Deterministic dQ pass: a CTA owns kBlockM query rows (16 per warp) and walks the key blocks,
// like the forward, keeping dQ in registers (no atomics).
template <class T, int D> struct BwdDqTile;
template <class T> struct BwdDqTile<T, 64>  { static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 4; };
template <class T> struct BwdDqTile<T, 128> { static constexpr int kBlockM = 64, kBlockN = 64, kNWarps = 4; };
template <class T> struct BwdDqTile<T, 256> { static constexpr int kBlockM = 64, kBlockN = 32, kNWarps = 4; };

}  // namespace numlab::cuda
