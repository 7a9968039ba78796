// SPDX-License-Identifier: MIT
// Warp-level products of the fp32 backward kernels on mma.sync m16n8k8 tf32 with split operands
// (mma_tf32.cuh), one warp computing 16 rows of C. Shared tiles are fp32 rows of LD floats with
// LD % 32 == 4 (row-padded), which makes every access pattern below conflict-free:
//   mma_abt:   C[16 x 8 NT] = A[16 x K] B[8 NT x K]^T, A and B row-major in shared memory (K contiguous),
//              both through ldmatrix (b16 x4 on fp32 rows: the m16n8k8 tf32 fragment layout);
//   mma_frag_b: C[16 x 8 NT] += P[16 x 8 KT] B[8 KT x 8 NT], P in registers as the C fragments of an
//              earlier product (its k index permuted: t -> column 2t, t + 4 -> 2t + 1, and B's rows read
//              in the same order), B row-major in shared memory;
//   mma_ab_perm: C[16 x 8 NT] += A[16 x 8 KT] B[8 KT x 8 NT], A in shared memory through ldmatrix whose
//              columns were stored in the permuted order of mma_frag_b (kperm_pos), B as in mma_frag_b.
// Every product runs in chains of a few k-steps that start from zero in the tensor cores (which add
// into their accumulator with truncation) and are added to C by rounding fp32 adds, as in the
// forward (flash_fwd_fp32_kernel.cuh).
#pragma once

#include "mma_sm80.cuh"
#include "mma_tf32.cuh"

#ifndef NUMLAB_FA_FP32_BWD_HI_TRUNC
#define NUMLAB_FA_FP32_BWD_HI_TRUNC 0
#endif

namespace numlab::cuda::detail {

// How these products split their operands (mma_tf32.cuh): hi rounded by default.
constexpr bool kBwdHiTrunc = NUMLAB_FA_FP32_BWD_HI_TRUNC != 0;

// Where key (column) j of an 8-column chunk is stored so that ldmatrix's natural k order (t, t + 4)
// reads columns 2t, 2t + 1: the C fragments' order.
__device__ __forceinline__ int kperm_pos(int j) { return (j & 1) ? (j >> 1) + 4 : j >> 1; }

// The A fragments of k-steps kg .. kg + CH - 1 (ldmatrix from a_addr, the lane's row of A), split.
template <int CH, class Split>
__device__ __forceinline__ void load_a_split(Split (&a)[CH][4], uint32_t a_addr, int kg) {
#pragma unroll
  for (int i = 0; i < CH; ++i) {
    uint32_t qa[4];
    ldsm_x4(qa, a_addr + uint32_t((kg + i) * 32));
#pragma unroll
    for (int r = 0; r < 4; ++r) a[i][r] = Split(__uint_as_float(qa[r]));
  }
}

// C = A B^T over K = 8 KSTEPS, in chains of CH k-steps: sA points at the warp's first row of A, sB at
// the first of the 8 NT rows of B.
template <int Terms, int NT, int KSTEPS, int CH, int LD>
__device__ __forceinline__ void mma_abt(float (&c)[NT][4], const float* sA, const float* sB, int lane) {
  using Split = Tf32Split<Terms, kBwdHiTrunc>;
  static_assert(NT % 2 == 0 && KSTEPS % CH == 0 && LD % 32 == 4, "mma_abt shape");
  const uint32_t a_addr = smem_u32(sA + ((lane & 7) + ((lane >> 3) & 1) * 8) * LD + (lane >> 4) * 4);
  const uint32_t b_addr = smem_u32(sB + ((lane & 7) + (lane >> 4) * 8) * LD + ((lane >> 3) & 1) * 4);
#pragma unroll
  for (int kg = 0; kg < KSTEPS; kg += CH) {
    Split a[CH][4];
    load_a_split(a, a_addr, kg);
#pragma unroll
    for (int np = 0; np < NT / 2; ++np) {
      float cc[2][4] = {};
#pragma unroll
      for (int i = 0; i < CH; ++i) {
        uint32_t kb[4];
        ldsm_x4(kb, b_addr + uint32_t((np * 16 * LD + (kg + i) * 8) * 4));
        const Split b0(__uint_as_float(kb[0])), b1(__uint_as_float(kb[1])), b2(__uint_as_float(kb[2])),
            b3(__uint_as_float(kb[3]));
        mma_split(cc[0], a[i], b0, b1);
        mma_split(cc[1], a[i], b2, b3);
      }
#pragma unroll
      for (int h = 0; h < 2; ++h)
#pragma unroll
        for (int r = 0; r < 4; ++r) c[2 * np + h][r] = kg == 0 ? cc[h][r] : c[2 * np + h][r] + cc[h][r];
    }
  }
}

// C += P B over K = 8 KT, in chains of CH k-steps: p are C fragments (16 x 8 each), sB points at B's
// row 0, column 0 (its 8 NT columns contiguous).
template <int Terms, int KT, int NT, int CH, int LD>
__device__ __forceinline__ void mma_frag_b(float (&c)[NT][4], const float (&p)[KT][4], const float* sB, int lane) {
  using Split = Tf32Split<Terms, kBwdHiTrunc>;
  static_assert(KT % CH == 0 && LD % 32 == 4, "mma_frag_b shape");
  const float* b = sB + 2 * (lane & 3) * LD + (lane >> 2);
#pragma unroll
  for (int kg = 0; kg < KT; kg += CH) {
    Split pa[CH][4];
#pragma unroll
    for (int i = 0; i < CH; ++i) {
      pa[i][0] = Split(p[kg + i][0]), pa[i][1] = Split(p[kg + i][2]), pa[i][2] = Split(p[kg + i][1]);
      pa[i][3] = Split(p[kg + i][3]);
    }
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      float cc[4] = {};
#pragma unroll
      for (int i = 0; i < CH; ++i) {
        const float* br = b + (kg + i) * 8 * LD + nt * 8;
        const Split b0(br[0]), b1(br[LD]);
        mma_split(cc, pa[i], b0, b1);
      }
#pragma unroll
      for (int r = 0; r < 4; ++r) c[nt][r] += cc[r];
    }
  }
}

// C += A B over K = 8 KT, in chains of CH k-steps: sA (row stride LDA) points at the warp's first row
// of A, whose columns are stored kperm_pos-permuted within each chunk of 8; sB (row stride LDB) at
// B's row 0 and the warp's first column.
template <int Terms, int KT, int NT, int CH, int LDA, int LDB>
__device__ __forceinline__ void mma_ab_perm(float (&c)[NT][4], const float* sA, const float* sB, int lane) {
  using Split = Tf32Split<Terms, kBwdHiTrunc>;
  static_assert(KT % CH == 0 && LDA % 32 == 4 && LDB % 32 == 4, "mma_ab_perm shape");
  const uint32_t a_addr = smem_u32(sA + ((lane & 7) + ((lane >> 3) & 1) * 8) * LDA + (lane >> 4) * 4);
  const float* b = sB + 2 * (lane & 3) * LDB + (lane >> 2);
#pragma unroll
  for (int kg = 0; kg < KT; kg += CH) {
    Split a[CH][4];
    load_a_split(a, a_addr, kg);
#pragma unroll
    for (int nt = 0; nt < NT; ++nt) {
      float cc[4] = {};
#pragma unroll
      for (int i = 0; i < CH; ++i) {
        const float* br = b + (kg + i) * 8 * LDB + nt * 8;
        const Split b0(br[0]), b1(br[LDB]);
        mma_split(cc, a[i], b0, b1);
      }
#pragma unroll
      for (int r = 0; r < 4; ++r) c[nt][r] += cc[r];
    }
  }
}

}  // namespace numlab::cuda::detail
